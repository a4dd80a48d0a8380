"""The incident lifecycle: one tracked incident per event, from the minute-by-minute alarms.

:class:`IncidentTracker` turns each minute's candidates (usually the fused ones) into
lifecycle actions:

- a candidate near no tracked incident opens one, **suspected** (``create``);
- a candidate that belongs to a tracked incident feeds it: the incident follows the queue
  head (``update`` when it moved more than ``move_update_m`` or its severity changed). With
  the road :class:`Corridor` known, a candidate belongs to an incident only on the same road
  and direction, at most ``max_head_shift_m`` downstream of where the incident was first
  raised and at most as far upstream as its queue can have grown (``queue_reach_m`` plus
  ``queue_growth_m_per_min`` per minute since, capped at ``max_queue_reach_m``): an
  incident never wanders across the map, and a distinct event nearby opens its own.
  Without a corridor, any candidate within ``match_radius_m`` in the same direction of
  travel belongs;
- an incident is **confirmed** (``confirm``) once alarms were seen in ``confirm_minutes``
  minutes, or at once when two independent sources (detectors and probes) agree;
- an incident without alarms for ``clear_minutes`` minutes — speeds recovered — is
  **cleared** (``clear``), whether or not it was confirmed;
- an incident that an operator dismissed or resolved keeps absorbing the alarms near it
  until they stop for ``suppress_minutes`` (no re-raising of a known event);
- every incident carries a **confidence** (0–1, :mod:`analytics.incidents.confidence`: how
  many probes show it and how unusual their speed is, detectors joining, alarm minutes),
  the highest it reached; it is **announced** to operators once that reaches
  ``announce_confidence`` (``create`` when at once, else ``announce`` later); until then it
  is kept for review. A slowdown that recurs there at this time on previous days
  (:mod:`analytics.incidents.recurrence`) counts for ``recurrent_share`` of its confidence
  until it gets slower than on any of them, and its ``create`` says why it is kept for
  review.

Severity 1–5 grows with the queue length and the speed drop; the estimated delay is the
extra travel time per vehicle through the queue (seconds). Times are aware datetimes at
minute resolution; coordinates are in the network's metric CRS.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from analytics.incidents.candidate import Candidate
from analytics.incidents.confidence import incident_confidence, probe_vehicles
from analytics.incidents.corridor import Corridor
from analytics.incidents.fusion import same_direction
from analytics.incidents.recurrence import recurrence_now, recurrence_reason


@dataclass(frozen=True)
class TrackerParams:
    """Defaults: 1 km association radius (a queue head moves a few hundred metres a minute at
    most); 3 alarm minutes to confirm — short enough for a 3-minute detection target, long
    enough that a single noisy minute does not reach an operator as confirmed; 3 quiet
    minutes to clear; 30 minutes of suppression after an operator closed an incident.
    Along the road: the first alarm may lie up to ~one segment from the bottleneck (400 m
    either way); a queue grows upstream at most ~250 m a minute (a blocked urban road's
    arrival flow of ~2,000 vehicles an hour at ~7 m of jam spacing per vehicle per lane) and
    rarely beyond 3 km before it is managed."""

    match_radius_m: float = 1000.0
    max_bearing_diff_deg: float = 60.0
    confirm_minutes: int = 3
    clear_minutes: int = 3
    move_update_m: float = 150.0
    suppress_minutes: int = 30
    max_head_shift_m: float = 400.0
    queue_reach_m: float = 400.0
    queue_growth_m_per_min: float = 250.0
    max_queue_reach_m: float = 3000.0
    # incidents below it are kept for review, not announced: 0.5 halved the false alarms
    # of an incident-free SUMO hour and cost ~0.5 min of time to detect (docs/INCIDENTS.md)
    announce_confidence: float = 0.5
    # the share of its confidence a slowdown that recurs at that place and time keeps
    # (analytics.incidents.recurrence): 0.4 keeps it below 0.5 however long it lasts
    recurrent_share: float = 0.4


@dataclass
class Track:
    """A tracked incident (see :class:`IncidentTracker`)."""

    incident_id: str
    status: str
    segment: int
    offset_m: float
    x: float
    y: float
    started: datetime
    last_alarm: datetime
    kind: str = "unexplained_queue"
    alarm_minutes: int = 1
    quiet_minutes: int = 0
    sources: set[str] = field(default_factory=set)
    methods: set[str] = field(default_factory=set)
    score: float = 0.0
    queue_m: float = 0.0
    max_queue_m: float = 0.0
    speed_ratio: float | None = None
    delay_s: float | None = None
    severity: int = 1
    evidence: dict[str, Any] = field(default_factory=dict)
    operator_closed: bool = False
    origin_segment: int = -1  # where it was first raised (−1: unknown, use ``segment``)
    origin_offset_m: float = 0.0
    confidence: float = 0.0  # the highest it reached (analytics.incidents.confidence)
    announced: bool = True  # False: kept for review (confidence below the setting)
    recurrent: bool = False  # the slowdown recurs there at this time (.recurrence)


@dataclass
class Action:
    """One lifecycle step to store: ``create``, ``confirm``, ``update``, ``announce`` or
    ``clear``."""

    action: str
    minute: datetime
    track: Track
    note: str | None = None


def _snap(t: Track) -> Track:
    """A copy of a track that later changes do not touch."""
    return replace(t, sources=set(t.sources), methods=set(t.methods), evidence=dict(t.evidence))


def severity_of(queue_m: float, speed_ratio: float | None, kind: str) -> int:
    """1–5 from the queue length (m) and how far speed fell below its reference."""
    sev = 1 + int(np.searchsorted([250.0, 750.0, 1500.0, 3000.0], queue_m, side="right"))
    if speed_ratio is not None and np.isfinite(speed_ratio) and speed_ratio < 0.2:
        sev += 1
    if kind == "stopped_vehicles":
        sev = max(sev, 2)
    return int(min(sev, 5))


def default_incident_id(minute: datetime, segment: int, prefix: str = "inc") -> str:
    """Deterministic id of an incident first raised at ``minute`` on ``segment``."""
    h = hashlib.sha1(f"{minute.isoformat()}|{segment}".encode()).hexdigest()[:8]
    return f"{prefix}-{minute:%Y%m%d%H%M}-{h}"


class IncidentTracker:
    """Keeps the tracked incidents and produces lifecycle actions minute by minute.

    ``bearing`` gives each segment's direction of travel (degrees) so alarms on the two
    directions of a road are never merged; ``corridor`` (recommended) bounds an incident to
    its road (see the module docstring); ``make_id(minute, segment)`` names new incidents.
    """

    def __init__(
        self, bearing: np.ndarray, params: TrackerParams | None = None, *,
        make_id: Callable[[datetime, int], str] | None = None,
        corridor: Corridor | None = None,
    ) -> None:  # fmt: skip
        self.p = params or TrackerParams()
        self.bearing = np.asarray(bearing, float)
        self.make_id = make_id or default_incident_id
        self.corridor = corridor
        self.tracks: dict[str, Track] = {}

    def queue_reach_m(self, t: Track, minute: datetime) -> float:
        """How far upstream of its origin an incident's queue can reach by ``minute`` (m)."""
        p = self.p
        grown = max((minute - t.started).total_seconds() / 60.0, 0.0) * p.queue_growth_m_per_min
        return min(p.queue_reach_m + grown, p.max_queue_reach_m)

    def _distance(self, t: Track, c: Candidate, minute: datetime) -> float:
        """How far a candidate is from an incident (m); ``inf``: it is not this incident's."""
        if not same_direction(self.bearing[t.segment], self.bearing[c.segment],
                              self.p.max_bearing_diff_deg):  # fmt: skip
            return np.inf
        if self.corridor is None:
            d = float(np.hypot(t.x - c.x, t.y - c.y))
            return d if d <= self.p.match_radius_m else np.inf
        seg, off = (t.origin_segment, t.origin_offset_m) if t.origin_segment >= 0 else (
            t.segment, t.offset_m)  # fmt: skip
        reach = self.queue_reach_m(t, minute)
        d = self.corridor.along(seg, off, c.segment, c.offset_m,
                                max(reach, self.p.max_head_shift_m))  # fmt: skip
        if not np.isfinite(d) or d > self.p.max_head_shift_m or d < -reach:
            return np.inf
        return abs(d)

    def operator_closed(self, incident_id: str, minute: datetime) -> None:
        """An operator dismissed or resolved the incident: suppress, never act on it again."""
        t = self.tracks.get(incident_id)
        if t is not None:
            t.operator_closed = True
            t.last_alarm = max(t.last_alarm, minute)

    def operator_confirmed(self, incident_id: str) -> None:
        """An operator confirmed the incident."""
        t = self.tracks.get(incident_id)
        if t is not None and t.status == "suspected":
            t.status = "confirmed"

    def update(self, minute: datetime, candidates: list[Candidate]) -> list[Action]:
        """Feed one minute's candidates; returns the actions, in order."""
        p = self.p
        actions: list[Action] = []
        pairs = sorted(
            ((self._distance(t, c, minute), k, tid) for k, c in enumerate(candidates)
             for tid, t in self.tracks.items()),
            key=lambda x: x[0],
        )  # fmt: skip
        used_c: set[int] = set()
        used_t: set[str] = set()
        for d, k, tid in pairs:
            if not np.isfinite(d) or k in used_c or tid in used_t:
                continue
            used_c.add(k)
            used_t.add(tid)
            actions.extend(self._feed(self.tracks[tid], candidates[k], minute))
        for k, c in enumerate(candidates):
            if k in used_c:
                continue
            t = self._open(c, minute)
            self._judge(t)
            t.announced = bool(t.confidence >= p.announce_confidence)
            self.tracks[t.incident_id] = t
            held = None if t.announced else recurrence_reason(t.evidence)
            actions.append(Action("create", minute, _snap(t),
                                  None if held is None else f"kept for review: {held}"))
            if len(t.sources) >= 2:
                t.status = "confirmed"
                actions.append(Action("confirm", minute, _snap(t), "detectors and probes agree"))
        for tid, t in list(self.tracks.items()):
            if tid in used_t or minute <= t.started:
                continue
            if t.operator_closed:
                if minute - t.last_alarm > timedelta(minutes=p.suppress_minutes):
                    del self.tracks[tid]
                continue
            t.quiet_minutes += 1
            if t.quiet_minutes >= p.clear_minutes:
                was = t.status
                t.status = "cleared"
                note = "speeds recovered" if was == "confirmed" else "alarm ended unconfirmed"
                actions.append(Action("clear", minute, _snap(t), note))
                del self.tracks[tid]
        return actions

    def _open(self, c: Candidate, minute: datetime) -> Track:
        return Track(
            incident_id=self.make_id(minute, c.segment), status="suspected",
            segment=c.segment, offset_m=c.offset_m, x=c.x, y=c.y, started=minute,
            last_alarm=minute, kind=c.kind, sources=set(c.sources),
            methods=set(c.evidence.get("methods", [c.method])), score=c.score,
            queue_m=c.queue_m, max_queue_m=c.queue_m, speed_ratio=c.speed_ratio,
            delay_s=c.delay_s, severity=severity_of(c.queue_m, c.speed_ratio, c.kind),
            evidence=dict(c.evidence), origin_segment=c.segment, origin_offset_m=c.offset_m,
        )  # fmt: skip

    def _judge(self, t: Track) -> None:
        """Raise the track's confidence to what its evidence now says (a slowdown that
        recurs there at this time counts for ``recurrent_share`` of it: from a minute whose
        evidence says it recurs until one shows it slower than on every previous day)."""
        now = incident_confidence(vehicles=probe_vehicles(t.evidence),
                                  speed_ratio=t.speed_ratio, sources=t.sources,
                                  alarm_minutes=t.alarm_minutes,
                                  reference=str(t.evidence.get("reference", "profile")),
                                  reference_days=t.evidence.get("reference_days"))
        rec = recurrence_now(t.evidence)
        t.recurrent = t.recurrent if rec is None else rec
        if t.recurrent:
            now *= self.p.recurrent_share
        t.confidence = max(t.confidence, round(now, 3))

    def _feed(self, t: Track, c: Candidate, minute: datetime) -> list[Action]:
        t.last_alarm = minute
        if t.operator_closed:
            return []
        out = []
        t.alarm_minutes += 1
        t.quiet_minutes = 0
        moved = float(np.hypot(t.x - c.x, t.y - c.y))
        new_sources = set(c.sources) - t.sources
        t.sources |= set(c.sources)
        t.methods |= set(c.evidence.get("methods", [c.method]))
        if t.kind == "unexplained_queue" and c.kind != t.kind:
            t.kind = c.kind
        t.queue_m, t.speed_ratio, t.delay_s, t.score = c.queue_m, c.speed_ratio, c.delay_s, c.score
        t.max_queue_m = max(t.max_queue_m, c.queue_m)
        t.evidence = dict(c.evidence)
        self._judge(t)
        if not t.announced and t.confidence >= self.p.announce_confidence:
            t.announced = True
            out.append(Action("announce", minute, _snap(t),
                              f"confidence {t.confidence:.2f} reached"
                              f" {self.p.announce_confidence:.2f}"))  # fmt: skip
        severity = max(t.severity, severity_of(t.max_queue_m, c.speed_ratio, t.kind))
        if moved >= self.p.move_update_m or severity != t.severity or new_sources:
            t.segment, t.offset_m, t.x, t.y = c.segment, c.offset_m, c.x, c.y
            t.severity = severity
            out.append(Action("update", minute, _snap(t), "queue head moved"
                              if moved >= self.p.move_update_m else None))  # fmt: skip
        if t.status == "suspected" and (
            t.alarm_minutes >= self.p.confirm_minutes or len(t.sources) >= 2
        ):
            t.status = "confirmed"
            note = "persistent" if len(t.sources) < 2 else "detectors and probes agree"
            out.append(Action("confirm", minute, _snap(t), note))
        return out
