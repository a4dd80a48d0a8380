"""Fixtures of the API tests: a migrated database with the Hai Phong demo network, users of
each role, and an app (TestClient) built on it."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from itms.settings import Settings

ROLES = ("viewer", "operator", "admin")
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def api_dsn(stack_settings: Settings, template_db: str) -> Iterator[str]:
    """A fresh database for one test module, with the demo network stored."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    from roadnet.model import load_network
    from store.network_writer import sync_network

    name = f"itms_api_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(stack_settings.dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
    dsn = make_conninfo(**{**conninfo_to_dict(stack_settings.dsn), "dbname": name})
    with psycopg.connect(dsn) as conn:
        sync_network(conn, load_network())
    yield dsn
    with psycopg.connect(stack_settings.dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def users(api_dsn: str) -> dict[str, str]:
    """One user per role (name = role name); returns role → user name."""
    from api.security import hash_password
    from store import accounts

    digest = hash_password(PASSWORD)
    with psycopg.connect(api_dsn) as conn:
        for role in ROLES:
            if accounts.get_user(conn, role) is None:
                accounts.create_user(conn, username=role, password_hash=digest, role=role)
    return {r: r for r in ROLES}


@pytest.fixture
def make_client(stack_settings: Settings, api_dsn: str) -> Iterator[Callable[..., object]]:
    """Builds TestClients of apps on the module's database; settings overridable."""
    from fastapi.testclient import TestClient

    from itms.wiring.api import build_app

    clients = []

    def make(**overrides: object) -> TestClient:
        update = {"database_url": api_dsn, "rate_limit_per_s": 0.0, "state_cache_s": 0.0,
                  "stream_poll_s": 0.2, **overrides}  # fmt: skip
        settings = stack_settings.model_copy(update=update)
        client = TestClient(build_app(settings))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., object]):
    """A TestClient with rate limiting off and no state caching."""
    return make_client()


def login(client, username: str, password: str = PASSWORD) -> dict[str, str]:
    """Authorization header of a fresh bearer token."""
    reply = client.post("/v1/auth/token", data={"username": username, "password": password})
    assert reply.status_code == 200, reply.text
    return {"Authorization": f"Bearer {reply.json()['access_token']}"}


def put_state(
    dsn: str, segment_id: str, *, speed: float, n_vehicles: int, source: str = "probe",
    level: int = 1, minute: datetime | None = None,
) -> None:  # fmt: skip
    """Write one segment's current state (as the state builder would)."""
    minute = minute or datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "INSERT INTO segment_current (segment_id, minute, speed_kmh, travel_time_s,"
            " free_flow_kmh, n_samples, n_vehicles, congestion_level, jam_factor, confidence,"
            " source, updated_at) SELECT %s, %s, %s, length_m / %s * 3.6, 50, %s, %s, %s, 2.0,"
            " 0.8, %s, clock_timestamp() FROM road_segment WHERE segment_id = %s"
            " ON CONFLICT (segment_id) DO UPDATE SET minute = EXCLUDED.minute,"
            " speed_kmh = EXCLUDED.speed_kmh, travel_time_s = EXCLUDED.travel_time_s,"
            " n_samples = EXCLUDED.n_samples, n_vehicles = EXCLUDED.n_vehicles,"
            " congestion_level = EXCLUDED.congestion_level, source = EXCLUDED.source,"
            " updated_at = EXCLUDED.updated_at",
            (segment_id, minute, speed, speed, n_vehicles, n_vehicles, level, source, segment_id),
        )


@contextmanager
def serve(app) -> Iterator[str]:
    """Run ``app`` under uvicorn on a free loopback port in a thread; yields its base URL."""
    import socket
    import threading
    import time

    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
