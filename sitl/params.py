"""The vehicle's parameters: an ArduCopter-like set, with ArduPilot's names, units and types.

Every parameter listed here drives the simulation (see the comment beside each); the parameter
protocol (list/read/set) serves this table. Like ArduPilot, a set with an unknown name is ignored,
and integer parameters are rounded to their type.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sitl.mav import mavlink

__all__ = ["PARAM_SPECS", "ParamSpec", "Params"]

INT8 = mavlink.MAV_PARAM_TYPE_INT8
INT16 = mavlink.MAV_PARAM_TYPE_INT16
INT32 = mavlink.MAV_PARAM_TYPE_INT32
REAL32 = mavlink.MAV_PARAM_TYPE_REAL32


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """One parameter: name (<= 16 characters), default value, MAV_PARAM_TYPE, read-only flag."""

    name: str
    default: float
    ptype: int = REAL32
    read_only: bool = False


PARAM_SPECS: tuple[ParamSpec, ...] = (
    # Navigation (cm, cm/s, cm/s/s as in ArduCopter).
    ParamSpec("WPNAV_SPEED", 1000, REAL32),  # horizontal speed in AUTO/GUIDED
    ParamSpec("WPNAV_SPEED_UP", 250, REAL32),  # climb rate
    ParamSpec("WPNAV_SPEED_DN", 150, REAL32),  # descent rate
    ParamSpec("WPNAV_ACCEL", 250, REAL32),  # horizontal acceleration
    ParamSpec("WPNAV_ACCEL_Z", 100, REAL32),  # vertical acceleration
    ParamSpec("WPNAV_RADIUS", 200, REAL32),  # waypoint acceptance radius
    ParamSpec("WP_YAW_BEHAVIOR", 2, INT8),  # 0 keep, 1 face next WP, 2 face next WP except RTL, 3 face course
    ParamSpec("ATC_SLEW_YAW", 6000, REAL32),  # yaw rate limit, cdeg/s
    ParamSpec("ANGLE_MAX", 3000, INT16),  # tilt limit, cdeg
    ParamSpec("PILOT_SPEED_UP", 250, INT16),  # climb rate of GUIDED take-off, cm/s
    # Return and landing.
    ParamSpec("RTL_ALT", 1500, INT16),  # return altitude above home, cm (0 = current)
    ParamSpec("RTL_ALT_FINAL", 0, INT16),  # final altitude, cm (0 = land)
    ParamSpec("RTL_SPEED", 0, INT16),  # return speed, cm/s (0 = WPNAV_SPEED)
    ParamSpec("RTL_LOIT_TIME", 5000, INT32),  # hover over home before descending, ms
    ParamSpec("RTL_CLIMB_MIN", 0, INT16),  # minimum climb before returning, cm
    ParamSpec("LAND_SPEED", 50, INT16),  # final descent rate, cm/s
    ParamSpec("LAND_SPEED_HIGH", 0, INT16),  # descent rate above LAND_ALT_LOW (0 = WPNAV_SPEED_DN)
    ParamSpec("LAND_ALT_LOW", 1000, INT16),  # height where the final descent begins, cm
    ParamSpec("DISARM_DELAY", 10, INT8),  # disarm after this long on the ground without take-off, s (0 = never)
    # Geofence.
    ParamSpec("FENCE_ENABLE", 0, INT8),
    ParamSpec("FENCE_TYPE", 7, INT8),  # bits: 1 max altitude, 2 circle around home, 4 polygons/circles, 8 min alt
    ParamSpec("FENCE_ACTION", 1, INT8),  # 0 report, 1 RTL or land, 2 land, 3/5 (Smart)RTL or land, 4 brake or land
    ParamSpec("FENCE_ALT_MAX", 100, REAL32),  # m above home
    ParamSpec("FENCE_ALT_MIN", -10, REAL32),  # m above home
    ParamSpec("FENCE_RADIUS", 300, REAL32),  # circle around home, m
    ParamSpec("FENCE_MARGIN", 2, REAL32),  # m kept from the fence by RTL
    # Battery (3S pack).
    ParamSpec("BATT_MONITOR", 4, INT8),
    ParamSpec("BATT_CAPACITY", 5200, INT32),  # mAh
    ParamSpec("BATT_LOW_VOLT", 10.5, REAL32),  # 0 = disabled
    ParamSpec("BATT_CRT_VOLT", 0, REAL32),
    ParamSpec("BATT_LOW_MAH", 0, REAL32),  # remaining mAh
    ParamSpec("BATT_CRT_MAH", 0, REAL32),
    ParamSpec("BATT_LOW_TIMER", 10, INT8),  # voltage must stay low this long, s
    ParamSpec("BATT_FS_LOW_ACT", 2, INT8),  # 0 none, 1 land, 2 RTL, 3 SmartRTL or RTL, 4 SmartRTL or land
    ParamSpec("BATT_FS_CRT_ACT", 1, INT8),
    ParamSpec("BATT_ARM_VOLT", 0, REAL32),  # minimum voltage to arm
    # Arming, ids, modes.
    ParamSpec("ARMING_CHECK", 1, INT32),  # 0 = skip pre-arm checks
    ParamSpec("SYSID_THISMAV", 1, INT16),  # like ArduPilot, takes effect at the next boot (--sysid)
    ParamSpec("SYSID_MYGCS", 255, INT16),
    ParamSpec("AUTO_OPTIONS", 0, INT32),  # bit 0: allow arming in AUTO, bit 1: take off without throttle raise
    ParamSpec("MIS_TOTAL", 0, INT16, read_only=True),  # mission items stored (home included)
    ParamSpec("MIS_RESTART", 0, INT8),  # 0 resume the mission on re-entering AUTO, 1 restart it
    ParamSpec("RALLY_TOTAL", 0, INT8, read_only=True),
    ParamSpec("RALLY_INCL_HOME", 1, INT8),  # RTL may choose home when it is nearer than any rally point
    ParamSpec("FRAME_CLASS", 1, INT8),  # quad
    ParamSpec("FRAME_TYPE", 1, INT8),  # X
    # Camera (ArduPilot <= 4.4 names).
    ParamSpec("CAM_TRIGG_DIST", 0, REAL32),  # distance trigger, m (0 = off); DO_SET_CAM_TRIGG_DIST sets it
    ParamSpec("CAM_AUTO_ONLY", 0, INT8),  # distance trigger only in AUTO
    ParamSpec("CAM_FOC_LEN", 0, REAL32),  # focal length reported in CAMERA_FEEDBACK, mm
    # Simulation.
    ParamSpec("SIM_SPEEDUP", 1, REAL32),  # real-time multiple
    ParamSpec("SIM_WIND_SPD", 0, REAL32),  # m/s
    ParamSpec("SIM_WIND_DIR", 0, REAL32),  # direction the wind comes from, deg
    ParamSpec("SIM_WIND_TURB", 0, REAL32),  # gust standard deviation, m/s
    ParamSpec("SIM_GPS_NOISE", 0, REAL32),  # reported-position noise (1 sigma, m)
    ParamSpec("SIM_BATT_VOLTAGE", 12.6, REAL32),  # full-charge voltage
    ParamSpec("SIM_BATT_CAP_AH", 0, REAL32),  # unused; BATT_CAPACITY sizes the pack
)


class Params:
    """Current parameter values, in ArduPilot's order, with change listeners.

    Readers use :meth:`get` (or ``params[name]``); the parameter protocol uses :meth:`set`, which
    returns False for unknown or read-only names, and :meth:`entry` for PARAM_VALUE fields.
    """

    def __init__(self, specs: tuple[ParamSpec, ...] = PARAM_SPECS, overrides: dict[str, float] | None = None):
        self._specs = {s.name: s for s in specs}
        self._order = [s.name for s in specs]
        self._index = {name: i for i, name in enumerate(self._order)}
        self._values = {s.name: float(s.default) for s in specs}
        self._listeners: list[Callable[[str, float], None]] = []
        for name, value in (overrides or {}).items():
            self._store(name, value)

    def __len__(self) -> int:
        return len(self._order)

    def __getitem__(self, name: str) -> float:
        return self._values[name]

    def get(self, name: str) -> float:
        """The value of ``name`` (KeyError if unknown: a typo in the simulator is a bug)."""
        return self._values[name]

    def names(self) -> list[str]:
        """Parameter names in index order."""
        return list(self._order)

    def name_at(self, index: int) -> str | None:
        """The name at ``index``, or None when out of range."""
        return self._order[index] if 0 <= index < len(self._order) else None

    def entry(self, name: str) -> tuple[float, int, int]:
        """(value, MAV_PARAM_TYPE, index) for a PARAM_VALUE message."""
        return self._values[name], self._specs[name].ptype, self._index[name]

    def knows(self, name: str) -> bool:
        return name in self._specs

    def on_change(self, listener: Callable[[str, float], None]) -> None:
        """Call ``listener(name, value)`` after every change."""
        self._listeners.append(listener)

    def set(self, name: str, value: float) -> bool:
        """Set a parameter as a GCS would; False (nothing changed) for unknown or read-only names."""
        spec = self._specs.get(name)
        if spec is None or spec.read_only:
            return False
        self._store(name, value)
        return True

    def set_internal(self, name: str, value: float) -> None:
        """Set a parameter from inside the vehicle (read-only counters such as MIS_TOTAL included)."""
        self._store(name, value)

    def _store(self, name: str, value: float) -> None:
        spec = self._specs[name]
        value = float(value)
        if spec.ptype != REAL32:
            value = float(round(value))
        if self._values[name] == value:
            return
        self._values[name] = value
        for listener in self._listeners:
            listener(name, value)
