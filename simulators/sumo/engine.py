"""``itms simulate --engine sumo``: a scenario run through SUMO, written as the project's
feeds and ground truth (the same output folder as the project's own simulator).

The network, demand, loops and incidents are prepared in ``<out>/sumo/``, SUMO runs
headless, and its outputs become: ``gps.jsonl`` (probe positions through the project's GPS
channel: noise, outliers, drops, duplicates, late delivery), ``detectors.jsonl`` (loop
readings in the detector contract, one loop per lane ``<site>__l<k>``), and ``truth/``
(per segment and minute from every vehicle; probe traversals and fixes; loops with their
``station_id``; incidents with the queue they formed). Times are UTC epoch milliseconds in
the feeds, SUMO seconds from the start inside; positions metric in SUMO, WGS 84 outside.
"""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from itertools import pairwise
from pathlib import Path
from typing import TextIO

import numpy as np
import pandas as pd
import shapely

from roadnet import model as m
from roadnet.model import RoadNetwork
from simulators.detectors import place_detectors
from simulators.gps_channel import DeliveryQueue, position_errors
from simulators.scenario import Scenario
from simulators.simulation import fleet_specs
from simulators.sinks import FeedSink
from simulators.sumo.additionals import Loop, write_additionals
from simulators.sumo.bus_stops import place_bus_stops
from simulators.sumo.demand import Trips, make_trips, write_routes
from simulators.sumo.network_export import NetOptions, build_sumo_network
from simulators.sumo.outputs import Route, read_edgedata, read_fcd, read_loops, read_vehroutes
from simulators.sumo.run import RunFiles, run_sumo
from simulators.truth import TruthWriter, iso

#: Road length one halting vehicle takes in a queue, per lane (m): a mix of motorbikes
#: (about 1 m each, riding three abreast in a lane) and cars (about 7 m).
QUEUE_SPACE_M = 4.0


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
    net = build_sumo_network(network, work, NetOptions(
        tls_guess=so.tls_guess, tls_guess_threshold=so.tls_guess_threshold,
        tls_cycle_s=so.tls_cycle_s, join_junctions=so.join_junctions))  # fmt: skip
    say(f"SUMO network: {len(net.edges)} edges, {net.traffic_lights} traffic lights,"
        f" {len(net.dropped)} segments dropped by junction joining")  # fmt: skip
    specs = fleet_specs(sc)
    kept = network.segments[m.SEGMENT_ID].astype(str).isin(net.lanes).to_numpy()
    trips = make_trips(network, specs, n=sc.vehicles, duration_s=sc.duration_s, start=start,
                       timezone=sc.timezone, probe_share=so.probe_share, rng=rng,
                       usable=kept)  # fmt: skip
    routes = work / "trips.rou.xml"
    stops = place_bus_stops(network).kept(kept)
    write_routes(network, trips, routes, rerouting_share=so.rerouting_share, rng=rng,
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
        lanes_of=net.lanes, interval_s=sc.detectors.interval_s, incidents=sc.incidents,
        incident_pos_m=inc_pos, per_lane=so.detector_lanes, bus_stops=stops,
    )  # fmt: skip
    say(f"SUMO demand: {len(trips.vehicle_id)} trips, {int(trips.probe.sum())} probes,"
        f" {len(loops)} loops; running {sc.duration_s} s")  # fmt: skip
    files = run_sumo(work, net=net.path, routes=routes, additional=additional,
                     duration_s=sc.duration_s, seed=sc.seed,
                     lateral_resolution_m=so.lateral_resolution_m,
                     time_to_teleport_s=so.time_to_teleport_s)  # fmt: skip
    say(f"SUMO ran in {files.wall_s:.1f} s; writing feeds and truth")
    truth = TruthWriter(out / "truth")
    feed = FileSink(out) if sink is None else MultiSink(FileSink(out), sink)
    stats = _write_outputs(sc, network, files, trips, loops, start_ms, rng, feed, truth)
    feed.close()
    edge = read_edgedata(files.edgedata)
    _write_speeds(truth, edge, network, net.lanes, start_ms)
    _write_incidents(truth, sc, network, edge, net.lanes, start_ms)
    truth.close()
    stats.update({"engine": "sumo", "sumo_wall_s": round(files.wall_s, 2),
                  "traffic_lights": net.traffic_lights, "dropped_segments": net.dropped,
                  "trips": len(trips.vehicle_id), "probes": int(trips.probe.sum()),
                  "loops": len(loops)})  # fmt: skip
    run = {"scenario": json.loads(sc.model_dump_json()), "start": start.isoformat(),
           "end": (start + timedelta(seconds=sc.duration_s)).isoformat(),
           "network": network.source, "stats": stats}  # fmt: skip
    (out / "truth" / "run.json").write_text(json.dumps(run, indent=2, ensure_ascii=False),
                                           encoding="utf-8")  # fmt: skip
    return stats


def _true_segments(
    fixes: pd.DataFrame, routes: dict[str, Route], index: dict[str, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Per fix: the segment index the vehicle is on or, inside a junction, entering (−1:
    unknown), and the offset along it (m; 0 inside a junction)."""
    seg = np.full(len(fixes), -1, np.int64)
    vid = fixes["vehicle_id"].to_numpy()
    t = fixes["t"].to_numpy(float)
    order = np.argsort(vid, kind="stable")
    bounds = np.flatnonzero(np.r_[True, vid[order][1:] != vid[order][:-1], True])
    for a, b in pairwise(bounds):
        rows = order[a:b]
        route = routes.get(vid[rows[0]])
        if route is None or not route.edges:
            continue
        k = np.searchsorted(route.exit_s, t[rows], side="left")
        k = np.minimum(k, len(route.edges) - 1)
        seg[rows] = [index.get(route.edges[j], -1) for j in k.tolist()]
    lane = fixes["lane"].astype(str)
    lane_edge = lane.str.rsplit("_", n=1).str[0].to_numpy()
    on_edge = ~lane.str.startswith(":").to_numpy(bool)
    ids = np.array(list(index), dtype=object)
    same = on_edge & (seg >= 0) & (lane_edge == np.where(seg >= 0, ids[np.maximum(seg, 0)], ""))
    offset = np.where(same, fixes["pos"].to_numpy(float), 0.0)
    return seg, offset


def _write_outputs(
    sc: Scenario, network: RoadNetwork, files: RunFiles, trips: Trips, loops: list[Loop],
    start_ms: int,
    rng: np.random.Generator, feed: FeedSink, truth: TruthWriter,
) -> dict:  # fmt: skip
    """Probe fixes through the GPS channel and loop readings, merged in delivery order;
    truth fixes, traversals and the loop inventory."""
    ids = network.segments[m.SEGMENT_ID].astype(str).tolist()
    index = {s: i for i, s in enumerate(ids)}
    fcd = read_fcd(files.fcd)
    routes = read_vehroutes(files.vehroutes)
    probe_of = {v: k for k, v in enumerate(trips.vehicle_id[trips.probe].tolist())}
    fcd = fcd[fcd["vehicle_id"].isin(probe_of)].reset_index(drop=True)
    code = fcd["vehicle_id"].map(probe_of).to_numpy(np.int64)
    interval = trips.interval_s[trips.probe][code]
    phase = rng.integers(0, 3600, len(probe_of))[code]
    fixes = fcd[((fcd["t"].to_numpy(np.int64) + phase) % interval) == 0].reset_index(drop=True)
    code = fixes["vehicle_id"].map(probe_of).to_numpy(np.int64)
    fix_interval = trips.interval_s[trips.probe][code]
    seg, offset = _true_segments(fixes, routes, index)
    x, y = fixes["x"].to_numpy(float), fixes["y"].to_numpy(float)
    noise = sc.gps.noise()
    err = position_errors(rng, len(fixes), noise)
    lon, lat = network.projector.to_wgs84(x + err[:, 0], y + err[:, 1])
    tlon, tlat = network.projector.to_wgs84(x, y)
    heading = np.mod(fixes["angle"].to_numpy(float) + rng.normal(0, 3, len(fixes)), 360.0)
    kmh = fixes["speed"].to_numpy(float) * 3.6
    rep_kmh = np.maximum(kmh + rng.normal(0.0, 0.8, len(fixes)), 0.0)
    specs = {s.vehicle_type: s for s in fleet_specs(sc)}
    vtype = trips.vehicle_type[trips.probe]
    reports = rng.random(len(probe_of)) < np.array([specs[t].reports_speed for t in vtype])
    t_s = fixes["t"].to_numpy(float)
    ts_ms = start_ms + (t_s * 1000).astype(np.int64)
    vids = fixes["vehicle_id"].to_numpy()
    accuracy = round(noise.sigma_m * 1.5, 1)
    queue = DeliveryQueue(rng, noise, len(probe_of))
    readings = _loop_messages(files, start_ms)
    r_at = [at for at, _, _ in readings]
    r_next = 0
    stats = {"fixes_generated": 0, "fixes_delivered": 0, "detector_readings": len(readings)}
    bounds = np.flatnonzero(np.r_[True, t_s[1:] != t_s[:-1], True])
    for a, b in pairwise(bounds):
        now = float(t_s[a])
        msgs = []
        for k in range(a, b):
            msg = {"vehicle_id": vids[k], "ts": int(ts_ms[k]), "lat": round(float(lat[k]), 7),
                   "lon": round(float(lon[k]), 7), "heading_deg": round(float(heading[k]), 1),
                   "accuracy_m": accuracy, "vehicle_type": vtype[code[k]],
                   "source": "sumo"}  # fmt: skip
            if reports[code[k]]:
                msg["speed_kmh"] = round(float(rep_kmh[k]), 1)
            msgs.append((vids[k].encode(), json.dumps(msg, separators=(",", ":")).encode()))
            truth.fixes.writerow((vids[k], int(ts_ms[k]), f"{tlon[k]:.7f}", f"{tlat[k]:.7f}",
                                  ids[seg[k]] if seg[k] >= 0 else "", f"{offset[k]:.1f}",
                                  f"{kmh[k]:.1f}"))  # fmt: skip
        queue.offer(now, code[a:b], fix_interval[a:b], msgs)
        stats["fixes_generated"] += int(b - a)
        for at, key, value in queue.due(now):
            while r_next < len(readings) and r_at[r_next] <= at:
                feed.detector(readings[r_next][1], readings[r_next][2])
                r_next += 1
            feed.gps(key, value)
            stats["fixes_delivered"] += 1
    for _, key, value in queue.drain():
        feed.gps(key, value)
        stats["fixes_delivered"] += 1
    for _, key, value in readings[r_next:]:
        feed.detector(key, value)
    _write_traversals(truth, routes, probe_of, trips, network, index, start_ms, sc.duration_s)
    _write_loops(truth, loops, network, index)
    stats.update({k: int(v) for k, v in queue.stats.items()})
    return stats


def _loop_messages(files: RunFiles, start_ms: int) -> list[tuple[float, bytes, bytes]]:
    """Loop readings as detector-contract messages, with their delivery time (s)."""
    df = read_loops(files.loops)
    out = []
    for row in df.sort_values(["end", "id"], kind="stable").itertuples(index=False):
        msg = {"detector_id": row.id, "ts": int(start_ms + row.end * 1000),
               "interval_s": round(row.end - row.begin), "volume": int(row.nVehContrib),
               "occupancy": round(min(float(row.occupancy) / 100.0, 1.0), 4)}  # fmt: skip
        if row.speed >= 0:
            msg["speed_kmh"] = round(float(row.speed) * 3.6, 1)
        out.append((float(row.end) + 1.0, row.id.encode(),
                    json.dumps(msg, separators=(",", ":")).encode()))  # fmt: skip
    return out


def _write_traversals(
    truth: TruthWriter, routes: dict[str, Route], probe_of: dict[str, int], trips: Trips,
    network: RoadNetwork, index: dict[str, int], start_ms: int, duration_s: int,
) -> None:  # fmt: skip
    """Every complete pass of a probe over a segment (entered from the previous edge)."""
    length = network.segments[m.LENGTH].to_numpy(float)
    vtype = dict(zip(trips.vehicle_id.tolist(), trips.vehicle_type.tolist(), strict=True))
    for vid in probe_of:
        route = routes.get(vid)
        if route is None:
            continue
        for j in range(1, len(route.exit_s)):
            seg = index.get(route.edges[j], -1)
            entry, exit_ = float(route.exit_s[j - 1]), float(route.exit_s[j])
            if seg < 0 or not exit_ <= duration_s or exit_ <= entry:
                continue
            truth.traversals.writerow((vid, vtype[vid], route.edges[j],
                                       int(start_ms + entry * 1000), int(start_ms + exit_ * 1000),
                                       f"{length[seg] / (exit_ - entry) * 3.6:.2f}"))  # fmt: skip


def _write_loops(truth: TruthWriter, loops: list[Loop], network: RoadNetwork,
                 index: dict[str, int]) -> None:  # fmt: skip
    """``detectors.csv``: every loop with its station (the site) and lane."""
    rows = []
    for loop_id, site_id, lane, seg_id, pos in loops:
        geom = network.segments.geometry.iloc[index[seg_id]]
        frac = pos / float(network.segments[m.LENGTH].iloc[index[seg_id]])
        p = shapely.line_interpolate_point(geom, min(frac, 1.0), normalized=True)
        rows.append([loop_id, seg_id, f"{pos:.1f}", f"{p.x:.7f}", f"{p.y:.7f}", "", "",
                     site_id, lane])  # fmt: skip
    header = ["detector_id", "segment_id", "position_m", "lon", "lat", "fault", "fault_from",
              "station_id", "lane"]  # fmt: skip
    truth.write_table("detectors.csv", header, rows)


def _queue_m(edge: pd.DataFrame, lanes: dict[str, int]) -> np.ndarray:
    """Queue length per edge row (m): halting vehicles over the minute × space per lane."""
    n_lanes = edge["id"].map(lanes).fillna(1).clip(lower=1).to_numpy(float)
    return edge["waitingTime"].fillna(0).to_numpy(float) / 60.0 * QUEUE_SPACE_M / n_lanes


def _write_speeds(truth: TruthWriter, edge: pd.DataFrame, network: RoadNetwork,
                  lanes: dict[str, int], start_ms: int) -> None:  # fmt: skip
    """``segment_speeds.csv`` from SUMO's per-minute edge data (all traffic vehicles)."""
    length = dict(zip(network.segments[m.SEGMENT_ID].astype(str),
                      network.segments[m.LENGTH].astype(float), strict=True))  # fmt: skip
    queue = _queue_m(edge, lanes)
    seg_len = edge["id"].map(length).to_numpy(float)
    ok = (edge["speed"].to_numpy(float) > 0) & np.isfinite(seg_len)
    e = edge[ok]
    speed = e["speed"].to_numpy(float)
    minutes = pd.to_datetime(start_ms + e["begin"].to_numpy(float) * 1000, unit="ms",
                             utc=True).strftime("%Y-%m-%dT%H:%M:%SZ")  # whole minutes
    truth.speeds.writerows(zip(
        minutes, e["id"], np.char.mod("%.2f", speed * 3.6),
        np.char.mod("%.1f", seg_len[ok] / speed),
        np.char.mod("%.0f", e["left"].to_numpy(float) * 60), np.char.mod("%.0f", queue[ok]),
        strict=True))  # fmt: skip


def _write_incidents(truth: TruthWriter, sc: Scenario, network: RoadNetwork,
                     edge: pd.DataFrame, lanes: dict[str, int],
                     start_ms: int) -> None:  # fmt: skip
    """``incidents.csv``: each incident with the longest queue it formed (m) — on its
    segment and the queued segments upstream along the same road, from its start to ten
    minutes after its end."""
    seg = network.segments
    ids = seg[m.SEGMENT_ID].astype(str).tolist()
    index = {s: i for i, s in enumerate(ids)}
    names = seg[m.NAME].fillna("").astype(str).tolist()
    into: dict[int, list[int]] = {}
    for i, to in enumerate(seg[m.TO_NODE].tolist()):
        into.setdefault(int(to), []).append(i)
    frm = seg[m.FROM_NODE].to_numpy()
    queue = pd.Series(_queue_m(edge, lanes), index=pd.MultiIndex.from_arrays(
        [edge["begin"].to_numpy(float), edge["id"].to_numpy()]))  # fmt: skip
    rows = []
    for inc in sc.incidents:
        k = index[inc.segment_id]
        best = 0.0
        for t0 in np.arange(inc.start_s // 60 * 60, inc.start_s + inc.duration_s + 600, 60.0):
            total, cur, seen = 0.0, k, {k}
            while True:
                q = float(queue.get((t0, ids[cur]), 0.0))
                if q <= 0 and cur != k:
                    break
                total += q
                ups = [u for u in into.get(int(frm[cur]), []) if names[u] == names[k]
                       and u not in seen and frm[u] != seg[m.TO_NODE].iloc[cur]]  # fmt: skip
                if not ups:
                    break
                cur = ups[0]
                seen.add(cur)
            best = max(best, total)
        p = shapely.line_interpolate_point(seg.geometry.iloc[k], inc.position, normalized=True)
        rows.append([inc.id, inc.kind, inc.segment_id, names[k], f"{p.x:.7f}", f"{p.y:.7f}",
                     iso(start_ms + inc.start_s * 1000),
                     iso(start_ms + (inc.start_s + inc.duration_s) * 1000),
                     inc.lanes_blocked, f"{best:.0f}"])  # fmt: skip
    truth.write_table("incidents.csv", ["incident_id", "kind", "segment_id", "road_name", "lon",
                                        "lat", "start", "end", "lanes_blocked", "max_queue_m"],
                      rows)  # fmt: skip
