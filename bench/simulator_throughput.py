"""Benchmark: simulated GPS fixes generated (and published to Kafka) per second.

    python bench/simulator_throughput.py --vehicles 10000 --duration 600            # no I/O
    python bench/simulator_throughput.py --vehicles 10000 --duration 600 --kafka    # publish

With ``--kafka`` the fixes go to the GPS topic of the stack in the environment
(``itms stack up`` first, or set ITMS_KAFKA_BOOTSTRAP). The figure counts
fixes delivered to the sink divided by wall time, including JSON encoding.
"""

from __future__ import annotations

import argparse
import resource
import time

from roadnet import load_network
from simulators.scenario import Scenario
from simulators.simulation import Simulation


class _NullSink:
    def __init__(self) -> None:
        self.n = 0

    def gps(self, key: bytes, value: bytes) -> None:
        self.n += 1

    def detector(self, key: bytes, value: bytes) -> None:
        pass

    def close(self) -> None:
        pass


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--vehicles", type=int, default=10_000)
    p.add_argument("--duration", type=int, default=600, help="simulated seconds")
    p.add_argument("--interval", type=int, default=None, help="override every fleet interval")
    p.add_argument("--kafka", action="store_true")
    args = p.parse_args()
    fleet = {}
    if args.interval:
        fleet = {
            t: {"interval_s": args.interval} for t in ("motorbike", "car", "taxi", "bus", "truck")
        }
    scenario = Scenario(vehicles=args.vehicles, duration_s=args.duration, seed=1, fleet=fleet)
    network = load_network()
    t0 = time.perf_counter()
    sim = Simulation(scenario, network)
    setup = time.perf_counter() - t0
    if args.kafka:
        from ingest.kafka.clients import ensure_topics, make_producer
        from itms.settings import Settings
        from simulators.sinks import KafkaSink

        settings = Settings()
        ensure_topics(settings.kafka)
        producer = make_producer(settings.kafka)
        sink = KafkaSink(producer, settings.topic("gps"), settings.topic("detectors"))
    else:
        sink = _NullSink()
    t0 = time.perf_counter()
    stats = sim.run(sink, None, progress=None)
    wall = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    mode = "published to Kafka" if args.kafka else "generated (no I/O)"
    print(
        f"{args.vehicles} vehicles, {args.duration} simulated s, network {len(network)} segments\n"
        f"setup {setup:.1f} s; run {wall:.1f} s; {stats['fixes_delivered']:,} fixes {mode}\n"
        f"=> {stats['fixes_delivered'] / wall:,.0f} fixes/s, "
        f"{args.duration / wall:.1f}x real time, peak RSS {rss:.0f} MiB"
    )


if __name__ == "__main__":
    main()
