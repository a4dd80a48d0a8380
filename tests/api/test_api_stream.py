"""Live streams (Server-Sent Events) against a real uvicorn server and database: segment-state
changes and incident events arrive, and a reconnect with Last-Event-ID resumes exactly."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import psycopg
import pytest

from tests.api.conftest import put_state, serve

pytestmark = pytest.mark.integration


@pytest.fixture
def base_url(stack_settings, api_dsn) -> Iterator[str]:
    from itms.wiring.api import build_app

    settings = stack_settings.model_copy(update={
        "database_url": api_dsn, "rate_limit_per_s": 0.0, "stream_poll_s": 0.1,
        "privacy_min_vehicles": 3})  # fmt: skip
    with serve(build_app(settings)) as url:
        yield url


def _events(lines: Iterator[str], n: int, timeout: float = 10.0) -> list[dict]:
    """The next ``n`` events (id, event, data) of an SSE line stream."""
    out, cur = [], {}
    deadline = time.monotonic() + timeout
    for line in lines:
        if line == "":
            if "data" in cur:
                out.append(cur)
                if len(out) == n:
                    return out
            cur = {}
        elif not line.startswith(":"):
            key, _, value = line.partition(":")
            cur[key] = value.strip()
        assert time.monotonic() < deadline, f"only {len(out)} of {n} events"
    return out


def _stream(client: httpx.Client, path: str, headers: dict | None = None):
    return client.stream("GET", path, headers=headers or {}, timeout=httpx.Timeout(10.0))


def test_segment_stream_delivers_changes_and_resumes(base_url, api_dsn) -> None:
    with psycopg.connect(api_dsn) as conn:
        a, b, c = (r[0] for r in conn.execute(
            "SELECT segment_id FROM road_segment ORDER BY segment_id LIMIT 3"))  # fmt: skip
    with httpx.Client(base_url=base_url) as client:
        with _stream(client, "/v1/stream/segments") as reply:
            assert reply.status_code == 200
            assert reply.headers["content-type"].startswith("text/event-stream")
            put_state(api_dsn, a, speed=18.0, n_vehicles=4)
            first = _events(reply.iter_lines(), 1)[0]
        assert first["event"] == "segments"
        data = json.loads(first["data"])
        assert [s["segment_id"] for s in data["segments"]] == [a]
        assert data["segments"][0]["speed_kmh"] == 18.0
        # changes while disconnected come on reconnect, after the last seen event only
        put_state(api_dsn, b, speed=25.0, n_vehicles=5)
        put_state(api_dsn, c, speed=30.0, n_vehicles=1)  # below the privacy threshold
        with _stream(client, "/v1/stream/segments", {"Last-Event-ID": first["id"]}) as reply:
            got = _events(reply.iter_lines(), 2)
        ids = [int(e["id"]) for e in got]
        assert ids == sorted(ids) and ids[0] > int(first["id"])
        seen = [s for e in got for s in json.loads(e["data"])["segments"]]
        assert [s["segment_id"] for s in seen] == [b, c]
        assert seen[0]["speed_kmh"] == 25.0
        assert seen[1]["speed_kmh"] is None and seen[1]["source"] == "no_data"
        bad = client.get("/v1/stream/segments", headers={"Last-Event-ID": "yesterday"})
        assert bad.status_code == 400


def test_incident_stream_replays_by_seq_and_follows(base_url, api_dsn) -> None:
    from store.incidents import apply_action, create_incident

    def new(i: int) -> None:
        with psycopg.connect(api_dsn) as conn:
            create_incident(
                conn, kind="stalled_vehicle", severity=2, segment_id=None, lon=106.69, lat=20.85,
                road_name="Trần Phú", direction=None, started_at=datetime.now(UTC),
                source="probe", evidence={"secret": "x"}, est_delay_s=30.0, actor="system",
                incident_id=f"sse-{i}",
            )  # fmt: skip

    new(1)
    new(2)
    with httpx.Client(base_url=base_url) as client:
        with _stream(client, "/v1/stream/incidents?resume=0") as reply:
            replay = _events(reply.iter_lines(), 2)
        mine = [json.loads(e["data"]) for e in replay]
        assert [d["incident_id"] for d in mine] == ["sse-1", "sse-2"]
        assert all(d["action"] == "create" for d in mine)
        assert mine[0]["incident"]["geometry"]["type"] == "Point"
        assert "evidence" not in mine[0]["incident"]["properties"]
        assert int(replay[1]["id"]) > int(replay[0]["id"])
        # resume after the first event: the second one, then live updates
        with _stream(client, "/v1/stream/incidents", {"Last-Event-ID": replay[0]["id"]}) as reply:
            lines = reply.iter_lines()
            assert json.loads(_events(lines, 1)[0]["data"])["incident_id"] == "sse-2"
            with psycopg.connect(api_dsn) as conn:
                apply_action(conn, "sse-1", action="confirm", actor="op")
            live = json.loads(_events(lines, 1)[0]["data"])
        assert (live["incident_id"], live["action"], live["status"]) == (
            "sse-1", "confirm", "confirmed")  # fmt: skip
        # a fresh connection without an id starts from now
        with _stream(client, "/v1/stream/incidents") as reply:
            new(3)
            assert json.loads(_events(reply.iter_lines(), 1)[0]["data"])["incident_id"] == "sse-3"


def test_incidents_kept_for_review_are_streamed_once_announced(base_url, api_dsn) -> None:
    from store.incidents import apply_action, create_incident

    with psycopg.connect(api_dsn) as conn:
        for iid, announced in (("rev-1", False), ("ann-1", True)):
            create_incident(
                conn, kind="unexplained_queue", severity=2, segment_id=None, lon=106.69,
                lat=20.85, road_name="Trần Phú", direction=None, started_at=datetime.now(UTC),
                source="probe", evidence={}, est_delay_s=30.0, actor="incident-worker",
                incident_id=iid, confidence=0.3 if not announced else 0.9, announced=announced,
            )  # fmt: skip
    with (httpx.Client(base_url=base_url) as client,
          _stream(client, "/v1/stream/incidents?resume=0") as reply):  # fmt: skip
        lines = reply.iter_lines()
        seen = []  # the module's other incidents first, then ann-1; never rev-1
        while not seen or seen[-1] != "ann-1":
            seen.append(json.loads(_events(lines, 1)[0]["data"])["incident_id"])
            assert len(seen) < 20 and "rev-1" not in seen
        with psycopg.connect(api_dsn) as conn:
            apply_action(conn, "rev-1", action="announce", actor="op", note="checked")
        live = json.loads(_events(lines, 1)[0]["data"])
    assert (live["incident_id"], live["action"]) == ("rev-1", "announce")
    assert live["incident"]["properties"]["road_name"] == "Trần Phú"
