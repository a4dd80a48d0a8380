"""One simulation run: traffic state, fleet, GPS channel and detectors, second by second.

Deterministic for a scenario and seed: every random draw comes from generators
derived from ``scenario.seed``. Feeds go to a :class:`~simulators.sinks.FeedSink`
in delivery order; ground truth goes to a :class:`~simulators.truth.TruthWriter`.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import TextIO
from zoneinfo import ZoneInfo

import numpy as np
import shapely

from roadnet import model as m
from roadnet.cities import demo_places_path
from roadnet.model import RoadNetwork
from simulators.detectors import DetectorBank, place_detectors
from simulators.fleet import DEFAULT_FLEET, Fleet, FleetSpec
from simulators.gps_channel import DeliveryQueue, position_errors
from simulators.routing import RouteTable
from simulators.scenario import Scenario
from simulators.sinks import FeedSink
from simulators.traffic.model import Incident, TrafficModel
from simulators.truth import TruthWriter, iso

MODEL_DT_S = 10
PLACES_FILE = demo_places_path()


def fleet_specs(scenario: Scenario) -> tuple[FleetSpec, ...]:
    """The default fleet with the scenario's per-type overrides."""
    specs = []
    for spec in DEFAULT_FLEET:
        o = scenario.fleet.get(spec.vehicle_type)
        if o is not None:
            spec = replace(spec, **{k: v for k, v in o.model_dump().items() if v is not None})
        specs.append(spec)
    unknown = set(scenario.fleet) - {s.vehicle_type for s in specs}
    if unknown:
        raise ValueError(f"unknown vehicle types in scenario fleet: {sorted(unknown)}")
    return tuple(specs)


class Simulation:
    """A configured run; call :meth:`run` once."""

    def __init__(self, scenario: Scenario, network: RoadNetwork) -> None:
        self.scenario = scenario
        self.network = network
        self.start = scenario.start_time()
        self.start_ms = int(self.start.timestamp() * 1000)
        root = np.random.SeedSequence(scenario.seed)
        r_traffic, r_fleet, r_gps, r_det, r_route = (
            np.random.default_rng(s) for s in root.spawn(5)
        )
        local = self.start.astimezone(ZoneInfo(scenario.timezone))
        hour = local.hour + local.minute / 60 + local.second / 3600
        self.traffic = TrafficModel(
            network,
            start_local_hour=hour,
            seed=int(r_traffic.integers(2**31)),
            demand_scale=scenario.demand_scale,
            dt_s=MODEL_DT_S,
            demand_seed=scenario.city_seed,
        )
        for spec in scenario.incidents:
            try:
                seg = network.index_of(spec.segment_id)
            except KeyError as exc:
                raise ValueError(f"incident {spec.id}: unknown segment {spec.segment_id}") from exc
            self.traffic.add_incident(
                Incident(
                    spec.id,
                    seg,
                    spec.position * float(network.segments[m.LENGTH].iloc[seg]),
                    spec.start_s,
                    spec.start_s + spec.duration_s,
                    spec.kind,
                    spec.lanes_blocked,
                    spec.crawl_kmh,
                )
            )
        dests = self._destinations(r_route)
        self.routes = RouteTable(network, dests)
        self.fleet = Fleet(
            network,
            self.traffic,
            self.routes,
            fleet_specs(scenario),
            r_fleet,
            scenario.vehicles,
            self._dest_weights(dests),
        )
        self.ids = np.array(
            [f"{t[:3]}-{i:06d}" for i, t in enumerate(self.fleet.vehicle_type)], object
        )
        self.rng_gps = r_gps
        self.channel = DeliveryQueue(r_gps, scenario.gps.noise(), scenario.vehicles)
        det = scenario.detectors
        sites = place_detectors(network, spacing=det.spacing, rng=r_det, classes=tuple(det.classes))
        faults = {f.detector_id: f for f in det.faults}
        for site in sites:
            if site.detector_id in faults:
                site.fault, site.fault_from_s = (
                    faults[site.detector_id].kind,
                    faults[site.detector_id].from_s,
                )
        self.detectors = DetectorBank(
            sites, self.traffic, r_det, interval_s=det.interval_s, missing_p=det.missing_p
        )
        self.stats = {"fixes_generated": 0, "fixes_delivered": 0, "detector_readings": 0}

    # -- origin/destination pool -------------------------------------------------------
    def _destinations(self, rng: np.random.Generator) -> np.ndarray:
        n = self.network.n_nodes
        pool = rng.choice(n, size=min(n, 300), replace=False)
        self.place_nodes: dict[str, int] = {}
        if PLACES_FILE.exists() and self.network.source.endswith("haiphong/network.geojson"):
            places = json.loads(PLACES_FILE.read_text(encoding="utf-8"))["places"]
            x, y = self.network.projector.to_metric(
                self.network.node_lonlat[:, 0], self.network.node_lonlat[:, 1]
            )
            for p in places:
                px, py = self.network.projector.to_metric(
                    np.array([p["lon"]]), np.array([p["lat"]])
                )
                self.place_nodes[p["id"]] = int(np.argmin((x - px[0]) ** 2 + (y - py[0]) ** 2))
        return np.unique(np.concatenate([pool, list(self.place_nodes.values())]).astype(np.int64))

    def _dest_weights(self, dests: np.ndarray) -> dict[str, np.ndarray]:
        """Trucks head mostly to ports and the national road; others anywhere."""
        freight = [
            self.place_nodes[k]
            for k in ("dinh-vu-port", "chua-ve-port", "nr5-west")
            if k in self.place_nodes
        ]
        if not freight:
            return {}
        w = np.where(np.isin(dests, freight), 20.0, 1.0)
        return {"truck": w}

    # -- the run -----------------------------------------------------------------------
    def run(
        self,
        sink: FeedSink,
        truth: TruthWriter | None = None,
        *,
        speedup: float | None = None,
        progress: TextIO | None = sys.stderr,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> dict:
        """Simulate the scenario; ``speedup`` paces it to wall time (None: flat out)."""
        sc = self.scenario
        seg_ids = self.network.segments[m.SEGMENT_ID].to_numpy()
        tt_sum = np.zeros(len(self.network))
        flow_sum = np.zeros(len(self.network))
        queue_sum = np.zeros(len(self.network))
        n_model = 0
        now_s = 0
        tty = progress is not None and progress.isatty()
        lead, tail, report_every = ("\r", "", 2.0) if tty else ("", "\n", 60.0)
        wall0 = time.monotonic()
        last_report = wall0
        for t in range(sc.duration_s):
            if should_stop():
                break
            if t % MODEL_DT_S == 0:
                if t:
                    self.traffic.step()
                self.detectors.sample()
                tt_sum += self.traffic.travel_time_s()
                flow_sum += self.traffic.demand
                queue_sum += self.traffic.q_hi - self.traffic.q_lo
                n_model += 1
            self.fleet.step(float(t))
            now_s = t + 1
            self._emit_fixes(now_s, seg_ids, truth)
            for _, key, value in self.channel.due(float(now_s)):
                sink.gps(key, value)
                self.stats["fixes_delivered"] += 1
            if now_s % self.detectors.interval_s == 0:
                self._emit_detectors(now_s, sink)
            if now_s % 60 == 0 and truth is not None and n_model:
                self._write_minute(
                    truth,
                    now_s - 60,
                    seg_ids,
                    tt_sum / n_model,
                    flow_sum / n_model,
                    queue_sum / n_model,
                )
                tt_sum[:] = flow_sum[:] = queue_sum[:] = 0.0
                n_model = 0
            if speedup:
                delay = wall0 + now_s / speedup - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            if progress is not None and time.monotonic() - last_report > report_every:
                last_report = time.monotonic()
                done = self.stats["fixes_delivered"]
                progress.write(f"{lead}simulated {now_s}/{sc.duration_s} s, {done:,} fixes{tail}")
                progress.flush()
        for _, key, value in self.channel.drain():
            sink.gps(key, value)
            self.stats["fixes_delivered"] += 1
        sink.close()
        if truth is not None:
            self._write_run_truth(truth)
            truth.close()
        if progress is not None:
            progress.write(f"{lead}simulated {now_s} s: {self.stats}\n")
        return {**self.stats, **self.channel.stats}

    def _emit_fixes(self, now_s: int, seg_ids: np.ndarray, truth: TruthWriter | None) -> None:
        fl = self.fleet
        due = fl.due(now_s)
        if len(due) == 0:
            return
        seg = fl.seg[due]
        length = fl.length[seg]
        frac = np.clip(fl.offset[due] / length, 0.0, 1.0)
        geoms = self.network.geom_m[seg]
        pts = shapely.get_coordinates(shapely.line_interpolate_point(geoms, frac, normalized=True))
        ahead = shapely.get_coordinates(
            shapely.line_interpolate_point(
                geoms, np.minimum(frac + 5.0 / length, 1.0), normalized=True
            )
        )
        behind = shapely.get_coordinates(
            shapely.line_interpolate_point(
                geoms, np.maximum(frac - 5.0 / length, 0.0), normalized=True
            )
        )
        d = ahead - behind
        heading = np.mod(
            np.degrees(np.arctan2(d[:, 0], d[:, 1])) + self.rng_gps.normal(0, 3, len(due)), 360.0
        )
        noisy = pts + position_errors(self.rng_gps, len(due), self.scenario.gps.noise())
        lon, lat = self.network.projector.to_wgs84(noisy[:, 0], noisy[:, 1])
        speed = fl.speed[due]
        rep_speed = np.maximum(speed + self.rng_gps.normal(0.0, 0.8, len(due)), 0.0)
        ts_ms = self.start_ms + now_s * 1000
        sigma = self.scenario.gps.sigma_m
        messages = []
        for k, v in enumerate(due):
            msg = {
                "vehicle_id": self.ids[v],
                "ts": ts_ms,
                "lat": round(float(lat[k]), 7),
                "lon": round(float(lon[k]), 7),
                "heading_deg": round(float(heading[k]), 1),
                "accuracy_m": round(sigma * 1.5, 1),
                "vehicle_type": fl.vehicle_type[v],
                "source": "sim",
            }
            if fl.reports_speed[v]:
                msg["speed_kmh"] = round(float(rep_speed[k]), 1)
            messages.append((self.ids[v].encode(), json.dumps(msg, separators=(",", ":")).encode()))
        self.channel.offer(float(now_s), due, fl.interval[due], messages)
        self.stats["fixes_generated"] += len(due)
        if truth is not None:
            tlon, tlat = self.network.projector.to_wgs84(pts[:, 0], pts[:, 1])
            ids = self.ids[due]
            for k in range(len(due)):
                truth.fixes.writerow(
                    (
                        ids[k],
                        ts_ms,
                        f"{tlon[k]:.7f}",
                        f"{tlat[k]:.7f}",
                        seg_ids[seg[k]],
                        f"{fl.offset[due[k]]:.1f}",
                        f"{speed[k]:.1f}",
                    )
                )
        # traversal truth accumulated by the fleet since last call
        if truth is not None and fl.traversals:
            for tr in fl.traversals:
                dur = max(tr.exit_s - tr.entry_s, 1e-3)
                truth.traversals.writerow(
                    (
                        self.ids[tr.vehicle],
                        fl.vehicle_type[tr.vehicle],
                        seg_ids[tr.segment],
                        int(self.start_ms + tr.entry_s * 1000),
                        int(self.start_ms + tr.exit_s * 1000),
                        f"{fl.length[tr.segment] / dur * 3.6:.2f}",
                    )
                )
        fl.traversals.clear()

    def _emit_detectors(self, now_s: int, sink: FeedSink) -> None:
        ts = self.start_ms + now_s * 1000
        for reading in self.detectors.readings(float(now_s)):
            reading["ts"] = ts
            sink.detector(
                reading["detector_id"].encode(), json.dumps(reading, separators=(",", ":")).encode()
            )
            self.stats["detector_readings"] += 1

    def _write_minute(
        self,
        truth: TruthWriter,
        minute_s: int,
        seg_ids: np.ndarray,
        tt: np.ndarray,
        flow: np.ndarray,
        queue: np.ndarray,
    ) -> None:
        minute = iso(self.start_ms + minute_s * 1000)
        speed = 3.6 * self.fleet.length / tt
        veh_flow = flow * 2.2
        for i in range(len(seg_ids)):
            truth.speeds.writerow(
                (
                    minute,
                    seg_ids[i],
                    f"{speed[i]:.2f}",
                    f"{tt[i]:.1f}",
                    f"{veh_flow[i]:.0f}",
                    f"{queue[i]:.0f}",
                )
            )

    def _write_run_truth(self, truth: TruthWriter) -> None:
        seg = self.network.segments
        rows = []
        for inc in self.traffic.incidents:
            geom = seg.geometry.iloc[inc.segment]
            frac = inc.position_m / float(seg[m.LENGTH].iloc[inc.segment])
            p = shapely.line_interpolate_point(geom, frac, normalized=True)
            rows.append(
                [
                    inc.incident_id,
                    inc.kind,
                    seg[m.SEGMENT_ID].iloc[inc.segment],
                    seg[m.NAME].iloc[inc.segment],
                    f"{p.x:.7f}",
                    f"{p.y:.7f}",
                    iso(self.start_ms + inc.start_s * 1000),
                    iso(self.start_ms + inc.end_s * 1000),
                    inc.lanes_blocked,
                    f"{inc.max_queue_m:.0f}",
                ]
            )
        truth.write_table(
            "incidents.csv",
            [
                "incident_id",
                "kind",
                "segment_id",
                "road_name",
                "lon",
                "lat",
                "start",
                "end",
                "lanes_blocked",
                "max_queue_m",
            ],
            rows,
        )
        det_rows = []
        for site in self.detectors.sites:
            geom = seg.geometry.iloc[site.segment]
            p = shapely.line_interpolate_point(
                geom, site.position_m / float(seg[m.LENGTH].iloc[site.segment]), normalized=True
            )
            det_rows.append(
                [
                    site.detector_id,
                    seg[m.SEGMENT_ID].iloc[site.segment],
                    f"{site.position_m:.1f}",
                    f"{p.x:.7f}",
                    f"{p.y:.7f}",
                    site.fault or "",
                    site.fault_from_s,
                ]
            )
        truth.write_table(
            "detectors.csv",
            ["detector_id", "segment_id", "position_m", "lon", "lat", "fault", "fault_from"],
            det_rows,
        )
        run = {
            "scenario": json.loads(self.scenario.model_dump_json()),
            "start": self.start.isoformat(),
            "end": (self.start + timedelta(seconds=self.scenario.duration_s)).isoformat(),
            "network": self.network.source,
            "stats": {**self.stats, **self.channel.stats},
        }
        (truth.directory / "run.json").write_text(
            json.dumps(run, indent=2, ensure_ascii=False), encoding="utf-8"
        )
