"""One disturbed run: worker processes fed by a paced replay, checked against the
undisturbed reference."""

from __future__ import annotations

import math
import threading
from datetime import datetime, timedelta
from pathlib import Path

import psycopg

from bench.reliability.environment import prepare_db
from bench.reliability.feeds import Feed, feed_multiset, publish
from bench.reliability.kafka_inspection import GROUPS, group_members, topic_multiset
from bench.reliability.polling import poll_until
from bench.reliability.processes import WORKERS, Processes
from bench.reliability.progress import drained, incidents_until, stored_offsets
from bench.reliability.reference import build_reference
from bench.reliability.stored import stored_results
from itms.settings import Settings
from roadnet.model import RoadNetwork
from store.result_snapshots import incident_positions


class FaultRun:
    """A pipeline of worker processes fed by a paced replay, checked against the reference."""

    def __init__(
        self, settings: Settings, network: RoadNetwork, feed: Feed, log_dir: Path, *,
        speedup: float | None, env: dict[str, str] | None = None,
    ) -> None:  # fmt: skip
        self.settings = settings
        self.network = network
        self.feed = feed
        self.speedup = speedup
        self.procs = Processes(settings, log_dir, **(env or {}))
        self.sent: dict[str, int] = {}
        self._feeder: threading.Thread | None = None
        prepare_db(settings.dsn, network, feed)

    def start_workers(self, timeout_s: float = 120.0) -> float:
        """Start the probe, detector, state and incident workers; wait until the consumers
        joined."""
        for kind in WORKERS:
            self.procs.worker(kind)
        return poll_until(
            lambda: all(group_members(self.settings, g) == 1 for g in GROUPS.values()),
            timeout_s=timeout_s, what="workers in their consumer groups",
        )  # fmt: skip

    def start_feed(self) -> None:
        def run() -> None:
            self.sent.update(publish(self.settings, self.feed, speedup=self.speedup))

        self._feeder = threading.Thread(target=run, daemon=True, name="feed")
        self._feeder.start()

    def feeding(self) -> bool:
        return self._feeder is not None and self._feeder.is_alive()

    def wait_feed(self, timeout_s: float = 600.0) -> None:
        assert self._feeder is not None
        self._feeder.join(timeout_s)
        assert not self._feeder.is_alive(), "the feed was not published in time"
        assert self.sent == {"gps": self.feed.n_gps, "detectors": self.feed.n_detectors}

    def progress(self) -> int:
        """Probe messages covered by stored checkpoints."""
        return sum(stored_offsets(self.settings.dsn, self.settings, "gps").values())

    def wait_progress(self, beyond: int, timeout_s: float = 90.0) -> float:
        """Wait until the probe checkpoints cover more than ``beyond`` messages."""
        return poll_until(lambda: self.progress() > beyond, timeout_s=timeout_s,
                          interval_s=0.5, what=f"probe progress beyond {beyond}")  # fmt: skip

    def check(self, ref_dsn: str, *, timeout_s: float = 180.0) -> float:
        """Assert the broker holds exactly the feed, then wait until the stored results —
        incidents included — equal the reference built in ``ref_dsn``; returns the seconds
        the wait took."""
        self.wait_feed()
        for kind, path in (("gps", self.feed.gps), ("detectors", self.feed.detectors)):
            held, fed = topic_multiset(self.settings, kind), feed_multiset(path)
            assert held == fed, (
                f"{kind}: broker lost {sum((fed - held).values())} and doubled"
                f" {sum((held - fed).values())} messages"
            )
        prepare_db(ref_dsn, self.network, self.feed)
        counts = build_reference(self.settings, self.network, ref_dsn)
        assert counts == {"gps": self.feed.n_gps, "detectors": self.feed.n_detectors}
        until = incidents_until(ref_dsn)
        assert until is not None
        expected = stored_results(ref_dsn, incidents_until=until)
        assert len(expected.traversals) > 500 and len(expected.states) > 100, expected.kpis
        assert all(k[2] != "NaN" for k in expected.kpis), expected.kpis
        self.check_reference_incidents(ref_dsn, until)
        last: list[list[str]] = [["not compared yet"]]

        def same() -> bool:
            if not drained(self.settings, self.settings.dsn):
                return False
            decided = incidents_until(self.settings.dsn)
            if decided is None or decided < until:
                last[0] = [f"incidents decided up to {decided}, not yet {until}"]
                return False
            got = stored_results(self.settings.dsn, incidents_until=until)
            last[0] = got.differences(expected)
            return not last[0]

        try:
            return poll_until(same, timeout_s=timeout_s, what="results equal to the reference")
        except AssertionError:
            logs = "\n".join(f"== {n}\n{self.procs.log_tail(n)}" for n in self.procs.procs)
            raise AssertionError(f"stored results differ: {last[0]}\n{logs}") from None

    def check_reference_incidents(self, ref_dsn: str, until: datetime) -> None:
        """The comparison is not vacuous: the reference raised an incident near each one the
        simulator injected that began early enough to be detected in the compared minutes."""
        with psycopg.connect(ref_dsn) as conn:
            raised = incident_positions(conn, until + timedelta(minutes=1))
        assert raised, "the reference raised no incident: comparing incidents would be vacuous"
        for truth in self.feed.incidents():
            if datetime.fromisoformat(truth["start"]) > until - timedelta(minutes=5):
                continue
            lon, lat = float(truth["lon"]), float(truth["lat"])
            near = [r[0] for r in raised if _metres(lon, lat, r[1], r[2]) < 1000.0]
            assert near, f"the reference did not detect {truth}; raised {raised}"

    def close(self) -> None:
        self.procs.close()


def _metres(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Distance between two WGS 84 points (equirectangular; fine within a city)."""
    k = math.pi / 180.0 * 6_371_000.0
    return math.hypot((lon2 - lon1) * k * math.cos(math.radians((lat1 + lat2) / 2)),
                      (lat2 - lat1) * k)  # fmt: skip
