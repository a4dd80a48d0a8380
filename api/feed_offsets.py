"""Kafka end offsets of the feed topics, for the dashboard's feed health.

One metadata client per app, opened on first use; end offsets (messages so far per partition)
are cached for a few seconds, and the rate into each topic is estimated from the samples of the
last minute (messages/s). An unreachable broker is reported (``None``), never raised.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from typing import Any

from api.config import ApiConfig

log = logging.getLogger(__name__)
FEED_TOPICS = ("gps", "detectors", "deadletter")
"""Logical names of the topics whose health the dashboard shows."""
_OFFSETS_TTL_S = 5.0
_OFFSETS_RETRY_S = 30.0
_RATE_WINDOW_S = 60.0


class FeedOffsets:
    """Kafka end offsets per topic, cached for a few seconds (one metadata client per app)."""

    def __init__(self, config: ApiConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._consumer: Any = None
        self._value: dict[str, dict[int, int]] | None = None
        self._at = 0.0
        self._failed_at = -1e9
        self._samples: deque[tuple[float, dict[str, int]]] = deque()

    def get(self) -> dict[str, dict[int, int]] | None:
        """``{logical topic: {partition: end offset}}``, or ``None`` when Kafka is unreachable."""
        with self._lock:
            now = time.monotonic()
            if self._value is not None and now - self._at < _OFFSETS_TTL_S:
                return self._value
            if now - self._failed_at < _OFFSETS_RETRY_S:
                return None
            try:
                self._value, self._at = self._read(), now
                self._samples.append((now, {k: sum(v.values()) for k, v in self._value.items()}))
                while now - self._samples[0][0] > _RATE_WINDOW_S:
                    self._samples.popleft()
            except Exception as exc:  # health is reported, never raised
                log.warning("Kafka end offsets unavailable: %s", exc)
                self._failed_at, self._value = now, None
                self._close()
            return self._value

    def rates(self) -> dict[str, float]:
        """Messages per second into each topic over the last minute (empty until two samples
        at least 4 s apart)."""
        with self._lock:
            if len(self._samples) < 2 or self._samples[-1][0] - self._samples[0][0] < 4.0:
                return {}
            (t0, a), (t1, b) = self._samples[0], self._samples[-1]
            return {k: max(0.0, (b[k] - a.get(k, 0)) / (t1 - t0)) for k in b}

    def _read(self) -> dict[str, dict[int, int]]:
        from kafka import KafkaConsumer, TopicPartition

        if self._consumer is None:
            self._consumer = KafkaConsumer(
                bootstrap_servers=self.config.kafka_bootstrap, group_id=None,
                client_id="itms-dashboard-health", enable_auto_commit=False,
                request_timeout_ms=5000, session_timeout_ms=3000, heartbeat_interval_ms=1000,
            )  # fmt: skip
        out: dict[str, dict[int, int]] = {}
        for name in FEED_TOPICS:
            topic = self.config.feed_topics[name]
            parts = self._consumer.partitions_for_topic(topic) or set()
            tps = [TopicPartition(topic, p) for p in sorted(parts)]
            ends = self._consumer.end_offsets(tps) if tps else {}
            out[name] = {tp.partition: int(v) for tp, v in ends.items()}
        return out

    def close(self) -> None:
        """Close the Kafka client (at app shutdown)."""
        with self._lock:
            self._close()

    def _close(self) -> None:
        if self._consumer is not None:
            with contextlib.suppress(Exception):
                self._consumer.close()
            self._consumer = None
