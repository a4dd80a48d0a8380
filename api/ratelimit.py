"""Per-client rate limiting: an in-process token bucket per API key, else per client address.

Each client has a bucket of ``burst`` tokens refilled at ``rate`` tokens/s; a request takes
one, and a client with an empty bucket gets ``429 Too Many Requests`` with ``Retry-After``
(whole seconds until a token is back). Buckets live in the process: with several API
processes behind a load balancer each one limits separately (the effective limit is
multiplied by the number of processes). Requests that present an API key are counted under
the key's public id (``itms_<key_id>_…``), others under the client address; ``/healthz`` and
``/readyz`` are not limited.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from api.http import dumps
from api.security import KEY_PREFIX

_EXEMPT = ("/healthz", "/readyz")


class TokenBuckets:
    """Token buckets keyed by client (least recently seen dropped beyond ``max_clients``)."""

    def __init__(
        self, rate: float, burst: int, *, max_clients: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:  # fmt: skip
        self.rate, self.burst, self.max_clients, self.clock = rate, burst, max_clients, clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, client: str) -> float:
        """Take a token; 0.0 when allowed, else seconds until one is available."""
        now = self.clock()
        tokens, last = self._buckets.get(client, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        if tokens >= 1.0:
            self._buckets[client] = (tokens - 1.0, now)
            wait = 0.0
        else:
            self._buckets[client] = (tokens, now)
            wait = (1.0 - tokens) / self.rate
        self._buckets.move_to_end(client)
        if len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        return wait


def client_key(scope: Scope) -> str:
    """The API key id when one is presented, else the client address."""
    for name, value in scope.get("headers", ()):
        if name in (b"x-api-key", b"authorization"):
            text = value.decode("latin-1").removeprefix("Bearer ").strip()
            if text.startswith(KEY_PREFIX):
                return "key:" + text[len(KEY_PREFIX) : len(KEY_PREFIX) + 12]
    client = scope.get("client")
    return "ip:" + (client[0] if client else "unknown")


class RateLimitMiddleware:
    """ASGI middleware applying :class:`TokenBuckets` to every HTTP request."""

    def __init__(self, app: ASGIApp, *, rate: float, burst: int) -> None:
        self.app = app
        self.buckets = TokenBuckets(rate, burst) if rate > 0 else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.buckets is None or scope["type"] != "http" or scope["path"] in _EXEMPT:
            await self.app(scope, receive, send)
            return
        wait = self.buckets.take(client_key(scope))
        if wait <= 0:
            await self.app(scope, receive, send)
            return
        retry = max(1, math.ceil(wait))
        body = dumps({"detail": f"rate limit exceeded; retry after {retry} s"})
        await send({
            "type": "http.response.start", "status": 429,
            "headers": [(b"content-type", b"application/json"),
                        (b"retry-after", str(retry).encode()),
                        (b"content-length", str(len(body)).encode())],
        })  # fmt: skip
        await send({"type": "http.response.body", "body": body})
