"""Database checkpoints: fenced so that a consumer that lost its partition cannot write."""

from __future__ import annotations

import psycopg
import pytest

from store.checkpoints import advance_checkpoints, load_checkpoints
from store.errors import CheckpointConflict

pytestmark = pytest.mark.integration


def test_checkpoints_advance_and_fence(db_factory) -> None:
    dsn = db_factory()
    tp = ("gps", 3)
    with psycopg.connect(dsn) as conn:
        assert load_checkpoints(conn, "g", [tp]) == {}
        with conn.transaction():
            advance_checkpoints(conn, "g", {}, {tp: 10})
        assert load_checkpoints(conn, "g", [tp, ("gps", 4)]) == {tp: 10}
        with conn.transaction():
            advance_checkpoints(conn, "g", {tp: 10}, {tp: 25})
        # a zombie that still believes the offset is 10 is refused, and nothing changes
        with pytest.raises(CheckpointConflict), conn.transaction():
            advance_checkpoints(conn, "g", {tp: 10}, {tp: 40})
        # a second consumer that thinks the partition is new is refused too
        with pytest.raises(CheckpointConflict), conn.transaction():
            advance_checkpoints(conn, "g", {}, {tp: 5})
        assert load_checkpoints(conn, "g", [tp]) == {tp: 25}
        # groups are independent
        assert load_checkpoints(conn, "other", [tp]) == {}


def test_watermarks_ride_with_the_checkpoints(db_factory) -> None:
    from datetime import UTC, datetime, timedelta

    from store.checkpoints import input_watermarks, load_watermarks

    dsn = db_factory()
    t = datetime(2026, 11, 25, 2, 0, 7, 250000, tzinfo=UTC)
    a, b = ("gps", 0), ("gps", 1)
    with psycopg.connect(dsn) as conn:
        with conn.transaction():
            advance_checkpoints(conn, "g", {}, {a: 10, b: 3}, watermarks={a: t})
        assert load_watermarks(conn, "g", [a, b]) == {a: t}  # b has no data time yet
        with conn.transaction():
            advance_checkpoints(conn, "g", {a: 10, b: 3}, {a: 20, b: 4},
                                watermarks={a: t + timedelta(seconds=5), b: None})  # fmt: skip
        assert load_watermarks(conn, "g", [a, b]) == {a: t + timedelta(seconds=5)}
        # a refused (fenced) checkpoint leaves the watermark alone
        with pytest.raises(CheckpointConflict), conn.transaction():
            advance_checkpoints(conn, "g", {a: 10}, {a: 30}, watermarks={a: t + timedelta(1)})
        with conn.transaction():
            d = ("detectors", 0)
            advance_checkpoints(conn, "d", {}, {d: 1}, watermarks={d: t})
            advance_checkpoints(conn, "other", {}, {a: 1}, watermarks={a: t})
        got = input_watermarks(conn, {"g": "gps", "d": None})
        assert got == [("d", "detectors", 0, 1, t), ("g", "gps", 0, 20, t + timedelta(seconds=5)),
                       ("g", "gps", 1, 4, None)]  # fmt: skip
        assert input_watermarks(conn, {"g": "gps.v2"}) == []
