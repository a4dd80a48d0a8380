"""Forecasts of every segment at every horizon, from the model where it may serve and from a
baseline with a flag saying why where it may not.

Flags (``basis`` per segment): ``model``; ``baseline:no_model`` (no model file, or one that
could not be read); ``baseline:model_other_network`` (a model of another network: never
used); ``baseline:no_history`` (the segment has neither a recent state nor a profile: the
model would extrapolate from nothing). The baseline used is the historical average where
the segment has a profile, else "now persists" (free flow without either). Both baselines
are always computed beside the model. Speeds km/h, travel times s.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from analytics.forecast.baselines import historical_average, persistence
from analytics.forecast.features import HORIZONS_MIN, ForecastInputs, feature_matrix, latest
from analytics.forecast.incident_hold import HoldParams, hold_queues
from analytics.forecast.model_file import ForecastModel, ModelError, ModelMismatch
from analytics.incidents.corridor import Corridor

log = logging.getLogger(__name__)
MODEL = "model"
NO_MODEL = "baseline:no_model"
OTHER_NETWORK = "baseline:model_other_network"
NO_HISTORY = "baseline:no_history"
BASES = (MODEL, NO_MODEL, OTHER_NETWORK, NO_HISTORY)
DEFAULT_HOLD = HoldParams()


@dataclass
class HorizonForecast:
    """One horizon's forecast of every segment (aligned with the network)."""

    horizon_min: int
    speed_kmh: np.ndarray
    p10_kmh: np.ndarray
    p90_kmh: np.ndarray
    travel_time_s: np.ndarray
    basis: np.ndarray  # str per segment, one of BASES
    persistence_kmh: np.ndarray
    historical_kmh: np.ndarray


class Forecaster:
    """Forecasts for one network (its free-flow speeds, lengths and corridor)."""

    def __init__(
        self, free_flow: np.ndarray, length_m: np.ndarray, corridor: Corridor, *,
        fingerprint: str, model: ForecastModel | None = None, model_problem: str = NO_MODEL,
        horizons: tuple[int, ...] = HORIZONS_MIN, hold: HoldParams | None = DEFAULT_HOLD,
    ) -> None:  # fmt: skip
        self.free_flow = np.asarray(free_flow, float)
        self.length = np.asarray(length_m, float)
        self.corridor = corridor
        self.fingerprint = fingerprint
        self.horizons = horizons
        self.hold = hold  # None: blockages' queues are left to the model
        self.model = model
        self.model_problem = model_problem if model is None else MODEL

    def load_model(self, path: str | Path | None) -> str:
        """(Re)load the model file at ``path`` (None: none); returns the resulting basis
        (``model`` or the baseline flag) and logs why a file was refused."""
        if path is None:
            self.model, self.model_problem = None, NO_MODEL
            return self.model_problem
        try:
            self.model = ForecastModel.load(path, fingerprint=self.fingerprint)
            self.model_problem = MODEL
        except ModelMismatch as e:
            log.error("forecast model refused: %s; forecasting the baseline", e)
            self.model, self.model_problem = None, OTHER_NETWORK
        except ModelError as e:
            log.warning("no usable forecast model: %s; forecasting the baseline", e)
            self.model, self.model_problem = None, NO_MODEL
        return self.model_problem

    def forecast(self, inp: ForecastInputs) -> list[HorizonForecast]:
        """Every horizon's forecast of every segment from ``inp``."""
        ff = np.maximum(self.free_flow, 1.0)
        now, _ = latest(inp.recent)
        recent5 = inp.recent[-5:]
        n5 = np.isfinite(recent5).sum(axis=0)
        now_5 = np.where(n5 > 0, np.nansum(recent5, axis=0) / np.maximum(n5, 1), now)
        no_history = ~np.isfinite(now) & ~np.isfinite(inp.profile_now)
        pers = persistence(inp)
        out = []
        for h in self.horizons:
            hist = historical_average(inp, h)
            fallback = np.where(np.isfinite(inp.profile_at[h]), hist, pers)
            basis = np.full(len(ff), self.model_problem, dtype=object)
            speed, p10, p90 = fallback.copy(), np.full(len(ff), np.nan), np.full(len(ff), np.nan)
            if self.model is not None and h in self.model.boosters:
                q = self.model.predict(h, feature_matrix(inp, h, self.corridor.down,
                                                         self.corridor.up))  # fmt: skip
                use = ~no_history
                speed = np.where(use, q["p50"] * ff, fallback)
                p10 = np.where(use, q["p10"] * ff, np.nan)
                p90 = np.where(use, q["p90"] * ff, np.nan)
                if self.hold is not None and np.isfinite(inp.incident_age_min).any():
                    held = hold_queues(speed, now_5, self.free_flow, inp.incident_age_min,
                                       self.corridor, h, self.hold)  # fmt: skip
                    p10 = np.minimum(p10, held)
                    p90 = np.where(held < speed, np.maximum(held, p10), p90)
                    speed = held
                basis[no_history] = NO_HISTORY
            elif self.model is not None:
                basis[:] = NO_MODEL
            tt = self.length / np.maximum(speed, 0.1) * 3.6
            out.append(HorizonForecast(h, speed, p10, p90, tt, basis, pers, hist))
        return out
