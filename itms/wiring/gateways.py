"""Wiring of the feed gateways: a GTFS-Realtime gateway publishing to the GPS topic, with its
metrics on the worker probe's registry."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from analytics.workers.observability import WorkerProbe
from ingest.gateways.gtfs_rt import GtfsRtGateway
from ingest.kafka.clients import make_producer
from itms.settings import Settings


class GatewayCollector(Collector):
    """``itms_gateway_polls_total{outcome}`` (``ok``, ``unreachable``, ``http``, ``broken``,
    ``error``), ``itms_gateway_positions_total{what}`` (``published``, ``repeated``),
    ``itms_gateway_entities_skipped_total{reason}`` and
    ``itms_gateway_last_success_timestamp_seconds``."""

    def __init__(self, gateway: GtfsRtGateway, stage: str) -> None:
        self.g, self.stage = gateway, stage

    def collect(self) -> Iterator[Any]:
        s, stage = self.g.stats, self.stage
        polls = CounterMetricFamily("itms_gateway_polls", "Feed polls by outcome.",
                                    labels=["stage", "outcome"])  # fmt: skip
        polls.add_metric([stage, "ok"], s.polls_ok)
        for reason, n in sorted(s.polls_failed.items()):
            polls.add_metric([stage, reason], n)
        yield polls
        pos = CounterMetricFamily("itms_gateway_positions", "Vehicle positions by fate.",
                                  labels=["stage", "what"])  # fmt: skip
        pos.add_metric([stage, "published"], s.published)
        pos.add_metric([stage, "repeated"], s.repeated)
        yield pos
        sk = CounterMetricFamily("itms_gateway_entities_skipped",
                                 "Feed entities that gave no position, by reason.",
                                 labels=["stage", "reason"])  # fmt: skip
        for reason, n in sorted(s.skipped.items()):
            sk.add_metric([stage, reason], n)
        yield sk
        g = GaugeMetricFamily("itms_gateway_last_success_timestamp_seconds",
                              "Wall time of the last good poll.", labels=["stage"])  # fmt: skip
        g.add_metric([stage], s.last_success)
        yield g


def run_gtfs_rt_gateway(
    settings: Settings, url: str, stop: threading.Event, *, interval_s: float = 15.0,
    vehicle_type: str = "bus", probe: WorkerProbe | None = None,
) -> GtfsRtGateway:  # fmt: skip
    """Poll ``url`` into the GPS topic until ``stop`` is set; returns the gateway (its
    stats). The probe is alive while polls happen and ready while the feed answers."""
    producer = make_producer(settings.kafka)
    topic = settings.topic("gps")

    def observed(ok: bool) -> None:
        if probe is not None:
            probe.last_loop = time.monotonic()
            probe.db_ok = ok  # ready: the feed answers
            if ok:
                probe.last_progress = time.time()

    gw = GtfsRtGateway(
        url, lambda key, value: producer.send(topic, key=key, value=value), producer.flush,
        interval_s=interval_s, vehicle_type=vehicle_type, on_poll=observed,
    )  # fmt: skip
    if probe is not None:
        probe.stall_after_s = max(probe.stall_after_s, 4 * gw.max_backoff_s)
        probe.registry.register(GatewayCollector(gw, probe.stage))
    try:
        gw.run(stop)
    finally:
        producer.flush()
        producer.close()
    return gw
