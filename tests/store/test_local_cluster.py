"""Integration test: the project-owned PostgreSQL + PostGIS cluster goes up and down cleanly."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from store.local_cluster import LocalPostgres

log = logging.getLogger(__name__)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not (os.environ.get("PG_BINDIR") or list(Path("/usr/lib/postgresql").glob("*/bin"))),
        reason="PostgreSQL server binaries not installed",
    ),
]


def _postgres_pids(postmaster: int, data_dir: str) -> set[int]:
    """Live (non-zombie) postmaster, its children, and processes naming ``data_dir``.

    Zombies are skipped: PID 1 of a container may reap the exited postmaster only later.
    """
    pids = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state, ppid = (proc / "stat").read_text().rsplit(")", 1)[1].split()[:2]
        except (OSError, ValueError):
            continue
        if state == "Z":
            continue
        pid = int(proc.name)
        if pid == postmaster or int(ppid) == postmaster or data_dir in cmdline:
            pids.add(pid)
    return pids


@pytest.fixture(params=["reachable", "private"])
def state_dir(request: pytest.FixtureRequest) -> Iterator[tuple[Path, int]]:
    """A state dir under /tmp; "private" is chmod 700, so root must use the fallback home."""
    base = Path(tempfile.mkdtemp(prefix="itms-pg-test-", dir="/tmp"))
    base.chmod(0o700 if request.param == "private" else 0o755)
    port = 55499 if request.param == "private" else 55498
    yield base / "state", port
    link = base / "state" / "pg" / "cluster"
    LocalPostgres(state_dir=base / "state", port=port).down()
    if link.is_symlink():
        shutil.rmtree(os.readlink(link), ignore_errors=True)
    shutil.rmtree(base, ignore_errors=True)


def test_up_status_down(state_dir: tuple[Path, int]) -> None:
    path, port = state_dir
    pg = LocalPostgres(state_dir=path, port=port)
    assert not pg.is_running()

    started = time.monotonic()
    pg.up()
    log.info("first up (initdb included): %.2fs", time.monotonic() - started)
    assert pg.is_running()
    assert pg.dsn() == f"postgresql://itms@127.0.0.1:{port}/itms"

    with psycopg.connect(pg.dsn(), connect_timeout=5) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("itms",)
        assert "POSTGIS=" in conn.execute("SELECT postgis_full_version()").fetchone()[0]

    status = pg.status()
    data_dir = Path(str(status["data_dir"]))
    major = (data_dir / "PG_VERSION").read_text().strip()
    assert status["name"] == "postgresql"
    assert status["running"] is True
    assert status["address"] == f"127.0.0.1:{port}"
    assert int(major) >= 15
    assert str(status["version"]).startswith(f"{major}.")
    assert status["postgis"]
    assert (status["timescaledb"] is None) == (not status["timescaledb_available"])
    if os.geteuid() == 0:
        fallback = (path / "pg" / "cluster").is_symlink()
        assert fallback == (path.parent.stat().st_mode & 0o777 == 0o700)
        assert data_dir.is_relative_to(path / "pg") != fallback

    postmaster = int((data_dir / "postmaster.pid").read_text().split()[0])
    started = time.monotonic()
    pg.up()  # idempotent: same server, nothing restarted
    log.info("warm up: %.2fs", time.monotonic() - started)
    assert int((data_dir / "postmaster.pid").read_text().split()[0]) == postmaster

    pids = _postgres_pids(postmaster, str(data_dir))
    assert postmaster in pids and len(pids) > 1
    pg.down()
    assert not pg.is_running()
    assert not _postgres_pids(postmaster, str(data_dir)) & pids
    assert not _postgres_pids(postmaster, str(data_dir))
    pg.down()  # idempotent

    status = pg.status()
    assert status["running"] is False
    assert status["version"] is None
