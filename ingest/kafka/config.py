"""What the Kafka clients need: where the cluster is and how the project names its topics."""

from __future__ import annotations

from dataclasses import dataclass

from ingest.topics import TOPICS


@dataclass(frozen=True, slots=True)
class KafkaConfig:
    """Connection and topic layout of one Kafka cluster.

    ``bootstrap_servers`` is a ``host:port[,host:port]`` list; topic names are
    ``topic_prefix`` + the logical topic's name (see :mod:`ingest.topics`).
    """

    bootstrap_servers: str
    topic_prefix: str = "itms."
    partitions: int = 6
    replication: int = 1

    def topic(self, name: str) -> str:
        """Full topic name for a logical topic (``gps``, ``detectors``, ``deadletter`` ...)."""
        return self.topic_prefix + TOPICS[name].name
