"""The geofence: inclusion/exclusion polygons and circles (fence items 5001-5004), home circle, altitude.

Geometry is converted once, when a fence is stored, into the local north/east frame, so the
in-flight check is a handful of float comparisons per polygon edge.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from mission.commands import Cmd
from sitl.geo import FlatEarth
from sitl.items import StoredItem
from sitl.mav import MissionResult

__all__ = ["FENCE_ALT_MAX", "FENCE_CIRCLE", "FENCE_POLYGON", "Fence", "parse_fence"]

FENCE_ALT_MAX = 1  # FENCE_TYPE bits
FENCE_CIRCLE = 2
FENCE_POLYGON = 4
FENCE_ALT_MIN = 8


def _inside(n: float, e: float, poly: Sequence[tuple[float, float]]) -> bool:
    """Even-odd ray casting."""
    inside = False
    j = len(poly) - 1
    for i in range(len(poly)):
        ni, ei = poly[i]
        nj, ej = poly[j]
        if (ei > e) != (ej > e) and n < (nj - ni) * (e - ei) / (ej - ei) + ni:
            inside = not inside
        j = i
    return inside


@dataclass(slots=True)
class Fence:
    """Fence shapes in local metres (north, east) around home."""

    inclusion_polygons: list[list[tuple[float, float]]] = field(default_factory=list)
    exclusion_polygons: list[list[tuple[float, float]]] = field(default_factory=list)
    inclusion_circles: list[tuple[float, float, float]] = field(default_factory=list)  # n, e, radius
    exclusion_circles: list[tuple[float, float, float]] = field(default_factory=list)
    return_point: tuple[float, float, float] | None = None  # lat, lon, alt

    def breaches(self, n: float, e: float, u: float, fence_type: int, home_circle: tuple[float, float, float],
                 alt_max: float, alt_min: float) -> list[str]:
        """Names of the fences the point (n, e, ``u`` m above home) is outside of; empty when inside all.

        ``home_circle`` is (north, east, FENCE_RADIUS) of the circle around home.
        """
        out = []
        if fence_type & FENCE_ALT_MAX and u > alt_max:
            out.append("altitude")
        if fence_type & FENCE_ALT_MIN and u < alt_min:
            out.append("minimum altitude")
        hn, he, radius = home_circle
        if fence_type & FENCE_CIRCLE and radius > 0 and math.hypot(n - hn, e - he) > radius:
            out.append("circle")
        if fence_type & FENCE_POLYGON:
            if any(not _inside(n, e, p) for p in self.inclusion_polygons) or any(
                _inside(n, e, p) for p in self.exclusion_polygons
            ):
                out.append("polygon")
            elif any(math.hypot(n - cn, e - ce) > r for cn, ce, r in self.inclusion_circles) or any(
                math.hypot(n - cn, e - ce) < r for cn, ce, r in self.exclusion_circles
            ):
                out.append("circle item")
        return out


def parse_fence(items: Sequence[StoredItem], frame: FlatEarth) -> tuple[Fence, MissionResult]:
    """Build a :class:`Fence` from fence items; the result is INVALID for a malformed polygon."""
    fence = Fence()
    i = 0
    while i < len(items):
        it = items[i]
        if it.command in (Cmd.FENCE_POLYGON_VERTEX_INCLUSION, Cmd.FENCE_POLYGON_VERTEX_EXCLUSION):
            count = int(it.p1)
            run = items[i:i + count]
            if count < 3 or len(run) < count or any(r.command != it.command or int(r.p1) != count for r in run):
                return Fence(), MissionResult.INVALID
            poly = [frame.to_ne(r.lat, r.lon) for r in run]
            (fence.inclusion_polygons if it.command == Cmd.FENCE_POLYGON_VERTEX_INCLUSION
             else fence.exclusion_polygons).append(poly)
            i += count
            continue
        if it.command in (Cmd.FENCE_CIRCLE_INCLUSION, Cmd.FENCE_CIRCLE_EXCLUSION):
            n, e = frame.to_ne(it.lat, it.lon)
            (fence.inclusion_circles if it.command == Cmd.FENCE_CIRCLE_INCLUSION
             else fence.exclusion_circles).append((n, e, it.p1))
        elif it.command == Cmd.FENCE_RETURN_POINT:
            fence.return_point = (it.lat, it.lon, it.z)
        i += 1
    return fence, MissionResult.ACCEPTED
