"""Reading recorded feeds (CSV or JSON lines) into contract-shaped dicts.

CSV files have a header row whose column names are the contract fields
(``vehicle_id, ts, lat, lon, speed_kmh, ...`` or ``detector_id, ts,
interval_s, volume, occupancy, ...``). JSON-lines files hold one contract
object per line. Empty CSV cells are left out. Values that do not parse as
numbers are passed on unchanged, so the workers dead-letter them with a
reason instead of the reader guessing.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

FLOAT_FIELDS = {"lat", "lon", "speed_kmh", "heading_deg", "accuracy_m", "occupancy"}
INT_FIELDS = {"interval_s", "volume", "lane", "v"}
KEY_FIELD = {"gps": "vehicle_id", "detectors": "detector_id"}


def convert_value(name: str, text: str) -> Any:
    """A CSV cell of contract column ``name`` as the contract wants it (number or text; text
    that does not parse is kept, for the workers to reject with a reason)."""
    try:
        if name in FLOAT_FIELDS:
            return float(text)
        if name in INT_FIELDS:
            return int(text)
        if name == "ts" and text.lstrip("-").isdigit():
            return int(text)
    except ValueError:
        return text
    return text


def open_text(path: Path) -> io.TextIOBase:
    """A recorded file opened as UTF-8 text (gzip-decompressed when it ends in .gz)."""
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8")
    return path.open(encoding="utf-8", newline="")


def read_records(path: str | Path) -> Iterator[dict[str, Any] | str]:
    """Records of a ``.csv``/``.jsonl``/``.ndjson`` file (optionally ``.gz``).

    Yields dicts; a JSON line that does not parse is yielded as its raw text so
    it can be published and dead-lettered like any bad message.
    """
    path = Path(path)
    stem = path.name.removesuffix(".gz").lower()
    with open_text(path) as fh:
        if stem.endswith(".csv"):
            for row in csv.DictReader(fh):
                yield {
                    k.strip(): convert_value(k.strip(), v.strip())
                    for k, v in row.items()
                    if k and v not in (None, "")
                }
        elif stem.endswith((".jsonl", ".ndjson", ".json")):
            for line in fh:
                line = line.strip()
                if not line:
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError:
                    yield line
                    continue
                yield obj if isinstance(obj, dict) else line
        else:
            raise ValueError(f"{path}: expected a .csv or .jsonl file (optionally .gz)")


def record_ts_ms(record: dict[str, Any] | str) -> int | None:
    """Timestamp of a record in epoch ms, or ``None`` when it has none that parses."""
    if not isinstance(record, dict):
        return None
    value = record.get("ts")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, str):
        from datetime import datetime

        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        if parsed.tzinfo is None:
            return None
        return int(parsed.timestamp() * 1000)
    return None
