"""Overdue-probe queues on a hand-built corridor: a queue of delayed vehicles raises an alarm at
its head; a stopped taxi, a bus at its stop, vehicles slowly passing or recurrent congestion
do not (metres, seconds, km/h)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
import shapely

from analytics.incidents.corridor import Corridor
from analytics.incidents.detector import IncidentDetector, MinuteInputs
from analytics.incidents.inputs import PresenceSnapshot, presence_snapshot
from analytics.incidents.probe_overdue import OverdueParams, ProbeOverdue

L = 400.0
N = 5  # eastbound segments 0..4 of a straight street, 400 m each; 5..9 westbound


def street() -> tuple[Corridor, np.ndarray]:
    fr = [*range(N), *range(1, N + 1)]
    to = [*range(1, N + 1), *range(N)]
    bearing = np.array([90.0] * N + [270.0] * N)
    coords = [(i * L, 0.0) for i in range(N + 1)]
    geoms = np.array([shapely.LineString([coords[a], coords[b]])
                      for a, b in zip(fr, to, strict=True)])  # fmt: skip
    c = Corridor.build(np.array(fr), np.array(to), np.array(["Main"] * 2 * N),
                       np.full(2 * N, L), bearing, bearing)  # fmt: skip
    return c, geoms


def snap(*vehicles: tuple, crawl: list[float] | None = None, exited=()) -> PresenceSnapshot:
    """Vehicles as (segment, offset, progress, dwell, on_segment[, bus]) (their current
    standstill: their dwell); crawling time ``crawl`` (default none); recent traversals as
    (segment, vehicle, duration, dwell)."""
    v = [(*t, False) if len(t) == 5 else t for t in vehicles]
    return PresenceSnapshot(
        np.array([t[0] for t in v], np.int64), np.arange(len(v)), np.array([t[5] for t in v]),
        *(np.array([t[k] for t in v], float) for k in (1, 2, 3, 3)),
        np.array(crawl or [0.0] * len(v), float), np.array([t[4] for t in v], float),
        np.array([e[0] for e in exited], np.int64), np.array([e[1] for e in exited], np.int64),
        np.zeros(len(exited), bool), np.array([e[2] for e in exited], float),
        np.array([e[3] for e in exited], float),
    )  # fmt: skip


REF = np.full(2 * N, 36.0)  # 10 m/s


def test_a_queue_of_delayed_vehicles_alarms_at_its_head() -> None:
    c, _ = street()
    # three vehicles crawling on segment 2 (entered, then ~1 m/s): 60–90 s for 100–200 m
    x = snap(
        (2, 200.0, 200.0, 0.0, 90.0), (2, 150.0, 150.0, 5.0, 80.0), (2, 110.0, 110.0, 0.0, 70.0)
    )
    (q,) = ProbeOverdue(c).detect(x, REF)
    assert q.segment == 2 and q.vehicles == 3
    assert q.offset_m == pytest.approx(220.0)  # just beyond the most downstream vehicle
    assert q.queue_m == pytest.approx(220.0 - 110.0)
    assert q.pace_ratio == pytest.approx(150.0 / 10.0 / 80.0)
    assert q.queue_segments == [2]


def test_one_crawling_vehicle_is_a_queue_only_with_two_that_just_crawled_out() -> None:
    c, _ = street()
    one = (2, 200.0, 200.0, 0.0, 90.0)
    assert ProbeOverdue(c).detect(snap(one), REF) == []
    # vehicles 7 and 8 left segment 2 after 100 s (40 s at the reference pace), 10 s of it
    # standing; one of them alone could have turned against traffic
    slow_out = [(2, 7, 100.0, 10.0), (2, 8, 95.0, 0.0)]
    assert ProbeOverdue(c).detect(snap(one, exited=slow_out[:1]), REF) == []
    (q,) = ProbeOverdue(c).detect(snap(one, exited=slow_out), REF)
    assert (q.segment, q.vehicles) == (2, 3)
    # ... but not after a normal pass, nor after one long stop (a pick-up), nor elsewhere
    for ex in [(2, 7, 45.0, 0.0), (2, 7, 100.0, 58.0), (3, 7, 100.0, 10.0)]:
        assert ProbeOverdue(c).detect(snap(one, exited=[ex, slow_out[1]]), REF) == []


def test_crawling_vehicles_queue_before_they_lost_much_time() -> None:
    c, _ = street()
    # entered ~40 s ago at the normal pace, then moving below 10 km/h for 30–32 s: lost 10 s
    x = snap((2, 280.0, 280.0, 0.0, 38.0), (2, 250.0, 250.0, 5.0, 35.0), crawl=[32.0, 30.0])
    (q,) = ProbeOverdue(c).detect(x, REF)
    assert (q.segment, q.vehicles) == (2, 2)
    # standing (not crawling) for those 40 s: a stop, not a queue
    stand = snap((2, 280.0, 280.0, 38.0, 38.0), (2, 250.0, 250.0, 30.0, 35.0), crawl=[0.0, 5.0])
    assert ProbeOverdue(c).detect(stand, REF) == []
    # buses crawl into every stop
    bus = snap((2, 280.0, 280.0, 0.0, 38.0, True), (2, 250.0, 250.0, 5.0, 35.0, True),
               crawl=[32.0, 30.0])  # fmt: skip
    assert ProbeOverdue(c).detect(bus, REF) == []
    # where the profile itself is below 3 × the crawl pace (30 km/h), crawling is the usual
    assert ProbeOverdue(c).detect(x, np.full(2 * N, 15.0)) == []


def test_stopped_taxis_and_a_bus_at_its_stop_are_not_a_queue() -> None:
    c, _ = street()
    # drove 300 m at normal pace (30 s), then stood 2–4 minutes: pick-ups, parking
    taxis = snap((2, 300.0, 300.0, 120.0, 155.0), (2, 310.0, 310.0, 240.0, 275.0))
    assert ProbeOverdue(c).detect(taxis, REF) == []
    # a bus that stopped 35 s after a normal drive, and a car passing normally
    bus = snap((2, 200.0, 200.0, 35.0, 60.0, True), (2, 250.0, 250.0, 0.0, 30.0))
    assert ProbeOverdue(c).detect(bus, REF) == []


def test_moving_off_after_a_long_stop_needs_more_than_the_stops_edges() -> None:
    """A vehicle that stood a minute or more loses up to ~20 s to the stop's edges (a partly
    standing fix interval at either end, braking and pulling away): after such a stop its
    moving loss must exceed that too; after shorter stops the plain 20-s bar holds."""
    c, _ = street()
    # 200 m (20 s at the reference) with a 90-s stop: 25 s lost while moving, then 45 s;
    # the same 25 s after a 50-s stop (a signal, a bus stop)
    x = snap((2, 200.0, 200.0, 90.0, 135.0), (2, 200.0, 200.0, 90.0, 155.0),
             (2, 200.0, 200.0, 50.0, 95.0))  # fmt: skip
    ok, _, _ = ProbeOverdue(c).queued(x, REF)
    assert ok.tolist() == [False, True, True]
    assert OverdueParams().stood_extra_s == 20.0
    ok, _, _ = ProbeOverdue(c, OverdueParams(stood_extra_s=0.0)).queued(x, REF)
    assert ok.tolist() == [True, True, True]


def test_buses_may_lose_one_stop_per_450_m_covered() -> None:
    # one 1,800-m trunk segment each way
    b = np.array([90.0, 270.0])
    c = Corridor.build(np.array([0, 1]), np.array([1, 0]), np.array(["Trunk"] * 2),
                       np.full(2, 1800.0), b, b)  # fmt: skip
    ov, ref = ProbeOverdue(c), np.full(2, 36.0)
    assert ov.bus_allowance(np.array([0.0, 200.0, 450.0, 451.0, 1800.0])).tolist() == [
        40.0, 40.0, 40.0, 80.0, 160.0
    ]  # fmt: skip
    # buses that covered 1,350 m (135 s at the reference) in 285 s: 3 stops of 30 s standing
    # and 20 s braking and pulling out each; one that covered 500 m in 300 s, 60 s standing:
    # 3 × 40 s may be lost at stops on the first's stretch, only 2 × 40 s on the second's
    x = snap((0, 1350.0, 1350.0, 90.0, 285.0, True), (0, 500.0, 500.0, 60.0, 300.0, True))
    ok, _, _ = ov.queued(x, ref)
    assert ok.tolist() == [False, True]
    # the same first bus counted one stop per segment: 110 s lost, 20 s of it moving: queued
    # (without the extra moving loss asked after standing a minute in all, to isolate this)
    one_stop = ProbeOverdue(c, OverdueParams(bus_stop_spacing_m=np.inf, stood_extra_s=0.0))
    assert one_stop.queued(x, ref)[0].tolist() == [True, True]
    # a bus that left the whole segment after 180 s driving, 4 × 30 s at stops and 4 × 15 s
    # braking: normal; a car with the same trip is delayed
    ex = snap((1, 10.0, 10.0, 0.0, 1.0), exited=[(0, 7, 360.0, 120.0), (0, 8, 360.0, 120.0)])
    ex.ex_is_bus = np.array([True, False])
    assert ov.queued(ex, ref)[2].tolist() == [False, True]


def test_vehicles_slowly_passing_or_usual_congestion_do_not_alarm() -> None:
    c, _ = street()
    # 30 % slower than the reference: lost 12–17 s, below the 30 s bar
    slow = snap((2, 300.0, 300.0, 0.0, 43.0), (2, 250.0, 250.0, 0.0, 36.0))
    assert ProbeOverdue(c).detect(slow, REF) == []
    # crawling at 1.7 m/s where the profile says this hour crawls at 6 km/h anyway
    crawl = snap((2, 200.0, 200.0, 0.0, 120.0), (2, 150.0, 150.0, 0.0, 90.0))
    assert len(ProbeOverdue(c).detect(crawl, REF)) == 1
    assert ProbeOverdue(c).detect(crawl, np.full(2 * N, 6.0)) == []
    # a segment whose single vehicles spread widely (learned cv 1.0) needs more lost time
    long_ = snap((2, 390.0, 390.0, 0.0, 80.0), (2, 380.0, 380.0, 0.0, 78.0))
    assert len(ProbeOverdue(c).detect(long_, REF)) == 1
    assert ProbeOverdue(c).detect(long_, REF, cv=np.full(2 * N, 1.0)) == []
    # without a learned cv, a segment that is usually congested at this hour (36 km/h on a
    # 90 km/h road: cv 0.25 + 0.5 · 0.6 = 0.55) needs more lost time too
    assert len(ProbeOverdue(c).detect(long_, REF, free_flow_kmh=np.full(2 * N, 40.0))) == 1
    assert ProbeOverdue(c).detect(long_, REF, free_flow_kmh=np.full(2 * N, 90.0)) == []


def test_a_queue_spilling_upstream_is_one_alarm_at_its_head() -> None:
    c, _ = street()
    # head on segment 2 at 40 m; two vehicles on segment 1 at 350 and 300 m (90 and 140 m
    # behind it): one queue, reported once at segment 2
    x = snap((2, 40.0, 40.0, 0.0, 60.0), (1, 350.0, 100.0, 0.0, 80.0), (1, 300.0, 60.0, 0.0, 70.0))
    (q,) = ProbeOverdue(c).detect(x, REF)
    assert (q.segment, q.vehicles, q.queue_segments) == (2, 3, [2, 1])
    assert q.queue_m == pytest.approx(20.0 + 140.0)  # from the alarm point, 20 m ahead
    # the same vehicles 500 m apart are not one queue
    far = snap((3, 40.0, 40.0, 0.0, 60.0), (1, 300.0, 60.0, 0.0, 70.0))
    assert ProbeOverdue(c).detect(far, REF) == []
    # the other direction is another road
    other = snap((2, 40.0, 40.0, 0.0, 60.0), (7, 350.0, 100.0, 0.0, 80.0))
    assert ProbeOverdue(c).detect(other, REF) == []


def test_detector_and_fusion_raise_overdue_queues() -> None:
    c, geoms = street()
    det = IncidentDetector(geoms, c, np.zeros(0, np.int64), np.zeros(0), np.full(2 * N, 50.0))
    x = MinuteInputs.empty(0, 2 * N)
    x.reference_speed[:] = 36.0
    x.presence = snap((2, 200.0, 200.0, 0.0, 90.0), (2, 150.0, 150.0, 0.0, 80.0))
    found = det.detect(x)
    assert [cd.segment for cd in found["probe_overdue"]] == [2]
    (f,) = found["fused"]
    assert f.segment == 2 and f.sources == {"probe"} and "probe_overdue" in f.evidence["methods"]
    assert (f.x, f.y) == pytest.approx((2 * L + 220.0, 0.0))
    x.presence = None  # no presence known: nothing
    assert det.detect(x)["probe_overdue"] == []


def test_snapshot_from_stored_rows() -> None:
    at = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
    rows = [
        (at, "s2", "v1", "car", at, True, at, 200.0, 180.0, 0.0, 10.0, 40.0, 90.0),
        (at, "s2", "v2", "bus", at, False, at, 150.0, 100.0, 50.0, 60.0, 0.0, 80.0),
        (at, "elsewhere", "v3", "car", at, True, at, 10.0, 10.0, 70.0, 70.0, 0.0, 70.0),
    ]
    # recent traversals (segment, vehicle, type, duration, dwell, known at): v1 earlier on s1
    exited = [
        ("s1", "v1", "car", 80.0, 0.0, 990.0),
        ("s1", "v4", "bus", 60.0, 30.0, 1000.0),
        ("s1", "v5", "car", 50.0, 0.0, 700.0),
        ("s1", "v6", "car", 50.0, 0.0, 1001.0),
    ]
    x = presence_snapshot(rows, {"s1": 1, "s2": 2}, exited, now_s=1000.0, recent_s=180.0)
    assert x.segment.tolist() == [2, 2] and x.vehicle.tolist() == [0, 1]
    assert x.is_bus.tolist() == [False, True]
    assert x.offset_m.tolist() == [200.0, 150.0] and x.progress_m.tolist() == [180.0, 100.0]
    assert x.still_s.tolist() == [0.0, 50.0] and x.dwell_s.tolist() == [10.0, 60.0]
    assert x.crawl_s.tolist() == [40.0, 0.0]
    assert x.on_segment_s.tolist() == [90.0, 80.0]
    # known within the last 3 minutes (not later, not earlier); the same vehicle, the same code
    assert x.ex_segment.tolist() == [1, 1] and x.ex_vehicle.tolist() == [0, 2]
    assert x.ex_is_bus.tolist() == [False, True] and x.ex_dwell_s.tolist() == [0.0, 30.0]
    assert len(presence_snapshot([], {"s1": 1})) == 0


def test_vehicles_held_standing_behind_a_closure_are_a_queue() -> None:
    c, _ = street()
    # a closed road: three vehicles drove in at a normal pace and have stood 3–6 minutes,
    # behind each other (no crawling: nothing moves)
    held = snap((2, 380.0, 380.0, 360.0, 400.0), (2, 330.0, 330.0, 240.0, 275.0),
                (2, 270.0, 270.0, 190.0, 220.0))  # fmt: skip
    (q,) = ProbeOverdue(c).detect(held, REF)
    assert q.segment == 2 and q.vehicles == 3 and q.offset_m == pytest.approx(400.0)
    # two of them are not enough (parked cars, pick-ups), nor three standing two minutes
    # (a long red light, a queue that empties with the cycle)
    assert ProbeOverdue(c).detect(snap(*[(2, 380.0, 380.0, 360.0, 400.0),
                                         (2, 330.0, 330.0, 240.0, 275.0)]), REF) == []
    short = snap(*[(2, o, o, 120.0, 160.0) for o in (380.0, 330.0, 270.0)])
    assert ProbeOverdue(c).detect(short, REF) == []
    # buses at their stops do not count
    buses = snap(*[(2, o, o, 300.0, 340.0, True) for o in (380.0, 330.0, 270.0)])
    assert ProbeOverdue(c).detect(buses, REF) == []
    assert ProbeOverdue(c, OverdueParams(held_vehicles=99)).detect(held, REF) == []
    # the queue grows behind the first held vehicle: those joining it count from two
    # minutes of standing, once one has stood three
    growing = snap((2, 380.0, 380.0, 200.0, 240.0), (2, 330.0, 330.0, 125.0, 160.0),
                   (2, 270.0, 270.0, 130.0, 150.0))  # fmt: skip
    (q,) = ProbeOverdue(c).detect(growing, REF)
    assert q.vehicles == 3
    young = snap((2, 380.0, 380.0, 200.0, 240.0), (2, 330.0, 330.0, 125.0, 160.0),
                 (2, 270.0, 270.0, 100.0, 150.0))  # fmt: skip
    assert ProbeOverdue(c).detect(young, REF) == []  # one joined less than two minutes ago
    assert ProbeOverdue(c, OverdueParams(held_follow_s=180.0)).detect(growing, REF) == []
    # traffic gets through: a vehicle just left the segment at its usual pace (40 s for
    # 400 m): the standing ones are parked, or wait at a signal that lets the others go
    through = snap(*[(2, 380.0, 380.0, 360.0, 400.0), (2, 330.0, 330.0, 240.0, 275.0),
                     (2, 270.0, 270.0, 190.0, 220.0)], exited=[(2, 9, 40.0, 0.0)])  # fmt: skip
    assert ProbeOverdue(c).detect(through, REF) == []
    held_too = snap(*[(2, 380.0, 380.0, 360.0, 400.0), (2, 330.0, 330.0, 240.0, 275.0),
                      (2, 270.0, 270.0, 190.0, 220.0)], exited=[(2, 9, 300.0, 200.0)])  # fmt: skip
    (q,) = ProbeOverdue(c).detect(held_too, REF)  # the one that left was held as well
    assert q.segment == 2
