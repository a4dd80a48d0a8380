"""HTTP plumbing shared by the routes: conditional requests, caching headers, cursors, bbox.

ETags are strong validators of the exact representation; ``Last-Modified`` is the newest
``updated_at`` behind it. A request whose ``If-None-Match`` matches (or, without one, whose
``If-Modified-Since`` is not older than the data) gets ``304 Not Modified``.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import math
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from fastapi import HTTPException, Request, Response

GEOJSON = "application/geo+json"
PUBLIC_CACHE = "public, max-age=5"
HISTORY_CACHE = "public, max-age=60"
NO_STORE = "no-store"
_BAD_CURSOR = "cursor is not valid (use next_cursor of a previous page)"
_BAD_BBOX = "bbox must be four numbers: min_lon,min_lat,max_lon,max_lat"


def _json_default(obj: Any) -> Any:
    if isinstance(obj, datetime):
        return obj.isoformat()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON (datetimes as RFC 3339; NaN and infinities as null)."""
    try:
        text = json.dumps(obj, default=_json_default, ensure_ascii=False, separators=(",", ":"),
                          allow_nan=False)  # fmt: skip
    except ValueError:  # a non-finite float somewhere: JSON has no such number
        text = json.dumps(_finite(obj), default=_json_default, ensure_ascii=False,
                          separators=(",", ":"))  # fmt: skip
    return text.encode()


def _finite(obj: Any) -> Any:
    """``obj`` with every NaN or infinite float replaced by ``None``."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


def etag_of(*parts: object) -> str:
    """A strong ETag from the given parts."""
    return '"' + hashlib.blake2b(repr(parts).encode(), digest_size=12).hexdigest() + '"'


def http_date(at: datetime) -> str:
    """RFC 9110 HTTP-date of an aware datetime."""
    return format_datetime(at.astimezone(UTC).replace(microsecond=0), usegmt=True)


def not_modified(request: Request, etag: str, last_modified: datetime | None) -> bool:
    """True when the client's cached copy is current."""
    inm = request.headers.get("if-none-match")
    if inm is not None:
        tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
        return "*" in tags or etag in tags
    ims = request.headers.get("if-modified-since")
    if ims and last_modified is not None:
        try:
            since = parsedate_to_datetime(ims)
        except (TypeError, ValueError, IndexError):
            return False
        if since.tzinfo is None:
            return False
        return last_modified.replace(microsecond=0) <= since
    return False


def cached_response(
    request: Request,
    body: bytes,
    *,
    media_type: str = "application/json",
    etag: str | None = None,
    last_modified: datetime | None = None,
    cache_control: str = PUBLIC_CACHE,
    gzipped: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """A response with validators and ``Cache-Control``; 304 when the client is current.

    ``gzipped`` is a ready compressed body sent when the client accepts gzip (large cached
    bodies are compressed once, not per request).
    """
    etag = etag or etag_of(body)
    out = {"ETag": etag, "Cache-Control": cache_control, "Vary": "Accept-Encoding"}
    if last_modified is not None:
        out["Last-Modified"] = http_date(last_modified)
    out.update(headers or {})
    if not_modified(request, etag, last_modified):
        return Response(status_code=304, headers=out)
    if gzipped is not None and "gzip" in request.headers.get("accept-encoding", ""):
        out["Content-Encoding"] = "gzip"
        return Response(gzipped, media_type=media_type, headers=out)
    return Response(body, media_type=media_type, headers=out)


def gzip_bytes(body: bytes) -> bytes:
    """gzip (level 6: bodies are compressed once and served many times)."""
    return gzip.compress(body, compresslevel=6, mtime=0)


def encode_cursor(*parts: str) -> str:
    """An opaque paging cursor."""
    return base64.urlsafe_b64encode("\x1f".join(parts).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, n: int) -> list[str]:
    """Parts of a cursor made by :func:`encode_cursor`; 400 when it is not one."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        raw = base64.b64decode(padded, altchars=b"-_", validate=True).decode()
    except (ValueError, UnicodeDecodeError) as exc:
        raise HTTPException(400, _BAD_CURSOR) from exc
    parts = raw.split("\x1f")
    if len(parts) != n or any(not p or "\x00" in p for p in parts):
        raise HTTPException(400, _BAD_CURSOR)
    return parts


def parse_bbox(bbox: str | None) -> tuple[float, float, float, float] | None:
    """``min_lon,min_lat,max_lon,max_lat`` (WGS 84 degrees) → tuple; 400 when malformed."""
    if bbox is None:
        return None
    try:
        vals = tuple(float(v) for v in bbox.split(","))
    except ValueError as exc:
        raise HTTPException(400, _BAD_BBOX) from exc
    if len(vals) != 4:
        raise HTTPException(400, _BAD_BBOX)
    x0, y0, x1, y1 = vals
    if not (-180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90):
        raise HTTPException(
            400, "bbox must satisfy -180 <= min_lon <= max_lon <= 180 and"
            " -90 <= min_lat <= max_lat <= 90",
        )  # fmt: skip
    return x0, y0, x1, y1


def parse_list(
    value: str | None, allowed: set[str] | None = None, *, name: str
) -> list[str] | None:
    """Comma-separated values; 400 on a value outside ``allowed``."""
    if value is None:
        return None
    items = [v.strip() for v in value.split(",") if v.strip()]
    if allowed is not None:
        bad = [v for v in items if v not in allowed]
        if bad:
            raise HTTPException(
                400, f"{name}: unknown value(s) {', '.join(bad)};"
                f" allowed: {', '.join(sorted(allowed))}",
            )
    return items or None
