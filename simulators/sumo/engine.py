"""``itms simulate --engine sumo``: a scenario run through SUMO, written as the project's
feeds and ground truth (the same output folder as the project's own simulator).

The network, demand, loops and incidents are prepared in ``<out>/sumo/``, SUMO runs
headless, and its outputs become: ``gps.jsonl`` (probe positions through the project's GPS
channel: noise, outliers, drops, duplicates, late delivery; ``probes.py``, ``feeds.py``),
``detectors.jsonl`` (loop readings in the detector contract, one loop per lane
``<site>__l<k>``), and ``truth/`` (``truth.py``: per segment and minute from every vehicle;
probe traversals and fixes; loops with their ``station_id``; incidents with the queue they
formed). Times are UTC epoch milliseconds in
the feeds, SUMO seconds from the start inside; positions metric in SUMO, WGS 84 outside.
"""

from __future__ import annotations

import json
import math
import sys
from datetime import timedelta
from pathlib import Path
from typing import TextIO

import numpy as np
import pandas as pd

from roadnet import model as m
from roadnet.model import RoadNetwork
from simulators.detectors import place_detectors
from simulators.scenario import Scenario
from simulators.simulation import fleet_specs
from simulators.sinks import FeedSink
from simulators.sumo.additionals import write_additionals
from simulators.sumo.bus_stops import place_bus_stops
from simulators.sumo.demand import make_trips, write_routes
from simulators.sumo.feeds import loop_readings, write_feeds
from simulators.sumo.network_export import NetOptions, build_sumo_network
from simulators.sumo.outputs import (
    read_edgedata,
    read_fcd,
    read_incident_jams,
    read_jams,
    read_loops,
    read_vehroutes,
    shifted,
)
from simulators.sumo.probes import Probes, device_reports, sample_fixes
from simulators.sumo.run import run_counts, run_sumo
from simulators.sumo.truth import (
    edge_queues,
    write_incidents,
    write_loops,
    write_speeds,
    write_traversals,
)
from simulators.truth import TruthWriter


def simulate_sumo(
    scenario: Scenario, network: RoadNetwork, out_dir: str | Path, *,
    sink: FeedSink | None = None, progress: TextIO | None = sys.stderr,
) -> dict:  # fmt: skip
    """Run ``scenario`` through SUMO; writes feeds and ``truth/`` into ``out_dir`` (and
    publishes them to ``sink`` when given); returns the run's statistics."""
    from simulators.sinks import FileSink, MultiSink

    out = Path(out_dir)
    work = out / "sumo"
    work.mkdir(parents=True, exist_ok=True)
    sc, so = scenario, scenario.sumo
    start = sc.start_time()
    start_ms = int(start.timestamp() * 1000)
    rng = np.random.default_rng(sc.seed)
    say = (lambda text: (progress.write(text + "\n"), progress.flush())) if progress else (
        lambda text: None)  # fmt: skip
    mapped = np.zeros(0, np.int64)
    if so.tls_mapped and network.node_signal is not None:
        mapped = np.flatnonzero(network.node_signal)
    net_options = NetOptions(
        tls_guess=so.tls_guess if so.tls_guess is not None else len(mapped) == 0,
        tls_guess_threshold=so.tls_guess_threshold, tls_cycle_s=so.tls_cycle_s,
        join_junctions=so.join_junctions, tls_nodes=tuple(mapped.tolist()))  # fmt: skip
    net = build_sumo_network(network, work, net_options)
    say(f"SUMO network: {len(net.edges)} edges, {net.traffic_lights} traffic lights"
        f" ({len(mapped)} junctions signalised in the network, guessing {net_options.tls_guess}),"
        f" {len(net.dropped)} segments dropped by junction joining")  # fmt: skip
    specs = fleet_specs(sc)
    warmup = warmup_s(sc)
    kept = network.segments[m.SEGMENT_ID].astype(str).isin(net.lanes).to_numpy()
    trips = make_trips(network, specs, n=sc.vehicles, duration_s=sc.duration_s, start=start,
                       timezone=sc.timezone, probe_share=so.probe_share, rng=rng,
                       warmup_s=warmup, usable=kept)  # fmt: skip
    trips_file = work / "trips.rou.xml"
    stops = place_bus_stops(network).kept(kept)
    write_routes(network, trips, trips_file, rerouting_share=so.rerouting_share, rng=rng,
                 stops=stops)  # fmt: skip
    seg = network.segments
    ids = seg[m.SEGMENT_ID].astype(str).tolist()
    index = {s: i for i, s in enumerate(ids)}
    sites = place_detectors(network, spacing=sc.detectors.spacing, rng=rng,
                            classes=tuple(sc.detectors.classes))  # fmt: skip
    sites = [s for s in sites if ids[s.segment] in net.lanes]
    for inc in sc.incidents:
        if inc.segment_id not in net.lanes:
            raise ValueError(f"incident {inc.id}: segment {inc.segment_id} is not in the network")
    inc_pos = {i.id: i.position * float(seg[m.LENGTH].iloc[index[i.segment_id]])
               for i in sc.incidents}  # fmt: skip
    additional = work / "additional.add.xml"
    loops = write_additionals(
        additional, sites=sites, segment_ids=ids, lane_length_m=net.lane_length_m,
        lanes_of=net.lanes, interval_s=sc.detectors.interval_s,
        incidents=[i.model_copy(update={"start_s": i.start_s + warmup}) for i in sc.incidents],
        incident_pos_m=inc_pos, per_lane=so.detector_lanes, bus_stops=stops,
        lane_width_m=net_options.lane_width_m,
    )  # fmt: skip
    say(f"SUMO demand: {len(trips.vehicle_id)} trips ({len(trips.vehicle_id) - sc.vehicles} in"
        f" a {warmup} s warm-up), {int(trips.probe.sum())} probes, {len(loops)} loops;"
        f" running {warmup + sc.duration_s} s")  # fmt: skip
    files = run_sumo(work, net=net.path, routes=trips_file, additional=additional,
                     duration_s=warmup + sc.duration_s, seed=sc.seed,
                     lateral_resolution_m=so.lateral_resolution_m,
                     time_to_teleport_s=so.time_to_teleport_s)  # fmt: skip
    say(f"SUMO ran in {files.wall_s:.1f} s; writing feeds and truth")
    truth = TruthWriter(out / "truth")
    feed = FileSink(out) if sink is None else MultiSink(FileSink(out), sink)
    probes = Probes.of(trips)
    # from here on, seconds from the run's start: the warm-up left out
    routes = {v: shifted(r, warmup) for v, r in read_vehroutes(files.vehroutes).items()}
    fixes = sample_fixes(_after(read_fcd(files.fcd), warmup, "t"), probes, routes, index, rng)
    noise = sc.gps.noise()
    reports = device_reports(fixes, probes, network, noise, specs, rng)
    readings = loop_readings(_after(read_loops(files.loops), warmup, "begin", "end"), start_ms)
    stats: dict = write_feeds(fixes, reports, probes, readings, segment_ids=ids,
                              start_ms=start_ms, noise=noise, rng=rng, feed=feed,
                              truth=truth)  # fmt: skip
    feed.close()
    write_traversals(truth, routes, dict(zip(probes.vehicle_id.tolist(),
                                             probes.vehicle_type.tolist(), strict=True)),
                     network, index, start_ms, sc.duration_s)  # fmt: skip
    write_loops(truth, loops, network, index)
    edge = _after(read_edgedata(files.edgedata), warmup, "begin")
    queues = edge_queues(_after(read_jams(files.jams), warmup, "begin"))
    write_speeds(truth, edge, queues, network, start_ms)
    behind = {i: _after(df, warmup, "begin")
              for i, df in read_incident_jams(files.incident_jams).items()}  # fmt: skip
    write_incidents(truth, sc.incidents, network, queues, behind, start_ms)
    truth.close()
    stats.update({"engine": "sumo", "sumo_wall_s": round(files.wall_s, 2),
                  "sumo": run_counts(files.log),
                  "traffic_lights": net.traffic_lights, "mapped_signal_junctions": len(mapped),
                  "tls_guessed": net_options.tls_guess, "dropped_segments": net.dropped,
                  "trips": sc.vehicles, "warmup_s": warmup,
                  "warmup_trips": len(trips.vehicle_id) - sc.vehicles,
                  "probe_trips": int(trips.probe.sum()),
                  "probes": len(np.unique(fixes.vehicle_id)), "loops": len(loops)})  # fmt: skip
    run = {"scenario": json.loads(sc.model_dump_json()), "start": start.isoformat(),
           "end": (start + timedelta(seconds=sc.duration_s)).isoformat(),
           "network": network.source, "stats": stats}  # fmt: skip
    (out / "truth" / "run.json").write_text(json.dumps(run, indent=2, ensure_ascii=False),
                                           encoding="utf-8")  # fmt: skip
    return stats


def warmup_s(scenario: Scenario) -> int:
    """The scenario's warm-up (s), rounded up to whole detector intervals and minutes (the
    loops' and the truth's intervals start with SUMO's clock)."""
    step = math.lcm(60, scenario.detectors.interval_s)
    return -(-scenario.sumo.warmup_s // step) * step


def _after(df: pd.DataFrame, warmup: int, first: str, *more: str) -> pd.DataFrame:
    """The rows of a SUMO output from the run's start on (column ``first`` ≥ ``warmup``),
    with the time columns on the run's clock."""
    out = df[df[first] >= warmup].reset_index(drop=True) if len(df) else df
    for col in (first, *more):
        out[col] = out[col] - warmup
    return out
