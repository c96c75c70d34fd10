"""Navigation tasks: what the vehicle is doing right now, turned into a :class:`Setpoint` each step.

A task is one manoeuvre (hold, take off, fly to a point, land, return to launch). Flight modes and
mission commands are built from them: GUIDED take-off is a :class:`Takeoff`, a mission waypoint a
:class:`Goto`, RTL mode and NAV_RETURN_TO_LAUNCH both an :class:`Rtl`. A task reports ``done`` when
it has finished (a hold never finishes). Yaw is left to the autopilot, which applies ROI, fixed yaw
and WP_YAW_BEHAVIOR on top of the ``track_bearing`` a task reports.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from sitl.geo import bearing_deg
from sitl.params import Params
from sitl.vehicle import Setpoint, Vehicle

__all__ = ["AltFn", "Goto", "Hold", "Land", "Rtl", "Takeoff", "Task"]

#: Target altitude (m above home) as a function of the position (n, e): constant, or terrain-following.
AltFn = Callable[[float, float], float]

LANDED_AFTER_S = 1.0  # on the ground and still for this long = landed (ArduCopter's land detector)


def const_alt(u: float) -> AltFn:
    """An altitude target that does not depend on the position."""
    return lambda n, e: u


class Task:
    """Base class: ``step`` returns the setpoint for the next physics step."""

    done: bool = False
    is_rtl: bool = False
    speed: float = 0.0  # horizontal speed, m/s (the autopilot changes it on DO_CHANGE_SPEED)

    def step(self, v: Vehicle, t: float, ground_u: float) -> Setpoint | None:
        raise NotImplementedError


class Hold(Task):
    """Stay at a point (LOITER, BRAKE, end of a mission, on the ground: idle)."""

    def __init__(self, n: float, e: float, u: float, speed: float):
        self.n, self.e, self.u, self.speed = n, e, u, speed

    @classmethod
    def here(cls, v: Vehicle, speed: float) -> Hold:
        """Hold where the vehicle will be once it has braked (so a fast vehicle does not turn back)."""
        gs = v.ground_speed
        if gs > 0.1:
            stop = gs * gs / (2.0 * max(v.limits.accel, 0.1))
            return cls(v.n + v.vn / gs * stop, v.e + v.ve / gs * stop, v.u, speed)
        return cls(v.n, v.e, v.u, speed)

    def step(self, v: Vehicle, t: float, ground_u: float) -> Setpoint | None:
        if v.on_ground:
            return None
        return Setpoint(self.n, self.e, self.u, self.speed)


class Takeoff(Task):
    """Climb vertically to ``u`` (m above home) at ``climb`` m/s."""

    def __init__(self, v: Vehicle, u: float, climb: float, speed: float):
        self.n, self.e, self.u, self.climb, self.speed = v.n, v.e, u, climb, speed

    def step(self, v: Vehicle, t: float, ground_u: float) -> Setpoint | None:
        if v.u >= self.u - 0.1:
            self.done = True
        return Setpoint(self.n, self.e, self.u, self.speed, climb=self.climb)


class Goto(Task):
    """Fly the straight leg from ``origin`` to (``n``, ``e``) at altitude ``alt``; optionally hold there.

    Reached when within ``radius`` horizontally (and 1 m or ``radius`` vertically), or when a
    pass-through leg (``end_speed`` > 0) has gone past the target. ``hold_s`` > 0 then hovers at the
    point for that long; ``hold_s`` = inf holds for ever (NAV_LOITER_UNLIM, the end of a mission).
    """

    def __init__(self, origin: tuple[float, float, float], n: float, e: float, alt: AltFn, speed: float,
                 radius: float, hold_s: float = 0.0, end_speed: float = 0.0, terrain: bool = False):
        self.origin = origin
        self.n, self.e, self.alt, self.speed = n, e, alt, speed
        self.radius = max(radius, 0.1)
        self.hold_s = hold_s
        self.end_speed = end_speed if hold_s <= 0 else 0.0
        self.terrain = terrain
        self.reached = False
        self.reached_t = 0.0
        length = math.hypot(n - origin[0], e - origin[1])
        self._bearing = bearing_deg(n - origin[0], e - origin[1]) if length > 1.0 else None
        self._unit = ((n - origin[0]) / length, (e - origin[1]) / length) if length > 1e-6 else (0.0, 0.0)

    def step(self, v: Vehicle, t: float, ground_u: float) -> Setpoint | None:
        target_u = self.alt(self.n, self.e)
        if not self.reached:
            dn = self.n - v.n
            de = self.e - v.e
            passed = self.end_speed > 0.0 and dn * self._unit[0] + de * self._unit[1] < 0.0
            if passed or (math.hypot(dn, de) <= self.radius and abs(target_u - v.u) <= max(1.0, self.radius)):
                self.reached = True
                self.reached_t = t
                if self.hold_s <= 0.0:
                    self.done = True
        elif t - self.reached_t >= self.hold_s:
            self.done = True
        if self.reached:
            return Setpoint(self.n, self.e, target_u, self.speed)
        if self.terrain:  # terrain following: the height above the ground under the vehicle
            u_here = self.alt(v.n, v.e)
            origin = (self.origin[0], self.origin[1], u_here)
            return Setpoint(self.n, self.e, u_here, self.speed, self.end_speed, origin,
                            track_bearing=self._bearing)
        return Setpoint(self.n, self.e, target_u, self.speed, self.end_speed, self.origin,
                        track_bearing=self._bearing)


class Land(Task):
    """Descend to the ground (at the LAND_* rates), optionally after flying to (``n``, ``e``)."""

    def __init__(self, params: Params, v: Vehicle, speed: float, n: float | None = None, e: float | None = None,
                 radius: float = 2.0):
        self.params = params
        self.speed = speed
        self._goto = None
        if n is not None and e is not None and math.hypot(n - v.n, e - v.e) > radius:
            self._goto = Goto((v.n, v.e, v.u), n, e, const_alt(v.u), speed, radius)
        self.n = v.n if n is None else n
        self.e = v.e if e is None else e
        self._ground_since: float | None = None

    def descent_rate(self, agl: float) -> float:
        """LAND_SPEED below LAND_ALT_LOW, else LAND_SPEED_HIGH (or WPNAV_SPEED_DN), m/s."""
        p = self.params
        if agl > p["LAND_ALT_LOW"] / 100.0:
            high = p["LAND_SPEED_HIGH"] or p["WPNAV_SPEED_DN"]
            return max(high / 100.0, 0.1)
        return max(p["LAND_SPEED"] / 100.0, 0.1)

    def step(self, v: Vehicle, t: float, ground_u: float) -> Setpoint | None:
        if self._goto is not None and not self._goto.done:
            self._goto.speed = self.speed
            return self._goto.step(v, t, ground_u)
        if v.on_ground:
            if self._ground_since is None:
                self._ground_since = t
            elif t - self._ground_since >= LANDED_AFTER_S:
                self.done = True
            return None
        self._ground_since = None
        return Setpoint(self.n, self.e, ground_u, self.speed, land=True, descent=self.descent_rate(v.u - ground_u))


class Rtl(Task):
    """Return to launch: climb to the return altitude, fly home (or to the nearest rally point),
    hover RTL_LOIT_TIME, then land (or descend to RTL_ALT_FINAL and hold there)."""

    is_rtl = True

    def __init__(self, params: Params, v: Vehicle, dest: tuple[float, float, float], speed: float,
                 alt_cap: float = math.inf):
        """``dest`` is (n, e, return altitude above home or NaN for RTL_ALT); ``alt_cap`` a fence ceiling."""
        self.params = params
        self.speed = speed
        rtl_alt = params["RTL_ALT"] / 100.0 if math.isnan(dest[2]) else dest[2]
        climb_min = params["RTL_CLIMB_MIN"] / 100.0
        self.u = min(max(v.u + climb_min, rtl_alt if rtl_alt > 0 else v.u), max(alt_cap, v.u))
        self.dest = (dest[0], dest[1])
        self.stage = "climb"
        self._task: Task = Takeoff(v, self.u, v.limits.speed_up, speed) if v.u < self.u - 0.1 else Hold.here(v, speed)
        if v.u >= self.u - 0.1:
            self._start_return(v)

    def _start_return(self, v: Vehicle) -> None:
        self.stage = "return"
        radius = self.params["WPNAV_RADIUS"] / 100.0
        self._task = Goto((v.n, v.e, v.u), self.dest[0], self.dest[1], const_alt(self.u), self.speed, radius,
                          hold_s=self.params["RTL_LOIT_TIME"] / 1000.0)

    def step(self, v: Vehicle, t: float, ground_u: float) -> Setpoint | None:
        task = self._task
        task.speed = self.speed
        sp = task.step(v, t, ground_u)
        if not task.done:
            return sp
        if self.stage == "climb":
            self._start_return(v)
        elif self.stage == "return":
            final = self.params["RTL_ALT_FINAL"] / 100.0
            if final > 0:
                self.stage = "final"
                self._task = Goto((v.n, v.e, v.u), self.dest[0], self.dest[1], const_alt(final), self.speed, 1.0,
                                  hold_s=math.inf)
            else:
                self.stage = "land"
                self._task = Land(self.params, v, self.speed)
        elif self.stage == "land":
            self.done = True
            return None
        return self._task.step(v, t, ground_u)
