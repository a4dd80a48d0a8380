"""Published segment speeds by source against truth: what the state builder would publish
for every segment and minute of a run, scored per source.

The inputs are those the state builder reads from the store (:mod:`store.segment_measurements`):
per segment and minute the probe traversals' harmonic-mean speed and distinct vehicles (from
the worker's online path), and the loops' speed (volume-weighted harmonic mean of their
time-mean speeds, :func:`evaluation.detector_speed_score.detector_minute_speeds`). Each minute
is then estimated as the state builder does (:func:`analytics.segment_state.estimate_minute`:
fused where measured, smoothed from the corridor elsewhere; loop speeds calibrated per segment
when factors learned on another day are given, :mod:`analytics.detector_calibration`) and
compared with the true
all-vehicle space-mean speed of the segment-minute. Coverage: scored segment-minutes as a
share of all segment-minutes with true traffic. Speeds km/h.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from analytics.detector_calibration import calibrated, speed_factors
from analytics.segment_state import estimate_minute
from analytics.smoothing import CorridorSmoother, SmoothingParams
from evaluation.detector_speed_score import SourceScore, detector_minute_speeds
from roadnet import model as m
from roadnet.model import RoadNetwork
from store.segment_measurements import MIN_CELL_TIME_S

SOURCES = ("probe", "detector", "fused", "measured", "smoothed", "all")
"""Published sources, ``measured`` being the first three together."""
MEASURED = ("probe", "detector", "fused")


def published_speeds(
    run_dir: str | Path, network: RoadNetwork, probe: pd.DataFrame, *,
    smoothing: SmoothingParams | None = None, detector_factor: np.ndarray | None = None,
    cells: pd.DataFrame | None = None,
) -> pd.DataFrame:  # fmt: skip
    """Per segment and minute of the run's truth: the speed the state builder would publish
    and its source. ``probe``: ``segment_id``, ``minute`` (UTC), ``vehicles``, ``hm`` (km/h);
    ``detector_factor``: per segment (NaN: none), or ``None`` for loop speeds as measured;
    ``cells``: Edie's speeds (:func:`cell_speeds`), or ``None`` for traversals alone."""
    run_dir = Path(run_dir)
    truth = pd.read_csv(run_dir / "truth" / "segment_speeds.csv", parse_dates=["minute"])
    minutes = pd.date_range(truth["minute"].min(), truth["minute"].max(), freq="min")
    ids = network.segments[m.SEGMENT_ID].astype(str).to_numpy()
    col = pd.Index(ids)
    shape = (len(minutes), len(ids))
    probe_kmh, vehicles, detector_kmh = np.full(shape, np.nan), np.zeros(shape), np.full(
        shape, np.nan)  # fmt: skip
    if len(probe):
        r, c = minutes.get_indexer(pd.to_datetime(probe["minute"], utc=True)), col.get_indexer(
            probe["segment_id"].astype(str))  # fmt: skip
        ok = (r >= 0) & (c >= 0)
        probe_kmh[r[ok], c[ok]] = probe["hm"].to_numpy(float)[ok]
        vehicles[r[ok], c[ok]] = probe["vehicles"].to_numpy(float)[ok]
    cell_kmh, cell_vehicles = np.full(shape, np.nan), np.zeros(shape)
    if cells is not None and len(cells):
        r, c = minutes.get_indexer(pd.to_datetime(cells["minute"], utc=True)), col.get_indexer(
            cells["segment_id"].astype(str))  # fmt: skip
        ok = (r >= 0) & (c >= 0)
        cell_kmh[r[ok], c[ok]] = cells["kmh"].to_numpy(float)[ok]
        cell_vehicles[r[ok], c[ok]] = cells["vehicles"].to_numpy(float)[ok]
    det = detector_minute_speeds(run_dir)
    if len(det):
        r, c = minutes.get_indexer(det["minute"]), col.get_indexer(det["segment_id"].astype(str))
        ok = (r >= 0) & (c >= 0)
        detector_kmh[r[ok], c[ok]] = det["kmh"].to_numpy(float)[ok]
    if detector_factor is not None:
        detector_kmh = calibrated(detector_kmh, detector_factor[None, :])
    p = smoothing or SmoothingParams()
    smoother = CorridorSmoother.for_network(network, p)
    free_flow = network.segments[m.FREE_FLOW].to_numpy(float)
    pad = p.window_min  # the first minutes see a window that starts before the run
    probe_kmh = np.vstack([np.full((pad, len(ids)), np.nan), probe_kmh])
    vehicles = np.vstack([np.zeros((pad, len(ids))), vehicles])
    detector_kmh = np.vstack([np.full((pad, len(ids)), np.nan), detector_kmh])
    cell_kmh = np.vstack([np.full((pad, len(ids)), np.nan), cell_kmh])
    cell_vehicles = np.vstack([np.zeros((pad, len(ids))), cell_vehicles])
    frames = []
    for t in range(len(minutes)):
        w = slice(t, t + pad + 1)
        est = estimate_minute(probe_kmh[w], vehicles[w], detector_kmh[w], smoother=smoother,
                              free_flow=free_flow, cell_kmh=cell_kmh[w],
                              cell_vehicles=cell_vehicles[w])  # fmt: skip
        known = np.flatnonzero(np.isfinite(est.speed))
        frames.append(pd.DataFrame({"segment_id": ids[known], "minute": minutes[t],
                                    "kmh": est.speed[known], "source": est.source[known]}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["segment_id", "minute", "kmh", "source"])  # fmt: skip


def cell_speeds(cells: list) -> pd.DataFrame:
    """Edie's space-mean speed per segment-minute from the probe worker's cell sums
    (:class:`store.traversal_writer.CellRow`), as :func:`store.segment_measurements.read_window`
    forms it: ``segment_id``, ``minute``, ``kmh``, ``vehicles``."""
    c = pd.DataFrame(cells, columns=["segment_id", "minute", "source", "seq", "cm", "ms",
                                     "n"])  # fmt: skip
    agg = c.groupby(["segment_id", "minute"]).agg(
        d=("cm", "sum"), t=("ms", "sum"), vehicles=("n", "sum"))
    agg = agg[agg["t"] >= MIN_CELL_TIME_S * 1000.0].reset_index()
    agg["kmh"] = agg["d"] / agg["t"] * 36.0
    return agg[["segment_id", "minute", "kmh", "vehicles"]]


def learned_factors(
    run_dir: str | Path, network: RoadNetwork, probe: pd.DataFrame, *, min_vehicles: int = 1,
    min_pairs: int = 10,
) -> np.ndarray:  # fmt: skip
    """Detector speed factors learned on a run (a history day): its minutes in which probes of
    at least ``min_vehicles`` vehicles and loops both timed a segment."""
    det = detector_minute_speeds(run_dir)
    ids = network.segments[m.SEGMENT_ID].astype(str)
    pairs = probe[probe["vehicles"] >= min_vehicles].assign(
        minute=lambda f: pd.to_datetime(f["minute"], utc=True)).merge(
        det, on=["segment_id", "minute"])  # fmt: skip
    index = pd.Index(ids).get_indexer(pairs["segment_id"].astype(str))
    return speed_factors(index, pairs["hm"].to_numpy(float), pairs["kmh"].to_numpy(float),
                         len(ids), min_pairs=min_pairs)  # fmt: skip


def source_scores(run_dir: str | Path, published: pd.DataFrame) -> dict[str, SourceScore]:
    """MAE, bias and coverage of the published speeds per source and in all (``all``)."""
    truth = pd.read_csv(Path(run_dir) / "truth" / "segment_speeds.csv", parse_dates=["minute"])
    j = published.merge(truth[["segment_id", "minute", "speed_kmh"]],
                        on=["segment_id", "minute"])  # fmt: skip
    out = {}
    for source in SOURCES:
        if source == "all":
            s = j
        elif source == "measured":
            s = j[j["source"].isin(MEASURED)]
        else:
            s = j[j["source"] == source]
        err = s["kmh"] - s["speed_kmh"]
        out[source] = SourceScore(len(s), len(s) / max(len(truth), 1),
                                  float(err.abs().mean()) if len(s) else float("nan"),
                                  float(err.mean()) if len(s) else float("nan"))  # fmt: skip
    return out
