"""State builder: per-minute segment state, congestion levels and network KPIs.

One builder runs per database (a session advisory lock elects the leader;
others wait). It takes the minutes queued by the workers (``state_dirty``)
and, for each, in time order and in one transaction:

1. reads probe measurements (completed traversals, and the probes' space-time cells:
   Edie's space-mean speed, vehicles still queued included) and detector measurements of
   the minute and the
   ``smoothing.window_min`` minutes before it (:mod:`store.segment_measurements`);
2. fuses them (:func:`analytics.segment_state.estimate_minute`; ``source`` is
   ``probe``, ``detector`` or ``fused``) with a confidence from the evidence; loop speeds are
   first mapped to segment speeds by each segment's factor, learned hourly from the minutes
   of the last ``detector_calibration_days`` in which probes and loops both timed it
   (:mod:`analytics.detector_calibration`); loops without a factor count as measured, or
   not for speed when ``uncalibrated_detector_speeds`` is off;
3. fills segments without data from their corridor neighbours' recent data
   (:class:`analytics.smoothing.CorridorSmoother`; ``source='smoothed'``) — only from
   data that could be published itself: detector speeds and probe speeds from at least
   ``publish_min_vehicles`` vehicles (the API's privacy threshold);
4. rates congestion against the free-flow speed — learned per segment as the
   85th percentile of off-peak traversal speeds (local hours 22–05, last 28 days,
   at least 50 traversals), the road-class default until then — with hysteresis
   against the stored level of the previous minute;
5. stores the states (``segment_state``, ``segment_current``), the network KPIs
   (``network_kpi``) and publishes the states to the ``segment_state`` topic.

Segments with no measured or smoothed state for ``stale_after_min`` minutes get
their time-of-day profile in ``segment_current`` (harmonic mean of the same
15-minute slot over the previous 28 days of the same type, weekdays or weekends, see
:func:`store.speed_profiles.read_speed_profile`; ``source='profile'``, confidence
``profile_confidence``); profile values are never written into the history.
Rebuilding a minute is idempotent. A minute depends on the measurements of the
``smoothing.window_min`` minutes before it and on the previous minute's levels, so a rebuild
that changes a minute's states queues the already built minutes of that window after it
again: whatever order measurements arrive in, the stored history ends up as if every minute
had been built once with all of them. All SQL lives in :mod:`store`; the leader-elected loop
(``itms worker state``) is :func:`itms.wiring.state.run_state_builder`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg

from analytics import congestion
from analytics.detector_calibration import calibrated, speed_factors
from analytics.segment_state import estimate_minute
from analytics.smoothing import CorridorSmoother, SmoothingParams
from roadnet import model as m
from roadnet.model import RoadNetwork
from store.segment_measurements import WindowInputs, probe_detector_pairs, read_window
from store.segment_state_io import (
    previous_levels,
    requeue_built_after,
    stored_states,
    write_profile_states,
)
from store.speed_profiles import (
    FREE_FLOW_MIN_SAMPLES,
    FREE_FLOW_PERCENTILE,
    read_speed_profile,
    relearn_free_flow,
    slot_of,
    stored_free_flow,
)
from store.state_dirty import queued_minutes, take_minute
from store.state_writer import StateRow, StoreWriter

log = logging.getLogger(__name__)
LEADER_LOCK = 0x17_75_0003  # advisory lock key: one state builder per database
KpiRow = tuple[datetime, float | None, float, float, float, float, int]
"""(minute, avg_speed_kmh, congested_km, vehicle_km, vehicle_hours, delay_vehicle_hours,
segments_with_data), as :data:`store.state_writer.KPI_COLUMNS`."""


@dataclass(frozen=True)
class BuilderParams:
    """Knobs of the state builder (km/h, minutes, 0–1 shares)."""

    detector_weight: float = 3.0  # a detector's speed weighs like this many probe vehicles
    detector_calibration_days: int = 3  # probe/loop minutes a loop's speed factor is learned on
    detector_min_pairs: int = 10  # such minutes needed for a factor
    uncalibrated_detector_speeds: bool = True  # loops without a factor: speed as measured
    smoothing: SmoothingParams = field(default_factory=SmoothingParams)
    smoothed_confidence: float = 0.5  # smoothed states' confidence is scaled by this
    fill_min_ratio: float = 0.6  # slower fills (share of free flow) are not published
    stale_after_min: int = 10
    profile_confidence: float = 0.2
    profile_days: int = 28
    free_flow_min_samples: int = FREE_FLOW_MIN_SAMPLES
    free_flow_percentile: float = FREE_FLOW_PERCENTILE
    probe_share: float = 1.0  # share of all vehicles that are probes (for vehicle-km)
    publish_min_vehicles: int = 1  # probe speeds from fewer vehicles are never smoothed into
    # a neighbour (the privacy threshold: a filled value must not repeat one vehicle's speed)
    timezone: str = "Asia/Ho_Chi_Minh"


@dataclass
class BuiltMinute:
    """What one minute's build produced."""

    minute: datetime
    states: list[StateRow]
    kpi: KpiRow


class StateBuilder:
    """Builds segment states of ``network`` from the stored measurements."""

    def __init__(
        self, network: RoadNetwork, params: BuilderParams | None = None, *,
        publish: Callable[[list[StateRow]], None] | None = None,
    ) -> None:  # fmt: skip
        self.p = params or BuilderParams()
        self.network = network
        seg = network.segments
        self.ids = seg[m.SEGMENT_ID].to_numpy()
        self.index = {s: i for i, s in enumerate(self.ids)}
        self.length = seg[m.LENGTH].to_numpy(float)
        self.default_ff = seg[m.FREE_FLOW].to_numpy(float)
        self.free_flow = self.default_ff.copy()
        self.smoother = CorridorSmoother.for_network(network, self.p.smoothing)
        self.writer = StoreWriter()
        self.publish = publish  # callable(list[StateRow]) or None
        self._free_flow_at: datetime | None = None
        self.detector_factor = np.full(len(self.ids), np.nan)  # per segment; NaN: none yet
        self._profiles: dict[datetime, np.ndarray] = {}

    # -- free flow and profiles ------------------------------------------------------------
    def learn_free_flow(self, conn: psycopg.Connection, until: datetime) -> int:
        """Recompute learned free-flow speeds from off-peak traversals; returns how many."""
        n = relearn_free_flow(conn, until, days=self.p.profile_days, timezone=self.p.timezone,
                              percentile=self.p.free_flow_percentile,
                              min_samples=self.p.free_flow_min_samples)  # fmt: skip
        self.free_flow = stored_free_flow(conn, self.index, self.default_ff)
        self._free_flow_at = until
        return n

    def learn_detector_factors(self, conn: psycopg.Connection, until: datetime) -> int:
        """Relearn the loops' speed factors from the last days' paired minutes; returns how
        many segments have one."""
        seg, probe, det = probe_detector_pairs(
            conn, self.index, until - timedelta(days=self.p.detector_calibration_days), until)
        self.detector_factor = speed_factors(seg, probe, det, len(self.ids),
                                             min_pairs=self.p.detector_min_pairs)  # fmt: skip
        return int(np.isfinite(self.detector_factor).sum())

    def profile(self, conn: psycopg.Connection, minute: datetime) -> np.ndarray:
        """Typical speed of every segment in ``minute``'s 15-minute slot (NaN if unknown)."""
        slot = slot_of(minute)
        if slot not in self._profiles:
            speed = read_speed_profile(conn, slot, self.p.profile_days, self.index,
                                       timezone=self.p.timezone)  # fmt: skip
            self._profiles = {slot: speed}  # keep one slot: the builder moves forward
        return self._profiles[slot]

    # -- building ------------------------------------------------------------------------
    def build_minute(self, conn: psycopg.Connection, minute: datetime) -> BuiltMinute:
        """Compute (not store) the states and KPIs of ``minute``."""
        p = self.p
        w = read_window(conn, self.index, minute, p.smoothing.window_min + 1)
        detector_kmh = calibrated(w.detector_kmh, self.detector_factor[None, :],
                                  uncalibrated=p.uncalibrated_detector_speeds)  # fmt: skip
        now = estimate_minute(w.probe_kmh, w.vehicles, detector_kmh, smoother=self.smoother,
                              free_flow=self.free_flow, detector_weight=p.detector_weight,
                              publish_min_vehicles=p.publish_min_vehicles,
                              smoothed_confidence=p.smoothed_confidence,
                              cell_kmh=w.cell_kmh, cell_vehicles=w.cell_vehicles,
                              fill_min_ratio=p.fill_min_ratio)  # fmt: skip
        speed, conf, source, n_vehicles = now.speed, now.confidence, now.source, now.vehicles
        known = np.isfinite(speed)
        ratio = speed / self.free_flow
        prev = previous_levels(conn, minute - timedelta(minutes=1), self.index)
        est = congestion.CongestionEstimator(len(speed))
        est.level = np.where(prev >= 0, prev, congestion.raw_level(np.nan_to_num(ratio, nan=1.0)))
        level = est.update(np.nan_to_num(ratio, nan=1.0), known)
        jam = congestion.jam_factor(np.nan_to_num(ratio, nan=1.0))
        tt = self.length / np.maximum(speed, 0.1) * 3.6
        states: list[StateRow] = [
            (self.ids[i], minute, float(speed[i]), float(tt[i]), float(self.free_flow[i]),
             int(w.traversals[-1, i] + w.detector_volume[-1, i]), int(n_vehicles[i]),
             int(level[i]), float(jam[i]), float(conf[i]), str(source[i]))
            for i in np.flatnonzero(known)
        ]  # fmt: skip
        return BuiltMinute(minute, states, self._kpi(minute, w, known, speed, tt, level))

    def _kpi(
        self, minute: datetime, w: WindowInputs, known: np.ndarray, speed: np.ndarray,
        tt: np.ndarray, level: np.ndarray,
    ) -> KpiRow:  # fmt: skip
        """Network KPIs: vehicle-km and -hours from flows (detector volume where there is one,
        probe traversals / ``probe_share`` elsewhere), delay against free flow."""
        flow = np.where(w.detector_volume[-1] > 0, w.detector_volume[-1],
                        w.traversals[-1] / self.p.probe_share)  # fmt: skip
        flow = np.where(known, flow, 0.0)
        km = self.length / 1000.0
        vkm = float((flow * km).sum())
        tt = np.where(known, tt, 0.0)  # no flow and no time where the state is unknown (NaN)
        vh = float((flow * tt).sum() / 3600.0)
        tt_ff = self.length / self.free_flow * 3.6
        delay = float((flow * np.maximum(tt - tt_ff, 0.0)).sum() / 3600.0)
        if vh > 0:
            avg = vkm / vh
        elif known.any():
            avg = float(km[known].sum() / (km[known] / speed[known]).sum())
        else:
            avg = None
        congested = float(km[known & (level >= 3)].sum())
        return (minute, avg, congested, vkm, vh, delay, int(known.sum()))

    @staticmethod
    def _differs_from_stored(conn: psycopg.Connection, built: BuiltMinute) -> bool:
        """Whether ``built`` has other states than those stored for its minute (segments,
        speeds at the stored float4 precision, levels, sources); ``True`` for a first build."""
        stored = stored_states(conn, built.minute)
        if len(stored) != len(built.states):
            return True
        for row in built.states:
            old = stored.get(row[0])
            if old is None:
                return True
            if (np.float32(row[2]), row[7], row[10]) != (np.float32(old[0]), old[1], old[2]):
                return True
        return False

    def _requeue_dependents(self, conn: psycopg.Connection, minute: datetime) -> int:
        """Queue again the built minutes whose inputs include ``minute``: the following
        ``smoothing.window_min`` ones (their smoothing window; the first also takes its
        hysteresis from it). Returns how many were queued."""
        return requeue_built_after(conn, minute, self.p.smoothing.window_min)

    def store(self, conn: psycopg.Connection, built: BuiltMinute) -> None:
        """Write one built minute (inside the caller's transaction)."""
        self.writer.write_states(conn, built.states)
        self.writer.write_kpis(conn, [built.kpi])

    def apply_profiles(self, conn: psycopg.Connection, minute: datetime) -> int:
        """Profile states in ``segment_current`` for segments stale at ``minute``."""
        profile = self.profile(conn, minute)
        have = np.isfinite(profile)
        if not have.any():
            return 0
        ratio = profile / self.free_flow
        level = congestion.raw_level(ratio)
        jam = congestion.jam_factor(ratio)
        idx = np.flatnonzero(have)
        stale = minute - timedelta(minutes=self.p.stale_after_min)
        return write_profile_states(
            conn, minute, stale, self.p.profile_confidence, segment_ids=self.ids[idx].tolist(),
            speed_kmh=profile[idx].tolist(),
            travel_time_s=(self.length[idx] / profile[idx] * 3.6).tolist(),
            free_flow_kmh=self.free_flow[idx].tolist(), level=level[idx].tolist(),
            jam_factor=jam[idx].tolist(),
        )  # fmt: skip

    def step(self, conn: psycopg.Connection, *, limit: int = 60) -> list[BuiltMinute]:
        """Build the queued minutes (up to ``limit``), each in its own transaction, which also
        takes the minute off the queue: a builder that fails or is killed half-way leaves
        the minutes it did not commit queued."""
        minutes = queued_minutes(conn, limit=limit)
        if not minutes:
            return []
        self.writer.prepare(conn, "segment_state", minutes)
        self.writer.prepare(conn, "network_kpi", minutes)
        if self._free_flow_at is None or minutes[-1] - self._free_flow_at > timedelta(hours=1):
            with conn.transaction():
                self.learn_free_flow(conn, minutes[-1])
                self.learn_detector_factors(conn, minutes[-1])
        done = []
        for i, minute in enumerate(minutes):
            with conn.transaction():
                if not take_minute(conn, minute):
                    continue
                built = self.build_minute(conn, minute)
                changed = self._differs_from_stored(conn, built)
                self.store(conn, built)
                if changed:
                    self._requeue_dependents(conn, minute)
                if i == len(minutes) - 1:
                    self.apply_profiles(conn, minute)
            done.append(built)
            if self.publish is not None:
                self.publish(built.states)
        return done


def state_message(row: StateRow) -> bytes:
    """JSON of one segment state as published on the ``segment_state`` topic."""
    keys = ("segment_id", "minute", "speed_kmh", "travel_time_s", "free_flow_kmh", "n_samples",
            "n_vehicles", "congestion_level", "jam_factor", "confidence", "source")  # fmt: skip
    d = dict(zip(keys, row, strict=True))
    d["minute"] = row[1].astimezone(UTC).isoformat()
    level = row[7]
    assert level is not None  # built states always have a level
    d["congestion"] = congestion.LEVEL_NAMES[level]
    return json.dumps(d, separators=(",", ":")).encode()

