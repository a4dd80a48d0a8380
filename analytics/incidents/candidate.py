"""What a detection method reports: a candidate incident location at one decision minute."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Candidate:
    """A place where a method sees an incident now.

    ``segment`` is the network row index, ``offset_m`` the distance from the segment's start
    (metres), ``x``/``y`` the point in the network's metric CRS. ``score`` is the method's
    strength (0–1, higher = stronger), ``sources`` the independent data sources behind it
    (``detector``, ``probe``). ``queue_m`` is the queue seen upstream (metres), ``speed_ratio``
    the speed relative to the reference (profile or free flow) where known.
    ``kind`` is ``unexplained_queue`` or ``stopped_vehicles``.
    """

    method: str
    segment: int
    offset_m: float
    x: float
    y: float
    score: float
    sources: frozenset[str]
    queue_m: float = 0.0
    speed_ratio: float | None = None
    delay_s: float | None = None  # extra travel time per vehicle through the queue, seconds
    kind: str = "unexplained_queue"
    evidence: dict[str, Any] = field(default_factory=dict)
