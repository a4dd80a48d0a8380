"""Health, readiness and Prometheus metrics of a worker process, served over HTTP.

``GET /metrics`` (Prometheus text format), ``GET /healthz`` (the worker loop is alive) and
``GET /readyz`` (alive, and its last database write or check succeeded). A worker fills a
:class:`WorkerProbe` from its own thread; the HTTP thread only reads it, so the Kafka
consumer and the database connection are never touched from two threads.

Metrics (label ``stage``: ``probe-worker``, ``detector-worker``, ``state-builder``, …):
``itms_messages_consumed_total``, ``itms_messages_valid_total``,
``itms_messages_dead_lettered_total{code}``, ``itms_processing_errors_total``,
``itms_checkpoints_total``, ``itms_db_retries_total``, ``itms_consumer_lag_messages{partition}``
(log end offset − position, per assigned partition), ``itms_assigned_partitions``,
``itms_poll_seconds`` (waiting in and
decoding one Kafka poll), ``itms_batch_seconds`` (validate + process one poll),
``itms_checkpoint_seconds`` (one whole checkpoint: state snapshots, transaction, Kafka offset
commit), ``itms_db_write_seconds`` (its transaction) and ``itms_maintain_seconds`` (periodic
maintenance such as rollup refreshes) histograms,
``itms_last_progress_timestamp_seconds``, plus the process collector's
``process_resident_memory_bytes`` and CPU seconds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry, Histogram, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@dataclass
class WorkerProbe:
    """What a worker reports about itself (written by the worker thread only)."""

    stage: str
    stall_after_s: float = 120.0  # no loop iteration for this long: not alive
    counters: dict[str, float] = field(default_factory=dict)
    dead_lettered: dict[str, int] = field(default_factory=dict)
    lag: dict[int, int] = field(default_factory=dict)
    partitions: frozenset[int] = frozenset()  # assigned to this worker now
    last_loop: float = field(default_factory=time.monotonic)
    last_progress: float = 0.0  # wall time of the last stored result
    db_ok: bool = True
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        def seconds(name: str, doc: str) -> Any:
            return Histogram(f"itms_{name}_seconds", doc, ["stage"], registry=self.registry,
                             buckets=_BUCKETS).labels(self.stage)  # fmt: skip

        self.poll_seconds = seconds("poll", "Wait for and decode one Kafka poll.")
        self.batch_seconds = seconds("batch", "Validate and process one poll.")
        self.checkpoint_seconds = seconds(
            "checkpoint", "One checkpoint: snapshots, transaction, Kafka commit."
        )
        self.db_write_seconds = seconds(
            "db_write", "One checkpoint transaction (results + offsets)."
        )
        self.maintain_seconds = seconds("maintain", "Periodic maintenance (rollups, partitions).")
        ProcessCollector(registry=self.registry)
        self.registry.register(_ProbeCollector(self))

    def alive(self) -> bool:
        return time.monotonic() - self.last_loop < self.stall_after_s

    def ready(self) -> bool:
        return self.alive() and self.db_ok


class _ProbeCollector(Collector):
    def __init__(self, probe: WorkerProbe) -> None:
        self.p = probe

    def collect(self) -> Iterator[Any]:
        p, stage = self.p, self.p.stage
        for name, doc in (
            ("messages_consumed", "Messages read from the input topic."),
            ("messages_valid", "Messages that passed validation."),
            ("processing_errors", "Polls or messages the processor or the database failed on."),
            ("checkpoints", "Checkpoints stored (results and offsets in one transaction)."),
            ("db_retries", "Database writes retried after an outage."),
            ("poll_errors", "Polls the broker did not answer (retried)."),
            ("minutes_built", "Minutes of segment state built."),
        ):
            if name in p.counters:
                c = CounterMetricFamily(f"itms_{name}", doc, labels=["stage"])
                c.add_metric([stage], p.counters[name])
                yield c
        dl = CounterMetricFamily("itms_messages_dead_lettered",
                                 "Messages sent to the dead-letter topic, by reason code.",
                                 labels=["stage", "code"])  # fmt: skip
        for code, n in sorted(p.dead_lettered.items()):
            dl.add_metric([stage, code], n)
        yield dl
        lag = GaugeMetricFamily("itms_consumer_lag_messages",
                                "Log end offset minus the consumer's position.",
                                labels=["stage", "partition"])  # fmt: skip
        for part, n in sorted(p.lag.items()):
            lag.add_metric([stage, str(part)], n)
        yield lag
        owned = GaugeMetricFamily(
            "itms_assigned_partitions",
            "Input partitions assigned to this worker.",
            labels=["stage"],
        )
        owned.add_metric([stage], len(p.partitions))
        yield owned
        g = GaugeMetricFamily("itms_last_progress_timestamp_seconds",
                              "Wall time of the last stored result.", labels=["stage"])  # fmt: skip
        g.add_metric([stage], p.last_progress)
        yield g
        up = GaugeMetricFamily("itms_worker_ready", "1 when ready.", labels=["stage"])
        up.add_metric([stage], 1.0 if p.ready() else 0.0)
        yield up


def serve(probe: WorkerProbe, host: str, port: int) -> Callable[[], None]:
    """Serve ``/metrics``, ``/healthz``, ``/readyz`` in a daemon thread; returns a stopper."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/metrics":
                self._reply(200, generate_latest(probe.registry), "text/plain; version=0.0.4")
            elif self.path == "/healthz":
                ok = probe.alive()
                self._reply(200 if ok else 503, b"ok\n" if ok else b"stalled\n", "text/plain")
            elif self.path == "/readyz":
                ok = probe.ready()
                self._reply(200 if ok else 503, b"ready\n" if ok else b"not ready\n",
                            "text/plain")  # fmt: skip
            else:
                self._reply(404, b"not found: try /metrics, /healthz or /readyz\n", "text/plain")

        def _reply(self, status: int, body: bytes, ctype: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:  # scrapes are not worth a log line
            return

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    log.info("%s metrics on http://%s:%d/metrics", probe.stage, host, server.server_port)

    def stop() -> None:
        server.shutdown()
        server.server_close()

    stop.port = server.server_port  # type: ignore[attr-defined]
    return stop
