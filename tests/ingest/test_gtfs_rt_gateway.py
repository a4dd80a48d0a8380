"""The GTFS-Realtime gateway: repeated positions dropped, a feed that stops, returns garbage
or an HTTP error counted and retried with back-off, never the end of the gateway."""

from __future__ import annotations

import json
import threading
import urllib.error

from ingest.gateways.gtfs_rt import GtfsRtGateway
from tests.ingest.gtfs_feeds import encoded, vehicle_feed

T0 = 1_764_031_500


class Feed:
    """A fake feed: a queue of answers (bytes, or an exception to raise)."""

    def __init__(self, *answers: object) -> None:
        self.answers = list(answers)
        self.calls = 0

    def __call__(self, url: str, timeout_s: float) -> bytes:
        self.calls += 1
        a = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(a, BaseException):
            raise a
        assert isinstance(a, bytes)
        return a


def gateway(feed: Feed, sent: list) -> GtfsRtGateway:
    return GtfsRtGateway("http://feed.test/vp.pb", lambda k, v: sent.append((k, v)),
                         lambda: None, interval_s=15.0, max_backoff_s=120.0, fetch=feed,
                         clock=lambda: float(T0))  # fmt: skip


def test_repeated_positions_are_dropped_and_new_ones_published() -> None:
    first = encoded(vehicle_feed(5, t0_s=T0))
    later = vehicle_feed(5, t0_s=T0)
    for e in later.entity[:2]:
        e.vehicle.timestamp = T0 + 15  # two buses reported again, three did not
    sent: list = []
    gw = gateway(Feed(first, first, encoded(later)), sent)
    assert gw.poll() and len(sent) == 5
    assert gw.poll() and len(sent) == 5 and gw.stats.repeated == 5  # the same snapshot
    assert gw.poll() and len(sent) == 7 and gw.stats.repeated == 8
    key, value = sent[-1]
    assert key == b"bus-1" and json.loads(value)["ts"] == (T0 + 15) * 1000
    assert gw.stats.published == 7 and gw.stats.polls_ok == 3


def test_a_feed_that_stops_breaks_and_comes_back_is_retried_with_backoff() -> None:
    good = encoded(vehicle_feed(3, t0_s=T0))
    sent: list = []
    answers = Feed(urllib.error.URLError("connection refused"),
                   urllib.error.HTTPError("http://feed.test/vp.pb", 503, "busy", {}, None),  # type: ignore[arg-type]
                   b"<html>maintenance</html>", TimeoutError("timed out"), good)  # fmt: skip
    gw = gateway(answers, sent)
    waits = []
    for _ in range(4):
        assert not gw.poll()
        waits.append(gw.next_wait_s())
    assert waits == [30.0, 60.0, 120.0, 120.0]  # doubling, capped
    assert gw.stats.polls_failed == {"unreachable": 2, "http": 1, "broken": 1}
    assert gw.poll() and len(sent) == 3 and gw.next_wait_s() == 15.0  # back to the interval


def test_the_run_loop_survives_any_error_and_stops_when_told() -> None:
    good = encoded(vehicle_feed(2, t0_s=T0))
    sent: list = []
    stop = threading.Event()
    calls = {"n": 0}

    def send(k: bytes, v: bytes) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("broker hiccup")  # a bug or a broker error: logged, retried
        sent.append(k)
        if len(sent) == 2:
            stop.set()

    polls: list[bool] = []
    gw = GtfsRtGateway("http://feed.test/vp.pb", send, lambda: None, interval_s=0.01,
                       max_backoff_s=0.02, fetch=Feed(good), on_poll=polls.append)  # fmt: skip
    t = threading.Thread(target=gw.run, args=(stop,))
    t.start()
    t.join(timeout=10)
    assert not t.is_alive()
    assert sorted(sent) == [b"bus-0", b"bus-1"]  # nothing lost: the failed poll was sent again
    assert gw.stats.polls_failed["error"] == 1
    assert polls[:2] == [False, True]  # each poll reported: the failed one, then the good one
