"""Writes the road network into ``road_segment`` (idempotent upsert)."""

from __future__ import annotations

import psycopg
import shapely

from roadnet import model as m
from roadnet.model import RoadNetwork

_COLUMNS = (
    "segment_id, way_id, name, road_class, lanes, oneway, speed_limit_kmh, free_flow_kmh,"
    " length_m, from_node, to_node, geom"
)


def sync_network(conn: psycopg.Connection, network: RoadNetwork) -> int:
    """Upsert every segment of ``network``; returns the number of segments written."""
    seg = network.segments
    wkb = shapely.to_wkb(seg.geometry.values, hex=True, include_srid=False)
    conn.execute(
        "CREATE TEMP TABLE IF NOT EXISTS _road_segment_in"
        " (LIKE road_segment INCLUDING DEFAULTS) ON COMMIT DROP"
    )
    conn.execute("ALTER TABLE _road_segment_in ALTER COLUMN geom TYPE text")
    with conn.cursor().copy(f"COPY _road_segment_in ({_COLUMNS}) FROM STDIN") as copy:
        for row in zip(
            seg[m.SEGMENT_ID],
            seg[m.WAY_ID],
            seg[m.NAME],
            seg[m.ROAD_CLASS],
            seg[m.LANES].astype(int),
            seg[m.ONEWAY].astype(bool),
            seg[m.SPEED_LIMIT].astype(float),
            seg[m.FREE_FLOW].astype(float),
            seg[m.LENGTH].astype(float),
            seg[m.FROM_NODE].astype(int),
            seg[m.TO_NODE].astype(int),
            wkb,
            strict=True,
        ):
            copy.write_row(row)
    conn.execute(
        f"INSERT INTO road_segment ({_COLUMNS})"
        " SELECT segment_id, way_id, name, road_class, lanes, oneway, speed_limit_kmh,"
        " free_flow_kmh, length_m, from_node, to_node, ST_SetSRID(geom::geometry, 4326)"
        " FROM _road_segment_in"
        " ON CONFLICT (segment_id) DO UPDATE SET way_id = EXCLUDED.way_id, name = EXCLUDED.name,"
        " road_class = EXCLUDED.road_class, lanes = EXCLUDED.lanes, oneway = EXCLUDED.oneway,"
        " speed_limit_kmh = EXCLUDED.speed_limit_kmh, free_flow_kmh = EXCLUDED.free_flow_kmh,"
        " length_m = EXCLUDED.length_m, from_node = EXCLUDED.from_node,"
        " to_node = EXCLUDED.to_node, geom = EXCLUDED.geom"
    )
    return len(seg)
