"""Forecast worker: every segment's speed and travel time at +15, +30 and +60 minutes.

One worker runs per database (a session advisory lock elects the leader, as for the state
builder). Each cycle, once the state builder has built a minute newer than the last one
forecast and ``interval_min`` minutes have passed since, it reads the last
:data:`~analytics.forecast.features.WINDOW_MIN` minutes of segment states, the time-of-day
profiles of the issue and target slots (:func:`store.speed_profiles.read_speed_profile`) and
the announced blocking incidents, forecasts every segment
(:class:`analytics.forecast.forecaster.Forecaster`: the model where it may serve, a baseline
with a flag elsewhere) and stores the issue (:func:`store.forecasts.write_forecasts`): the
current forecasts always, the history every ``history_every_min`` minutes. The model file is
reloaded when it changes; a missing file or one of another network gives baselines with a
flag, never an error. Times UTC minute starts; the issue time is the newest built minute.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import psycopg

from analytics.congestion import raw_level
from analytics.forecast.features import HORIZONS_MIN, WINDOW_MIN, ForecastInputs
from analytics.forecast.forecaster import Forecaster, HorizonForecast
from analytics.forecast.incident_reach import incident_features
from analytics.forecast.model_file import network_fingerprint
from analytics.incidents.corridor import Corridor
from roadnet import model as m
from roadnet.model import RoadNetwork
from store.forecasts import (
    ForecastBatch,
    active_blocking_incidents,
    latest_state_minute,
    read_states,
    write_forecasts,
)
from store.partitions import PartitionManager
from store.speed_profiles import read_speed_profile, slot_of

log = logging.getLogger(__name__)
LEADER_LOCK = 0x17_75_0005  # advisory lock key: one forecast worker per database
BLOCKING_KINDS = ("lane_blockage", "full_closure", "stalled_vehicle", "accident", "roadworks")
REREAD_MIN = 5  # the newest minutes are read again each cycle (the builder may rebuild them)


@dataclass(frozen=True)
class ForecastParams:
    """Knobs of the forecast worker (minutes, days)."""

    interval_min: int = 1
    history_every_min: int = 5
    profile_days: int = 28
    timezone: str = "Asia/Ho_Chi_Minh"
    horizons: tuple[int, ...] = HORIZONS_MIN


class ForecastWorker:
    """Forecasts of ``network`` from the stored states, with the model at ``model_path``."""

    def __init__(
        self, network: RoadNetwork, params: ForecastParams | None = None, *,
        model_path: str | Path | None = None,
    ) -> None:  # fmt: skip
        self.p = params or ForecastParams()
        seg = network.segments
        self.ids = seg[m.SEGMENT_ID].astype(str).tolist()
        self.index = {s: i for i, s in enumerate(self.ids)}
        self.corridor = Corridor.for_network(network)
        self.forecaster = Forecaster(seg[m.FREE_FLOW].to_numpy(float),
                                     seg[m.LENGTH].to_numpy(float), self.corridor,
                                     fingerprint=network_fingerprint(self.ids),
                                     horizons=self.p.horizons)  # fmt: skip
        self.model_path = Path(model_path) if model_path else None
        self._model_stamp: tuple[float, int] | None = None
        self.forecaster.load_model(self.model_path)
        self._stamp_model()
        self.partitions = PartitionManager()
        self.last_issued: datetime | None = None
        self._window: np.ndarray | None = None  # (WINDOW_MIN, N) ending at _window_end
        self._window_end: datetime | None = None
        self._profiles: dict[datetime, np.ndarray] = {}

    # -- model --------------------------------------------------------------------------------
    def _stamp_model(self) -> None:
        try:
            st = os.stat(self.model_path) if self.model_path else None
        except OSError:
            st = None
        self._model_stamp = (st.st_mtime, st.st_size) if st else None

    def reload_if_changed(self) -> bool:
        """Reload the model file when it appeared, changed or went away; True if it did."""
        before = self._model_stamp
        self._stamp_model()
        if self._model_stamp == before:
            return False
        basis = self.forecaster.load_model(self.model_path if self._model_stamp else None)
        log.info("forecast model %s: forecasting with %s", self.model_path, basis)
        return True

    @property
    def model_name(self) -> str:
        """What the forecasts come from: the model's file and training time, or the flag."""
        mdl = self.forecaster.model
        if mdl is None:
            return self.forecaster.model_problem
        name = self.model_path.name if self.model_path else "model"
        return f"{name}@{mdl.meta.get('trained_at', '?')}"

    # -- inputs -------------------------------------------------------------------------------
    def recent(self, conn: psycopg.Connection, minute: datetime) -> np.ndarray:
        """(WINDOW_MIN, N) states ending at ``minute``: the older minutes from the previous
        cycle's window when it overlaps, the newest :data:`REREAD_MIN` read again."""
        w = WINDOW_MIN
        first = minute - timedelta(minutes=w - 1)
        prev, end = self._window, self._window_end
        if (prev is None or end is None or end > minute
                or end < first + timedelta(minutes=REREAD_MIN)):  # fmt: skip
            win = read_states(conn, first, w, self.index)
        else:
            keep_from = int((end - first) / timedelta(minutes=1)) - REREAD_MIN + 1
            shift = int((minute - end) / timedelta(minutes=1))
            win = np.full((w, len(self.ids)), np.nan, np.float32)
            win[:keep_from] = prev[shift: shift + keep_from]
            win[keep_from:] = read_states(conn, first + timedelta(minutes=keep_from), w - keep_from,
                                          self.index)  # fmt: skip
        self._window, self._window_end = win, minute
        return win

    def profile(self, conn: psycopg.Connection, t: datetime) -> np.ndarray:
        """Profile speeds of ``t``'s 15-minute slot (cached for the slots in use)."""
        slot = slot_of(t)
        if slot not in self._profiles:
            self._profiles[slot] = read_speed_profile(conn, slot, self.p.profile_days,
                                                      self.index, timezone=self.p.timezone)
        return self._profiles[slot]

    def inputs(self, conn: psycopg.Connection, minute: datetime) -> ForecastInputs:
        """Everything known at ``minute`` (see the module docstring)."""
        active = [(self.index[s], (minute - t) / timedelta(minutes=1))
                  for s, t in active_blocking_incidents(conn, minute, BLOCKING_KINDS)
                  if s in self.index]  # fmt: skip
        age, down = incident_features(self.corridor, active, len(self.ids))
        keep = {slot_of(minute + timedelta(minutes=h)) for h in (0, *self.p.horizons)}
        local = minute.astimezone(ZoneInfo(self.p.timezone))
        self._profiles = {k: v for k, v in self._profiles.items() if k in keep}
        return ForecastInputs(
            self.recent(conn, minute).astype(float), self.forecaster.free_flow,
            self.profile(conn, minute),
            {h: self.profile(conn, minute + timedelta(minutes=h)) for h in self.p.horizons},
            age, down, local_minute=float(local.hour * 60 + local.minute))

    # -- the cycle ----------------------------------------------------------------------------
    def due(self, newest: datetime | None) -> bool:
        """Whether a forecast is due for the newest built minute ``newest``."""
        if newest is None:
            return False
        if self.last_issued is None:
            return True
        return newest >= self.last_issued + timedelta(minutes=self.p.interval_min)

    def step(self, conn: psycopg.Connection) -> list[HorizonForecast] | None:
        """Forecast and store once if due; returns the forecasts (None: nothing due)."""
        self.reload_if_changed()
        newest = latest_state_minute(conn)
        if not self.due(newest):
            return None
        assert newest is not None
        fc = self.forecast_at(conn, newest)
        history = int(newest.timestamp() // 60) % self.p.history_every_min == 0
        write_forecasts(conn, self.batch(newest, fc), model=self.model_name, history=history,
                        partitions=self.partitions)  # fmt: skip
        self.last_issued = newest
        return fc

    def forecast_at(self, conn: psycopg.Connection, minute: datetime) -> list[HorizonForecast]:
        """Forecasts issued at ``minute`` (not stored)."""
        return self.forecaster.forecast(self.inputs(conn, minute))

    def batch(self, issued: datetime, fc: list[HorizonForecast]) -> ForecastBatch:
        """The stored form of one issue."""
        ff = np.maximum(self.forecaster.free_flow, 1.0)
        return ForecastBatch(issued, self.ids, [f.horizon_min for f in fc],
                             [f.speed_kmh for f in fc], [f.p10_kmh for f in fc],
                             [f.p90_kmh for f in fc], [f.travel_time_s for f in fc],
                             [raw_level(f.speed_kmh / ff) for f in fc],
                             [f.persistence_kmh for f in fc], [f.historical_kmh for f in fc],
                             [f.basis for f in fc])  # fmt: skip
