"""Days of stored history as the forecast is trained on them, and the forecast inputs at any
minute of such a day.

A :class:`HistoryDay` is a (T, N) array of published speeds (km/h, NaN: none) per minute
from ``first_minute`` (UTC) and segment, with the day's known blocking incidents. Profiles
for a day are the harmonic mean of the same local 15-minute slot on the *other* days of the
same type (weekday or weekend), so that a day's own speeds never leak into its profile.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np

from analytics.forecast.features import WINDOW_MIN, ForecastInputs
from analytics.forecast.incident_reach import incident_features
from analytics.incidents.corridor import Corridor

SLOT_MIN = 15
SLOTS = 24 * 60 // SLOT_MIN


@dataclass
class HistoryDay:
    """Published speeds of one day (see the module docstring); ``incidents``: (segment
    index, first row known, last row active) of each blocking incident."""

    first_minute: datetime
    observed: np.ndarray
    incidents: list[tuple[int, int, int]] = field(default_factory=list)


def _slot0(day: HistoryDay, tz: ZoneInfo) -> int:
    local = day.first_minute.astimezone(tz)
    return local.hour * 60 + local.minute


def _weekend(day: HistoryDay, tz: ZoneInfo) -> bool:
    return day.first_minute.astimezone(tz).isoweekday() >= 6


def slot_sums(day: HistoryDay, tz: ZoneInfo) -> tuple[np.ndarray, np.ndarray]:
    """Per local 15-minute slot of the day and segment: how many published speeds and the sum
    of their inverses ((SLOTS, N) each)."""
    t, n = day.observed.shape
    slot = ((_slot0(day, tz) + np.arange(t)) // SLOT_MIN) % SLOTS
    ok = np.isfinite(day.observed) & (day.observed > 0)
    inv = np.where(ok, 1.0 / np.where(ok, day.observed, 1.0), 0.0)
    cnt, s = np.zeros((SLOTS, n)), np.zeros((SLOTS, n))
    np.add.at(cnt, slot, ok.astype(float))
    np.add.at(s, slot, inv)
    return cnt, s


class DayProfiles:
    """Leave-one-day-out time-of-day profiles of a set of days (see the module docstring)."""

    def __init__(self, days: Sequence[HistoryDay], timezone: str) -> None:
        self.tz = ZoneInfo(timezone)
        self.days = list(days)
        sums = [slot_sums(d, self.tz) for d in self.days]
        self._sums = sums
        self._weekend = [_weekend(d, self.tz) for d in self.days]

    def profile(self, k: int, extra: Sequence[HistoryDay] = ()) -> np.ndarray:
        """(SLOTS, N) profile speeds (km/h, NaN: no data) for day ``k`` of these days (its own
        speeds left out; ``k`` = −1: all of them), plus ``extra`` days' speeds."""
        n = self.days[0].observed.shape[1] if self.days else extra[0].observed.shape[1]
        cnt, inv = np.zeros((SLOTS, n)), np.zeros((SLOTS, n))
        wk = self._weekend[k] if k >= 0 else None
        for j, (c, s) in enumerate(self._sums):
            if j != k and (wk is None or self._weekend[j] == wk):
                cnt += c
                inv += s
        for d in extra:
            c, s = slot_sums(d, self.tz)
            cnt += c
            inv += s
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(cnt > 0, cnt / inv, np.nan)


def row_slot(day: HistoryDay, row: np.ndarray | int, tz: ZoneInfo) -> np.ndarray:
    """The local 15-minute slot of a row (or rows) of ``day``."""
    return ((_slot0(day, tz) + np.asarray(row)) // SLOT_MIN) % SLOTS


def inputs_at(
    day: HistoryDay, row: int, profile: np.ndarray, free_flow: np.ndarray, corridor: Corridor,
    horizons: Sequence[int], tz: ZoneInfo,
) -> ForecastInputs:  # fmt: skip
    """What was known at ``row`` of ``day`` (the window of rows up to it, the profile of its
    slot and of each target's slot, the incidents known by then and not yet over)."""
    lo = row - WINDOW_MIN + 1
    recent = day.observed[max(lo, 0): row + 1]
    if lo < 0:
        recent = np.vstack([np.full((-lo, recent.shape[1]), np.nan), recent])
    active = [(s, float(row - a)) for s, a, b in day.incidents if a <= row <= b]
    age, down = incident_features(corridor, active, len(free_flow))
    return ForecastInputs(
        recent, free_flow, profile[row_slot(day, row, tz)],
        {h: profile[row_slot(day, row + h, tz)] for h in horizons}, age, down,
        float((_slot0(day, tz) + row) % (24 * 60)),
    )


def issue_rows(day: HistoryDay, horizon: int, step: int) -> Iterator[int]:
    """Rows of ``day`` a forecast is issued at (every ``step`` minutes, a full window behind
    and the target inside the day)."""
    return iter(range(WINDOW_MIN - 1, day.observed.shape[0] - horizon, step))
