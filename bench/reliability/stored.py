"""Snapshots of a run's stored results as multisets, and their differences."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg

from store.result_snapshots import read_result_rows

MEASURED = ("probe", "detector", "fused")


@dataclass
class Stored:
    """Stored results as multisets of rows (floats rounded where sums may change order)."""

    traversals: Counter
    presence: Counter  # vehicles recorded still on a segment and abnormally slow there
    cells: Counter  # probes' space-time cell sums per segment-minute
    readings: Counter
    states: Counter  # measured segment states
    kpis: Counter
    incidents: Counter  # what does not change after creation
    incident_updates: Counter  # the whole history, up to the compared minute

    NAMES = ("traversals", "presence", "cells", "readings", "states", "kpis", "incidents",
             "incident_updates")  # fmt: skip

    def differences(self, other: Stored) -> list[str]:
        """Readable differences against ``other`` (the reference); empty when equal."""
        out = []
        for name in self.NAMES:
            mine, ref = getattr(self, name), getattr(other, name)
            extra, missing = mine - ref, ref - mine
            if extra or missing:
                out.append(
                    f"{name}: {sum(missing.values())} missing of {sum(ref.values())},"
                    f" {sum(extra.values())} extra; e.g. missing {list(missing)[:2]},"
                    f" extra {list(extra)[:2]}"
                )
        return out


def stored_results(dsn: str, *, incidents_until: datetime | None = None) -> Stored:
    """Read the results compared between runs from ``dsn``; incidents as decided up to the
    minute ``incidents_until`` (none when ``None``)."""
    # minute m's actions are stored at m + 1 min (its decision time)
    at = None if incidents_until is None else incidents_until + timedelta(minutes=1)
    with psycopg.connect(dsn) as conn:
        rows = read_result_rows(conn, sources=MEASURED, incidents_at=at)
    return Stored(Counter(rows.traversals), Counter(rows.presence), Counter(rows.cells),
                  Counter(rows.readings),
                  Counter(rows.states), Counter(rows.kpis), Counter(rows.incidents),
                  Counter(rows.incident_updates))  # fmt: skip
