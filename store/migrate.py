"""Versioned schema migrations: ``store/migrations/NNNN_name.sql`` applied in order, once each.

Safe to re-run and to run concurrently (an advisory lock serialises runners).
Each file runs in its own transaction together with its bookkeeping row.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg

log = logging.getLogger(__name__)
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_LOCK_KEY = 0x17_75_0001
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    """One migration file."""

    version: int
    name: str
    path: Path


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Migration files in version order; raises ``ValueError`` on duplicates or bad names."""
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise ValueError(f"migration file {path.name} is not named NNNN_name.sql")
        version = int(match.group(1))
        if version in found:
            raise ValueError(f"two migrations with version {version}")
        found[version] = Migration(version, match.group(2), path)
    return [found[v] for v in sorted(found)]


def migrate(dsn: str, *, directory: Path = MIGRATIONS_DIR) -> list[int]:
    """Apply pending migrations; returns the versions applied by this call."""
    applied_now: list[int] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migration ("
                " version integer PRIMARY KEY, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {r[0] for r in conn.execute("SELECT version FROM schema_migration")}
            for mig in discover(directory):
                if mig.version in done:
                    continue
                log.info("applying migration %04d_%s", mig.version, mig.name)
                with conn.transaction():
                    conn.execute(mig.path.read_text(encoding="utf-8"))
                    conn.execute(
                        "INSERT INTO schema_migration (version, name) VALUES (%s, %s)",
                        (mig.version, mig.name),
                    )
                applied_now.append(mig.version)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return applied_now


def current_version(dsn: str) -> int | None:
    """Highest applied migration, or ``None`` on an empty database."""
    with psycopg.connect(dsn) as conn:
        exists = conn.execute("SELECT to_regclass('schema_migration')").fetchone()[0]
        if exists is None:
            return None
        return conn.execute("SELECT max(version) FROM schema_migration").fetchone()[0]
