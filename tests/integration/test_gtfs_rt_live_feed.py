"""A GTFS-Realtime gateway against a local HTTP server serving changing snapshots, through
Kafka and the probe worker into stored traversals; the feed stops, returns garbage and an
HTTP error, and comes back."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import psycopg
import pytest
from google.transit import gtfs_realtime_pb2 as rt
from prometheus_client import generate_latest

from analytics.workers.observability import WorkerProbe
from itms.settings import Settings
from itms.wiring.gateways import run_gtfs_rt_gateway
from itms.wiring.workers import build_probe_worker
from roadnet import load_network
from roadnet import model as m
from roadnet.model import RoadNetwork
from store.network_writer import sync_network
from tests.integration.probe_feed import drive, route_from
from tests.integration.test_probe_pipeline import _drain

pytestmark = pytest.mark.integration
BUSES = 6


@pytest.fixture(scope="module")
def network() -> RoadNetwork:
    return load_network()


def _snapshots(network: RoadNetwork) -> tuple[list[bytes], int]:
    """GTFS-Realtime snapshots every 5 s of buses driving 5 segments each (a bus's latest
    fix in each), and the number of distinct positions in them."""
    n = len(network.segments)

    def fleet(t0: int) -> list[dict[str, Any]]:
        out = []
        for k in range(BUSES):
            route = route_from(network, (k * 41 + 7) % n, 5)
            out += [json.loads(v) for _, v in drive(network, route, f"bus-{k}", t0, 25.0, 5.0)]
        return out

    # the whole feed lies in the past: the worker refuses fixes from the future
    span_min = max(f["ts"] for f in fleet(0)) // 60_000 + 1
    t0 = (int(time.time()) // 60 - span_min - 2) * 60_000
    fixes = fleet(t0)
    end = max(f["ts"] for f in fixes)
    snaps, seen = [], set()
    for t in range(t0, end + 5000, 5000):
        feed = rt.FeedMessage()
        feed.header.gtfs_realtime_version = "2.0"
        feed.header.timestamp = t // 1000
        latest: dict[str, dict[str, Any]] = {}
        for f in fixes:
            if f["ts"] <= t:
                latest[f["vehicle_id"]] = f
        for vid, f in sorted(latest.items()):
            e = feed.entity.add()
            e.id = vid
            e.vehicle.vehicle.id = vid
            e.vehicle.position.latitude = f["lat"]
            e.vehicle.position.longitude = f["lon"]
            e.vehicle.position.speed = 25.0 / 3.6
            e.vehicle.timestamp = f["ts"] // 1000
            seen.add((vid, f["ts"] // 1000))
        snaps.append(feed.SerializeToString())
    return snaps, len(seen)


class FeedServer:
    """Serves the snapshots in turn, each twice (feeds repeat); after the third a 503, after
    the sixth some garbage; then keeps serving the last one."""

    def __init__(self, snaps: list[bytes], port: int = 0) -> None:
        answers: list[tuple[int, bytes]] = []
        for k, s in enumerate(snaps):
            answers += [(200, s), (200, s)]
            if k == 2:
                answers.append((503, b"busy"))
            if k == 5:
                answers.append((200, b"<html>maintenance</html>"))
        self.answers, self.served = answers, 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, body = server.answers[min(server.served, len(server.answers) - 1)]
                server.served += 1
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.httpd.server_port
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_a_live_feed_reaches_the_store_through_outages_and_garbage(
    itms_settings: Settings, network: RoadNetwork
) -> None:
    with psycopg.connect(itms_settings.dsn) as conn:
        sync_network(conn, network)
    snaps, distinct = _snapshots(network)
    half = len(snaps) // 2
    server = FeedServer(snaps[:half])
    url = f"http://127.0.0.1:{server.port}/vehicle-positions.pb"
    stop = threading.Event()
    result: dict[str, Any] = {}
    probe = WorkerProbe("gtfs-rt-gateway")
    gw_thread = threading.Thread(target=lambda: result.update(gw=run_gtfs_rt_gateway(
        itms_settings, url, stop, interval_s=0.05, probe=probe)))  # fmt: skip
    gw_thread.start()
    try:
        deadline = time.monotonic() + 60
        while server.served < len(server.answers) + 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        server.stop()  # the feed stops ...
        time.sleep(0.5)
        back = _serve_again(server.port, snaps[half - 1:])  # ... and comes back
        deadline = time.monotonic() + 60
        while back.served < len(back.answers) + 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        back.stop()
    finally:
        stop.set()
        gw_thread.join(timeout=30)
    assert not gw_thread.is_alive()
    s = result["gw"].stats
    assert s.published == distinct, (s.published, distinct)  # every position exactly once
    assert s.repeated > 0
    assert s.polls_failed["http"] >= 2 and s.polls_failed["broken"] >= 2
    assert s.polls_failed["unreachable"] >= 1
    # its metrics: polls by outcome, positions by fate; ready while the feed answers
    text = generate_latest(probe.registry).decode()
    st = 'stage="gtfs-rt-gateway"'
    assert f'itms_gateway_polls_total{{outcome="ok",{st}}} {s.polls_ok}.0' in text
    assert f'itms_gateway_positions_total{{{st},what="published"}} {distinct}.0' in text
    assert f'itms_gateway_polls_total{{outcome="broken",{st}}}' in text
    assert probe.alive() and probe.last_progress > 0
    assert probe.ready() == (s.failures_in_a_row == 0)  # the last poll's outcome

    worker = build_probe_worker(itms_settings, network, group="g-gtfs", checkpoint_every_s=0)
    try:
        _drain(worker, lambda: worker.stats.consumed >= distinct)
    finally:
        worker.close()
    assert worker.stats.dead_lettered == 0
    with psycopg.connect(itms_settings.dsn) as conn:
        rows = conn.execute(
            "SELECT vehicle_id, vehicle_type, count(*) FROM probe_traversal"
            " WHERE vehicle_id LIKE 'bus-%%' GROUP BY 1, 2 ORDER BY 1"
        ).fetchall()
    ids = network.segments[m.SEGMENT_ID]
    assert len(ids) and {r[1] for r in rows} == {"bus"}
    assert len(rows) == BUSES and all(r[2] >= 2 for r in rows)  # inner segments driven


def _serve_again(port: int, snaps: list[bytes]) -> FeedServer:
    """A feed server on ``port`` again (the feed came back where it was)."""
    for _ in range(50):
        try:
            return FeedServer(snaps, port)
        except OSError:  # the old socket is still closing
            time.sleep(0.1)
    raise AssertionError(f"port {port} stayed taken")


def test_a_snapshot_of_hundreds_of_vehicles_replays_into_the_gps_topic(
    itms_settings: Settings, tmp_path: Any, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """``itms replay gps snapshot.pb.gz``: every vehicle entity published, the others
    accounted for."""
    import itms.cli.replay as replay_cli
    from itms.cli import main
    from tests.ingest.gtfs_feeds import add_odd_entities, encoded, vehicle_feed
    from tests.integration.test_probe_pipeline import _read_topic

    feed = vehicle_feed(350, t0_s=int(time.time()) - 120)
    add_odd_entities(feed)
    pb = tmp_path / "snapshot.pb.gz"
    pb.write_bytes(encoded(feed, gzipped=True))
    monkeypatch.setattr(replay_cli, "current_settings", lambda: itms_settings)
    assert main(["replay", "gps", str(pb), "--fast"]) == 0
    assert "353 entities: 350 positions converted" in capsys.readouterr().err
    got = _read_topic(itms_settings, "gps", 350)
    assert len(got) == 350
    assert {json.loads(r.value)["vehicle_type"] for r in got} == {"bus"}
    assert {r.key.decode() for r in got} == {f"bus-{k}" for k in range(350)}
