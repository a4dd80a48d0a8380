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
