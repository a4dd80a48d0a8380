"""``itms`` subprocesses (workers, API) of a run: start, kill, stop, memory, logs."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from itms.settings import REPO_ROOT, Settings

WORKERS = ("probe", "detectors", "state", "incidents")  # ``itms worker`` kinds of a run


class Processes:
    """``itms`` subprocesses (workers, API) wired to one environment, logs in ``log_dir``."""

    def __init__(self, settings: Settings, log_dir: Path, **env: str) -> None:
        self.settings = settings
        self.log_dir = log_dir
        log_dir.mkdir(parents=True, exist_ok=True)
        self.env = dict(os.environ)
        self.env.update(
            ITMS_KAFKA_BOOTSTRAP=settings.bootstrap_servers,
            ITMS_DATABASE_URL=settings.dsn,
            ITMS_TOPIC_PREFIX=settings.topic_prefix,
            ITMS_TOPIC_PARTITIONS=str(settings.topic_partitions),
            PYTHONUNBUFFERED="1",
        )
        self.env.update(env)
        self.procs: dict[str, subprocess.Popen] = {}
        self._logs: dict[str, IO] = {}
        self.started = 0

    def start(self, name: str, *args: str) -> subprocess.Popen:
        """Start ``itms <args>`` as ``name`` (a name already running is an error)."""
        assert name not in self.procs or self.procs[name].poll() is not None, name
        self.started += 1
        log = (self.log_dir / f"{name}.log").open("a")
        log.write(f"--- start {datetime.now(UTC).isoformat()} {' '.join(args)}\n")
        log.flush()
        self._logs[name] = log
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "itms.cli", *args], cwd=REPO_ROOT, env=self.env,
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        return self.procs[name]

    def worker(self, kind: str, name: str | None = None) -> subprocess.Popen:
        """Start ``itms worker <kind>`` (probe, detectors, state)."""
        return self.start(name or kind, "worker", kind)

    def kill(self, name: str) -> None:
        """SIGKILL ``name`` and reap it."""
        proc = self.procs[name]
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)

    def stop(self, name: str, timeout_s: float = 60.0) -> int | None:
        """SIGTERM ``name``; SIGKILL after ``timeout_s``. Returns the exit code."""
        proc = self.procs[name]
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=30)
        return proc.returncode

    def alive(self, name: str) -> bool:
        return name in self.procs and self.procs[name].poll() is None

    def rss_mb(self, name: str) -> float | None:
        """Resident memory of ``name`` in MB (``None`` when it is not running)."""
        if not self.alive(name):
            return None
        try:
            for line in Path(f"/proc/{self.procs[name].pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
        except OSError:
            return None
        return None

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.log_dir / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def close(self) -> None:
        """Stop everything still running (SIGTERM, then SIGKILL)."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for name in self.procs:
            self.stop(name, timeout_s=20)
        for log in self._logs.values():
            log.close()
