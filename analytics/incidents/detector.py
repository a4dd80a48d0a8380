"""All incident detection methods run together on one decision minute.

:class:`IncidentDetector` holds the per-method state (California #8 and McMaster per
station pair, SND per station, probe speed drop per segment, the stopped-probe test) and
the fusion, and turns each method's alarms into located :class:`Candidate` s. The worker
fills :class:`MinuteInputs` from the database, the evaluation from simulated runs, so both
run exactly this code. Occupancy 0–1, speeds km/h, positions metres along a segment,
coordinates in the network's metric CRS.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely

from analytics.incidents.california8 import California8, California8Params
from analytics.incidents.candidate import Candidate
from analytics.incidents.corridor import Corridor, StationPairs, pair_stations
from analytics.incidents.fusion import Fusion, FusionParams
from analytics.incidents.inputs import PresenceSnapshot
from analytics.incidents.mcmaster import McMaster, McMasterParams
from analytics.incidents.probe_overdue import OverdueParams, ProbeOverdue
from analytics.incidents.probe_speed_drop import ProbeDropParams, ProbeSpeedDrop
from analytics.incidents.probe_stopped_cluster import ProbeStoppedCluster, StoppedClusterParams
from analytics.incidents.recurrence import RecurrenceParams, mark_recurrent
from analytics.incidents.snd import Snd, SndParams
from roadnet import model as m
from roadnet.model import RoadNetwork

METHODS = ("california8", "mcmaster", "snd", "probe_drop", "probe_stopped", "probe_overdue",
           "fused")  # fmt: skip


@dataclass(frozen=True)
class DetectorParams:
    """Every method's parameters, plus how far apart stations may be paired (metres)."""

    california8: California8Params = field(default_factory=California8Params)
    mcmaster: McMasterParams = field(default_factory=McMasterParams)
    snd: SndParams = field(default_factory=SndParams)
    probe_drop: ProbeDropParams = field(default_factory=ProbeDropParams)
    probe_stopped: StoppedClusterParams = field(default_factory=StoppedClusterParams)
    probe_overdue: OverdueParams = field(default_factory=OverdueParams)
    fusion: FusionParams = field(default_factory=FusionParams)
    recurrence: RecurrenceParams = field(default_factory=RecurrenceParams)
    max_station_gap_m: float = 3000.0


@dataclass
class MinuteInputs:
    """Measurements of one decision minute: per station (S) and per segment (N).

    Stations: occupancy, volume (vehicles in the minute), speed, and the occupancy profile
    (mean, standard deviation) of the time-of-day slot. Segments: harmonic-mean probe speed
    and distinct vehicles over the recent traversals, stopped and passing vehicles (stopped =
    stood still at least the stop time), passing vehicles' harmonic-mean speed, and the
    reference speed (time-of-day profile; NaN = unknown, free flow is used). ``presence``: the
    vehicles abnormally slow on their segment at the decision time (None: not known);
    ``segment_cv``: per segment, the learned spread of single vehicles' travel times (NaN or
    None: the methods' default); ``day_speeds``: (D, N) each previous day's speed at this
    time (:mod:`analytics.incidents.recurrence`; None: no history).
    """

    station_occ: np.ndarray
    station_volume: np.ndarray
    station_speed: np.ndarray
    station_occ_mean: np.ndarray
    station_occ_std: np.ndarray
    probe_speed: np.ndarray
    probe_vehicles: np.ndarray
    probe_stopped: np.ndarray
    probe_passing: np.ndarray
    passing_speed: np.ndarray
    reference_speed: np.ndarray
    moving_speed: np.ndarray | None = None  # NaN/None: same as probe_speed
    presence: PresenceSnapshot | None = None
    segment_cv: np.ndarray | None = None
    # segments the probe methods may raise alarms on (None: all); a segment without any
    # reference for the hour (no profile, no recent baseline) on a system without history
    # is not judged: against free flow every recurrent queue would look like an incident;
    # a station alarm there needs corroboration (it cannot be shown unusual for the hour)
    probe_judged: np.ndarray | None = None
    day_speeds: np.ndarray | None = None

    @classmethod
    def empty(cls, n_stations: int, n_segments: int) -> MinuteInputs:
        """No data anywhere (NaN speeds and occupancies, zero counts)."""
        s, n = np.full(n_stations, np.nan), np.full(n_segments, np.nan)
        return cls(s.copy(), np.zeros(n_stations), s.copy(), s.copy(), s.copy(), n.copy(),
                   np.zeros(n_segments), np.zeros(n_segments), np.zeros(n_segments), n.copy(),
                   n.copy())  # fmt: skip


def _pair_evidence(
    ids: Sequence[str] | np.ndarray,
    pr: StationPairs,
    k: int,
    occ_u: np.ndarray,
    occ_d: np.ndarray,
    z_up: np.ndarray,
) -> dict[str, Any]:
    """Evidence of a station-pair alarm: stations, occupancies, upstream z-score."""
    z = float(z_up[k])
    return {"stations": [ids[pr.up[k]], ids[pr.down[k]]], "occ_up": float(occ_u[k]),
            "occ_down": float(occ_d[k]),
            "z_up": round(z, 2) if np.isfinite(z) else None}  # fmt: skip


class IncidentDetector:
    """Runs every method on a minute's inputs; see the module docstring.

    ``geoms_m`` are the segments' metric LineStrings, ``station_segment``/``station_pos_m``
    each station's segment index and offset, ``free_flow_kmh`` per segment.
    """

    def __init__(
        self, geoms_m: np.ndarray, corridor: Corridor, station_segment: np.ndarray,
        station_pos_m: np.ndarray, free_flow_kmh: np.ndarray,
        params: DetectorParams | None = None, *, station_ids: list[str] | None = None,
    ) -> None:  # fmt: skip
        self.p = params or DetectorParams()
        self.geoms = geoms_m
        self.corridor = corridor
        self.free_flow = np.asarray(free_flow_kmh, float)
        self.st_seg = np.asarray(station_segment, np.int64)
        self.st_pos = np.asarray(station_pos_m, float)
        self.station_ids = station_ids or [f"station-{k}" for k in range(len(self.st_seg))]
        self.pairs = pair_stations(corridor, self.st_seg, self.st_pos,
                                   max_gap_m=self.p.max_station_gap_m)  # fmt: skip
        self.cal8 = California8(len(self.pairs), self.p.california8)
        self.mcm = McMaster(len(self.pairs), self.p.mcmaster)
        self.snd = Snd(len(self.st_seg), self.p.snd)
        self.drop = ProbeSpeedDrop(corridor, self.p.probe_drop)
        self.stopped = ProbeStoppedCluster(self.p.probe_stopped)
        self.overdue = ProbeOverdue(corridor, self.p.probe_overdue)
        st_of = dict(zip(self.station_ids, self.st_seg.tolist(), strict=True))
        self.fusion = Fusion(corridor, self.p.fusion, st_of)
        # where a station's alarm is reported: halfway to the next station, else segment end
        self.st_loc_seg = self.st_seg.copy()
        self.st_loc_off = corridor.length_m[self.st_seg].copy()
        has = self.pairs.next_of >= 0
        self.st_loc_seg[has] = self.pairs.mid_segment[self.pairs.next_of[has]]
        self.st_loc_off[has] = self.pairs.mid_offset_m[self.pairs.next_of[has]]

    @classmethod
    def for_network(
        cls, network: RoadNetwork, station_segment: np.ndarray, station_pos_m: np.ndarray,
        params: DetectorParams | None = None, *, free_flow_kmh: np.ndarray | None = None,
        station_ids: list[str] | None = None, corridor: Corridor | None = None,
    ) -> IncidentDetector:  # fmt: skip
        """Detector over a network's segments (free flow from the network unless given)."""
        ff = network.segments[m.FREE_FLOW].to_numpy(float) if free_flow_kmh is None else (
            free_flow_kmh)  # fmt: skip
        return cls(network.geom_m, corridor or Corridor.for_network(network), station_segment,
                   station_pos_m, ff, params, station_ids=station_ids)  # fmt: skip

    def point(self, segment: np.ndarray, offset_m: np.ndarray) -> np.ndarray:
        """(k, 2) metric coordinates of positions along segments."""
        seg = np.asarray(segment, np.int64)
        if len(seg) == 0:
            return np.zeros((0, 2))
        pts = shapely.line_interpolate_point(self.geoms[seg], np.asarray(offset_m, float))
        return shapely.get_coordinates(pts)

    def _cands(
        self,
        method: str,
        seg: np.ndarray,
        off: np.ndarray,
        score: np.ndarray,
        sources: Any,
        **per: Any,
    ) -> list[Candidate]:
        seg = np.asarray(seg, np.int64)
        xy = self.point(seg, off)
        out = []
        for k in range(len(seg)):
            extra = {key: (val[k] if isinstance(val, list | np.ndarray) else val)
                     for key, val in per.items() if key != "evidence"}  # fmt: skip
            ev = per["evidence"][k] if "evidence" in per else {}
            out.append(Candidate(method, int(seg[k]), float(off[k]), float(xy[k, 0]),
                                 float(xy[k, 1]), float(score[k]), frozenset(sources),
                                 evidence=ev, **extra))  # fmt: skip
        return out

    def detect(self, x: MinuteInputs) -> dict[str, list[Candidate]]:
        """Advance every method by one minute; candidates per method, and ``fused``."""
        pr = self.pairs
        out: dict[str, list[Candidate]] = {}
        ids = self.station_ids
        occ_u, occ_d = x.station_occ[pr.up], x.station_occ[pr.down]
        feats = self.cal8.features(occ_u, occ_d)
        z = self.snd.zscore(x.station_occ, x.station_occ_mean, x.station_occ_std)
        z_up = z[pr.up]
        hit = np.flatnonzero(self.cal8.detect(occ_u, occ_d))
        out["california8"] = self._cands(
            "california8", pr.mid_segment[hit], pr.mid_offset_m[hit],
            np.clip(np.nan_to_num(feats["occrdf"][hit]), 0, 1), {"detector"},
            evidence=[_pair_evidence(ids, pr, k, occ_u, occ_d, z_up) for k in hit.tolist()],
        )  # fmt: skip
        ff_st = self.free_flow[self.st_seg]
        state = self.mcm.congested(x.station_occ, x.station_speed, ff_st)
        hit = np.flatnonzero(self.mcm.detect(state[pr.up], state[pr.down]))
        out["mcmaster"] = self._cands(
            "mcmaster", pr.mid_segment[hit], pr.mid_offset_m[hit], np.full(len(hit), 0.5),
            {"detector"},
            evidence=[_pair_evidence(ids, pr, k, occ_u, occ_d, z_up) for k in hit.tolist()],
        )  # fmt: skip
        hit = np.flatnonzero(self.snd.detect(x.station_occ, x.station_occ_mean,
                                             x.station_occ_std))  # fmt: skip
        out["snd"] = self._cands(
            "snd", self.st_loc_seg[hit], self.st_loc_off[hit],
            np.clip(z[hit] / 10.0, 0, 1), {"detector"},
            evidence=[{"station": ids[k], "z": round(float(z[k]), 2),
                       "occ": float(x.station_occ[k])} for k in hit],
        )  # fmt: skip
        ref = np.where(np.isfinite(x.reference_speed), x.reference_speed, self.free_flow)
        heads = self.drop.detect(x.probe_speed, x.probe_vehicles, x.reference_speed,
                                 self.free_flow, moving_kmh=x.moving_speed)  # fmt: skip
        hseg = np.array([h.segment for h in heads], np.int64)
        v = x.probe_speed[hseg] if len(hseg) else np.zeros(0)
        q = np.array([h.queue_m for h in heads])
        with np.errstate(divide="ignore", invalid="ignore"):
            delay = q / 1000.0 * 3600.0 * (1.0 / np.maximum(v, 2.0) - 1.0 / ref[hseg])
        out["probe_drop"] = self._cands(
            "probe_drop", hseg, self.corridor.length_m[hseg] * self.p.probe_drop.head_fraction,
            np.array([1.0 - h.speed_ratio for h in heads]), {"probe"},
            queue_m=q, speed_ratio=np.array([h.speed_ratio for h in heads]),
            delay_s=np.maximum(np.nan_to_num(delay), 0.0),
            evidence=[{"speed_kmh": round(float(v[k]), 1),
                       "reference_kmh": round(float(ref[h.segment]), 1),
                       "vehicles": h.vehicles, "queue_segments": len(h.queue_segments)}
                      for k, h in enumerate(heads)],
        )  # fmt: skip
        hit = np.flatnonzero(self.stopped.detect(x.probe_stopped, x.probe_passing,
                                                 x.passing_speed, ref))  # fmt: skip
        out["probe_stopped"] = self._cands(
            "probe_stopped", hit, self.corridor.length_m[hit] * 0.5, np.full(len(hit), 0.6),
            {"probe"}, kind="stopped_vehicles",
            speed_ratio=(x.passing_speed[hit] / ref[hit]),
            evidence=[{"stopped": int(x.probe_stopped[k]), "passing": int(x.probe_passing[k]),
                       "passing_kmh": round(float(x.passing_speed[k]), 1)} for k in hit],
        )  # fmt: skip
        queues = (self.overdue.detect(x.presence, ref, x.segment_cv, self.free_flow)
                  if x.presence is not None else [])  # fmt: skip
        qseg = np.array([q.segment for q in queues], np.int64)
        out["probe_overdue"] = self._cands(
            "probe_overdue", qseg, np.array([q.offset_m for q in queues]),
            np.array([1.0 - q.pace_ratio for q in queues]), {"probe"},
            queue_m=np.array([q.queue_m for q in queues]),
            speed_ratio=np.array([q.pace_ratio for q in queues]),
            evidence=[{"overdue_vehicles": q.vehicles, "standing": q.standing,
                       "pace_ratio": round(q.pace_ratio, 2),
                       "queue_segments": len(q.queue_segments)} for q in queues],
        )  # fmt: skip
        # what the probes were judged against: the time-of-day profile, or, less sure, the
        # recent baseline of a system without history or the free-flow speed
        basis = np.where(np.isfinite(x.reference_speed), "profile", "free_flow")
        if x.probe_judged is not None:
            basis = np.where(np.isfinite(x.reference_speed), "recent_baseline", "free_flow")
        # a profile of few days is less sure: the days of history at each place and time
        days = (None if x.day_speeds is None or x.probe_judged is not None
                else np.isfinite(x.day_speeds).sum(axis=0))  # fmt: skip
        for method in ("probe_drop", "probe_stopped", "probe_overdue"):
            for c in out[method]:
                c.evidence["reference"] = str(basis[c.segment])
                if days is not None and basis[c.segment] == "profile":
                    c.evidence["reference_days"] = int(days[c.segment])
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = x.probe_speed / ref
            moving = None if x.moving_speed is None else x.moving_speed / ref
        unjudged = None
        if x.probe_judged is not None:  # unjudged: no probe alarm, no probe corroboration
            unjudged = ~np.asarray(x.probe_judged, bool)
            for method in ("probe_drop", "probe_stopped", "probe_overdue"):
                out[method] = [c for c in out[method] if not unjudged[c.segment]]
            ratio = np.where(unjudged, np.nan, ratio)
            moving = None if moving is None else np.where(unjudged, np.nan, moving)
        out["fused"] = self.fusion.combine(out, ratio, x.probe_vehicles, moving,
                                           unjudged=unjudged)  # fmt: skip
        if x.probe_judged is not None:  # no history: every alarm's reference is unsure
            for c in out["fused"]:
                c.evidence["reference"] = str(basis[c.segment])
        for method in ("probe_drop", "probe_stopped", "probe_overdue", "fused"):
            mark_recurrent(out[method], x.day_speeds, x.probe_speed, ref, self.p.recurrence)
        return out

    def decision_units(self) -> dict[str, int]:
        """How many places each method decides on every minute (for false alarms per
        decision): pairs, stations or segments."""
        n = len(self.corridor.down)
        return {
            "california8": len(self.pairs),
            "mcmaster": len(self.pairs),
            "snd": len(self.st_seg),
            "probe_drop": n,
            "probe_stopped": n,
            "probe_overdue": n,
            "fused": n,
        }

    def get_state(self) -> dict:
        """The methods' per-pair/station/segment state (numpy arrays), for checkpoints."""
        return {"stations": list(self.station_ids), "cal8": (self.cal8.state, self.cal8.cw_left,
                self.cal8._docc_hist), "mcmaster": self.mcm.count, "snd": self.snd.count,
                "drop": self.drop.count, "gaps": (self.cal8.gaps.gap, self.mcm.gaps.gap,
                self.snd.gaps.gap, self.drop.gaps.gap)}  # fmt: skip

    def set_state(self, state: dict) -> bool:
        """Restore :meth:`get_state`; ignored (False) when the stations or network changed."""
        if state.get("stations") != list(self.station_ids) or len(state["drop"]) != len(
            self.drop.count
        ):
            return False
        self.cal8.state, self.cal8.cw_left, self.cal8._docc_hist = state["cal8"]
        self.mcm.count, self.snd.count, self.drop.count = (
            state["mcmaster"], state["snd"], state["drop"])  # fmt: skip
        gaps = state.get("gaps") or (None, None, None, None)  # older checkpoints: none
        held = (self.cal8.gaps, self.mcm.gaps, self.snd.gaps, self.drop.gaps)
        for counter, gap in zip(held, gaps, strict=True):
            counter.restore(gap)
        return True
