"""The operator dashboard in headless Chromium against the real API, database and simulated
traffic: it loads cleanly and offline, colours segments by congestion level, shows a new
incident live, lets an operator confirm it, shows the short-term forecasts (segment chart,
corridor departures, the map at +30 min), and switches language. Screenshots go to
``test-artifacts/dashboard``."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import psycopg
import pytest

from itms.settings import Settings
from tests.dashboards.conftest import serve
from tests.dashboards.simdata import (
    INCIDENT_SEGMENT,
    current_levels,
    seed_forecasts,
    seed_traffic,
)

pytestmark = pytest.mark.integration
PASSWORD = "correct horse battery"
LEVEL_COLORS = ["#2e9e44", "#c6d32b", "#f39c12", "#e53935", "#7b0d0d"]
NO_DATA_COLOR = "#6b7785"
DRAWN = """() => window.itms.live.map.queryRenderedFeatures({layers: ['segments']})
    .map(f => { const c = f.layer.paint['line-color'];
      return [f.properties.segment_id, f.properties.congestion_level,
              [c.r, c.g, c.b, c.a].map(v => Math.round(v * 255))]; })"""


@pytest.fixture
def stack(itms_settings: Settings) -> Iterator[tuple[str, Settings]]:
    """Simulated traffic and an operator in an isolated database; the API serving it."""
    from api.security import hash_password
    from itms.wiring.api import build_app
    from store import accounts

    dsn = itms_settings.dsn
    seed_traffic(dsn)
    with psycopg.connect(dsn) as conn:
        accounts.create_user(conn, username="op1", password_hash=hash_password(PASSWORD),
                             role="operator")  # fmt: skip
    settings = itms_settings.model_copy(
        update={"rate_limit_per_s": 0.0, "stream_poll_s": 0.2, "state_cache_s": 0.0}
    )
    with serve(build_app(settings)) as url:
        yield url, settings


def _rgb(hex_color: str) -> tuple[int, int, int]:
    return tuple(int(hex_color[i : i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


def _write_state(dsn: str, segment_id: str, *, level: int) -> None:
    """Store a newer minute of one segment, as the state builder would."""
    from store.state_writer import StoreWriter

    minute = datetime.now(UTC).replace(second=0, microsecond=0)
    writer = StoreWriter()
    with psycopg.connect(dsn) as conn:
        writer.prepare(conn, "segment_state", [minute])
        writer.write_states(conn, [(segment_id, minute, 3.0, 300.0, 50.0, 12, 6, level, 9.4,
                                    0.9, "fused")])  # fmt: skip


def _write_kpi(dsn: str, *, avg_speed_kmh: float, congested_km: float,
               vehicle_hours: float) -> None:  # fmt: skip
    """Store the current minute's network KPIs (undefined ones are NaN, as the builder stores
    them when a minute has no vehicle-hours)."""
    from store.state_writer import StoreWriter

    minute = datetime.now(UTC).replace(second=0, microsecond=0)
    writer = StoreWriter()
    with psycopg.connect(dsn) as conn:
        writer.prepare(conn, "network_kpi", [minute])
        writer.write_kpis(conn, [(minute, avg_speed_kmh, congested_km, 1.0, vehicle_hours,
                                  vehicle_hours, 10)])  # fmt: skip


def _seed_forecasts(url: str, dsn: str, segment_ids: list[str], **kwargs) -> dict[str, int]:
    """Store forecasts of ``segment_ids`` (:func:`seed_forecasts`) and wait until the API
    serves them (it reloads its in-memory forecasts in one thread; the browser's parallel
    requests meanwhile get the previous ones)."""
    levels = seed_forecasts(dsn, segment_ids, **kwargs)
    with httpx.Client(base_url=url) as client:
        for _ in range(50):
            got = client.get(f"/v1/segments/{segment_ids[-1]}/forecast").json()
            if got["horizons"] and got["horizons"][0]["basis"] == kwargs.get("basis", "model"):
                break
            time.sleep(0.1)
        else:
            raise AssertionError(f"forecasts not served: {got}")
    return levels


def _incident(dsn: str, incident_id: str) -> dict:
    from store.incidents import get_incident

    with psycopg.connect(dsn) as conn:
        return get_incident(conn, incident_id)


def _wards_around(lon: float, lat: float) -> tuple[int, int]:
    """Index of the shipped ward containing a point, and of one that does not."""
    from shapely.geometry import Point, shape

    from api.routes.dashboard import STATIC_DIR

    data = json.loads((STATIC_DIR / "data" / "hai-phong-wards.geojson").read_text("utf-8"))
    hits = [shape(f["geometry"]).contains(Point(lon, lat)) for f in data["features"]]
    return hits.index(True), hits.index(False)


def _create_incident(dsn: str, *, announced: bool = True) -> str:
    from store.incidents import create_incident

    with psycopg.connect(dsn) as conn:
        lon, lat, name = conn.execute(
            "SELECT ST_X(ST_LineInterpolatePoint(geom, 0.5)), ST_Y(ST_LineInterpolatePoint(geom,"
            " 0.5)), name FROM road_segment WHERE segment_id = %s", (INCIDENT_SEGMENT,),
        ).fetchone()  # fmt: skip
        evidence = {"stations": ["det-0007", "det-0008"], "stopped": 3, "passing": 1,
                    "methods": ["california", "probe_drop"]}  # fmt: skip
        if not announced:  # kept for review: the slowdown recurs at this time
            evidence["history"] = {"slow_days": 3, "of": 4, "slowest_kmh": 7.5,
                                   "now_kmh": 8.2, "recurs": True}  # fmt: skip
        row = create_incident(
            conn, kind="lane_blockage", severity=4, segment_id=INCIDENT_SEGMENT, lon=lon,
            lat=lat, road_name=name, direction=None, started_at=datetime.now(UTC),
            source="fused", evidence=evidence,
            est_delay_s=240.0, actor="incident-worker", status="suspected",
            confidence=0.9 if announced else 0.3, announced=announced,
            incident_id=None if announced else "inc-review-1",
            note=None if announced else "kept for review: slow here at this time",
        )  # fmt: skip
    return row["incident_id"]


def test_dashboard_live_workflow(stack, browser, artifacts) -> None:
    url, settings = stack
    page = browser.new_page(viewport={"width": 1600, "height": 900}, locale="vi-VN")
    errors: list[str] = []
    foreign: list[str] = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(str(e)))
    failed: list[str] = []  # which requests the console's "Failed to load resource" were
    page.on("request", lambda r: r.url.startswith(("http:", "https:"))
            and not r.url.startswith(url) and foreign.append(r.url))  # fmt: skip
    page.on("response", lambda r: r.status >= 400 and failed.append(f"{r.status} {r.url}"))
    _write_kpi(settings.dsn, avg_speed_kmh=19.6, congested_km=171.25, vehicle_hours=float("nan"))
    try:
        page.goto(url + "/")
        page.wait_for_selector("body[data-ready='1']", timeout=30_000)
        page.wait_for_function(
            "() => window.itms.live.map.loaded() && window.itms.live.map.queryRenderedFeatures("
            "{layers: ['segments']}).length > 100", timeout=30_000,
        )  # fmt: skip

        # segments drawn in the colour of their stored congestion level
        drawn = page.evaluate(DRAWN)
        levels = current_levels(settings.dsn)
        assert len({d[0] for d in drawn}) > 300
        for sid, level, rgba in drawn:
            assert level == levels[sid], sid
            assert tuple(rgba[:3]) == _rgb(LEVEL_COLORS[level]), (sid, level, rgba)
        assert {d[1] for d in drawn} == {0, 1, 2, 3, 4}
        # a segment's new state arrives through the live stream and is redrawn in its colour
        sid = next(d[0] for d in drawn if d[1] == 0)
        _write_state(settings.dsn, sid, level=4)
        page.wait_for_function(
            """(sid) => window.itms.live.map.queryRenderedFeatures({layers: ['segments']})
                .some(f => f.properties.segment_id === sid && f.properties.congestion_level === 4
                  && Math.round(f.layer.paint['line-color'].r * 255) === 0x7b)""", arg=sid,
            timeout=15_000,
        )  # fmt: skip

        # header KPIs from the stored minute
        assert page.locator("#kpi-speed b").inner_text() == "19,6"  # Vietnamese decimal comma
        assert page.locator("#kpi-congested b").inner_text() == "171,3"
        assert page.locator("#kpi-incidents b").inner_text() == "0"
        page.screenshot(path=str(artifacts / "01-map.png"))

        # a new incident arrives through the live stream, without a reload
        page.evaluate("window.__sameDocument = true")
        incident_id = _create_incident(settings.dsn)
        item = page.locator(f"#incident-list li[data-id='{incident_id}']")
        item.wait_for(timeout=15_000)
        assert "new" in item.get_attribute("class")
        assert page.evaluate("window.__sameDocument === true")
        assert page.locator("#toast").is_visible()
        assert page.locator("#kpi-incidents b").inner_text() == "1"
        page.screenshot(path=str(artifacts / "02-new-incident.png"))

        # times in Asia/Ho_Chi_Minh; the area filter keeps the incident only in its ward
        started = _incident(settings.dsn, incident_id)
        local = started["started_at"].astimezone(ZoneInfo("Asia/Ho_Chi_Minh")).strftime("%H:%M")
        assert local in item.inner_text()
        inside, outside = _wards_around(started["lon"], started["lat"])
        page.select_option("#f-area", str(inside))
        assert item.is_visible()
        page.select_option("#f-area", str(outside))
        assert item.count() == 0
        page.select_option("#f-area", "")

        # read-only before signing in: no workflow buttons; Escape closes the detail
        item.click()
        page.locator("#incident-detail").wait_for()
        assert page.locator("#incident-detail [data-act]").count() == 0
        page.keyboard.press("Escape")
        page.locator("#incident-detail").wait_for(state="hidden")

        # raised below the confidence to announce: not on the public view, kept for review
        review_id = _create_incident(settings.dsn, announced=False)
        page.wait_for_timeout(1500)
        assert page.locator(f"#incident-list li[data-id='{review_id}']").count() == 0

        # an operator signs in and confirms it
        page.click("#signin-open")
        page.fill("#signin-form input[name=username]", "op1")
        page.fill("#signin-form input[name=password]", PASSWORD)
        page.click("#signin-form button[type=submit]")
        page.wait_for_function("() => document.getElementById('user').textContent.includes('op1')")
        page.locator(f"#incident-list li[data-id='{incident_id}']").click()
        confirm = page.locator("#incident-detail button[data-act='confirm']")
        confirm.wait_for(timeout=10_000)
        assert "det-0007" in page.locator("#incident-detail").inner_text()
        confirm.click()
        page.locator("#incident-detail .badge.confirmed").wait_for(timeout=10_000)
        page.screenshot(path=str(artifacts / "03-confirmed.png"))
        with httpx.Client(base_url=url) as client:
            token = client.post("/v1/auth/token", data={"username": "op1", "password": PASSWORD})
            headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
            got = client.get(f"/v1/operator/incidents/{incident_id}", headers=headers).json()
            public = client.get(f"/v1/incidents/{incident_id}").json()
        assert got["status"] == "confirmed"
        assert [(h["action"], h["actor"]) for h in got["history"]][-1] == ("confirm", "op1")
        assert public["properties"]["status"] == "confirmed"

        # the incident kept for review: listed under "For review", announced by the operator
        assert page.locator(f"#incident-list li[data-id='{review_id}']").count() == 0
        page.select_option("#f-status", "review")
        page.locator(f"#incident-list li[data-id='{review_id}']").click()
        announce = page.locator("#incident-detail button[data-act='announce']")
        announce.wait_for(timeout=10_000)
        detail = page.locator("#incident-detail").inner_text()
        assert re.search(r"0[.,]30", detail)  # its confidence (Vietnamese: 0,30)
        # why it is kept for review: the same slowdown on 3 of 4 previous days
        assert "lặp lại: vào giờ này 3/4 ngày trước" in detail
        assert "kept for review: slow here at this time" in detail  # its history's note
        announce.click()
        page.locator("#incident-detail button[data-act='announce']").wait_for(
            state="detached", timeout=10_000)  # fmt: skip
        assert _incident(settings.dsn, review_id)["announced"] is True
        page.select_option("#f-status", "active")
        page.locator(f"#incident-list li[data-id='{review_id}']").wait_for(timeout=10_000)

        # an operator reports an incident by clicking the map
        page.click("#report")
        box = page.locator("#map").bounding_box()
        x, y, lon, lat = page.evaluate(
            """(sid) => { const m = window.itms.live.map;
              const c = window.itms.live.byId.get(sid).geometry.coordinates;
              let k = 1;  // middle of the longest piece: well away from other roads
              for (let i = 1; i < c.length; i++) {
                if (Math.hypot(c[i][0] - c[i-1][0], c[i][1] - c[i-1][1])
                    > Math.hypot(c[k][0] - c[k-1][0], c[k][1] - c[k-1][1])) k = i; }
              const mid = [(c[k][0] + c[k-1][0]) / 2, (c[k][1] + c[k-1][1]) / 2];
              m.jumpTo({center: mid, zoom: 16}); const p = m.project(mid);
              return [p.x, p.y, mid[0], mid[1]]; }""", INCIDENT_SEGMENT,
        )  # fmt: skip
        page.wait_for_function("() => window.itms.live.map.loaded()")
        page.mouse.click(box["x"] + x, box["y"] + y)
        page.locator("#create[open]").wait_for()
        page.select_option("#create-form select[name=kind]", "accident")
        page.select_option("#create-form select[name=severity]", "5")
        page.fill("#create-form textarea[name=note]", "Va chạm hai xe máy")
        page.click("#create-form button[type=submit]")
        page.locator("#incident-detail h3", has_text="Tai nạn").wait_for(timeout=10_000)
        assert page.locator("#incident-detail .badge.confirmed").count() == 1
        with httpx.Client(base_url=url) as client:
            listed = client.get("/v1/operator/incidents", headers=headers).json()["incidents"]
            manual = [i for i in listed if i["source"] == "operator"]
            assert len(manual) == 1
            detail = client.get(f"/v1/operator/incidents/{manual[0]['incident_id']}",
                                headers=headers).json()  # fmt: skip
        assert manual[0]["kind"] == "accident" and manual[0]["severity"] == 5
        assert [(h["action"], h["actor"]) for h in detail["history"]] == [("create", "op1")]
        assert detail["evidence"] == {"note": "Va chạm hai xe máy"}
        assert manual[0]["segment_id"] in (INCIDENT_SEGMENT, INCIDENT_SEGMENT[:-1] + "r")
        assert manual[0]["lon"] == pytest.approx(lon, abs=2e-4)
        assert manual[0]["lat"] == pytest.approx(lat, abs=2e-4)
        page.screenshot(path=str(artifacts / "04-reported.png"))

        # forecasts of the first corridor's segments and of the incident's (the worker's rows)
        with httpx.Client(base_url=url) as client:
            corridor = client.get("/v1/corridors").json()[0]["corridor_id"]
            route = client.get(f"/v1/corridors/{corridor}").json()["segments"]
        issued = datetime.now(UTC).replace(second=0, microsecond=0)
        forecast_levels = _seed_forecasts(
            url, settings.dsn, [INCIDENT_SEGMENT, *(sg["segment_id"] for sg in route)],
            issued_at=issued,
        )  # fmt: skip

        # segment view and the corridor's time–space diagram, with the departure forecasts
        page.click(".tabs button[data-tab='corridor']")
        page.wait_for_function(
            """() => { const c = document.getElementById('timespace');
              const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
              let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i] > 150 && d[i+2] < 90) n++;
              return n > 500; }""", timeout=10_000,
        )  # fmt: skip
        canvas = page.locator("#timespace").bounding_box()
        # some ten minutes ago (the current bucket may still be empty)
        page.mouse.move(canvas["x"] + canvas["width"] - 45, canvas["y"] + canvas["height"] / 2)
        assert "km/h" in page.locator("#ts-readout").inner_text()
        info = page.locator("#corridor-info").inner_text()
        for when in ("bây giờ", "sau 15 phút", "sau 30 phút", "sau 60 phút"):
            assert re.search(when + r"\s+[\d,]+ phút \([\d,]+–[\d,]+\)", info), (when, info)
        assert "dự báo cho 100 % chiều dài, mô hình 100 %" in info
        page.screenshot(path=str(artifacts / "05-corridor.png"))
        page.evaluate(f"window.itms.live.onSegment({INCIDENT_SEGMENT!r})")
        page.locator("#segment-chart .uplot").wait_for(timeout=10_000)
        assert "Lạch Tray" in page.locator("#segment-info").inner_text()
        page.wait_for_function(  # outlined on the map
            "(sid) => { const f = window.itms.live.map.queryRenderedFeatures("
            "{layers: ['segment-selected']}); return f.length > 0"
            " && f.every(x => x.properties.segment_id === sid); }", arg=INCIDENT_SEGMENT,
            timeout=10_000,
        )  # fmt: skip
        # the chart goes on with the forecast (dashed, its band) up to +60 min
        page.locator("#segment-forecast", has_text="+60 phút").wait_for(timeout=10_000)
        legend = page.locator("#segment-chart .u-legend").inner_text()
        assert "Dự báo" in legend and legend.count("Dự báo 10–90 %") == 1, legend
        fc = page.locator("#segment-forecast").inner_text()
        assert re.search(r"\+30 phút\s+[\d,]+ km/h \([\d,]+–[\d,]+\)", fc), fc
        assert page.locator("#segment-forecast .fc-note.basis").count() == 0  # the model's
        x_max = page.evaluate("window.itms.state.segmentChart.scales.x.max")
        assert x_max >= (issued + timedelta(minutes=60)).timestamp()
        page.screenshot(path=str(artifacts / "06-segment-forecast.png"))

        # the map at +30 min: coloured by the forecast, the live stream keeps that mode
        page.evaluate("window.itms.live.fit()")
        with page.expect_request(lambda r: "horizon=30" in r.url):
            page.click("#mode-30")
        colour = """([sid, rgb]) => window.itms.live.map.queryRenderedFeatures(
            {layers: ['segments']}).some(f => f.properties.segment_id === sid
              && ['r', 'g', 'b'].every((k, i) => Math.round(f.layer.paint['line-color'][k] * 255)
                 === rgb[i]))"""
        fc_rgb = _rgb(LEVEL_COLORS[forecast_levels[INCIDENT_SEGMENT]])
        ahead = {sid: _rgb(LEVEL_COLORS[level]) for sid, level in forecast_levels.items()}
        deadline = time.monotonic() + 15  # every tile of the map redrawn
        while True:
            drawn = page.evaluate(DRAWN)
            wrong = [(sid, rgba) for sid, _, rgba in drawn
                     if tuple(rgba[:3]) != ahead.get(sid, _rgb(NO_DATA_COLOR))]  # fmt: skip
            if not wrong or time.monotonic() > deadline:
                break
            page.wait_for_timeout(200)
        assert wrong == [], wrong[:5]
        # (segments without a forecast are drawn grey: checked in `wrong` above; how many of
        # them are rendered depends on the viewport, so their number is not asserted)
        assert INCIDENT_SEGMENT in {d[0] for d in drawn}
        page.screenshot(path=str(artifacts / "07-map-plus-30.png"))
        now_level = next(v for v in (4, 3) if v != forecast_levels[INCIDENT_SEGMENT])
        _write_state(settings.dsn, INCIDENT_SEGMENT, level=now_level)
        page.wait_for_function(
            "(sid) => window.itms.live.byId.get(sid).properties.congestion_level === "
            f"{now_level}", arg=INCIDENT_SEGMENT, timeout=15_000,
        )  # fmt: skip
        page.wait_for_timeout(300)  # redrawn on the next frame
        page.wait_for_function(colour, arg=[INCIDENT_SEGMENT, fc_rgb], timeout=5_000)
        page.click("#mode-now")
        page.wait_for_function(
            colour, arg=[INCIDENT_SEGMENT, _rgb(LEVEL_COLORS[now_level])], timeout=10_000
        )

        # a segment whose forecast is a baseline (no model file) from a stopped worker: the
        # basis and the age are said (another segment: the browser caches a forecast for 15 s)
        other = INCIDENT_SEGMENT[:-1] + "r"
        _seed_forecasts(url, settings.dsn, [other], basis="baseline:no_model",
                        issued_at=datetime.now(UTC) - timedelta(minutes=12))  # fmt: skip
        page.evaluate(f"window.itms.live.onSegment({other!r})")
        page.locator("#segment-forecast .fc-note.stale").wait_for(timeout=10_000)
        fc = page.locator("#segment-forecast").inner_text()
        assert "dự báo: ước tính cơ sở (chưa có mô hình)" in fc, fc
        assert "dự báo cũ: lập cách đây 1" in fc, fc  # 12 or 13 minutes
        legend = page.locator("#segment-chart .u-legend").inner_text()
        assert "Dự báo" in legend and "10–90" not in legend, legend

        # language: Vietnamese by default, English on request, remembered across a reload
        assert page.locator(".tabs button[data-tab='incidents']").inner_text() == "Sự cố"
        assert page.locator("#kpi-speed label").inner_text().lower() == "tốc độ trung bình"
        page.click("#lang-en")
        assert page.locator(".tabs button[data-tab='incidents']").inner_text() == "Incidents"
        assert page.locator("#kpi-speed label").inner_text().lower() == "average speed"
        assert page.locator("#mode-30").inner_text() == "+30 min"
        assert "on" in page.locator("#mode-now").get_attribute("class")  # the map's mode kept
        page.locator("#segment-forecast", has_text="forecast: baseline (no model)").wait_for(
            timeout=10_000)  # fmt: skip
        page.screenshot(path=str(artifacts / "08-english.png"))
        page.reload()
        page.wait_for_selector("body[data-ready='1']", timeout=30_000)
        assert page.locator(".tabs button[data-tab='incidents']").inner_text() == "Incidents"
        assert "op1" in page.locator("#user").inner_text()  # still signed in
        page.click("#lang-vi")
        assert page.locator("#signout").inner_text() == "Đăng xuất"

        # wall display mode: larger type, remembered
        page.click("#wall")
        assert page.evaluate("document.body.classList.contains('wall')")
        assert page.locator("#kpi-speed b").evaluate("e => getComputedStyle(e).fontSize") == "32px"
        page.screenshot(path=str(artifacts / "09-wall.png"))

        assert errors == [], (errors, failed)
        assert foreign == [], foreign
    finally:
        page.close()


def test_dashboard_routes(stack) -> None:
    url, settings = stack
    with httpx.Client(base_url=url) as client:
        health = client.get("/v1/dashboard/health").json()
        ts = client.get("/v1/dashboard/corridors/centre-dinh-vu-port/timespace",
                        params={"hours": 1, "step_min": 5}).json()  # fmt: skip
        missing = client.get("/v1/dashboard/corridors/nowhere/timespace")
        wards = client.get("/data/hai-phong-wards.geojson")
    assert health["kafka_ok"] is True
    assert health["topics"]["gps"]["end_offset"] == 0
    assert health["state_age_s"] is not None and health["state_age_s"] < 120
    assert health["detectors"]["total"] == 0
    assert missing.status_code == 404
    assert len(ts["segments"]) == len(ts["speeds"]) > 3
    offsets = [s["offset_m"] for s in ts["segments"]]
    assert offsets == sorted(offsets) and offsets[0] == 0
    filled = [v for row in ts["speeds"] for v in row if v is not None]
    assert len(filled) >= len(ts["segments"]) * 10  # an hour of 5-minute buckets, mostly full
    with psycopg.connect(settings.dsn) as conn:
        sid = ts["segments"][0]["segment_id"]
        start = datetime.fromisoformat(ts["times"][1])
        expect = conn.execute(
            "SELECT count(*) / sum(1.0 / speed_kmh) FROM segment_state WHERE segment_id = %s"
            " AND minute >= %s AND minute < %s + interval '5 minutes'", (sid, start, start),
        ).fetchone()[0]  # fmt: skip
    assert ts["speeds"][0][1] == pytest.approx(float(expect), abs=0.06)
    assert wards.status_code == 200 and "OpenStreetMap" in wards.text
