"""Public API against the real database: GeoJSON network, segment, history, incidents, KPIs,
corridors, NGSI-LD; privacy threshold, conditional requests, gzip, CORS, paging."""

from __future__ import annotations

import gzip
import itertools
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from tests.api.conftest import put_state

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def seg_ids(api_dsn: str) -> list[str]:
    with psycopg.connect(api_dsn) as conn:
        return [r[0] for r in conn.execute(
            "SELECT segment_id FROM road_segment WHERE road_class IN ('primary', 'trunk')"
            " ORDER BY segment_id LIMIT 3")]  # fmt: skip


def test_network_geojson_filters_paging_and_validators(client, api_dsn, seg_ids) -> None:
    put_state(api_dsn, seg_ids[0], speed=21.5, n_vehicles=5)
    with psycopg.connect(api_dsn) as conn:
        total = conn.execute("SELECT count(*) FROM road_segment").fetchone()[0]
        trunk = conn.execute(
            "SELECT count(*) FROM road_segment WHERE road_class = 'trunk'"
        ).fetchone()[0]
    reply = client.get("/v1/segments", headers={"Origin": "https://example.org"})
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("application/geo+json")
    assert reply.headers["access-control-allow-origin"] == "*"
    assert "max-age" in reply.headers["cache-control"]
    body = reply.json()
    assert body["type"] == "FeatureCollection" and body["count"] == total == len(body["features"])
    feat = next(f for f in body["features"] if f["id"] == seg_ids[0])
    assert feat["geometry"]["type"] == "LineString"
    lon, lat = feat["geometry"]["coordinates"][0]
    assert 106 < lon < 107 and 20 < lat < 21  # WGS 84 lon/lat order
    assert feat["properties"]["speed_kmh"] == 21.5 and feat["properties"]["source"] == "probe"
    assert feat["properties"]["updated_at"] is not None
    # conditional requests
    etag, modified = reply.headers["etag"], reply.headers["last-modified"]
    assert client.get("/v1/segments", headers={"If-None-Match": etag}).status_code == 304
    assert client.get("/v1/segments", headers={"If-Modified-Since": modified}).status_code == 304
    put_state(api_dsn, seg_ids[0], speed=30.0, n_vehicles=5)
    again = client.get("/v1/segments", headers={"If-None-Match": etag})
    assert again.status_code == 200 and again.headers["etag"] != etag
    # gzip (httpx decodes it; the raw stream is compressed)
    with client.stream("GET", "/v1/segments", headers={"Accept-Encoding": "gzip"}) as raw:
        assert raw.headers["content-encoding"] == "gzip"
        data = b"".join(raw.iter_raw())
    assert gzip.decompress(data).startswith(b'{"type":"FeatureCollection"')
    # road class and bbox filters
    only = client.get("/v1/segments", params={"road_class": "trunk"}).json()
    assert only["count"] == trunk and {f["properties"]["road_class"] for f in only["features"]} == {
        "trunk"
    }
    box = (106.68, 20.85, 106.69, 20.86)
    inside = client.get("/v1/segments", params={"bbox": ",".join(map(str, box))}).json()
    assert 0 < inside["count"] < total
    for f in inside["features"]:
        xs = [c[0] for c in f["geometry"]["coordinates"]]
        ys = [c[1] for c in f["geometry"]["coordinates"]]
        assert min(xs) <= box[2] and max(xs) >= box[0] and min(ys) <= box[3] and max(ys) >= box[1]
    # cursor paging walks the whole network exactly once
    seen, cursor = [], None
    while True:
        params = {"limit": 300} | ({"cursor": cursor} if cursor else {})
        page = client.get("/v1/segments", params=params).json()
        seen += [f["id"] for f in page["features"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == total and seen == sorted(seen)


@pytest.mark.parametrize(
    "params",
    [{"bbox": "1,2,3"}, {"bbox": "a,b,c,d"}, {"bbox": "10,10,5,5"}, {"road_class": "highway"},
     {"cursor": "!!!"}, {"limit": 0}],
)  # fmt: skip
def test_bad_network_parameters_are_4xx_with_a_message(client, params) -> None:
    reply = client.get("/v1/segments", params=params)
    assert 400 <= reply.status_code < 500
    assert reply.json()["detail"]


def test_privacy_threshold_withholds_few_vehicle_speeds(make_client, api_dsn, seg_ids) -> None:
    put_state(api_dsn, seg_ids[1], speed=33.0, n_vehicles=2)
    put_state(api_dsn, seg_ids[2], speed=44.0, n_vehicles=3)
    strict = make_client(privacy_min_vehicles=3)
    few = strict.get(f"/v1/segments/{seg_ids[1]}").json()["properties"]
    assert few["source"] == "no_data"
    assert few["speed_kmh"] is None and few["travel_time_s"] is None and few["jam_factor"] is None
    enough = strict.get(f"/v1/segments/{seg_ids[2]}").json()["properties"]
    assert enough["speed_kmh"] == 44.0 and enough["n_vehicles"] == 3
    listed = {s["segment_id"]: s for s in strict.get("/v1/segments/current").json()}
    assert listed[seg_ids[1]]["speed_kmh"] is None and listed[seg_ids[2]]["speed_kmh"] == 44.0
    in_geojson = {f["id"]: f["properties"] for f in strict.get("/v1/segments").json()["features"]}
    assert in_geojson[seg_ids[1]]["speed_kmh"] is None
    # the threshold is configurable
    lax = make_client(privacy_min_vehicles=2)
    assert lax.get(f"/v1/segments/{seg_ids[1]}").json()["properties"]["speed_kmh"] == 33.0


def test_segment_detail_and_history(client, api_dsn, seg_ids) -> None:
    assert client.get("/v1/segments/no-such-segment").status_code == 404
    t0 = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=30)
    with psycopg.connect(api_dsn) as conn:
        from store.state_writer import StoreWriter

        writer = StoreWriter()
        rows = [(seg_ids[0], t0 + timedelta(minutes=m), 20.0 + m, 40.0, 50.0, 6,
                 1 if m == 3 else 4, 1, 2.0, 0.8, "probe") for m in range(10)]  # fmt: skip
        writer.prepare(conn, "segment_state", {r[1] for r in rows})
        with conn.transaction():
            writer.write_states(conn, rows)
    reply = client.get(
        f"/v1/segments/{seg_ids[0]}/history",
        params={"start": t0.isoformat(), "end": (t0 + timedelta(minutes=10)).isoformat()},
    )
    assert reply.status_code == 200, reply.text
    hist = reply.json()
    assert hist["resolution"] == "1m" and len(hist["points"]) == 10
    assert hist["points"][0]["speed_kmh"] == 20.0
    assert hist["points"][3]["speed_kmh"] is None  # one vehicle: withheld
    naive = client.get(
        f"/v1/segments/{seg_ids[0]}/history",
        params={"start": "2026-01-02T00:00:00", "end": "2026-01-01T00:00:00"},
    )
    assert naive.status_code == 400 and "before" in naive.json()["detail"]
    assert client.get("/v1/segments/x/history").status_code == 404
    assert (
        client.get(f"/v1/segments/{seg_ids[0]}/history", params={"resolution": "2m"}).status_code
        == 422
    )


def test_incidents_geojson_hides_dismissed_and_pages(client, api_dsn) -> None:
    from store.incidents import apply_action, create_incident

    t0 = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)
    with psycopg.connect(api_dsn) as conn:
        ids = []
        for k in range(5):
            row = create_incident(
                conn, kind="accident", severity=1 + k % 5, segment_id=None, lon=106.68 + k / 1000,
                lat=20.85, road_name="Lạch Tray", direction=None,
                started_at=t0 + timedelta(minutes=k), source="detector", evidence={"z": k},
                est_delay_s=60.0 * k, actor="system", incident_id=f"pub-{k}",
                queue_m=250.0 * k, method="fused",
            )  # fmt: skip
            ids.append(row["incident_id"])
        apply_action(conn, "pub-4", action="dismiss", actor="op")
        apply_action(conn, "pub-3", action="resolve", actor="op")
    body = client.get("/v1/incidents", params={"until": "2026-11-21T00:00:00Z"}).json()
    got = [f["id"] for f in body["features"]]
    assert got == ["pub-3", "pub-2", "pub-1", "pub-0"]  # newest first, no dismissed
    props = body["features"][1]["properties"]
    assert props["road_name"] == "Lạch Tray" and props["est_delay_s"] == 120.0
    assert "evidence" not in props and body["features"][1]["geometry"]["type"] == "Point"
    assert props["queue_m"] == 500.0 and "method" not in props  # queue public, method not
    active = client.get("/v1/incidents", params={"active": "true", "min_severity": 2}).json()
    assert {f["id"] for f in active["features"]} >= {"pub-1", "pub-2"}
    assert "pub-0" not in {f["id"] for f in active["features"]}
    page1 = client.get("/v1/incidents", params={"limit": 2, "until": "2026-11-21T00:00:00Z"}).json()
    params = {"limit": 2, "cursor": page1["next_cursor"], "until": "2026-11-21T00:00:00Z"}
    page2 = client.get("/v1/incidents", params=params).json()
    assert [f["id"] for f in page1["features"] + page2["features"]] == got
    assert client.get("/v1/incidents/pub-4").status_code == 404
    one = client.get("/v1/incidents/pub-3").json()
    assert [h["action"] for h in one["history"]] == ["create", "resolve"]
    assert "actor" not in one["history"][0]
    assert client.get("/v1/incidents", params={"status": "dismissed"}).status_code == 400


def test_kpis_and_corridors(client, api_dsn) -> None:
    assert client.get("/v1/kpis/current").status_code == 404
    minute = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=2)
    with psycopg.connect(api_dsn) as conn:
        from store.state_writer import StoreWriter

        writer = StoreWriter()
        writer.prepare(conn, "network_kpi", {minute})
        conn.execute(
            "INSERT INTO network_kpi (minute, avg_speed_kmh, congested_km, vehicle_km,"
            " vehicle_hours, delay_vehicle_hours, segments_with_data)"
            " VALUES (%s, 27.5, 3.2, 1000, 36.4, 4.1, 400)", (minute,),
        )  # fmt: skip
    now = client.get("/v1/kpis/current").json()
    assert now["avg_speed_kmh"] == 27.5 and now["segments_with_data"] == 400
    series = client.get("/v1/kpis", params={"start": (minute - timedelta(hours=1)).isoformat()})
    assert [p["congested_km"] for p in series.json()["points"]] == [pytest.approx(3.2)]
    assert client.get("/v1/kpis", params={"start": "2020-01-01T00:00:00Z"}).status_code == 400
    corridors = client.get("/v1/corridors").json()
    by_id = {c["corridor_id"]: c for c in corridors}
    assert {"centre-dinh-vu-port", "centre-cat-bi-airport"} <= set(by_id)
    port = by_id["centre-dinh-vu-port"]
    assert (
        port["length_m"] > 5000 and port["travel_time_s"] >= port["free_flow_travel_time_s"] * 0.5
    )
    detail = client.get("/v1/corridors/centre-dinh-vu-port").json()
    assert sum(s["length_m"] for s in detail["segments"]) == pytest.approx(port["length_m"], 0.01)
    # consecutive segments of the route connect end to start
    with psycopg.connect(api_dsn) as conn:
        nodes = {r[0]: (r[1], r[2]) for r in conn.execute(
            "SELECT segment_id, from_node, to_node FROM road_segment")}  # fmt: skip
    ends = [nodes[s["segment_id"]] for s in detail["segments"]]
    assert all(a[1] == b[0] for a, b in itertools.pairwise(ends))
    # a congested segment on the route raises the corridor's travel time
    seg = detail["segments"][len(detail["segments"]) // 2]
    put_state(api_dsn, seg["segment_id"], speed=3.0, n_vehicles=6, level=4)
    slower = client.get("/v1/corridors/centre-dinh-vu-port").json()
    assert slower["travel_time_s"] > port["travel_time_s"] and slower["coverage"] > 0
    assert client.get("/v1/corridors/nowhere").status_code == 404


def test_ngsi_ld_export(client, api_dsn, seg_ids) -> None:
    put_state(api_dsn, seg_ids[0], speed=12.0, n_vehicles=7, level=3)
    reply = client.get("/v1/ngsi-ld/entities",
                       params={"type": "TrafficFlowObserved", "limit": 5000})  # fmt: skip
    assert reply.headers["content-type"].startswith("application/ld+json")
    ent = {e["id"]: e for e in reply.json()}[
        f"urn:ngsi-ld:TrafficFlowObserved:haiphong:{seg_ids[0]}"
    ]
    assert ent["type"] == "TrafficFlowObserved"
    assert ent["averageVehicleSpeed"] == {"type": "Property", "value": 12.0}
    assert ent["congested"]["value"] is True and ent["location"]["type"] == "GeoProperty"
    assert ent["refRoadSegment"]["type"] == "Relationship"
    kv = client.get("/v1/ngsi-ld/entities", params={"type": "TrafficFlowObserved", "limit": 2,
                                                    "options": "keyValues"})  # fmt: skip
    assert len(kv.json()) == 2 and 'rel="next"' in kv.headers["link"]
    alerts = client.get("/v1/ngsi-ld/entities", params={"type": "Alert"}).json()
    assert all(a["type"] == "Alert" and a["category"]["value"] == "traffic" for a in alerts)
    assert client.get("/v1/ngsi-ld/entities", params={"type": "Foo"}).status_code == 422
