"""Soak: the whole pipeline at a sustained rate for a while, with faults, and nothing lost.

    python bench/soak.py [--minutes 30] [--vehicles 3000] [--interval 5] [--probe-workers 1]
        [--kill-every-s 0] [--kafka-restart-at MIN] [--pg-outage-at MIN] [--pg-outage-s 60]
        [--api-restart-at MIN] [--out soak.json]

Starts (or reuses) a local stack of its own (``--state-dir``, own ports, 127.0.0.1 only), a
fresh database and topic prefix, the API, probe / detector / state / incident workers as OS
processes and
``itms simulate --speedup 1`` publishing live (``--vehicles`` / ``--interval`` set the rate).
Every ``--sample-s`` seconds it records the published and stored fixes, the consumer lag, the
freshness of the current state and every worker's RSS; a client follows the API's live segment
stream. Faults happen on schedule (minutes after the start): SIGKILL of the probe worker at
random moments (``--kill-every-s`` on average), a broker restart, a PostgreSQL outage, an API
restart. Recovery = time from the fault's end until the lag is back to its normal level and the
current state is fresh again.

At the end the simulator stops, the pipeline drains, and the stored results (traversals,
detector readings, measured segment states, KPIs, incidents and their update history) are
compared as multisets with those an undisturbed pipeline makes of the same broker contents
(``bench/reliability/reference.py``).

End-to-end latency: for each segment-minute with probe data, the time from the last GPS-derived
instant in it (its newest traversal exit) until the API's live stream delivered its complete
state (as many vehicles as finally stored). Prints a markdown table; ``--out`` saves JSON.
Everything it started is stopped; every loop is bounded in time.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import random
import signal
import statistics
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.reliability.environment import create_database, drop_database, free_port, prepare_db
from bench.reliability.kafka_inspection import GROUPS, end_offsets, group_members
from bench.reliability.polling import poll_until
from bench.reliability.processes import Processes
from bench.reliability.progress import incidents_until, stored_offsets
from bench.reliability.reference import build_reference
from bench.reliability.stored import Stored, stored_results
from bench.reliability.stream_client import SegmentStreamClient
from ingest.kafka.clients import ensure_topics
from itms import stack
from itms.settings import REPO_ROOT, Settings
from roadnet import load_network
from store.detector_copy import copy_detectors
from store.pipeline_progress import measured_state_age_s, traversal_completion


@dataclass
class Sample:
    t: float  # seconds since the start
    published: int
    stored: int
    lag: int
    fresh_s: float | None  # age of the newest current state
    rss_mb: dict[str, float]
    cpu_s: dict[str, float]


@dataclass
class Fault:
    name: str
    at_s: float  # when it started (s since the start)
    ended_s: float  # when the service was back / restarted
    recovered_s: float | None = None  # seconds from ended_s until normal again
    stream_connection: int | None = None  # API faults: recovered at this connection's 1st event
    stored_before: int | None = None  # fixes covered by stored checkpoints when it ended


@dataclass
class Soak:
    args: argparse.Namespace
    settings: Settings
    procs: Processes
    t0: float = field(default_factory=time.monotonic)
    samples: list[Sample] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)

    def now(self) -> float:
        return time.monotonic() - self.t0


# -- sampling --------------------------------------------------------------------------------
def sample(soak: Soak) -> Sample | None:
    """One sample; ``None`` while the broker or the database is away."""
    s = soak.settings
    try:
        published = sum(end_offsets(s, "gps").values())
        stored = sum(stored_offsets(s.dsn, s, "gps").values())
        with psycopg.connect(s.dsn, connect_timeout=3) as conn:
            age = measured_state_age_s(conn)
    except Exception:  # a component is down (a fault): no sample
        return None
    rss = {n: r for n in soak.procs.procs if (r := soak.procs.rss_mb(n)) is not None}
    cpu = {n: c for n in soak.procs.procs if (c := _cpu_s(soak.procs, n)) is not None}
    return Sample(soak.now(), published, stored, max(published - stored, 0), age, rss, cpu)


def _cpu_s(procs: Processes, name: str) -> float | None:
    """User + system CPU seconds of a running process."""
    if not procs.alive(name):
        return None
    try:
        fields = Path(f"/proc/{procs.procs[name].pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def normal(soak: Soak, smp: Sample, rate: float) -> bool:
    """Lag at its usual level (at most 15 s of data behind) and a state at most 20 s old.

    A fault has recovered at the first sample that is normal and whose stored checkpoints
    went beyond those of the first sample after the fault ended (new work was stored)."""
    return smp.lag <= max(rate * 15.0, 200) and smp.fresh_s is not None and smp.fresh_s <= 20.0


# -- faults ----------------------------------------------------------------------------------
def kill_probe(soak: Soak) -> None:
    start = soak.now()
    soak.procs.kill("probe")
    soak.procs.worker("probe")
    soak.faults.append(Fault("probe worker SIGKILL", start, soak.now()))


def restart_kafka(soak: Soak, down_s: float) -> None:
    broker = stack.local_kafka(soak.settings)
    start = soak.now()
    broker.down()
    time.sleep(down_s)
    broker.up()
    soak.faults.append(Fault(f"Kafka broker down {down_s:.0f} s", start, soak.now()))


def pg_outage(soak: Soak, down_s: float) -> None:
    pg = stack.local_postgres(soak.settings)
    start = soak.now()
    pg.down()
    time.sleep(down_s)
    pg.up()
    soak.faults.append(Fault(f"PostgreSQL down {down_s:.0f} s", start, soak.now()))


def restart_api(soak: Soak, client: SegmentStreamClient) -> None:
    start = soak.now()
    soak.procs.kill("api")
    soak.procs.start("api", "api")
    fault = Fault("API SIGKILL + restart (stream resumed)", start, soak.now())
    fault.stream_connection = client.connections + 1
    soak.faults.append(fault)


def _stream_recovered(soak: Soak, fault: Fault, client: SegmentStreamClient) -> float | None:
    """Seconds from the API restart to the first event of the client's next connection."""
    wall0 = time.time() - soak.now()
    for ev in client.events:
        if ev.connection >= (fault.stream_connection or 0):
            return ev.received - wall0 - fault.ended_s
    return None


# -- the run ---------------------------------------------------------------------------------
def run(args: argparse.Namespace) -> dict:
    base = Settings(state_dir=Path(args.state_dir), kafka_port=args.kafka_port,
                    kafka_controller_port=args.kafka_port + 1, pg_port=args.pg_port,
                    topic_partitions=args.partitions)  # fmt: skip
    started: list = []
    for comp in (stack.local_postgres(base), stack.local_kafka(base)):
        if not comp.is_running():
            comp.up()
            started.append(comp)
    tag = f"soak{datetime.now(UTC):%m%d%H%M}{uuid.uuid4().hex[:4]}"
    dsn = create_database(base.dsn, tag)
    ref_name = f"{tag}_ref"
    settings = base.model_copy(update={"database_url": dsn, "topic_prefix": f"{tag}.",
                                       "kafka_bootstrap": base.bootstrap_servers})  # fmt: skip
    ensure_topics(settings.kafka)
    network = load_network()
    prepare_db(dsn, network)
    port = free_port()
    log_dir = Path(args.log_dir or REPO_ROOT / ".itms" / "soak-logs" / tag)
    procs = Processes(settings, log_dir, ITMS_API_PORT=str(port), ITMS_PRIVACY_MIN_VEHICLES="1",
                      ITMS_STREAM_POLL_S="0.5", ITMS_RATE_LIMIT_PER_S="0")  # fmt: skip
    soak = Soak(args, settings, procs)
    client = SegmentStreamClient(f"http://127.0.0.1:{port}", retry_s=0.5)
    rng = random.Random(args.seed)
    report: dict = {"tag": tag, "log_dir": str(log_dir)}
    try:
        procs.start("api", "api")
        names = ["probe"] + [f"probe-{i}" for i in range(2, args.probe_workers + 1)]
        for name in names:
            procs.worker("probe", name)
        procs.worker("detectors")
        procs.worker("state")
        procs.worker("incidents")
        poll_until(lambda: group_members(settings, GROUPS["gps"]) == len(names),
                   timeout_s=180, what="probe workers joined")  # fmt: skip
        client.start()
        if not client.connected.wait(120):
            raise RuntimeError(f"no stream connection: {client.errors[-3:]}")
        duration_s = int(args.minutes * 60)
        procs.start("sim", "simulate", "--vehicles", str(args.vehicles), "--interval",
                    str(args.interval), "--duration", str(duration_s), "--speedup", "1",
                    "--seed", str(args.seed), "--register-detectors")  # fmt: skip
        soak.t0 = time.monotonic()
        _loop(soak, rng, duration_s, client)
        report["sim_exit"] = procs.procs["sim"].wait(timeout=120)
        drain_s = poll_until(lambda: _drained(settings), timeout_s=600, interval_s=2.0,
                             what="pipeline drained")  # fmt: skip
        report["drain_s"] = drain_s
        time.sleep(3.0 * 0.5)  # three stream polls: the last states reach the client
        client.close()
        report.update(_verify(settings, network, base.dsn, ref_name, log_dir))
        report.update(_figures(soak, client, settings))
    finally:  # every step runs, whatever failed before
        steps = [client.close, procs.close]
        if not args.keep:
            steps += [lambda n=n: drop_database(base.dsn, n) for n in (tag, ref_name)]
        steps += [comp.down for comp in reversed(started)]
        for step in steps:
            try:
                step()
            except Exception as exc:  # report and go on stopping the rest
                print(f"cleanup step failed: {exc!r}", file=sys.stderr)
    return report


def _loop(soak: Soak, rng: random.Random, duration_s: int, client: SegmentStreamClient) -> None:
    """Sample and inject faults until the simulator ends (bounded by its duration + 5 min)."""
    a = soak.args
    schedule = []
    if a.kafka_restart_at is not None:
        schedule.append((a.kafka_restart_at * 60, lambda: restart_kafka(soak, a.kafka_down_s)))
    if a.pg_outage_at is not None:
        schedule.append((a.pg_outage_at * 60, lambda: pg_outage(soak, a.pg_outage_s)))
    if a.api_restart_at is not None:
        schedule.append((a.api_restart_at * 60, lambda: restart_api(soak, client)))
    schedule.sort(key=lambda x: x[0])
    next_kill = rng.expovariate(1.0 / a.kill_every_s) + a.warmup_s if a.kill_every_s else None
    rate = a.vehicles / a.interval
    deadline = duration_s + 300
    last_print = 0.0
    while soak.procs.alive("sim") and soak.now() < deadline:
        if schedule and soak.now() >= schedule[0][0]:
            schedule.pop(0)[1]()
        if next_kill is not None and next_kill <= soak.now() < duration_s - a.warmup_s:
            kill_probe(soak)
            next_kill = soak.now() + rng.expovariate(1.0 / a.kill_every_s)
        smp = sample(soak)
        if smp is not None:
            soak.samples.append(smp)
            for f in soak.faults:
                if f.recovered_s is not None:
                    continue
                if f.stream_connection is not None:
                    f.recovered_s = _stream_recovered(soak, f, client)
                elif smp.t >= f.ended_s:
                    if f.stored_before is None:
                        f.stored_before = smp.stored
                    elif smp.stored > f.stored_before and normal(soak, smp, rate):
                        f.recovered_s = smp.t - f.ended_s
            if smp.t - last_print >= 60:
                last_print = smp.t
                print(f"[{smp.t / 60:5.1f} min] published {smp.published:,} stored"
                      f" {smp.stored:,} lag {smp.lag:,} state age {smp.fresh_s} s"
                      f" rss {({k: round(v) for k, v in smp.rss_mb.items()})}",
                      file=sys.stderr, flush=True)  # fmt: skip
        time.sleep(soak.args.sample_s)


def _drained(settings: Settings) -> bool:
    from bench.reliability.progress import drained

    return drained(settings, settings.dsn)


def _verify(settings: Settings, network, admin_dsn: str, ref_name: str, log_dir: Path) -> dict:
    """Compare the stored results with the undisturbed reference of the same broker contents."""
    ref_dsn = create_database(admin_dsn, ref_name)
    with psycopg.connect(settings.dsn) as src, psycopg.connect(ref_dsn) as dst:
        prepare_db(ref_dsn, network)
        copy_detectors(src, dst)
    t = time.monotonic()
    counts = build_reference(settings, network, ref_dsn)
    until = incidents_until(ref_dsn)  # the last minute the final watermarks make due
    reference_s = round(time.monotonic() - t, 1)

    def decided() -> bool:
        live = incidents_until(settings.dsn)
        return until is None or (live is not None and live >= until)

    with contextlib.suppress(AssertionError):  # a lagging incident worker shows as differences
        poll_until(decided, timeout_s=120, what="incidents decided")
    got = stored_results(settings.dsn, incidents_until=until)
    expected = stored_results(ref_dsn, incidents_until=until)
    diffs = got.differences(expected)
    return {
        "messages": counts,
        "compared": {k: sum(getattr(expected, k).values()) for k in Stored.NAMES},
        "incidents_until": None if until is None else until.isoformat(),
        "differences": diffs,
        "reference_s": reference_s,
    }  # fmt: skip


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return values[min(int(q * len(values)), len(values) - 1)]


def _figures(soak: Soak, client: SegmentStreamClient, settings: Settings) -> dict:
    a, smp = soak.args, soak.samples
    warm = [s for s in smp if a.warmup_s <= s.t <= a.minutes * 60]
    rate = stored = None
    if len(warm) >= 2:
        dt = warm[-1].t - warm[0].t
        rate = (warm[-1].published - warm[0].published) / dt
        stored = (warm[-1].stored - warm[0].stored) / dt
    fault_windows = [(f.at_s - 5, f.ended_s + (f.recovered_s or 120)) for f in soak.faults]
    calm = [s for s in warm if not any(lo <= s.t <= hi for lo, hi in fault_windows)]
    rss: dict[str, dict[str, float]] = {}
    late = [s for s in warm if s.t >= a.minutes * 30]
    for name in ("probe", "detectors", "state", "api"):
        vals = [s.rss_mb[name] for s in late if name in s.rss_mb]
        if vals:
            rss[name] = {"median": round(statistics.median(vals), 1), "max": round(max(vals), 1)}
    cpu: dict[str, float] = {}
    for name in ("probe", "detectors", "state", "api", "sim"):
        pts = [(s.t, s.cpu_s[name]) for s in calm if name in s.cpu_s]
        # longest run of samples of one process lifetime (CPU time only grows within one)
        runs, cur = [], pts[:1]
        for a_, b_ in itertools.pairwise(pts):
            if b_[1] >= a_[1]:
                cur.append(b_)
            else:
                runs.append(cur)
                cur = [b_]
        runs.append(cur)
        best = max(runs, key=len)
        if len(best) >= 2 and best[-1][0] > best[0][0]:
            cpu[name] = round(100 * (best[-1][1] - best[0][1]) / (best[-1][0] - best[0][0]), 1)
    lat, lat_calm = _latencies(soak, client, settings)
    return {
        "published_fixes_per_s": rate and round(rate, 1),
        "stored_fixes_per_s": stored and round(stored, 1),
        "lag_p95_calm": _pct([s.lag for s in calm], 0.95),
        "lag_max": max((s.lag for s in warm), default=None),
        "state_age_p95_calm_s": _pct([s.fresh_s for s in calm if s.fresh_s is not None], 0.95),
        "latency_n": len(lat),
        "latency_p50_s": _pct(lat, 0.5),
        "latency_p95_s": _pct(lat, 0.95),
        "latency_p95_calm_s": _pct(lat_calm, 0.95),
        "rss_mb": rss,
        "cpu_percent_calm": cpu,
        "faults": [f.__dict__ for f in soak.faults],
        "stream_connections": client.connections,
    }


def _latencies(
    soak: Soak, client: SegmentStreamClient, settings: Settings
) -> tuple[list[float], list[float]]:
    """Seconds from a segment-minute's newest traversal exit to its complete state on the
    stream (all, and outside fault windows)."""
    with psycopg.connect(settings.dsn) as conn:
        final = {
            key: (exit_ts.timestamp(), nv)
            for key, (exit_ts, nv) in traversal_completion(conn).items()
        }
    first: dict[tuple, float] = {}
    for ev in client.events:
        for st in ev.segments:
            if st.get("minute") is None or st.get("source") not in ("probe", "fused"):
                continue
            key = (st["segment_id"], datetime.fromisoformat(st["minute"]))
            f = final.get(key)
            if f is not None and key not in first and st["n_vehicles"] >= f[1]:
                first[key] = ev.received
    wall0 = time.time() - soak.now()  # wall time of the soak's t = 0
    windows = [(wall0 + f.at_s - 5, wall0 + f.ended_s + (f.recovered_s or 120))
               for f in soak.faults]  # fmt: skip
    lat, calm = [], []
    for key, seen in first.items():
        d = seen - final[key][0]
        lat.append(d)
        if not any(lo <= seen <= hi for lo, hi in windows):
            calm.append(d)
    return lat, calm


def _table(r: dict) -> str:
    rows = [
        ("fixes published (simulator → Kafka), /s", r.get("published_fixes_per_s")),
        ("fixes stored (checkpointed with their traversals), /s", r.get("stored_fixes_per_s")),
        ("consumer lag p95 / max (fixes), outside faults / all", f"{r.get('lag_p95_calm')} /"
         f" {r.get('lag_max')}"),
        ("current state age p95, outside faults (s)", _fmt(r.get("state_age_p95_calm_s"))),
        ("end-to-end latency p50 / p95 (s)",
         f"{_fmt(r.get('latency_p50_s'))} / {_fmt(r.get('latency_p95_s'))}"),
        ("end-to-end latency p95 outside faults (s)", _fmt(r.get("latency_p95_calm_s"))),
        ("latency samples (segment-minutes)", r.get("latency_n")),
        ("pipeline drained after the feed (s)", _fmt(r.get("drain_s"))),
    ]  # fmt: skip
    for name, v in r.get("rss_mb", {}).items():
        rows.append((f"RSS {name} median / max, 2nd half (MB)", f"{v['median']} / {v['max']}"))
    for name, v in r.get("cpu_percent_calm", {}).items():
        rows.append((f"CPU {name}, outside faults (% of one core)", v))
    for f in r.get("faults", []):
        rec = f["recovered_s"]
        rows.append((f"recovery: {f['name']} at {f['at_s'] / 60:.1f} min (s)",
                     "not recovered" if rec is None else f"{rec:.0f}"))  # fmt: skip
    diffs = r.get("differences")
    rows.append(("results vs undisturbed reference", "identical" if diffs == [] else diffs))
    rows.append(("compared rows", r.get("compared")))
    out = ["| measure | value |", "| --- | --- |"]
    out += [f"| {k} | {v} |" for k, v in rows]
    return "\n".join(out)


def _fmt(v: float | None) -> str:
    return "–" if v is None else f"{v:.1f}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=30.0)
    p.add_argument("--vehicles", type=int, default=3000)
    p.add_argument("--interval", type=int, default=5, help="seconds between a vehicle's fixes")
    p.add_argument("--seed", type=int, default=9)
    p.add_argument("--probe-workers", type=int, default=1)
    p.add_argument("--partitions", type=int, default=6)
    p.add_argument(
        "--kill-every-s",
        type=float,
        default=0.0,
        help="SIGKILL the probe worker at random, this often on average (0: never)",
    )
    p.add_argument("--kafka-restart-at", type=float, help="minute of a broker restart")
    p.add_argument("--kafka-down-s", type=float, default=15.0)
    p.add_argument("--pg-outage-at", type=float, help="minute of a PostgreSQL outage")
    p.add_argument("--pg-outage-s", type=float, default=60.0)
    p.add_argument("--api-restart-at", type=float, help="minute of an API restart")
    p.add_argument("--sample-s", type=float, default=5.0)
    p.add_argument("--warmup-s", type=float, default=120.0, help="not in the rates; no kills")
    p.add_argument("--state-dir", default=str(REPO_ROOT / ".itms" / "soak-stack"))
    p.add_argument("--kafka-port", type=int, default=19792, help="and the next for the controller")
    p.add_argument("--pg-port", type=int, default=55450)
    p.add_argument("--log-dir")
    p.add_argument("--keep", action="store_true", help="keep the databases (for inspection)")
    p.add_argument("--out", help="write the figures as JSON here")
    args = p.parse_args(argv)  # fmt: skip

    def terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # unwinds through run(), which stops what it started

    signal.signal(signal.SIGTERM, terminate)
    report = run(args)
    print(_table(report))
    if args.out:
        Path(args.out).write_text(json.dumps(report, default=str, indent=2))
    ok = report.get("differences") == []
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
