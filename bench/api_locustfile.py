"""Locust users for ``bench/api_load.py`` (one scenario per run, chosen by ITMS_BENCH_SCENARIO).

Each user sends ITMS_BENCH_USER_RATE requests per second (``constant_throughput``), starting at
a random phase, so N users offer N × that rate while the server keeps up. Clients accept gzip,
as browsers and apps do.
"""

from __future__ import annotations

import os
import random
import time
from typing import ClassVar

import gevent
from locust import constant_throughput, task
from locust.contrib.fasthttp import FastHttpUser

SCENARIO = os.environ.get("ITMS_BENCH_SCENARIO", "segment")
SEGMENTS = int(os.environ.get("ITMS_BENCH_SEGMENTS", "10000"))


class ApiUser(FastHttpUser):
    """One client of the public API."""

    wait_time = constant_throughput(float(os.environ.get("ITMS_BENCH_USER_RATE", "1")))
    default_headers: ClassVar[dict[str, str]] = {"Accept-Encoding": "gzip"}

    def on_start(self) -> None:
        """Start at a random point of the first second: users spawned together would otherwise
        fire in lock-step, 200 requests in one burst each second instead of a steady rate."""
        gevent.sleep(random.random() / float(os.environ.get("ITMS_BENCH_USER_RATE", "1")))

    @task
    def request(self) -> None:
        if SCENARIO == "segment":
            sid = f"seg-{random.randrange(SEGMENTS):05d}"
            self.client.get(f"/v1/segments/{sid}", name="GET /v1/segments/{id}")
        elif SCENARIO == "network":
            self._raw_get("/v1/segments", "GET /v1/segments (full network)", 10 * SEGMENTS)
        elif SCENARIO == "network-etag":
            etag = getattr(self, "etag", None)
            headers = {"If-None-Match": etag} if etag else {}
            reply = self.client.get("/v1/segments", headers=headers,
                                    name="GET /v1/segments (If-None-Match)")  # fmt: skip
            self.etag = reply.headers.get("etag", etag)
        elif SCENARIO == "forecast":
            sid = f"seg-{random.randrange(SEGMENTS):05d}"
            self.client.get(f"/v1/segments/{sid}/forecast", name="GET /v1/segments/{id}/forecast")
        elif SCENARIO == "history":
            sid = f"seg-{random.randrange(SEGMENTS):05d}"
            self.client.get(f"/v1/segments/{sid}/history", name="GET /v1/segments/{id}/history")
        else:
            raise ValueError(f"unknown scenario {SCENARIO}")

    def _raw_get(self, path: str, name: str, min_bytes: int) -> None:
        """GET timed until the last byte of the (gzip) body arrived, without decompressing it
        (locust's client would inflate ~5 MB per reply here, on the same 2 cores as the
        server; a browser inflates natively, after the transfer)."""
        start_time, start = time.time(), time.perf_counter()
        length, exc = 0, None
        try:
            reply = self.client.client.urlopen(self.host + path, method="GET",
                                               headers=dict(self.default_headers))  # fmt: skip
            length = len(reply._response.read())
            if reply.status_code != 200 or length < min_bytes:
                exc = AssertionError(f"status {reply.status_code}, {length} bytes")
        except Exception as e:  # reported as a failure, like locust's own client does
            exc = e
        self.environment.events.request.fire(
            request_type="GET", name=name, response_time=(time.perf_counter() - start) * 1000,
            response_length=length, exception=exc, context={}, response=None,
            url=self.host + path, start_time=start_time,
        )  # fmt: skip
