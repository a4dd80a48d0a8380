"""Probe-worker throughput and memory: validation + online map matching + traversals.

    python bench/worker_throughput.py [--vehicles 5000] [--duration 300] [--processes 1,2]

Simulates the Hai Phong fleet (default GPS channel: noise, outliers, duplicates,
reordering), splits the fixes into 6 partitions by vehicle as Kafka would, and
runs the worker's processor over them in polls of 5,000 messages, in each of
``processes`` OS processes (each owning its share of the partitions). Reports
fixes/s over all processes, the peak RSS of one worker process, the vehicles it
tracked, and the size and time of its state snapshot (written with every
checkpoint). The broker and database are not involved: this is the CPU cost of
the worker's own logic, which bounds its end-to-end rate. "fixes per CPU-second" divides by
the processes' own CPU time: the rate of one process with a core to itself, also when other
work shares the machine (wall-clock rates then drop, CPU-time rates much less).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import tempfile
import time
import zlib
from pathlib import Path

from analytics.workers.probe_worker import ProbeProcessor, tune_gc
from ingest.validation import FeedValidator
from roadnet import load_network
from simulators.scenario import Scenario
from simulators.simulation import Simulation
from simulators.sinks import FileSink

PARTITIONS = 6


def _work(lines: list[bytes], parts: list[int], out: mp.Queue) -> None:
    net = load_network()
    validator = FeedValidator("gps", max_future_s=1e12, max_age_s=1e12)
    proc = ProbeProcessor(net)
    tune_gc()  # as `itms worker` does
    mine = [ln for ln in lines if zlib.crc32(ln[: ln.index(b",")]) % PARTITIONS in parts]
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cpu0 = time.process_time()
    start = time.perf_counter()
    for i in range(0, len(mine), 5000):
        poll = mine[i : i + 5000]
        by_part: dict[int, list] = {}
        for ln in poll:
            by_part.setdefault(zlib.crc32(ln[: ln.index(b",")]) % PARTITIONS, []).append(ln)
        for p, msgs in by_part.items():
            proc.process(("gps", p), [validator.validate(m) for m in msgs])
        proc.clear()
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu0
    t0 = time.perf_counter()
    size = sum(len(proc.snapshot(("gps", p))) for p in parts)
    snap_s = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out.put((len(mine), elapsed, rss, base_rss, proc.vehicles(), size, snap_s,
             proc.counters.traversals, cpu))  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--vehicles", type=int, default=5000)
    ap.add_argument("--duration", type=int, default=300)
    ap.add_argument("--processes", default="1,2")
    args = ap.parse_args()
    net = load_network()
    sc = Scenario(start="2026-11-25T07:30:00+07:00", duration_s=args.duration,
                  vehicles=args.vehicles, seed=4)  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        Simulation(sc, net).run(FileSink(Path(tmp)), None, progress=None)
        lines = (Path(tmp) / "gps.jsonl").read_bytes().splitlines()
    print(f"{len(lines):,} fixes from {args.vehicles:,} vehicles over {args.duration} s\n")
    print(
        "| processes | fixes/s (all) | fixes/s per process | fixes per CPU-second"
        " | peak RSS per process MiB | vehicles per process | state snapshot MiB | snapshot s"
        " | traversals |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    ctx = mp.get_context("fork")
    for n in (int(v) for v in args.processes.split(",")):
        q: mp.Queue = ctx.Queue()
        shares = [list(range(PARTITIONS))[k::n] for k in range(n)]
        procs = [ctx.Process(target=_work, args=(lines, s, q)) for s in shares]
        for p in procs:
            p.start()
        res = [q.get() for _ in procs]
        for p in procs:
            p.join()
        fixes = sum(r[0] for r in res)
        wall = max(r[1] for r in res)
        cpu = sum(r[8] for r in res)
        print(f"| {n} | {fixes / wall:,.0f} | {fixes / wall / n:,.0f} | {fixes / cpu:,.0f} |"
              f" {max(r[2] for r in res) / 1024:.0f} | {max(r[4] for r in res):,} |"
              f" {max(r[5] for r in res) / 2**20:.1f} | {max(r[6] for r in res):.2f} |"
              f" {sum(r[7] for r in res):,} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
