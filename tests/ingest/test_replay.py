"""Recorded feed reading and replay pacing (unit: a fake clock and an in-memory sink)."""

from __future__ import annotations

import json
from pathlib import Path

from ingest.records import read_records
from ingest.replay import replay


def test_csv_columns_are_typed_and_bad_cells_pass_through(tmp_path: Path) -> None:
    path = tmp_path / "fixes.csv"
    path.write_text(
        "vehicle_id,ts,lat,lon,speed_kmh\n"
        "a,1764000000000,20.85,106.68,31.5\n"
        "b,2025-11-24T16:00:05Z,north,106.69,\n"
    )
    rows = list(read_records(path))
    assert rows[0] == {
        "vehicle_id": "a",
        "ts": 1764000000000,
        "lat": 20.85,
        "lon": 106.68,
        "speed_kmh": 31.5,
    }
    assert rows[1] == {
        "vehicle_id": "b",
        "ts": "2025-11-24T16:00:05Z",
        "lat": "north",
        "lon": 106.69,
    }


def test_jsonl_keeps_unparsable_lines_as_text(tmp_path: Path) -> None:
    path = tmp_path / "fixes.jsonl"
    path.write_text('{"vehicle_id": "a", "ts": 1}\n{broken\n\n[1]\n')
    assert list(read_records(path)) == [{"vehicle_id": "a", "ts": 1}, "{broken", "[1]"]


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.slept.append(round(s, 6))
        self.t += s


def test_replay_keeps_recorded_gaps_scaled_by_speedup() -> None:
    records = [{"vehicle_id": "a", "ts": 1_000_000 + k * 10_000} for k in range(4)]
    sent: list[tuple[bytes | None, bytes]] = []
    clock = FakeClock()
    stats = replay(
        records,
        lambda k, v: sent.append((k, v)),
        kind="gps",
        speedup=5.0,
        progress=None,
        clock=clock,
        sleep=clock.sleep,
    )
    assert stats.published == 4
    assert clock.slept == [2.0, 2.0, 2.0]  # 10 s gaps at 5x
    assert [k for k, _ in sent] == [b"a"] * 4
    assert json.loads(sent[2][1])["ts"] == 1_020_000


def test_replay_as_fast_as_possible_never_sleeps_and_sends_raw_text() -> None:
    clock = FakeClock()
    sent: list[bytes] = []
    replay(
        [{"vehicle_id": "a", "ts": 5}, "garbage", {"vehicle_id": "b", "ts": 9_000_000}],
        lambda k, v: sent.append(v),
        kind="gps",
        speedup=None,
        progress=None,
        clock=clock,
        sleep=clock.sleep,
    )
    assert clock.slept == []
    assert sent[1] == b"garbage"


def test_shift_to_now_moves_every_timestamp_by_the_same_amount() -> None:
    import time

    sent: list[dict] = []
    records = [
        {"vehicle_id": "a", "ts": 1_600_000_000_000},
        {"vehicle_id": "a", "ts": "2020-09-13T12:26:50Z"},
    ]
    before = time.time() * 1000
    replay(
        records,
        lambda k, v: sent.append(json.loads(v)),
        kind="gps",
        speedup=None,
        shift_to_now=True,
        progress=None,
    )
    assert abs(sent[0]["ts"] - before) < 5_000
    from ingest.records import record_ts_ms

    assert record_ts_ms(sent[1]) - sent[0]["ts"] == 10_000
