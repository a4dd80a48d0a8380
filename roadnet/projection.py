"""Choice of a metric projection for a city: the UTM zone of the data's centroid."""

from __future__ import annotations

import numpy as np
import shapely
from pyproj import CRS, Transformer

WGS84 = CRS.from_epsg(4326)


def utm_crs_for(lon: float, lat: float) -> CRS:
    """UTM CRS (WGS 84 datum) whose zone contains ``lon, lat`` (degrees); Hai Phong → EPSG:32648."""
    zone = int(np.floor((lon + 180.0) / 6.0)) % 60 + 1
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


class Projector:
    """Vectorised WGS 84 ⇄ metric transforms for one CRS (metres, easting/northing)."""

    def __init__(self, crs: CRS) -> None:
        self.crs = crs
        self._fwd = Transformer.from_crs(WGS84, crs, always_xy=True)
        self._inv = Transformer.from_crs(crs, WGS84, always_xy=True)

    def to_metric(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Degrees → metres."""
        x, y = self._fwd.transform(np.asarray(lon, float), np.asarray(lat, float))
        return np.asarray(x), np.asarray(y)

    def to_wgs84(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Metres → degrees (lon, lat)."""
        lon, lat = self._inv.transform(np.asarray(x, float), np.asarray(y, float))
        return np.asarray(lon), np.asarray(lat)

    def geoms_to_metric(self, geoms: np.ndarray) -> np.ndarray:
        """Project an array of shapely geometries from WGS 84 to this CRS."""
        return shapely.transform(
            geoms, lambda xy: np.column_stack(self.to_metric(xy[:, 0], xy[:, 1]))
        )
