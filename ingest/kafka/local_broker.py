"""Project-owned single-node Kafka 4.x broker (KRaft, combined broker+controller).

Jars come from Maven (``pom.xml`` beside this file); the broker runs as a background
``java kafka.Kafka`` in its own session, with jars, data, config, logs and pid file under
``<state_dir>/kafka``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)

_HERE = Path(__file__).resolve().parent
POM = _HERE / "pom.xml"
LOG4J2_CONFIG = _HERE / "log4j2.properties"
CLUSTER_ID = "SVRNUy1sb2NhbC1rYWZrYQ"  # fixed base64 UUID: b"ITMS-local-kafka"
PROBE_TOPIC = "_itms_broker_probe"
_STAMP = ".itms-pom.sha256"


def render_server_properties(*, port: int, controller_port: int, log_dir: Path) -> str:
    """server.properties for a standalone KRaft node listening on 127.0.0.1 only."""
    settings = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.bootstrap.servers": f"127.0.0.1:{controller_port}",
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(log_dir),
        "num.partitions": "6",
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        "auto.create.topics.enable": "true",
    }
    return "".join(f"{key}={value}\n" for key, value in settings.items())


def _java() -> str:
    """$JAVA_HOME/bin/java when present, else java from PATH."""
    home = os.environ.get("JAVA_HOME")
    home_java = Path(home, "bin", "java") if home else None
    found = str(home_java) if home_java and home_java.is_file() else shutil.which("java")
    if not found:
        raise RuntimeError("java not found on PATH or in $JAVA_HOME (Kafka 4.1 needs Java 17+)")
    return found


def _pid_alive(pid: int) -> bool:
    """True while pid exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _port_open(port: int, timeout_s: float = 0.5) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout_s):
        return True
    return False


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _probe(bootstrap: str) -> bool:
    """True once a record sent to the (1-partition) probe topic is acked with acks=all."""
    from kafka import KafkaAdminClient, KafkaProducer  # lazy: only up() needs a client
    from kafka.admin import NewTopic
    from kafka.errors import KafkaError, TopicAlreadyExistsError

    admin = producer = None
    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
        if PROBE_TOPIC not in admin.list_topics():  # create it: auto-create logs client errors
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics([NewTopic(PROBE_TOPIC, 1, 1)])
        producer = KafkaProducer(
            bootstrap_servers=bootstrap, acks="all", request_timeout_ms=5000, max_block_ms=5000
        )
        producer.send(PROBE_TOPIC, b"ping").get(timeout=10)
        return True
    except (KafkaError, OSError) as exc:  # not ready yet: metadata, leader election, ...
        log.debug("broker probe: %r", exc)
        return False
    finally:
        for client in (producer, admin):
            if client is not None:
                client.close()


class LocalKafkaBroker:
    """Project-owned single-node KRaft broker under <state_dir>/kafka."""

    def __init__(
        self,
        *,
        state_dir: Path,
        port: int = 19092,
        controller_port: int = 19093,
        heap_mb: int = 512,
    ) -> None:
        self.home = Path(state_dir).resolve() / "kafka"
        self.port, self.controller_port, self.heap_mb = port, controller_port, heap_mb
        self.address = f"127.0.0.1:{port}"
        self.libs, self.data_dir = self.home / "libs", self.home / "data"
        self.logs, self.config = self.home / "logs", self.home / "server.properties"
        self.pid_file = self.home / "kafka.pid"
        self._proc: subprocess.Popen[bytes] | None = None

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Serialise install/up/down across processes sharing this state dir."""
        self.home.mkdir(parents=True, exist_ok=True)
        with (self.home / ".lock").open("w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            yield

    def _jvm(self, main: str, *args: str, heap_mb: int) -> list[str]:
        return [
            _java(),
            f"-Xms{heap_mb}m",
            f"-Xmx{heap_mb}m",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={LOG4J2_CONFIG}",
            f"-Dkafka.logs.dir={self.logs}",
            "-cp",
            f"{self.libs}/*",
            main,
            *args,
        ]

    def install(self) -> None:
        """Copy the broker's runtime jars into libs/ via Maven; no-op when pom is unchanged."""
        digest = hashlib.sha256(POM.read_bytes()).hexdigest()
        stamp = self.libs / _STAMP
        if stamp.is_file() and stamp.read_text().strip() == digest and self._kafka_jar():
            return
        mvn = shutil.which("mvn")
        if not mvn:
            raise RuntimeError("mvn not found on PATH: needed once to fetch the Kafka jars")
        partial = self.home / "libs.partial"
        shutil.rmtree(partial, ignore_errors=True)
        log.info("fetching Kafka jars with Maven into %s", self.libs)
        cmd = [
            mvn,
            "-q",
            "-B",
            "-Dstyle.color=never",
            "-f",
            str(POM),
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={partial}",
        ]
        res = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if res.returncode != 0 or not list(partial.glob("kafka_2.13-*.jar")):
            tail = "\n".join((res.stdout + res.stderr).splitlines()[-40:])
            raise RuntimeError(f"mvn copy-dependencies failed (exit {res.returncode}):\n{tail}")
        (partial / _STAMP).write_text(digest + "\n")
        shutil.rmtree(self.libs, ignore_errors=True)
        partial.rename(self.libs)

    def _kafka_jar(self) -> Path | None:
        return next(iter(sorted(self.libs.glob("kafka_2.13-*.jar"))), None)

    def _format(self) -> None:
        """Format the KRaft storage once (fixed cluster id, dynamic standalone quorum)."""
        if (self.data_dir / "meta.properties").is_file():
            return
        cmd = self._jvm(
            "kafka.tools.StorageTool",
            "format",
            "--config",
            str(self.config),
            "--cluster-id",
            CLUSTER_ID,
            "--standalone",
            "--ignore-formatted",
            heap_mb=256,
        )
        res = subprocess.run(cmd, capture_output=True, text=True, cwd=self.home, check=False)
        if res.returncode != 0:
            raise RuntimeError(f"kafka storage format failed:\n{res.stdout}{res.stderr}")

    def _read_pid(self) -> int | None:
        """The pid recorded in the pid file, if any (may be stale: see is_running)."""
        try:
            return int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None

    def is_running(self) -> bool:
        """True when the pid file names a live `kafka.Kafka` process using this state dir."""
        pid = self._read_pid()
        if pid is None or not _pid_alive(pid):
            return False
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return False
        return b"kafka.Kafka" in cmdline and str(self.config).encode() in cmdline

    def up(self, *, timeout_s: float = 120.0) -> None:
        """Install, format and start the broker; return once it acks a produce (timeout in s)."""
        with self._locked():
            deadline = time.monotonic() + timeout_s
            for attempt in (1, 2):  # a JVM that dies silently at start-up gets one more try
                started = not self.is_running()
                if started:
                    self._start()
                elif _port_open(self.port):
                    return
                try:
                    self._wait_ready(deadline)
                    return
                except RuntimeError as exc:
                    if started:  # leave no half-started broker behind
                        self._stop(timeout_s=10.0)
                    if attempt == 2 or not started or "exited during startup" not in str(exc):
                        raise
                    log.warning("Kafka broker start failed, trying once more: %s", exc)
                    time.sleep(2.0)

    def _start(self) -> None:
        if _port_open(self.port) or _port_open(self.controller_port):
            raise RuntimeError(
                f"port {self.port} or {self.controller_port} is already in use "
                "by another process; pick other ports or stop it"
            )
        self.install()
        for d in (self.data_dir, self.logs):
            d.mkdir(parents=True, exist_ok=True)
        self.config.write_text(
            render_server_properties(
                port=self.port, controller_port=self.controller_port, log_dir=self.data_dir
            )
        )
        self._format()
        cmd = self._jvm("kafka.Kafka", str(self.config), heap_mb=self.heap_mb)
        with (self.logs / "stdout.log").open("ab") as out:
            out.write(f"--- {time.ctime()}: starting {' '.join(cmd)}\n".encode())
            out.flush()
            self._proc = subprocess.Popen(
                cmd,
                cwd=self.home,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pid_file.write_text(f"{self._proc.pid}\n")
        log.info("started Kafka broker pid %d on %s", self._proc.pid, self.address)

    def _exited(self) -> str | None:
        """Why the broker we are starting is gone (exit status), or None while it lives.

        Our own child is judged by its handle, not by /proc: its cmdline can read empty for a
        moment while the JVM starts, which once made a healthy start look like an exit."""
        if self._proc is None:
            return None if self.is_running() else "the broker process is gone"
        code = self._proc.poll()
        if code is None:
            return None
        return f"killed by signal {-code}" if code < 0 else f"exit status {code}"

    def _wait_ready(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            if (why := self._exited()) is not None:
                self._fail(f"Kafka broker exited during startup ({why})")
            if _port_open(self.port) and _probe(self.address):
                return
            time.sleep(0.25)
        self._fail(f"Kafka broker not accepting produce requests on {self.address} in time")

    def _fail(self, message: str) -> None:
        raise RuntimeError(
            f"{message}\n--- {self.logs / 'server.log'} (tail) ---\n"
            f"{_tail(self.logs / 'server.log')}\n--- stdout.log (tail) ---\n"
            f"{_tail(self.logs / 'stdout.log', 20)}"
        )

    def down(self, *, timeout_s: float = 60.0) -> None:
        """SIGTERM the broker, SIGKILL it after timeout_s seconds; idempotent."""
        with self._locked():
            self._stop(timeout_s=timeout_s)

    def _stop(self, *, timeout_s: float) -> None:
        pid = self._read_pid()
        if pid is not None and self.is_running():
            for sig, wait_s in ((signal.SIGTERM, timeout_s), (signal.SIGKILL, 10.0)):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, sig)  # the broker leads its own session (start_new_session)
                if self._wait_exit(pid, time.monotonic() + wait_s):
                    break
                log.warning("Kafka pid %d still alive %.0f s after %s", pid, wait_s, sig.name)
        if self._proc is not None:
            self._proc.poll()  # reap a child that died on its own
        self.pid_file.unlink(missing_ok=True)
        self._proc = None

    def _wait_exit(self, pid: int, deadline: float) -> bool:
        while time.monotonic() < deadline:
            if self._proc is not None:
                self._proc.poll()  # reap our own child so it does not linger as a zombie
            if not _pid_alive(pid):
                return True
            time.sleep(0.1)
        return False

    def status(self) -> dict[str, object]:
        """Name, running flag, address, Kafka version (from the jar name), pid and data dir."""
        jar = self._kafka_jar()
        running = self.is_running()
        return {
            "name": "kafka",
            "running": running,
            "address": self.address,
            "version": jar.stem.removeprefix("kafka_2.13-") if jar else None,
            "pid": self._read_pid() if running else None,
            "data_dir": str(self.data_dir),
        }
