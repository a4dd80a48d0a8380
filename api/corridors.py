"""Corridors: named origin → destination routes whose current travel time the API reports.

The corridor file (YAML, ``ITMS_CORRIDORS``; default the bundled Hai Phong one) lists ends in
WGS 84 lon/lat. Each route is the free-flow fastest path on ``road_segment`` between the
nodes nearest to the ends (scipy Dijkstra), computed once per process. Travel time = the sum
of the segments' current travel times; a segment without published data counts at free flow
(``coverage`` says which share of the length had data).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import yaml
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import dijkstra

from api.network_view import NetworkView
from roadnet.cities import demo_corridors_path
from store.network_queries import segment_graph

DEFAULT_FILE = demo_corridors_path()


@dataclass(frozen=True, slots=True)
class Corridor:
    """A configured corridor and its route (segment ids in driving order)."""

    corridor_id: str
    name: str
    name_en: str
    origin: tuple[float, float]
    destination: tuple[float, float]
    segment_ids: tuple[str, ...]


def read_corridors(path: Path | None) -> list[dict[str, Any]]:
    """Corridor definitions of a YAML file."""
    data = yaml.safe_load((path or DEFAULT_FILE).read_text(encoding="utf-8")) or {}
    return list(data.get("corridors", []))


def route(conn: psycopg.Connection, origin: tuple[float, float],
          destination: tuple[float, float]) -> list[str]:  # fmt: skip
    """Segment ids of the fastest free-flow path between the nodes nearest to two points."""
    rows = segment_graph(conn)
    if not rows:
        return []
    nodes = {n: i for i, n in enumerate(sorted({r[1] for r in rows} | {r[2] for r in rows}))}
    xy = np.zeros((len(nodes), 2))
    for r in rows:
        xy[nodes[r[1]]] = r[4:6]
        xy[nodes[r[2]]] = r[6:8]
    best: dict[tuple[int, int], tuple[float, str]] = {}
    for sid, a, b, cost, *_ in rows:
        key = (nodes[a], nodes[b])
        if key not in best or cost < best[key][0]:
            best[key] = (float(cost), sid)
    ij = np.array(list(best), dtype=int).reshape(-1, 2)
    w = np.array([v[0] for v in best.values()])
    graph = coo_matrix((w, (ij[:, 0], ij[:, 1])), shape=(len(nodes), len(nodes))).tocsr()

    def nearest(p: tuple[float, float]) -> int:
        scale = np.cos(np.radians(p[1]))
        return int(np.argmin(((xy[:, 0] - p[0]) * scale) ** 2 + (xy[:, 1] - p[1]) ** 2))

    src, dst = nearest(origin), nearest(destination)
    _, pred = dijkstra(graph, indices=src, return_predecessors=True)
    if src != dst and pred[dst] < 0:
        return []
    path, node = [], dst
    while node != src:
        prev = int(pred[node])
        path.append(best[(prev, node)][1])
        node = prev
    return path[::-1]


class Corridors:
    """The configured corridors of one process (routes computed on first use)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._items: dict[str, Corridor] | None = None

    def all(self, conn: psycopg.Connection) -> dict[str, Corridor]:
        """Corridors by id, in file order."""
        with self._lock:
            if self._items is None:
                items = {}
                for c in read_corridors(self.path):
                    o, d = tuple(c["origin"]), tuple(c["destination"])
                    items[c["id"]] = Corridor(
                        c["id"], c.get("name", c["id"]), c.get("name_en", c.get("name", c["id"])),
                        o, d, tuple(route(conn, o, d)),
                    )  # fmt: skip
                self._items = items
            return self._items

    @staticmethod
    def travel(corridor: Corridor, network: NetworkView, *, detail: bool) -> dict[str, Any]:
        """Current travel time of a corridor from the network's current (published) state."""
        statuses = [s for s in network.statuses(list(corridor.segment_ids)) if s is not None]
        length = sum(s["length_m"] for s in statuses)
        tt = ff = covered = 0.0
        updated = None
        for s in statuses:
            ff += s["free_flow_travel_time_s"]
            if s["travel_time_s"] is not None and s["source"] != "profile":
                tt += s["travel_time_s"]
                covered += s["length_m"]
                if s["updated_at"] is not None and (updated is None or s["updated_at"] > updated):
                    updated = s["updated_at"]
            elif s["travel_time_s"] is not None:
                tt += s["travel_time_s"]
            else:
                tt += s["free_flow_travel_time_s"]
        out: dict[str, Any] = {
            "corridor_id": corridor.corridor_id, "name": corridor.name, "name_en": corridor.name_en,
            "origin": list(corridor.origin), "destination": list(corridor.destination),
            "length_m": round(length, 1), "travel_time_s": round(tt, 1),
            "free_flow_travel_time_s": round(ff, 1), "delay_s": round(max(0.0, tt - ff), 1),
            "speed_kmh": round(length / tt * 3.6, 2) if tt > 0 else None,
            "coverage": round(covered / length, 3) if length > 0 else 0.0,
            "updated_at": updated,
        }  # fmt: skip
        if detail:
            out["segments"] = statuses
        return out
