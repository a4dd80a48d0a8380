"""A gateway that polls a live GTFS-Realtime ``VehiclePositions`` feed and publishes its
positions to the GPS topic.

Every ``interval_s`` the feed is fetched and decoded (:mod:`ingest.gtfs_realtime`). A
position already published (same vehicle, same timestamp: feeds repeat a vehicle's last
position until it reports again) is dropped; the others are published keyed by vehicle. A
feed that cannot be reached, answers with an HTTP error or sends something that does not
decode is counted (``polls_failed`` by reason) and tried again after a back-off that doubles
from ``interval_s`` up to ``max_backoff_s``; nothing of it stops the gateway. Times are wall
seconds.
"""

from __future__ import annotations

import logging
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from ingest.batching import encode
from ingest.errors import FeedDecodeError
from ingest.gtfs_realtime import decode_vehicle_positions

log = logging.getLogger(__name__)
USER_AGENT = "itms-gtfs-rt-gateway"


def fetch_url(url: str, timeout_s: float) -> bytes:
    """The body of ``GET url`` (raises ``OSError`` subclasses on network and HTTP errors)."""
    req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT,
                                               "Accept": "application/x-protobuf"})  # fmt: skip
    with urllib.request.urlopen(req, timeout=timeout_s) as resp:
        return bytes(resp.read())


@dataclass
class GatewayStats:
    """What the gateway did so far (for metrics and logs)."""

    polls_ok: int = 0
    polls_failed: Counter[str] = field(default_factory=Counter)  # unreachable, http, broken
    published: int = 0
    repeated: int = 0
    skipped: Counter[str] = field(default_factory=Counter)  # by ingest.gtfs_realtime reason
    last_success: float = 0.0  # wall time of the last good poll
    failures_in_a_row: int = 0


class GtfsRtGateway:
    """Polls ``url`` and hands each new position to ``send(key, value)``; ``flush`` after
    each poll; ``on_poll(ok)`` after each poll of :meth:`run` (health reporting). ``fetch``
    and ``clock`` are injectable for tests."""

    def __init__(
        self, url: str, send: Callable[[bytes, bytes], object], flush: Callable[[], object], *,
        interval_s: float = 15.0, max_backoff_s: float = 300.0, timeout_s: float = 10.0,
        vehicle_type: str = "bus", source: str = "gtfs-rt", forget_after_s: float = 3600.0,
        fetch: Callable[[str, float], bytes] = fetch_url, clock: Callable[[], float] = time.time,
        on_poll: Callable[[bool], object] | None = None,
    ) -> None:  # fmt: skip
        self.url, self.send, self.flush = url, send, flush
        self.interval_s, self.max_backoff_s, self.timeout_s = interval_s, max_backoff_s, timeout_s
        self.vehicle_type, self.source = vehicle_type, source
        self.forget_after_ms = forget_after_s * 1000.0
        self.fetch, self.clock, self.on_poll = fetch, clock, on_poll
        self.stats = GatewayStats()
        self._last_ts: dict[str, int] = {}  # vehicle → timestamp of its last published position

    def poll(self) -> bool:
        """One poll: fetch, decode, publish what is new. False when the feed failed."""
        try:
            data = self.fetch(self.url, self.timeout_s)
            feed = decode_vehicle_positions(data, vehicle_type=self.vehicle_type,
                                            source=self.source)  # fmt: skip
        except urllib.error.HTTPError as exc:
            return self._failed("http", f"HTTP {exc.code}")
        except FeedDecodeError as exc:
            return self._failed("broken", str(exc))
        except (OSError, ValueError) as exc:  # URLError, timeouts, refused connections
            return self._failed("unreachable", str(getattr(exc, "reason", exc)))
        sent: dict[str, int] = {}
        for rec in feed.records:
            vid, ts = str(rec["vehicle_id"]), int(rec["ts"])
            if self._last_ts.get(vid) == ts or sent.get(vid) == ts:
                self.stats.repeated += 1
                continue
            self.send(vid.encode("utf-8"), encode(rec))
            sent[vid] = ts
        self.flush()  # only what reached the broker counts as published (else: sent again)
        self._last_ts.update(sent)
        self.stats.published += len(sent)
        new = len(sent)
        self.stats.skipped.update(feed.skipped)
        self.stats.polls_ok += 1
        self.stats.failures_in_a_row = 0
        self.stats.last_success = self.clock()
        self._forget(feed.header_ts_ms)
        log.debug("%s: %s; %d new", self.url, feed.summary(), new)
        return True

    def _forget(self, now_ms: int | None) -> None:
        """Vehicles not heard of for ``forget_after_s`` leave the repeat filter."""
        ref = now_ms if now_ms is not None else self.clock() * 1000.0
        old = [v for v, ts in self._last_ts.items() if ref - ts > self.forget_after_ms]
        for v in old:
            del self._last_ts[v]

    def _failed(self, reason: str, detail: str) -> bool:
        self.stats.polls_failed[reason] += 1
        self.stats.failures_in_a_row += 1
        log.warning("%s: %s (%s); retrying in %.0f s", self.url, reason, detail,
                    self.next_wait_s())  # fmt: skip
        return False

    def next_wait_s(self) -> float:
        """Seconds to the next poll: the interval, doubled for each failure in a row up to
        ``max_backoff_s``."""
        k = self.stats.failures_in_a_row
        return min(self.interval_s * (2 ** k if k else 1), max(self.max_backoff_s,
                                                             self.interval_s))  # fmt: skip

    def run(self, stop: threading.Event) -> None:
        """Poll until ``stop`` is set."""
        while not stop.is_set():
            started = self.clock()
            try:
                ok = self.poll()
            except Exception:  # a bug or a broker problem must not end the gateway silently
                log.exception("%s: poll failed", self.url)
                self.stats.polls_failed["error"] += 1
                self.stats.failures_in_a_row += 1
                ok = False
            if self.on_poll is not None:
                self.on_poll(ok)
            stop.wait(max(self.next_wait_s() - (self.clock() - started), 0.0))
