"""Speed forecasts scored against simulator truth on multi-day scenarios.

Days come from :mod:`evaluation.forecast_days` (tuning seeds 1–3, held-out seeds 4–5 of a
network and engine). **Tuning** figures are leave-one-day-out over the tuning days: the
model is trained on two of them and scored on the third, three times. **Held-out** figures
train on all three tuning days and score each held-out day once. Profiles (the historical
average) of a scored day come from the days the model was trained on.

Every 5 minutes of a scored day each segment's forecast at +15, +30 and +60 min (the
model, "now persists" and the historical average, all from the published speeds known at
the issue time) is compared with the true space-mean speed at the target minute wherever
the target minute had traffic. Besides all such segment-minutes, the **changes**:
congestion onsets (not congested at issue time, congested at the target: truth below
``congested_ratio`` of free flow) and clearances (the reverse), and incident starts and ends
(segments within ``incident_reach_m`` upstream of an incident, or on it, where the incident
starts, or ends, between the issue and the target time). Incidents are known to the
forecaster ``detect_lag_min`` after they start (the measured time to detect) until they end.
Speeds km/h.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import numpy as np

from analytics.forecast.features import HORIZONS_MIN
from analytics.forecast.forecaster import Forecaster
from analytics.forecast.history import DayProfiles, HistoryDay, inputs_at, issue_rows
from analytics.forecast.incident_hold import HoldParams
from analytics.forecast.model_file import ForecastModel, network_fingerprint
from analytics.forecast.training import train_model
from analytics.incidents.corridor import Corridor
from evaluation.forecast_days import ForecastDay
from roadnet import model as m
from roadnet.model import RoadNetwork

METHODS = ("model", "persistence", "historical_average")
SUBSETS = ("all", "onset", "clearance", "incident start", "incident end")


@dataclass(frozen=True)
class ForecastEvalParams:
    """How forecasts are scored (see the module docstring)."""

    step_min: int = 5
    congested_ratio: float = 0.5
    incident_reach_m: float = 1000.0
    detect_lag_min: int = 6
    timezone: str = "Asia/Ho_Chi_Minh"
    hold: HoldParams | None = field(default_factory=HoldParams)  # None: no incident hold


@dataclass
class Errors:
    """Absolute and squared errors pooled per (horizon, subset, method), and band hits."""

    abs_err: dict[tuple[int, str, str], list[np.ndarray]] = field(default_factory=dict)
    sq_err: dict[tuple[int, str, str], list[np.ndarray]] = field(default_factory=dict)
    in_band: dict[int, list[np.ndarray]] = field(default_factory=dict)

    def add(self, h: int, subset: str, method: str, err: np.ndarray) -> None:
        self.abs_err.setdefault((h, subset, method), []).append(np.abs(err))
        self.sq_err.setdefault((h, subset, method), []).append(err**2)

    def extend(self, other: Errors) -> None:
        for k, v in other.abs_err.items():
            self.abs_err.setdefault(k, []).extend(v)
        for k, v in other.sq_err.items():
            self.sq_err.setdefault(k, []).extend(v)
        for h, v in other.in_band.items():
            self.in_band.setdefault(h, []).extend(v)

    def n(self, h: int, subset: str) -> int:
        return int(sum(len(a) for a in self.abs_err.get((h, subset, "model"), [])))

    def mae(self, h: int, subset: str, method: str) -> float:
        a = self.abs_err.get((h, subset, method), [])
        return float(np.concatenate(a).mean()) if a and sum(map(len, a)) else float("nan")

    def rmse(self, h: int, subset: str, method: str) -> float:
        a = self.sq_err.get((h, subset, method), [])
        return float(np.sqrt(np.concatenate(a).mean())) if a and sum(map(len, a)) else float(
            "nan")  # fmt: skip

    def coverage(self, h: int) -> float:
        a = self.in_band.get(h, [])
        return float(np.concatenate(a).mean()) if a and sum(map(len, a)) else float("nan")


def history_day(day: ForecastDay, detect_lag_min: int) -> HistoryDay:
    """A simulated day as the forecaster knows it: incidents from ``detect_lag_min`` after
    they start until they end."""
    incs = [(i.segment, i.start + detect_lag_min, i.end) for i in day.incidents
            if i.end >= i.start + detect_lag_min]  # fmt: skip
    return HistoryDay(day.first_minute, day.observed.astype(np.float32), incs)


def _incident_zone(corridor: Corridor, day: ForecastDay, reach_m: float) -> list[tuple]:
    return [(np.array([i.segment, *corridor.walk_up(i.segment, reach_m)]), i.start, i.end)
            for i in day.incidents]  # fmt: skip


def score_day(
    forecaster: Forecaster, day: ForecastDay, profile: np.ndarray, corridor: Corridor,
    p: ForecastEvalParams,
) -> Errors:  # fmt: skip
    """Errors of every method on one day (see the module docstring)."""
    tz = ZoneInfo(p.timezone)
    hd = history_day(day, p.detect_lag_min)
    ff = np.maximum(forecaster.free_flow, 1.0)
    zones = _incident_zone(corridor, day, p.incident_reach_m)
    out = Errors()
    horizons = forecaster.horizons
    for row in issue_rows(hd, min(horizons), p.step_min):
        inp = inputs_at(hd, row, profile, forecaster.free_flow, corridor, horizons, tz)
        fc = forecaster.forecast(inp)
        now_true = day.truth[row] / ff
        for f in fc:
            h = f.horizon_min
            if row + h >= day.minutes:
                continue
            truth = day.truth[row + h]
            ok = np.isfinite(truth)
            cong_now = np.isfinite(now_true) & (now_true < p.congested_ratio)
            free_now = np.isfinite(now_true) & (now_true >= p.congested_ratio)
            cong_at = truth / ff < p.congested_ratio
            starts, ends = np.zeros(len(ff), bool), np.zeros(len(ff), bool)
            for segs, s, e in zones:
                if row < s <= row + h:
                    starts[segs] = True
                if row < e <= row + h:
                    ends[segs] = True
            subsets = {"all": ok, "onset": ok & free_now & cong_at,
                       "clearance": ok & cong_now & ~cong_at, "incident start": ok & starts,
                       "incident end": ok & ends}
            preds = {"model": f.speed_kmh, "persistence": f.persistence_kmh,
                     "historical_average": f.historical_kmh}
            for name, mask in subsets.items():
                if mask.any():
                    for meth, pred in preds.items():
                        out.add(h, name, meth, pred[mask] - truth[mask])
            band = ok & np.isfinite(f.p10_kmh)
            out.in_band.setdefault(h, []).append(
                (truth[band] >= f.p10_kmh[band]) & (truth[band] <= f.p90_kmh[band]))
    return out


def _forecaster(network: RoadNetwork, corridor: Corridor, model: ForecastModel,
                p: ForecastEvalParams) -> Forecaster:  # fmt: skip
    seg = network.segments
    return Forecaster(seg[m.FREE_FLOW].to_numpy(float), seg[m.LENGTH].to_numpy(float),
                      corridor, fingerprint=model.fingerprint, model=model,
                      hold=p.hold)  # fmt: skip


def evaluate_split(
    network: RoadNetwork, tuning: Sequence[ForecastDay], held_out: Sequence[ForecastDay],
    p: ForecastEvalParams | None = None, *, progress=print,
) -> tuple[Errors, Errors]:  # fmt: skip
    """(tuning errors: leave-one-day-out over ``tuning``; held-out errors: trained on all of
    ``tuning``, scored on ``held_out``)."""
    p = p or ForecastEvalParams()
    corridor = Corridor.for_network(network)
    ids = network.segments[m.SEGMENT_ID].astype(str).tolist()
    fp = network_fingerprint(ids)
    ff = network.segments[m.FREE_FLOW].to_numpy(float)
    tuning_h = [history_day(d, p.detect_lag_min) for d in tuning]
    tune = Errors()
    for k, day in enumerate(tuning):
        train = [d for j, d in enumerate(tuning_h) if j != k]
        model = train_model(train, ff, corridor, fingerprint=fp, timezone=p.timezone,
                            horizons=HORIZONS_MIN)  # fmt: skip
        prof = DayProfiles(train, p.timezone).profile(-1)
        tune.extend(score_day(_forecaster(network, corridor, model, p), day, prof, corridor, p))
        if progress:
            progress(f"tuning day {day.name} scored")
    held = Errors()
    if held_out:
        model = train_model(tuning_h, ff, corridor, fingerprint=fp, timezone=p.timezone)
        prof = DayProfiles(tuning_h, p.timezone).profile(-1)
        for day in held_out:
            held.extend(score_day(_forecaster(network, corridor, model, p), day, prof, corridor,
                                  p))  # fmt: skip
            if progress:
                progress(f"held-out day {day.name} scored")
    return tune, held


HEADER = ("| horizon | minutes | segment-minutes | model MAE / RMSE | now persists MAE / RMSE"
          " | historical average MAE / RMSE | vs now persists | vs historical | band 10–90 |\n"
          "| ---: | --- | ---: | --- | --- | --- | ---: | ---: | ---: |")  # fmt: skip


def table(errors: Errors, horizons: Sequence[int] = HORIZONS_MIN) -> str:
    """Markdown rows per horizon and subset (MAE km/h, change of the model's MAE vs each
    baseline; band: share of true speeds inside the model's 10th–90th band)."""
    rows = [HEADER]
    for h in horizons:
        for s in SUBSETS:
            n = errors.n(h, s)
            if not n:
                continue
            mae = {meth: errors.mae(h, s, meth) for meth in METHODS}
            rmse = {meth: errors.rmse(h, s, meth) for meth in METHODS}

            def pct(base: str, mae: dict = mae) -> str:
                return f"{(mae['model'] / mae[base] - 1) * 100:+.0f} %"

            band = f"{errors.coverage(h):.2f}" if s == "all" else ""
            rows.append(
                f"| +{h} | {s} | {n:,} | {mae['model']:.2f} / {rmse['model']:.2f}"
                f" | {mae['persistence']:.2f} / {rmse['persistence']:.2f}"
                f" | {mae['historical_average']:.2f} / {rmse['historical_average']:.2f}"
                f" | {pct('persistence')} | {pct('historical_average')} | {band} |")
    return "\n".join(rows)
