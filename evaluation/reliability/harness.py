"""Fault-suite harness: seeded feeds, real worker processes, and the undisturbed reference.

The reference is what an undisturbed pipeline stores for the messages a topic holds: every
partition read in offset order through the workers' own processors (processing depends only on
the order within a partition; traversals stamped with when they became known, as the worker
does), then the state builder over every minute in time order, then the incident worker's
logic over every minute the final watermarks make due. Stored results are compared as
multisets, so a lost or a doubled result shows up as a difference.
Shared by ``tests/reliability`` and ``bench/soak.py``.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

import psycopg
from kafka import KafkaAdminClient, KafkaConsumer
from kafka.errors import KafkaError
from kafka.structs import TopicPartition

from analytics.workers.detector_worker import DETECTOR_GROUP, DetectorProcessor
from analytics.workers.event_time import process_in_event_time
from analytics.workers.incident_worker import (
    IncidentService,
    IncidentWorkerParams,
    InputPartition,
)
from analytics.workers.probe_worker import PROBE_GROUP, ProbeProcessor
from analytics.workers.state_builder import StateBuilder
from ingest.batching import PartitionBatcher
from ingest.errors import InvalidMessage
from ingest.kafka.clients import make_producer
from ingest.records import read_records
from ingest.replay import replay
from ingest.validation import FeedValidator
from itms.settings import REPO_ROOT, Settings
from roadnet import model as m
from roadnet.model import RoadNetwork
from store.detectors import read_inventory, sync_detectors
from store.migrate import migrate
from store.network_writer import sync_network
from store.rollups import refresh_dirty_rollups
from store.state_writer import StoreWriter
from store.traversal_writer import PRESENCE_COLUMNS

GROUPS = {"gps": PROBE_GROUP, "detectors": DETECTOR_GROUP}
MEASURED = ("probe", "detector", "fused")
WORKERS = ("probe", "detectors", "state", "incidents")  # ``itms worker`` kinds of a run


# -- feeds -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Feed:
    """A simulated run on disk: both feeds (JSON lines) and the detector inventory."""

    directory: Path
    n_gps: int
    n_detectors: int
    start: datetime | None = None

    @property
    def gps(self) -> Path:
        return self.directory / "gps.jsonl"

    @property
    def detectors(self) -> Path:
        return self.directory / "detectors.jsonl"

    @property
    def inventory(self) -> Path:
        return self.directory / "truth" / "detectors.csv"

    def incidents(self) -> list[dict[str, str]]:
        """The incidents the simulator injected (ground truth)."""
        with (self.directory / "truth" / "incidents.csv").open(newline="") as f:
            return list(csv.DictReader(f))


def simulate_feed(
    out_dir: Path, *, vehicles: int, duration_s: int, seed: int, start: datetime,
    incidents: list[dict] | None = None,
) -> Feed:  # fmt: skip
    """Run ``itms simulate`` into ``out_dir`` (deterministic for the arguments), with the
    ``incidents`` of a scenario (:class:`simulators.scenario.IncidentSpec` fields) injected."""
    out_dir.mkdir(parents=True, exist_ok=True)
    scenario = out_dir / "scenario.json"
    scenario.write_text(json.dumps({"incidents": incidents or []}))
    cmd = [sys.executable, "-m", "itms.cli", "simulate", "--scenario", str(scenario),
           "--vehicles", str(vehicles), "--duration", str(duration_s), "--seed", str(seed),
           "--out-dir", str(out_dir),
           "--start", start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")]  # fmt: skip
    subprocess.run(cmd, check=True, cwd=REPO_ROOT, capture_output=True, timeout=300)
    lines = [sum(1 for _ in (out_dir / f).open()) for f in ("gps.jsonl", "detectors.jsonl")]
    return Feed(out_dir, *lines, start=start.astimezone(UTC))


def recent_start(duration_s: int, *, margin_s: int = 120) -> datetime:
    """A minute-aligned start so that the whole feed lies in the past (valid timestamps)."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    return now - timedelta(seconds=duration_s + margin_s)


def recent_local_start(
    local_time: str, timezone: str, duration_s: int, *, margin_s: int = 120
) -> datetime:
    """The latest start at the local clock time ``local_time`` (``HH:MM``) whose whole feed
    lies in the past (at most a day ago): the same time of day, so the same traffic, in
    every run."""
    from zoneinfo import ZoneInfo

    hour, minute = (int(x) for x in local_time.split(":"))
    latest = recent_start(duration_s, margin_s=margin_s).astimezone(ZoneInfo(timezone))
    start = latest.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if start > latest:
        start -= timedelta(days=1)
    return start.astimezone(UTC)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def create_database(admin_dsn: str, name: str) -> str:
    """Create and migrate database ``name`` on the server of ``admin_dsn``; returns its DSN."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    dsn = make_conninfo(**{**conninfo_to_dict(admin_dsn), "dbname": name})
    migrate(dsn)
    return dsn


def fresh_environment(base: Settings, prefix: str) -> tuple[str, str, Settings]:
    """A new migrated database and topic prefix on ``base``'s servers, named ``prefix`` +
    time + random: (name, its DSN, settings pointing at both)."""
    tag = f"{prefix}{datetime.now(UTC):%H%M%S}{uuid.uuid4().hex[:4]}"
    dsn = create_database(base.dsn, tag)
    settings = base.model_copy(update={"database_url": dsn, "topic_prefix": f"{tag}.",
                                       "kafka_bootstrap": base.bootstrap_servers})  # fmt: skip
    return tag, dsn, settings


def drop_database(admin_dsn: str, name: str) -> None:
    """Drop database ``name`` (connections closed) if it exists."""
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def prepare_db(dsn: str, network: RoadNetwork, feed: Feed | None = None) -> None:
    """Store the network (and the feed's detectors and a day of speed history before it,
    :func:`seed_speed_history`) in the database ``dsn``."""
    with psycopg.connect(dsn) as conn:
        sync_network(conn, network)
        if feed is not None:
            sync_detectors(conn, read_inventory(feed.inventory, network), network)
            if feed.start is not None:
                seed_speed_history(conn, network, feed.start)


def seed_speed_history(
    conn: psycopg.Connection, network: RoadNetwork, start: datetime, *,
    hours: float = 2.0,
) -> None:  # fmt: skip
    """The speed profile of a system that has run before: every segment at its free-flow speed
    one day before the ``hours`` from 30 minutes before ``start`` (one state per segment and
    15-minute slot, rolled up). A database without any profile for the hour is a fresh
    installation, whose incident worker judges probes only against recent baselines."""
    seg = network.segments
    ids = seg[m.SEGMENT_ID].tolist()
    ff = seg[m.FREE_FLOW].to_numpy(float)
    tt = seg[m.LENGTH].to_numpy(float) / ff * 3.6
    first = (start - timedelta(days=1, minutes=30)).replace(second=0, microsecond=0)
    first -= timedelta(minutes=first.minute % 15)
    slots = [first + timedelta(minutes=15 * k) for k in range(int(hours * 4) + 1)]
    rows = [(ids[i], slot, float(ff[i]), float(tt[i]), float(ff[i]), 0, 0, 0, 0.0, 0.5, "probe")
            for slot in slots for i in range(len(ids))]  # fmt: skip
    writer = StoreWriter()
    writer.prepare(conn, "segment_state", slots)
    with conn.transaction():
        writer.write_states(conn, rows)
    if writer.mode(conn) == "plain":
        refresh_dirty_rollups(conn)


def publish(
    settings: Settings, feed: Feed, *, speedup: float | None = None,
    stop: threading.Event | None = None, batch: int = 0,
) -> dict[str, int]:  # fmt: skip
    """Publish both feeds keyed by vehicle / detector (two threads, same pacing); with
    ``batch`` the GPS feed goes in batches of up to that many fixes per partition.

    Returns the records handed to the producer per feed; they are flushed before returning.
    """
    producer = make_producer(settings.kafka, client_id="fault-suite-feed")
    sent: dict[str, int] = {}

    def one(kind: str, path: Path) -> None:
        topic = settings.topic(kind)
        records = read_records(path)
        if stop is not None:
            records = _until(records, stop)
        batcher = None
        if batch and kind == "gps":
            batcher = PartitionBatcher(
                lambda p, k, v: producer.send(topic, key=k, value=v, partition=p),
                len(producer.partitions_for(topic)), kind=kind, max_items=batch,
            )  # fmt: skip
        stats = replay(records, lambda k, v: producer.send(topic, key=k, value=v),
                       kind=kind, speedup=speedup, progress=None, batcher=batcher)  # fmt: skip
        sent[kind] = stats.published

    threads = [threading.Thread(target=one, args=(k, p), daemon=True)
               for k, p in (("gps", feed.gps), ("detectors", feed.detectors))]  # fmt: skip
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    producer.flush()
    producer.close()
    return sent


def _until(records: Iterator, stop: threading.Event) -> Iterator:
    for r in records:
        if stop.is_set():
            return
        yield r


# -- worker processes ------------------------------------------------------------------------
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


# -- progress --------------------------------------------------------------------------------
def end_offsets(settings: Settings, kind: str) -> dict[int, int]:
    """Next offset per partition of the feed topic ``kind`` (what the broker holds)."""
    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap_servers,
                             client_id="fault-suite-offsets")  # fmt: skip
    try:
        topic = settings.topic(kind)
        parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
        return {tp.partition: o for tp, o in consumer.end_offsets(parts).items()}
    finally:
        consumer.close()


def kafka_committed(settings: Settings, kind: str) -> dict[int, int]:
    """Offsets the worker group of ``kind`` committed to Kafka for the feed topic."""
    admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap_servers,
                             client_id="fault-suite-admin")  # fmt: skip
    try:
        got = admin.list_group_offsets(GROUPS[kind]).get(GROUPS[kind], {})
    finally:
        admin.close()
    topic = settings.topic(kind)
    return {tp.partition: om.offset for tp, om in got.items() if tp.topic == topic}


def stored_offsets(dsn: str, settings: Settings, kind: str) -> dict[int, int]:
    """Checkpointed next offsets of the worker group of ``kind`` (empty if none)."""
    with psycopg.connect(dsn, connect_timeout=5) as conn:
        rows = conn.execute(
            "SELECT partition, next_offset FROM consumer_checkpoint"
            " WHERE consumer_group = %s AND topic = %s",
            (GROUPS[kind], settings.topic(kind)),
        ).fetchall()
    return dict(rows)


def lag(settings: Settings, dsn: str, kind: str = "gps") -> int:
    """Messages on the broker not yet covered by the stored checkpoints."""
    stored = stored_offsets(dsn, settings, kind)
    return sum(max(o - stored.get(p, 0), 0) for p, o in end_offsets(settings, kind).items())


def group_members(settings: Settings, group: str) -> int:
    """Members of a stable consumer group (-1 while it rebalances or is empty)."""
    admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap_servers,
                             client_id="fault-suite-admin")  # fmt: skip
    try:
        desc = admin.describe_groups([group])[group]
        return len(desc["members"]) if desc["group_state"] == "Stable" else -1
    finally:
        admin.close()


def poll_until(
    condition: Callable[[], bool], *, timeout_s: float, interval_s: float = 1.0,
    what: str = "condition",
) -> float:  # fmt: skip
    """Call ``condition`` until true; returns the seconds it took (AssertionError on timeout).

    Errors raised by ``condition`` (a service still coming back) count as "not yet".
    """
    t0 = time.monotonic()
    while True:
        try:
            if condition():
                return time.monotonic() - t0
        except (psycopg.OperationalError, OSError, KafkaError):
            pass
        if time.monotonic() - t0 > timeout_s:
            raise AssertionError(f"{what} not reached in {timeout_s:.0f} s")
        time.sleep(interval_s)


def drained(settings: Settings, dsn: str) -> bool:
    """Every message of both feeds checkpointed and no minute waiting for the state builder."""
    if lag(settings, dsn, "gps") or lag(settings, dsn, "detectors"):
        return False
    with psycopg.connect(dsn, connect_timeout=5) as conn:
        return conn.execute("SELECT count(*) FROM state_dirty").fetchone()[0] == 0


# -- the reference ---------------------------------------------------------------------------
def read_partitions(
    settings: Settings, kind: str, *, chunk: int = 5000
) -> Iterator[tuple[int, list[bytes]]]:
    """(partition, values) chunks of the feed topic ``kind``, each partition in offset order,
    up to the end offsets at the time of the call."""
    ends = end_offsets(settings, kind)
    topic = settings.topic(kind)
    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap_servers, group_id=None,
                             enable_auto_commit=False, client_id="fault-suite-reference",
                             max_partition_fetch_bytes=8 * 1024 * 1024)  # fmt: skip
    try:
        for p, end in sorted(ends.items()):
            tp = TopicPartition(topic, p)
            consumer.assign([tp])
            consumer.seek_to_beginning(tp)
            pos, buf = consumer.position(tp), []
            deadline = time.monotonic() + 600
            while pos < end:
                assert time.monotonic() < deadline, f"partition {p} not read in time"
                for records in consumer.poll(timeout_ms=1000, max_records=chunk).values():
                    for rec in records:
                        if rec.offset < end:
                            buf.append(rec.value)
                        pos = rec.offset + 1
                if len(buf) >= chunk or (pos >= end and buf):
                    yield p, buf
                    buf = []
    finally:
        consumer.close()


def build_reference(
    settings: Settings, network: RoadNetwork, ref_dsn: str, *, incidents: bool = True
) -> dict[str, int]:
    """Store in ``ref_dsn`` what an undisturbed pipeline makes of the topics' messages.

    Returns the messages read per feed. ``ref_dsn`` must hold the network and detectors.
    With ``incidents`` the incident worker's logic then runs over every minute the final
    watermarks make due (:func:`reference_incidents`)."""
    counts = {"gps": 0, "detectors": 0}
    marks: dict[tuple[str, int], int | None] = {}
    probe = ProbeProcessor(network)
    det = DetectorProcessor()
    for kind, proc in (("gps", probe), ("detectors", det)):
        validator = FeedValidator(kind, max_future_s=settings.max_future_s,
                                  max_age_s=settings.max_age_s)  # fmt: skip
        for p, values in read_partitions(settings, kind):
            counts[kind] += len(values)
            valid = []
            for v in values:
                with contextlib.suppress(InvalidMessage):
                    valid.append(validator.validate(v))
            part = (settings.topic(kind), p)
            marks[part] = process_in_event_time(proc, part, valid, marks.get(part),
                                                _event_ms, stamp_rows=kind == "gps")  # fmt: skip
            if proc.pending() >= 20_000:
                _store_reference(ref_dsn, proc)
        _store_reference(ref_dsn, proc)
    with psycopg.connect(ref_dsn, autocommit=True) as conn:
        builder = StateBuilder(network)
        while builder.step(conn, limit=60):
            pass
    if incidents:
        reference_incidents(settings, network, ref_dsn, marks)
    return counts


def _event_ms(message) -> int:
    return message.ts_ms


def incident_params(settings: Settings) -> IncidentWorkerParams:
    """The live incident worker's parameters (``run_incident_worker``)."""
    from analytics.workers.incident_worker import incident_worker_params

    return incident_worker_params(settings.timezone, settings.incident_max_wait_s,
                                  settings.incident_params)


def reference_incidents(
    settings: Settings, network: RoadNetwork, ref_dsn: str,
    marks: dict[tuple[str, int], int | None],
) -> datetime | None:  # fmt: skip
    """Run the incident worker's logic over the minutes the partitions' final watermarks
    (epoch ms) make due, in time order, on ``ref_dsn``; returns the last minute."""
    parts = [InputPartition(f"{t}[{p}]", None if w is None else
                            datetime.fromtimestamp(w / 1000, UTC))
             for (t, p), w in sorted(marks.items())]  # fmt: skip
    service = IncidentService(network, incident_params(settings))
    minutes = service.due_minutes(None, parts)
    with psycopg.connect(ref_dsn, autocommit=True) as conn:
        for minute in minutes:
            service.process_minute(conn, minute)
    return minutes[-1] if minutes else None


def incidents_until(dsn: str) -> datetime | None:
    """The last minute the incident worker decided in ``dsn``."""
    with psycopg.connect(dsn, connect_timeout=5) as conn:
        row = conn.execute("SELECT max(minute) FROM incident_progress").fetchone()
    return row[0]


def _store_reference(dsn: str, proc: ProbeProcessor | DetectorProcessor) -> None:
    """Store the processor's pending results as its worker does (traversals and presence
    records, or readings; their minutes queued for the state builder)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        proc.prepare(conn)
        with conn.transaction():
            proc.store(conn)
    proc.clear()


# -- comparison ------------------------------------------------------------------------------
@dataclass
class Stored:
    """Stored results as multisets of rows (floats rounded where sums may change order)."""

    traversals: Counter
    presence: Counter  # vehicles recorded still on a segment and abnormally slow there
    readings: Counter
    states: Counter  # measured segment states
    kpis: Counter
    incidents: Counter  # what does not change after creation
    incident_updates: Counter  # the whole history, up to the compared minute

    NAMES = ("traversals", "presence", "readings", "states", "kpis", "incidents",
             "incident_updates")  # fmt: skip

    def differences(self, other: Stored) -> list[str]:
        """Readable differences against ``other`` (the reference); empty when equal."""
        out = []
        for name in self.NAMES:
            mine, ref = getattr(self, name), getattr(other, name)
            extra, missing = mine - ref, ref - mine
            if extra or missing:
                out.append(
                    f"{name}: {sum(missing.values())} missing of {sum(ref.values())},"
                    f" {sum(extra.values())} extra; e.g. missing {list(missing)[:2]},"
                    f" extra {list(extra)[:2]}"
                )
        return out


def stored_results(dsn: str, *, incidents_until: datetime | None = None) -> Stored:
    """Read the results compared between runs from ``dsn``; incidents as decided up to the
    minute ``incidents_until`` (none when ``None``)."""
    with psycopg.connect(dsn) as conn:
        trav = conn.execute(
            "SELECT segment_id, minute, vehicle_id, entry_ts, exit_ts, speed_kmh, dwell_s,"
            " vehicle_type, known_at FROM probe_traversal"
        ).fetchall()
        presence = conn.execute(f"SELECT {', '.join(PRESENCE_COLUMNS)} FROM probe_presence")
        presence = presence.fetchall()
        read = conn.execute(
            "SELECT detector_id, ts, lane, interval_s, volume, occupancy, speed_kmh"
            " FROM detector_reading"
        ).fetchall()
        states = conn.execute(
            "SELECT segment_id, minute, round(speed_kmh::numeric, 2), n_samples, n_vehicles,"
            " source FROM segment_state WHERE source = ANY(%s)",
            (list(MEASURED),),
        ).fetchall()
        kpis = conn.execute(
            "SELECT minute, round(vehicle_km::numeric, 2), round(vehicle_hours::numeric, 3)::text"
            " FROM network_kpi"
        ).fetchall()  # text: NaN would not equal itself
        # minute m's actions are stored at m + 1 min (its decision time)
        at = None if incidents_until is None else incidents_until + timedelta(minutes=1)
        incidents = conn.execute(
            "SELECT incident_id, kind, source, created_by, started_at, detected_at FROM incident"
            " WHERE detected_at <= %s",
            (at,),
        ).fetchall()
        updates = conn.execute(
            "SELECT incident_id, version, at, actor, action, status, change::text"
            " FROM incident_update WHERE at <= %s",
            (at,),
        ).fetchall()  # change: the fields before/after (jsonb text is canonical)
    return Stored(Counter(trav), Counter(presence), Counter(read), Counter(states),
                  Counter(kpis), Counter(incidents), Counter(updates))  # fmt: skip


def topic_multiset(settings: Settings, kind: str) -> Counter:
    """Every message value of the feed topic ``kind`` (a multiset)."""
    out: Counter = Counter()
    for _, values in read_partitions(settings, kind):
        out.update(values)
    return out


def feed_multiset(path: Path) -> Counter:
    """The values ``publish`` sends for the records of a feed file."""

    def encode(r: dict | str) -> bytes:
        if isinstance(r, str):
            return r.encode()
        return json.dumps(r, ensure_ascii=False, separators=(",", ":")).encode()

    return Counter(encode(r) for r in read_records(path))


# -- one disturbed run -----------------------------------------------------------------------
class FaultRun:
    """A pipeline of worker processes fed by a paced replay, checked against the reference."""

    def __init__(
        self, settings: Settings, network: RoadNetwork, feed: Feed, log_dir: Path, *,
        speedup: float | None, env: dict[str, str] | None = None,
    ) -> None:  # fmt: skip
        self.settings = settings
        self.network = network
        self.feed = feed
        self.speedup = speedup
        self.procs = Processes(settings, log_dir, **(env or {}))
        self.sent: dict[str, int] = {}
        self._feeder: threading.Thread | None = None
        prepare_db(settings.dsn, network, feed)

    def start_workers(self, timeout_s: float = 120.0) -> float:
        """Start the probe, detector, state and incident workers; wait until the consumers
        joined."""
        for kind in WORKERS:
            self.procs.worker(kind)
        return poll_until(
            lambda: all(group_members(self.settings, g) == 1 for g in GROUPS.values()),
            timeout_s=timeout_s, what="workers in their consumer groups",
        )  # fmt: skip

    def start_feed(self) -> None:
        def run() -> None:
            self.sent.update(publish(self.settings, self.feed, speedup=self.speedup))

        self._feeder = threading.Thread(target=run, daemon=True, name="feed")
        self._feeder.start()

    def feeding(self) -> bool:
        return self._feeder is not None and self._feeder.is_alive()

    def wait_feed(self, timeout_s: float = 600.0) -> None:
        assert self._feeder is not None
        self._feeder.join(timeout_s)
        assert not self._feeder.is_alive(), "the feed was not published in time"
        assert self.sent == {"gps": self.feed.n_gps, "detectors": self.feed.n_detectors}

    def progress(self) -> int:
        """Probe messages covered by stored checkpoints."""
        return sum(stored_offsets(self.settings.dsn, self.settings, "gps").values())

    def wait_progress(self, beyond: int, timeout_s: float = 90.0) -> float:
        """Wait until the probe checkpoints cover more than ``beyond`` messages."""
        return poll_until(lambda: self.progress() > beyond, timeout_s=timeout_s,
                          interval_s=0.5, what=f"probe progress beyond {beyond}")  # fmt: skip

    def check(self, ref_dsn: str, *, timeout_s: float = 180.0) -> float:
        """Assert the broker holds exactly the feed, then wait until the stored results —
        incidents included — equal the reference built in ``ref_dsn``; returns the seconds
        the wait took."""
        self.wait_feed()
        for kind, path in (("gps", self.feed.gps), ("detectors", self.feed.detectors)):
            held, fed = topic_multiset(self.settings, kind), feed_multiset(path)
            assert held == fed, (
                f"{kind}: broker lost {sum((fed - held).values())} and doubled"
                f" {sum((held - fed).values())} messages"
            )
        prepare_db(ref_dsn, self.network, self.feed)
        counts = build_reference(self.settings, self.network, ref_dsn)
        assert counts == {"gps": self.feed.n_gps, "detectors": self.feed.n_detectors}
        until = incidents_until(ref_dsn)
        assert until is not None
        expected = stored_results(ref_dsn, incidents_until=until)
        assert len(expected.traversals) > 500 and len(expected.states) > 100, expected.kpis
        assert all(k[2] != "NaN" for k in expected.kpis), expected.kpis
        self.check_reference_incidents(ref_dsn, until)
        last: list[list[str]] = [["not compared yet"]]

        def same() -> bool:
            if not drained(self.settings, self.settings.dsn):
                return False
            decided = incidents_until(self.settings.dsn)
            if decided is None or decided < until:
                last[0] = [f"incidents decided up to {decided}, not yet {until}"]
                return False
            got = stored_results(self.settings.dsn, incidents_until=until)
            last[0] = got.differences(expected)
            return not last[0]

        try:
            return poll_until(same, timeout_s=timeout_s, what="results equal to the reference")
        except AssertionError:
            logs = "\n".join(f"== {n}\n{self.procs.log_tail(n)}" for n in self.procs.procs)
            raise AssertionError(f"stored results differ: {last[0]}\n{logs}") from None

    def check_reference_incidents(self, ref_dsn: str, until: datetime) -> None:
        """The comparison is not vacuous: the reference raised an incident near each one the
        simulator injected that began early enough to be detected in the compared minutes."""
        with psycopg.connect(ref_dsn) as conn:
            raised = conn.execute(
                "SELECT incident_id, ST_X(geom), ST_Y(geom) FROM incident WHERE detected_at <= %s",
                (until + timedelta(minutes=1),),
            ).fetchall()
        assert raised, "the reference raised no incident: comparing incidents would be vacuous"
        for truth in self.feed.incidents():
            if datetime.fromisoformat(truth["start"]) > until - timedelta(minutes=5):
                continue
            lon, lat = float(truth["lon"]), float(truth["lat"])
            near = [r[0] for r in raised if _metres(lon, lat, r[1], r[2]) < 1000.0]
            assert near, f"the reference did not detect {truth}; raised {raised}"

    def close(self) -> None:
        self.procs.close()


def _metres(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Distance between two WGS 84 points (equirectangular; fine within a city)."""
    k = math.pi / 180.0 * 6_371_000.0
    return math.hypot((lon2 - lon1) * k * math.cos(math.radians((lat1 + lat2) / 2)),
                      (lat2 - lat1) * k)  # fmt: skip


# -- a live-stream client --------------------------------------------------------------------
@dataclass(frozen=True)
class StreamEvent:
    """One ``segments`` event as received (wall time in epoch seconds)."""

    received: float
    event_id: int
    connection: int
    updated_at: datetime
    segments: list[dict]


class SegmentStreamClient(threading.Thread):
    """Follows ``/v1/stream/segments`` like a dashboard: reconnects with ``Last-Event-ID``
    after any error (every ``retry_s``) and keeps the latest status of every segment."""

    def __init__(self, base_url: str, *, retry_s: float = 0.3) -> None:
        super().__init__(daemon=True, name="sse-client")
        self.url = base_url.rstrip("/") + "/v1/stream/segments"
        self.retry_s = retry_s
        self.stop = threading.Event()
        self.connected = threading.Event()
        self.last_id: str | None = None
        self.connections = 0
        self.events: list[StreamEvent] = []
        self.view: dict[str, dict] = {}
        self.errors: list[str] = []

    def run(self) -> None:
        import httpx

        while not self.stop.is_set():
            headers = {} if self.last_id is None else {"Last-Event-ID": self.last_id}
            try:
                timeout = httpx.Timeout(5.0, read=30.0)
                with httpx.stream("GET", self.url, headers=headers, timeout=timeout) as reply:
                    if reply.status_code != 200:
                        self.errors.append(f"HTTP {reply.status_code}")
                        self.stop.wait(self.retry_s)
                        continue
                    self.connections += 1
                    self.connected.set()
                    self._read(reply.iter_lines())
            except httpx.HTTPError as exc:
                self.errors.append(type(exc).__name__)
            self.stop.wait(self.retry_s)

    def _read(self, lines: Iterator[str]) -> None:
        cur: dict[str, str] = {}
        for line in lines:
            if self.stop.is_set():
                return
            if line == "":
                if cur.get("event") == "segments" and "data" in cur:
                    self._event(cur)
                cur = {}
            elif not line.startswith(":"):
                key, _, value = line.partition(":")
                cur[key] = value.removeprefix(" ")

    def _event(self, cur: dict[str, str]) -> None:
        data = json.loads(cur["data"])
        ev = StreamEvent(time.time(), int(cur["id"]), self.connections,
                         datetime.fromisoformat(data["updated_at"]), data["segments"])  # fmt: skip
        self.events.append(ev)
        for status in ev.segments:
            self.view[status["segment_id"]] = status
        self.last_id = cur["id"]

    def close(self, timeout_s: float = 5.0) -> None:
        self.stop.set()
        if self.ident is not None:
            self.join(timeout_s)
