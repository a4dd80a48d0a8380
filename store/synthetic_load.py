"""Synthetic data for store benchmarks: a grid of road segments and a day of 5-minute rollups."""

from __future__ import annotations

from datetime import datetime

import psycopg


def insert_grid_segments(conn: psycopg.Connection, n: int) -> None:
    """Insert ``n`` primary segments ``seg-00000``… (50 km/h, 300 m) on a 100-wide grid of
    0.002° steps from (106.6 E, 20.8 N), WGS 84."""
    conn.execute(
        "INSERT INTO road_segment (segment_id, road_class, free_flow_kmh, length_m, from_node,"
        " to_node, geom) SELECT 'seg-' || lpad(i::text, 5, '0'), 'primary', 50, 300, i, i + 1,"
        " ST_SetSRID(ST_MakeLine("
        " ST_MakePoint(106.6 + (i %% 100) * 0.002, 20.8 + (i / 100) * 0.002),"
        " ST_MakePoint(106.601 + (i %% 100) * 0.002, 20.8 + (i / 100) * 0.002)), 4326)"
        " FROM generate_series(0, %s) i",
        (n - 1,),
    )


def fill_random_5m_rollups(conn: psycopg.Connection, start: datetime, end: datetime) -> None:
    """A random 5-minute rollup (20–50 km/h) for every stored segment and bucket in
    [``start``, ``end``); existing buckets are left unchanged. Partitions must exist."""
    conn.execute(
        "INSERT INTO segment_state_5m SELECT s.segment_id, b, 20 + random() * 30, 60, 5, 3, 1,"
        " 2, 0.8, 5 FROM road_segment s, generate_series(%s::timestamptz, %s::timestamptz"
        " - interval '5 minutes', interval '5 minutes') b ON CONFLICT DO NOTHING",
        (start, end),
    )


def insert_named_segments_with_state(conn: psycopg.Connection, n: int) -> None:
    """Insert ``n`` named segments ``seg-00000``… of mixed classes (50 km/h, 300 m, 0.002° grid
    from (106.6 E, 20.8 N), WGS 84) and a random current state for each (API load tests)."""
    conn.execute(
        "INSERT INTO road_segment (segment_id, name, road_class, free_flow_kmh, length_m,"
        " from_node, to_node, geom) SELECT 'seg-' || lpad(i::text, 5, '0'), 'Đường ' || i,"
        " (ARRAY['primary','secondary','tertiary','trunk'])[1 + i %% 4], 50, 300, i, i + 1,"
        " ST_SetSRID(ST_MakeLine("
        " ST_MakePoint(106.6 + (i %% 100) * 0.002, 20.8 + (i / 100) * 0.002),"
        " ST_MakePoint(106.601 + (i %% 100) * 0.002, 20.8 + (i / 100) * 0.002)), 4326)"
        " FROM generate_series(0, %s) i",
        (n - 1,),
    )
    conn.execute(
        "INSERT INTO segment_current (segment_id, minute, speed_kmh, travel_time_s,"
        " free_flow_kmh, n_samples, n_vehicles, congestion_level, jam_factor, confidence,"
        " source) SELECT segment_id, date_trunc('minute', now()), 10 + random() * 40,"
        " 30, 50, 6, 1 + (random() * 6)::int, (random() * 4)::int, random() * 10, 0.8,"
        " 'probe' FROM road_segment"
    )


def insert_current_forecasts(conn: psycopg.Connection, issued_at: datetime) -> None:
    """A random model forecast at +15, +30 and +60 min for every stored segment, issued at
    ``issued_at`` (``segment_forecast_current``; API load tests)."""
    conn.execute(
        "INSERT INTO segment_forecast_current (segment_id, issued_at, horizon_min, target_at,"
        " speed_kmh, p10_kmh, p90_kmh, travel_time_s, congestion_level, persistence_kmh,"
        " historical_kmh, basis, model) SELECT s.segment_id, %s, h, %s + make_interval(mins"
        " => h), v, v * 0.7, v * 1.2, 300 / v * 3.6, 1, v, v, 'model', 'bench' FROM"
        " road_segment s, unnest(ARRAY[15, 30, 60]) h, LATERAL (SELECT 10 + random() * 40"
        " + h * 0 AS v) r ON CONFLICT DO NOTHING",
        (issued_at, issued_at),
    )


def mark_minutes_built(conn: psycopg.Connection, minutes: list[datetime]) -> None:
    """Record ``minutes`` as built by the state builder (``network_kpi`` rows; benchmarks)."""
    conn.execute("INSERT INTO network_kpi (minute, segments_with_data) SELECT m, 1 FROM"
                 " unnest(%s::timestamptz[]) m ON CONFLICT DO NOTHING", (minutes,))  # fmt: skip


def unmark_minutes_built_after(conn: psycopg.Connection, minute: datetime) -> None:
    """Forget that the minutes after ``minute`` were built (benchmarks)."""
    conn.execute("DELETE FROM network_kpi WHERE minute > %s", (minute,))
