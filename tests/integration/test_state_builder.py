"""The state builder on stored measurements: fusion, smoothing, hysteresis, free flow,
profiles, KPIs, idempotent rebuilds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import psycopg
import pytest

from analytics.workers.state_builder import BuilderParams, StateBuilder, state_message
from roadnet import load_network
from roadnet import model as m
from store.detectors import DetectorSite, sync_detectors
from store.network_writer import sync_network
from store.state_dirty import mark_minutes
from store.state_writer import StoreWriter
from tests.integration.probe_feed import route_from

pytestmark = pytest.mark.integration
T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def network():
    return load_network()


def _traversals(conn, rows) -> None:
    """rows: (segment_id, minute, vehicle, speed)"""
    StoreWriter().prepare(conn, "probe_traversal", {r[1] for r in rows})
    with conn.transaction():
        for seg, minute, veh, v in rows:
            conn.execute(
                "INSERT INTO probe_traversal (segment_id, minute, vehicle_id, entry_ts, exit_ts,"
                " speed_kmh, vehicle_type) VALUES (%s, %s, %s, %s, %s, %s, 'car')",
                (seg, minute, veh, minute, minute + timedelta(seconds=30), v),
            )
        mark_minutes(conn, {r[1] for r in rows})


def _states(conn, minute) -> dict:
    return {r[0]: r[1:] for r in conn.execute(
        "SELECT segment_id, speed_kmh, source, congestion_level, confidence, n_vehicles"
        " FROM segment_state WHERE minute = %s", (minute,))}  # fmt: skip


def test_probe_detector_fusion_smoothing_and_idempotent_rebuild(db_factory, network) -> None:
    ids = network.segments[m.SEGMENT_ID].to_numpy()
    route = route_from(network, 100, 3)
    a, b, c = (ids[i] for i in route)
    with psycopg.connect(db_factory(), autocommit=True) as conn:
        with conn.transaction():
            sync_network(conn, network)
        with conn.transaction():
            sync_detectors(conn, [DetectorSite("D1", a, 10.0, 2, "loop", None, None)], network)
        StoreWriter().prepare(conn, "detector_reading", [T0])
        conn.execute(
            "INSERT INTO detector_reading (detector_id, ts, lane, interval_s, volume, occupancy,"
            " speed_kmh) VALUES ('D1', %s, -1, 60, 12, 0.2, 60.0)", (T0 + timedelta(minutes=1),)
        )  # fmt: skip
        _traversals(conn, [(a, T0, "v1", 20.0), (a, T0, "v2", 30.0), (a, T0, "v3", 60.0),
                           (c, T0, "v4", 12.0), (c, T0, "v5", 12.0)])  # fmt: skip
        builder = StateBuilder(network)
        built = builder.step(conn)
        assert [bm.minute for bm in built] == [T0]
        st = _states(conn, T0)
        probe_hm = 3 / (1 / 20 + 1 / 30 + 1 / 60)
        fused = 6 / (3 / probe_hm + 3 / 60.0)  # 3 probe vehicles, the detector weighs 3
        assert st[a][0] == pytest.approx(fused, rel=1e-4) and st[a][1] == "fused"
        assert st[a][4] == 3
        assert st[c][:2] == (pytest.approx(12.0), "probe")
        # b lies between a (free-ish) and c (slow, downstream): filled by smoothing
        assert st[b][1] == "smoothed" and st[b][3] < st[a][3]
        # neighbours lend their speed as a share of their own free flow
        ff = dict(zip(ids, network.segments[m.FREE_FLOW].to_numpy(), strict=True))
        assert 12.0 / ff[c] <= st[b][0] / ff[b] <= fused / ff[a]
        assert st[b][3] < st[c][3]  # less confident than measured
        kpi = conn.execute(
            "SELECT vehicle_km, segments_with_data FROM network_kpi WHERE minute = %s", (T0,)
        ).fetchone()
        km = network.segments[m.LENGTH].to_numpy()[[route[0], route[2]]] / 1000
        assert kpi[0] == pytest.approx(12 * km[0] + 2 * km[1], rel=1e-3)  # detector flow on a
        assert kpi[1] == len(st)
        before = conn.execute("SELECT * FROM segment_state ORDER BY segment_id").fetchall()
        mark_minutes(conn, [T0])
        builder.step(conn)  # rebuilding a minute changes nothing
        assert conn.execute("SELECT * FROM segment_state ORDER BY segment_id").fetchall() == before
    msg = state_message(built[0].states[0])
    assert b'"congestion":' in msg and b'"minute":"2026-11-24T08:00:00+00:00"' in msg


def test_loop_speeds_are_calibrated_by_the_probes_that_passed_them(db_factory, network) -> None:
    # twelve minutes in which probes timed segment a at 80 % of its loop's speed; then a
    # minute with the loop alone: published at 80 % of what the loop measured
    ids = network.segments[m.SEGMENT_ID].to_numpy()
    a = ids[route_from(network, 100, 1)[0]]
    minutes = [T0 + timedelta(minutes=k) for k in range(13)]
    with psycopg.connect(db_factory(), autocommit=True) as conn:
        with conn.transaction():
            sync_network(conn, network)
        with conn.transaction():
            sync_detectors(conn, [DetectorSite("D1", a, 10.0, 2, "loop", None, None)], network)
        StoreWriter().prepare(conn, "detector_reading", minutes)
        for k, minute in enumerate(minutes):
            conn.execute(
                "INSERT INTO detector_reading (detector_id, ts, lane, interval_s, volume,"
                " occupancy, speed_kmh) VALUES ('D1', %s, -1, 60, 10, 0.2, %s)",
                (minute + timedelta(minutes=1), 50.0 if k < 12 else 30.0))  # fmt: skip
        _traversals(conn, [(a, minute, f"v{k}", 40.0) for k, minute in enumerate(minutes[:12])])
        mark_minutes(conn, [minutes[-1]])
        builder = StateBuilder(network)
        assert builder.learn_detector_factors(conn, minutes[-1]) == 1
        i = int(np.flatnonzero(ids == a)[0])
        assert builder.detector_factor[i] == pytest.approx(0.8)
        builder.step(conn)
        st = _states(conn, minutes[-1])
        assert st[a][:2] == (pytest.approx(24.0), "detector")
        # a builder told not to use loops without a factor takes nothing from them: the
        # minute is filled from the probes of the minutes before
        blind = StateBuilder(network, BuilderParams(detector_min_pairs=20,
                                                    uncalibrated_detector_speeds=False))
        assert blind.learn_detector_factors(conn, minutes[-1]) == 0
        state = {s[0]: s for s in blind.build_minute(conn, minutes[-1]).states}[a]
        assert state[-1] == "smoothed" and state[2] == pytest.approx(40.0, abs=1.0)


def test_a_single_vehicle_is_never_smoothed_into_its_neighbours(db_factory, network) -> None:
    ids = network.segments[m.SEGMENT_ID].to_numpy()
    a, b, c = (ids[i] for i in route_from(network, 100, 3))
    for min_vehicles, filled in ((1, True), (3, False)):
        with psycopg.connect(db_factory(), autocommit=True) as conn:
            with conn.transaction():
                sync_network(conn, network)
            _traversals(conn, [(a, T0, "v1", 41.0), (c, T0, "v2", 43.0), (c, T0, "v3", 45.0)])
            StateBuilder(network, BuilderParams(publish_min_vehicles=min_vehicles)).step(conn)
            st = _states(conn, T0)
            # the measured states are stored either way (the API withholds them)
            assert st[a][1:2] == ("probe",) and st[c][1:2] == ("probe",)
            assert (b in st) is filled, st.get(b)


def test_hysteresis_uses_the_previous_minute(db_factory, network) -> None:
    seg = network.segments.iloc[0]
    sid, ff = seg[m.SEGMENT_ID], float(seg[m.FREE_FLOW])
    with psycopg.connect(db_factory(), autocommit=True) as conn:
        with conn.transaction():
            sync_network(conn, network)
        builder = StateBuilder(network)
        levels = []
        # ratio 0.58 → light→moderate boundary (0.6) crossed, but within the 0.05 band
        for k, ratio in enumerate([0.9, 0.58, 0.58, 0.5, 0.58, 0.62, 0.7]):
            t = T0 + timedelta(minutes=k)  # consecutive minutes, one at a time
            _traversals(conn, [(sid, t, "v", ratio * ff)])
            builder.step(conn)
            levels.append(_states(conn, t)[sid][2])
    # free, light (0.58 is not 0.05 below 0.6), light, moderate, stays moderate at 0.58,
    # stays at 0.62 (not 0.05 above 0.6), light at 0.7
    assert levels == [0, 1, 1, 2, 2, 2, 1]


def test_free_flow_is_learned_off_peak_and_profiles_fill_stale_segments(
    db_factory, network
) -> None:
    seg = network.segments.iloc[3]
    sid, default = seg[m.SEGMENT_ID], float(seg[m.FREE_FLOW])
    night = datetime(2026, 11, 20, 17, 0, tzinfo=UTC)  # 00:00 in Hai Phong
    rng = np.random.default_rng(1)
    speeds = rng.uniform(30, 70, 60)
    with psycopg.connect(db_factory(), autocommit=True) as conn:
        with conn.transaction():
            sync_network(conn, network)
        rows = [(sid, night + timedelta(minutes=k // 3), f"n{k}", float(v))
                for k, v in enumerate(speeds)]  # fmt: skip
        # peak-hour traversals must not count
        rows += [(sid, T0 + timedelta(minutes=k), f"p{k}", 5.0) for k in range(40)]
        _traversals(conn, rows)
        builder = StateBuilder(network, BuilderParams(stale_after_min=10))
        builder.step(conn, limit=10_000)
        learned = conn.execute(
            "SELECT free_flow_kmh, n_samples FROM segment_free_flow WHERE segment_id = %s", (sid,)
        ).fetchone()
        assert learned[1] == 60
        assert learned[0] == pytest.approx(np.percentile(speeds, 85), rel=1e-3)
        assert builder.free_flow[3] == pytest.approx(learned[0]) != default
        # a day later, same slot, no data: the segment's current state is its profile
        StoreWriter().prepare(conn, "segment_state", [T0 + timedelta(days=1)])
        from store.rollups import refresh_rollups

        refresh_rollups(conn, T0, T0 + timedelta(hours=1))
        later = T0 + timedelta(days=1, minutes=5)
        other = network.segments.iloc[50][m.SEGMENT_ID]
        _traversals(conn, [(other, later, "x", 25.0)])
        builder.step(conn)
        cur = conn.execute(
            "SELECT source, speed_kmh, minute, confidence FROM segment_current"
            " WHERE segment_id = %s", (sid,)
        ).fetchone()  # fmt: skip
        assert cur[0] == "profile" and cur[2] == later
        assert cur[1] == pytest.approx(5.0, rel=1e-3)
        assert cur[3] == pytest.approx(0.2)
        hist = conn.execute(
            "SELECT count(*) FROM segment_state WHERE source = 'profile'"
        ).fetchone()[0]
        assert hist == 0  # profiles never enter the history


def test_a_builder_killed_mid_step_leaves_its_unbuilt_minutes_queued(db_factory, network) -> None:
    a = network.segments[m.SEGMENT_ID].to_numpy()[route_from(network, 100, 1)[0]]
    minutes = [T0 + timedelta(minutes=k) for k in range(3)]
    with psycopg.connect(db_factory(), autocommit=True) as conn:
        with conn.transaction():
            sync_network(conn, network)
        _traversals(conn, [(a, mi, f"v{k}", 30.0) for k, mi in enumerate(minutes)])
        builder = StateBuilder(network)
        real = builder.build_minute

        def killed_on_the_second(c, minute):
            if minute == minutes[1]:
                raise KeyboardInterrupt("killed")  # not an Exception, like a signal
            return real(c, minute)

        builder.build_minute = killed_on_the_second
        with pytest.raises(KeyboardInterrupt):
            builder.step(conn)
        queued = [r[0] for r in conn.execute("SELECT minute FROM state_dirty ORDER BY minute")]
        assert queued == minutes[1:]
        builder.build_minute = real
        assert [b.minute for b in builder.step(conn)] == minutes[1:]
        kpis = conn.execute(
            "SELECT vehicle_hours, delay_vehicle_hours FROM network_kpi ORDER BY minute"
        ).fetchall()
    # KPIs stay finite although most segments have no state (NaN speeds)
    assert len(kpis) == 3 and all(np.isfinite(h) and h > 0 and np.isfinite(d) for h, d in kpis)


def _build_all(conn, builder: StateBuilder) -> int:
    """Step until the queue is empty; returns the minutes built."""
    n = 0
    while built := builder.step(conn):
        n += len(built)
    return n


def _history(conn) -> list[tuple]:
    return conn.execute(
        "SELECT segment_id, minute, speed_kmh, source, congestion_level, confidence"
        " FROM segment_state ORDER BY minute, segment_id"
    ).fetchall()


def test_late_measurements_rebuild_the_minutes_that_depend_on_them(db_factory, network) -> None:
    """Traversals of an old minute arriving after later minutes were built end in the same
    history (smoothed neighbours, hysteresis levels) as building with all of them in order."""
    ids = network.segments[m.SEGMENT_ID].to_numpy()
    a, b, c = (ids[i] for i in route_from(network, 100, 3))
    ff_c = float(network.segments[m.FREE_FLOW].to_numpy()[list(ids).index(c)])
    minutes = [T0 + timedelta(minutes=k) for k in range(10)]
    on_time = [(a, t, f"a{k}", 45.0) for k, t in enumerate(minutes)]
    # c moderately slow throughout; its level at each minute leans on the previous one
    on_time += [(c, t, f"c{k}", 0.57 * ff_c) for k, t in enumerate(minutes) if k != 3]
    late = [(c, minutes[3], "late1", 0.3 * ff_c), (c, minutes[3], "late2", 0.3 * ff_c)]

    histories, rebuilt = [], 0
    for arrival in ("in order", "late"):
        with psycopg.connect(db_factory(), autocommit=True) as conn:
            with conn.transaction():
                sync_network(conn, network)
            builder = StateBuilder(network)
            if arrival == "in order":
                _traversals(conn, on_time + late)
                assert _build_all(conn, builder) == len(minutes)
            else:
                _traversals(conn, on_time)
                assert _build_all(conn, builder) == len(minutes)
                before = _history(conn)
                _traversals(conn, late)  # queues minute 3 only
                rebuilt = _build_all(conn, builder)
                assert _history(conn) != before
                settled = _history(conn)
                mark_minutes(conn, [minutes[3]])  # nothing new: the rebuild changes nothing
                assert _build_all(conn, builder) == 1 and _history(conn) == settled
            histories.append(_history(conn))
    # minute 3, then the built minutes of the smoothing window after each changed one (b is
    # smoothed from c; c's level at minute k starts from its level at minute k - 1): 3..9
    assert histories[1] == histories[0]
    assert BuilderParams().smoothing.window_min < rebuilt == len(minutes) - 3
    assert {r[3] for r in histories[0] if r[0] == b} == {"smoothed"}


def test_day_speeds_are_each_previous_days_slowest_five_minutes_around_the_slot(
    db_factory, network
) -> None:
    """What tells a recurring slowdown: per previous day of the slot's type, a segment's
    slowest 5-minute speed from 15 minutes before the slot to 15 minutes after it."""
    from store.rollups import refresh_rollups
    from store.speed_profiles import read_day_speeds

    ids = network.segments[m.SEGMENT_ID].to_numpy()
    a, b = ids[20], ids[21]
    index = {s: i for i, s in enumerate(ids)}
    slot = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)  # Wednesday 08:00 in Hai Phong
    day = timedelta(days=1)
    speeds = [  # (segment, minute, km/h)
        (a, slot - day - timedelta(minutes=10), 12.0),  # Tuesday, inside the window
        (a, slot - day, 35.0),
        (a, slot - 2 * day, 30.0),  # Monday
        (a, slot - 2 * day + timedelta(minutes=40), 5.0),  # Monday, after the window
        (a, slot - 3 * day, 4.0),  # Sunday: another day type
        (b, slot - 2 * day + timedelta(minutes=29), 20.0),  # the window's last minute
    ]
    rows = [(s, t, v, 36.0, 60.0, 3, 3, 0, 1.0, 0.9, "probe") for s, t, v in speeds]
    with psycopg.connect(db_factory(), autocommit=True) as conn:
        with conn.transaction():
            sync_network(conn, network)
        writer = StoreWriter()
        writer.prepare(conn, "segment_state", [t for _, t, _ in speeds])
        with conn.transaction():
            writer.write_states(conn, rows)
            for _, t, _ in speeds:
                refresh_rollups(conn, t, t + timedelta(minutes=1))
        got = read_day_speeds(conn, slot, 3, index, timezone="Asia/Ho_Chi_Minh")
        none = read_day_speeds(conn, slot - 2 * day, 1, index, timezone="Asia/Ho_Chi_Minh")
    assert got.shape == (2, len(ids))  # Tuesday and Monday; Sunday is not a weekday
    assert got[:, index[a]].tolist() == [12.0, 30.0]
    assert np.isnan(got[0, index[b]]) and got[1, index[b]] == 20.0
    assert np.isnan(np.delete(got, [index[a], index[b]], axis=1)).all()
    assert none.shape == (0, len(ids))  # a Monday's previous day is a Sunday: no such day


def test_profiles_keep_weekdays_and_weekends_apart_in_local_time(db_factory, network) -> None:
    """A Saturday's profile comes from earlier weekend days (days in the city's time zone),
    a weekday's from weekdays; a segment with too few days of the type uses every day."""
    from store.rollups import refresh_rollups
    from store.speed_profiles import read_speed_profile

    ids = network.segments[m.SEGMENT_ID].to_numpy()
    a, b, c = ids[10], ids[11], ids[12]
    index = {s: i for i, s in enumerate(ids)}
    saturday = datetime(2026, 11, 27, 19, 0, tzinfo=UTC)  # Saturday 02:00 in Hai Phong
    days = [saturday - timedelta(days=d) for d in range(1, 15)]
    tz = "Asia/Ho_Chi_Minh"
    weekend = {t for t in days if t.astimezone(ZoneInfo(tz)).isoweekday() >= 6}
    assert len(weekend) == 4
    rows = []
    for t in days:
        v = 50.0 if t in weekend else 20.0
        rows.append((a, t, v, 36.0, 60.0, 3, 3, 0, 1.0, 0.9, "probe"))
        if t not in weekend or t == max(weekend):  # b: a single weekend day
            rows.append((b, t, v, 36.0, 60.0, 3, 3, 0, 1.0, 0.9, "probe"))
    with psycopg.connect(db_factory(), autocommit=True) as conn:
        with conn.transaction():
            sync_network(conn, network)
        writer = StoreWriter()
        writer.prepare(conn, "segment_state", days)
        with conn.transaction():
            writer.write_states(conn, rows)
            for t in days:
                refresh_rollups(conn, t, t + timedelta(minutes=1))
        sat = read_speed_profile(conn, saturday, 28, index, timezone=tz)
        monday = read_speed_profile(conn, saturday + timedelta(days=2), 28, index, timezone=tz)
        # in UTC the slot is a Friday evening, and two of its "weekdays" are local Saturdays
        utc = read_speed_profile(conn, saturday, 28, index, timezone="UTC")
    assert sat[index[a]] == pytest.approx(50.0) and monday[index[a]] == pytest.approx(20.0)
    assert utc[index[a]] == pytest.approx(10 / (8 / 20.0 + 2 / 50.0))
    every_day = 11 / (1 / 50.0 + 10 / 20.0)  # b: 1 weekend day < 2, so all 11 days count
    assert sat[index[b]] == pytest.approx(every_day) and monday[index[b]] == pytest.approx(20.0)
    assert np.isnan(sat[index[c]]) and np.isnan(monday[index[c]])
