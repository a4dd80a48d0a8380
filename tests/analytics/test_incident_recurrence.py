"""Recurring slowdowns: alarms at places as slow at this time on previous days are kept for
review with the reason, and announced once they get slower than on any previous day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from analytics.incidents.candidate import Candidate
from analytics.incidents.lifecycle import IncidentTracker, TrackerParams
from analytics.incidents.recurrence import (
    RecurrenceParams,
    mark_recurrent,
    recurrence_reason,
    slow_days,
)

T0 = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
BEARING = np.array([90.0, 90.0, 90.0])
# previous days' slowest speeds (km/h) on three segments: 0 often slow at this time,
# 1 never, 2 with a single day of data
DAYS = np.array([[8.0, 40.0, np.nan], [30.0, 42.0, np.nan], [9.0, 38.0, 5.0],
                 [35.0, 41.0, np.nan]])  # fmt: skip
REF = np.array([30.0, 40.0, 30.0])


def cand(seg: int, ratio: float, vehicles: int = 4) -> Candidate:
    return Candidate("fused", seg, 50.0, 100.0 * seg, 0.0, 0.7, frozenset({"probe"}),
                     queue_m=300.0, speed_ratio=ratio,
                     evidence={"methods": ["probe_drop"], "vehicles": vehicles})  # fmt: skip


def test_slow_days_counts_the_days_about_as_slow_as_now() -> None:
    assert slow_days(DAYS, 0, 6.0, 0.6) == (2, 4, 8.0)  # 6 ≥ 0.6 × 8 and 0.6 × 9
    assert slow_days(DAYS, 0, 4.0, 0.6) == (0, 4, 8.0)  # slower than on any day
    k, n, slowest = slow_days(DAYS, 2, 4.0, 0.6)
    assert (k, n, slowest) == (1, 1, 5.0)
    assert slow_days(DAYS, 1, float("nan"), 0.6)[0] == 0


def test_mark_recurrent_says_how_often_and_needs_enough_days() -> None:
    p = RecurrenceParams()
    queue, crash, lone, no_history = cand(0, 0.2), cand(1, 0.2), cand(2, 0.2), cand(0, 0.2)
    mark_recurrent([queue, crash, lone], DAYS, np.full(3, np.nan), REF, p)
    h = queue.evidence["history"]
    assert h == {"slow_days": 2, "of": 4, "slowest_kmh": 8.0, "now_kmh": 6.0, "recurs": True}
    reason = recurrence_reason(queue.evidence) or ""
    assert "slow here at this time on 2 of 4 previous days" in reason
    assert crash.evidence["history"]["slow_days"] == 0 and not crash.evidence["history"]["recurs"]
    assert recurrence_reason(crash.evidence) is None
    assert "history" not in lone.evidence  # one day of data is no history
    mark_recurrent([no_history], None, np.full(3, np.nan), REF, p)
    assert "history" not in no_history.evidence
    # without a speed ratio, the recent probe speed is now's speed
    blind = cand(0, 0.2)
    blind.speed_ratio = None
    mark_recurrent([blind], DAYS, np.array([7.0, np.nan, np.nan]), REF, p)
    assert blind.evidence["history"]["now_kmh"] == 7.0
    # a quarter of the days, never fewer than one: one day of four recurs, none does not
    once = np.array([[8.0], [30.0], [31.0], [35.0]])
    c = cand(0, 0.2)
    mark_recurrent([c], once, np.full(1, np.nan), REF[:1], p)
    assert c.evidence["history"]["recurs"]


def test_a_recurring_slowdown_is_kept_for_review_until_it_is_worse_than_ever() -> None:
    tr = IncidentTracker(BEARING, params=TrackerParams(announce_confidence=0.5))
    p = RecurrenceParams()

    def feed(k: int, ratio: float) -> list:
        c = cand(0, ratio, vehicles=6)
        mark_recurrent([c], DAYS, np.full(3, np.nan), REF, p)
        return tr.update(T0 + timedelta(minutes=k), [c])

    acts = feed(0, 0.2)  # 6 km/h: as slow as on 2 of 4 days
    assert [a.action for a in acts] == ["create"]
    t = acts[0].track
    assert not t.announced and t.confidence < 0.5 and t.recurrent
    assert acts[0].note is not None and "kept for review: slow here" in acts[0].note
    for k in range(1, 8):  # however long it lasts, it stays for review
        assert all(a.action != "announce" for a in feed(k, 0.2))
    # a minute whose evidence says neither (no history, no ratio) keeps it recurrent
    c = cand(0, 0.2, vehicles=6)
    assert all(a.action != "announce" for a in tr.update(T0 + timedelta(minutes=8), [c]))
    acts = feed(9, 0.1)  # 3 km/h: slower than on any previous day
    assert "announce" in [a.action for a in acts]
    # the same alarm where nothing recurs is announced at once
    other = IncidentTracker(BEARING, params=TrackerParams(announce_confidence=0.5))
    c = cand(1, 0.2, vehicles=6)
    mark_recurrent([c], DAYS, np.full(3, np.nan), REF, p)
    acts = other.update(T0, [c])
    assert acts[0].track.announced and acts[0].note is None
