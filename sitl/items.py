"""Stored plan items (mission, fence, rally) in MISSION_ITEM_INT form, and their validation.

Items are kept exactly as uploaded (x/y as int32, degrees x 1e7 for commands that carry a location,
raw integers otherwise, as ArduPilot's AP_Mission converts them), so a download returns what was
uploaded, apart from item 0 of the mission, which is always the vehicle's home.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from mission.commands import Cmd, Frame
from sitl.mav import MissionResult, MissionType

__all__ = ["LOCATION_COMMANDS", "StoredItem", "validate_item"]

#: Commands whose x/y are a latitude/longitude (ArduPilot's AP_Mission::stored_in_location).
LOCATION_COMMANDS = frozenset(
    {
        Cmd.NAV_WAYPOINT, Cmd.NAV_LOITER_UNLIM, Cmd.NAV_LOITER_TURNS, Cmd.NAV_LOITER_TIME, Cmd.NAV_RETURN_TO_LAUNCH,
        Cmd.NAV_LAND, Cmd.NAV_TAKEOFF, Cmd.NAV_LOITER_TO_ALT, Cmd.NAV_SPLINE_WAYPOINT, Cmd.DO_SET_HOME,
        Cmd.DO_LAND_START, Cmd.DO_SET_ROI_LOCATION, Cmd.DO_SET_ROI, Cmd.FENCE_RETURN_POINT,
        Cmd.FENCE_POLYGON_VERTEX_INCLUSION, Cmd.FENCE_POLYGON_VERTEX_EXCLUSION, Cmd.FENCE_CIRCLE_INCLUSION,
        Cmd.FENCE_CIRCLE_EXCLUSION, Cmd.NAV_RALLY_POINT,
        192,  # DO_REPOSITION
    }
)

#: Altitude frames a positional item may use.
GLOBAL_FRAMES = frozenset(
    {Frame.GLOBAL, Frame.GLOBAL_RELATIVE_ALT, Frame.GLOBAL_INT, Frame.GLOBAL_RELATIVE_ALT_INT,
     Frame.GLOBAL_TERRAIN_ALT, Frame.GLOBAL_TERRAIN_ALT_INT}
)

FENCE_COMMANDS = frozenset(
    {Cmd.FENCE_RETURN_POINT, Cmd.FENCE_POLYGON_VERTEX_INCLUSION, Cmd.FENCE_POLYGON_VERTEX_EXCLUSION,
     Cmd.FENCE_CIRCLE_INCLUSION, Cmd.FENCE_CIRCLE_EXCLUSION}
)


@dataclass(frozen=True, slots=True)
class StoredItem:
    """One item as MISSION_ITEM_INT carries it (without seq, targets and mission_type)."""

    command: int
    frame: int
    p1: float
    p2: float
    p3: float
    p4: float
    x: int
    y: int
    z: float
    autocontinue: int = 1

    @property
    def has_location(self) -> bool:
        return self.command in LOCATION_COMMANDS

    @property
    def lat(self) -> float:
        """Latitude in degrees (for items with a location)."""
        return self.x * 1e-7

    @property
    def lon(self) -> float:
        return self.y * 1e-7

    @property
    def p5(self) -> float:
        """Param 5 as a float: latitude for located items, else the raw x."""
        return self.x * 1e-7 if self.has_location else float(self.x)

    @property
    def p6(self) -> float:
        return self.y * 1e-7 if self.has_location else float(self.y)

    @classmethod
    def from_int_msg(cls, m) -> StoredItem:
        """From a MISSION_ITEM_INT message."""
        return cls(m.command, m.frame, m.param1, m.param2, m.param3, m.param4, m.x, m.y, m.z, m.autocontinue)

    @classmethod
    def from_float_msg(cls, m) -> StoredItem:
        """From a legacy MISSION_ITEM: located x/y become degrees x 1e7, others are cast to int."""
        if m.command in LOCATION_COMMANDS:
            x = _deg_e7(m.x)
            y = _deg_e7(m.y)
        else:
            x = _int32(m.x)
            y = _int32(m.y)
        return cls(m.command, m.frame, m.param1, m.param2, m.param3, m.param4, x, y, m.z, m.autocontinue)

    def float_xy(self) -> tuple[float, float]:
        """x/y as MISSION_ITEM carries them (degrees for located items)."""
        return (self.p5, self.p6)


def _deg_e7(v: float) -> int:
    if not math.isfinite(v):
        return 2**31 - 1  # caught by validation as an invalid latitude/longitude
    return _int32(round(v * 1e7))


def _int32(v: float) -> int:
    if not math.isfinite(v):
        return 0
    return max(-(2**31), min(2**31 - 1, int(v)))


def validate_item(mission_type: int, item: StoredItem) -> MissionResult:
    """The MAV_MISSION_RESULT ArduPilot answers for this item (ACCEPTED when it is fine)."""
    if mission_type == MissionType.FENCE:
        if item.command not in FENCE_COMMANDS:
            return MissionResult.UNSUPPORTED
    elif mission_type == MissionType.RALLY:
        if item.command != Cmd.NAV_RALLY_POINT:
            return MissionResult.UNSUPPORTED
    elif mission_type != MissionType.MISSION:
        return MissionResult.UNSUPPORTED
    if not item.has_location:
        return MissionResult.ACCEPTED
    if item.frame not in GLOBAL_FRAMES and not (item.frame == Frame.MISSION and item.x == 0 and item.y == 0):
        return MissionResult.UNSUPPORTED_FRAME
    if not -90e7 <= item.x <= 90e7:
        return MissionResult.INVALID_PARAM5_X
    if not -180e7 <= item.y <= 180e7:
        return MissionResult.INVALID_PARAM6_Y
    if not math.isfinite(item.z):
        return MissionResult.INVALID_PARAM7
    if item.command in (Cmd.FENCE_CIRCLE_INCLUSION, Cmd.FENCE_CIRCLE_EXCLUSION) and not item.p1 > 0:
        return MissionResult.INVALID_PARAM1
    if item.command in (Cmd.FENCE_POLYGON_VERTEX_INCLUSION, Cmd.FENCE_POLYGON_VERTEX_EXCLUSION) and item.p1 < 3:
        return MissionResult.INVALID_PARAM1
    return MissionResult.ACCEPTED
