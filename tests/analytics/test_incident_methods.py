"""Incident detection methods on tiny hand-built corridors (metres, km/h, occupancy 0–1)."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from analytics.incidents.california8 import California8
from analytics.incidents.candidate import Candidate
from analytics.incidents.corridor import Corridor, pair_stations
from analytics.incidents.detector import IncidentDetector, MinuteInputs
from analytics.incidents.fusion import Fusion
from analytics.incidents.inputs import probe_window, recent_probe_window
from analytics.incidents.mcmaster import McMaster
from analytics.incidents.probe_speed_drop import ProbeSpeedDrop
from analytics.incidents.probe_stopped_cluster import ProbeStoppedCluster
from analytics.incidents.snd import Snd

L = 400.0  # every segment of the fixture is 400 m


def main_street(n: int = 5) -> tuple[Corridor, np.ndarray]:
    """Nodes 0..n on a west→east line 400 m apart; segments 0..n-1 eastbound (i → i+1),
    n..2n-1 westbound (i+1 → i), and a side street north from node 2 (last segment)."""
    fr = [*range(n), *range(1, n + 1), 2]
    to = [*range(1, n + 1), *range(n), n + 1]
    names = ["Main"] * (2 * n) + ["Side"]
    bearing = np.array([90.0] * n + [270.0] * n + [0.0])
    coords = [(i * L, 0.0) for i in range(n + 1)] + [(2 * L, L)]
    geoms = np.array(
        [shapely.LineString([coords[a], coords[b]]) for a, b in zip(fr, to, strict=True)]
    )
    c = Corridor.build(np.array(fr), np.array(to), np.array(names), np.full(len(fr), L),
                       bearing, bearing)  # fmt: skip
    return c, geoms


def test_corridor_follows_the_road_and_never_turns_back() -> None:
    c, _ = main_street()
    assert c.down[:5].tolist() == [1, 2, 3, 4, -1]
    assert c.up[:5].tolist() == [-1, 0, 1, 2, 3]
    assert c.down[5:10].tolist() == [-1, 5, 6, 7, 8]  # westbound: 6 (2→1) flows into 5 (1→0)
    assert c.down[10] == -1  # the side street ends; a 90° turn is not a continuation
    assert c.walk_up(3, 1000.0) == [2, 1, 0]
    assert c.walk_up(3, 500.0) == [2, 1]


def test_stations_pair_with_the_next_one_downstream() -> None:
    c, _ = main_street()
    pairs = pair_stations(c, np.array([0, 3, 4, 9]), np.array([100.0, 200.0, 50.0, 200.0]))
    assert pairs.up.tolist() == [0, 1]
    assert pairs.down.tolist() == [1, 2]
    assert pairs.gap_m.tolist() == pytest.approx([300 + 400 + 400 + 200, 250.0])
    # halfway along the 1,300 m from station 0: 650 m → segment 1 at 350 m
    assert (pairs.mid_segment[0], pairs.mid_offset_m[0]) == (1, pytest.approx(350.0))
    assert pairs.next_of.tolist() == [0, 1, -1, -1]


def test_california8_needs_persistence_and_respects_compression_waves() -> None:
    alg = California8(2)
    seen = []
    for up, dn in [((0.10, 0.10), (0.10, 0.10)), ((0.40, 0.40), (0.08, 0.08)),
                   ((0.45, 0.45), (0.08, 0.30)), ((0.45, 0.45), (0.08, 0.08)),
                   ((0.10, 0.10), (0.09, 0.09))]:  # fmt: skip
        seen.append(alg.detect(np.array(up), np.array(dn)).tolist())
    # pair 0: tentative at t1, incident at t2, continues at t3, ends at t4
    assert [s[0] for s in seen] == [False, False, True, True, False]
    # pair 1: a compression wave arrives downstream at t2 (8 % → 30 %): no incident after
    assert [s[1] for s in seen] == [False] * 5
    assert alg.cw_left[1] > 0


def test_california8_ignores_congestion_reaching_downstream() -> None:
    alg = California8(1)
    for _ in range(4):  # both stations congested: no bottleneck between them
        assert not alg.detect(np.array([0.5]), np.array([0.35]))[0]


def test_mcmaster_persistence_and_release() -> None:
    mc = McMaster(1)
    st = mc.congested(np.array([0.4, 0.1, np.nan]), np.array([20.0, 45.0, 30.0]),
                      np.array([50.0, 50.0, 50.0]))  # fmt: skip
    assert st.tolist() == [1, 0, -1]
    assert mc.congested(np.array([0.1]), np.array([20.0]), np.array([50.0]))[0] == 1  # slow
    hits = [mc.detect(np.array([1]), np.array([0]))[0] for _ in range(3)]
    assert hits == [False, False, True]
    assert not mc.detect(np.array([1]), np.array([-1]))[0]  # unknown: no alarm, but …
    assert mc.count[0] == 3  # … the count holds through a short gap
    assert mc.detect(np.array([1]), np.array([0]))[0]
    assert not mc.detect(np.array([1]), np.array([1]))[0]  # congestion downstream resets


def test_snd_against_profile() -> None:
    snd = Snd(3)
    mean, std = np.array([0.1, 0.1, np.nan]), np.array([0.02, 0.02, 0.02])
    occ = np.array([0.25, 0.15, 0.5])
    assert snd.zscore(occ, mean, std)[:2] == pytest.approx([5.0, 5 / 3])  # std floored to 3 %
    assert snd.detect(occ, mean, std).tolist() == [False, False, False]
    assert snd.detect(occ, mean, std).tolist() == [True, False, False]  # 2 consecutive


def test_probe_drop_finds_the_queue_head_and_its_queue() -> None:
    c, _ = main_street()
    drop = ProbeSpeedDrop(c)
    n = len(c.down)
    ff = np.full(n, 50.0)
    ref = np.full(n, 40.0)
    speed = np.full(n, np.nan)
    veh = np.zeros(n)
    speed[[0, 1, 2, 3]] = [38.0, 8.0, 6.0, 36.0]  # queue on 1–2, free at 3 (downstream)
    veh[[0, 1, 2, 3]] = [3, 2, 2, 3]
    assert drop.detect(speed, veh, ref, ff) == []  # one minute is not enough
    heads = drop.detect(speed, veh, ref, ff)
    assert [h.segment for h in heads] == [2]
    assert heads[0].queue_segments == [2, 1]
    assert heads[0].queue_m == pytest.approx(0.75 * L + L)
    # no probe on segment 2 next minute: no alarm without data, but the count holds; one
    # slow-ish vehicle is not enough
    speed2, veh2 = speed.copy(), veh.copy()
    speed2[2], veh2[2] = np.nan, 0
    speed2[1], veh2[1] = 15.0, 1
    assert drop.detect(speed2, veh2, ref, ff) == []
    assert drop.count[1] == 0 and drop.count[2] == 2
    assert [h.segment for h in drop.detect(speed, veh, ref, ff)] == [2]  # data again: at once
    # profile missing: free flow is the reference; recurrent slowness (profile 10) is normal
    ref_low = np.full(n, 10.0)
    fresh = ProbeSpeedDrop(c)
    for _ in range(3):
        assert fresh.detect(speed, veh, ref_low, ff) == []


def test_stopped_cluster_needs_stopped_and_slowly_passing_probes() -> None:
    alg = ProbeStoppedCluster()
    hit = alg.detect(np.array([2, 2, 1, 3, 2]), np.array([1, 1, 3, 0, 1]),
                     np.array([10.0, 35.0, 10.0, np.nan, 10.0]), np.full(5, 40.0),
                     np.array([0.0, 0.0, 0.0, 0.0, 0.5]))  # fmt: skip
    assert hit.tolist() == [True, False, False, False, False]


def _cand(c: Corridor, geoms, method: str, seg: int, off: float = 200.0) -> Candidate:
    p = geoms[seg].interpolate(off)
    src = "probe" if method.startswith("probe") else "detector"
    return Candidate(method, seg, off, p.x, p.y, 0.5, frozenset({src}))


def test_fusion_corroborates_contradicts_and_merges() -> None:
    c, geoms = main_street()
    n = len(c.down)
    f = Fusion(c)
    ratio, veh = np.full(n, np.nan), np.zeros(n)
    # a detector alarm on 2 with probes seeing 2 (or just upstream) not slow: contradicted
    ratio[[1, 2]], veh[[1, 2]] = 0.95, 3
    assert f.combine({"california8": [_cand(c, geoms, "california8", 2)]}, ratio, veh) == []
    # no probe data: the detector alarm stands alone
    none = np.full(n, np.nan)
    out = f.combine({"mcmaster": [_cand(c, geoms, "mcmaster", 2)]}, none, np.zeros(n))
    assert len(out) == 1 and out[0].sources == {"detector"}
    # SND alone is not enough; with slow probes it is
    assert f.combine({"snd": [_cand(c, geoms, "snd", 2)]}, none, np.zeros(n)) == []
    slow = np.full(n, np.nan)
    slow[3], veh[3] = 0.3, 1  # one slow vehicle does not corroborate, two do
    assert f.combine({"snd": [_cand(c, geoms, "snd", 2)]}, slow, veh) == []
    veh[3] = 2
    out = f.combine({"snd": [_cand(c, geoms, "snd", 2)]}, slow, veh)
    assert len(out) == 1 and out[0].sources == {"detector", "probe"}
    # a probe head and a detector alarm 200 m away merge, at the probe's location
    out = f.combine(
        {
            "probe_drop": [_cand(c, geoms, "probe_drop", 2, 300.0)],
            "california8": [_cand(c, geoms, "california8", 2, 100.0)],
        },
        slow,
        veh,
    )
    assert len(out) == 1
    assert out[0].offset_m == 300.0 and out[0].sources == {"detector", "probe"}
    assert out[0].evidence["methods"] == ["california8", "probe_drop"]
    # the same alarm on the opposite direction (westbound 7 lies on top of 2) stays apart
    out = f.combine(
        {
            "probe_drop": [
                _cand(c, geoms, "probe_drop", 2, 300.0),
                _cand(c, geoms, "probe_drop", 7, 100.0),
            ]
        },
        slow,
        veh,
    )
    assert len(out) == 2


def test_detector_pipeline_end_to_end_on_a_tiny_corridor() -> None:
    c, geoms = main_street()
    n = len(c.down)
    det = IncidentDetector(geoms, c, np.array([0, 3]), np.array([200.0, 200.0]), np.full(n, 50.0))
    assert len(det.pairs) == 1
    x = MinuteInputs.empty(2, n)
    x.station_occ[:] = [0.45, 0.08]
    x.probe_speed[[1, 2, 3]] = [6.0, 5.0, 45.0]
    x.probe_vehicles[[1, 2, 3]] = [2, 2, 2]
    x.reference_speed[:] = 42.0
    first = det.detect(x)
    assert first["california8"] == [] and first["probe_drop"] == []
    second = det.detect(x)
    assert [cd.segment for cd in second["california8"]] == [1]  # halfway: 200+400+200 → 1
    assert [cd.segment for cd in second["probe_drop"]] == [2]
    fused = second["fused"]
    assert len(fused) == 1 and fused[0].segment == 2 and fused[0].sources == {"detector", "probe"}
    assert fused[0].delay_s > 0 and fused[0].queue_m == pytest.approx(700.0)


def test_unjudged_segments_raise_no_probe_alarm_and_corroborate_nothing() -> None:
    """The same minute as above with the queue's segments not judged (no reference for the
    hour on a system without history): no probe alarm there, and the station pair's alarm,
    which cannot be shown unusual for the hour, is not corroborated, so nothing is fused."""
    c, geoms = main_street()
    n = len(c.down)
    det = IncidentDetector(geoms, c, np.array([0, 3]), np.array([200.0, 200.0]), np.full(n, 50.0))
    x = MinuteInputs.empty(2, n)
    x.station_occ[:] = [0.45, 0.08]
    x.probe_speed[[1, 2, 3]] = [6.0, 5.0, 45.0]
    x.probe_vehicles[[1, 2, 3]] = [2, 2, 2]
    x.reference_speed[:] = 42.0
    x.probe_judged = np.ones(n, bool)
    x.probe_judged[[1, 2]] = False
    det.detect(x)
    second = det.detect(x)
    assert [cd.segment for cd in second["california8"]] == [1]
    assert second["probe_drop"] == [] and second["fused"] == []
    x.probe_judged[:] = True  # judged again: the queue is raised as before
    again = det.detect(x)
    assert [cd.segment for cd in again["probe_drop"]] == [2]
    # without history every fused alarm, the station pair's included, is judged unsure
    assert again["fused"] and all(f.evidence["reference"] == "recent_baseline"
                                  for f in again["fused"])  # fmt: skip


def test_queues_as_slow_as_on_previous_days_carry_their_history() -> None:
    """The fused queue of the minute above, with each previous day's slowest speed at this
    time: where earlier days were as slow it says it recurs, where they never were it says
    it does not; without history it says nothing."""
    c, geoms = main_street()
    n = len(c.down)

    def fused(days: np.ndarray | None) -> dict:
        det = IncidentDetector(geoms, c, np.array([0, 3]), np.array([200.0, 200.0]),
                               np.full(n, 50.0))  # fmt: skip
        x = MinuteInputs.empty(2, n)
        x.station_occ[:] = [0.45, 0.08]
        x.probe_speed[[1, 2, 3]] = [6.0, 5.0, 45.0]
        x.probe_vehicles[[1, 2, 3]] = [2, 2, 2]
        x.reference_speed[:] = 42.0
        x.day_speeds = days
        det.detect(x)
        (f,) = det.detect(x)["fused"]
        assert f.segment == 2
        return f.evidence

    usual = np.full((3, n), 40.0)
    usual[:2, 2] = [7.0, 6.0]  # two of three days as slow at the queue head
    ev = fused(usual)
    h = ev["history"]
    assert h["recurs"] and h["slow_days"] == 2 and h["of"] == 3 and h["now_kmh"] == 5.0
    assert ev["reference"] == "profile" and ev["reference_days"] == 3  # days of history there
    h = fused(np.full((3, n), 40.0))["history"]
    assert not h["recurs"] and h["slow_days"] == 0 and h["slowest_kmh"] == 40.0
    assert "history" not in fused(None) and "reference_days" not in fused(None)


def test_stopping_vehicles_are_not_a_queue_but_creeping_ones_are() -> None:
    c, _ = main_street()
    n = len(c.down)
    ff, ref = np.full(n, 50.0), np.full(n, 40.0)
    speed, veh = np.full(n, np.nan), np.zeros(n)
    speed[2], veh[2] = 12.0, 2
    moving = np.full(n, np.nan)
    moving[2] = 38.0  # they stood still, otherwise drove at normal speed: pick-ups
    drop = ProbeSpeedDrop(c)
    for _ in range(3):
        assert drop.detect(speed, veh, ref, ff, moving_kmh=moving) == []
    moving[2] = 15.0  # slow even while moving: a queue
    drop.detect(speed, veh, ref, ff, moving_kmh=moving)
    assert [h.segment for h in drop.detect(speed, veh, ref, ff, moving_kmh=moving)] == [2]


def test_many_agreeing_vehicles_alarm_at_once() -> None:
    c, _ = main_street()
    n = len(c.down)
    ff, ref = np.full(n, 50.0), np.full(n, 40.0)
    speed, veh = np.full(n, np.nan), np.zeros(n)
    speed[2], veh[2] = 10.0, 4
    assert [h.segment for h in ProbeSpeedDrop(c).detect(speed, veh, ref, ff)] == [2]
    veh[2] = 3
    assert ProbeSpeedDrop(c).detect(speed, veh, ref, ff) == []


def test_probe_window_median_over_vehicles_and_moving_speed() -> None:
    # segment 0: vehicle 0 twice (10 and 30 km/h → harmonic 15), vehicles 1 and 2 at 40 and 20
    seg = np.array([0, 0, 0, 0, 1])
    veh = np.array([0, 0, 1, 2, 3])
    speed = np.array([10.0, 30.0, 40.0, 20.0, 5.0])
    dwell = np.array([0.0, 0.0, 0.0, 60.0, 40.0])
    dur = np.array([100.0, 100.0, 100.0, 120.0, 80.0])
    pw = probe_window(seg, veh, speed, dwell, 3, duration_s=dur)
    assert pw.speed[0] == pytest.approx(20.0)  # median of 15, 40, 20
    assert pw.vehicles.tolist() == [3, 1, 0]
    assert pw.stopped.tolist() == [1, 1, 0] and pw.passing.tolist() == [2, 0, 0]
    assert pw.moving_speed[0] == pytest.approx(40.0)  # vehicle 2 moved at 20·120/60 = 40
    assert pw.moving_speed[1] == pytest.approx(10.0)
    assert np.isnan(pw.speed[2])


def test_recent_window_prefers_the_last_minutes_of_busy_segments() -> None:
    # segment 0: five old fast vehicles and three fresh slow ones; segment 1: two old ones
    seg = np.array([0] * 8 + [1, 1])
    veh = np.arange(10)
    speed = np.array([40.0] * 5 + [8.0] * 3 + [30.0, 30.0])
    avail = np.array([100.0] * 5 + [250.0] * 3 + [20.0, 30.0])
    pw = recent_probe_window(seg, veh, speed, np.zeros(10), avail, 300.0, 2)
    assert pw.speed[0] == 8.0 and pw.vehicles[0] == 3  # the last minute holds 3 vehicles
    assert pw.speed[1] == 30.0 and pw.vehicles[1] == 2  # quiet: the whole 5 minutes


def test_blind_detector_alarm_must_be_unusual_for_the_hour() -> None:
    c, geoms = main_street()
    n = len(c.down)
    f = Fusion(c)
    none = np.full(n, np.nan)
    usual = _cand(c, geoms, "california8", 2)
    usual.evidence = {"z_up": 1.2}  # a recurrent bottleneck: occupancy as usual at this hour
    assert f.combine({"california8": [usual]}, none, np.zeros(n)) == []
    usual.evidence = {"z_up": 3.5}
    assert len(f.combine({"california8": [usual]}, none, np.zeros(n))) == 1


def test_pair_alarm_is_judged_where_its_queue_must_be() -> None:
    # stations on segments 1 and 3, the pair's alarm reported halfway (segment 2): its
    # queue lies upstream of that point, back over the upstream station (congested) on 1
    # and maybe onto 0
    c, geoms = main_street()
    n = len(c.down)
    f = Fusion(c, station_segment={"st-a": 1, "st-b": 3})
    alarm = _cand(c, geoms, "mcmaster", 2)
    alarm.evidence = {"stations": ["st-a", "st-b"], "z_up": 1.0}  # usual for the hour
    assert f._queue_place(alarm) == [2, 1, 0]
    ratio, veh = np.full(n, np.nan), np.zeros(n)
    # probes slow only downstream of the reported point, while they pass it and the
    # upstream station at normal speed: not this alarm's queue
    ratio[[1, 2, 3]], veh[[1, 2, 3]] = [1.1, 1.1, 0.6], 5
    assert f.combine({"mcmaster": [alarm]}, ratio, veh) == []
    # slow at the reported point, at the upstream station or just upstream: corroborated
    for seg in (2, 1, 0):
        ratio[[0, 1, 2, 3]] = 1.1
        ratio[seg], veh[seg] = 0.5, 3
        out = f.combine({"mcmaster": [alarm]}, ratio, veh)
        assert len(out) == 1 and out[0].sources == {"detector", "probe"}
    # nobody passed there: blind, so the usual-pattern test decides
    ratio[[0, 1, 2]], veh[[0, 1, 2]] = np.nan, 0
    assert f.combine({"mcmaster": [alarm]}, ratio, veh) == []
    alarm.evidence = {"stations": ["st-a", "st-b"], "z_up": 4.0}
    assert len(f.combine({"mcmaster": [alarm]}, ratio, veh)) == 1
    # without station positions: the alarm's segment and the one upstream
    assert Fusion(c)._queue_place(alarm) == [2, 1]
