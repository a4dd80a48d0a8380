"""A live-stream client following ``/v1/stream/segments`` like a dashboard."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class StreamEvent:
    """One ``segments`` event as received (wall time in epoch seconds)."""

    received: float
    event_id: int
    connection: int
    updated_at: datetime
    segments: list[dict]


class SegmentStreamClient(threading.Thread):
    """Follows ``/v1/stream/segments`` like a dashboard: reconnects with ``Last-Event-ID``
    after any error (every ``retry_s``) and keeps the latest status of every segment."""

    def __init__(self, base_url: str, *, retry_s: float = 0.3) -> None:
        super().__init__(daemon=True, name="sse-client")
        self.url = base_url.rstrip("/") + "/v1/stream/segments"
        self.retry_s = retry_s
        self.stop = threading.Event()
        self.connected = threading.Event()
        self.last_id: str | None = None
        self.connections = 0
        self.events: list[StreamEvent] = []
        self.view: dict[str, dict] = {}
        self.errors: list[str] = []

    def run(self) -> None:
        import httpx

        while not self.stop.is_set():
            headers = {} if self.last_id is None else {"Last-Event-ID": self.last_id}
            try:
                timeout = httpx.Timeout(5.0, read=30.0)
                with httpx.stream("GET", self.url, headers=headers, timeout=timeout) as reply:
                    if reply.status_code != 200:
                        self.errors.append(f"HTTP {reply.status_code}")
                        self.stop.wait(self.retry_s)
                        continue
                    self.connections += 1
                    self.connected.set()
                    self._read(reply.iter_lines())
            except httpx.HTTPError as exc:
                self.errors.append(type(exc).__name__)
            self.stop.wait(self.retry_s)

    def _read(self, lines: Iterator[str]) -> None:
        cur: dict[str, str] = {}
        for line in lines:
            if self.stop.is_set():
                return
            if line == "":
                if cur.get("event") == "segments" and "data" in cur:
                    self._event(cur)
                cur = {}
            elif not line.startswith(":"):
                key, _, value = line.partition(":")
                cur[key] = value.removeprefix(" ")

    def _event(self, cur: dict[str, str]) -> None:
        data = json.loads(cur["data"])
        ev = StreamEvent(time.time(), int(cur["id"]), self.connections,
                         datetime.fromisoformat(data["updated_at"]), data["segments"])  # fmt: skip
        self.events.append(ev)
        for status in ev.segments:
            self.view[status["segment_id"]] = status
        self.last_id = cur["id"]

    def close(self, timeout_s: float = 5.0) -> None:
        self.stop.set()
        if self.ident is not None:
            self.join(timeout_s)
