"""MAVLink numbers a mission needs: commands (MAV_CMD), frames (MAV_FRAME) and their meaning.

Kept here, without pymavlink, so that planning imports nothing heavy. Values are from MAVLink's
``common.xml``.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["POSITIONAL_COMMANDS", "Cmd", "Frame", "is_positional"]


class Cmd(IntEnum):
    """MAV_CMD values used in survey missions, fences and rally plans."""

    NAV_WAYPOINT = 16
    NAV_LOITER_UNLIM = 17
    NAV_LOITER_TURNS = 18
    NAV_LOITER_TIME = 19
    NAV_RETURN_TO_LAUNCH = 20
    NAV_LAND = 21
    NAV_TAKEOFF = 22
    NAV_LOITER_TO_ALT = 31
    NAV_SPLINE_WAYPOINT = 82
    NAV_DELAY = 93
    CONDITION_DELAY = 112
    CONDITION_YAW = 115
    DO_SET_MODE = 176
    DO_JUMP = 177
    DO_CHANGE_SPEED = 178
    DO_SET_HOME = 179
    DO_SET_SERVO = 183
    DO_LAND_START = 189
    DO_SET_ROI_LOCATION = 195
    DO_SET_ROI_WPNEXT_OFFSET = 196
    DO_SET_ROI_NONE = 197
    DO_SET_ROI = 201
    DO_DIGICAM_CONTROL = 203
    DO_MOUNT_CONTROL = 205
    DO_SET_CAM_TRIGG_DIST = 206
    DO_FENCE_ENABLE = 207
    DO_SET_CAM_TRIGG_INTERVAL = 214
    DO_GIMBAL_MANAGER_PITCHYAW = 1000
    IMAGE_START_CAPTURE = 2000
    IMAGE_STOP_CAPTURE = 2001
    VIDEO_START_CAPTURE = 2500
    VIDEO_STOP_CAPTURE = 2501
    FENCE_RETURN_POINT = 5000
    FENCE_POLYGON_VERTEX_INCLUSION = 5001
    FENCE_POLYGON_VERTEX_EXCLUSION = 5002
    FENCE_CIRCLE_INCLUSION = 5003
    FENCE_CIRCLE_EXCLUSION = 5004
    NAV_RALLY_POINT = 5100


class Frame(IntEnum):
    """MAV_FRAME values for mission items. Altitudes: GLOBAL = AMSL, RELATIVE = above home."""

    GLOBAL = 0
    MISSION = 2
    GLOBAL_RELATIVE_ALT = 3
    GLOBAL_INT = 5
    GLOBAL_RELATIVE_ALT_INT = 6
    GLOBAL_TERRAIN_ALT = 10
    GLOBAL_TERRAIN_ALT_INT = 11


#: Commands whose x/y/z are a latitude, longitude and altitude the vehicle flies to.
POSITIONAL_COMMANDS = frozenset(
    {
        Cmd.NAV_WAYPOINT,
        Cmd.NAV_LOITER_UNLIM,
        Cmd.NAV_LOITER_TURNS,
        Cmd.NAV_LOITER_TIME,
        Cmd.NAV_LAND,
        Cmd.NAV_TAKEOFF,
        Cmd.NAV_LOITER_TO_ALT,
        Cmd.NAV_SPLINE_WAYPOINT,
    }
)


def is_positional(command: int) -> bool:
    """True when the item's x/y are a position to fly to (not, e.g., a DO_ command's params)."""
    return command in POSITIONAL_COMMANDS
