"""One decision minute's detector inputs (:class:`MinuteInputs`) from plain data.

The single place where readings, traversals, presence records and reference values become a
minute's inputs: the incident worker feeds it what the store queries return
(:mod:`store.incident_inputs`), the evaluation what its simulated runs hold, so both detect
from identical numbers. Times epoch seconds, speeds km/h, occupancy 0–1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from analytics.incidents.detector import MinuteInputs
from analytics.incidents.inputs import presence_snapshot, recent_probe_window, station_minute
from store.incident_inputs import StationReadings, Traversals


@dataclass(frozen=True)
class WindowRules:
    """How traversals are windowed: the recent windows (minutes, see
    :func:`analytics.incidents.inputs.recent_probe_window`), the standing time that makes a
    vehicle stopped (s), how long ago a traversal may have become known to count at all
    (``probe_window_s``) and to join the overdue-probe queues (``recent_exit_s``)."""

    windows_min: tuple[int, ...] = (1, 2, 3, 5)
    stop_s: float = 30.0
    probe_window_s: float = 300.0
    recent_exit_s: float = 180.0


def build_minute_inputs(
    t_s: float, n_stations: int, n_segments: int, *, readings: StationReadings,
    occ_mean: np.ndarray, occ_std: np.ndarray, reference_speed: np.ndarray,
    traversals: Traversals, rules: WindowRules, segment_index: dict[str, int],
    presence: Sequence[Sequence[Any]] | None = None, probe_judged: np.ndarray | None = None,
    segment_cv: np.ndarray | None = None, day_speeds: np.ndarray | None = None,
) -> MinuteInputs:  # fmt: skip
    """The inputs at decision time ``t_s``.

    ``readings``: the stations' readings of the minute judged (none: NaN/zero);
    ``occ_mean``/``occ_std``: their occupancy profile; ``reference_speed`` per segment (NaN:
    free flow) and the segments probe methods may judge (``probe_judged``, ``None``: all);
    ``segment_cv``: learned travel-time spread per segment (``None``: the methods' prior);
    ``day_speeds``: each previous day's speed per segment at this time (``None``: none).
    ``traversals``: those known by ``t_s`` (any older ones are left out here: the windows use
    those known in the last ``rules.probe_window_s``, the overdue-probe queues those of the
    last ``rules.recent_exit_s``). ``presence``: the presence rows recorded at ``t_s``
    (:data:`analytics.presence.PRESENCE_COLUMNS` order; ``None``: presence not known)."""
    x = MinuteInputs.empty(n_stations, n_segments)
    if len(readings):
        x.station_occ, x.station_volume, x.station_speed = station_minute(
            readings.station, readings.volume, readings.occupancy, readings.speed_kmh,
            n_stations,
        )  # fmt: skip
    x.station_occ_mean, x.station_occ_std = occ_mean, occ_std
    x.reference_speed, x.probe_judged, x.segment_cv = reference_speed, probe_judged, segment_cv
    x.day_speeds = day_speeds
    tr, av = traversals, traversals.available_s
    w = (av <= t_s) & (av > t_s - rules.probe_window_s)
    pw = recent_probe_window(
        tr.segment[w], tr.vehicle[w], tr.speed_kmh[w], tr.dwell_s[w], av[w], t_s, n_segments,
        duration_s=tr.duration_s[w], windows_min=rules.windows_min, stop_s=rules.stop_s,
    )  # fmt: skip
    x.probe_speed, x.probe_vehicles = pw.speed, pw.vehicles
    x.probe_stopped, x.probe_passing = pw.stopped, pw.passing
    x.passing_speed, x.moving_speed = pw.passing_speed, pw.moving_speed
    if presence is not None:
        r = np.flatnonzero((av <= t_s) & (av > t_s - rules.recent_exit_s))
        exited = list(zip(tr.segment_id[r].tolist(), tr.vehicle_id[r].tolist(),
                          tr.vehicle_type[r].tolist(), tr.duration_s[r].tolist(),
                          tr.dwell_s[r].tolist(), av[r].tolist(), strict=True))  # fmt: skip
        x.presence = presence_snapshot(presence, segment_index, exited, t_s,
                                       rules.recent_exit_s)  # fmt: skip
    return x
