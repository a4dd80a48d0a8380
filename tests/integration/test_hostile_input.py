"""A flood of hostile messages mixed into valid traffic (real Kafka and PostgreSQL): every bad
message is dead-lettered with its reason, replays are skipped, and the stored traversals are
exactly those of the clean feed alone."""

from __future__ import annotations

import json
import time
import uuid

import psycopg
import pytest

from ingest.deadletter import parse_headers
from ingest.kafka.clients import ensure_topics
from itms.settings import Settings
from itms.wiring.workers import build_probe_worker
from store.network_writer import sync_network
from tests.integration.test_probe_pipeline import (
    _dead_letters,
    _drain,
    _fleet_feed,
    _publish,
    _traversals,
    network,  # noqa: F401 (module fixture)
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _hostile(now_ms: int) -> list[tuple[bytes | None, bytes | None, str]]:
    """(key, value, expected dead-letter code) of messages no worker may accept."""
    fix = {"vehicle_id": "evil", "ts": now_ms - 60_000, "lat": 20.85, "lon": 106.68}

    def j(**change: object) -> bytes:
        return json.dumps({**fix, **change}).encode()

    return [
        (b"evil", b"\xff\xfe\x00 not utf-8", "decode"),
        (b"evil", b"{not json", "decode"),
        (b"evil", b"[]", "decode"),
        (b"evil", b"null", "decode"),
        (b"evil", None, "decode"),
        (b"evil", j(lat=95.0), "schema"),
        (b"evil", j(lat="north"), "schema"),
        (b"evil", j(lon=None), "schema"),
        (b"evil", j(speed_kmh=-5), "schema"),
        (b"evil", j(heading_deg=400), "schema"),
        (b"evil", j(vehicle_id="x" * 65), "schema"),
        (b"evil", j(vehicle_id="bad\nid"), "schema"),
        (b"evil", j(vehicle_type="spaceship"), "schema"),
        (b"evil", j(ts="yesterday"), "schema"),
        (b"evil", j(ts=1_700_000_000), "schema"),  # epoch seconds, not milliseconds
        (b"evil", j(ts=now_ms + 86_400_000), "future"),
        (b"evil", j(ts=now_ms - 30 * 86_400_000), "too_old"),
        (b"evil", j(lat=0.0, lon=0.0), "schema"),
        (b"evil", j(lat=float("nan")), "schema"),
        (b"evil", j(pad="x" * 70_000), "too_large"),
        (None, b"[" + json.dumps(fix).encode() + b", 2", "decode"),  # a truncated batch
    ]


def test_hostile_flood_is_dead_lettered_and_valid_traffic_is_unaffected(
    itms_settings: Settings, db_factory, network  # noqa: F811
) -> None:
    now_ms = int(time.time() * 1000)
    clean = [kv for kv in _fleet_feed(network) if json.loads(kv[1])["ts"] < now_ms]
    bad = _hostile(now_ms)
    flood: list[tuple[bytes | None, bytes | None]] = []
    for i, kv in enumerate(clean):
        flood.append(kv)
        if i % 4 == 0:  # a replay of an earlier fix of the same vehicle: skipped, not stored
            flood.append(clean[max(i - 8, 0)] if clean[max(i - 8, 0)][0] == kv[0] else kv)
        if i % 3 == 0:
            key, value, _ = bad[(i // 3) % len(bad)]
            flood.append((key, value))
    n_bad = sum(1 for i in range(len(clean)) if i % 3 == 0)

    own = {"database_url": db_factory(), "topic_prefix": f"h{uuid.uuid4().hex[:8]}."}
    hostile = itms_settings.model_copy(update=own)
    ensure_topics(hostile.kafka)
    for s in (itms_settings, hostile):
        with psycopg.connect(s.dsn) as conn:
            sync_network(conn, network)
    _publish(itms_settings, clean)
    _publish(hostile, flood)

    rejected = {}
    for s, n in ((itms_settings, len(clean)), (hostile, len(flood))):
        worker = build_probe_worker(s, network, group="g-hostile", checkpoint_every_s=0)
        try:
            _drain(worker, lambda w=worker, n=n: w.stats.consumed >= n)
        finally:
            worker.close()
        rejected[s.topic_prefix] = worker.stats.dead_lettered
        if s is hostile:
            assert worker.processor.counters.stale > 0  # the replays
    assert rejected == {itms_settings.topic_prefix: 0, hostile.topic_prefix: n_bad}

    expected = _traversals(itms_settings.dsn)
    assert len(expected) > 100
    assert _traversals(hostile.dsn) == expected

    letters = _dead_letters(hostile, n_bad)
    assert len(letters) == n_bad
    codes = {(r.value, parse_headers(r.headers)["code"]) for r in letters}
    assert codes == {(v, c) for _, v, c in bad if v is not None} | {(None, "decode")}
    assert all(parse_headers(r.headers)["reason"] for r in letters)
