"""The feeds of a SUMO run in delivery order: probe fixes through the project's delivery
channel (drops, outages, duplicates, out-of-order and late delivery) merged with the loop
readings, each message in its feed contract; the true position of every generated fix goes
to ``truth/fixes.csv.gz`` as it is generated.

Times: SUMO seconds from the run's start inside, UTC epoch milliseconds in the messages.
"""

from __future__ import annotations

import json
from itertools import pairwise

import numpy as np
import pandas as pd

from simulators.gps_channel import DeliveryQueue, GpsNoise
from simulators.sinks import FeedSink
from simulators.sumo.probes import DeviceReports, ProbeFixes, Probes
from simulators.truth import TruthWriter

#: Seconds after a loop interval ends until its reading is delivered.
LOOP_DELIVERY_S = 1.0

#: A message with its delivery time: (SUMO s, key, JSON value).
Timed = tuple[float, bytes, bytes]


def _json(msg: dict) -> bytes:
    return json.dumps(msg, separators=(",", ":")).encode()


def loop_readings(loops: pd.DataFrame, start_ms: int) -> list[Timed]:
    """Loop readings (``outputs.read_loops``) as detector-contract messages, in delivery
    order: volume (vehicles), occupancy (0–1), time-mean speed (km/h, when any vehicle)."""
    out = []
    for row in loops.sort_values(["end", "id"], kind="stable").itertuples(index=False):
        msg = {"detector_id": row.id, "ts": int(start_ms + row.end * 1000),
               "interval_s": round(row.end - row.begin), "volume": int(row.nVehContrib),
               "occupancy": round(min(float(row.occupancy) / 100.0, 1.0), 4)}  # fmt: skip
        if row.speed >= 0:
            msg["speed_kmh"] = round(float(row.speed) * 3.6, 1)
        out.append((float(row.end) + LOOP_DELIVERY_S, row.id.encode(), _json(msg)))
    return out


def write_feeds(
    fixes: ProbeFixes, reports: DeviceReports, probes: Probes, readings: list[Timed], *,
    segment_ids: list[str], start_ms: int, noise: GpsNoise, rng: np.random.Generator,
    feed: FeedSink, truth: TruthWriter,
) -> dict[str, int]:  # fmt: skip
    """Send the GPS and detector feeds to ``feed`` in delivery order and write the truth of
    every generated fix; returns the delivery statistics."""
    ts_ms = start_ms + (fixes.t_s * 1000).astype(np.int64)
    accuracy = round(noise.sigma_m * 1.5, 1)
    queue = DeliveryQueue(rng, noise, len(probes.vehicle_id))
    r_at = [at for at, _, _ in readings]
    r_next = 0
    stats = {"fixes_generated": 0, "fixes_delivered": 0, "detector_readings": len(readings)}
    vids, code, seg, t_s = fixes.vehicle_id, fixes.code, fixes.segment, fixes.t_s
    bounds = np.flatnonzero(np.r_[True, t_s[1:] != t_s[:-1], True])
    for a, b in pairwise(bounds):
        now = float(t_s[a])
        msgs = []
        for k in range(a, b):
            msg = {"vehicle_id": vids[k], "ts": int(ts_ms[k]),
                   "lat": round(float(reports.lat[k]), 7), "lon": round(float(reports.lon[k]), 7),
                   "heading_deg": round(float(reports.heading_deg[k]), 1),
                   "accuracy_m": accuracy, "vehicle_type": probes.vehicle_type[code[k]],
                   "source": "sumo"}  # fmt: skip
            if reports.reports_speed[code[k]]:
                msg["speed_kmh"] = round(float(reports.speed_kmh[k]), 1)
            msgs.append((vids[k].encode(), _json(msg)))
            truth.fixes.writerow((vids[k], int(ts_ms[k]), f"{reports.true_lon[k]:.7f}",
                                  f"{reports.true_lat[k]:.7f}",
                                  segment_ids[seg[k]] if seg[k] >= 0 else "",
                                  f"{fixes.offset_m[k]:.1f}",
                                  f"{reports.true_speed_kmh[k]:.1f}"))  # fmt: skip
        queue.offer(now, code[a:b], fixes.interval_s[a:b], msgs)
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
    stats.update({k: int(v) for k, v in queue.stats.items()})
    return stats
