"""Fusion of detector and probe alarms into one list of candidate incidents per minute.

Rules (distances metres in the metric CRS, speed ratios against the reference speed):

1. A probe queue-head alarm stands on its own (it already persisted), and so does a queue of
   overdue probes (vehicles still on the segment, delayed while moving, behind each other);
   a detector alarm (California #8, McMaster, SND) within ``radius_m`` adds the detector
   source to it.
2. A California #8 or McMaster alarm stands when probes corroborate it where its queue must
   be, or when probes are blind there and the upstream station's occupancy is unusual for
   the time of day (z-score against its profile ≥ ``unusual_z``, or no profile yet, unless
   the system has no reference there at all: ``unjudged``); when
   probes saw that place and it was not slow, or the pattern is the usual one at this hour
   (a recurrent bottleneck), the alarm is dropped. A pair's alarm is reported halfway
   between its stations and its queue lies upstream of that point, back over the upstream
   station (congested, or the pair would not alarm): the place is the alarm's segment,
   the segments back to the upstream station's and ``neighbours`` beyond it (given
   ``station_segment``; else the alarm's segment and ``neighbours`` upstream). Slow there
   means typical speed below ``corroborate_ratio`` of the reference from at least
   ``corroborate_vehicles`` vehicles. Slow probes downstream of the reported point do not
   corroborate it: they would place the incident elsewhere, where the probe methods raise
   it on their own.
3. An SND alarm (a station unusually occupied, no spatial test) needs slow probes nearby,
   or — where probes are blind — a station-pair alarm with the same upstream station.
4. A stopped-probe cluster needs a probe queue-head or SND alarm nearby: it then adds its
   place and kind (``stopped_vehicles``) to the incident; alone, stops are too common
   (pick-ups, deliveries) to raise one.

Candidates closer than ``radius_m`` to a stronger one (same direction) are merged into it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from analytics.incidents.candidate import Candidate
from analytics.incidents.corridor import Corridor

DETECTOR_METHODS = ("california8", "mcmaster")


@dataclass(frozen=True)
class FusionParams:
    """Defaults: 1 km association radius (about two detector spacings on urban arterials),
    one segment of context each way (for station-pair alarms: one beyond the upstream
    station, where a queue reaching past it shows), corroboration below 70 % of the
    reference speed from two vehicles (one may have stopped for its own reasons) whose
    moving speed is below 70 % of it too (see :mod:`.probe_speed_drop`); a blind detector
    alarm needs its upstream occupancy 3 standard deviations above the profile (the SND
    test's bar)."""

    radius_m: float = 1000.0
    neighbours: int = 1
    corroborate_ratio: float = 0.7
    corroborate_vehicles: int = 2
    moving_ratio: float = 0.7
    unusual_z: float = 3.0
    max_bearing_diff_deg: float = 60.0
    overdue: bool = True  # overdue-probe queues take part (False: as before they existed)


def _fused(c: Candidate, sources: frozenset[str] | set[str]) -> Candidate:
    methods = sorted(set(c.evidence.get("methods", ())) | {c.method})
    return replace(c, method="fused", sources=frozenset(sources),
                   evidence={**c.evidence, "methods": methods})  # fmt: skip


def same_direction(b1: float, b2: float, max_diff: float) -> bool:
    """Bearings (degrees) within ``max_diff`` of each other."""
    return abs((b2 - b1 + 180.0) % 360.0 - 180.0) <= max_diff


class Fusion:
    """Combines the methods' candidates (see the module docstring)."""

    name = "fused"

    def __init__(
        self, corridor: Corridor, params: FusionParams | None = None,
        station_segment: dict[str, int] | None = None,
    ) -> None:  # fmt: skip
        """``station_segment``: detector station id → index of the segment it is on."""
        self.p = params or FusionParams()
        self.corridor = corridor
        self.station_segment = station_segment or {}

    def _near(self, a: Candidate, b: Candidate) -> bool:
        b1, b2 = self.corridor.bearing[a.segment], self.corridor.bearing[b.segment]
        close = np.hypot(a.x - b.x, a.y - b.y) <= self.p.radius_m
        return bool(close and same_direction(b1, b2, self.p.max_bearing_diff_deg))

    def _context(self, segment: int) -> list[int]:
        c, k = self.corridor, self.p.neighbours
        up = c.walk_up(segment, np.inf)[:k]
        down = c.walk_down(segment, np.inf)[:k]
        return [segment, *up, *down]

    def _queue_place(self, c: Candidate) -> list[int]:
        """Segments where a station-pair alarm's queue is: from the alarm's segment back to
        the upstream station's and ``neighbours`` beyond (unknown station: the alarm's own
        segment and ``neighbours`` upstream)."""
        stations = c.evidence.get("stations") or [None]
        s0 = self.station_segment.get(stations[0], -1)
        back = [c.segment, *self.corridor.walk_up(c.segment, np.inf)]
        k = back.index(s0) if s0 in back else 0
        return back[: k + 1 + self.p.neighbours]

    def combine(
        self, by_method: dict[str, list[Candidate]], probe_ratio: np.ndarray,
        probe_vehicles: np.ndarray, moving_ratio: np.ndarray | None = None,
        unjudged: np.ndarray | None = None,
    ) -> list[Candidate]:  # fmt: skip
        """Fused candidates of one minute; ``probe_ratio``/``probe_vehicles`` per segment
        describe this minute's probe speeds (NaN ratio / 0 vehicles = no probe data),
        ``moving_ratio`` the moving speeds relative to the reference (optional).
        ``unjudged`` segments have no reference at all (a system without history): there a
        station alarm cannot be shown unusual, so it stands only when corroborated, as if
        probes had seen the place."""
        p = self.p
        ratio = np.asarray(probe_ratio, float)
        nveh = np.asarray(probe_vehicles)
        seen = np.isfinite(ratio) & (nveh > 0)
        slow = seen & (nveh >= p.corroborate_vehicles) & (ratio < p.corroborate_ratio)
        if moving_ratio is not None:
            mv = np.asarray(moving_ratio, float)
            slow &= ~(np.isfinite(mv) & (mv >= p.moving_ratio))
        if unjudged is not None:
            seen = seen | np.asarray(unjudged, bool)
        det = [c for m in DETECTOR_METHODS for c in by_method.get(m, [])]
        snd = by_method.get("snd", [])
        out: list[Candidate] = []
        overdue = by_method.get("probe_overdue", []) if p.overdue else []
        for c in by_method.get("probe_drop", []) + overdue:
            support = [d for d in det + snd if self._near(c, d)]
            sources = c.sources | {"detector"} if support else c.sources
            ev = {**c.evidence, "methods": sorted({c.method} | {d.method for d in support})}
            out.append(replace(c, method="fused", sources=frozenset(sources), evidence=ev))
        for c in det:
            queue = self._queue_place(c)
            corroborated = bool(slow[queue].any())
            z_up = c.evidence.get("z_up")
            usual = z_up is not None and z_up < p.unusual_z
            if not corroborated and (bool(seen[queue].any()) or usual):
                continue
            sources = c.sources | {"probe"} if corroborated else c.sources
            out.append(_fused(c, sources))
        pair_stations = {st for d in det for st in d.evidence.get("stations", [])[:1]}
        for c in snd:
            ctx = self._context(c.segment)
            corroborated = bool(slow[ctx].any())
            blind_pair = not bool(seen[ctx].any()) and c.evidence.get("station") in pair_stations
            if corroborated or blind_pair:
                srcs = c.sources | {"probe"} if corroborated else c.sources
                out.append(_fused(c, srcs))
        for c in by_method.get("probe_stopped", []):
            near = by_method.get("probe_drop", []) + overdue + snd
            if any(self._near(c, d) for d in near):
                out.append(_fused(c, c.sources))
        return self._merge(out)

    def _merge(self, cands: list[Candidate]) -> list[Candidate]:
        """Keep the strongest of candidates near each other (more sources first)."""
        order = sorted(
            cands,
            key=lambda c: (
                -len(c.sources),
                "probe_drop" not in c.evidence.get("methods", ()),
                -c.score,
            ),
        )
        kept: list[Candidate] = []
        for c in order:
            hit = next((k for k in kept if self._near(k, c)), None)
            if hit is None:
                kept.append(c)
            else:
                i = kept.index(hit)
                merged = hit.sources | c.sources
                kind = hit.kind if hit.kind != "unexplained_queue" else c.kind
                methods = sorted(
                    set(hit.evidence.get("methods", ())) | set(c.evidence.get("methods", ()))
                )
                kept[i] = replace(hit, sources=frozenset(merged), kind=kind,
                                  queue_m=max(hit.queue_m, c.queue_m),
                                  evidence={**hit.evidence, "methods": methods})  # fmt: skip
        return kept
