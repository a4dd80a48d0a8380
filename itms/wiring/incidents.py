"""Wiring of the incident worker (``itms worker incidents``): its parameters from the settings,
the Kafka producer of the ``incidents`` topic and the leader-elected loop."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from kafka.errors import KafkaError

from analytics.workers.detector_worker import DETECTOR_GROUP
from analytics.workers.incident_worker import (
    LEADER_LOCK,
    IncidentService,
    IncidentWorkerParams,
    incident_worker_params,
    relay,
)
from analytics.workers.leader import run_as_leader
from analytics.workers.probe_worker import PROBE_GROUP
from ingest.kafka.clients import make_producer
from itms.settings import Settings
from roadnet.model import RoadNetwork

log = logging.getLogger("analytics.workers.incident_worker")


def worker_params(settings: Settings, path: str | Path | None = None,
                  sets: Iterable[str] = ()) -> IncidentWorkerParams:  # fmt: skip
    """The worker's parameters: defaults, the settings' time zone and input wait, then the
    parameters file (``path``, else ``ITMS_INCIDENT_PARAMS``; format in
    :mod:`analytics.incidents.params_file`), then the ``section.key=value`` ``sets``."""
    path = path if path is not None else getattr(settings, "incident_params", None)
    return incident_worker_params(settings.timezone, settings.incident_max_wait_s, path, sets)


def run_incident_worker(
    settings: Settings, network: RoadNetwork, stop: threading.Event, *,
    interval_s: float = 5.0, clock: Callable[[], float] = time.time,
    params: IncidentWorkerParams | None = None,
) -> None:  # fmt: skip
    """Leader-elected loop: process due minutes and relay events until ``stop``.
    ``params``: the worker's parameters (default: :func:`worker_params` of ``settings``)."""
    producer = make_producer(settings.kafka, client_id="itms-incident-worker")
    topic = settings.topic("incidents")
    params = params or worker_params(settings)
    inputs: dict[str, str | None] = {PROBE_GROUP: settings.topic("gps"),
                                     DETECTOR_GROUP: settings.topic("detectors")}  # fmt: skip
    service = [IncidentService(network, params, inputs=inputs)]  # replaced after a lost database

    def send(key: str, value: bytes) -> None:
        producer.send(topic, key=key.encode(), value=value)

    def step(conn: psycopg.Connection) -> bool:
        try:
            actions = service[0].step(conn, datetime.fromtimestamp(clock(), UTC))
            if actions:
                log.info("incident actions: %s", [(a.action, a.track.incident_id)
                                                  for a in actions])  # fmt: skip
            relay(conn, send, lambda: producer.flush(timeout=10.0))
        except KafkaError as exc:  # stored and unpublished: the relay resumes from its seq
            log.warning("incident worker: broker unavailable, relay waits: %s", exc)
        return False

    def lead(conn: psycopg.Connection) -> None:
        service[0].load(conn)  # restore the stored progress and state

    def db_lost(exc: psycopg.OperationalError) -> None:
        log.warning("incident worker: database unavailable: %s", exc)
        service[0] = IncidentService(network, service[0].p, inputs=inputs)  # reload state

    try:
        run_as_leader(lambda: psycopg.connect(settings.dsn, autocommit=True), LEADER_LOCK, stop,
                      step, interval_s=interval_s, on_lead=lead,
                      on_db_lost=db_lost)  # fmt: skip
    finally:
        producer.close()
