"""Probe-worker throughput end to end: Kafka → ``itms worker probe`` → PostgreSQL.

    python bench/probe_worker_e2e.py [--vehicles 5000] [--duration 300] [--workers 1,2] [--pin]
                                     [--batch 0,500]

Where ``bench/worker_throughput.py`` times the worker's own logic, this runs the real worker
process: the kafka-python consumer, validation, map matching, traversals and the result
transaction (traversal rows and consumer checkpoints committed together, then the Kafka offset
commit). It starts (or reuses) a local stack of its own (``--state-dir``, own ports), creates a
fresh database and topic prefix per worker count, simulates the Hai Phong feed (recent
timestamps, so every fix is valid), publishes all of it keyed by vehicle, then starts the
worker processes. The rate is all fixes over the time from the moment a worker got its
partitions (``itms_assigned_partitions`` in its ``/metrics``) until stored checkpoints cover
the whole topic (start-up — network, route table, group join — left out; the first fetch and
the last checkpoint's commit counted). It also reports the
workers' CPU time per fix and peak RSS. Everything it started is stopped. With ``--pin``
the broker, PostgreSQL and the script share CPU 0 and the workers get the other CPUs, as when
Kafka and the database run on other hosts. ``--batch`` lists the message shapes to measure:
0 publishes one message per fix (keyed by vehicle), N > 0 batches of up to N fixes per
partition (JSON arrays, :mod:`ingest.batching`), as a gateway forwarding a fleet would.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.reliability.environment import (
    drop_database,
    free_port,
    fresh_environment,
    prepare_db,
)
from bench.reliability.feeds import Feed, publish, recent_start, simulate_feed
from bench.reliability.kafka_inspection import end_offsets
from bench.reliability.processes import Processes
from bench.reliability.progress import stored_offsets
from ingest.kafka.clients import ensure_topics
from itms import stack
from itms.settings import REPO_ROOT, Settings
from roadnet import load_network
from store.pipeline_progress import traversal_count

_TICK_S = 0.1


def _metric(port: int, name: str) -> float:
    """Sum of a metric's samples in a worker's ``/metrics`` (0 before it serves them)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
            text = r.read().decode()
    except OSError:
        return 0.0
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name + " ") or line.startswith(name + "{"))  # fmt: skip


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100.0  # utime, stime in clock ticks


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def _stack_pids(state_dir: Path) -> list[int]:
    """The broker and PostgreSQL processes of the local stack under ``state_dir`` (the
    postmaster found by its data folder in the command line, plus its children)."""
    mark, found = str(state_dir).encode(), []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with contextlib.suppress(OSError):
                if mark in (proc / "cmdline").read_bytes():
                    found.append(int(proc.name))
    children = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
                if ppid in found:
                    children.append(int(proc.name))
    return sorted(set(found + children))


def _pin(pid: int, cpus: set[int]) -> None:
    """Restrict every thread of ``pid`` to ``cpus``."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            os.sched_setaffinity(int(task.name), cpus)


def measure(
    base: Settings, feed_dir: Path, workers: int, log_dir: Path,
    worker_cpus: set[int] | None = None, batch: int = 0,
) -> dict:  # fmt: skip
    """One measurement with ``workers`` probe worker processes on a fresh database/topics
    (pinned to ``worker_cpus`` when given), the fixes published in batches of ``batch``."""
    tag, dsn, settings = fresh_environment(base, "e2e")
    procs = Processes(settings, log_dir / tag)
    try:
        prepare_db(dsn, load_network())
        ensure_topics(settings.kafka)
        feed = Feed(feed_dir, *(sum(1 for _ in (feed_dir / f).open())
                                for f in ("gps.jsonl", "detectors.jsonl")))  # fmt: skip
        t0 = time.perf_counter()
        publish(settings, feed, batch=batch)
        publish_s = time.perf_counter() - t0
        messages = sum(end_offsets(settings, "gps").values())
        names = [f"probe-{i}" for i in range(1, workers + 1)]
        ports = {n: free_port() for n in names}
        for name in names:
            procs.start(name, "worker", "probe", "--metrics-port", str(ports[name]))
        pids = [procs.procs[n].pid for n in names]
        for pid in pids if worker_cpus else ():
            _pin(pid, worker_cpus)  # type: ignore[arg-type]
        first: tuple[float, float] | None = None  # wall and CPU time of the first message
        deadline = time.monotonic() + 1800
        while time.monotonic() < deadline:
            now = time.perf_counter()
            if first is None and any(
                _metric(ports[n], "itms_assigned_partitions") > 0 for n in names
            ):
                first = (now, sum(_cpu_s(p) for p in pids), _phases(ports, names))
            if first is not None and sum(stored_offsets(dsn, settings, "gps").values()) >= messages:
                break
            if not all(procs.alive(n) for n in names):
                raise RuntimeError(f"a worker stopped:\n{procs.log_tail(names[0])}")
            time.sleep(_TICK_S)
        else:
            raise RuntimeError("the workers did not finish within 30 minutes")
        cpu = sum(_cpu_s(p) for p in pids) - first[1]
        phases = {k: v - first[2][k] for k, v in _phases(ports, names).items()}
        rss = max(_peak_rss_mib(p) for p in pids)
        elapsed = time.perf_counter() - first[0]
        total = counted = feed.n_gps
        with psycopg.connect(dsn) as conn:
            traversals = traversal_count(conn)
        return {"workers": workers, "fixes": total, "counted": counted, "seconds": elapsed,
                "rate": counted / elapsed, "cpu_us_per_fix": cpu / counted * 1e6,
                "rss_mib": rss, "traversals": traversals, "publish_s": publish_s,
                **phases}  # fmt: skip
    finally:
        procs.close()
        with contextlib.suppress(psycopg.Error):
            drop_database(base.dsn, tag)


_PHASES = {"poll_s": "itms_poll_seconds_sum", "batch_s": "itms_batch_seconds_sum",
           "checkpoint_s": "itms_checkpoint_seconds_sum", "db_s": "itms_db_write_seconds_sum",
           "maintain_s": "itms_maintain_seconds_sum"}  # fmt: skip


def _phases(ports: dict[str, int], names: list[str]) -> dict[str, float]:
    """Seconds the workers spent so far in each phase of their loop, summed over workers."""
    return {k: sum(_metric(ports[n], m) for n in names) for k, m in _PHASES.items()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--vehicles", type=int, default=5000)
    p.add_argument("--duration", type=int, default=300, help="simulated seconds")
    p.add_argument("--workers", default="1,2", help="worker process counts to measure")
    p.add_argument("--partitions", type=int, default=6)
    p.add_argument("--batch", default="0", help="fixes per message to measure, comma-separated"
                   " (0: one message per fix)")  # fmt: skip
    p.add_argument("--seed", type=int, default=4)
    p.add_argument("--state-dir", default=str(REPO_ROOT / ".itms" / "bench-stack"))
    p.add_argument("--kafka-port", type=int, default=19892, help="and the next for the controller")
    p.add_argument("--pg-port", type=int, default=55462)
    p.add_argument("--pin", action="store_true",
                   help="broker, PostgreSQL and this script on CPU 0, the workers on the others"
                   " (what one worker does with a core of its own); worker counts above the"
                   " other CPUs run unpinned")  # fmt: skip
    args = p.parse_args(argv)
    base = Settings(state_dir=Path(args.state_dir), kafka_port=args.kafka_port,
                    kafka_controller_port=args.kafka_port + 1, pg_port=args.pg_port,
                    topic_partitions=args.partitions)  # fmt: skip
    with stack.own_stack(base):
        worker_cpus = None
        if args.pin:
            cpus = sorted(os.sched_getaffinity(0))
            if len(cpus) < 2:
                raise SystemExit("--pin needs at least 2 CPUs")
            worker_cpus = set(cpus[1:])
            for pid in [*_stack_pids(Path(args.state_dir)), os.getpid()]:
                _pin(pid, {cpus[0]})
        with tempfile.TemporaryDirectory() as tmp:
            feed_dir = Path(tmp) / "feed"
            simulate_feed(feed_dir, vehicles=args.vehicles, duration_s=args.duration,
                          seed=args.seed, start=recent_start(args.duration))  # fmt: skip
            print(
                "| workers | fixes per message | fixes | fixes/s | CPU µs per fix"
                " | peak RSS MiB per worker"
                " | seconds | poll s | validate+process s | checkpoints s (transactions s)"
                " | maintenance s | traversals |"
            )
            print("| ---: " * 12 + "|", flush=True)
            for batch, n in ((int(b), int(w)) for b in args.batch.split(",")
                             for w in args.workers.split(",")):  # fmt: skip
                # pinned only while every worker can have a CPU of its own
                own = worker_cpus if worker_cpus and n <= len(worker_cpus) else None
                r = measure(base, feed_dir, n, REPO_ROOT / ".itms" / "bench-logs", own, batch)
                shape = f"up to {batch}" if batch else "1"
                print(f"| {n} | {shape} | {r['fixes']:,} | {r['rate']:,.0f}"
                      f" | {r['cpu_us_per_fix']:.1f}"
                      f" | {r['rss_mib']:.0f} | {r['seconds']:.1f} | {r['poll_s']:.1f}"
                      f" | {r['batch_s']:.1f} | {r['checkpoint_s']:.1f} ({r['db_s']:.1f})"
                      f" | {r['maintain_s']:.1f} | {r['traversals']:,} |", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
