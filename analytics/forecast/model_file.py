"""The learned forecast model: LightGBM per horizon, its file, and the network it belongs to.

Per horizon three gradient-boosted tree models predict the target time's speed as a share of
free flow: the median (L1 loss: the point forecast) and the 10th and 90th percentiles (the
band). A model file is JSON: the format, the network's fingerprint (a hash of its segment ids
in order, :func:`network_fingerprint`), the feature names, what it was trained on and, per
horizon, the three models as LightGBM text. A model is only ever used on the network whose
fingerprint it carries (:class:`ModelMismatch` otherwise).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np

from analytics.forecast.features import FEATURES

FORMAT = "itms-forecast/1"
QUANTILES = {"p10": 0.1, "p50": 0.5, "p90": 0.9}
MAX_RATIO = 1.5  # forecasts are clipped to [0.02, 1.5] × free flow
MIN_RATIO = 0.02


class ModelError(Exception):
    """A model file that cannot be used: missing, unreadable or of another format."""


class ModelMismatch(ModelError):
    """A model file trained for another network or with other features."""


def network_fingerprint(segment_ids: Sequence[str]) -> str:
    """A hash of the network's segment ids in order: models and forecasts are aligned with it."""
    h = hashlib.sha256()
    for s in segment_ids:
        h.update(str(s).encode())
        h.update(b"\n")
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class TrainParams:
    """LightGBM settings shared by the three models of a horizon."""

    num_leaves: int = 31
    learning_rate: float = 0.05
    rounds: int = 300
    min_data_in_leaf: int = 50
    feature_fraction: float = 0.9
    bagging_fraction: float = 0.8
    seed: int = 1

    def lgb_params(self, objective: str, alpha: float | None = None) -> dict[str, Any]:
        p: dict[str, Any] = {
            "objective": objective, "num_leaves": self.num_leaves,
            "learning_rate": self.learning_rate, "min_data_in_leaf": self.min_data_in_leaf,
            "feature_fraction": self.feature_fraction, "bagging_fraction": self.bagging_fraction,
            "bagging_freq": 1, "seed": self.seed, "verbose": -1, "num_threads": 1,
        }  # fmt: skip
        if alpha is not None:
            p["alpha"] = alpha
        return p


@dataclass
class ForecastModel:
    """Models per horizon (minutes) and quantile name, for the network ``fingerprint``."""

    fingerprint: str
    n_segments: int
    boosters: dict[int, dict[str, lgb.Booster]]
    features: tuple[str, ...] = FEATURES
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def horizons(self) -> tuple[int, ...]:
        return tuple(sorted(self.boosters))

    @classmethod
    def train(
        cls, examples: dict[int, tuple[np.ndarray, np.ndarray]], *, fingerprint: str,
        n_segments: int, params: TrainParams | None = None, meta: dict[str, Any] | None = None,
    ) -> ForecastModel:  # fmt: skip
        """Train on ``examples``: per horizon (features (R, F), target ratio (R,))."""
        p = params or TrainParams()
        boosters: dict[int, dict[str, lgb.Booster]] = {}
        for h, (x, y) in sorted(examples.items()):
            if len(y) == 0:
                raise ModelError(f"no training examples for +{h} min")
            boosters[h] = {}
            for name, q in QUANTILES.items():
                obj, alpha = ("l1", None) if name == "p50" else ("quantile", q)
                ds = lgb.Dataset(x, y, feature_name=list(FEATURES), free_raw_data=False)
                boosters[h][name] = lgb.train(p.lgb_params(obj, alpha), ds,
                                              num_boost_round=p.rounds)  # fmt: skip
        return cls(fingerprint, n_segments, boosters, FEATURES, dict(meta or {}))

    def predict(self, horizon: int, x: np.ndarray) -> dict[str, np.ndarray]:
        """Ratio forecasts (p10 ≤ p50 ≤ p90, clipped) of rows ``x`` at ``horizon``."""
        out = {k: np.clip(b.predict(x, num_threads=1), MIN_RATIO, MAX_RATIO)
               for k, b in self.boosters[horizon].items()}  # fmt: skip
        out["p10"] = np.minimum(out["p10"], out["p50"])
        out["p90"] = np.maximum(out["p90"], out["p50"])
        return out

    def save(self, path: str | Path) -> None:
        """Write the model file (atomically: a reader never sees half a file)."""
        doc = {
            "format": FORMAT, "network": {"fingerprint": self.fingerprint,
                                          "segments": self.n_segments},
            "features": list(self.features), "meta": self.meta,
            "horizons": {str(h): {k: b.model_to_string() for k, b in qs.items()}
                         for h, qs in self.boosters.items()},
        }  # fmt: skip
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(doc), encoding="utf-8")
        tmp.replace(path)

    @classmethod
    def load(cls, path: str | Path, *, fingerprint: str | None = None) -> ForecastModel:
        """Read a model file; with ``fingerprint``, refuse one trained for another network."""
        try:
            doc = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError as e:
            raise ModelError(f"no model file at {path}") from e
        except (OSError, ValueError) as e:
            raise ModelError(f"model file {path} is unreadable: {e}") from e
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise ModelError(f"{path} is not an ITMS forecast model ({FORMAT})")
        net = doc.get("network") or {}
        if fingerprint is not None and net.get("fingerprint") != fingerprint:
            raise ModelMismatch(f"{path} was trained for network {net.get('fingerprint')}"
                                f" ({net.get('segments')} segments), not {fingerprint}")
        if tuple(doc.get("features", ())) != FEATURES:
            raise ModelMismatch(f"{path} reads other features than this version")
        try:
            boosters = {int(h): {k: lgb.Booster(model_str=s) for k, s in qs.items()}
                        for h, qs in doc["horizons"].items()}  # fmt: skip
        except (KeyError, TypeError, ValueError, lgb.basic.LightGBMError) as e:
            raise ModelError(f"model file {path} is damaged: {e}") from e
        return cls(str(net.get("fingerprint")), int(net.get("segments", 0)), boosters,
                   FEATURES, dict(doc.get("meta") or {}))  # fmt: skip
