"""The fleet matcher (vectorised across vehicles) gives the per-vehicle online matcher's results.

The reference below is the one-fix-at-a-time pipeline: :class:`OnlineMatcher` per vehicle
(``max_followers=1``), a :class:`TraversalTracker` per vehicle, and idle vehicles closed
whenever the partition's newest fix time enters a new minute. The worker's
:class:`ProbeProcessor` must store exactly the same traversals, whatever the poll size.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from analytics.mapmatch.hmm import MatchParams
from analytics.mapmatch.online import OnlineMatcher, VehicleState
from analytics.traversals import TraversalTracker
from analytics.workers.probe_worker import ProbeProcessor
from ingest.validation import FeedValidator
from roadnet import load_network
from simulators.scenario import Scenario
from simulators.simulation import Simulation
from simulators.sinks import FileSink
from store.traversal_writer import TraversalRow


@pytest.fixture(scope="module")
def network():
    return load_network()


@pytest.fixture(scope="module")
def feed(network, tmp_path_factory) -> list:
    """A noisy, impaired feed: duplicates, reordering, outliers, outages, 1–30 s sampling."""
    out = tmp_path_factory.mktemp("fleet")
    sc = Scenario(start="2026-11-25T07:40:00+07:00", duration_s=600, vehicles=120, seed=11,
                  gps={"duplicate_p": 0.03, "out_of_order_p": 0.03, "late_p": 0.01,
                       "outlier_p": 0.02, "outage_p": 0.002},
                  fleet={"motorbike": {"interval_s": 1}, "car": {"interval_s": 5},
                         "bus": {"interval_s": 10}, "truck": {"interval_s": 30}})  # fmt: skip
    Simulation(sc, network).run(FileSink(Path(out)), None, progress=None)
    v = FeedValidator("gps", max_future_s=1e12, max_age_s=1e12)
    return [v.validate(ln) for ln in (Path(out) / "gps.jsonl").read_bytes().splitlines()]


def _reference_rows(network, fixes, params: MatchParams, idle_s: float = 300.0) -> list[tuple]:
    """Traversal rows of the one-fix-at-a-time pipeline (one partition)."""
    proc = ProbeProcessor(network, params)  # for the matcher, lengths and row format only
    online = OnlineMatcher(proc.matcher, lag=4, max_followers=1)
    x, y = network.projector.to_metric(np.array([f.lon for f in fixes]),
                                       np.array([f.lat for f in fixes]))  # fmt: skip
    cands = proc.matcher.candidates(x, y)
    bounds = np.searchsorted(cands.fix, np.arange(len(fixes) + 1))
    vehicles: dict[str, tuple[str, VehicleState, TraversalTracker]] = {}
    watermark, swept = -np.inf, -1
    rows: list[tuple] = []

    def advance(vid: str, vtype: str, cursor: TraversalTracker, decided) -> None:
        for d in decided:
            if d.moving_follower:
                continue
            tr = cursor.add(d.chain, d.t, d.segment, d.offset_m, d.path, proc.length,
                            is_bus=vtype == "bus", rules=proc.rules,
                            reverse=proc.reverse)  # fmt: skip
            for seg, a, b, v, dw in zip(tr.segment, tr.entry_s, tr.exit_s, tr.speed_kmh,
                                        tr.dwell_s, strict=True):  # fmt: skip
                if v > proc.max_kmh[seg]:
                    continue  # dropped as implausible
                minute = ((a + b) / 2.0 // 60.0) * 60.0
                rows.append(TraversalRow(proc.segment_ids[seg], _utc(minute), vid, _utc(a),
                                         _utc(b), float(v), float(dw), vtype))  # fmt: skip

    for i, f in enumerate(fixes):
        t = f.ts_ms / 1000.0
        entry = vehicles.get(f.vehicle_id)
        if entry is None:
            entry = vehicles[f.vehicle_id] = (str(f.vehicle_type), VehicleState(),
                                              TraversalTracker())  # fmt: skip
        elif t <= entry[1].last_t:
            continue
        h = np.nan if f.heading_deg is None else f.heading_deg
        s = np.nan if f.speed_kmh is None else f.speed_kmh
        decided = online.push(entry[1], None, t, x[i], y[i], h, s, cands,
                              slice(bounds[i], bounds[i + 1]))  # fmt: skip
        advance(f.vehicle_id, entry[0], entry[2], decided)
        if t > watermark:
            watermark = t
            if int(t // 60) > swept:
                swept = int(t // 60)
                for vid in [v for v, e in vehicles.items() if e[1].last_t < watermark - idle_s]:
                    vtype, state, cursor = vehicles.pop(vid)
                    advance(vid, vtype, cursor, online.flush(state))
    for vid, (vtype, state, cursor) in vehicles.items():
        advance(vid, vtype, cursor, online.flush(state))
    return rows


def _utc(s: float) -> datetime:
    return datetime.fromtimestamp(float(s), UTC)


@pytest.fixture(scope="module")
def expected(network, feed) -> list[tuple]:
    return _reference_rows(network, feed, MatchParams(sigma_m=10.0))


@pytest.mark.slow
@pytest.mark.parametrize("poll", [7, 97, 5000])
def test_fleet_processor_stores_what_the_per_fix_pipeline_stores(
    network, feed, expected, poll
) -> None:
    proc = ProbeProcessor(network, MatchParams(sigma_m=10.0))
    for i in range(0, len(feed), poll):
        proc.process(("gps", 0), feed[i : i + poll])
    proc.close_all()
    assert len(expected) > 500
    assert sorted(proc.rows) == sorted(expected)
    # matched detours (GPS outliers fitted as laps) were dropped, the rest is believable
    assert proc.counters.implausible > 0
    assert all(r[5] <= proc.max_kmh[proc.network.index_of(r[0])] for r in proc.rows)
    assert proc.counters.stale > 0 and proc.counters.vehicles_closed > 0


def test_snapshot_restores_the_fleet_mid_stream(network, feed) -> None:
    """Stopping after a checkpoint and continuing from the snapshot changes nothing."""
    params = MatchParams(sigma_m=10.0)
    half = len(feed) // 2
    whole = ProbeProcessor(network, params)
    whole.process(("gps", 0), feed[:half])
    whole.process(("gps", 0), feed[half:])
    whole.close_all()

    first = ProbeProcessor(network, params)
    first.process(("gps", 0), feed[:half])
    blob = first.snapshot(("gps", 0))
    second = ProbeProcessor(network, params)
    second.restore(("gps", 0), blob)
    second.process(("gps", 0), feed[half:])
    second.close_all()
    assert sorted(first.rows + second.rows) == sorted(whole.rows)
    assert second.vehicles() == 0 and len(whole.rows) > 0


def test_a_snapshot_stored_before_columns_kept_their_speed_restores(network, feed) -> None:
    """A worker upgraded over a stored state goes on from it: the columns' reported speeds
    it lacks start unknown."""
    import pickle

    params = MatchParams(sigma_m=10.0)
    proc = ProbeProcessor(network, params)
    proc.process(("gps", 0), feed[: len(feed) // 2])
    state = proc.parts[("gps", 0)].fleet
    del state.cv
    restored = pickle.loads(pickle.dumps(state))
    assert np.isnan(restored.cv).all()
    assert restored.cv.shape == restored.ct.shape
    proc.parts[("gps", 0)].fleet = restored
    proc.process(("gps", 0), feed[len(feed) // 2 :])
    proc.close_all()
    assert proc.vehicles() == 0 and len(proc.rows) > 0


def test_tentative_is_what_a_flush_would_decide_now_and_changes_nothing(network, feed) -> None:
    """The presence records' positions: the best path of every vehicle's pending trellis."""
    import copy

    proc = ProbeProcessor(network, MatchParams(sigma_m=10.0))
    proc.process(("gps", 0), feed[: len(feed) // 2])
    st = proc.parts[("gps", 0)].fleet
    slots = np.flatnonzero(st.in_use)
    before = copy.deepcopy(st)
    got = proc.fleet.tentative(st, slots)
    assert sum(map(len, got.values())) > len(slots)  # several pending fixes per vehicle
    for name in ("n_cols", "has_dec", "dec_seg", "dec_off", "score", "seg", "chain"):
        assert np.array_equal(getattr(st, name), getattr(before, name)), name
    flushed: dict[int, list] = {}
    for slot, t, seg, off, path, chain, moving in proc.fleet.flush(copy.deepcopy(st), slots):
        if not moving:  # moving followers carry no position for a cursor
            flushed.setdefault(slot, []).append((chain, t, seg, off, path))
    assert got == flushed
    # newer than every decided fix, mostly the vehicle's newest fix (not when that one had no
    # candidates or was a moving follower)
    newest = {slot: fixes[-1][1] for slot, fixes in got.items()}
    decided = {vt.slot: vt.cursor.times[-1] for vt in proc.parts[("gps", 0)].vehicles.values()
               if vt.cursor.times}  # fmt: skip
    assert all(newest[s] > decided[s] for s in newest if s in decided)
    assert sum(newest[s] == st.last_t[s] for s in newest) >= 2 / 3 * len(newest)
    # fixes after a given time are left out
    cut = float(np.median(list(newest.values())))
    early = proc.fleet.tentative(st, slots, until_t=cut)
    assert early == {s: kept for s, f in got.items() if (kept := [x for x in f if x[1] <= cut])}
