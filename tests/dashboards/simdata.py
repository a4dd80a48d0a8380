"""Simulated traffic for the dashboard tests: the simulator's traffic model (morning peak on the
Hai Phong demo network, a lane blockage on Lạch Tray) run for the last hour, its per-minute
segment speeds stored as segment states and network KPIs through the store writers; and
short-term forecasts of chosen segments, stored as the forecast worker stores them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg

from analytics.congestion import jam_factor, raw_level
from roadnet import model as m
from roadnet.model import RoadNetwork, load_network
from simulators.traffic.model import Incident, TrafficModel
from store.network_writer import sync_network
from store.state_writer import StoreWriter

INCIDENT_SEGMENT = "lach-tray:1:f"
FORECAST_HORIZONS = (15, 30, 60)
LEVEL_RATIO = (0.9, 0.7, 0.5, 0.3, 0.1)  # speed / free flow in the middle of each level


def seed_traffic(dsn: str, *, minutes: int = 60, now: datetime | None = None) -> RoadNetwork:
    """Store the network and ``minutes`` of simulated states ending at the last full minute.

    Speeds in km/h are the model's space-mean speeds; levels from speed / free flow without
    hysteresis; 6–30 probe vehicles per segment-minute (above the privacy threshold).
    """
    network = load_network()
    now = (now or datetime.now(UTC)).replace(second=0, microsecond=0)
    first = now - timedelta(minutes=minutes)
    traffic = TrafficModel(network, start_local_hour=7.25, seed=7, demand_scale=1.35)
    seg = network.index_of(INCIDENT_SEGMENT)
    length = float(network.segments[m.LENGTH].iloc[seg])
    traffic.add_incident(Incident("sim-1", seg, 0.8 * length, 15 * 60.0, 50 * 60.0,
                                  "lane_blockage", 2))  # fmt: skip
    ids = network.segments[m.SEGMENT_ID].to_numpy(object)
    lengths = network.segments[m.LENGTH].to_numpy(float)
    free_flow = traffic.free_flow
    rng = np.random.default_rng(3)
    states, kpis = [], []
    for k in range(minutes):
        minute = first + timedelta(minutes=k)
        for _ in range(6):
            traffic.step()
        speed = traffic.space_mean_speed()
        ratio = speed / free_flow
        level = raw_level(ratio)
        jam = jam_factor(ratio)
        vehicles = rng.integers(6, 30, len(ids))
        tt = 3.6 * lengths / speed
        for i, sid in enumerate(ids):
            states.append((sid, minute, float(speed[i]), float(tt[i]), float(free_flow[i]),
                           int(vehicles[i]) * 2, int(vehicles[i]), int(level[i]),
                           float(jam[i]), 0.9, "fused"))  # fmt: skip
        veh_km = float((traffic.demand * lengths / 1000.0).sum() / 60.0)
        veh_h = float((traffic.demand * tt / 3600.0).sum() / 60.0)
        free_h = float((traffic.demand * 3.6 * lengths / free_flow / 3600.0).sum() / 60.0)
        kpis.append((minute, veh_km / veh_h, float(lengths[level >= 3].sum() / 1000.0), veh_km,
                     veh_h, veh_h - free_h, len(ids)))  # fmt: skip
    writer = StoreWriter()
    with psycopg.connect(dsn) as conn:
        sync_network(conn, network)
        conn.commit()
        writer.prepare(conn, "segment_state", {r[1] for r in states})
        writer.prepare(conn, "network_kpi", {r[0] for r in kpis})
        writer.write_states(conn, states)
        writer.write_kpis(conn, kpis)
    return network


def current_levels(dsn: str) -> dict[str, int]:
    """Stored current congestion level per segment."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT segment_id, congestion_level FROM segment_current").fetchall()
    return {r[0]: r[1] for r in rows}


def seed_forecasts(
    dsn: str, segment_ids: Iterable[str], *, issued_at: datetime | None = None,
    basis: str = "model",
) -> dict[str, int]:  # fmt: skip
    """Store +15/+30/+60 min forecasts of ``segment_ids`` in ``segment_forecast_current``:
    each segment two congestion levels on from its current one (so the map visibly changes),
    the model's with a 10–90 % band, a baseline's without; ``issued_at`` default: this minute.
    Returns the forecast level of each segment."""
    issued = (issued_at or datetime.now(UTC)).replace(second=0, microsecond=0)
    model = "forecast.json@test" if basis == "model" else "no model file"
    levels: dict[str, int] = {}
    rows = []
    with psycopg.connect(dsn) as conn:
        segments = conn.execute(
            "SELECT s.segment_id, s.free_flow_kmh, s.length_m, c.speed_kmh, c.congestion_level"
            " FROM road_segment s LEFT JOIN segment_current c USING (segment_id)"
            " WHERE s.segment_id = ANY(%s)", (list(segment_ids),),
        ).fetchall()  # fmt: skip
        for sid, free_flow, length, now_kmh, now_level in segments:
            level = levels[sid] = ((now_level or 0) + 2) % 5
            speed = free_flow * LEVEL_RATIO[level]
            p10, p90 = (0.75 * speed, min(free_flow, 1.25 * speed)) if basis == "model" else (
                None, None)  # fmt: skip
            for h in FORECAST_HORIZONS:
                rows.append((sid, issued, h, issued + timedelta(minutes=h), speed, p10, p90,
                             3.6 * length / speed, level, now_kmh, 0.8 * free_flow, basis,
                             model))  # fmt: skip
        conn.execute("DELETE FROM segment_forecast_current WHERE segment_id = ANY(%s)",
                     (list(levels),))  # fmt: skip
        conn.cursor().executemany(
            "INSERT INTO segment_forecast_current (segment_id, issued_at, horizon_min, target_at,"
            " speed_kmh, p10_kmh, p90_kmh, travel_time_s, congestion_level, persistence_kmh,"
            " historical_kmh, basis, model) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,"
            " %s, %s)", rows,
        )  # fmt: skip
    return levels
