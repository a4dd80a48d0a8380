"""Road continuity for incident work: the segment a road continues into, both ways.

A queue grows upstream along the road the incident is on, and detector stations
are paired with the next station downstream on the same road. For every directed
segment :class:`Corridor` keeps its downstream continuation (``down``) and its
upstream one (``up``): the successor (predecessor) that keeps the road's name,
else the one that turns least, never a U-turn and never a turn sharper than
``max_turn_deg``; −1 where the road ends. Lengths and offsets are metres,
bearings degrees clockwise from north in the network's metric CRS.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from roadnet import model as m
from roadnet.model import RoadNetwork


def _turn(a: float, b: float) -> float:
    """Absolute change of heading from ``a`` to ``b`` (degrees, 0–180)."""
    return abs((b - a + 180.0) % 360.0 - 180.0)


def _bearings(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bearing of each line's first and last 20 m (degrees)."""
    n = len(geoms)
    start, end = np.zeros(n), np.zeros(n)
    for i, g in enumerate(geoms):
        length = g.length
        d = min(20.0, length / 2.0)
        p0, p1 = g.interpolate(0.0), g.interpolate(d)
        q0, q1 = g.interpolate(length - d), g.interpolate(length)
        start[i] = np.degrees(np.arctan2(p1.x - p0.x, p1.y - p0.y)) % 360.0
        end[i] = np.degrees(np.arctan2(q1.x - q0.x, q1.y - q0.y)) % 360.0
    return start, end


@dataclass
class Corridor:
    """Downstream/upstream continuation of every segment (indices, −1 = none)."""

    down: np.ndarray
    up: np.ndarray
    length_m: np.ndarray
    bearing: np.ndarray  # overall bearing of each segment, degrees

    @classmethod
    def build(
        cls, from_node: np.ndarray, to_node: np.ndarray, names: np.ndarray, length_m: np.ndarray,
        start_bearing: np.ndarray, end_bearing: np.ndarray, *, max_turn_deg: float = 60.0,
    ) -> Corridor:  # fmt: skip
        """Continuations from the topology, names and bearings (aligned arrays)."""
        fr = np.asarray(from_node, np.int64)
        to = np.asarray(to_node, np.int64)
        n = len(fr)
        by_from: dict[int, list[int]] = {}
        for i, f in enumerate(fr.tolist()):
            by_from.setdefault(f, []).append(i)
        down = np.full(n, -1, np.int64)
        up = np.full(n, -1, np.int64)
        best_up: dict[int, tuple[tuple, int]] = {}
        for i in range(n):
            choices = []
            for j in by_from.get(int(to[i]), []):
                if to[j] == fr[i] or j == i:  # U-turn / loop
                    continue
                turn = _turn(end_bearing[i], start_bearing[j])
                if turn > max_turn_deg:
                    continue
                same = bool(names[i]) and names[i] == names[j]
                choices.append(((not same, turn), j))
            if choices:
                key, j = min(choices)
                down[i] = j
                # the predecessor of j that continues best into it becomes j's upstream
                if j not in best_up or key < best_up[j][0]:
                    best_up[j] = (key, i)
        for j, (_, i) in best_up.items():
            up[j] = i
        return cls(down, up, np.asarray(length_m, float), np.asarray(start_bearing, float))

    @classmethod
    def for_network(cls, network: RoadNetwork, *, max_turn_deg: float = 60.0) -> Corridor:
        """The corridor of a network (bearings from its metric geometry)."""
        seg = network.segments
        geoms = network.geom_m
        start, end = _bearings(geoms)
        first = shapely.get_coordinates(shapely.get_point(geoms, 0))
        last = shapely.get_coordinates(shapely.get_point(geoms, -1))
        d = last - first
        overall = np.degrees(np.arctan2(d[:, 0], d[:, 1])) % 360.0
        out = cls.build(seg[m.FROM_NODE].to_numpy(), seg[m.TO_NODE].to_numpy(),
                        seg[m.NAME].fillna("").astype(str).to_numpy(),
                        seg[m.LENGTH].to_numpy(float), start, end,
                        max_turn_deg=max_turn_deg)  # fmt: skip
        out.bearing = overall
        return out

    def walk_down(self, segment: int, max_m: float) -> list[int]:
        """Segments downstream of ``segment`` (excluded) along the road, up to ``max_m``."""
        out, total, cur, seen = [], 0.0, segment, {segment}
        while total < max_m:
            nxt = int(self.down[cur])
            if nxt < 0 or nxt in seen:
                break
            out.append(nxt)
            seen.add(nxt)
            total += self.length_m[nxt]
            cur = nxt
        return out

    def walk_up(self, segment: int, max_m: float) -> list[int]:
        """Segments upstream of ``segment`` (excluded) along the road, up to ``max_m``."""
        out, total, cur, seen = [], 0.0, segment, {segment}
        while total < max_m:
            nxt = int(self.up[cur])
            if nxt < 0 or nxt in seen:
                break
            out.append(nxt)
            seen.add(nxt)
            total += self.length_m[nxt]
            cur = nxt
        return out

    def along(
        self, from_segment: int, from_offset_m: float, to_segment: int, to_offset_m: float,
        max_m: float,
    ) -> float:  # fmt: skip
        """Signed distance (m) along the road from one position to another: positive when
        the second lies downstream, negative upstream; NaN when it is not on the same road
        and direction within ``max_m``."""
        if to_segment == from_segment:
            return float(to_offset_m - from_offset_m)
        ahead = float(self.length_m[from_segment] - from_offset_m)
        for s in self.walk_down(from_segment, max_m):
            if s == to_segment:
                d = ahead + float(to_offset_m)
                return d if d <= max_m else float("nan")
            ahead += float(self.length_m[s])
        behind = float(from_offset_m)
        for s in self.walk_up(from_segment, max_m):
            if s == to_segment:
                d = behind + float(self.length_m[s] - to_offset_m)
                return -d if d <= max_m else float("nan")
            behind += float(self.length_m[s])
        return float("nan")


@dataclass
class StationPairs:
    """Each detector station paired with the next station downstream on its road.

    ``up``/``down`` index the stations; ``gap_m`` is the distance along the road between
    them; ``mid_segment``/``mid_offset_m`` locate the point halfway between (where an
    incident detected by the pair is reported). Stations without a downstream station
    within the search distance have no pair.
    """

    up: np.ndarray
    down: np.ndarray
    gap_m: np.ndarray
    mid_segment: np.ndarray
    mid_offset_m: np.ndarray
    next_of: np.ndarray  # per station: index of its pair, −1 = none
    path_segments: list[list[int]]  # per pair: the segments from up to down station

    def __len__(self) -> int:
        return len(self.up)

    def between(self) -> set[int]:
        """Segments wholly between the stations of a pair (the stations' own excluded)."""
        return {s for path in self.path_segments for s in path[1:-1]}


def pair_stations(
    corridor: Corridor, segment: np.ndarray, position_m: np.ndarray, *, max_gap_m: float = 3000.0
) -> StationPairs:
    """Pair every station with the nearest station downstream along the road.

    ``segment``/``position_m`` are each station's segment index and distance from the
    segment's start (metres).
    """
    seg = np.asarray(segment, np.int64)
    pos = np.asarray(position_m, float)
    on_seg: dict[int, list[int]] = {}
    for k, s in enumerate(seg.tolist()):
        on_seg.setdefault(s, []).append(k)
    ups, downs, gaps, path_of = [], [], [], []
    for k in range(len(seg)):
        s0, p0 = int(seg[k]), float(pos[k])
        path = [(s0, p0, float(corridor.length_m[s0]))]
        ahead = [j for j in on_seg.get(s0, []) if pos[j] > p0]
        found = min(ahead, key=lambda j: pos[j]) if ahead else None
        dist = float(pos[found] - p0) if found is not None else corridor.length_m[s0] - p0
        if found is not None:
            path = [(s0, p0, float(pos[found]))]
        else:
            for s in corridor.walk_down(s0, max_gap_m):
                here = on_seg.get(s, [])
                if here:
                    found = min(here, key=lambda j: pos[j])
                    path.append((s, 0.0, float(pos[found])))
                    dist += float(pos[found])
                    break
                path.append((s, 0.0, float(corridor.length_m[s])))
                dist += float(corridor.length_m[s])
        if found is None or dist > max_gap_m:
            continue
        ups.append(k)
        downs.append(found)
        gaps.append(dist)
        path_of.append(path)
    mid_seg, mid_off = [], []
    for gap, path in zip(gaps, path_of, strict=True):
        left = gap / 2.0
        for s, a, b in path:
            if left <= b - a or (s, a, b) == path[-1]:
                mid_seg.append(s)
                mid_off.append(min(a + left, b))
                break
            left -= b - a
    next_of = np.full(len(seg), -1, np.int64)
    next_of[np.asarray(ups, np.int64)] = np.arange(len(ups))
    return StationPairs(np.asarray(ups, np.int64), np.asarray(downs, np.int64),
                        np.asarray(gaps, float), np.asarray(mid_seg, np.int64),
                        np.asarray(mid_off, float), next_of,
                        [[s for s, _, _ in path] for path in path_of])  # fmt: skip
