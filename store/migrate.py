"""Versioned schema migrations: ``store/migrations/NNNN_name[.plain|.timescale].sql``.

Each version is applied once, in order. A version may come in two variants:
``.timescale.sql`` when the TimescaleDB extension is installed in the database,
``.plain.sql`` otherwise (the choice is recorded in ``store_mode``). A file whose
first line is ``-- migrate: no-transaction`` runs statement by statement
outside a transaction (TimescaleDB continuous aggregates need that); all others
run in one transaction with their bookkeeping row. Safe to re-run and to run
concurrently (an advisory lock serialises runners).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import psycopg

log = logging.getLogger(__name__)
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_LOCK_KEY = 0x17_75_0001
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)(?:\.(plain|timescale))?\.sql$")
NO_TRANSACTION = "-- migrate: no-transaction"
Mode = Literal["plain", "timescaledb"]


@dataclass(frozen=True, slots=True)
class Migration:
    """One migration version, with its file per store mode."""

    version: int
    name: str
    files: dict[str, Path]

    def file_for(self, mode: Mode) -> Path:
        """The file to run in ``mode``."""
        if "both" in self.files:
            return self.files["both"]
        return self.files["timescale" if mode == "timescaledb" else "plain"]


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Migrations in version order; raises ``ValueError`` on bad names or incomplete variants."""
    found: dict[int, tuple[str, dict[str, Path]]] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise ValueError(f"migration file {path.name} is not named NNNN_name[.variant].sql")
        version, name, variant = int(match.group(1)), match.group(2), match.group(3) or "both"
        prev_name, files = found.setdefault(version, (name, {}))
        if prev_name != name or variant in files:
            raise ValueError(f"conflicting migration files for version {version}")
        files[variant] = path
    out = []
    for version in sorted(found):
        name, files = found[version]
        if ("both" in files and len(files) > 1) or ("both" not in files and len(files) != 2):
            raise ValueError(f"migration {version} needs one file, or both .plain and .timescale")
        out.append(Migration(version, name, files))
    return out


def detect_mode(conn: psycopg.Connection) -> Mode:
    """The store mode recorded in the database, else TimescaleDB when its extension is there."""
    recorded = conn.execute("SELECT to_regclass('store_mode')").fetchone()
    if recorded is not None and recorded[0] is not None:
        row = conn.execute("SELECT mode FROM store_mode").fetchone()
        if row:
            return row[0]
    has_ext = conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'").fetchone()
    return "timescaledb" if has_ext else "plain"


def _statements(sql: str) -> list[str]:
    """Split a no-transaction file into statements (one per ``;`` at a line end)."""
    parts: list[str] = []
    current: list[str] = []
    for line in sql.splitlines():
        if line.strip().startswith("--") and not current:
            continue
        current.append(line)
        if line.rstrip().endswith(";"):
            parts.append("\n".join(current))
            current = []
    if "".join(current).strip():
        parts.append("\n".join(current))
    return parts


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
                mode = detect_mode(conn)
                path = mig.file_for(mode)
                log.info("applying migration %s (%s)", path.name, mode)
                sql = path.read_text(encoding="utf-8")
                if sql.startswith(NO_TRANSACTION):
                    for statement in _statements(sql):
                        conn.execute(statement)
                    conn.execute(
                        "INSERT INTO schema_migration (version, name) VALUES (%s, %s)",
                        (mig.version, path.stem),
                    )
                else:
                    with conn.transaction():
                        conn.execute(sql)
                        conn.execute(
                            "INSERT INTO schema_migration (version, name) VALUES (%s, %s)",
                            (mig.version, path.stem),
                        )
                applied_now.append(mig.version)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return applied_now


def current_version(dsn: str) -> int | None:
    """Highest applied migration, or ``None`` on an empty database."""
    with psycopg.connect(dsn) as conn:
        exists = conn.execute("SELECT to_regclass('schema_migration')").fetchone()
        if exists is None or exists[0] is None:
            return None
        row = conn.execute("SELECT max(version) FROM schema_migration").fetchone()
        return None if row is None else row[0]
