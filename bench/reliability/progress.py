"""How far a run's pipeline got: checkpointed offsets, lag, drained, decided minutes."""

from __future__ import annotations

from datetime import datetime

import psycopg

from bench.reliability.kafka_inspection import GROUPS, end_offsets
from itms.settings import Settings
from store.pipeline_progress import checkpointed_offsets, last_decided_minute, queued_minute_count


def stored_offsets(dsn: str, settings: Settings, kind: str) -> dict[int, int]:
    """Checkpointed next offsets of the worker group of ``kind`` (empty if none)."""
    with psycopg.connect(dsn, connect_timeout=5) as conn:
        return checkpointed_offsets(conn, GROUPS[kind], settings.topic(kind))


def lag(settings: Settings, dsn: str, kind: str = "gps") -> int:
    """Messages on the broker not yet covered by the stored checkpoints."""
    stored = stored_offsets(dsn, settings, kind)
    return sum(max(o - stored.get(p, 0), 0) for p, o in end_offsets(settings, kind).items())


def drained(settings: Settings, dsn: str) -> bool:
    """Every message of both feeds checkpointed and no minute waiting for the state builder."""
    if lag(settings, dsn, "gps") or lag(settings, dsn, "detectors"):
        return False
    with psycopg.connect(dsn, connect_timeout=5) as conn:
        return queued_minute_count(conn) == 0


def incidents_until(dsn: str) -> datetime | None:
    """The last minute the incident worker decided in ``dsn``."""
    with psycopg.connect(dsn, connect_timeout=5) as conn:
        return last_decided_minute(conn)
