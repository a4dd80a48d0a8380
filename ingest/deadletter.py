"""Dead-letter topic: rejected messages with their reason, never dropped silently.

A dead letter keeps the original key and value bytes untouched (a bad item of a
batch: that item alone, re-encoded as compact JSON, keyed by its id); the context
travels in headers (all UTF-8):

==========================  ==================================================
``itms.dlq.reason``         human-readable reason (field and problem)
``itms.dlq.code``           class of problem: decode, schema, range, future, ...
``itms.dlq.source.topic``   topic the message came from
``itms.dlq.source.partition`` / ``itms.dlq.source.offset``  its position there
``itms.dlq.source.index``   for one item of a batch (a JSON array): its index there
``itms.dlq.stage``          which component rejected it (e.g. ``probe-worker``)
``itms.dlq.rejected_at``    RFC 3339 UTC time of rejection
==========================  ==================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

HEADER_PREFIX = "itms.dlq."


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A rejected message and why."""

    value: bytes | None
    key: bytes | None
    reason: str
    code: str
    source_topic: str
    source_partition: int
    source_offset: int
    stage: str
    source_index: int | None = None

    def headers(self, *, now: datetime | None = None) -> list[tuple[str, bytes]]:
        """Kafka headers that carry the context."""
        when = (now or datetime.now(UTC)).isoformat().replace("+00:00", "Z")
        fields = {
            "reason": self.reason,
            "code": self.code,
            "source.topic": self.source_topic,
            "source.partition": str(self.source_partition),
            "source.offset": str(self.source_offset),
            "stage": self.stage,
            "rejected_at": when,
        }
        if self.source_index is not None:
            fields["source.index"] = str(self.source_index)
        return [(HEADER_PREFIX + k, v.encode("utf-8")) for k, v in fields.items()]


def parse_headers(headers: list[tuple[str, bytes]] | None) -> dict[str, str]:
    """The ``itms.dlq.*`` headers of a dead letter as a dict without the prefix."""
    return {
        k[len(HEADER_PREFIX) :]: v.decode("utf-8", "replace")
        for k, v in headers or []
        if k.startswith(HEADER_PREFIX)
    }


class _Producer(Protocol):
    def send(
        self,
        topic: str,
        value: bytes | None = ...,
        key: bytes | None = ...,
        headers: list | None = ...,
    ) -> object: ...
    def flush(self, timeout: float | None = ...) -> None: ...


class DeadLetterPublisher:
    """Sends dead letters to the dead-letter topic; :meth:`flush` makes them durable."""

    def __init__(self, producer: _Producer, topic: str) -> None:
        self.producer = producer
        self.topic = topic
        self.sent = 0
        self._pending: list = []

    def publish(self, letter: DeadLetter) -> None:
        """Queue one dead letter (keyed like the original message)."""
        future = self.producer.send(
            self.topic, value=letter.value, key=letter.key, headers=letter.headers()
        )
        self._pending.append(future)
        self.sent += 1

    def flush(self, timeout_s: float = 60.0) -> None:
        """Block until every queued dead letter is acknowledged; raise if one was not."""
        self.producer.flush(timeout=timeout_s)
        pending, self._pending = self._pending, []
        for future in pending:
            future.get(timeout=timeout_s)
