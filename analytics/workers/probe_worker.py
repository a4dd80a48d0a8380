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

import gc
import logging
import pickle
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg

from analytics.mapmatch.fleet import Decided, FleetMatcher, FleetState, PaddedCandidates
from analytics.mapmatch.hmm import MapMatcher, MatchParams
from analytics.presence import PresenceRules, abnormal
from analytics.traversals import (
    FIELDS,
    DwellRules,
    TraversalArrays,
    TraversalJob,
    TraversalTracker,
    plausible_max_kmh,
    traversals_of_jobs,
)
from analytics.workers.processors import Part, ProcessorBase
from ingest.contracts import GpsFix
from roadnet import model as m
from roadnet.model import RoadNetwork
from store.rollups import refresh_dirty_rollups
from store.state_dirty import mark_minutes
from store.state_writer import StoreWriter
from store.traversal_writer import (
    CellRow,
    PresenceRow,
    TraversalRow,
    write_cells,
    write_presence,
    write_traversals,
)

log = logging.getLogger(__name__)
STATE_VERSION = b"probe-state-v2:"


@dataclass
class VehicleTrack:
    """One vehicle: its slot in the partition's :class:`FleetState` and its traversal cursor."""

    vehicle_id: str
    vehicle_type: str
    slot: int
    cursor: TraversalTracker = field(default_factory=TraversalTracker)


@dataclass
class PartitionState:
    """Everything the worker remembers about one partition (seconds since the epoch)."""

    fleet: FleetState
    vehicles: dict[str, VehicleTrack] = field(default_factory=dict)
    by_slot: dict[int, VehicleTrack] = field(default_factory=dict)
    watermark_s: float = -np.inf  # newest fix time seen in the partition
    swept_minute: int = -1  # last stream minute at which idle vehicles were closed
    # space-time cells the vehicles left, not handed out yet, summed per (segment
    # index, minute start s): [distance cm, time ms, vehicle-cells], integers so that sums
    # do not depend on how checkpoints group them; handed out as CellRows numbered
    # ``cell_seq`` when the state is snapshot
    cells: dict[tuple[int, float], list[int]] = field(default_factory=dict)
    cell_seq: int = 0

    def __setstate__(self, state: dict) -> None:
        state.setdefault("cells", {})
        state.setdefault("cell_seq", 0)
        self.__dict__.update(state)


@dataclass
class ProbeCounters:
    """What happened to the fixes since start."""

    fixes: int = 0
    unmatched: int = 0
    stale: int = 0  # duplicates and out-of-order fixes
    traversals: int = 0
    implausible: int = 0  # traversals dropped as faster than plausible (matching artifacts)
    vehicles_closed: int = 0


@dataclass
class ProbeResults:
    """Traversal rows, space-time cells and presence records waiting for a checkpoint."""

    rows: list[TraversalRow]
    presence: list[PresenceRow]
    writer: StoreWriter
    cells: list[CellRow] = field(default_factory=list)

    def prepare(self, conn: psycopg.Connection) -> None:
        """Create the time partitions the rows need (before the transaction)."""
        self.writer.prepare(conn, "probe_traversal", {r.minute for r in self.rows})
        if self.cells:
            self.writer.prepare(conn, "probe_cell", {c.minute for c in self.cells})
        if self.presence:
            self.writer.prepare(conn, "probe_presence", {r.as_of for r in self.presence})

    def store(self, conn: psycopg.Connection) -> None:
        """Write the traversals, cells and presence records and queue the minutes they
        measure (inside the checkpoint transaction)."""
        write_traversals(conn, self.rows)
        write_cells(conn, self.cells)
        write_presence(conn, self.presence)
        mark_minutes(conn, {r.minute for r in self.rows} | {c.minute for c in self.cells})


class ProbeProcessor(ProcessorBase):
    """Matches fixes per vehicle and turns decided fixes into traversal rows.

    A poll is cut where the partition's watermark enters a new minute (idle vehicles are
    closed there, as if fixes were handled one by one); between cuts the k-th fix of every
    vehicle forms round k, and each round goes through the :class:`FleetMatcher` at once.
    At each cut, the vehicles abnormally slow on their current segment (as of their newest
    fix, at the matcher's current best guess) are recorded in ``presence``
    (:mod:`analytics.presence`), stamped with the minute boundary; like the traversals, they
    depend only on the order of the fixes within the partition.

    Capabilities: it maintains rollups and partitions, detaches its results for background
    checkpoints, stamps traversals with when they became known, and keeps per-partition state.
    """

    maintains = True
    detachable = True
    stamps_known_at = True

    def __init__(
        self, network: RoadNetwork, params: MatchParams | None = None, *, lag: int = 4,
        idle_s: float = 300.0, rules: DwellRules | None = None,
        presence_rules: PresenceRules | None = None,
    ) -> None:  # fmt: skip
        self.network = network
        self.cells: list[CellRow] = []  # space-time cells (analytics.space_mean)
        self.matcher = MapMatcher(network, params or MatchParams(sigma_m=10.0))
        self.fleet = FleetMatcher(self.matcher, lag=lag)
        self.idle_s = idle_s
        self.rules = rules or DwellRules()
        self.length = network.segments[m.LENGTH].to_numpy(float)
        self.reverse = network.reverse
        self.segment_ids = network.segments[m.SEGMENT_ID].to_numpy()
        self.free_flow = network.segments[m.FREE_FLOW].to_numpy(float)
        self.max_kmh = plausible_max_kmh(self.free_flow)  # faster traversals are dropped
        self.presence_rules = presence_rules or PresenceRules()
        self.parts: dict[Part, PartitionState] = {}
        self.rows: list[TraversalRow] = []
        self.presence: list[PresenceRow] = []
        self._jobs: list[TraversalJob] = []  # completed segments waiting for _complete()
        self.counters = ProbeCounters()
        self.writer = StoreWriter()

    def _state(self, part: Part) -> PartitionState:
        st = self.parts.get(part)
        if st is None:
            st = self.parts[part] = PartitionState(self.fleet.new_state())
        return st

    # -- processing ----------------------------------------------------------------------
    def process(self, part: Part, fixes: Sequence[GpsFix]) -> None:
        """Match ``fixes`` (one partition, offset order) and collect completed traversals."""
        st = self._state(part)
        n = len(fixes)
        if not n:
            return
        self.counters.fixes += n
        nan = np.nan
        cols = np.array([(f.ts_ms, f.lon, f.lat, nan if f.heading_deg is None else f.heading_deg,
                          nan if f.speed_kmh is None else f.speed_kmh) for f in fixes],
                        float).reshape(n, 5).T  # fmt: skip
        t, heading, speed = cols[0] / 1000.0, cols[3], cols[4]
        x, y = self.network.projector.to_metric(cols[1], cols[2])
        cands = PaddedCandidates.from_flat(self.matcher.candidates(x, y), n,
                                           self.matcher.p.max_candidates)  # fmt: skip
        # where the watermark enters a new minute, idle vehicles are closed
        wm = np.maximum.accumulate(np.concatenate([[st.watermark_s], t]))[1:]
        minute = wm // 60.0
        cuts = np.flatnonzero(minute > np.concatenate([[st.swept_minute], minute[:-1]]))
        start = 0
        for cut in cuts.tolist():
            self._rounds(st, fixes, np.arange(start, cut + 1), t, x, y, heading, speed, cands)
            self._close_idle(st, float(wm[cut]))
            self._record_presence(st, float(minute[cut]) * 60.0)
            start = cut + 1
        if start < n:
            self._rounds(st, fixes, np.arange(start, n), t, x, y, heading, speed, cands)
        self._complete()
        st.watermark_s = float(wm[-1])
        st.swept_minute = max(st.swept_minute, int(minute[-1]))

    def process_known(self, part: Part, fixes: Sequence[GpsFix], at: datetime) -> None:
        """:meth:`process`, stamping the traversals it completes as known at ``at`` (UTC;
        see :mod:`analytics.workers.event_time`)."""
        n0 = len(self.rows)
        self.process(part, fixes)
        rows = self.rows
        if len(rows) > n0:
            rows[n0:] = [r._replace(known_at=at) for r in rows[n0:]]

    def _rounds(
        self, st: PartitionState, fixes: Sequence[GpsFix], rows: np.ndarray, t: np.ndarray,
        x: np.ndarray, y: np.ndarray, heading: np.ndarray, speed: np.ndarray,
        cands: PaddedCandidates,
    ) -> None:  # fmt: skip
        """Match fixes ``rows`` (no idle sweep among them) round by round."""
        vehicles, slot_of = st.vehicles, []
        for i in rows.tolist():
            f = fixes[i]
            vt = vehicles.get(f.vehicle_id)
            if vt is None:
                vt = VehicleTrack(f.vehicle_id, str(f.vehicle_type), st.fleet.add())
                vehicles[f.vehicle_id] = st.by_slot[vt.slot] = vt
            slot_of.append(vt.slot)
        slots = np.array(slot_of, np.int64)
        order = np.argsort(slots, kind="stable")
        ss = slots[order]
        first = np.r_[True, ss[1:] != ss[:-1]]
        rank = np.empty(len(rows), np.int64)
        rank[order] = np.arange(len(rows)) - np.maximum.accumulate(
            np.where(first, np.arange(len(rows)), 0)
        )
        for r in range(int(rank.max()) + 1):
            sel = np.flatnonzero(rank == r)
            i = rows[sel]
            c = cands.take(i)
            stale, decided = self.fleet.push(st.fleet, slots[sel], t[i], x[i], y[i], heading[i],
                                             speed[i], c)  # fmt: skip
            self.counters.stale += int(stale.sum())
            self.counters.unmatched += int(((c.count == 0) & ~stale).sum())
            self._advance(st, decided)

    def _advance(self, st: PartitionState, decided: list[Decided]) -> None:
        """Feed decided fixes to their vehicles' cursors; queue the segments they complete
        (computed in bulk by :meth:`_complete` at the end of the call)."""
        length, jobs = self.length, self._jobs
        buf: list[tuple[int, float, float, float]] = []
        for slot, t, seg, off, path, chain, moving in decided:
            if moving:
                continue
            vt = st.by_slot[slot]
            job = vt.cursor.add_job(chain, t, seg, off, path, length,
                                    is_bus=vt.vehicle_type == "bus", owner=vt,
                                    reverse=self.reverse, cells=buf,
                                    max_still_s=self.rules.max_still_s)  # fmt: skip
            if job is not None:
                jobs.append(job)
        if buf:
            _sum_cells(st.cells, buf)

    def _complete(self) -> None:
        """Traversal rows of every queued job, in one vectorised call."""
        jobs = self._jobs
        if not jobs:
            return
        self._jobs = []
        tr, job = traversals_of_jobs(jobs, self.length, rules=self.rules)
        ok = tr.speed_kmh <= self.max_kmh[tr.segment]
        if not ok.all():
            self.counters.implausible += int((~ok).sum())
            tr, job = TraversalArrays(*(getattr(tr, f)[ok] for f in FIELDS)), job[ok]
        mid = (tr.entry_s + tr.exit_s) / 2.0
        minute = (mid // 60.0) * 60.0
        ts = datetime.fromtimestamp
        for j, s, mi, a, b, v, d in zip(job.tolist(), tr.segment.tolist(), minute.tolist(),
                                        tr.entry_s.tolist(), tr.exit_s.tolist(),
                                        tr.speed_kmh.tolist(), tr.dwell_s.tolist(),
                                        strict=True):  # fmt: skip
            vt = jobs[j].owner
            self.rows.append(TraversalRow(self.segment_ids[s], ts(mi, UTC), vt.vehicle_id,
                                          ts(a, UTC), ts(b, UTC), v, d, vt.vehicle_type))
        self.counters.traversals += len(tr)

    def _close_idle(self, st: PartitionState, watermark_s: float) -> None:
        """Decide and forget vehicles silent for ``idle_s`` of stream time."""
        fl = st.fleet
        idle = np.flatnonzero(fl.in_use & (fl.last_t < watermark_s - self.idle_s))
        self._close(st, idle)

    def _emit_cells(self, part: Part, st: PartitionState) -> None:
        """Hand the partition's cell sums out as rows numbered ``cell_seq`` (a number a
        replay from the last checkpoint has not stored yet) and start new sums."""
        if not st.cells:
            return
        ids, source, seq = self.segment_ids, f"{part[0]}/{part[1]}", st.cell_seq
        at: dict[float, datetime] = {}
        for (seg, minute_s), (cm, ms, n) in st.cells.items():
            when = at.get(minute_s)
            if when is None:
                when = at[minute_s] = datetime.fromtimestamp(minute_s, UTC)
            self.cells.append(CellRow(ids[seg], when, source, seq, cm, ms, n))
        st.cells = {}
        st.cell_seq = seq + 1

    def _close(self, st: PartitionState, slots: np.ndarray) -> None:
        self._advance(st, self.fleet.flush(st.fleet, slots))
        buf: list[tuple[int, float, float, float]] = []
        for slot in slots.tolist():
            vt = st.by_slot.pop(slot)
            vt.cursor.flush_cell(buf)
            del st.vehicles[vt.vehicle_id]
            st.fleet.remove(slot)
        _sum_cells(st.cells, buf)
        self.counters.vehicles_closed += len(slots)

    def _record_presence(self, st: PartitionState, as_of_s: float) -> None:
        """Record the partition's vehicles abnormally slow on their segment at ``as_of_s``,
        each where the matcher now believes it is: its decided fixes followed by the current
        best hypothesis for its pending ones (:meth:`FleetMatcher.tentative`), so up to its
        newest fix rather than 4 fixes behind; depends only on the partition's state."""
        r = self.presence_rules
        still_m, still_mps, crawl = r.still_m, r.still_mps, r.crawl_kmh / 3.6
        pending = self.fleet.tentative(st.fleet, np.flatnonzero(st.fleet.in_use), as_of_s)
        length, got = self.length, []
        for vt in st.vehicles.values():
            cursor = vt.cursor
            more = pending.get(vt.slot)
            if more:
                cursor = cursor.ahead(more, length)
            q = cursor.position(still_m, still_mps, crawl, r.crawl_intervals, r.still_min_s)
            if q is not None:
                got.append((vt, q))
        if not got:
            return
        seg, entry, seen, entry_off, last, off, still, dwell, crawling = (np.array(c) for c in zip(
            *(q for _, q in got), strict=True))  # fmt: skip
        seg = seg.astype(np.int64)
        on = last - entry
        hit = np.flatnonzero(abnormal(on, off - entry_off, still, self.free_flow[seg],
                                      as_of_s - last, r, crawling))  # fmt: skip
        if not len(hit):
            return
        ts = datetime.fromtimestamp
        at = ts(as_of_s, UTC)
        for i in hit.tolist():
            vt = got[i][0]
            self.presence.append(PresenceRow(
                at, self.segment_ids[seg[i]], vt.vehicle_id, vt.vehicle_type,
                ts(float(entry[i]), UTC), bool(seen[i]), ts(float(last[i]), UTC), float(off[i]),
                float(off[i] - entry_off[i]), float(still[i]), float(dwell[i]),
                float(crawling[i]), float(on[i]),
            ))  # fmt: skip

    def close_all(self) -> None:
        """Decide every pending fix of every vehicle (end of a recorded feed)."""
        for part, st in self.parts.items():
            self._close(st, np.flatnonzero(st.fleet.in_use))
            self._emit_cells(part, st)
        self._complete()

    def hand_out_cells(self) -> None:
        """Move every partition's cell sums to the pending results (as a snapshot does)."""
        for part, st in self.parts.items():
            self._emit_cells(part, st)

    # -- results -------------------------------------------------------------------------
    def pending(self) -> int:
        return len(self.rows) + len(self.cells)

    def clear(self) -> None:
        self.rows = []
        self.cells = []
        self.presence = []

    def prepare(self, conn: psycopg.Connection) -> None:
        """Create the time partitions the pending rows need (before the transaction)."""
        ProbeResults(self.rows, self.presence, self.writer, self.cells).prepare(conn)

    def store(self, conn: psycopg.Connection) -> None:
        """Write the pending results (inside the checkpoint transaction)."""
        ProbeResults(self.rows, self.presence, self.writer, self.cells).store(conn)

    def detach(self) -> ProbeResults:
        """Hand the pending results over (to be stored by a checkpoint written in the
        background) and start collecting afresh."""
        out = ProbeResults(self.rows, self.presence, self.writer, self.cells)
        self.clear()
        return out

    def maintain(self, conn: psycopg.Connection) -> None:
        """Refresh dirty rollups and keep partitions two days ahead."""
        refresh_dirty_rollups(conn)
        self.writer.partitions.create_ahead(conn, datetime.now(UTC), ahead=timedelta(days=2))

    # -- state ---------------------------------------------------------------------------
    def snapshot(self, part: Part) -> bytes:
        """The partition's state, serialized (versioned, compressed pickle). The cell sums are
        handed out to the pending results first: the checkpoint that stores this state stores
        them, and the state never holds a cell the store holds."""
        st = self._state(part)
        self._emit_cells(part, st)
        return STATE_VERSION + zlib.compress(pickle.dumps(st, pickle.HIGHEST_PROTOCOL), 1)

    def restore(self, part: Part, blob: bytes | None) -> None:
        """Replace the partition's state with a stored one (fresh when there is none)."""
        st = PartitionState(self.fleet.new_state())
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


def _sum_cells(
    into: dict[tuple[int, float], list[int]], cells: list[tuple[int, float, float, float]]
) -> None:
    """Add vehicles' cells (segment, minute s, distance m, time s) to the sums ``into``
    (centimetres, milliseconds); empties ``cells``."""
    for seg, minute_s, dist, dur in cells:
        cm, ms = round(dist * 100.0), round(dur * 1000.0)
        acc = into.get((seg, minute_s))
        if acc is None:
            into[seg, minute_s] = [cm, ms, 1]
        else:
            acc[0] += cm
            acc[1] += ms
            acc[2] += 1
    cells.clear()


PROBE_GROUP = "itms-probe"


def tune_gc() -> None:
    """Garbage-collector settings for a long-running worker: the objects built at start (the
    network, the distance table) are frozen out of collection, and young collections run
    every 100,000 allocations instead of 700. A poll allocates many short-lived, acyclic
    objects (messages, tuples) that reference counting frees; frequent young collections
    cost ~8 % of the probe worker's time (bench/worker_throughput.py)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)
