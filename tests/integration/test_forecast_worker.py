"""The forecast worker on the real database: trained from stored history by `itms forecast
train`, forecasts stored and served by the API; baselines with a flag when the model is
missing or of another network, or a segment has no history."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg
import pytest

from analytics.forecast.forecaster import MODEL, NO_HISTORY, NO_MODEL, OTHER_NETWORK
from analytics.workers.forecast_worker import ForecastParams, ForecastWorker
from itms.cli import main as itms_main
from roadnet import load_network
from roadnet import model as m
from store.network_writer import sync_network
from store.rollups import refresh_dirty_rollups
from store.state_writer import StoreWriter

pytestmark = pytest.mark.integration
DAY0 = datetime(2026, 11, 30, 23, 0, tzinfo=UTC)  # 06:00 in Hai Phong
NOW = DAY0 + timedelta(days=2, minutes=60)  # the third morning, 07:00 local


@pytest.fixture(scope="module")
def network():
    return load_network()


def _speeds(network, day: int, minutes: int) -> np.ndarray:
    """(minutes, N) km/h: a morning dip whose depth differs per day, and noise."""
    rng = np.random.default_rng(day)
    ff = network.segments[m.FREE_FLOW].to_numpy(float)
    t = np.arange(minutes)[:, None]
    dip = (0.3 + 0.2 * day) * np.clip(np.minimum((t - 40) / 20, (160 - t) / 40), 0, 1)
    return ff[None, :] * (1 - dip) * rng.uniform(0.9, 1.0, (minutes, len(ff)))


def _store_day(conn, network, start: datetime, speeds: np.ndarray, skip: set[int]) -> None:
    ids = network.segments[m.SEGMENT_ID].astype(str).tolist()
    ff = network.segments[m.FREE_FLOW].to_numpy(float)
    ln = network.segments[m.LENGTH].to_numpy(float)
    rows = [(ids[i], start + timedelta(minutes=k), float(v), float(ln[i] / v * 3.6),
             float(ff[i]), 3, 3, 0, 0.0, 0.8, "probe")
            for k, row in enumerate(speeds) for i, v in enumerate(row) if i not in skip]
    writer = StoreWriter()
    minutes = [start + timedelta(minutes=k) for k in range(len(speeds))]
    writer.prepare(conn, "segment_state", minutes)
    writer.prepare(conn, "network_kpi", minutes)
    with conn.transaction():
        writer.write_states(conn, rows)
        conn.execute("INSERT INTO network_kpi (minute, segments_with_data) SELECT m, 1 FROM"
                     " unnest(%s::timestamptz[]) m ON CONFLICT DO NOTHING", (minutes,))
    while refresh_dirty_rollups(conn):
        pass


@pytest.fixture
def make_forecast_client(stack_settings):
    """TestClients of apps on a given database (no caching, no rate limit)."""
    from fastapi.testclient import TestClient

    from itms.wiring.api import build_app

    clients = []

    def make(dsn: str) -> TestClient:
        settings = stack_settings.model_copy(update={
            "database_url": dsn, "rate_limit_per_s": 0.0, "state_cache_s": 0.0})
        client = TestClient(build_app(settings))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for c in clients:
        c.__exit__(None, None, None)


@pytest.fixture
def history_db(db_factory, network):
    """Two stored mornings (06:00–09:00) and the third one up to 07:00; segment 0 never has
    data."""
    dsn = db_factory()
    with psycopg.connect(dsn, autocommit=True) as conn:
        with conn.transaction():
            sync_network(conn, network)
        for d in range(2):
            _store_day(conn, network, DAY0 + timedelta(days=d), _speeds(network, d, 180), {0})
        _store_day(conn, network, DAY0 + timedelta(days=2), _speeds(network, 2, 61), {0})
    return dsn


def test_trained_model_forecasts_are_stored_served_and_flagged(
    history_db, network, tmp_path, monkeypatch, make_forecast_client
) -> None:
    model = tmp_path / "forecast.json"
    monkeypatch.setenv("ITMS_DATABASE_URL", history_db)
    rc = itms_main(["forecast", "train", "--days", "3", "--until", NOW.isoformat(),
                    "--out", str(model), "--rounds", "40", "--step", "10"])  # fmt: skip
    assert rc == 0 and model.exists()
    assert json.loads(model.read_text())["meta"]["days"] == 3

    worker = ForecastWorker(network, ForecastParams(), model_path=model)
    with psycopg.connect(history_db, autocommit=True) as conn:
        fc = worker.step(conn)
        assert fc is not None and worker.last_issued == NOW
        assert worker.step(conn) is None  # nothing new built: nothing due
        cur = conn.execute("SELECT horizon_min, count(*), count(*) FILTER (WHERE basis = %s)"
                           " FROM segment_forecast_current GROUP BY 1 ORDER BY 1",
                           (MODEL,)).fetchall()  # fmt: skip
        n = len(network)
        assert cur == [(15, n, n - 1), (30, n, n - 1), (60, n, n - 1)]
        seg0 = network.segments[m.SEGMENT_ID].iloc[0]
        basis0 = conn.execute("SELECT DISTINCT basis FROM segment_forecast_current WHERE"
                              " segment_id = %s", (seg0,)).fetchall()  # fmt: skip
        assert basis0 == [(NO_HISTORY,)]
        # 07:00 is on the 5-minute grid: the issue is kept for scoring as well
        hist = conn.execute("SELECT count(*), min(target_at), max(target_at) FROM"
                            " segment_forecast WHERE issued_at = %s", (NOW,)).fetchone()
        assert hist == (3 * n, NOW + timedelta(minutes=15), NOW + timedelta(minutes=60))
        # the model saw deeper dips on later days: at 07:00 it forecasts below free flow
        row = conn.execute("SELECT avg(speed_kmh / f.free_flow_kmh), avg((p10_kmh <= speed_kmh"
                           " AND speed_kmh <= p90_kmh)::int) FROM segment_forecast_current c"
                           " JOIN road_segment f USING (segment_id) WHERE basis = 'model'"
                           " AND horizon_min = 15").fetchone()  # fmt: skip
        assert row[0] < 0.95 and row[1] == 1.0

    client = make_forecast_client(history_db)
    seg = network.segments[m.SEGMENT_ID].iloc[5]
    r = client.get(f"/v1/segments/{seg}/forecast")
    assert r.status_code == 200
    body = r.json()
    assert [h["horizon_min"] for h in body["horizons"]] == [15, 30, 60]
    assert body["horizons"][0]["basis"] == MODEL and body["stale"] is True
    h = body["horizons"][1]
    assert h["p10_kmh"] <= h["speed_kmh"] <= h["p90_kmh"]
    assert h["historical_average_kmh"] is not None
    assert client.get("/v1/segments/nope/forecast").status_code == 404
    r = client.get("/v1/segments", params={"horizon": 30, "limit": 10})
    assert r.status_code == 200, r.text
    feats = r.json()["features"]
    assert all(f["properties"]["forecast"]["horizon_min"] == 30 for f in feats)
    bad = client.get("/v1/segments", params={"horizon": 20})
    assert bad.status_code == 422 and "horizon" in bad.text
    ngsi = client.get("/v1/ngsi-ld/entities", params={"type": "TrafficFlowObserved",
                                                       "limit": 3, "forecasts": True}).json()
    speeds = ngsi[1]["averageVehicleSpeed"]
    assert [s.get("datasetId", "").rsplit(":", 1)[-1] for s in speeds[-3:]] == [
        "PT15M", "PT30M", "PT60M"]

    corridor = client.get("/v1/corridors").json()[0]["corridor_id"]
    depart = datetime.now(UTC) + timedelta(minutes=10)
    r = client.get(f"/v1/corridors/{corridor}", params={"depart": depart.isoformat()})
    assert r.status_code == 200, r.text
    dep = r.json()["departure"]
    assert dep["forecast_coverage"] > 0.9 and dep["model_coverage"] > 0.9
    assert dep["travel_time_p10_s"] <= dep["travel_time_s"] <= dep["travel_time_p90_s"]
    assert dep["travel_time_s"] >= r.json()["free_flow_travel_time_s"] * 0.9
    late = client.get(f"/v1/corridors/{corridor}",
                      params={"depart": (depart + timedelta(hours=3)).isoformat()})
    assert late.status_code == 422 and "depart must be between now" in late.text
    naive = client.get(f"/v1/corridors/{corridor}", params={"depart": "2026-12-05T07:30:00"})
    assert naive.status_code == 422 and "time zone" in naive.text


def test_without_a_model_or_with_another_networks_the_baselines_are_flagged(
    history_db, network, tmp_path
) -> None:
    worker = ForecastWorker(network, model_path=tmp_path / "missing.json")
    with psycopg.connect(history_db, autocommit=True) as conn:
        fc = worker.step(conn)
    assert fc is not None and {b for f in fc for b in f.basis} == {NO_MODEL}
    # the historical average where there is a profile (the two stored mornings)
    seg = 7
    assert fc[2].speed_kmh[seg] == pytest.approx(fc[2].historical_kmh[seg])

    from analytics.forecast.features import FEATURES
    from analytics.forecast.model_file import ForecastModel

    x = np.random.default_rng(0).random((200, len(FEATURES))).astype(np.float32)
    other = ForecastModel.train({h: (x, x[:, 0]) for h in (15, 30, 60)}, fingerprint="other",
                                n_segments=3)  # fmt: skip
    path = tmp_path / "other.json"
    other.save(path)
    worker = ForecastWorker(network, model_path=path)
    with psycopg.connect(history_db, autocommit=True) as conn:
        fc = worker.step(conn)
    assert fc is not None and {b for f in fc for b in f.basis} == {OTHER_NETWORK}
