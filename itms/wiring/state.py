"""Wiring of the state builder (``itms worker state``): settings, Kafka producer, leader loop."""

from __future__ import annotations

import logging
import threading
import time

import psycopg

from analytics.workers.leader import run_as_leader
from analytics.workers.observability import WorkerProbe
from analytics.workers.state_builder import (
    LEADER_LOCK,
    BuilderParams,
    StateBuilder,
    state_message,
)
from ingest.kafka.clients import make_producer
from itms.settings import Settings
from roadnet.model import RoadNetwork
from store.state_writer import StateRow

log = logging.getLogger("analytics.workers.state_builder")


def builder_params(settings: Settings) -> BuilderParams:
    """The state builder's parameters from the settings."""
    return BuilderParams(timezone=settings.timezone, probe_share=settings.probe_share,
                         publish_min_vehicles=settings.privacy_min_vehicles,
                         uncalibrated_detector_speeds=settings.uncalibrated_detector_speeds,
                         )  # fmt: skip


def run_state_builder(
    settings: Settings, network: RoadNetwork, stop: threading.Event, *,
    interval_s: float = 1.0, probe: WorkerProbe | None = None,
) -> None:  # fmt: skip
    """Leader-elected loop: build queued minutes every ``interval_s`` until ``stop``;
    reports liveness, database health and minutes built to ``probe``."""
    producer = make_producer(settings.kafka, client_id="itms-state-builder")
    topic = settings.topic("segment_state")

    def publish(rows: list[StateRow]) -> None:
        for r in rows:
            producer.send(topic, key=r[0].encode(), value=state_message(r))

    builder = StateBuilder(network, builder_params(settings), publish=publish)
    health = probe or WorkerProbe("state-builder")
    health.counters = {"minutes_built": 0}

    def heartbeat() -> None:
        health.last_loop = time.monotonic()

    def step(conn: psycopg.Connection) -> bool:
        built = builder.step(conn)
        health.db_ok = True
        if not built:
            return False
        producer.flush()
        health.counters["minutes_built"] += len(built)
        health.last_progress = time.time()
        return True

    def db_lost(exc: psycopg.OperationalError) -> None:
        health.db_ok = False
        log.warning("state builder: database unavailable: %s", exc)

    try:
        run_as_leader(lambda: psycopg.connect(settings.dsn, autocommit=True), LEADER_LOCK, stop,
                      step, interval_s=interval_s, on_db_lost=db_lost,
                      heartbeat=heartbeat)  # fmt: skip
    finally:
        producer.close()
