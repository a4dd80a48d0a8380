"""The SUMO tuning/held-out split of incident scenarios, run as one evaluation.

Each network of the split (the synthetic grid and the bundled Hai Phong demo; see
docs/EVALUATION.md for the split) is simulated per seed of the split twice: an
**incident-free** hour and an hour with four **full closures** (blocked lanes on these
networks rarely queue 100 m), at 07:00, 20,000 trips an hour at the peak, 10 % of them probes,
after ``history_days`` incident-free history days shared by the network's scenarios. The
scores of all scenarios of a kind are added up per method (:func:`combined`): false alarms
per hour and per 1,000 segment-hours on incident-free days; detection, time to detect,
location error and false alarms on incident days.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from evaluation.incident_eval import MethodScore

SPLIT_SEEDS = {"tuning": (1, 2, 3), "held-out": (4, 5)}
SPLIT_NETWORKS = ("grid", "haiphong")
KINDS = ("incident-free", "closures")
TRIPS_PER_HOUR = 20_000
PENETRATION = 0.1
CLOSURES = 4


@dataclass(frozen=True)
class Scenario:
    """One run of the split: ``network`` (a key of :data:`SPLIT_NETWORKS`), seed, kind."""

    network: str
    seed: int
    kind: str

    @property
    def name(self) -> str:
        return f"{self.network}-s{self.seed}-{self.kind}"

    @property
    def incidents(self) -> int:
        return CLOSURES if self.kind == "closures" else 0


def scenarios(split: str, networks: Sequence[str] = SPLIT_NETWORKS) -> list[Scenario]:
    """The scenarios of ``split`` (``tuning`` or ``held-out``)."""
    if split not in SPLIT_SEEDS:
        raise ValueError(f"unknown split {split!r}: one of {', '.join(SPLIT_SEEDS)}")
    return [Scenario(n, s, k) for n in networks for s in SPLIT_SEEDS[split] for k in KINDS]


def combined(scores: Iterable[MethodScore]) -> MethodScore:
    """One method's scores over several scenarios added up: counts and hours summed, times
    and errors pooled; ``segments`` is the hour-weighted mean, so that false alarms per hour
    per 1,000 segments are per 1,000 segment-hours of all scenarios."""
    rows = list(scores)
    if not rows:
        raise ValueError("nothing to combine")
    hours = sum(r.hours for r in rows)
    seg_hours = sum(r.hours * r.segments for r in rows)
    return MethodScore(
        rows[0].method, sum(r.incidents for r in rows), sum(r.detected for r in rows),
        sum(r.false_alarms for r in rows), hours, sum(r.decisions for r in rows),
        round(seg_hours / hours) if hours else rows[0].segments,
        [t for r in rows for t in r.ttd_s], [e for r in rows for e in r.location_error_m],
        sum(r.covered for r in rows), sum(r.covered_detected for r in rows),
        sum(r.queued for r in rows), sum(r.queued_detected for r in rows),
        sum(r.false_alarms_at_gridlocks for r in rows),
    )  # fmt: skip
