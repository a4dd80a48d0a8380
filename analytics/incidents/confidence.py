"""How sure the system is of a raised incident: a 0–1 confidence from its evidence.

Three independent kinds of evidence, each turned into a probability-like share and combined
as independent witnesses (``1 − Π(1 − c)``):

- **probe vehicles** that show the queue (the most of: slow vehicles behind a queue head,
  overdue vehicles still queued, stopped vehicles), weighed by **how unusual** their speed
  is against the reference: ``(1 − ½^(n/2)) · u`` with ``u`` rising from 0.5 at the
  method's bar (70 % of the reference) to 1 at a standstill;
- **detectors**: a station-pair or occupancy alarm joined to it (another source);
- **persistence**: every further alarm minute of the same incident takes away
  ``1 − persist`` of the remaining doubt — only when judged against a time-of-day profile:
  against a recent baseline a queue building up with the morning peak persists as well as
  an incident's does.

An incident whose probes were judged against something less sure than a time-of-day
profile — the recent baseline of a system without history, or the free-flow speed — gets
``unsure_share`` (0.45) of that confidence: below the default bar of 0.5 whatever the
evidence, so a system without history keeps its suspected incidents for review rather than
announce them (on SUMO and the own simulator its recent baseline could not tell a queue
building up with the peak from an incident's; every setting that announced some raised more
false alarms than the warm system). A profile of few days is less sure too: of one day it
gets ``young_share`` (0.6), rising evenly to all of it at ``full_days`` (4) days of history
at that place and time.

A lone queue head of two slow probes at 60 % of its reference in its first minute is about
0.3; four probes at a standstill, 0.75; the same with a detector alarm or three alarm
minutes, about 0.9. The setting that says how sure an alarm must be before operators see
it (:attr:`analytics.incidents.lifecycle.TrackerParams.announce_confidence`) compares with
this number.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

#: Evidence keys holding how many probe vehicles show an incident, per method.
VEHICLE_KEYS = ("vehicles", "overdue_vehicles", "stopped")


def probe_vehicles(evidence: Mapping[str, Any]) -> int:
    """The most probe vehicles any of the evidence's methods counted."""
    return max((int(evidence.get(k) or 0) for k in VEHICLE_KEYS), default=0)


def incident_confidence(
    *, vehicles: int, speed_ratio: float | None, sources: Iterable[str], alarm_minutes: int,
    reference: str = "profile", detector_share: float = 0.6, persist: float = 0.3,
    bar_ratio: float = 0.7, unsure_share: float = 0.45, young_share: float = 0.6,
    reference_days: int | None = None, full_days: int = 4,
) -> float:  # fmt: skip
    """Confidence (0–1) of an incident shown by ``vehicles`` probe vehicles at
    ``speed_ratio`` of the ``reference`` speed (``profile``, ``recent_baseline`` or
    ``free_flow``; ratio ``None``: not known, taken at the bar), by the data ``sources``
    (``probe``, ``detector``), alarmed in ``alarm_minutes`` minutes; ``reference_days``: the
    days of history behind a profile (``None``: not known, taken as enough)."""
    r = bar_ratio if speed_ratio is None or speed_ratio != speed_ratio else speed_ratio
    unusual = 0.5 + 0.5 * min(max((bar_ratio - r) / bar_ratio, 0.0), 1.0)
    doubt = 1.0 - (1.0 - 0.5 ** (max(vehicles, 0) / 2.0)) * unusual
    if "detector" in set(sources):
        doubt *= 1.0 - detector_share
    if reference == "profile":
        doubt *= (1.0 - persist) ** max(alarm_minutes - 1, 0)
    share = 1.0 if reference == "profile" else unsure_share
    if reference == "profile" and reference_days is not None and full_days > 1:
        young = min(max(reference_days - 1, 0) / (full_days - 1), 1.0)
        share = young_share + (1.0 - young_share) * young
    return round(float((1.0 - doubt) * share), 3)
