"""Consumer checkpoints kept in the database, in the same transaction as the results.

A worker loads the next offset per partition (and, for stateful workers, the
serialized state of that partition as of that offset) when it is assigned one,
and every write transaction advances both. The update is fenced: if the stored
offset is not the one this worker expects, another consumer took the
partition over and the transaction is rolled back. Each checkpoint also keeps
the partition's **watermark**: the newest event time among the messages it
covers (what the incident worker waits for, :func:`input_watermarks`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import NamedTuple

import psycopg

from store.errors import CheckpointConflict

TopicPartition = tuple[str, int]


class StoredCheckpoint(NamedTuple):
    """One partition's checkpoint row: next offset, worker state, watermark (may be NULL)."""

    next_offset: int
    state: bytes | None
    watermark: datetime | None


def load_stored(
    conn: psycopg.Connection, group: str, partitions: Iterable[TopicPartition]
) -> dict[TopicPartition, StoredCheckpoint]:
    """The stored checkpoints of ``partitions`` for ``group`` (missing ones are absent)."""
    parts = list(partitions)
    if not parts:
        return {}
    rows = conn.execute(
        "SELECT topic, partition, next_offset, state, watermark FROM consumer_checkpoint"
        " WHERE consumer_group = %s AND (topic, partition) IN"
        " (SELECT * FROM unnest(%s::text[], %s::int[]))",
        (group, [t for t, _ in parts], [p for _, p in parts]),
    ).fetchall()
    return {
        (t, p): StoredCheckpoint(o, None if s is None else bytes(s), w) for t, p, o, s, w in rows
    }


def load_checkpoints(
    conn: psycopg.Connection, group: str, partitions: Iterable[TopicPartition]
) -> dict[TopicPartition, int]:
    """Stored next offsets of ``partitions`` for ``group`` (missing ones are absent)."""
    return {k: c.next_offset for k, c in load_stored(conn, group, partitions).items()}


def load_watermarks(
    conn: psycopg.Connection, group: str, partitions: Iterable[TopicPartition]
) -> dict[TopicPartition, datetime]:
    """Stored watermarks of ``partitions`` for ``group`` (partitions without one are absent)."""
    return {
        k: c.watermark
        for k, c in load_stored(conn, group, partitions).items()
        if c.watermark is not None
    }


def input_watermarks(
    conn: psycopg.Connection, inputs: Mapping[str, str | None]
) -> list[tuple[str, str, int, int, datetime | None]]:
    """(group, topic, partition, next offset, watermark) of every stored checkpoint of the
    consumer groups in ``inputs`` (group → its topic, ``None``: any topic)."""
    rows = conn.execute(
        "SELECT consumer_group, topic, partition, next_offset, watermark FROM consumer_checkpoint"
        " WHERE consumer_group = ANY(%s) ORDER BY consumer_group, topic, partition",
        (list(inputs),),
    ).fetchall()
    return [r for r in rows if inputs[r[0]] in (None, r[1])]


def advance_checkpoints(
    conn: psycopg.Connection,
    group: str,
    expected: Mapping[TopicPartition, int | None],
    new: Mapping[TopicPartition, int],
    states: Mapping[TopicPartition, bytes | None] | None = None,
    watermarks: Mapping[TopicPartition, datetime | None] | None = None,
) -> None:
    """Move checkpoints to ``new`` inside the caller's transaction.

    ``expected`` holds the offset each partition had when this worker last read
    or wrote it (``None``: no row yet). Raises :class:`CheckpointConflict` when the
    stored value differs, which means another consumer wrote it meanwhile.
    ``states`` holds each partition's serialized worker state after ``new``,
    ``watermarks`` its newest event time up to ``new`` (``None`` keeps the stored one).
    """
    states = states or {}
    watermarks = watermarks or {}
    for topic, partition in sorted(new):
        before = expected.get((topic, partition))
        state = states.get((topic, partition))
        mark = watermarks.get((topic, partition))
        if before is None:
            cur = conn.execute(
                "INSERT INTO consumer_checkpoint"
                " (consumer_group, topic, partition, next_offset, state, watermark)"
                " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (group, topic, partition, new[(topic, partition)], state, mark),
            )
        else:
            cur = conn.execute(
                "UPDATE consumer_checkpoint SET next_offset = %s, state = %s,"
                " watermark = coalesce(%s, watermark), updated_at = now()"
                " WHERE consumer_group = %s AND topic = %s AND partition = %s"
                " AND next_offset = %s",
                (new[(topic, partition)], state, mark, group, topic, partition, before),
            )
        if cur.rowcount != 1:
            raise CheckpointConflict(
                f"checkpoint of {topic}[{partition}] for group {group} is no longer {before}:"
                " another consumer took the partition over"
            )
