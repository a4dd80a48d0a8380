"""The undisturbed reference: what an undisturbed pipeline stores for a topic's messages.

The reference is what an undisturbed pipeline stores for the messages a topic holds: every
partition read in offset order through the workers' own processors (processing depends only on
the order within a partition; traversals stamped with when they became known, as the worker
does), then the state builder over every minute in time order, then the incident worker's
logic over every minute the final watermarks make due. Stored results are compared as
multisets, so a lost or a doubled result shows up as a difference.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

import psycopg

from analytics.workers.detector_worker import DetectorProcessor
from analytics.workers.event_time import process_in_event_time
from analytics.workers.incident_worker import (
    IncidentService,
    IncidentWorkerParams,
    InputPartition,
)
from analytics.workers.probe_worker import ProbeProcessor
from analytics.workers.state_builder import StateBuilder
from bench.reliability.kafka_inspection import read_partitions
from ingest.errors import InvalidMessage
from ingest.validation import FeedValidator
from itms.settings import Settings
from roadnet.model import RoadNetwork


def build_reference(
    settings: Settings, network: RoadNetwork, ref_dsn: str, *, incidents: bool = True
) -> dict[str, int]:
    """Store in ``ref_dsn`` what an undisturbed pipeline makes of the topics' messages.

    Returns the messages read per feed. ``ref_dsn`` must hold the network and detectors.
    With ``incidents`` the incident worker's logic then runs over every minute the final
    watermarks make due (:func:`reference_incidents`)."""
    counts = {"gps": 0, "detectors": 0}
    marks: dict[tuple[str, int], int | None] = {}
    probe = ProbeProcessor(network)
    det = DetectorProcessor()
    for kind, proc in (("gps", probe), ("detectors", det)):
        validator = FeedValidator(kind, max_future_s=settings.max_future_s,
                                  max_age_s=settings.max_age_s)  # fmt: skip
        for p, values in read_partitions(settings, kind):
            counts[kind] += len(values)
            valid = []
            for v in values:
                with contextlib.suppress(InvalidMessage):
                    valid.append(validator.validate(v))
            part = (settings.topic(kind), p)
            marks[part] = process_in_event_time(proc, part, valid, marks.get(part),
                                                _event_ms, stamp_rows=kind == "gps")  # fmt: skip
            if proc.pending() >= 20_000:
                _store_reference(ref_dsn, proc)
        _store_reference(ref_dsn, proc)
    with psycopg.connect(ref_dsn, autocommit=True) as conn:
        builder = StateBuilder(network)
        while builder.step(conn, limit=60):
            pass
    if incidents:
        reference_incidents(settings, network, ref_dsn, marks)
    return counts


def _event_ms(message) -> int:
    return message.ts_ms


def incident_params(settings: Settings) -> IncidentWorkerParams:
    """The live incident worker's parameters (``run_incident_worker``)."""
    from analytics.workers.incident_worker import incident_worker_params

    return incident_worker_params(
        settings.timezone, settings.incident_max_wait_s, settings.incident_params
    )


def reference_incidents(
    settings: Settings, network: RoadNetwork, ref_dsn: str,
    marks: dict[tuple[str, int], int | None],
) -> datetime | None:  # fmt: skip
    """Run the incident worker's logic over the minutes the partitions' final watermarks
    (epoch ms) make due, in time order, on ``ref_dsn``; returns the last minute."""
    parts = [InputPartition(f"{t}[{p}]", None if w is None else
                            datetime.fromtimestamp(w / 1000, UTC))
             for (t, p), w in sorted(marks.items())]  # fmt: skip
    service = IncidentService(network, incident_params(settings))
    minutes = service.due_minutes(None, parts)
    with psycopg.connect(ref_dsn, autocommit=True) as conn:
        for minute in minutes:
            service.process_minute(conn, minute)
    return minutes[-1] if minutes else None


def _store_reference(dsn: str, proc: ProbeProcessor | DetectorProcessor) -> None:
    """Store the processor's pending results as its worker does (traversals, space-time cell
    sums and presence records, or readings; their minutes queued for the state builder)."""
    if isinstance(proc, ProbeProcessor):
        proc.hand_out_cells()  # the worker does at each checkpoint
    with psycopg.connect(dsn, autocommit=True) as conn:
        proc.prepare(conn)
        with conn.transaction():
            proc.store(conn)
    proc.clear()
