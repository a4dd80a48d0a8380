"""Presence of vehicles still on a segment: the tracker's position, the abnormal-vehicle rule,
and the probe worker's records at minute boundaries (independent of how polls cut the stream)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from analytics.mapmatch.hmm import MatchParams
from analytics.presence import PresenceRules, abnormal
from analytics.traversals import TraversalTracker
from analytics.workers.probe_worker import ProbeProcessor
from ingest.validation import FeedValidator
from roadnet import load_network
from simulators.scenario import Scenario
from simulators.simulation import Simulation
from simulators.sinks import FileSink

LENGTH = np.array([100.0, 200.0, 300.0, 400.0])


def _feed(tracker: TraversalTracker, fixes) -> None:
    for t, seg, off, path in fixes:
        tracker.add_job(0, t, seg, off, path, LENGTH, is_bus=False)


def test_position_interpolates_the_entry_and_measures_the_standstill() -> None:
    tr = TraversalTracker()
    # 10 m/s from 50 m on segment 0 into segment 1 (entered at t = 5 s), then it stops at
    # 40 m on segment 1 and jitters forward by a few metres (GPS noise, cursor only advances)
    _feed(tr, [(0.0, 0, 50.0, [0]), (10.0, 1, 50.0, [0, 1]), (20.0, 1, 40.0, [1]),
               (30.0, 1, 52.0, [1]), (40.0, 1, 55.0, [1]), (100.0, 1, 58.0, [1])])  # fmt: skip
    seg, entry, seen, entry_off, last, off, still, dwell, crawl = tr.position(
        15.0, still_mps=0.7, crawl_mps=1.0
    )
    assert (seg, seen, entry_off, last) == (1, True, 0.0, 100.0)
    # intervals slower than 0.7 m/s since the entry at 5 s: 5–10 s (the part on segment 1 of
    # 50 → 150 m is fast: moving), 10–20 s (0 m), 40–100 s (3 m); 20–30 and 30–40 s moved
    # 2 and 3 m: standing too
    assert dwell == pytest.approx(10.0 + 10.0 + 10.0 + 60.0)
    # average pace below 1 m/s since the fix at 150 m (t = 10 s): 8 m in 90 s, none of it
    # in a moving interval
    assert crawl == 0.0
    assert entry == pytest.approx(5.0)
    assert off == pytest.approx(58.0)
    assert still == pytest.approx(100.0 - 10.0)  # within 15 m of 58 m since the fix at 50 m
    assert tr.position(still_m=5.0)[6] == pytest.approx(100.0 - 40.0)  # since 155 m


def test_position_of_a_chain_that_began_on_the_segment_is_its_first_fix() -> None:
    tr = TraversalTracker()
    assert tr.position(15.0) is None
    _feed(tr, [(0.0, 2, 120.0, [2]), (10.0, 2, 150.0, [2])])
    seg, entry, seen, entry_off, last, off, still, dwell, crawl = tr.position(15.0, 0.7, 2.0)
    assert (seg, entry, seen, entry_off, last, off) == (2, 0.0, False, 120.0, 10.0, 150.0)
    assert still == dwell == crawl == 0.0  # 3 m/s: faster than a crawl


def test_crawling_time_counts_the_moving_part_of_a_slow_stretch() -> None:
    tr = TraversalTracker()
    # 15 m/s, then 1.5 m/s for 40 s (moving, below a 2.8 m/s crawl), then 20 s standing
    _feed(tr, [(0.0, 3, 0.0, [3]), (10.0, 3, 150.0, [3]), (20.0, 3, 165.0, [3]),
               (30.0, 3, 180.0, [3]), (40.0, 3, 195.0, [3]), (50.0, 3, 210.0, [3]),
               (70.0, 3, 210.0, [3])])  # fmt: skip
    *_, still, dwell, crawl = tr.position(15.0, 0.7, 2.8)
    assert (still, dwell) == (30.0, 20.0)  # within 15 m of 210 m since 195 m (t = 40 s)
    # from t = 10 s on: 60 m in 60 s; from 0 s: 210 m in 70 s (too fast)
    assert crawl == pytest.approx(40.0)


def test_one_slow_interval_is_no_crawl_whatever_the_sampling() -> None:
    # a truck sampled every 30 s: 12 m/s, then one interval at 1 m/s (30 m in 30 s, moving,
    # below a 2.8 m/s crawl): braking for a turn looks like that; one interval is no crawl
    tr = TraversalTracker()
    _feed(tr, [(0.0, 3, 0.0, [3]), (30.0, 3, 360.0, [3]), (60.0, 3, 390.0, [3])])
    assert tr.position(15.0, 0.7, 2.8)[8] == 0.0
    assert tr.position(15.0, 0.7, 2.8, crawl_intervals=1)[8] == pytest.approx(30.0)
    # a second slow interval makes it a sustained crawl of 60 s moving time
    tr = TraversalTracker()
    _feed(tr, [(0.0, 3, 0.0, [3]), (30.0, 3, 300.0, [3]), (60.0, 3, 330.0, [3]),
               (90.0, 3, 360.0, [3])])  # fmt: skip
    assert tr.position(15.0, 0.7, 2.8)[8] == pytest.approx(60.0)
    # a standing interval does not count as a second one: 30 s standing, then 30 s slow
    tr = TraversalTracker()
    _feed(tr, [(0.0, 3, 0.0, [3]), (30.0, 3, 300.0, [3]), (60.0, 3, 305.0, [3]),
               (90.0, 3, 335.0, [3])])  # fmt: skip
    *_, dwell, crawl = tr.position(15.0, 0.7, 2.8)
    assert (dwell, crawl) == (30.0, 0.0)


def test_a_long_stop_ends_the_crawl_stretch() -> None:
    # a taxi drives in at 10 m/s, stands 90 s (a pick-up), then moves off at 3.5 m/s: over
    # the stretch with the stop its average pace is a crawl, but the stop is its own
    tr = TraversalTracker()
    _feed(tr, [(0.0, 3, 0.0, [3]), (10.0, 3, 100.0, [3]), (55.0, 3, 100.0, [3]),
               (100.0, 3, 100.0, [3]), (110.0, 3, 135.0, [3]), (120.0, 3, 170.0, [3]),
               (130.0, 3, 205.0, [3])])  # fmt: skip
    *_, dwell, crawl = tr.position(15.0, 0.7, 2.8, long_stop_s=60.0)
    assert (dwell, crawl) == (90.0, 0.0)
    assert tr.position(15.0, 0.7, 2.8)[8] == pytest.approx(40.0)  # without the cut: from 0 s
    # stop-and-go in a queue (stops shorter than the long stop) is still a crawl
    tr = TraversalTracker()
    _feed(tr, [(0.0, 3, 85.0, [3]), (10.0, 3, 100.0, [3]), (20.0, 3, 115.0, [3]),
               (30.0, 3, 130.0, [3]), (60.0, 3, 130.0, [3]), (70.0, 3, 145.0, [3]),
               (80.0, 3, 160.0, [3])])  # fmt: skip
    *_, dwell, crawl = tr.position(15.0, 0.7, 2.8, long_stop_s=60.0)
    assert (dwell, crawl) == (30.0, pytest.approx(50.0))  # five moving intervals of 15 m


def test_ahead_adds_fixes_to_a_copy_only() -> None:
    tr = TraversalTracker()
    _feed(tr, [(0.0, 0, 50.0, [0]), (10.0, 1, 50.0, [0, 1])])
    more = [(0, 20.0, 1, 60.0, [1]), (0, 30.0, 2, 10.0, [1, 2]), (0, 60.0, 2, 12.0, [2])]
    seen = tr.ahead(more, LENGTH)
    assert tr.position(15.0)[:6] == (1, 5.0, True, 0.0, 10.0, 50.0)  # unchanged
    ref = TraversalTracker()
    _feed(ref, [(0.0, 0, 50.0, [0]), (10.0, 1, 50.0, [0, 1]), *[m[1:] for m in more]])
    assert seen.position(15.0, 0.7, 1.0) == ref.position(15.0, 0.7, 1.0)
    seg, entry, seen_entry, _, last, off, still, *_ = seen.position(15.0)
    assert (seg, seen_entry, last, off, still) == (2, True, 60.0, 12.0, 30.0)
    assert entry == pytest.approx(20.0 + 10.0 * 140.0 / 150.0)  # 160 → 310 m, segment at 300


def test_rule_flags_crawling_and_standing_vehicles_only() -> None:
    rules = PresenceRules()  # k 1.5, margin 30 s, standing 60 s, age ≤ 180 s
    ff = np.full(5, 36.0)  # 10 m/s
    on = np.array([40.0, 60.0, 90.0, 90.0, 90.0])
    progress = np.array([400.0, 60.0, 500.0, 500.0, 100.0])
    still = np.array([0.0, 0.0, 70.0, 70.0, 0.0])
    age = np.array([20.0, 20.0, 20.0, 200.0, 20.0])
    got = abnormal(on, progress, still, ff, age, rules)
    # normal pace (40 s for 400 m); crawling (60 m in 60 s: 60 ≥ 1.5·6 + 30); standing 70 s;
    # the same but its last fix is too old; 100 m in 90 s (90 ≥ 1.5·10 + 30)
    assert got.tolist() == [False, True, True, False, True]
    # crawling for 30 s flags a vehicle the overdue test does not flag yet
    crawl = abnormal(on[:1], progress[:1], still[:1], ff[:1], age[:1], rules, np.array([30.0]))
    assert crawl.tolist() == [True]
    # on the segment longer than k × the whole segment's free-flow time + margin: always
    assert abnormal(np.array([1.5 * 50 + 31.0]), np.array([500.0]), np.zeros(1),
                    np.array([36.0]), np.zeros(1)).tolist() == [True]  # fmt: skip


@pytest.fixture(scope="module")
def network():
    return load_network()


@pytest.fixture(scope="module")
def feed(network, tmp_path_factory) -> list:
    """Six minutes of 80 vehicles with a lane blockage (queued probes) and parked cars."""
    out = tmp_path_factory.mktemp("presence")
    seg = str(network.segments["segment_id"].iloc[int(np.argmax(network.segments["lanes"]))])
    sc = Scenario(start="2026-11-25T17:00:00+07:00", duration_s=360, vehicles=80, seed=3,
                  incidents=[{"id": "i", "segment_id": seg, "position": 0.8, "start_s": 0,
                              "duration_s": 360, "kind": "full_closure"}])  # fmt: skip
    Simulation(sc, network).run(FileSink(Path(out)), None, progress=None)
    v = FeedValidator("gps", max_future_s=1e12, max_age_s=1e12)
    return [v.validate(ln) for ln in (Path(out) / "gps.jsonl").read_bytes().splitlines()]


def _presence(network, feed, poll: int) -> list[tuple]:
    proc = ProbeProcessor(network, MatchParams(sigma_m=10.0))
    out = []
    for i in range(0, len(feed), poll):
        proc.process(("gps", 0), feed[i : i + poll])
        out += proc.presence
        proc.clear()
    return out


@pytest.mark.slow
def test_worker_records_presence_at_minute_boundaries_whatever_the_polls(network, feed) -> None:
    whole = _presence(network, feed, 100_000)
    assert len(whole) > 10
    assert {r[0].second for r in whole} == {0}  # stamped with the minute boundary
    assert len({r[0] for r in whole}) >= 5
    rules = PresenceRules()
    for at, _seg, _veh, _vt, entry, _seen, last, off, progress, still, dwell, crawl, on in whole:
        assert on == pytest.approx((last - entry).total_seconds())
        assert 0.0 <= progress <= off + 1e-6 and last <= at
        assert (at - last).total_seconds() <= rules.max_age_s
        assert still >= rules.still_min_s or crawl >= rules.crawl_min_s or on >= rules.margin_s
        assert 0.0 <= dwell <= on + 1e-6
    assert len({(r[0], r[2]) for r in whole}) == len(whole)  # one record per vehicle and minute
    # positions as of the newest fixes (the matcher's current best hypothesis), not 4 fixes
    # (40 s and more) behind: most records are at most one sampling interval old
    ages = np.array([(r[0] - r[6]).total_seconds() for r in whole])
    assert np.median(ages) <= 10.0 and (ages >= 0.0).all()
    assert _presence(network, feed, 7) == whole
    assert _presence(network, feed, 500) == whole


def test_store_columns_are_the_record_fields() -> None:
    from analytics.presence import PRESENCE_COLUMNS
    from store.traversal_writer import PRESENCE_COLUMNS as STORED

    assert STORED == PRESENCE_COLUMNS
