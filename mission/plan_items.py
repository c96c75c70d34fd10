"""Fence and rally points as MAVLink plan items (mission_type 1 and 2), and back.

MAVLink carries a geofence as a list of items: each polygon is N consecutive
``FENCE_POLYGON_VERTEX_INCLUSION``/``EXCLUSION`` items that all carry N in param 1; circles are one
item with the radius in param 1; ``FENCE_RETURN_POINT`` is where a breach sends the vehicle. Rally
points are ``NAV_RALLY_POINT`` items with an altitude above home.
"""

from __future__ import annotations

import os

from mission.commands import Cmd, Frame
from mission.plan import Fence, FenceCircle, FencePolygon, MissionItem, RallyPoint
from skyscan.errors import InputError

__all__ = ["FENCE_RALLY_COMMANDS", "fence_to_items", "rally_to_items", "split_fence_rally"]

_VERTEX = (Cmd.FENCE_POLYGON_VERTEX_INCLUSION, Cmd.FENCE_POLYGON_VERTEX_EXCLUSION)
_CIRCLE = (Cmd.FENCE_CIRCLE_INCLUSION, Cmd.FENCE_CIRCLE_EXCLUSION)

#: Commands that belong to a fence or rally plan rather than to a mission.
FENCE_RALLY_COMMANDS = frozenset({Cmd.FENCE_RETURN_POINT, *_VERTEX, *_CIRCLE, Cmd.NAV_RALLY_POINT})


def fence_to_items(fence: Fence) -> list[MissionItem]:
    """The fence as MAVLink fence items (return point first, then polygons, then circles)."""
    items: list[MissionItem] = []
    if fence.return_point is not None:
        lat, lon, alt = fence.return_point
        items.append(MissionItem(Cmd.FENCE_RETURN_POINT, Frame.GLOBAL_RELATIVE_ALT, (0, 0, 0, 0), lat, lon, alt))
    for poly in fence.polygons:
        cmd = Cmd.FENCE_POLYGON_VERTEX_INCLUSION if poly.inclusion else Cmd.FENCE_POLYGON_VERTEX_EXCLUSION
        n = float(len(poly.points))
        items.extend(MissionItem(cmd, Frame.GLOBAL, (n, 0, 0, 0), lat, lon, 0.0) for lat, lon in poly.points)
    for circle in fence.circles:
        cmd = Cmd.FENCE_CIRCLE_INCLUSION if circle.inclusion else Cmd.FENCE_CIRCLE_EXCLUSION
        lat, lon = circle.center
        items.append(MissionItem(cmd, Frame.GLOBAL, (circle.radius_m, 0, 0, 0), lat, lon, 0.0))
    return items


def rally_to_items(rally: list[RallyPoint]) -> list[MissionItem]:
    """Rally points as ``NAV_RALLY_POINT`` items (altitude above home)."""
    return [MissionItem(Cmd.NAV_RALLY_POINT, Frame.GLOBAL_RELATIVE_ALT, (0, 0, 0, 0), r.lat, r.lon, r.alt)
            for r in rally]


def split_fence_rally(items: list[MissionItem], source: str | os.PathLike
                      ) -> tuple[list[MissionItem], Fence, list[RallyPoint]]:
    """(mission items, fence, rally points) from a list mixing mission, fence and rally items."""
    mission: list[MissionItem] = []
    fence = Fence()
    rally: list[RallyPoint] = []
    i = 0
    while i < len(items):
        it = items[i]
        if it.command in _VERTEX:
            count = int(it.params[0])
            group = items[i:i + count]
            if count < 3 or len(group) < count or any(g.command != it.command for g in group):
                raise InputError(f"{source}: fence polygon starting at item {i + 1} should have {count} "
                                 f"vertices of command {it.command} (and at least 3); fix the fence")
            fence.polygons.append(FencePolygon(tuple((g.x, g.y) for g in group),
                                               inclusion=it.command == Cmd.FENCE_POLYGON_VERTEX_INCLUSION))
            i += count
            continue
        if it.command in _CIRCLE:
            fence.circles.append(FenceCircle((it.x, it.y), it.params[0],
                                             inclusion=it.command == Cmd.FENCE_CIRCLE_INCLUSION))
        elif it.command == Cmd.FENCE_RETURN_POINT:
            fence.return_point = (it.x, it.y, it.z)
        elif it.command == Cmd.NAV_RALLY_POINT:
            rally.append(RallyPoint(it.x, it.y, it.z))
        else:
            mission.append(it)
        i += 1
    return mission, fence, rally
