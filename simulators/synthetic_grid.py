"""A synthetic grid city: a road network of a chosen size for tests and evaluations.

``rows × cols`` intersections about ``spacing_m`` apart (jittered), every street two-way
and named; every ``arterial_every``-th street is a primary road (4 lanes), the middle ones
trunk roads (6 lanes), the rest alternate secondary (4 lanes) and tertiary (2 lanes).
Streets are written as GeoJSON LineStrings through all their intersections, so the loader
splits them into one directed segment pair per block: ``2·(rows·(cols−1) + cols·(rows−1))``
directed segments (960 for 16 × 16). Coordinates WGS 84 around ``origin`` (lon, lat).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

METRES_PER_DEG_LAT = 111_320.0


def grid_geojson(
    rows: int = 16, cols: int = 16, *, spacing_m: float = 400.0, jitter_m: float = 40.0,
    arterial_every: int = 4, origin: tuple[float, float] = (106.60, 20.80), seed: int = 0,
) -> dict:  # fmt: skip
    """The grid as a GeoJSON FeatureCollection (see the module docstring)."""
    rng = np.random.default_rng(seed)
    lon0, lat0 = origin
    m_lon = METRES_PER_DEG_LAT * np.cos(np.radians(lat0))
    jx = rng.uniform(-jitter_m, jitter_m, (rows, cols))
    jy = rng.uniform(-jitter_m, jitter_m, (rows, cols))
    x = np.arange(cols)[None, :] * spacing_m + jx
    y = np.arange(rows)[:, None] * spacing_m + jy
    lon = lon0 + x / m_lon
    lat = lat0 + y / METRES_PER_DEG_LAT

    def klass(k: int, n: int) -> tuple[str, int]:
        if k == n // 2:
            return "trunk", 6
        if k % arterial_every == 0:
            return "primary", 4
        return ("secondary", 4) if k % 2 else ("tertiary", 2)

    feats = []
    for r in range(rows):
        cls, lanes = klass(r, rows)
        coords = [[round(float(lon[r, c]), 7), round(float(lat[r, c]), 7)] for c in range(cols)]
        feats.append(_feature(f"h{r}", f"Street {r + 1}", cls, lanes, coords))
    for c in range(cols):
        cls, lanes = klass(c, cols)
        coords = [[round(float(lon[r, c]), 7), round(float(lat[r, c]), 7)] for r in range(rows)]
        feats.append(_feature(f"v{c}", f"Avenue {c + 1}", cls, lanes, coords))
    return {"type": "FeatureCollection", "features": feats}


def _feature(fid: str, name: str, cls: str, lanes: int, coords: list) -> dict:
    return {"type": "Feature", "geometry": {"type": "LineString", "coordinates": coords},
            "properties": {"id": fid, "name": name, "road_class": cls, "lanes": lanes,
                           "oneway": False}}  # fmt: skip


def write_grid(path: str | Path, **kwargs) -> Path:
    """Write :func:`grid_geojson` to ``path`` (GeoJSON); returns the path."""
    path = Path(path)
    path.write_text(json.dumps(grid_geojson(**kwargs)), encoding="utf-8")
    return path
