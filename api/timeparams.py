"""Time-range query parameters: RFC 3339 (naive times are taken as UTC)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import HTTPException


def aware(t: datetime | None) -> datetime | None:
    """``t`` with UTC assumed when it has no offset."""
    if t is None:
        return None
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def time_range(
    start: datetime | None, end: datetime | None, *, default: timedelta, max_span: timedelta
) -> tuple[datetime, datetime]:
    """``[start, end)``: ``end`` defaults to now, ``start`` to ``end - default``; 400 when
    ``start >= end`` or the span exceeds ``max_span``."""
    end = aware(end) or datetime.now(UTC)
    try:
        start = aware(start) or end - default
    except OverflowError as exc:
        raise HTTPException(400, "end is out of range") from exc
    if start >= end:
        raise HTTPException(400, "start must be before end")
    if end - start > max_span:
        raise HTTPException(400, f"the range may span at most {max_span.days} days")
    return start, end
