"""Where simulated feeds go: Kafka topics, JSON-lines files, or both."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol


class FeedSink(Protocol):
    """Receives contract messages in delivery order."""

    def gps(self, key: bytes, value: bytes) -> None: ...

    def detector(self, key: bytes, value: bytes) -> None: ...

    def close(self) -> None: ...


class FileSink:
    """Writes ``gps.jsonl`` and ``detectors.jsonl`` into a folder (for ``itms replay``)."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._gps = (self.directory / "gps.jsonl").open("wb")
        self._det = (self.directory / "detectors.jsonl").open("wb")

    def gps(self, key: bytes, value: bytes) -> None:
        self._gps.write(value + b"\n")

    def detector(self, key: bytes, value: bytes) -> None:
        self._det.write(value + b"\n")

    def close(self) -> None:
        self._gps.close()
        self._det.close()


class Producer(Protocol):
    """What a sink needs of a Kafka producer."""

    def send(self, topic: str, *, key: bytes, value: bytes) -> object: ...

    def flush(self) -> None: ...


class KafkaSink:
    """Publishes to the GPS and detector topics with a durable producer (a KafkaProducer)."""

    def __init__(self, producer: Producer, gps_topic: str, detector_topic: str) -> None:
        self.producer = producer
        self.gps_topic = gps_topic
        self.detector_topic = detector_topic

    def gps(self, key: bytes, value: bytes) -> None:
        self.producer.send(self.gps_topic, key=key, value=value)

    def detector(self, key: bytes, value: bytes) -> None:
        self.producer.send(self.detector_topic, key=key, value=value)

    def close(self) -> None:
        self.producer.flush()


class MultiSink:
    """Sends everything to several sinks."""

    def __init__(self, *sinks: FeedSink) -> None:
        self.sinks = sinks

    def gps(self, key: bytes, value: bytes) -> None:
        for s in self.sinks:
            s.gps(key, value)

    def detector(self, key: bytes, value: bytes) -> None:
        for s in self.sinks:
            s.detector(key, value)

    def close(self) -> None:
        for s in self.sinks:
            s.close()
