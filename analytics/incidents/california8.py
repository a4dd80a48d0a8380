"""California algorithm #8 (Payne & Tignor, 1978): occupancy comparison of adjacent stations.

Per station pair (upstream station i, downstream station i+1) and interval t, with
occupancies in percent:

- ``OCCDF  = OCC(i,t) − OCC(i+1,t)`` (spatial difference),
- ``OCCRDF = OCCDF / OCC(i,t)`` (relative spatial difference),
- ``DOCC   = OCC(i+1,t)`` (downstream occupancy),
- ``DOCCTD = (OCC(i+1,t−2) − OCC(i+1,t)) / OCC(i+1,t−2)`` (downstream temporal change).

States: incident-free → *tentative* when OCCDF ≥ T1, OCCRDF ≥ T2 and DOCC < T3 (a
bottleneck: congested upstream, free downstream); → *incident* when the next interval
still has OCCRDF ≥ T2 and DOCC < T3 (persistence); the incident continues while OCCRDF ≥ T2.
A *compression wave* (downstream occupancy jumping up: DOCCTD ≤ −T5 with DOCC ≥ T6)
suppresses the pair for ``cw_intervals`` intervals: stop-and-go waves travel upstream and
would otherwise look like an incident. The incident state is held through at most
``hold_intervals`` intervals with a station's data missing, and reported only for intervals
with data: a silent station is no evidence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analytics.incidents.data_gaps import DataGaps

FREE, TENTATIVE, INCIDENT = 0, 1, 2


@dataclass(frozen=True)
class California8Params:
    """Thresholds (occupancy in percent). Defaults are the commonly published values of the
    California algorithms for 30–60 s loop data (T1 8 %, T2 0.5, T3 20 %); the compression-wave
    test (downstream occupancy up by half within two intervals, to at least 15 %) and its
    5-interval suppression follow algorithm #8. Calibrate per corridor where data allows.
    A held incident state expires after 2 missing intervals (a loop missing one report is
    common; a longer silence is a fault or the end of the data)."""

    t1_occdf: float = 8.0
    t2_occrdf: float = 0.5
    t3_docc: float = 20.0
    t5_docctd: float = 0.5
    t6_cw_docc: float = 15.0
    cw_intervals: int = 5
    hold_intervals: int = 2


class California8:
    """The algorithm's per-pair state machine, vectorised over ``n_pairs`` pairs."""

    name = "california8"

    def __init__(self, n_pairs: int, params: California8Params | None = None) -> None:
        self.p = params or California8Params()
        self.state = np.zeros(n_pairs, np.int8)
        self.cw_left = np.zeros(n_pairs, np.int64)
        self._docc_hist = np.full((2, n_pairs), np.nan)  # rows: t−2, t−1
        self.gaps = DataGaps(n_pairs, self.p.hold_intervals)

    def detect(self, occ_up: np.ndarray, occ_down: np.ndarray) -> np.ndarray:
        """Advance one interval with occupancies (0–1) of the pairs' upstream and downstream
        stations (NaN = missing); returns which pairs with data are in the incident state."""
        p = self.p
        up = np.asarray(occ_up, float) * 100.0
        dn = np.asarray(occ_down, float) * 100.0
        valid = np.isfinite(up) & np.isfinite(dn)
        expired = self.gaps.step(valid)
        with np.errstate(invalid="ignore", divide="ignore"):
            occdf = up - dn
            occrdf = np.where(up > 0, occdf / up, 0.0)
            prev2 = self._docc_hist[0]
            docctd = np.where(prev2 > 0, (prev2 - dn) / prev2, 0.0)
        docctd = np.nan_to_num(docctd)
        wave = valid & (docctd <= -p.t5_docctd) & (dn >= p.t6_cw_docc)
        self.cw_left = np.where(wave, p.cw_intervals, np.maximum(self.cw_left - 1, 0))
        quiet = self.cw_left == 0
        tentative = (
            valid & quiet & (occdf >= p.t1_occdf) & (occrdf >= p.t2_occrdf) & (dn < p.t3_docc)
        )
        persists = valid & quiet & (occrdf >= p.t2_occrdf) & (dn < p.t3_docc)
        continues = valid & (occrdf >= p.t2_occrdf)
        s = self.state
        new = np.where(tentative, TENTATIVE, FREE).astype(np.int8)
        new = np.where((s == TENTATIVE) & persists, INCIDENT, new)
        new = np.where((s == INCIDENT) & continues, INCIDENT, new)
        new = np.where((s == INCIDENT) & ~valid & ~expired, INCIDENT, new)  # a short gap holds
        self.state = new
        self._docc_hist = np.vstack([self._docc_hist[1], dn])
        return (self.state == INCIDENT) & valid

    def features(self, occ_up: np.ndarray, occ_down: np.ndarray) -> dict[str, np.ndarray]:
        """OCCDF and OCCRDF of the current interval (percent, ratio) for evidence."""
        up = np.asarray(occ_up, float) * 100.0
        dn = np.asarray(occ_down, float) * 100.0
        with np.errstate(invalid="ignore", divide="ignore"):
            return {"occdf": up - dn, "occrdf": np.where(up > 0, (up - dn) / up, np.nan)}
