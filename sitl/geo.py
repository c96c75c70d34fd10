"""Flat-earth geometry around home: north/east metres <-> latitude/longitude, bearings and angles.

The simulator converts positions every physics step, so it uses a local tangent plane with the WGS84
radii of curvature at home instead of a pyproj projection (a pyproj call costs more than the whole
physics step). Within a few kilometres of home the error is below a centimetre per 100 m, far below
what a survey cares about.
"""

from __future__ import annotations

import math

__all__ = ["FlatEarth", "bearing_deg", "wrap_180", "wrap_360"]

_A = 6378137.0  # WGS84 semi-major axis, m
_E2 = 6.69437999014e-3  # WGS84 first eccentricity squared


class FlatEarth:
    """A local north/east plane in metres, tangent at (lat0, lon0)."""

    __slots__ = ("_m_per_dlat", "_m_per_dlon", "lat0", "lon0")

    def __init__(self, lat0: float, lon0: float):
        self.lat0 = lat0
        self.lon0 = lon0
        s = math.sin(math.radians(lat0))
        w = 1.0 - _E2 * s * s
        meridian = _A * (1.0 - _E2) / (w * math.sqrt(w))  # radius of curvature north-south
        normal = _A / math.sqrt(w)  # radius of curvature east-west
        self._m_per_dlat = math.radians(1.0) * meridian
        self._m_per_dlon = math.radians(1.0) * normal * math.cos(math.radians(lat0))

    def to_ne(self, lat: float, lon: float) -> tuple[float, float]:
        """Metres north and east of the origin."""
        return (lat - self.lat0) * self._m_per_dlat, wrap_180(lon - self.lon0) * self._m_per_dlon

    def to_latlon(self, n: float, e: float) -> tuple[float, float]:
        """Latitude and longitude (degrees) of a point ``n`` metres north and ``e`` east of the origin."""
        return self.lat0 + n / self._m_per_dlat, wrap_180(self.lon0 + e / self._m_per_dlon)


def bearing_deg(dn: float, de: float) -> float:
    """Compass bearing (0-360, clockwise from north) of the vector (dn north, de east)."""
    return math.degrees(math.atan2(de, dn)) % 360.0


def wrap_180(deg: float) -> float:
    """An angle folded into [-180, 180)."""
    return (deg + 180.0) % 360.0 - 180.0


def wrap_360(deg: float) -> float:
    """An angle folded into [0, 360)."""
    return deg % 360.0
