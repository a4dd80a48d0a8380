"""Probe worker: GPS fixes → nearest segment → per-vehicle, per-minute observations → store.

This is the thin end-to-end slice; map matching replaces the nearest-segment
step in the analytics issue. Run with ``itms worker probe``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg

from analytics.nearest_snap import NearestSnapper, observation_rows
from analytics.network.model import RoadNetwork
from analytics.workers.runner import TransactionalWorker
from analytics.workers.wiring import build_worker
from ingest.contracts import GpsFix
from itms.settings import Settings
from store.probe_writer import ObservationRow, add_observations, refresh_segment_minutes
from store.rollups import refresh_dirty_rollups
from store.state_writer import StoreWriter

log = logging.getLogger(__name__)


@dataclass
class ProbeResult:
    """Observation rows of one batch and how many fixes fell off the network."""

    rows: list[ObservationRow]
    off_network: int


class ProbeProcessor:
    """Pure batch logic of the probe worker (see module docstring)."""

    def __init__(self, network: RoadNetwork, *, max_distance_m: float = 40.0) -> None:
        self.network = network
        self.snapper = NearestSnapper(network, max_distance_m=max_distance_m)
        self.writer = StoreWriter()
        self.off_network = 0

    def process(self, fixes: Sequence[GpsFix]) -> ProbeResult:
        """Snap fixes and sum them per (segment, minute, vehicle)."""
        if not fixes:
            return ProbeResult([], 0)
        # Exact duplicates (same vehicle and time) inside the batch count once.
        unique = list({(f.vehicle_id, f.ts_ms): f for f in fixes}.values())
        lon = np.fromiter((f.lon for f in unique), float, len(unique))
        lat = np.fromiter((f.lat for f in unique), float, len(unique))
        seg = self.snapper.snap(lon, lat)
        rows = observation_rows(
            self.network,
            segment_index=seg,
            vehicle_id=np.array([f.vehicle_id for f in unique], dtype=object),
            vehicle_type=np.array([str(f.vehicle_type) for f in unique], dtype=object),
            ts_ms=np.fromiter((f.ts_ms for f in unique), np.int64, len(unique)),
            speed_kmh=np.fromiter(
                (np.nan if f.speed_kmh is None else f.speed_kmh for f in unique), float, len(unique)
            ),
        )
        off = int((seg < 0).sum())
        self.off_network += off
        return ProbeResult(rows, off)

    def prepare(self, conn: psycopg.Connection, result: ProbeResult) -> None:
        """Create the time partitions the batch needs (before the write transaction)."""
        minutes = {r[1] for r in result.rows}
        self.writer.prepare(conn, "probe_observation", minutes)
        self.writer.prepare(conn, "segment_state", minutes)

    def maintain(self, conn: psycopg.Connection) -> None:
        """Refresh dirty rollups and keep partitions two days ahead."""
        refresh_dirty_rollups(conn)
        self.writer.partitions.create_ahead(conn, datetime.now(UTC), ahead=timedelta(days=2))

    def store(self, conn: psycopg.Connection, result: ProbeResult) -> None:
        """Add the observations and recompute the touched segment minutes.

        Runs inside the worker's checkpoint transaction, so a crash never leaves
        observations without their segment state.
        """
        add_observations(conn, result.rows)
        refresh_segment_minutes(conn, ((r[0], r[1]) for r in result.rows), self.writer)


PROBE_GROUP = "itms-probe"


def build_probe_worker(
    settings: Settings, network: RoadNetwork, *, group: str = PROBE_GROUP
) -> TransactionalWorker:
    """Wire the probe worker to Kafka and the database described by ``settings``."""
    return build_worker(
        settings, feed="gps", group=group, processor=ProbeProcessor(network), stage="probe-worker"
    )
