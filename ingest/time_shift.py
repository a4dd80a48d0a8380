"""Restamping recorded feeds: how far to move every timestamp of a replayed file.

A replay moves all of a file's ``ts`` by one amount, so the recording keeps its inner timing.
The amount is given directly (``--shift-by``, a signed duration) or derived from the file's
first timestamped record (``--shift-to TIME``, ``--shift-to-now``). Several recorded days
given the same ``--shift-by`` keep their distance from each other: a history day stays
exactly one day before the next.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

_DURATION = re.compile(
    r"(?P<sign>[+-])?(?:(?P<d>\d+(?:\.\d+)?)d)?(?:(?P<h>\d+(?:\.\d+)?)h)?"
    r"(?:(?P<m>\d+(?:\.\d+)?)m(?!s))?(?:(?P<s>\d+(?:\.\d+)?)s)?(?:(?P<ms>\d+)ms)?"
)
_UNIT_S = {"d": 86_400.0, "h": 3_600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
#: Longest shift accepted either way: a century keeps every restamped time a valid date.
MAX_SHIFT = timedelta(days=36_500)


def parse_duration(text: str) -> timedelta:
    """A signed duration such as ``1d``, ``-2h30m``, ``86400s``, ``1d12h``, ``500ms``: an
    optional sign, then amounts in days (d), hours (h), minutes (m), seconds (s) and
    milliseconds (ms), in that order, at most :data:`MAX_SHIFT` either way; raises
    ``ValueError`` with the accepted form."""
    value = text.strip().lower()
    match = _DURATION.fullmatch(value)
    if not value or match is None or not any(match.group(u) for u in _UNIT_S):
        raise ValueError(
            f"{text!r} is not a duration: use e.g. 1d, -2h30m, 86400s, 1d12h, 500ms"
            " (units d, h, m, s, ms, in that order; optional leading sign)"
        )
    seconds = sum(float(match.group(u)) * f for u, f in _UNIT_S.items() if match.group(u))
    if seconds > MAX_SHIFT.total_seconds():
        raise ValueError(f"{text!r} is too long a shift: at most {MAX_SHIFT.days} days either way")
    return timedelta(seconds=-seconds if match.group("sign") == "-" else seconds)


def parse_time(text: str) -> datetime:
    """An RFC 3339 time with a UTC offset (``2026-12-01T00:00:00+07:00``, ``…Z``); raises
    ``ValueError`` when it does not parse or has no offset."""
    try:
        parsed = datetime.fromisoformat(text.strip().upper().replace("Z", "+00:00"))
    except ValueError as exc:
        example = "e.g. 2026-12-01T07:00:00+07:00"
        raise ValueError(f"{text!r} is not an RFC 3339 time ({example})") from exc
    if parsed.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset (add 'Z' or e.g. '+07:00')")
    return parsed


@dataclass(frozen=True)
class TimeShift:
    """How a replay restamps: by a fixed amount (``by``), or so that the first timestamped
    record lands at ``to`` or, with ``to_now``, at the wall-clock time it is published."""

    by: timedelta | None = None
    to: datetime | None = None
    to_now: bool = False

    def __post_init__(self) -> None:
        if sum((self.by is not None, self.to is not None, self.to_now)) > 1:
            raise ValueError("give at most one of shift by, shift to and shift to now")

    def shift_ms(self, first_ts_ms: int, now_ms: int) -> int:
        """Milliseconds to add to every timestamp, given the first record's and now."""
        if self.by is not None:
            return round(self.by.total_seconds() * 1000)
        if self.to is not None:
            return round(self.to.timestamp() * 1000) - first_ts_ms
        if self.to_now:
            return now_ms - first_ts_ms
        return 0
