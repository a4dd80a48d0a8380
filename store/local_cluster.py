"""Project-owned PostgreSQL + PostGIS cluster for local development and CI.

Development only: every connection from 127.0.0.1 and the cluster's own Unix socket is
trusted, and the application role is a SUPERUSER. Production points ``ITMS_DATABASE_URL`` at a
managed server instead and never uses this module.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import shutil
import subprocess
import time
from pathlib import Path

import psycopg
from psycopg import sql

log = logging.getLogger(__name__)

_BOOTSTRAP = "postgres"  # bootstrap superuser, named explicitly at initdb (-U)
_OS_USER = "postgres"  # OS user owning the cluster when we run as root (Debian package user)
_FALLBACK_BASE = Path("/var/tmp")  # not aged by Debian's tmpfiles.d, unlike /tmp
_MARK = "# --- ITMS managed settings: rewritten by store.local_cluster on every start ---"
_HBA = (
    "# ITMS local development cluster: trust only the local socket and 127.0.0.1.\n"
    "local all all trust\nhost all all 127.0.0.1/32 trust\n"
    "local replication all trust\nhost replication all 127.0.0.1/32 trust\n"
)

# Small dev/CI machine; fsync stays on so crash behaviour matches production.
_CONF = """\
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = '{socket_dir}'
max_connections = 100
shared_buffers = 256MB
work_mem = 16MB
maintenance_work_mem = 128MB
effective_cache_size = 1GB
fsync = on
synchronous_commit = on
wal_level = replica
max_wal_size = 1GB
min_wal_size = 80MB
checkpoint_timeout = 15min
logging_collector = off
log_line_prefix = '%m [%p] %q%u@%d '
log_timezone = 'UTC'
timezone = 'UTC'
shared_preload_libraries = '{preload}'
"""


class LocalPostgres:
    """Project-owned PostgreSQL cluster under <state_dir>/pg (initdb, own port, pg_ctl).

    Layout of the cluster home: ``data/`` (PGDATA), ``run/`` (Unix socket) and
    ``log/postgresql.log``. As root, initdb and pg_ctl run as the ``postgres`` OS user via
    ``runuser``; if that user cannot traverse ``state_dir`` (e.g. under /root) the home is
    ``/var/tmp/itms-pg-<hash>`` and ``<state_dir>/pg/cluster`` is a symlink to it.
    The application role is created LOGIN SUPERUSER (acceptable for a local dev cluster).
    """

    def __init__(
        self, *, state_dir: Path, port: int = 55432, database: str = "itms", user: str = "itms"
    ) -> None:
        self.state_dir = Path(state_dir).resolve()
        self.port = port
        self.database = database
        self.user = user
        self._as_root = os.geteuid() == 0

    def up(self, *, timeout_s: float = 60.0) -> None:
        """Init (once), configure, start and bootstrap the cluster; no-op if already up."""
        deadline = time.monotonic() + timeout_s
        pg = self.state_dir / "pg"
        pg.mkdir(parents=True, exist_ok=True)
        if self._as_root:
            pg.chmod(0o755)
        home = self._home()
        data = home / "data"
        try:
            bindir = _find_bindir(data)
            tsdb = _timescaledb_available(bindir)
            if self.is_running():
                log.info("PostgreSQL already running on port %s (%s)", self.port, data)
            else:
                self._prepare(home)
                if not (data / "PG_VERSION").exists():
                    log.info("initdb %s", data)
                    locale = "C.UTF-8" if _has_c_utf8() else "C"
                    opts = f"-U {_BOOTSTRAP} -E UTF8 --locale={locale} --auth=trust"
                    self._run(bindir / "initdb", "-D", data, *opts.split(), "--no-instructions")
                self._configure(home, tsdb)
                wait = str(max(1, math.ceil(deadline - time.monotonic())))
                logfile = home / "log" / "postgresql.log"
                self._run(bindir / "pg_ctl", "start", "-D", data, "-w", "-t", wait, "-l", logfile)
            self._bootstrap_sql(tsdb, deadline)
        except (OSError, subprocess.SubprocessError, psycopg.Error) as exc:
            detail = getattr(exc, "stderr", None) or ""
            raise RuntimeError(
                f"local PostgreSQL ({data}, port {self.port}) failed to come up: {exc}\n{detail}"
                f"\n--- log tail ---\n{_tail(home / 'log' / 'postgresql.log')}"
            ) from exc
        log.info("PostgreSQL ready at %s", self.dsn())

    def down(self, *, timeout_s: float = 60.0) -> None:
        """Stop the cluster (pg_ctl stop -m fast, then immediate); no-op if not running."""
        if not self.is_running():
            return
        data = self._home() / "data"
        pg_ctl = _find_bindir(data) / "pg_ctl"
        wait = str(max(1, math.ceil(timeout_s)))
        try:
            self._run(pg_ctl, "stop", "-D", data, "-m", "fast", "-w", "-t", wait)
        except subprocess.SubprocessError as exc:
            log.warning("fast shutdown failed (%s); trying immediate", exc)
            self._run(pg_ctl, "stop", "-D", data, "-m", "immediate", "-w", "-t", "30")
        if self.is_running():
            raise RuntimeError(f"PostgreSQL in {data} is still running after pg_ctl stop")
        log.info("PostgreSQL on port %s stopped", self.port)

    def is_running(self) -> bool:
        """True when the postmaster recorded in postmaster.pid is alive."""
        return self._postmaster_pid() is not None

    def dsn(self) -> str:
        """libpq URL of the application database (trust auth, no password)."""
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{self.database}"

    def status(self) -> dict[str, object]:
        """Health summary: running, address, server/PostGIS/TimescaleDB versions, data dir."""
        home = self._home()
        try:
            tsdb_available = _timescaledb_available(_find_bindir(home / "data"))
        except (OSError, RuntimeError, subprocess.SubprocessError):
            tsdb_available = False
        out: dict[str, object] = {
            "name": "postgresql",
            "running": self.is_running(),
            "address": f"127.0.0.1:{self.port}",
            "version": None,
            "postgis": None,
            "timescaledb": None,
            "timescaledb_available": tsdb_available,
            "data_dir": str(home / "data"),
        }
        if out["running"]:
            try:
                with self._connect(self.database, time.monotonic() + 5) as conn:
                    row = conn.execute("SHOW server_version").fetchone()
                    out["version"] = row[0] if row else None
                    for ext in ("postgis", "timescaledb"):
                        row = conn.execute(
                            "SELECT extversion FROM pg_extension WHERE extname = %s", (ext,)
                        ).fetchone()
                        out[ext] = row[0] if row else None
            except psycopg.Error as exc:
                log.warning("PostgreSQL status query failed: %s", exc)
        return out

    # -- helpers -------------------------------------------------------------------------------

    def _home(self) -> Path:
        """Cluster home: <state_dir>/pg, or the recorded/derived fallback when root can't share."""
        pg = self.state_dir / "pg"
        link = pg / "cluster"
        if link.is_symlink():
            return Path(os.readlink(link))
        if not self._as_root or (pg / "data" / "PG_VERSION").exists() or self._reachable(pg):
            return pg
        digest = hashlib.sha256(str(self.state_dir).encode()).hexdigest()[:12]
        return _FALLBACK_BASE / f"itms-pg-{digest}"

    def _reachable(self, path: Path) -> bool:
        probe = ["runuser", "-u", _OS_USER, "--", "test", "-x", str(path)]
        return subprocess.run(probe, cwd="/", capture_output=True, check=False).returncode == 0

    def _prepare(self, home: Path) -> None:
        """Create home/{data,run,log}; as root hand them to the postgres OS user."""
        pg = self.state_dir / "pg"
        if home != pg:
            home.mkdir(mode=0o755, exist_ok=True)
            if home.is_symlink() or home.stat().st_uid != 0:
                raise RuntimeError(f"refusing fallback cluster home {home}: not a root-owned dir")
            home.chmod(0o755)
            if not (pg / "cluster").is_symlink():
                (pg / "cluster").symlink_to(home)
            log.info("state dir not reachable by %s; cluster lives in %s", _OS_USER, home)
        for name, mode in (("data", 0o700), ("run", 0o755), ("log", 0o755)):
            sub = home / name
            sub.mkdir(exist_ok=True)
            if self._as_root and sub.stat().st_uid == 0:
                shutil.chown(sub, _OS_USER, _OS_USER)
            sub.chmod(mode)

    def _configure(self, home: Path, tsdb: bool) -> None:
        """(Re)write the managed block of postgresql.conf and the whole pg_hba.conf."""
        socket_dir = str(home / "run")
        if len(f"{socket_dir}/.s.PGSQL.{self.port}") > 100:  # sun_path limit is 107 bytes
            log.warning("socket path under %s too long; Unix socket disabled", socket_dir)
            socket_dir = ""
        preload = "timescaledb" if tsdb else ""
        block = _CONF.format(port=self.port, socket_dir=socket_dir, preload=preload)
        if tsdb:
            block += "timescaledb.telemetry_level = off\n"
        conf = home / "data" / "postgresql.conf"
        base = conf.read_text().split(_MARK)[0].rstrip()
        conf.write_text(f"{base}\n\n{_MARK}\n{block}")
        (home / "data" / "pg_hba.conf").write_text(_HBA)

    def _bootstrap_sql(self, tsdb: bool, deadline: float) -> None:
        """Create the role, database and extensions if missing."""
        ident = sql.Identifier
        with self._connect("postgres", deadline) as conn:
            role = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (self.user,))
            if not role.fetchone():
                conn.execute(sql.SQL("CREATE ROLE {} LOGIN SUPERUSER").format(ident(self.user)))
            db = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.database,))
            if not db.fetchone():
                create = sql.SQL("CREATE DATABASE {} OWNER {}")
                conn.execute(create.format(ident(self.database), ident(self.user)))
        with self._connect(self.database, deadline) as conn:
            for ext in ["postgis", *(["timescaledb"] if tsdb else [])]:
                conn.execute(sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(ident(ext)))

    def _connect(self, dbname: str, deadline: float) -> psycopg.Connection:
        """Connect as the bootstrap superuser over TCP, retrying until the deadline."""
        while True:
            try:
                return psycopg.connect(
                    host="127.0.0.1",
                    port=self.port,
                    dbname=dbname,
                    user=_BOOTSTRAP,
                    autocommit=True,
                    connect_timeout=max(2, int(deadline - time.monotonic())),
                )
            except psycopg.OperationalError:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.2)

    def _postmaster_pid(self) -> int | None:
        try:
            pid = int((self._home() / "data" / "postmaster.pid").read_text().split()[0])
            os.kill(pid, 0)
        except (OSError, ValueError, IndexError):
            return None
        return pid

    def _run(self, *cmd: object) -> None:
        """Run a PostgreSQL binary (as the postgres OS user when we are root)."""
        argv = [str(part) for part in cmd]
        if self._as_root:
            argv = ["runuser", "-u", _OS_USER, "--", *argv]
        log.debug("running %s", argv)
        subprocess.run(argv, cwd="/", check=True, capture_output=True, text=True, timeout=300)


def _find_bindir(data: Path) -> Path:
    """PG_BINDIR, else the version that made ``data``, else the newest installed >= 15."""
    if env := os.environ.get("PG_BINDIR"):
        return Path(env)
    version_file = data / "PG_VERSION"
    if version_file.exists():
        candidates = [Path(f"/usr/lib/postgresql/{version_file.read_text().strip()}/bin")]
    else:
        found = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if p.parent.name.isdigit()]
        candidates = sorted(
            (p for p in found if int(p.parent.name) >= 15),
            key=lambda p: int(p.parent.name),
            reverse=True,
        )
    for bindir in candidates:
        if (bindir / "pg_ctl").exists():
            return bindir
    raise RuntimeError("no PostgreSQL >= 15 binaries (install postgresql-15 or set PG_BINDIR)")


def _timescaledb_available(bindir: Path) -> bool:
    out = subprocess.run(
        [str(bindir / "pg_config"), "--sharedir"], check=True, capture_output=True, text=True
    ).stdout.strip()
    return (Path(out) / "extension" / "timescaledb.control").exists()


def _has_c_utf8() -> bool:
    out = subprocess.run(["locale", "-a"], capture_output=True, text=True, check=False).stdout
    return any(name.lower() in ("c.utf8", "c.utf-8") for name in out.split())


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
