"""Traversal extraction from matched tracks: interpolated entry/exit times, dwell handling."""

from __future__ import annotations

import numpy as np
import pytest

from analytics.mapmatch.hmm import TrackMatch
from analytics.traversals import (
    FIELDS,
    DwellRules,
    TraversalArrays,
    TraversalTracker,
    concat,
    plausible_max_kmh,
    traversals,
)

LENGTH = np.array([100.0, 200.0, 300.0, 400.0])


def _track(segment, offset, paths, chain=None) -> TrackMatch:
    n = len(segment)
    return TrackMatch(
        segment=np.array(segment), offset_m=np.array(offset, float), x=np.zeros(n),
        y=np.zeros(n), chain=np.zeros(n, np.int64) if chain is None else np.array(chain),
        paths=paths,
    )  # fmt: skip


def test_constant_speed_gives_exact_entry_exit_and_speed() -> None:
    # 10 m/s: fixes at route positions 50, 150, 350, 550 (segments 0 → 1 → 2)
    t = np.array([0.0, 10.0, 30.0, 50.0])
    m = _track([0, 1, 2, 2], [50, 50, 50, 250], {1: [0, 1], 2: [1, 2], 3: [2]})
    tr = traversals(m, t, LENGTH)
    assert tr.segment.tolist() == [1]  # segment 0 and 2 are only partly covered
    assert tr.entry_s[0] == pytest.approx(5.0)
    assert tr.exit_s[0] == pytest.approx(25.0)
    assert tr.speed_kmh[0] == pytest.approx(36.0)


def test_bus_dwell_is_subtracted_and_parked_cars_are_dropped() -> None:
    # stops 120 s at route position 150 (on segment 1), then drives on at 10 m/s
    t = np.array([0.0, 10.0, 70.0, 130.0, 150.0, 170.0])
    m = _track([0, 1, 1, 1, 1, 2], [50, 50, 50, 50, 250, 250],
               {1: [0, 1], 2: [1], 3: [1], 4: [1], 5: [1, 2]})  # fmt: skip
    bus = traversals(m, t, LENGTH, is_bus=True)
    assert bus.segment.tolist() == [1]
    assert bus.dwell_s[0] == pytest.approx(120.0)
    assert bus.speed_kmh[0] == pytest.approx(36.0)  # 200 m in 20 s of driving
    car = traversals(m, t, LENGTH, rules=DwellRules(max_still_s=60.0))
    assert len(car.segment) == 0
    queued = traversals(m, t, LENGTH, rules=DwellRules(max_still_s=300.0))
    assert queued.speed_kmh[0] == pytest.approx(200 / 140 * 3.6)


def test_chains_are_independent() -> None:
    t = np.array([0.0, 10.0, 20.0, 500.0, 510.0, 520.0])
    m = _track([0, 1, 2, 0, 1, 2], [90, 100, 10, 90, 100, 10],
               {1: [0, 1], 2: [1, 2], 4: [0, 1], 5: [1, 2]}, chain=[0, 0, 0, 1, 1, 1])  # fmt: skip
    tr = traversals(m, t, LENGTH)
    assert tr.segment.tolist() == [1, 1]
    assert tr.entry_s[1] > 500


def _stream(m: TrackMatch, t: np.ndarray, rules: DwellRules | None = None) -> TraversalArrays:
    tracker, parts, rules = TraversalTracker(), [], rules or DwellRules()
    for i in range(len(t)):
        path = m.paths.get(i, [int(m.segment[i])])
        parts.append(tracker.add(int(m.chain[i]), float(t[i]), int(m.segment[i]),
                                 float(m.offset_m[i]), path, LENGTH, is_bus=False,
                                 rules=rules))  # fmt: skip
    return concat(parts)


def _same(a: TraversalArrays, b: TraversalArrays) -> None:
    for f in FIELDS:
        np.testing.assert_allclose(getattr(a, f), getattr(b, f), rtol=1e-12, atol=1e-9)


def test_streaming_tracker_equals_offline_on_boundaries_and_standstills() -> None:
    # stands exactly at the end of segment 0 (offset 100) for a while, then drives on
    t = np.arange(9) * 10.0
    paths = {1: [0], 2: [0], 3: [0], 4: [0, 1], 5: [1], 6: [1, 2], 7: [2, 3], 8: [3]}
    m = _track([0, 0, 0, 0, 1, 1, 2, 3, 3], [20, 100, 100, 100, 150, 199, 100, 50, 400], paths)
    offline = traversals(m, t, LENGTH)
    assert offline.segment.tolist() == [1, 2, 3]
    _same(_stream(m, t), offline)
    rules = DwellRules(max_still_s=10.0)
    _same(_stream(m, t, rules), traversals(m, t, LENGTH, rules=rules))


def test_streaming_tracker_equals_offline_on_random_tracks() -> None:
    rng = np.random.default_rng(7)
    lengths = np.tile(LENGTH, 10)
    for _ in range(300):
        n = int(rng.integers(2, 40))
        seg, off, paths, chain = [0], [float(rng.uniform(0, 100))], {}, [0]
        for i in range(1, n):
            hop = int(rng.integers(0, 3)) if rng.random() < 0.5 else 0
            s = min(seg[-1] + hop, len(lengths) - 1)
            o = float(rng.choice([0.0, lengths[s], rng.uniform(0, lengths[s])]))
            if s == seg[-1]:
                o = max(o, off[-1]) if rng.random() < 0.8 else off[-1]
            path = list(range(seg[-1], s + 1))
            if seg[-1] > 0 and rng.random() < 0.1:  # seen back on the segment before
                s, o = seg[-1] - 1, float(rng.uniform(0, lengths[seg[-1] - 1]))
                path = [s]
            elif len(path) > 1 and rng.random() < 0.1:  # leaving another way
                s = min(s + 5, len(lengths) - 1)
                path = [seg[-1], s]
            seg.append(s)
            off.append(o)
            paths[i] = path
            chain.append(chain[-1] + (rng.random() < 0.05))
        t = np.cumsum(rng.uniform(1, 30, n))
        m = TrackMatch(np.array(seg), np.array(off), np.zeros(n), np.zeros(n), np.array(chain),
                       paths)  # fmt: skip
        expected = traversals(m, t, lengths)
        tracker, parts = TraversalTracker(), []
        for i in range(n):
            parts.append(tracker.add(chain[i], float(t[i]), seg[i], off[i], paths.get(i, [seg[i]]),
                                     lengths, is_bus=False, rules=DwellRules()))  # fmt: skip
        _same(concat(parts), expected)


def test_a_fix_seen_back_behind_the_route_holds_its_position() -> None:
    # queued at the end of segment 0: noise puts a fix 5 m into segment 1, the next ones are
    # back on 0 (path_between gives [0]); then it drives on through 1 and 2
    t = np.arange(7) * 10.0
    paths = {1: [0, 1], 2: [0], 3: [0], 4: [0, 1], 5: [1, 2], 6: [2]}
    m = _track([0, 1, 0, 0, 1, 2, 2], [80, 5, 95, 97, 150, 10, 250], paths)
    offline = traversals(m, t, LENGTH)
    assert offline.segment.tolist() == [1]  # not 0 again, nor 1 twice
    assert offline.exit_s[0] == pytest.approx(40 + 50 / 60 * 10)  # positions 250 → 310
    _same(_stream(m, t), offline)


def test_a_vehicle_seen_back_that_leaves_another_way_starts_its_route_afresh() -> None:
    # seen 5 m into segment 1, back on 0, then turning from 0 onto 3: segment 1 was never
    # driven, so it gets no traversal; the route restarts at the turn and goes on from there
    # (3 → 2 → 0: segment 2, entered and left after the restart, is timed)
    t = np.arange(8) * 10.0
    paths = {1: [0, 1], 2: [0], 3: [0, 3], 4: [3], 5: [3, 2], 6: [2], 7: [2, 0]}
    m = _track([0, 1, 0, 3, 3, 2, 2, 0], [80, 5, 95, 10, 390, 50, 250, 50], paths)
    offline = traversals(m, t, LENGTH)
    assert offline.segment.tolist() == [2]
    # positions after the restart: 10, 390, 450, 650, 750; segment 2 spans 400–700
    assert offline.entry_s[0] == pytest.approx(40 + 10 / 60 * 10)
    assert offline.exit_s[0] == pytest.approx(60 + 50 / 100 * 10)
    _same(_stream(m, t), offline)


# segments 0 (a → b), 1 (b → a, the reverse of 0), 2 (a → c), 3 (c → d); 100, 100, 300, 400 m
TWIN_LENGTH = np.array([100.0, 100.0, 300.0, 400.0])
REVERSE = np.array([1, 0, -1, -1])


def test_segments_beside_a_turn_back_are_not_timed() -> None:
    # 2 → 3 is ordinary; then along 0, back along 1 (the twin) and on along 2: the vehicle may
    # have turned anywhere on 0/1, so neither is timed; 2 after the loop still is
    t = np.arange(6) * 10.0
    m = _track([2, 3, 3, 0, 1, 2], [250, 50, 390, 50, 50, 250],
               {1: [2, 3], 2: [3], 3: [3, 0], 4: [0, 1], 5: [1, 2]})  # fmt: skip
    plain = traversals(m, t, TWIN_LENGTH)
    assert plain.segment.tolist() == [3, 0, 1]  # without the twins: timed as if driven fully
    tr = traversals(m, t, TWIN_LENGTH, reverse=REVERSE)
    assert tr.segment.tolist() == [3]
    tracker, parts = TraversalTracker(), []
    for i in range(len(t)):
        parts.append(tracker.add(0, float(t[i]), int(m.segment[i]), float(m.offset_m[i]),
                                 m.paths.get(i, [int(m.segment[i])]), TWIN_LENGTH, is_bus=False,
                                 rules=DwellRules(), reverse=REVERSE))  # fmt: skip
    _same(concat(parts), tr)


def test_turn_back_seen_across_completions_in_the_stream() -> None:
    # 0 completes with one fix, its twin 1 with a later one: 1 knows 0 came before it
    t = np.arange(5) * 10.0
    segs, offs = [2, 0, 0, 1, 2], [250, 10, 95, 90, 10]
    paths = {1: [2, 0], 2: [0], 3: [0, 1], 4: [1, 2]}
    m = _track(segs, offs, paths)
    tracker, parts = TraversalTracker(), []
    for i in range(len(t)):
        parts.append(tracker.add(0, float(t[i]), segs[i], float(offs[i]), paths.get(i, [segs[i]]),
                                 TWIN_LENGTH, is_bus=False, rules=DwellRules(),
                                 reverse=REVERSE))  # fmt: skip
    assert concat(parts).segment.tolist() == []
    assert traversals(m, t, TWIN_LENGTH, reverse=REVERSE).segment.tolist() == []
    assert traversals(m, t, TWIN_LENGTH).segment.tolist() == [0, 1]


def test_plausible_maximum_speed_is_relative_to_free_flow() -> None:
    got = plausible_max_kmh(np.array([30.0, 50.0, 80.0, 120.0]))
    assert got.tolist() == [80.0, 100.0, 160.0, 240.0]


def test_the_tracker_hands_out_the_space_time_cells_a_vehicle_leaves() -> None:
    # drives 0 → 150 (segment 0 into 1) in 15 s, stands 200 s, drives on to 350 (segment 2)
    fixes = [(6000.0, 0, 0.0, [0]), (6015.0, 1, 50.0, [0, 1]), (6115.0, 1, 50.0, [1]),
             (6215.0, 1, 50.0, [1]), (6235.0, 2, 50.0, [1, 2])]  # fmt: skip
    tracker, cells = TraversalTracker(), []
    for t, seg, off, path in fixes:
        tracker.add_job(0, t, seg, off, path, LENGTH, is_bus=False, cells=cells,
                        max_still_s=120.0)  # fmt: skip
    left = len(cells)
    tracker.flush_cell(cells)
    assert len(cells) == left + 1 and cells[-1][0] == 2  # the one it is in
    assert len({(c[0], c[1]) for c in cells}) == len(cells)  # one row per cell
    assert sum(c[2] for c in cells) == pytest.approx(350.0)
    # 15 s + 120 s of the 200-s standstill (then it may be parked) + 20 s
    assert sum(c[3] for c in cells) == pytest.approx(155.0)
    on_1 = {c[1]: c for c in cells if c[0] == 1}
    assert sum(c[2] for c in on_1.values()) == pytest.approx(200.0)
    assert set(on_1) == {6000.0, 6060.0, 6120.0, 6180.0}
    assert on_1[6060.0][2] == 0.0 and on_1[6060.0][3] == pytest.approx(60.0)


def test_cells_go_on_where_the_route_is_used_up() -> None:
    # reaches the very end of its last segment, then stands there
    tracker, cells = TraversalTracker(), []
    for t, off in ((0.0, 20.0), (10.0, 100.0), (40.0, 100.0)):
        tracker.add_job(0, t, 0, off, [0], LENGTH, is_bus=False, cells=cells)
    tracker.flush_cell(cells)
    assert [c[0] for c in cells] == [0]
    assert cells[0][2:] == (pytest.approx(80.0), pytest.approx(40.0))
