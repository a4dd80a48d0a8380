"""Training examples from history days, and training a :class:`ForecastModel` on them.

An example is one segment at one issue time: the features of what was known then
(:func:`analytics.forecast.history.inputs_at`, leave-one-day-out profiles) and, as the
target, the speed published ``horizon`` minutes later as a share of free flow. Only targets
that were published count: the model learns what the state builder will show.
"""

from __future__ import annotations

from collections.abc import Sequence
from zoneinfo import ZoneInfo

import numpy as np

from analytics.forecast.features import HORIZONS_MIN, feature_matrix
from analytics.forecast.history import DayProfiles, HistoryDay, inputs_at, issue_rows
from analytics.forecast.model_file import ForecastModel, TrainParams
from analytics.incidents.corridor import Corridor


def examples(
    days: Sequence[HistoryDay], free_flow: np.ndarray, corridor: Corridor, *, timezone: str,
    horizons: Sequence[int] = HORIZONS_MIN, step_min: int = 5,
) -> dict[int, tuple[np.ndarray, np.ndarray]]:  # fmt: skip
    """Per horizon (features (R, F), target ratio (R,)) from every day's issue times."""
    tz = ZoneInfo(timezone)
    profiles = DayProfiles(days, timezone)
    xs: dict[int, list[np.ndarray]] = {h: [] for h in horizons}
    ys: dict[int, list[np.ndarray]] = {h: [] for h in horizons}
    ff = np.maximum(free_flow, 1.0)
    for k, day in enumerate(days):
        prof = profiles.profile(k)
        for row in issue_rows(day, min(horizons), step_min):
            inp = None
            for h in horizons:
                if row + h >= day.observed.shape[0]:
                    continue
                target = day.observed[row + h] / ff
                ok = np.isfinite(target)
                if not ok.any():
                    continue
                inp = inp or inputs_at(day, row, prof, free_flow, corridor, horizons, tz)
                xs[h].append(feature_matrix(inp, h, corridor.down, corridor.up)[ok])
                ys[h].append(target[ok].astype(np.float32))
    return {h: (np.vstack(xs[h]) if xs[h] else np.zeros((0, 0), np.float32),
                np.concatenate(ys[h]) if ys[h] else np.zeros(0, np.float32))
            for h in horizons}  # fmt: skip


def train_model(
    days: Sequence[HistoryDay], free_flow: np.ndarray, corridor: Corridor, *, fingerprint: str,
    timezone: str, horizons: Sequence[int] = HORIZONS_MIN, step_min: int = 5,
    params: TrainParams | None = None, meta: dict | None = None,
) -> ForecastModel:  # fmt: skip
    """A model trained on ``days`` (see :func:`examples`)."""
    ex = examples(days, free_flow, corridor, timezone=timezone, horizons=horizons,
                  step_min=step_min)  # fmt: skip
    info = {"days": len(days), "examples": {str(h): len(y) for h, (_, y) in ex.items()},
            "first_days": [d.first_minute.isoformat() for d in days[:1]],
            "last_days": [d.first_minute.isoformat() for d in days[-1:]], **(meta or {})}
    return ForecastModel.train(ex, fingerprint=fingerprint, n_segments=len(free_flow),
                               params=params, meta=info)  # fmt: skip
