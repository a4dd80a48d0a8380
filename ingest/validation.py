"""Validation of raw feed bytes against the contracts, with precise reasons.

The validator turns bytes into a contract object or raises
:class:`~ingest.errors.InvalidMessage` whose reason names the field and the
problem; the caller dead-letters it. Time checks use an injected clock so
tests and replays can fix "now".
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

from pydantic import ValidationError

from ingest.contracts import DetectorReading, GpsFix, _Message, contract_model
from ingest.errors import InvalidMessage

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
        Largest accepted message, bytes.
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
        clock: Clock = time.time,
    ) -> None:
        self.kind = kind
        self.model = contract_model(kind, strict=strict)
        self.max_future_ms = max_future_s * 1000.0
        self.max_age_ms = max_age_s * 1000.0
        self.max_bytes = max_bytes
        self.clock = clock
        self._validate_json = self.model.__pydantic_validator__.validate_json

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
            msg: _Message = self._validate_json(raw)
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
        return msg  # type: ignore[return-value]

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
