"""No data is no evidence: held detection state expires through data gaps (issue 22, item 1).

A recorded day followed by a silent night must raise nothing before the next day's data
arrives, and a segment or station slow yesterday is not half-way to an alarm today.
"""

from __future__ import annotations

import numpy as np
import shapely

from analytics.incidents.california8 import California8
from analytics.incidents.corridor import Corridor
from analytics.incidents.data_gaps import DataGaps
from analytics.incidents.detector import IncidentDetector, MinuteInputs
from analytics.incidents.mcmaster import McMaster
from analytics.incidents.probe_speed_drop import ProbeSpeedDrop
from analytics.incidents.snd import Snd

L = 400.0
N = 6  # eastbound segments 0..5 on one street, 400 m each


def street() -> tuple[Corridor, np.ndarray]:
    fr, to = np.arange(N), np.arange(1, N + 1)
    geoms = np.array([shapely.LineString([(i * L, 0.0), ((i + 1) * L, 0.0)]) for i in range(N)])
    bearing = np.full(N, 90.0)
    return Corridor.build(fr, to, np.array(["Main"] * N), np.full(N, L), bearing, bearing), geoms


def slow_minute() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Segments 1–2 queued (2 probes at 6–8 km/h), 3 free: the head is segment 2."""
    speed, veh = np.full(N, 40.0), np.full(N, 3.0)
    speed[[1, 2]], veh[[1, 2]] = [8.0, 6.0], [2, 2]
    return speed, veh, np.full(N, 40.0), np.full(N, 50.0)


def no_probes() -> tuple[np.ndarray, np.ndarray]:
    return np.full(N, np.nan), np.zeros(N)


def test_gap_counter_expires_after_max_gap() -> None:
    g = DataGaps(2, max_gap=2)
    known = np.array([True, False])
    assert g.step(known).tolist() == [False, False]
    assert g.step(known).tolist() == [False, False]
    assert g.step(known).tolist() == [False, True]  # third interval without data
    assert g.step(np.array([False, True])).tolist() == [False, False]


def test_probe_drop_raises_nothing_without_data_and_forgets_after_a_long_gap() -> None:
    c, _ = street()
    drop = ProbeSpeedDrop(c)
    speed, veh, ref, ff = slow_minute()
    drop.detect(speed, veh, ref, ff)
    assert [h.segment for h in drop.detect(speed, veh, ref, ff)] == [2]
    empty_speed, empty_veh = no_probes()
    for _ in range(30):  # the night: no probe anywhere
        assert drop.detect(empty_speed, empty_veh, ref, ff) == []
    assert drop.count.max() == 0
    # one slow minute in the morning is a first minute, not the third of yesterday's run
    assert drop.detect(speed, veh, ref, ff) == []


def test_probe_drop_persistence_survives_a_short_gap() -> None:
    c, _ = street()
    drop = ProbeSpeedDrop(c)
    speed, veh, ref, ff = slow_minute()
    assert drop.detect(speed, veh, ref, ff) == []
    empty_speed, empty_veh = no_probes()
    for _ in range(2):  # at 5 % probes a queued segment often has no traversal ending
        assert drop.detect(empty_speed, empty_veh, ref, ff) == []
    assert [h.segment for h in drop.detect(speed, veh, ref, ff)] == [2]


def test_california8_holds_an_incident_through_a_short_gap_only() -> None:
    alg = California8(1)
    up, dn, nan = np.array([0.45]), np.array([0.08]), np.array([np.nan])
    alg.detect(up, dn)
    assert alg.detect(up, dn)[0]  # tentative → incident
    assert not alg.detect(nan, dn)[0]  # a missing interval: no alarm from no data …
    assert alg.detect(np.array([0.30]), dn)[0]  # … but the incident state was held
    for _ in range(3):
        assert not alg.detect(nan, nan)[0]
    # after a long silence the state is gone: the same occupancies start from tentative
    assert not alg.detect(np.array([0.30]), dn)[0]


def test_mcmaster_and_snd_forget_after_a_long_gap() -> None:
    mc = McMaster(1)
    for _ in range(3):
        mc.detect(np.array([1]), np.array([0]))
    for _ in range(3):
        assert not mc.detect(np.array([-1]), np.array([-1]))[0]
    assert not mc.detect(np.array([1]), np.array([0]))[0]  # counting starts again
    snd = Snd(1)
    mean, std = np.array([0.1]), np.array([0.02])
    snd.detect(np.array([0.3]), mean, std)
    assert snd.detect(np.array([0.3]), mean, std)[0]
    for _ in range(3):
        assert not snd.detect(np.array([np.nan]), mean, std)[0]
    assert not snd.detect(np.array([0.3]), mean, std)[0]


def _detector() -> IncidentDetector:
    c, geoms = street()
    # stations at the start of segments 0, 2 and 4
    return IncidentDetector(geoms, c, np.array([0, 2, 4]), np.array([50.0, 50.0, 50.0]),
                            np.full(N, 50.0), station_ids=["s0", "s2", "s4"])  # fmt: skip


def _busy_minute() -> MinuteInputs:
    x = MinuteInputs.empty(3, N)
    speed, veh, ref, _ = slow_minute()
    x.probe_speed, x.probe_vehicles, x.reference_speed = speed, veh, ref
    x.station_occ = np.array([0.06, 0.45, 0.08])  # queue at s2, free at s4
    x.station_speed = np.array([45.0, 10.0, 45.0])
    x.station_volume = np.array([10.0, 5.0, 10.0])
    x.station_occ_mean, x.station_occ_std = np.full(3, 0.08), np.full(3, 0.02)
    return x


def test_a_silent_night_raises_no_incident_and_yesterday_is_forgotten() -> None:
    det = _detector()
    for _ in range(4):  # an afternoon incident seen by every method
        out = det.detect(_busy_minute())
    assert out["fused"] and out["california8"] and out["probe_drop"]
    for _ in range(60):  # the data ends: nothing is raised from no data
        out = det.detect(MinuteInputs.empty(3, N))
        assert all(cands == [] for cands in out.values()), {
            k: [c.evidence for c in v] for k, v in out.items() if v
        }
    # the next day's first minute is a first minute for every method
    out = det.detect(_busy_minute())
    assert out["california8"] == [] and out["mcmaster"] == [] and out["snd"] == []
    assert out["probe_drop"] == []


def test_checkpoint_keeps_the_gaps() -> None:
    det = _detector()
    det.detect(_busy_minute())
    for _ in range(3):
        det.detect(MinuteInputs.empty(3, N))
    again = _detector()
    assert again.set_state(det.get_state())
    assert again.drop.gaps.gap.tolist() == det.drop.gaps.gap.tolist() == [3] * N
    assert again.cal8.gaps.gap.tolist() == det.cal8.gaps.gap.tolist()
    old = det.get_state()
    del old["gaps"]  # a checkpoint written before gaps existed still restores
    assert _detector().set_state(old)
