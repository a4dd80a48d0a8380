"""Seeded simulated feeds: running the simulator, start times, publishing to Kafka."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ingest.batching import PartitionBatcher
from ingest.kafka.clients import make_producer
from ingest.records import read_records
from ingest.replay import replay
from itms.settings import REPO_ROOT, Settings


@dataclass(frozen=True)
class Feed:
    """A simulated run on disk: both feeds (JSON lines) and the detector inventory."""

    directory: Path
    n_gps: int
    n_detectors: int
    start: datetime | None = None

    @property
    def gps(self) -> Path:
        return self.directory / "gps.jsonl"

    @property
    def detectors(self) -> Path:
        return self.directory / "detectors.jsonl"

    @property
    def inventory(self) -> Path:
        return self.directory / "truth" / "detectors.csv"

    def incidents(self) -> list[dict[str, str]]:
        """The incidents the simulator injected (ground truth)."""
        with (self.directory / "truth" / "incidents.csv").open(newline="") as f:
            return list(csv.DictReader(f))


def simulate_feed(
    out_dir: Path, *, vehicles: int, duration_s: int, seed: int, start: datetime,
    incidents: list[dict] | None = None,
) -> Feed:  # fmt: skip
    """Run ``itms simulate`` into ``out_dir`` (deterministic for the arguments), with the
    ``incidents`` of a scenario (:class:`simulators.scenario.IncidentSpec` fields) injected."""
    out_dir.mkdir(parents=True, exist_ok=True)
    scenario = out_dir / "scenario.json"
    scenario.write_text(json.dumps({"incidents": incidents or []}))
    cmd = [sys.executable, "-m", "itms.cli", "simulate", "--scenario", str(scenario),
           "--vehicles", str(vehicles), "--duration", str(duration_s), "--seed", str(seed),
           "--out-dir", str(out_dir),
           "--start", start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")]  # fmt: skip
    subprocess.run(cmd, check=True, cwd=REPO_ROOT, capture_output=True, timeout=300)
    lines = [sum(1 for _ in (out_dir / f).open()) for f in ("gps.jsonl", "detectors.jsonl")]
    return Feed(out_dir, *lines, start=start.astimezone(UTC))


def recent_start(duration_s: int, *, margin_s: int = 120) -> datetime:
    """A minute-aligned start so that the whole feed lies in the past (valid timestamps)."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    return now - timedelta(seconds=duration_s + margin_s)


def recent_local_start(
    local_time: str, timezone: str, duration_s: int, *, margin_s: int = 120
) -> datetime:
    """The latest start at the local clock time ``local_time`` (``HH:MM``) whose whole feed
    lies in the past (at most a day ago): the same time of day, so the same traffic, in
    every run."""
    from zoneinfo import ZoneInfo

    hour, minute = (int(x) for x in local_time.split(":"))
    latest = recent_start(duration_s, margin_s=margin_s).astimezone(ZoneInfo(timezone))
    start = latest.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if start > latest:
        start -= timedelta(days=1)
    return start.astimezone(UTC)


def publish(
    settings: Settings, feed: Feed, *, speedup: float | None = None,
    stop: threading.Event | None = None, batch: int = 0,
) -> dict[str, int]:  # fmt: skip
    """Publish both feeds keyed by vehicle / detector (two threads, same pacing); with
    ``batch`` the GPS feed goes in batches of up to that many fixes per partition.

    Returns the records handed to the producer per feed; they are flushed before returning.
    """
    producer = make_producer(settings.kafka, client_id="fault-suite-feed")
    sent: dict[str, int] = {}

    def one(kind: str, path: Path) -> None:
        topic = settings.topic(kind)
        records = read_records(path)
        if stop is not None:
            records = _until(records, stop)
        batcher = None
        if batch and kind == "gps":
            batcher = PartitionBatcher(
                lambda p, k, v: producer.send(topic, key=k, value=v, partition=p),
                len(producer.partitions_for(topic)), kind=kind, max_items=batch,
            )  # fmt: skip
        stats = replay(records, lambda k, v: producer.send(topic, key=k, value=v),
                       kind=kind, speedup=speedup, progress=None, batcher=batcher)  # fmt: skip
        sent[kind] = stats.published

    threads = [threading.Thread(target=one, args=(k, p), daemon=True)
               for k, p in (("gps", feed.gps), ("detectors", feed.detectors))]  # fmt: skip
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    producer.flush()
    producer.close()
    return sent


def _until(records: Iterator, stop: threading.Event) -> Iterator:
    for r in records:
        if stop.is_set():
            return
        yield r


def feed_multiset(path: Path) -> Counter:
    """The values ``publish`` sends for the records of a feed file."""

    def encode(r: dict | str) -> bytes:
        if isinstance(r, str):
            return r.encode()
        return json.dumps(r, ensure_ascii=False, separators=(",", ":")).encode()

    return Counter(encode(r) for r in read_records(path))
