"""Overdue probes: vehicles still on a segment, delayed while moving, queued behind each other.

Traversal-based methods see a queue only once its vehicles have left the segment. The probe
worker also reports, every minute, the vehicles abnormally slow on their *current* segment
(:mod:`analytics.presence`: time on the segment, distance covered, standing and crawling
time). Per vehicle this method computes its **lost time** on the segment so far against the
segment's reference pace (time-of-day profile speed, else free flow):

    lost = on_segment_s − progress_m / reference − (for buses: bus_allowance_s per stop)

A vehicle is **queued** when

* its lost time is at least ``min_lost_s`` and at least ``z · cv · progress_m / reference``
  (cv: how much single vehicles' travel times spread on this segment, learned per segment
  where known, else ``cv``), *and* at least ``min_moving_lost_s`` of it was lost while
  moving — beyond its standing time on the segment (crawling, stop-and-go), and
  ``stood_extra_s`` more when it stood a minute or more in all on the segment (the stops'
  own edges: a partly standing fix interval at either end, braking and pulling away); or
* it has been moving at a crawl (average pace below ``crawl_kmh``) for ``min_crawl_s``, and
  longer than it stood on the segment (a parked vehicle's GPS jitter looks like a crawl
  now and then), on a segment whose reference is at least ``crawl_ref_factor`` times the
  crawl pace (where the profile says this hour is congested, crawling is normal); buses,
  which slow down for every stop, only by the first test.

A vehicle that drove at a normal pace and stopped (a taxi picking up, a car parking, a bus
at its stop) lost its time standing and is not queued however long it stands: on its own a
stop says nothing about the road. Several such vehicles together do: ``held_vehicles``
vehicles (not buses) near each other along the road, standing right now, one of them for
``held_s`` or more and the others for ``held_follow_s`` or more (they joined the queue
later), are a queue that does not empty with the signal cycle — a closed road holds its
vehicles standing, without the crawling the tests above look for — unless a vehicle left
the head's segment at its usual pace within ``recent_exit`` (traffic gets through: the
standing ones are parked, or wait at a signal that lets others go). Vehicles that just left a
segment (recent traversals) are queued by the same lost-time test over the whole segment
(standing time given by the traversal). Where a vehicle blocks the lane, the vehicles behind
it slow down, so an alarm needs at least ``min_vehicles`` distinct queued vehicles still on
the road within ``cluster_m`` of each other along the road (same segment, or the queue
spilling onto the upstream one), or ``exited_extra`` more counting the ones that just left.
The alarm is placed just downstream of the queue's most downstream vehicle still on the road
(the head, where the blockage is); the queue length is the distance from there back to the
last queued vehicle.
Distances metres, times seconds, speeds km/h.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analytics.incidents.corridor import Corridor
from analytics.incidents.inputs import PresenceSnapshot
from analytics.presence import PresenceRules


@dataclass(frozen=True)
class OverdueParams:
    """Defaults: 30 s lost (more than a signal red or a bus stop costs an ordinary vehicle
    beyond the profile, which already holds the usual delays of the hour), and at least
    z = 2 standard deviations of a single vehicle's travel time (cv 0.25 as in
    :mod:`.probe_speed_drop`, or the segment's learned cv); 20 s of it lost while moving
    (two fixes of crawling at 10-s sampling); a bus may lose one stop's dwell (40 s: a
    longer stop, with braking and pulling out) for every ``bus_stop_spacing_m`` 450 m of the
    segment it covered, and at least one (a stretch of d metres passes at most ⌈d / spacing⌉
    stops; urban bus stops are commonly 300–600 m apart, closer in centres and wider on
    trunk roads, so 450 m is a general assumption about urban stop spacing, not a fitted
    value; on a 3-km trunk segment a bus stops several times); two
    distinct vehicles within 300 m (a queue holds ~140 vehicles per lane-km: at 5 %
    penetration two probes in the first 300 m are likely; further apart they are not one
    queue), or one more when some of them have already left (a single delayed traversal
    is common: a turn against traffic, a wrong match); crawling for 30 s (three fixes at
    10-s sampling below 10 km/h), only where the reference is at least 3 × the crawl pace
    (30 km/h: near capacity, stop-and-go waves slow single vehicles to a third of the mean
    speed as a matter of course). Without a learned cv, the prior grows with the usual
    congestion of the hour, ``cv + cv_congested · (1 − reference / free flow)``: travel-time
    variability of urban links rises from ~0.2–0.3 in free flow to 0.5 and more in heavy
    congestion, where trips alternate between moving and queuing. A vehicle that stood
    ``PresenceRules.still_min_s`` (a minute: longer than a signal or a bus stop) in all on
    the segment must have lost 20 s more while moving (``stood_extra_s``): the edges of a
    stop cost up to that by themselves at 10-s sampling (a partly standing interval at
    either end, ~5–7 s of braking and pulling away), and a vehicle held in a queue keeps
    crawling between its stops, where a taxi that picked someone up drives off at the usual
    pace."""

    min_lost_s: float = 30.0
    cv: float = 0.25
    z: float = 2.0
    min_moving_lost_s: float = 20.0
    crawl_kmh: float = PresenceRules.crawl_kmh  # the pace the presence records use
    min_crawl_s: float = 30.0
    crawl_ref_factor: float = 3.0
    cv_congested: float = 0.5
    bus_allowance_s: float = 40.0
    bus_stop_spacing_m: float = 450.0
    stood_extra_s: float = 20.0
    min_vehicles: int = 2
    exited_extra: int = 1
    cluster_m: float = 300.0
    head_ahead_m: float = 20.0
    # standing queues: three vehicles within cluster_m standing, one for 3 minutes (two
    # signal cycles of 90 s), the others for 2 (red phases rarely last 2 minutes; on SUMO
    # closures 2 minutes found them 1 min sooner than 3, 90 s only 0.3 min more, with more
    # false alarms on the own simulator: docs/INCIDENTS.md)
    held_s: float = 180.0
    held_vehicles: int = 3
    held_follow_s: float = 120.0


@dataclass
class OverdueQueue:
    """One alarm: head segment and offset (m), queue length (m), distinct queued vehicles,
    their median pace relative to the reference, and the segments the queue covers."""

    segment: int
    offset_m: float
    queue_m: float
    vehicles: int
    pace_ratio: float
    standing: int
    queue_segments: list[int]


class ProbeOverdue:
    """Stateless per-minute test on a presence snapshot (see the module docstring)."""

    name = "probe_overdue"

    def __init__(self, corridor: Corridor, params: OverdueParams | None = None) -> None:
        self.p = params or OverdueParams()
        self.corridor = corridor

    def bus_allowance(self, distance_m: np.ndarray) -> np.ndarray:
        """Time a bus may lose at stops over ``distance_m`` metres of a segment (s): one
        ``bus_allowance_s`` per ``bus_stop_spacing_m`` begun, at least one."""
        p = self.p
        stops = np.ceil(np.asarray(distance_m, float) / p.bus_stop_spacing_m)
        return p.bus_allowance_s * np.maximum(stops, 1.0)

    def queued(
        self, x: PresenceSnapshot, reference_kmh: np.ndarray, cv: np.ndarray | None = None,
        free_flow_kmh: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
        """Per vehicle still on a segment: queued or not, lost time (s), pace ratio to the
        reference (``reference_kmh`` per segment, NaN-free); and per recent traversal:
        queued or not."""
        p = self.p
        ref = np.asarray(reference_kmh, float)
        if cv is None:
            cv = np.full(len(ref), np.nan)
        prior = np.full(len(ref), p.cv)
        if free_flow_kmh is not None and p.cv_congested:
            ff = np.maximum(np.asarray(free_flow_kmh, float), 1.0)
            prior += p.cv_congested * np.clip(1.0 - ref / ff, 0.0, 1.0)
        cv = np.where(np.isfinite(cv), cv, prior)
        seg = x.segment
        v_ref = np.maximum(ref[seg], 1.0) / 3.6
        tt = x.progress_m / v_ref
        lost = x.on_segment_s - tt - np.where(x.is_bus, self.bus_allowance(x.progress_m), 0.0)
        c = cv[seg]
        stood = np.where(x.dwell_s >= PresenceRules.still_min_s, p.stood_extra_s, 0.0)
        ok = (lost >= np.maximum(p.min_lost_s, p.z * c * tt)) & (
            lost - x.dwell_s >= p.min_moving_lost_s + stood
        )
        ok |= (
            (x.crawl_s >= np.maximum(p.min_crawl_s, x.dwell_s))
            & ~x.is_bus
            & (ref[seg] >= p.crawl_ref_factor * p.crawl_kmh)
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            pace = np.where(x.on_segment_s > 0, tt / x.on_segment_s, 1.0)
        es = x.ex_segment
        ett = self.corridor.length_m[es] / (np.maximum(ref[es], 1.0) / 3.6)
        e_allow = np.where(x.ex_is_bus, self.bus_allowance(self.corridor.length_m[es]), 0.0)
        elost = x.ex_duration_s - ett - e_allow
        ec = cv[es]
        eok = (elost >= np.maximum(p.min_lost_s, p.z * ec * ett)) & (
            elost - x.ex_dwell_s >= p.min_moving_lost_s
        )
        return ok, pace, eok

    def detect(
        self, x: PresenceSnapshot, reference_kmh: np.ndarray, cv: np.ndarray | None = None,
        free_flow_kmh: np.ndarray | None = None,
    ) -> list[OverdueQueue]:  # fmt: skip
        """Queue heads of this minute's snapshot."""
        if not len(x):
            return []
        ok, pace, eok = self.queued(x, reference_kmh, cv, free_flow_kmh)
        c, p = self.corridor, self.p
        follow = (x.still_s >= min(p.held_follow_s, p.held_s)) & ~x.is_bus
        held = (x.still_s >= p.held_s) & ~x.is_bus
        idx = np.flatnonzero(ok | follow)
        if not len(idx):
            return []
        by_seg: dict[int, list[int]] = {}
        for i in idx.tolist():
            by_seg.setdefault(int(x.segment[i]), []).append(i)
        exited: dict[int, set[int]] = {}
        for s, v in zip(x.ex_segment[eok].tolist(), x.ex_vehicle[eok].tolist(), strict=True):
            exited.setdefault(s, set()).add(v)
        # segments traffic left at its usual pace just now: standing vehicles there are parked
        # or wait for a signal that lets the others through, not held behind a blockage
        flowing = set(x.ex_segment[~eok & ~x.ex_is_bus].tolist())
        alarms: dict[int, OverdueQueue] = {}
        members: dict[int, set[int]] = {}
        for h, own in by_seg.items():
            head = max(own, key=lambda i: x.offset_m[i])
            head_off = float(x.offset_m[head])
            # vehicles within cluster_m behind the head: on h, then upstream along the road
            near = [i for i in own if head_off - x.offset_m[i] <= p.cluster_m]
            left = set(exited.get(h, set()))
            back, segs, tail = head_off, [h], head_off - min(x.offset_m[i] for i in near)
            for s in c.walk_up(h, p.cluster_m):
                length = float(c.length_m[s])
                for i in by_seg.get(s, []):
                    behind = back + length - float(x.offset_m[i])
                    if behind <= p.cluster_m:
                        near.append(i)
                        tail = max(tail, behind)
                        if s not in segs:
                            segs.append(s)
                if exited.get(s):
                    left |= exited[s]
                    if s not in segs:
                        segs.append(s)
                back += length
                if back > p.cluster_m:
                    break
            present = {int(x.vehicle[i]) for i in near if ok[i]}
            standing_queue = ({int(x.vehicle[i]) for i in near if follow[i]}
                              if h not in flowing and any(held[i] for i in near)
                              else set())  # fmt: skip
            vehicles = present | left
            if (len(present) < p.min_vehicles and len(vehicles) < p.min_vehicles + p.exited_extra
                    and len(standing_queue) < p.held_vehicles):  # fmt: skip
                continue
            vehicles |= standing_queue
            members[h] = vehicles
            off = min(head_off + p.head_ahead_m, float(c.length_m[h]))
            standing = int(sum(x.still_s[i] >= 60.0 for i in near))
            alarms[h] = OverdueQueue(h, off, float(tail + (off - head_off)), len(vehicles),
                                     float(np.median(pace[near])), standing, segs)  # fmt: skip
        # a queue reaching onto a segment whose downstream continuation holds its head is
        # reported once, at the head
        out = []
        for h, a in alarms.items():
            d = int(c.down[h])
            if d in alarms and members[h] <= members[d]:
                continue
            out.append(a)
        return out
