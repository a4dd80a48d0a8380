"""Incident worker: detects incidents every minute and keeps their lifecycle (``itms worker
incidents``).

One worker leads per database (session advisory lock; others wait). Each complete minute m is
processed once, in time order, in one transaction:

1. inputs as of the decision time t = m + 1 min (:mod:`analytics.incidents.inputs`):
   detector readings of the minute ``detector_lag_s`` before (in-service detectors of the
   inventory; the readings ending at t are complete only once the next interval's arrive,
   so the newest complete ones end at t − 60 s for 60-s intervals), their occupancy
   profile (mean/std in the 15-minute slot over the last ``profile_days`` days), probe
   traversals known by t (stamped ``known_at`` ≤ t, below; rows without the stamp count
   from their end plus ``availability_lag_s``) over the last minutes, the vehicles the
   probe workers recorded at t as still on a segment and abnormally slow there
   (``probe_presence``, the overdue-probe queues), segment speed profiles
   (``segment_state_15m``), the spread of single vehicles' travel times per segment in the
   slot (``probe_traversal``, same days) and free-flow speeds learned from the data before
   the local day;
2. every method and the fusion (:class:`IncidentDetector`), then the lifecycle tracker on
   the fused candidates (:class:`IncidentTracker`), after taking in what operators did
   (dismissed/resolved incidents are suppressed, confirmations respected, incidents they
   reported themselves absorb the alarms near them instead of being duplicated);
3. the actions stored through :mod:`store.incidents` (incident rows and their update
   history), and the worker's progress (minute + serialized detector and tracker state) in
   ``incident_progress``: a restart or a re-run of a minute never acts twice.

**When a minute is decided (event time).** Not by the wall clock: minute m is decided once
its inputs are durably stored, i.e. once the stored progress of the probe and detector
workers has passed its decision time ``need(m) = t = m + 1 min``. Their checkpoints carry the
newest event time each partition's stored results cover (``consumer_checkpoint.watermark``,
written in the same transaction as the results, :mod:`analytics.workers.runner`), and every
probe traversal carries when it became known (``probe_traversal.known_at``: the partition's
watermark when the vehicle's later fixes decided it, rounded up to a 15-s grid). Minute m is
due when the watermark of every probe partition with data is past t and that of every
detector partition past t − ``detector_lag_s``; it then reads exactly the traversals known by
t, the presence records of t and the readings ending by t − ``detector_lag_s``. Those are
all stored by then, whatever was delayed, killed or restarted, so a disturbed run decides
every minute exactly like an undisturbed one (the fault suite checks this,
docs/RELIABILITY.md), and a live minute is decided as soon as the feeds' stored progress
passes its end (seconds, not the matcher's decision lag). Partitions without any stored
data do not count.

**Fallback** (the one place where a fault can change decisions): a partition whose stored
progress has not moved for ``max_wait_s`` of wall-clock time, as seen by this worker since
it started, is no longer waited for — a silent feed, a partition no vehicle hashes to, or a
worker down for longer than that cannot stall incidents for ever. When no partition is
waited for, the minutes the stored data reaches into are decided (none beyond it: incidents
are not cleared because the sensors went quiet). Faults shorter than ``max_wait_s`` (a
restarted worker, a database or broker outage of a minute) change nothing.

After each commit the new ``incident_update`` rows (seq order) are published on the
``incidents`` topic (key: incident id) and the relay position is stored: at-least-once, a
consumer drops repeats by ``seq``. Times UTC, speeds km/h, occupancy 0–1.

All SQL lives in :mod:`store` (:mod:`store.incident_inputs`, :mod:`store.incident_progress`,
:mod:`store.incident_operators`, :mod:`store.incidents`); a minute's inputs are assembled by
:func:`analytics.incidents.minute_inputs.build_minute_inputs`, shared with the evaluation.
The leader-elected loop (``itms worker incidents``) is
:func:`itms.wiring.incidents.run_incident_worker`.
"""

from __future__ import annotations

import json
import logging
import pickle
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import psycopg

from analytics.incidents.corridor import Corridor
from analytics.incidents.detector import DetectorParams, IncidentDetector, MinuteInputs
from analytics.incidents.lifecycle import Action, IncidentTracker, Track, TrackerParams
from analytics.incidents.minute_inputs import WindowRules, build_minute_inputs
from analytics.incidents.params_file import apply_overrides, load_overrides
from analytics.workers.detector_worker import DETECTOR_GROUP
from analytics.workers.probe_worker import PROBE_GROUP
from roadnet import model as m
from roadnet.model import RoadNetwork
from store import incidents as store
from store.checkpoints import input_watermarks
from store.incident_inputs import (
    Station,
    StationReadings,
    known_traversals,
    occupancy_profile,
    presence_rows,
    recent_baseline,
    station_inventory,
    station_readings,
    travel_time_spread,
)
from store.incident_operators import incident_statuses, reported_incidents
from store.incident_progress import last_minute, load_progress, save_progress
from store.speed_profiles import read_day_speeds, read_free_flow, read_speed_profile, slot_of

log = logging.getLogger(__name__)
LEADER_LOCK = 0x17_75_0007  # advisory lock key: one incident worker per database
WORKER = "incident-worker"
RELAY = "kafka-incidents"
STATE_VERSION = b"incident-state-v1:"
COMPASS = ("northbound", "north-eastbound", "eastbound", "south-eastbound", "southbound",
           "south-westbound", "westbound", "north-westbound")  # fmt: skip


@dataclass(frozen=True)
class IncidentWorkerParams:
    """Knobs of the worker (seconds, minutes, days)."""

    availability_lag_s: float = 45.0  # traversals without known_at count from their end plus this
    # the newest detector readings used end this long before the decision time: those ending
    # at t are known complete only once a later interval's arrive (the readings' interval)
    detector_lag_s: float = 60.0
    max_wait_s: float = 180.0  # inputs without progress this long are not waited for
    windows_min: tuple[int, ...] = (1, 2, 3, 5)
    stop_s: float = 30.0
    recent_exit_s: float = 180.0  # traversals known this recently join overdue-probe queues
    cv_min_samples: int = 30  # traversals of a segment's slot before its learned cv is used
    profile_days: int = 28
    max_catch_up_min: int = 60  # further behind than this: skip ahead to recent minutes
    # a system without speed profiles for the hour (fresh installation, new city) judges
    # probes against each segment's recent baseline: the harmonic-mean traversal speed of the
    # baseline_window_min minutes ending baseline_gap_min before the decision (the gap keeps a
    # developing incident out of its own baseline), from at least baseline_min_traversals
    baseline_window_min: int = 45
    baseline_gap_min: int = 15
    baseline_min_traversals: int = 5
    detector: DetectorParams = field(default_factory=DetectorParams)
    tracker: TrackerParams = field(default_factory=TrackerParams)
    timezone: str = "Asia/Ho_Chi_Minh"


@dataclass(frozen=True)
class InputPartition:
    """Stored progress of one input partition: its watermark (newest event time its stored
    results cover; ``None``: no data yet) and for how long it has not moved (seconds)."""

    name: str
    watermark: datetime | None
    idle_s: float = 0.0
    lead_s: float = 0.0  # the inputs read from it end this long before the decision time


DEFAULT_INPUTS: dict[str, str | None] = {PROBE_GROUP: None, DETECTOR_GROUP: None}
#: A traversal is known this long after its end at most, as far as the windows care (the
#: matcher decides it a few fixes later: ~40-60 s at 10-s sampling, minutes at 60-s).
KNOWN_SLACK = timedelta(minutes=10)


class IncidentService:
    """The worker's logic against one database connection (no Kafka, no clock).

    ``inputs`` are the consumer groups whose stored progress minutes wait for (group → its
    topic, ``None``: any)."""

    def __init__(
        self, network: RoadNetwork, params: IncidentWorkerParams | None = None, *,
        inputs: dict[str, str | None] | None = None,
    ) -> None:  # fmt: skip
        self.p = params or IncidentWorkerParams()
        self.input_groups = dict(DEFAULT_INPUTS if inputs is None else inputs)
        self._seen: dict[tuple[str, str, int], tuple[int, datetime]] = {}
        self._not_waited: frozenset[str] = frozenset()
        self.network = network
        seg = network.segments
        self.ids = seg[m.SEGMENT_ID].to_numpy()
        self.index = {s: i for i, s in enumerate(self.ids)}
        self.names = seg[m.NAME].fillna("").astype(str).to_numpy()
        self.default_ff = seg[m.FREE_FLOW].to_numpy(float)
        self.free_flow = self.default_ff.copy()
        self.corridor = Corridor.for_network(network)
        self.detector: IncidentDetector | None = None
        self.tracker = IncidentTracker(self.corridor.bearing, self.p.tracker,
                                       corridor=self.corridor)
        self._profiles: dict[tuple[str, datetime], np.ndarray] = {}
        self._free_flow_until: datetime | None = None
        self._station_key: tuple[Station, ...] | None = None

    # -- inputs ----------------------------------------------------------------------------
    def _stations(self, conn: psycopg.Connection) -> None:
        rows = [r for r in station_inventory(conn) if r.segment_id in self.index]
        key = tuple(rows)
        if key != self._station_key or self.detector is None:
            self.detector = IncidentDetector(
                self.network.geom_m, self.corridor,
                np.array([self.index[r[1]] for r in rows], np.int64),
                np.array([float(r[2]) for r in rows]), self.free_flow, self.p.detector,
                station_ids=[r[0] for r in rows],
            )  # fmt: skip
            self._station_key = key

    def _speed_profile(self, conn: psycopg.Connection, slot: datetime) -> np.ndarray:
        key = ("speed", slot)
        if key not in self._profiles:
            out = read_speed_profile(conn, slot, self.p.profile_days, self.index,
                                     timezone=self.p.timezone)  # fmt: skip
            self._profiles = {k: v for k, v in self._profiles.items() if k[1] == slot}
            self._profiles[key] = out
        return self._profiles[key]

    def _reference(
        self, conn: psycopg.Connection, minute: datetime
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Reference speed per segment (km/h; NaN: the detector falls back to free flow) and
        the segments probe methods may judge (``None``: all). With a speed profile for the
        hour anywhere in the network, the profile (a quiet segment without one is judged
        against free flow); without any (no history yet), the recent baseline (from the
        traversals known by the decision time), and only segments with one are judged."""
        profile = self._speed_profile(conn, slot_of(minute))
        if np.isfinite(profile).any():
            return profile, None
        p = self.p
        base = recent_baseline(
            conn, minute + timedelta(minutes=1), self.index, window_min=p.baseline_window_min,
            gap_min=p.baseline_gap_min, min_traversals=p.baseline_min_traversals,
            availability_lag_s=p.availability_lag_s,
        )  # fmt: skip
        return base, np.isfinite(base)

    def _segment_cv(self, conn: psycopg.Connection, slot: datetime) -> np.ndarray:
        """Per segment, the spread of single vehicles' travel times in the 15-minute ``slot``
        over the last ``profile_days`` days, robust: (84th − 50th percentile) / median of the
        traversal durations; NaN where fewer than ``cv_min_samples`` traversals exist (the
        methods then use their prior)."""
        key = ("cv", slot)
        if key not in self._profiles:
            self._profiles[key] = travel_time_spread(
                conn, slot, self.p.profile_days, self.index, min_samples=self.p.cv_min_samples
            )
        return self._profiles[key]

    def _day_speeds(self, conn: psycopg.Connection, slot: datetime) -> np.ndarray:
        """Each previous day's slowest speed per segment around ``slot`` (D, N): what
        tells a recurring slowdown (:mod:`analytics.incidents.recurrence`)."""
        key = ("days", slot)
        if key not in self._profiles:
            self._profiles[key] = read_day_speeds(conn, slot, self.p.profile_days, self.index,
                                                  timezone=self.p.timezone)  # fmt: skip
        return self._profiles[key]

    def _occupancy_profile(
        self, conn: psycopg.Connection, slot: datetime
    ) -> tuple[np.ndarray, np.ndarray]:
        assert self.detector is not None
        ids = self.detector.station_ids
        key = ("occ", slot)
        if key not in self._profiles:
            mean, std = occupancy_profile(conn, slot, self.p.profile_days, ids)
            self._profiles[key] = np.vstack([mean, std])
        prof = self._profiles[key]
        return prof[0], prof[1]

    def _learn_free_flow(self, conn: psycopg.Connection, t: datetime) -> None:
        """Free-flow speeds learned (like the state builder's) from the data up to 23:00 local
        time the day before ``t``: the same all day, and all stored long before (the state
        builder's table changes whenever it relearns, which would make decisions depend on
        timing)."""
        tz = ZoneInfo(self.p.timezone)
        day = t.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)
        until = (day - timedelta(hours=1)).astimezone(UTC)
        if until == self._free_flow_until:
            return
        self.free_flow = read_free_flow(
            conn, until, self.index, self.default_ff, days=self.p.profile_days,
            timezone=self.p.timezone,
        )  # fmt: skip
        if self.detector is not None:
            self.detector.free_flow = self.free_flow
        self._free_flow_until = until

    def inputs(self, conn: psycopg.Connection, minute: datetime) -> MinuteInputs:
        """What is known of ``minute`` at its decision time (end of the minute)."""
        self._learn_free_flow(conn, minute)
        self._stations(conn)
        det = self.detector
        assert det is not None
        t = minute + timedelta(minutes=1)
        n_st, n_seg = len(det.station_ids), len(self.ids)
        readings = StationReadings.none()
        occ_mean, occ_std = np.full(n_st, np.nan), np.full(n_st, np.nan)
        if n_st:
            d_lag = timedelta(seconds=self.p.detector_lag_s)
            readings = station_readings(conn, minute - d_lag, t - d_lag, det.station_ids)
            occ_mean, occ_std = self._occupancy_profile(conn, slot_of(minute - d_lag))
        reference, judged = self._reference(conn, minute)
        cv = self._segment_cv(conn, slot_of(minute))
        span_min = max(self.p.windows_min)
        # known by t: stamped known_at <= t (stored once the watermarks passed t), or, for
        # rows without the stamp, ended availability_lag_s before t; older than the longest
        # window plus KNOWN_SLACK after their end they no longer count anyway
        traversals = known_traversals(
            conn, t, self.index, span=timedelta(minutes=span_min), slack=KNOWN_SLACK,
            availability_lag_s=self.p.availability_lag_s,
        )  # fmt: skip
        # vehicles still on a segment and abnormally slow there, as the probe workers
        # recorded them at the decision time (stored once their watermarks passed it)
        present = presence_rows(conn, t)
        rules = WindowRules(windows_min=self.p.windows_min, stop_s=self.p.stop_s,
                            probe_window_s=60.0 * span_min,
                            recent_exit_s=self.p.recent_exit_s)  # fmt: skip
        return build_minute_inputs(
            t.timestamp(), n_st, n_seg, readings=readings, occ_mean=occ_mean, occ_std=occ_std,
            reference_speed=reference, traversals=traversals, rules=rules,
            segment_index=self.index, presence=present, probe_judged=judged, segment_cv=cv,
            day_speeds=self._day_speeds(conn, slot_of(minute)),
        )  # fmt: skip

    # -- state -----------------------------------------------------------------------------
    def load(self, conn: psycopg.Connection) -> datetime | None:
        """Restore the stored progress and state; returns the last processed minute."""
        progress = load_progress(conn, WORKER)
        if progress is None:
            return None
        blob = progress.state
        if blob.startswith(STATE_VERSION):
            state = pickle.loads(zlib.decompress(blob[len(STATE_VERSION) :]))
            self.tracker.tracks = state["tracks"]
            self._stations(conn)
            assert self.detector is not None
            if not self.detector.set_state(state["detector"]):
                log.warning("detector inventory changed: detection state restarts")
        return progress.minute

    def _save(self, conn: psycopg.Connection, minute: datetime) -> None:
        assert self.detector is not None
        state = {"tracks": self.tracker.tracks, "detector": self.detector.get_state()}
        blob = STATE_VERSION + zlib.compress(pickle.dumps(state, pickle.HIGHEST_PROTOCOL), 1)
        save_progress(conn, WORKER, minute, blob)

    # -- one minute ------------------------------------------------------------------------
    def _adopt_reported(self, conn: psycopg.Connection, t: datetime) -> None:
        """Active incidents that others (operators, other systems) reported become tracks
        that absorb the alarms near them: no duplicate, no automatic action on them."""
        reported = reported_incidents(conn, WORKER, list(self.tracker.tracks))
        for iid, seg, lon, lat, started in reported:
            i = self.index.get(seg)
            if i is None:
                continue
            x, y = self.network.projector.to_metric(np.array([lon]), np.array([lat]))
            self.tracker.tracks[iid] = Track(
                incident_id=iid, status="confirmed", segment=i, offset_m=0.0, x=float(x[0]),
                y=float(y[0]), started=min(started, t), last_alarm=t, operator_closed=True,
            )  # fmt: skip

    def _sync_operators(self, conn: psycopg.Connection, t: datetime) -> None:
        self._adopt_reported(conn, t)
        ids = [k for k, tr in self.tracker.tracks.items() if not tr.operator_closed]
        if not ids:
            return
        for iid, status in incident_statuses(conn, ids):
            if status in ("dismissed", "resolved", "cleared"):
                self.tracker.operator_closed(iid, t)
            elif status == "confirmed":
                self.tracker.operator_confirmed(iid)

    def process_minute(self, conn: psycopg.Connection, minute: datetime) -> list[Action]:
        """Detect and store one minute (own transaction); a processed minute is skipped."""
        with conn.transaction():
            done = last_minute(conn, WORKER, for_update=True)
            if done is not None and done >= minute:
                return []
            t = minute + timedelta(minutes=1)
            x = self.inputs(conn, minute)
            assert self.detector is not None
            found = self.detector.detect(x)
            self._sync_operators(conn, t)
            actions = self.tracker.update(t, found["fused"])
            for a in actions:
                self._store(conn, a)
            self._save(conn, minute)
        return actions

    def _fields(self, a: Action) -> dict[str, Any]:
        tr = a.track
        lon, lat = self.network.projector.to_wgs84(np.array([tr.x]), np.array([tr.y]))
        sector = int(((self.corridor.bearing[tr.segment] + 22.5) % 360) // 45)
        evidence = {**tr.evidence, "sources": sorted(tr.sources), "methods": sorted(tr.methods),
                    "score": round(tr.score, 3), "alarm_minutes": tr.alarm_minutes}  # fmt: skip
        return {
            "segment_id": str(self.ids[tr.segment]), "lon": round(float(lon[0]), 7),
            "lat": round(float(lat[0]), 7), "road_name": self.names[tr.segment] or None,
            "direction": COMPASS[sector], "severity": tr.severity, "kind": tr.kind,
            "est_delay_s": None if tr.delay_s is None else round(float(tr.delay_s), 1),
            "queue_m": round(float(tr.queue_m), 1), "evidence": _plain(evidence),
            "method": ",".join(sorted(tr.methods)),
        }  # fmt: skip

    def _store(self, conn: psycopg.Connection, a: Action) -> None:
        f = self._fields(a)
        iid = a.track.incident_id
        try:
            if a.action == "create":
                source = "fused" if len(a.track.sources) > 1 else next(iter(a.track.sources))
                store.create_incident(
                    conn, kind=f["kind"], severity=f["severity"], segment_id=f["segment_id"],
                    lon=f["lon"], lat=f["lat"], road_name=f["road_name"],
                    direction=f["direction"], started_at=a.minute, source=source,
                    evidence=f["evidence"], est_delay_s=f["est_delay_s"], actor=WORKER,
                    incident_id=iid, queue_m=f["queue_m"], method=f["method"],
                    detected_at=a.minute, confidence=a.track.confidence,
                    announced=a.track.announced, note=a.note,
                )  # fmt: skip
            elif a.action == "announce":
                store.apply_action(conn, iid, action="announce", actor=WORKER, at=a.minute,
                                   note=a.note, changes={"announced": True,
                                   "confidence": a.track.confidence})  # fmt: skip
            elif a.action in ("confirm", "clear"):
                store.apply_action(conn, iid, action=a.action, actor=WORKER, at=a.minute,
                                   note=a.note)  # fmt: skip
            else:
                changes = {k: f[k] for k in ("segment_id", "lon", "lat", "road_name",
                                             "direction", "severity", "est_delay_s", "queue_m",
                                             "evidence", "method")}  # fmt: skip
                changes["confidence"] = a.track.confidence
                store.apply_action(conn, iid, action="update", actor=WORKER, at=a.minute,
                                   note=a.note, changes=changes)  # fmt: skip
        except (store.InvalidTransition, store.VersionConflict, store.IncidentNotFound) as exc:
            # an operator acted on it meanwhile: their decision stands
            log.info("incident %s: %s skipped (%s)", iid, a.action, exc)
            self.tracker.operator_closed(iid, a.minute)
        except store.DuplicateIncident:
            log.info("incident %s already stored", iid)

    # -- when minutes are due ----------------------------------------------------------------
    def need(self, minute: datetime) -> datetime:
        """The event time the stored inputs must have passed before ``minute`` is decided:
        its decision time, the end of the minute."""
        return minute + timedelta(minutes=1)

    def input_progress(self, conn: psycopg.Connection, now: datetime) -> list[InputPartition]:
        """The stored progress of every input partition; ``idle_s`` counts from when this
        service first saw its current checkpoint (wall clock ``now``)."""
        out = []
        for group, topic, partition, offset, mark in input_watermarks(conn, self.input_groups):
            key = (group, topic, partition)
            seen = self._seen.get(key)
            if seen is None or seen[0] != offset:
                self._seen[key] = seen = (offset, now)
            lead = self.p.detector_lag_s if group == DETECTOR_GROUP else 0.0
            out.append(InputPartition(f"{topic}[{partition}]", mark,
                                      (now - seen[1]).total_seconds(), lead))  # fmt: skip
        return out

    def ready_until(self, parts: Sequence[InputPartition]) -> datetime | None:
        """The newest minute whose inputs are stored (``None``: no data at all): the newest m
        with ``need(m)`` before the watermark (plus the partition's ``lead_s``: detector
        readings are read ``detector_lag_s`` behind) of every partition with data that is
        waited for, or, when none is (all quiet for ``max_wait_s``), before the newest."""
        marks = [p.watermark + timedelta(seconds=p.lead_s) for p in parts
                 if p.watermark is not None]  # fmt: skip
        if not marks:
            return None
        waited = [p.watermark + timedelta(seconds=p.lead_s) for p in parts
                  if p.watermark is not None and p.idle_s < self.p.max_wait_s]  # fmt: skip
        bound = min(waited) if waited else max(marks)
        latest = bound - timedelta(minutes=1)  # need < bound
        newest = latest.replace(second=0, microsecond=0)
        return newest - timedelta(minutes=1) if newest == latest else newest

    def due_minutes(self, last: datetime | None, parts: Sequence[InputPartition]) -> list[datetime]:
        """Minutes to process after ``last`` given the inputs' progress (oldest first); a
        first run starts ``max_catch_up_min`` minutes before the newest ready minute."""
        newest = self.ready_until(parts)
        if newest is None:
            return []
        back = timedelta(minutes=self.p.max_catch_up_min - 1)
        first = newest - back if last is None else max(last + timedelta(minutes=1), newest - back)
        out = []
        while first <= newest:
            out.append(first)
            first += timedelta(minutes=1)
        return out

    def step(self, conn: psycopg.Connection, now: datetime) -> list[Action]:
        """Process every due minute (``now``: the wall clock, for the fallback only); returns
        their actions."""
        parts = self.input_progress(conn, now)
        quiet = frozenset(p.name for p in parts
                          if p.watermark is not None and p.idle_s >= self.p.max_wait_s)  # fmt: skip
        if quiet != self._not_waited:
            if quiet - self._not_waited:
                log.warning("incident worker: not waiting for %s (no progress for %.0f s)",
                            sorted(quiet - self._not_waited), self.p.max_wait_s)  # fmt: skip
            self._not_waited = quiet
        out: list[Action] = []
        for minute in self.due_minutes(last_minute(conn, WORKER), parts):
            out.extend(self.process_minute(conn, minute))
        return out


def _plain(value: Any) -> Any:
    """JSON-ready copy (numpy scalars to Python numbers, NaN to None)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def relay(conn: psycopg.Connection, send: Callable[[str, bytes], None], flush: Callable[[], None],
          *, relay_name: str = RELAY, batch: int = 500) -> int:  # fmt: skip
    """Publish the stored updates the relay has not published yet (those of incidents kept for
    review are passed over); returns how many were published."""
    total = 0
    while True:
        pos = store.relay_position(conn, relay_name)
        rows = store.updates_after(conn, pos, limit=batch)
        if not rows:
            return total
        for r in rows:
            if not store.is_announced(r):
                continue  # kept for review: published once announced
            send(r["incident_id"], json.dumps(store.event_of(r), separators=(",", ":")).encode())
            total += 1
        flush()
        store.set_relay_position(conn, relay_name, rows[-1]["seq"])


def incident_worker_params(
    timezone: str, max_wait_s: float, path: str | Path | None = None, sets: Iterable[str] = ()
) -> IncidentWorkerParams:
    """The worker's parameters: defaults, the local ``timezone`` (IANA name) and input wait
    ``max_wait_s`` (seconds), then the parameters file ``path`` (format in
    :mod:`analytics.incidents.params_file`), then the ``section.key=value`` ``sets``."""
    base = IncidentWorkerParams(timezone=timezone, max_wait_s=max_wait_s)
    return apply_overrides(base, load_overrides(path, sets))

