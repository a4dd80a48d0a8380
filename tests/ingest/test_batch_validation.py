"""Batches (JSON arrays of contract objects): validation item by item, and the batcher that
groups records per partition."""

from __future__ import annotations

import json

import pytest

from ingest.batching import PartitionBatcher, partition_of
from ingest.errors import InvalidMessage
from ingest.replay import replay
from ingest.validation import FeedValidator

NOW_S = 1_764_000_000.0
NOW_MS = int(NOW_S * 1000)


def fix(i: int, **change: object) -> dict:
    return {"vehicle_id": f"v{i % 7}", "ts": NOW_MS - 60_000 + i * 1000, "lat": 20.85,
            "lon": 106.68 + i * 1e-4, **change}  # fmt: skip


def batch(items: list) -> bytes:
    return json.dumps(items).encode()


@pytest.fixture
def validator() -> FeedValidator:
    return FeedValidator("gps", clock=lambda: NOW_S, max_batch_items=50)


def test_a_valid_batch_yields_its_fixes_in_order(validator: FeedValidator) -> None:
    items = [fix(i) for i in range(20)]
    got = validator.validate_many(b"  \n" + batch(items))
    assert not got.rejected
    assert [(f.vehicle_id, f.ts_ms, f.lon) for f in got.messages] == [
        (d["vehicle_id"], d["ts"], d["lon"]) for d in items
    ]


def test_a_single_object_is_one_message(validator: FeedValidator) -> None:
    got = validator.validate_many(json.dumps(fix(3)).encode())
    assert [f.vehicle_id for f in got.messages] == ["v3"] and not got.rejected
    with pytest.raises(InvalidMessage):
        validator.validate_many(json.dumps(fix(3, lat=95)).encode())


def test_bad_items_are_rejected_alone_with_index_key_and_reason(
    validator: FeedValidator,
) -> None:
    items: list = [fix(i) for i in range(8)]
    items[1] = fix(1, lat=95.0)
    items[3] = 5
    items[4] = fix(4, ts=NOW_MS + 3_600_000)
    items[6] = fix(6, ts=NOW_MS - 30 * 86_400_000)
    got = validator.validate_many(batch(items))
    assert [f.lon for f in got.messages] == [items[i]["lon"] for i in (0, 2, 5, 7)]
    rejected = {r.index: r for r in got.rejected}
    assert sorted(rejected) == [1, 3, 4, 6]
    assert [rejected[i].error.code for i in (1, 3, 4, 6)] == ["schema", "schema", "future",
                                                               "too_old"]  # fmt: skip
    assert rejected[1].error.reason.startswith("lat:")
    assert rejected[3].error.reason == "not a JSON object"
    assert json.loads(rejected[1].value) == items[1] and rejected[1].key == b"v1"
    assert rejected[3].value == b"5" and rejected[3].key is None


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"[", "decode"),
        (b'[{"vehicle_id": "a"}, 2', "decode"),
        (b"[]", "decode"),
        (batch([fix(i) for i in range(51)]), "too_large"),
        (b"[" + b" " * (2 * 1024 * 1024) + b"]", "too_large"),
        (b"[\xff\xfe]", "decode"),
    ],
)
def test_a_batch_that_cannot_be_read_is_rejected_whole(
    validator: FeedValidator, raw: bytes, code: str
) -> None:
    with pytest.raises(InvalidMessage) as err:
        validator.validate_many(raw)
    assert err.value.code == code


def test_partition_of_follows_the_default_partitioner_on_known_values() -> None:
    # murmur2 of the key as Kafka's Java client computes it (its test vectors)
    assert partition_of(b"21", 1_000_000) == (-973932308 & 0x7FFFFFFF) % 1_000_000
    assert partition_of(b"abc", 7) == (479470107 & 0x7FFFFFFF) % 7
    assert {partition_of(f"v{i}".encode(), 6) for i in range(100)} == set(range(6))


def test_the_batcher_puts_every_record_where_its_key_would_go() -> None:
    sent: list[tuple[int | None, bytes | None, bytes]] = []
    b = PartitionBatcher(lambda p, k, v: sent.append((p, k, v)), 6, kind="gps", max_items=4)
    records = [fix(i) for i in range(30)] + ["{not json"]
    for r in records:
        b.add(r)
    b.flush()
    got = []
    for part, key, value in sent:
        if part is None:  # what cannot be placed goes alone, for the workers to dead-letter
            assert value == b"{not json" and key is None
            continue
        items = json.loads(value)
        assert 1 <= len(items) <= 4
        assert {partition_of(d["vehicle_id"].encode(), 6) for d in items} == {part}
        got += items
    assert sorted(got, key=lambda d: d["ts"]) == records[:-1]
    assert b.messages == len(sent)
    # per vehicle, the order of the records is kept
    for v in {d["vehicle_id"] for d in got}:
        ts = [d["ts"] for d in got if d["vehicle_id"] == v]
        assert ts == sorted(ts)


def test_the_batcher_keeps_batches_under_the_byte_limit() -> None:
    sent: list[bytes] = []
    b = PartitionBatcher(lambda p, k, v: sent.append(v), 1, kind="gps", max_items=1000,
                         max_bytes=1000)  # fmt: skip
    for i in range(50):
        b.add(fix(i))
    b.flush()
    assert len(sent) >= 4 and all(len(v) <= 1000 for v in sent)
    assert sum(len(json.loads(v)) for v in sent) == 50


def test_replay_flushes_batches_whenever_it_waits() -> None:
    sent: list[tuple[float, int]] = []
    clock = [0.0]
    b = PartitionBatcher(lambda p, k, v: sent.append((clock[0], len(json.loads(v)))), 1,
                         kind="gps", max_items=100)  # fmt: skip
    # three bursts of 5 fixes, 10 s apart
    records = [fix(0, ts=NOW_MS + burst * 10_000 + j) for burst in range(3) for j in range(5)]

    def sleep(s: float) -> None:
        clock[0] += s

    stats = replay(records, lambda k, v: None, kind="gps", speedup=1.0, progress=None,
                   clock=lambda: clock[0], sleep=sleep, batcher=b)  # fmt: skip
    assert stats.published == 15
    assert sent == [(0.0, 5), (10.0, 5), (20.0, 5)]
