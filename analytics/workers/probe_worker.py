"""Probe worker: GPS fixes → online map matching → segment traversals → store.

Per partition the worker keeps every vehicle's matching state (the undecided
trellis columns and the streaming traversal cursor). Fixes are handled in
offset order, so the results do not depend on how polls cut the stream; the
partition's state is saved with each checkpoint and restored on assignment,
so a restart or a rebalance continues exactly where the last checkpoint left
off. Traversals are keyed (segment, minute, vehicle, entry time) and written
with ``ON CONFLICT DO NOTHING`` as a second line of defence; their minutes are
queued for the state builder. Contract: fixes of one vehicle share a Kafka
key (the vehicle id) so they land in one partition, in time order; fixes not
newer than the vehicle's last one (duplicates, out of order) are counted and
skipped. Run with ``itms worker probe``.
"""

from __future__ import annotations

import logging
import pickle
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg

from analytics.mapmatch.hmm import MapMatcher, MatchParams
from analytics.mapmatch.online import MatchedFix, OnlineMatcher, VehicleState
from analytics.network import model as m
from analytics.network.model import RoadNetwork
from analytics.traversals import DwellRules, TraversalArrays, TraversalTracker
from analytics.workers.runner import Part, TransactionalWorker
from analytics.workers.wiring import build_worker
from ingest.contracts import GpsFix
from itms.settings import Settings
from store.rollups import refresh_dirty_rollups
from store.state_dirty import mark_minutes
from store.state_writer import StoreWriter
from store.traversal_writer import TraversalRow, write_traversals

log = logging.getLogger(__name__)
STATE_VERSION = b"probe-state-v1:"


@dataclass
class VehicleTrack:
    """One vehicle's matching state and traversal cursor."""

    vehicle_type: str
    match: VehicleState = field(default_factory=VehicleState)
    cursor: TraversalTracker = field(default_factory=TraversalTracker)


@dataclass
class PartitionState:
    """Everything the worker remembers about one partition (seconds since the epoch)."""

    vehicles: dict[str, VehicleTrack] = field(default_factory=dict)
    watermark_s: float = -np.inf  # newest fix time seen in the partition
    swept_minute: int = -1  # last stream minute at which idle vehicles were closed


@dataclass
class ProbeCounters:
    """What happened to the fixes since start."""

    fixes: int = 0
    unmatched: int = 0
    stale: int = 0  # duplicates and out-of-order fixes
    traversals: int = 0
    vehicles_closed: int = 0


class ProbeProcessor:
    """Matches fixes per vehicle and turns decided fixes into traversal rows."""

    def __init__(
        self, network: RoadNetwork, params: MatchParams | None = None, *, lag: int = 4,
        idle_s: float = 300.0, rules: DwellRules | None = None,
    ) -> None:  # fmt: skip
        self.network = network
        self.matcher = MapMatcher(network, params or MatchParams(sigma_m=10.0))
        self.online = OnlineMatcher(self.matcher, lag=lag, max_followers=1)
        self.idle_s = idle_s
        self.rules = rules or DwellRules()
        self.length = network.segments[m.LENGTH].to_numpy(float)
        self.segment_ids = network.segments[m.SEGMENT_ID].to_numpy()
        self.parts: dict[Part, PartitionState] = {}
        self.rows: list[TraversalRow] = []
        self.counters = ProbeCounters()
        self.writer = StoreWriter()

    # -- processing ----------------------------------------------------------------------
    def process(self, part: Part, fixes: Sequence[GpsFix]) -> None:
        """Match ``fixes`` (one partition, offset order) and collect completed traversals."""
        st = self.parts.setdefault(part, PartitionState())
        n = len(fixes)
        if not n:
            return
        self.counters.fixes += n
        lon = np.fromiter((f.lon for f in fixes), float, n)
        lat = np.fromiter((f.lat for f in fixes), float, n)
        x, y = self.network.projector.to_metric(lon, lat)
        cands = self.matcher.candidates(x, y)
        bounds = np.searchsorted(cands.fix, np.arange(n + 1)).tolist()
        heading = np.fromiter((np.nan if f.heading_deg is None else f.heading_deg for f in fixes),
                              float, n).tolist()  # fmt: skip
        speed = np.fromiter((np.nan if f.speed_kmh is None else f.speed_kmh for f in fixes),
                            float, n).tolist()  # fmt: skip
        xs, ys = x.tolist(), y.tolist()
        for i, f in enumerate(fixes):
            t = f.ts_ms / 1000.0
            vt = st.vehicles.get(f.vehicle_id)
            if vt is None:
                vt = st.vehicles[f.vehicle_id] = VehicleTrack(str(f.vehicle_type))
            elif t <= vt.match.last_t:
                self.counters.stale += 1
                continue
            if bounds[i] == bounds[i + 1]:
                self.counters.unmatched += 1
            decided = self.online.push(vt.match, None, t, xs[i], ys[i], heading[i], speed[i],
                                       cands, slice(bounds[i], bounds[i + 1]))  # fmt: skip
            if decided:
                self._advance(f.vehicle_id, vt, decided)
            if t > st.watermark_s:
                st.watermark_s = t
                if int(t // 60) > st.swept_minute:
                    st.swept_minute = int(t // 60)
                    self._close_idle(st)

    def _advance(self, vehicle: str, vt: VehicleTrack, decided: list[MatchedFix]) -> None:
        is_bus = vt.vehicle_type == "bus"
        for d in decided:
            if d.moving_follower:
                continue
            tr = vt.cursor.add(d.chain, d.t, d.segment, d.offset_m, d.path, self.length,
                               is_bus=is_bus, rules=self.rules)  # fmt: skip
            if len(tr):
                self._collect(vehicle, vt.vehicle_type, tr)

    def _collect(self, vehicle: str, vehicle_type: str, tr: TraversalArrays) -> None:
        mid = (tr.entry_s + tr.exit_s) / 2.0
        minute = (mid // 60.0) * 60.0
        for s, mi, a, b, v, d in zip(tr.segment.tolist(), minute.tolist(), tr.entry_s.tolist(),
                                     tr.exit_s.tolist(), tr.speed_kmh.tolist(),
                                     tr.dwell_s.tolist(), strict=True):  # fmt: skip
            self.rows.append((
                self.segment_ids[s], datetime.fromtimestamp(mi, UTC), vehicle,
                datetime.fromtimestamp(a, UTC), datetime.fromtimestamp(b, UTC), v, d,
                vehicle_type,
            ))  # fmt: skip
        self.counters.traversals += len(tr)

    def _close_idle(self, st: PartitionState) -> None:
        """Decide and forget vehicles silent for ``idle_s`` of stream time."""
        horizon = st.watermark_s - self.idle_s
        idle = [v for v, vt in st.vehicles.items() if vt.match.last_t < horizon]
        for v in idle:
            vt = st.vehicles.pop(v)
            self._advance(v, vt, self.online.flush(vt.match))
        self.counters.vehicles_closed += len(idle)

    def close_all(self) -> None:
        """Decide every pending fix of every vehicle (end of a recorded feed)."""
        for st in self.parts.values():
            for v, vt in st.vehicles.items():
                self._advance(v, vt, self.online.flush(vt.match))
            self.counters.vehicles_closed += len(st.vehicles)
            st.vehicles.clear()

    # -- results -------------------------------------------------------------------------
    def pending(self) -> int:
        return len(self.rows)

    def clear(self) -> None:
        self.rows = []

    def prepare(self, conn: psycopg.Connection) -> None:
        """Create the time partitions the pending rows need (before the transaction)."""
        self.writer.prepare(conn, "probe_traversal", {r[1] for r in self.rows})

    def store(self, conn: psycopg.Connection) -> None:
        """Write the traversals and queue their minutes (inside the checkpoint transaction)."""
        write_traversals(conn, self.rows)
        mark_minutes(conn, {r[1] for r in self.rows})

    def maintain(self, conn: psycopg.Connection) -> None:
        """Refresh dirty rollups and keep partitions two days ahead."""
        refresh_dirty_rollups(conn)
        self.writer.partitions.create_ahead(conn, datetime.now(UTC), ahead=timedelta(days=2))

    # -- state ---------------------------------------------------------------------------
    def snapshot(self, part: Part) -> bytes:
        """The partition's state, serialized (versioned, compressed pickle)."""
        st = self.parts.get(part, PartitionState())
        return STATE_VERSION + zlib.compress(pickle.dumps(st, pickle.HIGHEST_PROTOCOL), 1)

    def restore(self, part: Part, blob: bytes | None) -> None:
        """Replace the partition's state with a stored one (fresh when there is none)."""
        st = PartitionState()
        if blob is not None and blob.startswith(STATE_VERSION):
            st = pickle.loads(zlib.decompress(blob[len(STATE_VERSION) :]))
        elif blob is not None:
            log.warning("stored state of %s has an unknown version; starting it fresh", part)
        self.parts[part] = st

    def release(self, part: Part) -> None:
        """Forget a revoked partition."""
        self.parts.pop(part, None)

    def vehicles(self) -> int:
        """Vehicles currently tracked."""
        return sum(len(st.vehicles) for st in self.parts.values())


PROBE_GROUP = "itms-probe"


def build_probe_worker(
    settings: Settings, network: RoadNetwork, *, group: str = PROBE_GROUP,
    checkpoint_every_s: float = 5.0,
) -> TransactionalWorker:  # fmt: skip
    """Wire the probe worker to Kafka and the database described by ``settings``."""
    worker = build_worker(
        settings, feed="gps", group=group, processor=ProbeProcessor(network), stage="probe-worker"
    )
    worker.checkpoint_every_s = checkpoint_every_s
    return worker
