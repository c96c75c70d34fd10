"""LocalFrame: the metric plane a plan is computed in (UTM), and the way back to WGS84.

Planning never happens in degrees: areas are projected into the UTM zone of their centre, planned
in metres, and only the results go back to longitude/latitude.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

import numpy as np
from pyproj import CRS, Transformer

__all__ = ["LocalFrame", "utm_epsg"]


def utm_epsg(lon: float, lat: float) -> int:
    """EPSG code of the WGS84 UTM zone containing (lon, lat) (Norway/Svalbard exceptions ignored)."""
    zone = int((lon + 180.0) // 6.0) % 60 + 1
    return (32600 if lat >= 0 else 32700) + zone


@cache
def _transformers(epsg: int) -> tuple[Transformer, Transformer]:
    crs = CRS.from_epsg(epsg)
    fwd = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    inv = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    return fwd, inv


@dataclass(frozen=True)
class LocalFrame:
    """A projected metric CRS (by EPSG code) with vectorised conversions from and to lon/lat."""

    epsg: int
    _fwd: Transformer = field(init=False, repr=False, compare=False)
    _inv: Transformer = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        fwd, inv = _transformers(self.epsg)
        object.__setattr__(self, "_fwd", fwd)
        object.__setattr__(self, "_inv", inv)

    @classmethod
    def around(cls, lon: float, lat: float) -> LocalFrame:
        """The UTM frame of the zone containing (lon, lat)."""
        return cls(utm_epsg(lon, lat))

    def to_local(self, lon, lat) -> tuple[np.ndarray, np.ndarray]:
        """Project lon/lat (degrees, scalars or arrays) to x/y metres."""
        x, y = self._fwd.transform(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
        return np.asarray(x), np.asarray(y)

    def to_lonlat(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        """Unproject x/y metres to lon/lat degrees."""
        lon, lat = self._inv.transform(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
        return np.asarray(lon), np.asarray(lat)
