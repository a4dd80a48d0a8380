"""Consumer checkpoints kept in the database, in the same transaction as the results.

A worker loads the next offset per partition when it is assigned one, and
every write transaction advances it. The update is fenced: if the stored
offset is not the one this worker expects, another consumer took the
partition over and the transaction is rolled back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import psycopg

from store.errors import CheckpointConflict

TopicPartition = tuple[str, int]


def load_checkpoints(
    conn: psycopg.Connection, group: str, partitions: Iterable[TopicPartition]
) -> dict[TopicPartition, int]:
    """Stored next offsets of ``partitions`` for ``group`` (missing ones are absent)."""
    parts = list(partitions)
    if not parts:
        return {}
    rows = conn.execute(
        "SELECT topic, partition, next_offset FROM consumer_checkpoint"
        " WHERE consumer_group = %s AND (topic, partition) IN"
        " (SELECT * FROM unnest(%s::text[], %s::int[]))",
        (group, [t for t, _ in parts], [p for _, p in parts]),
    ).fetchall()
    return {(t, p): o for t, p, o in rows}


def advance_checkpoints(
    conn: psycopg.Connection,
    group: str,
    expected: Mapping[TopicPartition, int | None],
    new: Mapping[TopicPartition, int],
) -> None:
    """Move checkpoints to ``new`` inside the caller's transaction.

    ``expected`` holds the offset each partition had when this worker last read
    or wrote it (``None``: no row yet). Raises :class:`CheckpointConflict` when the
    stored value differs, which means another consumer wrote it meanwhile.
    """
    for topic, partition in sorted(new):
        before = expected.get((topic, partition))
        if before is None:
            cur = conn.execute(
                "INSERT INTO consumer_checkpoint (consumer_group, topic, partition, next_offset)"
                " VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (group, topic, partition, new[(topic, partition)]),
            )
        else:
            cur = conn.execute(
                "UPDATE consumer_checkpoint SET next_offset = %s, updated_at = now()"
                " WHERE consumer_group = %s AND topic = %s AND partition = %s"
                " AND next_offset = %s",
                (new[(topic, partition)], group, topic, partition, before),
            )
        if cur.rowcount != 1:
            raise CheckpointConflict(
                f"checkpoint of {topic}[{partition}] for group {group} is no longer {before}:"
                " another consumer took the partition over"
            )
