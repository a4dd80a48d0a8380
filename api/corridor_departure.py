"""A corridor's travel time for a departure in the next hour, from the segment forecasts.

The trip is walked segment by segment in driving order: each segment is entered at the
departure time plus the forecast time of the segments before it, and its travel time is
read at that moment, interpolated linearly between the knots now (the current published
state, as :meth:`api.corridors.Corridors.travel` counts it) and +15, +30 and +60 minutes
after the forecasts were issued (held beyond +60). The band adds up the segments' 10th and
90th percentile travel times (from their 90th and 10th percentile speeds): a wide band, as
if every segment erred the same way. Times UTC, durations s.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np

KNOTS_MIN = (0, 15, 30, 60)


def _knots(now_tt: float, rows: dict[int, dict[str, Any]], key: str, length_m: float
           ) -> np.ndarray:  # fmt: skip
    """Travel times (s) at the knots of one segment; ``key`` picks the forecast column
    (``travel_time_s``, or the band's speed ``p10_kmh``/``p90_kmh``, missing: the median)."""
    out = [now_tt]
    for h in KNOTS_MIN[1:]:
        r = rows.get(h)
        if r is None:
            out.append(out[-1])
        elif key == "travel_time_s":
            out.append(float(r["travel_time_s"]))
        else:
            v = r.get(key)
            out.append(length_m / max(float(v), 0.1) * 3.6 if v else float(r["travel_time_s"]))
    return np.array(out, float)


def departure_travel(
    statuses: list[dict[str, Any]], forecasts: dict[int, dict[str, dict[str, Any]]],
    depart: datetime, issued_at: datetime | None,
) -> dict[str, Any]:  # fmt: skip
    """Travel time (s, with a p10–p90 band) of a trip over ``statuses`` (segments in driving
    order) leaving at ``depart``; ``forecasts``: stored rows by horizon and segment id."""
    origin = issued_at or depart
    t = {"travel_time_s": 0.0, "p90_kmh": 0.0, "p10_kmh": 0.0}  # s since departure
    model_m = forecast_m = length = 0.0
    for s in statuses:
        sid, ln = s["segment_id"], float(s["length_m"])
        now_tt = (s["travel_time_s"] if s["travel_time_s"] is not None
                  else s["free_flow_travel_time_s"])  # fmt: skip
        rows = {h: forecasts[h][sid] for h in KNOTS_MIN[1:] if sid in forecasts.get(h, {})}
        length += ln
        if rows:
            forecast_m += ln
            if all(r["basis"] == "model" for r in rows.values()):
                model_m += ln
        for key in t:
            at_min = ((depart - origin).total_seconds() + t[key]) / 60.0
            tt = float(np.interp(at_min, KNOTS_MIN, _knots(now_tt, rows, key, ln)))
            t[key] += tt
    return {
        "depart": depart, "arrive": depart + timedelta(seconds=t["travel_time_s"]),
        "forecast_issued_at": issued_at, "travel_time_s": round(t["travel_time_s"], 1),
        "travel_time_p10_s": round(min(t["p90_kmh"], t["travel_time_s"]), 1),
        "travel_time_p90_s": round(max(t["p10_kmh"], t["travel_time_s"]), 1),
        "forecast_coverage": round(forecast_m / length, 3) if length else 0.0,
        "model_coverage": round(model_m / length, 3) if length else 0.0,
    }  # fmt: skip
