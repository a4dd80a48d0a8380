"""HTTP hardening: safe response headers and a request body limit (pure ASGI middleware).

Every response gets ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY``,
``Referrer-Policy: no-referrer``, ``Cross-Origin-Opener-Policy: same-origin`` and a
``Permissions-Policy`` that turns off device features; JSON replies under ``/v1`` also get
``Content-Security-Policy: default-src 'none'; frame-ancestors 'none'``. A request whose body
exceeds ``max_body_bytes`` (declared or streamed) gets ``413`` before any route reads it.
"""

from __future__ import annotations

import json
from typing import Any

Scope = dict[str, Any]
_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
]
_API_CSP = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")


class HardeningMiddleware:
    """Adds the safe headers and refuses bodies larger than ``max_body_bytes``."""

    def __init__(self, app: Any, *, max_body_bytes: int = 64 * 1024) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_body_bytes
        api = scope.get("path", "").startswith("/v1/")
        started = refused = False
        seen = 0

        async def send_with_headers(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers += [h for h in _HEADERS if h[0] not in present]
                if api and _API_CSP[0] not in present:
                    headers.append(_API_CSP)
                message = {**message, "headers": headers}
            await send(message)

        async def app_send(message: dict[str, Any]) -> None:
            if not refused:  # after a 413 the route's own reply is dropped
                await send_with_headers(message)

        async def guarded_receive() -> dict[str, Any]:
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:  # a streamed body past the limit: answer now, stop reading
                    if not started:
                        await _too_large(send_with_headers, limit)
                    refused = True
                    return {"type": "http.disconnect"}
            return message

        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _too_large(send_with_headers, limit)
            return
        await self.app(scope, guarded_receive, app_send)


async def _too_large(send: Any, limit: int) -> None:
    body = json.dumps({"detail": f"request body larger than {limit} bytes"}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})  # fmt: skip
    await send({"type": "http.response.body", "body": body})
