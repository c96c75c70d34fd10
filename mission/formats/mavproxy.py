"""MAVProxy's fence and rally text files (``fence save`` / ``rally save``), read-only.

Fence file: one ``lat lon`` pair a line; the first line is the return point, the next lines the
polygon vertices, the last vertex repeating the first (MAVLink 1 ``FENCE_POINT`` layout). The return
point carries no altitude (ArduPilot takes it from ``FENCE_RET_ALT``), so it is read at 0 m.

Rally file: ``RALLY lat lon alt break_alt land_dir flags`` lines, ``alt`` above home.

MAVProxy also saves fences and rally points as ``QGC WPL 110`` files of fence/rally mission items;
the waypoint reader turns those into a fence with :func:`mission.plan_items.split_fence_rally`.
"""

from __future__ import annotations

import os

from mission.formats._common import as_float, open_ring
from mission.plan import Fence, FencePolygon, Plan, RallyPoint
from skyscan.errors import InputError

__all__ = ["looks_like_fence", "parse_fence", "parse_rally"]


def _rows(text: str) -> list[tuple[int, list[str]]]:
    """Non-blank, non-comment lines as (line number, whitespace-separated cells)."""
    rows = [(n, line.split()) for n, line in enumerate(text.splitlines(), start=1)]
    return [(n, cells) for n, cells in rows if cells and not cells[0].startswith("#")]


def looks_like_fence(text: str) -> bool:
    """True when every line holds exactly two numbers (a MAVProxy fence file)."""
    rows = _rows(text)
    if not rows:
        return False
    for _, cells in rows:
        if len(cells) != 2:
            return False
        try:
            [float(c) for c in cells]
        except ValueError:
            return False
    return True


def parse_fence(text: str, source: str | os.PathLike) -> Plan:
    """A :class:`Plan` holding only the fence of a MAVProxy fence file."""
    points = []
    for n, cells in _rows(text):
        where = f"{source}: line {n}"
        if len(cells) != 2:
            raise InputError(f"{where}: expected 'lat lon', found {len(cells)} values; "
                             "fix or remove this line")
        points.append((as_float(cells[0], "latitude", where, null_ok=False),
                       as_float(cells[1], "longitude", where, null_ok=False)))
    vertices = open_ring(points[1:])
    if len(vertices) < 3:
        raise InputError(f"{source}: a fence file needs a return point and at least 3 polygon vertices, "
                         f"found {len(points)} point(s)")
    ret_lat, ret_lon = points[0]
    return Plan(fence=Fence(polygons=[FencePolygon(tuple(vertices), inclusion=True)],
                            return_point=(ret_lat, ret_lon, 0.0)))


def parse_rally(text: str, source: str | os.PathLike) -> Plan:
    """A :class:`Plan` holding only the rally points of a MAVProxy rally file."""
    rally = []
    for n, cells in _rows(text):
        where = f"{source}: line {n}"
        if cells[0].upper() != "RALLY" or len(cells) != 7:
            raise InputError(f"{where}: expected 'RALLY lat lon alt break_alt land_dir flags' (7 fields), "
                             f"found {' '.join(cells)[:60]!r}; fix or remove this line")
        lat, lon, alt = (as_float(c, k, where, null_ok=False)
                         for c, k in zip(cells[1:4], ("lat", "lon", "alt"), strict=True))
        rally.append(RallyPoint(lat, lon, alt))
    if not rally:
        raise InputError(f"{source}: no RALLY lines found")
    return Plan(rally=rally)
