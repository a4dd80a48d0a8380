"""Batches: many contract objects of one partition in one Kafka message (a JSON array).

A gateway that receives fixes in bulk (a provider's server forwarding its fleet every few
seconds, a GTFS-realtime vehicle-positions feed) can publish them as batches: a JSON array of
contract objects per message, which costs the broker and the workers far less per fix than one
message each. The ordering contract does not change: every fix of one vehicle (every reading of
one detector) must land in **one partition, in time order** — the partition Kafka's default
partitioner gives its id (murmur2 of the UTF-8 id modulo the partition count), as a single
message keyed by that id would get. :class:`PartitionBatcher` groups records that way, so
single and batched messages can be mixed on one topic.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from kafka.partitioner.default import murmur2

from ingest.records import KEY_FIELD
from ingest.validation import MAX_BATCH_BYTES

Send = Callable[[int | None, bytes | None, bytes], Any]
"""``send(partition, key, value)``: ``partition`` ``None`` lets the key choose."""


def partition_of(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner gives a message keyed ``key``."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def encode(record: dict[str, Any] | str) -> bytes:
    """A record as compact UTF-8 JSON (a string record, e.g. an unparseable line, as is)."""
    if isinstance(record, str):
        return record.encode("utf-8")
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class PartitionBatcher:
    """Collects records per target partition and sends each partition's as one JSON array.

    Parameters
    ----------
    send
        Publishes one message (see :data:`Send`).
    partitions
        The topic's partition count.
    kind
        ``"gps"`` or ``"detectors"``: which field is the id.
    max_items, max_bytes
        A partition's batch is sent when it reaches either (bytes of the JSON array).

    A record without an id (or not an object) cannot be placed; it is sent alone, unkeyed, and
    the workers dead-letter it.
    """

    def __init__(
        self, send: Send, partitions: int, *, kind: str, max_items: int = 500,
        max_bytes: int = MAX_BATCH_BYTES // 2,
    ) -> None:  # fmt: skip
        if partitions < 1:
            raise ValueError("a topic has at least one partition")
        self.send = send
        self.partitions = partitions
        self.key_field = KEY_FIELD[kind]
        self.max_items = max(1, max_items)
        self.max_bytes = max_bytes
        self.messages = 0  # messages sent
        self._where: dict[str, int] = {}  # id → partition (murmur2 in Python is slow)
        self._items: dict[int, list[bytes]] = {}
        self._bytes: dict[int, int] = {}

    def add(self, record: dict[str, Any] | str) -> None:
        """Queue one record for its partition (sending that partition's batch when full)."""
        key = record.get(self.key_field) if isinstance(record, dict) else None
        if key is None:
            self.send(None, None, encode(record))
            self.messages += 1
            return
        key = str(key)
        part = self._where.get(key)
        if part is None:
            part = self._where[key] = partition_of(key.encode("utf-8"), self.partitions)
        value = encode(record)
        items = self._items.setdefault(part, [])
        if items and self._bytes[part] + len(value) + 1 > self.max_bytes:
            self._send(part)
            items = self._items.setdefault(part, [])
        items.append(value)
        self._bytes[part] = self._bytes.get(part, 1) + len(value) + 1
        if len(items) >= self.max_items:
            self._send(part)

    def flush(self) -> None:
        """Send every partition's queued records."""
        for part in list(self._items):
            self._send(part)

    def _send(self, part: int) -> None:
        items = self._items.pop(part, None)
        self._bytes.pop(part, None)
        if items:
            self.send(part, None, b"[" + b",".join(items) + b"]")
            self.messages += 1
