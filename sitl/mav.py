"""The MAVLink the SITL speaks: MAVLink 2 with the ``ardupilotmega`` dialect, and ArduCopter's numbers.

pymavlink picks the protocol version from the ``MAVLINK20`` environment variable when ``mavutil`` is
imported, so it is set here, before any pymavlink import in this process. The SITL itself imports the
v2.0 dialect module directly (it never uses ``mavutil``'s global dialect), so two links in one process
cannot disagree about it.
"""

from __future__ import annotations

import os

os.environ["MAVLINK20"] = "1"  # must precede every pymavlink import (mavutil reads it once, at import)

from enum import IntEnum

from pymavlink.dialects.v20 import ardupilotmega as mavlink

__all__ = ["CopterMode", "MavResult", "MissionResult", "MissionType", "mavlink"]


class CopterMode(IntEnum):
    """ArduCopter flight modes (HEARTBEAT.custom_mode) the SITL flies.

    Without a radio, STABILIZE, ALT_HOLD, LOITER, POSHOLD and BRAKE all hold position when airborne.
    """

    STABILIZE = 0
    ALT_HOLD = 2
    AUTO = 3
    GUIDED = 4
    LOITER = 5
    RTL = 6
    LAND = 9
    POSHOLD = 16
    BRAKE = 17


class MavResult(IntEnum):
    """MAV_RESULT values of COMMAND_ACK."""

    ACCEPTED = 0
    TEMPORARILY_REJECTED = 1
    DENIED = 2
    UNSUPPORTED = 3
    FAILED = 4
    IN_PROGRESS = 5


class MissionResult(IntEnum):
    """MAV_MISSION_RESULT values of MISSION_ACK."""

    ACCEPTED = 0
    ERROR = 1
    UNSUPPORTED_FRAME = 2
    UNSUPPORTED = 3
    NO_SPACE = 4
    INVALID = 5
    INVALID_PARAM1 = 6
    INVALID_PARAM2 = 7
    INVALID_PARAM3 = 8
    INVALID_PARAM4 = 9
    INVALID_PARAM5_X = 10
    INVALID_PARAM6_Y = 11
    INVALID_PARAM7 = 12
    INVALID_SEQUENCE = 13
    DENIED = 14
    OPERATION_CANCELLED = 15


class MissionType(IntEnum):
    """MAV_MISSION_TYPE: the three plans a vehicle stores (ALL only in MISSION_CLEAR_ALL)."""

    MISSION = 0
    FENCE = 1
    RALLY = 2
    ALL = 255
