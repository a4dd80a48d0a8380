"""Incident tracker: one incident per event, confirmation, following the head, clearing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from analytics.incidents.candidate import Candidate
from analytics.incidents.lifecycle import IncidentTracker, TrackerParams, severity_of

T0 = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
BEARING = np.array([90.0, 90.0, 90.0, 270.0, 0.0])  # segments 0–2 east, 3 west, 4 north


def cand(seg: int, x: float, *, sources=("probe",), queue=300.0, ratio=0.3) -> Candidate:
    return Candidate("fused", seg, 100.0, x, 0.0, 0.7, frozenset(sources), queue_m=queue,
                     speed_ratio=ratio, evidence={"methods": ["probe_drop"]})  # fmt: skip


def minute(k: int) -> datetime:
    return T0 + timedelta(minutes=k)


def test_suspected_confirmed_follows_head_cleared() -> None:
    tr = IncidentTracker(BEARING)
    acts = tr.update(minute(0), [cand(1, 500.0)])
    assert [a.action for a in acts] == ["create"]
    iid = acts[0].track.incident_id
    assert acts[0].track.status == "suspected"
    assert tr.update(minute(1), [cand(1, 520.0)]) == []  # same place, nothing to tell
    acts = tr.update(minute(2), [cand(1, 900.0, queue=800.0)])  # head moved 380 m, longer queue
    assert [a.action for a in acts] == ["update", "confirm"]
    assert all(a.track.incident_id == iid for a in acts)
    assert acts[0].track.x == 900.0 and acts[0].track.severity == severity_of(800.0, 0.3, "")
    assert acts[1].track.status == "confirmed"
    assert tr.update(minute(3), []) == [] and tr.update(minute(4), []) == []
    acts = tr.update(minute(5), [])
    assert [(a.action, a.track.status, a.note) for a in acts] == [
        ("clear", "cleared", "speeds recovered")
    ]
    assert tr.tracks == {}
    # the first snapshot was not changed by later steps
    assert tr.update(minute(6), [cand(1, 500.0)])[0].track.incident_id != iid


def test_two_sources_confirm_at_once_and_directions_stay_apart() -> None:
    tr = IncidentTracker(BEARING)
    acts = tr.update(minute(0), [cand(1, 500.0, sources=("probe", "detector")),
                                 cand(3, 500.0)])  # fmt: skip
    assert [(a.action, a.track.segment) for a in acts] == [
        ("create", 1),
        ("confirm", 1),
        ("create", 3),
    ]
    assert len(tr.tracks) == 2
    assert acts[1].note == "detectors and probes agree"


def test_unconfirmed_alarm_is_cleared_as_such_and_far_alarms_are_new_incidents() -> None:
    tr = IncidentTracker(BEARING, TrackerParams(clear_minutes=2))
    tr.update(minute(0), [cand(1, 0.0)])
    acts = tr.update(minute(1), [cand(2, 2500.0)])  # 2.5 km away: another incident
    assert [a.action for a in acts] == ["create"]
    acts = tr.update(minute(2), [cand(2, 2500.0)])
    assert [(a.action, a.note) for a in acts] == [("clear", "alarm ended unconfirmed")]


def test_operator_dismissal_suppresses_the_event() -> None:
    tr = IncidentTracker(BEARING, TrackerParams(suppress_minutes=5))
    iid = tr.update(minute(0), [cand(1, 500.0)])[0].track.incident_id
    tr.operator_closed(iid, minute(1))
    for k in range(1, 8):  # the alarm persists: no new incident, no action on the closed one
        assert tr.update(minute(k), [cand(1, 500.0 + 10 * k)]) == []
    for k in range(8, 14):  # quiet for more than the suppression time: forgotten
        assert tr.update(minute(k), []) == []
    assert tr.tracks == {}
    assert [a.action for a in tr.update(minute(14), [cand(1, 500.0)])] == ["create"]


def test_operator_confirmation_is_respected() -> None:
    tr = IncidentTracker(BEARING)
    iid = tr.update(minute(0), [cand(1, 500.0)])[0].track.incident_id
    tr.operator_confirmed(iid)
    assert tr.update(minute(1), [cand(1, 500.0)]) == []
    assert tr.update(minute(2), [cand(1, 500.0)]) == []  # no second confirm
    assert tr.tracks[iid].status == "confirmed"


def test_severity_grows_with_queue_and_drop() -> None:
    assert severity_of(0.0, 0.6, "unexplained_queue") == 1
    assert severity_of(800.0, 0.4, "unexplained_queue") == 3
    assert severity_of(800.0, 0.1, "unexplained_queue") == 4
    assert severity_of(9000.0, 0.1, "unexplained_queue") == 5
    assert severity_of(0.0, None, "stopped_vehicles") == 2
