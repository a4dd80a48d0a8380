"""Vehicles still on a segment and abnormally slow there ("overdue" / stuck probes).

Traversals exist only once a vehicle has *left* a segment, so a fresh queue shows in them
1–3 minutes late. The probe worker therefore also looks, at every minute boundary of a
partition's stream time, at where each tracked vehicle is *now* and keeps a presence record
for every vehicle that is abnormally slow on its current segment. "Now" is its newest fix, at
the online matcher's current best hypothesis: the fixes it has decided followed by the best
path of its pending trellis (:meth:`analytics.mapmatch.fleet.FleetMatcher.tentative`,
:meth:`analytics.traversals.TraversalTracker.ahead`), not its last decided fix, which lags
4 fixes behind (40 s at 10-s sampling; a standing vehicle's fixes are not decided at all until
it has moved on). The hypothesis may still change with later fixes, but it is a function of
the partition's state, so a replay gives the same records.

Per vehicle on a segment (times seconds, distances metres, speeds km/h):

* ``on_segment_s`` — from its entry (or its first fix on the segment when the entry was not
  seen) to its last fix;
* ``progress_m`` — distance covered on the segment in that time;
* ``still_s`` — how long it has not moved more than ``still_m`` (up to its last fix);
* ``dwell_s`` — its standing time on the segment: fix intervals slower than ``still_mps``
  (as a traversal's dwell, :class:`analytics.traversals.DwellRules`);
* ``crawl_s`` — its moving time (intervals at least ``still_mps``) within the longest
  stretch up to its last fix whose average pace is below ``crawl_kmh``, which holds at
  least ``crawl_intervals`` moving fix intervals and no standstill of ``still_min_s``:
  crawling in a queue.

The rule (:func:`abnormal`): a vehicle is abnormal when

    on_segment_s ≥ k · progress_m / free_flow + margin_s     (overdue)
    or still_s ≥ still_min_s                                  (standing)
    or crawl_s ≥ crawl_min_s                                  (crawling)

i.e. it has lost more than ``margin_s`` against ``k`` times the free-flow pace over the
distance it covered (a vehicle still on a segment after k × the free-flow travel time of the
whole segment plus the margin always is), or it has stood still for ``still_min_s``, or it
has crawled for ``crawl_min_s``.
Its last fix must be at most ``max_age_s`` older than the record time (a vehicle that went
silent is not evidence). This is a loose
pre-filter against free flow, cheap enough for the worker's hot path; the detection method
(:mod:`analytics.incidents.probe_overdue`) judges the records against the time-of-day
profile.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from store.traversal_writer import PRESENCE_COLUMNS, PresenceRow

__all__ = ["PRESENCE_COLUMNS", "PresenceRow", "PresenceRules", "abnormal"]


@dataclass(frozen=True)
class PresenceRules:
    """Defaults (seconds, metres):

    * ``still_m`` 15 m: matched positions of a standing vehicle scatter by the GPS noise
      (σ 5–10 m) and the cursor only moves forward, so its running maximum creeps a few
      metres; 15 m is ~2σ and still far below what a moving vehicle covers in one 10-s fix;
    * ``k`` 1.5 and ``margin_s`` 30 s: individual vehicles drive up to ~20 % slower than the
      segment's free flow (trucks, buses, cautious drivers), and free-flow speeds are
      learned with some error; half again the free-flow time plus half a minute keeps
      ordinary vehicles out while a vehicle in a crawling queue qualifies within a minute;
    * ``still_min_s`` 60 s: longer than a bus stop (15–40 s) and most signal reds; a
      standstill that long is a stop of the vehicle's own (a pick-up, a delivery) or a
      blockage, and it also ends the crawl stretch: counted in, its standing time would
      make the average pace of a vehicle moving off afterwards look like a crawl;
    * ``still_mps`` 0.7 m/s: the traversals' standing threshold (:class:`DwellRules`);
    * ``crawl_kmh`` 10 km/h and ``crawl_min_s`` 30 s: moving, but below cycling pace, for
      three fixes at 10-s sampling; urban traffic moving normally averages 20–50 km/h, a
      queue behind a blockage creeps at 2–10 km/h (its discharge flow over its jam density);
    * ``crawl_intervals`` 2: a crawl is measured over at least two moving fix intervals,
      whatever the sampling rate. One interval's pace is the difference of two noisy
      matched positions and any vehicle braking for a turn, a signal or a pedestrian has
      one slow interval; at 30-s sampling (trucks) that single interval alone would reach
      ``crawl_min_s``. Two moving intervals in the slow stretch are a sustained pace (at
      10-s sampling ``crawl_min_s`` needs three anyway, so decisions change only for
      slower sampling);
    * ``max_age_s`` 180 s: a few missed fixes at the slowest sampling (30 s, trucks) — GPS
      outages between buildings, a late batch; a vehicle silent for longer may have parked.
    """

    still_m: float = 15.0
    k: float = 1.5
    margin_s: float = 30.0
    still_min_s: float = 60.0
    still_mps: float = 0.7
    crawl_kmh: float = 10.0
    crawl_min_s: float = 30.0
    crawl_intervals: int = 2
    max_age_s: float = 180.0


def abnormal(
    on_segment_s: np.ndarray, progress_m: np.ndarray, still_s: np.ndarray,
    free_flow_kmh: np.ndarray, age_s: np.ndarray, rules: PresenceRules = PresenceRules(),
    crawl_s: np.ndarray | None = None,
) -> np.ndarray:  # fmt: skip
    """Which vehicles are abnormally slow on their segment (see the module docstring);
    aligned arrays, ``age_s`` = record time minus the last fix."""
    ff_mps = np.maximum(np.asarray(free_flow_kmh, float), 1.0) / 3.6
    on = np.asarray(on_segment_s, float)
    overdue = on >= rules.k * np.asarray(progress_m, float) / ff_mps + rules.margin_s
    standing = np.asarray(still_s, float) >= rules.still_min_s
    if crawl_s is not None:
        standing |= np.asarray(crawl_s, float) >= rules.crawl_min_s
    return (overdue | standing) & (np.asarray(age_s, float) <= rules.max_age_s)
