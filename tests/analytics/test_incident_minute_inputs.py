"""The one function that assembles a minute's incident inputs (worker and evaluation), and
the leader loop shared by the incident worker and the state builder."""

from __future__ import annotations

import threading

import numpy as np
import psycopg

from analytics.incidents.detector import MinuteInputs
from analytics.incidents.minute_inputs import WindowRules, build_minute_inputs
from analytics.workers import leader
from store.incident_inputs import StationReadings, Traversals

T = 1_800_000_000.0


def traversals(avail: list[float], seg: list[int], veh: list[int], speed: list[float],
               dwell: list[float]) -> Traversals:  # fmt: skip
    def obj(values: list[str]) -> np.ndarray:
        out = np.empty(len(values), object)
        out[:] = values
        return out

    return Traversals(
        np.array(seg, np.int64), obj([f"s{s}" for s in seg]), np.array(veh, np.int64),
        obj([f"v{v}" for v in veh]), obj(["car"] * len(seg)), np.array(speed, float),
        np.array(dwell, float), np.full(len(seg), 30.0), np.array(avail, float),
    )  # fmt: skip


def build(tr: Traversals, **kw) -> MinuteInputs:
    index = {f"s{i}": i for i in range(3)}
    return build_minute_inputs(
        T, 2, 3, readings=kw.pop("readings", StationReadings.none()),
        occ_mean=np.full(2, np.nan), occ_std=np.full(2, np.nan),
        reference_speed=np.full(3, np.nan), traversals=tr, rules=WindowRules(),
        segment_index=index, **kw,
    )  # fmt: skip


def test_without_data_the_inputs_are_the_empty_ones() -> None:
    x, e = build(traversals([], [], [], [], [])), MinuteInputs.empty(2, 3)
    for f in ("station_occ", "station_volume", "station_speed", "probe_speed", "probe_vehicles",
              "probe_stopped", "probe_passing", "passing_speed"):  # fmt: skip
        np.testing.assert_array_equal(getattr(x, f), getattr(e, f))
    # no moving speed: all NaN, which every method reads like None (the empty inputs')
    assert x.moving_speed is not None and np.isnan(x.moving_speed).all()
    assert x.presence is None and x.probe_judged is None and x.segment_cv is None


def test_only_traversals_known_by_the_decision_in_the_window_count() -> None:
    tr = traversals([T - 10, T - 20, T + 1, T - 400], [0, 0, 0, 1], [1, 2, 3, 4],
                    [20.0, 40.0, 5.0, 5.0], [0.0, 0.0, 0.0, 0.0])  # fmt: skip
    x = build(tr, presence=[])
    assert x.probe_vehicles.tolist() == [2.0, 0.0, 0.0]
    assert np.isclose(x.probe_speed[0], 30.0) and np.isnan(x.probe_speed[1])
    # recent exits (known in the last recent_exit_s) join the presence snapshot
    assert x.presence is not None and x.presence.ex_segment.tolist() == [0, 0]


def test_station_readings_become_the_minute_per_station() -> None:
    r = StationReadings(np.array([0, 0, 1]), np.array([10.0, 20.0, 5.0]),
                        np.array([0.1, 0.3, 0.5]), np.array([50.0, 50.0, np.nan]))  # fmt: skip
    x = build(traversals([], [], [], [], []), readings=r)
    np.testing.assert_allclose(x.station_occ, [0.2, 0.5])
    np.testing.assert_allclose(x.station_volume, [30.0, 5.0])
    assert np.isclose(x.station_speed[0], 50.0) and np.isnan(x.station_speed[1])


class FakeConn:
    def __init__(self, lock_free: bool) -> None:
        self.closed, self.lock_free = False, lock_free

    def execute(self, *_a):
        free = self.lock_free

        class Cur:
            def fetchone(self):
                return (free,)

        return Cur()

    def close(self) -> None:
        self.closed = True


def test_the_leader_loop_steps_reconnects_after_a_lost_database_and_closes(monkeypatch) -> None:
    monkeypatch.setattr(leader, "LOCK_RETRY_S", 0.0)
    stop = threading.Event()
    conns: list[FakeConn] = []
    led, lost, steps = [], [], []

    def connect() -> FakeConn:
        conns.append(FakeConn(lock_free=True))
        return conns[-1]

    def step(conn: FakeConn) -> bool:
        steps.append(conn)
        if len(steps) == 2:
            raise psycopg.OperationalError("gone")
        if len(steps) == 4:
            stop.set()
        return len(steps) == 1  # more work after the first: no wait

    leader.run_as_leader(connect, 7, stop, step, interval_s=0.0, on_lead=led.append,
                         on_db_lost=lost.append)  # fmt: skip
    assert len(conns) == 2 and led == conns and len(lost) == 1
    assert steps == [conns[0], conns[0], conns[1], conns[1]]
    assert all(c.closed for c in conns)
