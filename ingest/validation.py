"""Validation of raw feed bytes against the contracts, with precise reasons.

The validator turns bytes into a contract object or raises
:class:`~ingest.errors.InvalidMessage` whose reason names the field and the
problem; the caller dead-letters it. A message may also be a **batch**, a JSON
array of contract objects (:meth:`FeedValidator.validate_many`): its valid items
flow on and each bad item is rejected alone, with its index. Time checks use an
injected clock so tests and replays can fix "now".
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import pydantic_core
from pydantic import TypeAdapter, ValidationError

from ingest.contracts import DetectorReading, GpsFix, contract_model
from ingest.errors import InvalidMessage
from ingest.records import KEY_FIELD

FeedKind = Literal["gps", "detectors"]
Clock = Callable[[], float]
"""Returns the current time in epoch seconds."""


def describe_validation_error(exc: ValidationError) -> str:
    """One line per problem: ``field: message (got value)``."""
    parts = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in err["loc"]) or "message"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "json_invalid":
            return f"undecodable: not valid JSON ({err.get('ctx', {}).get('error', msg)})"
        if err["type"] == "model_type" or err["type"] == "model_attributes_type":
            return "not a JSON object"
        got = err.get("input")
        shown = "" if err["type"] == "missing" or isinstance(got, dict) else f" (got {got!r:.60})"
        parts.append(f"{loc}: {msg}{shown}")
    return "; ".join(parts)


#: Largest batch accepted, bytes: Kafka's default largest message (``message.max.bytes``).
MAX_BATCH_BYTES = 1024 * 1024
#: Most items in one batch.
MAX_BATCH_ITEMS = 10_000


@dataclass(slots=True)
class Rejected:
    """One bad item of a batch: its index, the problem, the item re-encoded as JSON and its
    id (``vehicle_id`` / ``detector_id``) as the key of its dead letter, when it has one."""

    index: int
    error: InvalidMessage
    value: bytes
    key: bytes | None = None


@dataclass(slots=True)
class Validated:
    """What a message held: its valid contract objects (in message order) and its bad items."""

    messages: list[Any] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)


class FeedValidator:
    """Checks one feed's messages: size, encoding, schema, ranges and time window.

    Parameters
    ----------
    kind
        ``"gps"`` or ``"detectors"``.
    max_future_s, max_age_s
        Allowed distance of the message time from now, seconds.
    strict
        Reject unknown fields instead of ignoring them.
    max_bytes
        Largest accepted single-object message, bytes.
    max_batch_bytes, max_batch_items
        Largest accepted batch (JSON array) message: bytes and items.
    clock
        Current time in epoch seconds (default ``time.time``).
    """

    def __init__(
        self,
        kind: FeedKind,
        *,
        max_future_s: float = 300.0,
        max_age_s: float = 7 * 86400.0,
        strict: bool = False,
        max_bytes: int = 64 * 1024,
        max_batch_bytes: int = MAX_BATCH_BYTES,
        max_batch_items: int = MAX_BATCH_ITEMS,
        clock: Clock = time.time,
    ) -> None:
        self.kind = kind
        self.model = contract_model(kind, strict=strict)
        self.max_future_ms = max_future_s * 1000.0
        self.max_age_ms = max_age_s * 1000.0
        self.max_bytes = max_bytes
        self.max_batch_bytes = max(max_batch_bytes, max_bytes)
        self.max_batch_items = max_batch_items
        self.clock = clock
        self._validate_json = self.model.__pydantic_validator__.validate_json
        self._validate_item = self.model.__pydantic_validator__.validate_python
        self._validate_list = TypeAdapter(list[self.model]).validate_json  # type: ignore[name-defined]

    def validate_many(self, raw: bytes | None) -> Validated:
        """A message's contract objects: one for a JSON object, the valid items of a batch
        (a JSON array of objects). A single message that breaks the contract, or a batch that
        cannot be read as one (not JSON, too large), raises :class:`InvalidMessage`; within a
        readable batch each bad item (not an object, or breaking the contract) is rejected
        alone."""
        if not raw or raw.lstrip()[:1] != b"[":  # (lstrip copies only when it strips)
            return Validated([self.validate(raw)])
        if len(raw) > self.max_batch_bytes:
            raise InvalidMessage(
                f"batch of {len(raw)} bytes exceeds the limit of {self.max_batch_bytes}",
                code="too_large",
            )
        try:
            messages = self._validate_list(raw)  # the fast path: every item valid
        except ValidationError:
            return self._validate_items(raw)
        if not messages:
            raise InvalidMessage("empty batch (a JSON array without items)", code="decode")
        if len(messages) > self.max_batch_items:
            raise self._too_many(len(messages))
        times = [msg.ts_ms for msg in messages]
        try:
            self._check_time(max(times))
            self._check_time(min(times))
        except InvalidMessage:  # reject the late or early items alone
            return self._validate_items(raw)
        return Validated(messages)

    def _validate_items(self, raw: bytes) -> Validated:
        """A batch with at least one bad item (or not a batch at all), item by item."""
        try:
            items = pydantic_core.from_json(raw)
        except ValueError as exc:
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as bad:
                reason = f"undecodable: not UTF-8 ({bad.reason})"
                raise InvalidMessage(reason, code="decode") from bad
            raise InvalidMessage(f"undecodable: not valid JSON ({exc})", code="decode") from exc
        if not isinstance(items, list):
            raise InvalidMessage("not a JSON object or array of objects", code="decode")
        if len(items) > self.max_batch_items:
            raise self._too_many(len(items))
        out = Validated()
        for i, item in enumerate(items):
            try:
                msg = self._validate_item(item)
            except ValidationError as exc:
                invalid = InvalidMessage(describe_validation_error(exc), code="schema")
                out.rejected.append(Rejected(i, invalid, _encode(item), self._key(item)))
                continue
            try:
                self._check_time(msg.ts_ms)
            except InvalidMessage as exc:
                out.rejected.append(Rejected(i, exc, _encode(item), self._key(item)))
                continue
            out.messages.append(msg)
        return out

    def _key(self, item: Any) -> bytes | None:
        key = item.get(KEY_FIELD[self.kind]) if isinstance(item, dict) else None
        return str(key).encode("utf-8") if key is not None else None

    def _too_many(self, n: int) -> InvalidMessage:
        return InvalidMessage(
            f"batch of {n} items exceeds the limit of {self.max_batch_items}", code="too_large"
        )

    def validate(self, raw: bytes | None) -> GpsFix | DetectorReading:
        """Parse and check one message; raise :class:`InvalidMessage` with the reason."""
        if raw is None:
            raise InvalidMessage("empty message (null value)", code="decode")
        if len(raw) > self.max_bytes:
            raise InvalidMessage(
                f"message of {len(raw)} bytes exceeds the limit of {self.max_bytes}",
                code="too_large",
            )
        try:
            msg: GpsFix | DetectorReading = self._validate_json(raw)
        except ValidationError as exc:
            try:  # the JSON parser refuses bad UTF-8 too; name it precisely
                raw.decode("utf-8")
            except UnicodeDecodeError as bad:
                raise InvalidMessage(
                    f"undecodable: not UTF-8 ({bad.reason})", code="decode"
                ) from bad
            reason = describe_validation_error(exc)
            code = "decode" if reason.startswith(("undecodable", "not a JSON")) else "schema"
            raise InvalidMessage(reason, code=code) from exc
        self._check_time(msg.ts_ms)
        return msg

    def _check_time(self, ts_ms: int) -> None:
        now_ms = self.clock() * 1000.0
        if ts_ms > now_ms + self.max_future_ms:
            ahead = (ts_ms - now_ms) / 1000.0
            raise InvalidMessage(
                f"ts is {ahead:.0f} s in the future (limit {self.max_future_ms / 1000:.0f} s)",
                code="future",
            )
        if ts_ms < now_ms - self.max_age_ms:
            age = (now_ms - ts_ms) / 1000.0
            raise InvalidMessage(
                f"ts is {age:.0f} s old (limit {self.max_age_ms / 1000:.0f} s)", code="too_old"
            )


def _encode(item: Any) -> bytes:
    """A batch item as compact JSON (for its dead letter)."""
    return json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
