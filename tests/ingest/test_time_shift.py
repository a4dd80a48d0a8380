"""Restamping replays: durations, times and shifts that keep recorded days apart (issue 22,
item 4)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from ingest.records import record_ts_ms
from ingest.replay import replay
from ingest.time_shift import TimeShift, parse_duration, parse_time
from itms.cli import build_parser

DAY_MS = 86_400_000


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1d", timedelta(days=1)), ("-2h30m", -timedelta(hours=2, minutes=30)),
     ("86400s", timedelta(days=1)), ("1d12h", timedelta(days=1.5)),
     ("+90m", timedelta(minutes=90)), ("500ms", timedelta(milliseconds=500)),
     ("7D", timedelta(days=7)), ("1.5h", timedelta(minutes=90))],
)  # fmt: skip
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "-", "1", "2q", "1h1d", "d", "1 day", "--1d"])
def test_bad_durations_say_what_is_accepted(text: str) -> None:
    with pytest.raises(ValueError, match=r"not a duration: use e\.g\. 1d"):
        parse_duration(text)


def test_times_need_an_offset() -> None:
    assert parse_time("2026-12-01T07:00:00+07:00") == datetime(
        2026, 12, 1, 7, tzinfo=timezone(timedelta(hours=7))
    )
    assert parse_time("2026-12-01T00:00:00Z") == datetime(2026, 12, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="no UTC offset"):
        parse_time("2026-12-01T07:00:00")
    with pytest.raises(ValueError, match="not an RFC 3339 time"):
        parse_time("yesterday")


def _day(start_ms: int) -> list[dict]:
    """A recorded 'day': three fixes, the last 23 h after the first."""
    return [{"vehicle_id": "a", "ts": start_ms}, {"vehicle_id": "a", "ts": start_ms + 60_000},
            {"vehicle_id": "b", "ts": start_ms + 23 * 3_600_000}]  # fmt: skip


def _replayed(records: list[dict], shift: TimeShift) -> list[int]:
    sent: list[dict] = []
    replay(records, lambda k, v: sent.append(json.loads(v)), kind="gps", speedup=None,
           shift=shift, progress=None)  # fmt: skip
    return [record_ts_ms(r) for r in sent]


def test_recorded_days_shifted_by_one_amount_stay_a_day_apart() -> None:
    monday = 1_764_547_200_000  # 2025-12-01T00:00Z
    # the recorder's Tuesday file starts 5 minutes late: --shift-to-now would pull it to the
    # same instant as Monday's; one --shift-by keeps it exactly where it was, a day later
    tuesday = monday + DAY_MS + 300_000
    by = TimeShift(by=parse_duration("365d"))
    mon, tue = _replayed(_day(monday), by), _replayed(_day(tuesday), by)
    assert mon[0] == monday + 365 * DAY_MS
    assert tue[0] - mon[0] == DAY_MS + 300_000
    assert [t - mon[0] for t in mon] == [0, 60_000, 23 * 3_600_000]  # inner timing kept


def test_shift_to_places_the_first_record_and_keeps_offsets() -> None:
    start = 1_764_547_200_000
    to = parse_time("2026-12-04T00:00:00+07:00")
    out = _replayed(_day(start), TimeShift(to=to))
    assert out[0] == int(to.timestamp() * 1000)
    assert [t - out[0] for t in out] == [0, 60_000, 23 * 3_600_000]


def test_iso_timestamps_are_restamped_as_iso() -> None:
    sent: list[dict] = []
    replay([{"vehicle_id": "a", "ts": "2026-11-30T23:59:00Z"}],
           lambda k, v: sent.append(json.loads(v)), kind="gps", speedup=None,
           shift=TimeShift(by=timedelta(minutes=2)), progress=None)  # fmt: skip
    assert sent[0]["ts"] == "2026-12-01T00:01:00Z"


def test_only_one_shift_at_a_time() -> None:
    with pytest.raises(ValueError, match="at most one"):
        TimeShift(by=timedelta(days=1), to_now=True)


def test_cli_options_are_exclusive_and_checked(capsys) -> None:
    parser = build_parser()
    args = parser.parse_args(["replay", "gps", "f.jsonl", "--shift-by=-1d"])  # "=" for a sign
    assert args.shift_by == timedelta(days=-1) and args.shift_to is None
    args = parser.parse_args(["replay", "gps", "f.jsonl", "--shift-to", "2026-12-01T00:00Z"])
    assert args.shift_to == datetime(2026, 12, 1, tzinfo=UTC)
    for bad in (["--shift-by", "1d", "--shift-to-now"], ["--shift-by", "tomorrow"],
                ["--shift-to", "2026-12-01 07:00"]):  # fmt: skip
        with pytest.raises(SystemExit) as exc:
            parser.parse_args(["replay", "gps", "f.jsonl", *bad])
        assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "not allowed with argument" in err
    assert "'tomorrow' is not a duration" in err
    assert "has no UTC offset" in err


@pytest.mark.parametrize("text", ["36501d", "-99999999999d", "1000000000h"])
def test_durations_beyond_a_century_are_refused_not_overflowed(text: str) -> None:
    with pytest.raises(ValueError, match="at most 36500 days"):
        parse_duration(text)
    assert parse_duration("-36500d") == -timedelta(days=36_500)


def test_cli_takes_a_negative_duration_without_equals_sign(capsys) -> None:
    parser = build_parser()
    args = parser.parse_args(["replay", "gps", "f.jsonl", "--shift-by", "-2h30m"])
    assert args.shift_by == -timedelta(hours=2, minutes=30)
    assert parser.parse_args(["replay", "gps", "f.jsonl", "--shift-by", "-1d"]).shift_by == (
        timedelta(days=-1)
    )
    for bad in (["--shift-by", "-1x"], ["--shift-by", "99999999999d"]):
        with pytest.raises(SystemExit) as exc:
            parser.parse_args(["replay", "gps", "f.jsonl", *bad])
        assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "'-1x' is not a duration" in err
    assert "at most 36500 days" in err


def test_shift_applies_to_batches_and_leaves_the_pacing_alone() -> None:
    from ingest.batching import PartitionBatcher

    start = 1_764_547_200_000  # 2025-12-01T00:00Z
    records = [{"vehicle_id": "a", "ts": start}, {"vehicle_id": "b", "ts": start + 60_000},
               {"vehicle_id": "a", "ts": "2025-12-01T00:02:00.250Z"}]  # fmt: skip
    paced: dict[str, list[float]] = {}
    batches: list[list[dict]] = []
    for name, shift in (("none", None), ("back a day", TimeShift(by=parse_duration("-1d")))):
        t = [0.0]
        slept = paced.setdefault(name, [])

        def sleep(s: float, t: list[float] = t, slept: list[float] = slept) -> None:
            slept.append(s)
            t[0] += s

        batcher = PartitionBatcher(lambda p, k, v: batches.append(json.loads(v)), 1, kind="gps")
        replay(records, lambda k, v: None, kind="gps", speedup=60.0, shift=shift,
               progress=None, clock=lambda t=t: t[0], sleep=sleep, batcher=batcher)  # fmt: skip
    assert paced["back a day"] == paced["none"] == pytest.approx([1.0, 60.25 / 60])  # 60x
    shifted = [r for batch in batches[len(batches) // 2 :] for r in batch]
    assert [record_ts_ms(r) for r in shifted] == [start - DAY_MS, start - DAY_MS + 60_000,
                                                  start - DAY_MS + 120_250]  # fmt: skip
    assert shifted[2]["ts"] == "2025-11-30T00:02:00.250000Z"  # still RFC 3339
