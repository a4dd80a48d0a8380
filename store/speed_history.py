"""Seeding speed history: the segment states (and rollups) of a system that has run before."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import psycopg

from roadnet import model as m
from roadnet.model import RoadNetwork
from store.rollups import refresh_dirty_rollups
from store.state_writer import StoreWriter


def seed_free_flow_history(
    conn: psycopg.Connection, network: RoadNetwork, start: datetime, *, hours: float = 2.0
) -> None:
    """Store every segment at its free-flow speed (km/h; travel time in s from length in m)
    one day before the ``hours`` from 30 minutes before ``start`` (UTC-aware): one
    ``probe`` state per segment and 15-minute slot, rolled up."""
    seg = network.segments
    ids = seg[m.SEGMENT_ID].tolist()
    ff = seg[m.FREE_FLOW].to_numpy(float)
    tt = seg[m.LENGTH].to_numpy(float) / ff * 3.6
    first = (start - timedelta(days=1, minutes=30)).replace(second=0, microsecond=0)
    first -= timedelta(minutes=first.minute % 15)
    slots = [first + timedelta(minutes=15 * k) for k in range(int(hours * 4) + 1)]
    ff_list, tt_list = np.asarray(ff).tolist(), np.asarray(tt).tolist()
    rows = [(ids[i], slot, ff_list[i], tt_list[i], ff_list[i], 0, 0, 0, 0.0, 0.5, "probe")
            for slot in slots for i in range(len(ids))]  # fmt: skip
    writer = StoreWriter()
    writer.prepare(conn, "segment_state", slots)
    with conn.transaction():
        writer.write_states(conn, rows)
    if writer.mode(conn) == "plain":
        refresh_dirty_rollups(conn)
