"""Incident store: lifecycle actions, history, versions, outbox order (real PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from store import incidents as inc
from store.queries import incident_history, incidents

pytestmark = pytest.mark.integration
T0 = datetime(2026, 11, 25, 0, 30, tzinfo=UTC)


def _create(conn: psycopg.Connection, **kw) -> dict:
    args = dict(
        kind="lane_blockage",
        severity=3,
        segment_id="s1",
        lon=106.68,
        lat=20.85,
        road_name="Lạch Tray",
        direction="f",
        started_at=T0,
        source="fused",
        evidence={"speed_ratio": 0.3},
        est_delay_s=120.0,
        actor="incident-worker",
    )
    args.update(kw)
    return inc.create_incident(conn, **args)


def test_lifecycle_history_and_outbox(db_factory) -> None:
    with psycopg.connect(db_factory(), autocommit=True) as conn:
        row = _create(conn, incident_id="inc-a")
        assert row["status"] == "suspected" and row["version"] == 1
        assert row["lon"] == pytest.approx(106.68) and row["detected_at"] == T0
        row = inc.apply_action(
            conn,
            "inc-a",
            action="confirm",
            actor="op1",
            at=T0 + timedelta(minutes=2),
            expected_version=1,
            changes={"severity": 4},
        )
        assert (row["status"], row["version"], row["severity"]) == ("confirmed", 2, 4)
        assert row["confirmed_at"] == T0 + timedelta(minutes=2)
        with pytest.raises(inc.VersionConflict):
            inc.apply_action(
                conn,
                "inc-a",
                action="update",
                actor="op2",
                expected_version=1,
                changes={"severity": 5},
            )
        with pytest.raises(inc.InvalidTransition):
            inc.apply_action(conn, "inc-a", action="confirm", actor="op1")
        with pytest.raises(inc.IncidentNotFound):
            inc.apply_action(conn, "nope", action="confirm", actor="op1")
        with pytest.raises(inc.InvalidIncident):
            inc.apply_action(
                conn, "inc-a", action="update", actor="op1", changes={"status": "cleared"}
            )
        with pytest.raises(inc.InvalidIncident):
            inc.apply_action(conn, "inc-a", action="update", actor="op1", changes={"severity": 9})
        row = inc.apply_action(
            conn,
            "inc-a",
            action="update",
            actor="op1",
            changes={"lon": 106.7, "lat": 20.86, "est_delay_s": 300.0},
        )
        assert row["lon"] == pytest.approx(106.7) and row["version"] == 3
        row = inc.apply_action(
            conn, "inc-a", action="clear", actor="incident-worker", at=T0 + timedelta(minutes=20)
        )
        assert row["status"] == "cleared" and row["ended_at"] == T0 + timedelta(minutes=20)
        with pytest.raises(inc.InvalidTransition):
            inc.apply_action(conn, "inc-a", action="dismiss", actor="op1")
        row = inc.apply_action(conn, "inc-a", action="annotate", actor="op1", note="towed")
        assert row["status"] == "cleared" and row["version"] == 5

        history = incident_history(conn, "inc-a")
        assert [h["action"] for h in history] == [
            "create",
            "confirm",
            "update",
            "clear",
            "annotate",
        ]
        assert history[1]["change"]["before"] == {"severity": 3, "status": "suspected"}
        assert history[1]["change"]["after"] == {"severity": 4, "status": "confirmed"}
        assert history[4]["change"]["note"] == "towed"
        # no failed action left a trace
        assert [h["version"] for h in history] == [1, 2, 3, 4, 5]

        _create(conn, incident_id="inc-b", segment_id="s2")
        with pytest.raises(inc.DuplicateIncident):
            _create(conn, incident_id="inc-b")
        inc.apply_action(conn, "inc-b", action="dismiss", actor="op1", note="roadworks")
        events = inc.updates_after(conn, 0)
        seqs = [e["seq"] for e in events]
        assert seqs == sorted(seqs) and len(seqs) == 7
        assert [e["incident_id"] for e in events] == ["inc-a"] * 5 + ["inc-b"] * 2
        assert inc.updates_after(conn, seqs[4]) == events[5:]
        ev = inc.event_of(events[-1])
        assert ev["status"] == "dismissed" and ev["incident"]["status"] == "dismissed"
        assert ev["incident"]["incident_id"] == "inc-b"
        inc.set_relay_position(conn, "r", seqs[3])
        inc.set_relay_position(conn, "r", seqs[1])  # never moves back
        assert inc.relay_position(conn, "r") == seqs[3]
        assert inc.relay_position(conn, "other") == 0
        assert [i["incident_id"] for i in incidents(conn, active=False)] == ["inc-b", "inc-a"]
        assert inc.active_incidents(conn) == []


def test_failed_action_inside_caller_transaction_rolls_back_only_itself(db_factory) -> None:
    with psycopg.connect(db_factory()) as conn:
        _create(conn, incident_id="inc-c")
        with pytest.raises(inc.InvalidTransition):
            inc.apply_action(conn, "inc-c", action="annotate", actor="x", note="n")
            inc.apply_action(conn, "inc-c", action="clear", actor="x")
            inc.apply_action(conn, "inc-c", action="confirm", actor="x")
        conn.commit()
        assert inc.get_incident(conn, "inc-c")["version"] == 3
        assert inc.get_incident(conn, "inc-c")["status"] == "cleared"
