"""Operator and admin API against the real database: authentication, roles, incident actions,
detector status, users and keys, the audit log, rate limiting."""

from __future__ import annotations

import re
import time

import psycopg
import pytest

from api.security import issue_token
from itms.settings import DEFAULT_DEV_SECRET
from tests.api.conftest import login

pytestmark = pytest.mark.integration
RANK = {"viewer": 0, "operator": 1, "admin": 2}


def _protected_routes(app) -> list[tuple[str, str, str]]:
    """(method, path, least role) of every operator/admin operation of the OpenAPI spec."""
    out = []
    for path, ops in app.openapi()["paths"].items():
        if not path.startswith(("/v1/operator", "/v1/admin")):
            continue
        for method in ops:
            if path.startswith("/v1/admin"):
                need = "admin"
            else:
                need = "viewer" if method == "get" else "operator"
            out.append((method.upper(), re.sub(r"\{[^}]+\}", "x", path), need))
    return out


def test_every_protected_endpoint_refuses_anonymous_and_underprivileged(client, users) -> None:
    routes = _protected_routes(client.app)
    assert len(routes) >= 15
    headers = {role: login(client, role) for role in RANK}
    bad = {"Authorization": "Bearer abc.def"}
    expired, _ = issue_token(client.app.state.config.secret_key, "admin", "admin", -10)
    for method, path, need in routes:
        anon = client.request(method, path, json={})
        assert anon.status_code == 401, (method, path, anon.status_code)
        assert anon.headers["www-authenticate"] == "Bearer"
        assert client.request(method, path, json={}, headers=bad).status_code == 401
        old = client.request(method, path, json={},
                             headers={"Authorization": f"Bearer {expired}"})  # fmt: skip
        assert old.status_code == 401 and "expired" in old.json()["detail"]
        for role, h in headers.items():
            reply = client.request(method, path, json={}, headers=h)
            if RANK[role] < RANK[need]:
                assert reply.status_code == 403, (method, path, role)
            else:
                assert reply.status_code not in (401, 403), (method, path, role, reply.text)


def test_wrong_password_and_forged_token_are_refused(client, users) -> None:
    wrong = client.post("/v1/auth/token", data={"username": "admin", "password": "nope-nope-1"})
    assert wrong.status_code == 401
    nobody = client.post("/v1/auth/token", data={"username": "ghost", "password": "x" * 12})
    assert nobody.status_code == 401
    forged, _ = issue_token("another-secret", "admin", "admin", 600)
    reply = client.get("/v1/auth/me", headers={"Authorization": f"Bearer {forged}"})
    assert reply.status_code == 401
    me = client.get("/v1/auth/me", headers=login(client, "operator")).json()
    assert me == {"username": "operator", "role": "operator", "auth": "token"}


def test_incident_lifecycle_through_the_api_is_audited(client, users, api_dsn) -> None:
    op, viewer, admin = login(client, "operator"), login(client, "viewer"), login(client, "admin")
    body = {"kind": "accident", "severity": 3, "lon": 106.6858, "lat": 20.8492,
            "road_name": "Lạch Tray", "est_delay_s": 240, "status": "suspected",
            "note": "caller on hotline"}  # fmt: skip
    created = client.post("/v1/operator/incidents", json=body, headers=op)
    assert created.status_code == 201, created.text
    inc = created.json()
    iid = inc["incident_id"]
    assert inc["status"] == "suspected" and inc["source"] == "operator" and inc["version"] == 1
    assert client.post("/v1/operator/incidents", json={**body, "lat": None},
                       headers=op).status_code == 400  # fmt: skip
    assert client.post("/v1/operator/incidents", json={**body, "severity": 9},
                       headers=op).status_code == 422  # fmt: skip
    # version check, then confirm
    stale = client.post(f"/v1/operator/incidents/{iid}/confirm", json={"expected_version": 7},
                        headers=op)  # fmt: skip
    assert stale.status_code == 409
    conf = client.post(f"/v1/operator/incidents/{iid}/confirm", json={"note": "on camera"},
                       headers=op)  # fmt: skip
    assert conf.status_code == 200 and conf.json()["status"] == "confirmed"
    again = client.post(f"/v1/operator/incidents/{iid}/confirm", headers=op)
    assert again.status_code == 409 and "confirmed" in again.json()["detail"]
    patched = client.patch(f"/v1/operator/incidents/{iid}", json={"severity": 4}, headers=op)
    assert patched.status_code == 200 and patched.json()["severity"] == 4
    note = client.post(f"/v1/operator/incidents/{iid}/annotate", json={"note": "tow truck"},
                       headers=op)  # fmt: skip
    assert note.status_code == 200
    done = client.post(f"/v1/operator/incidents/{iid}/resolve", headers=op)
    assert done.status_code == 200 and done.json()["status"] == "resolved"
    assert done.json()["ended_at"] is not None
    assert client.post(f"/v1/operator/incidents/{iid}/dismiss", headers=op).status_code == 409
    assert client.post("/v1/operator/incidents/nope/confirm", headers=op).status_code == 404
    # the operator view has the full history with actors; viewers can read it
    full = client.get(f"/v1/operator/incidents/{iid}", headers=viewer).json()
    assert [h["action"] for h in full["history"]] == [
        "create", "confirm", "update", "annotate", "resolve"]  # fmt: skip
    assert {h["actor"] for h in full["history"]} == {"operator"}
    listed = client.get("/v1/operator/incidents", params={"status": ["resolved"]}, headers=viewer)
    row = {i["incident_id"]: i for i in listed.json()["incidents"]}[iid]
    # the list has the same fields as one incident: who created it, when it was confirmed
    assert row["created_by"] == "operator" and row["confirmed_at"] is not None
    assert {k: row[k] for k in ("queue_m", "method", "detected_at")} == {
        k: full[k] for k in ("queue_m", "method", "detected_at")}  # fmt: skip
    # every write is in the audit log with before and after
    log = client.get("/v1/admin/audit", params={"resource_type": "incident"}, headers=admin)
    entries = [e for e in log.json()["entries"] if e["after"] and
               e["after"].get("incident_id") == iid]  # fmt: skip
    actions = [e["action"] for e in reversed(entries)]
    assert actions == ["incident.create", "incident.confirm", "incident.update",
                       "incident.annotate", "incident.resolve"]  # fmt: skip
    confirm = entries[-2]
    assert confirm["actor"] == "operator" and confirm["actor_role"] == "operator"
    assert confirm["before"]["status"] == "suspected" and confirm["after"]["status"] == "confirmed"
    # refused writes leave no audit entry
    with psycopg.connect(api_dsn) as conn:
        n = conn.execute("SELECT count(*) FROM audit_log WHERE resource_id = %s", (iid,))
        assert n.fetchone()[0] == 5


def test_detector_status_changes_are_audited(client, users, api_dsn) -> None:
    with psycopg.connect(api_dsn) as conn:
        seg = conn.execute("SELECT segment_id FROM road_segment LIMIT 1").fetchone()[0]
        conn.execute("INSERT INTO detector (detector_id, segment_id) VALUES ('LT-9', %s)"
                     " ON CONFLICT DO NOTHING", (seg,))  # fmt: skip
    op = login(client, "operator")
    failed = client.put("/v1/operator/detectors/LT-9/status",
                        json={"status": "failed", "note": "loop cut"}, headers=op)  # fmt: skip
    assert failed.status_code == 200, failed.text
    assert failed.json()["status"] == "failed" and failed.json()["status_changed_by"] == "operator"
    health = client.get("/v1/operator/detectors", headers=op).json()
    assert {d["detector_id"]: d["status"] for d in health}["LT-9"] == "failed"
    back = client.put("/v1/operator/detectors/LT-9/status", json={"status": "in_service"},
                      headers=op)  # fmt: skip
    assert back.json()["status"] == "in_service"
    assert client.put("/v1/operator/detectors/none/status", json={"status": "failed"},
                      headers=op).status_code == 404  # fmt: skip
    assert client.put("/v1/operator/detectors/LT-9/status", json={"status": "broken"},
                      headers=op).status_code == 422  # fmt: skip
    log = client.get("/v1/admin/audit", params={"resource_id": "LT-9"},
                     headers=login(client, "admin")).json()["entries"]  # fmt: skip
    assert [(e["before"]["status"], e["after"]["status"]) for e in reversed(log)] == [
        ("in_service", "failed"), ("failed", "in_service")]  # fmt: skip


def test_admin_manages_users_and_keys(client, users, api_dsn) -> None:
    admin = login(client, "admin")
    weak = client.post("/v1/admin/users", json={"username": "lan", "password": "aaaaaaaaaaaa"},
                       headers=admin)  # fmt: skip
    assert weak.status_code == 400
    made = client.post(
        "/v1/admin/users",
        headers=admin,
        json={"username": "lan", "password": "Hai Phong 2026!", "role": "operator"},
    )
    assert made.status_code == 201 and "password" not in made.text
    dup = client.post("/v1/admin/users", headers=admin,
                      json={"username": "lan", "password": "Hai Phong 2026!"})  # fmt: skip
    assert dup.status_code == 409
    with psycopg.connect(api_dsn) as conn:
        stored = conn.execute("SELECT password_hash FROM api_user WHERE username = 'lan'")
        digest = stored.fetchone()[0]
    assert digest.startswith("scrypt$") and "Hai Phong" not in digest
    # an operator user with a viewer key acts as a viewer
    key = client.post(
        "/v1/admin/keys",
        headers=admin,
        json={"username": "lan", "role": "viewer", "name": "wall screen"},
    ).json()
    assert key["api_key"].startswith("itms_") and key["role"] == "viewer"
    with psycopg.connect(api_dsn) as conn:
        row = conn.execute("SELECT key_hash FROM api_key WHERE key_id = %s", (key["key_id"],))
        assert key["api_key"].split("_", 2)[2] not in row.fetchone()[0]
    kh = {"X-API-Key": key["api_key"]}
    assert client.get("/v1/auth/me", headers=kh).json()["role"] == "viewer"
    bearer = {"Authorization": f"Bearer {key['api_key']}"}
    assert client.get("/v1/operator/incidents", headers=bearer).status_code == 200
    assert client.post("/v1/operator/incidents/x/confirm", headers=kh).status_code == 403
    assert client.get("/v1/admin/keys", headers=admin).json()[0]["key_id"] == key["key_id"]
    tampered = {"X-API-Key": key["api_key"][:-2] + "xx"}
    assert client.get("/v1/auth/me", headers=tampered).status_code == 401
    # demoting the user to viewer caps a token issued before
    lan = login(client, "lan", "Hai Phong 2026!")
    assert client.get("/v1/auth/me", headers=lan).json()["role"] == "operator"
    client.patch("/v1/admin/users/lan", json={"role": "viewer"}, headers=admin)
    assert client.get("/v1/auth/me", headers=lan).json()["role"] == "viewer"
    # revoking the key and deactivating the user take effect at once
    assert client.delete(f"/v1/admin/keys/{key['key_id']}", headers=admin).status_code == 200
    assert client.get("/v1/auth/me", headers=kh).status_code == 401
    client.patch("/v1/admin/users/lan", json={"active": False}, headers=admin)
    assert client.get("/v1/auth/me", headers=lan).status_code == 401
    assert client.patch("/v1/admin/users/admin", json={"active": False},
                        headers=admin).status_code == 400  # fmt: skip
    log = client.get("/v1/admin/audit", params={"user": "admin", "limit": 3},
                     headers=admin).json()  # fmt: skip
    assert [e["action"] for e in log["entries"]] == ["user.update", "key.revoke", "user.update"]
    more = client.get("/v1/admin/audit", params={"user": "admin", "cursor": log["next_cursor"]},
                      headers=admin).json()  # fmt: skip
    assert [e["action"] for e in more["entries"]][:2] == ["key.create", "user.create"]


def test_rate_limit_answers_429_with_retry_after(make_client, users) -> None:
    client = make_client(rate_limit_per_s=1.0, rate_limit_burst=3)
    codes = [client.get("/v1/segments", params={"limit": 1}).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    limited = client.get("/v1/segments", params={"limit": 1})
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    assert "rate limit" in limited.json()["detail"]
    assert client.get("/healthz").status_code == 200  # not limited
    # another client (an API key) has its own bucket
    other = {"X-API-Key": "itms_0123456789ab_whatever"}
    assert client.get("/v1/segments", params={"limit": 1}, headers=other).status_code == 200
    time.sleep(1.1)
    assert client.get("/v1/segments", params={"limit": 1}).status_code == 200


def test_production_refuses_the_default_secret() -> None:
    from itms.settings import Settings

    with pytest.raises(ValueError, match="SECRET_KEY"):
        Settings(env="production", secret_key=DEFAULT_DEV_SECRET)
    assert Settings(env="production", secret_key="s" * 40).env == "production"


def test_incidents_below_the_announce_confidence_are_kept_for_review(client, users,
                                                                   api_dsn) -> None:
    from datetime import UTC, datetime

    from analytics.workers.incident_worker import relay
    from store.incidents import create_incident

    with psycopg.connect(api_dsn) as conn:
        create_incident(
            conn, kind="unexplained_queue", severity=2, segment_id=None, lon=106.69, lat=20.85,
            road_name="Lê Lợi", direction=None, started_at=datetime.now(UTC), source="probe",
            evidence={"vehicles": 2}, est_delay_s=40.0, actor="incident-worker",
            incident_id="review-1", confidence=0.31, announced=False,
        )  # fmt: skip
        sent: list[tuple[str, bytes]] = []
        relay(conn, lambda k, v: sent.append((k, v)), lambda: None, relay_name="test-review")
    assert "review-1" not in {k for k, _ in sent}  # not published
    assert client.get("/v1/incidents/review-1").status_code == 404
    public = client.get("/v1/incidents?limit=500").json()["features"]
    assert "review-1" not in {f["id"] for f in public}
    viewer, op = login(client, "viewer"), login(client, "operator")
    listed = client.get("/v1/operator/incidents?limit=500", headers=viewer).json()["incidents"]
    assert "review-1" not in {i["incident_id"] for i in listed}
    review = client.get("/v1/operator/incidents?review=true", headers=viewer).json()["incidents"]
    mine = next(i for i in review if i["incident_id"] == "review-1")
    assert mine["confidence"] == pytest.approx(0.31) and mine["announced"] is False
    # an operator who checked it publishes it
    done = client.post("/v1/operator/incidents/review-1/announce", json={"note": "on camera"},
                       headers=op)  # fmt: skip
    assert done.status_code == 200, done.text
    assert done.json()["announced"] is True
    assert client.get("/v1/incidents/review-1").status_code == 200
    with psycopg.connect(api_dsn) as conn:
        relay(conn, lambda k, v: sent.append((k, v)), lambda: None, relay_name="test-review")
    events = [v for k, v in sent if k == "review-1"]
    assert len(events) == 1 and b'"action":"announce"' in events[0]
