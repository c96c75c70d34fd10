"""The simulated multicopter: point-mass kinematics with ArduCopter's limits, attitude, wind and GPS noise.

The state lives in a local frame around home: ``n``/``e`` metres north/east, ``u`` metres up from
home. Each :meth:`Vehicle.step` follows a :class:`Setpoint` chosen by the autopilot the way ArduCopter's
position controller does: a square-root controller on the distance left (so the vehicle brakes in time
at WPNAV_ACCEL), a cross-track correction that keeps it on the straight leg, speed, climb, descent,
acceleration and yaw-rate limits. Ground velocity is what the controller commands (the autopilot
compensates the wind); the wind shows in the attitude: roll and pitch tilt the thrust so that it
provides the commanded acceleration plus the force that cancels the air drag, so the vehicle leans
into the wind. The step is pure Python and deterministic for a given seed.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from sitl.geo import wrap_180

__all__ = ["GRAVITY", "GpsNoise", "Limits", "Setpoint", "Vehicle", "Wind"]

GRAVITY = 9.80665
DRAG = 0.025  # quadratic drag per unit mass, 1/m: ~14 deg of tilt to fly 10 m/s in still air
XY_KP = 1.0  # position gain, 1/s (ArduCopter PSC_POSXY_P)
Z_KP = 1.0  # altitude gain, 1/s (PSC_POSZ_P)
CROSS_KP = 1.0  # cross-track gain, 1/s
YAW_KP = 4.0  # heading gain, 1/s
ATTITUDE_TAU = 0.12  # lag of the attitude behind the demanded tilt, s


@dataclass(slots=True)
class Limits:
    """Kinematic limits in SI units (from the WPNAV_*/ATC_*/ANGLE_MAX parameters)."""

    speed: float = 10.0  # m/s horizontal
    accel: float = 2.5  # m/s/s horizontal
    speed_up: float = 2.5  # m/s
    speed_dn: float = 1.5  # m/s
    accel_z: float = 1.0  # m/s/s
    yaw_rate: float = 60.0  # deg/s
    angle_max: float = 30.0  # deg


@dataclass(slots=True)
class Setpoint:
    """What the autopilot asks for during the next step.

    The vehicle flies towards (``n``, ``e``, ``u``); with ``origin`` it follows the straight leg from
    the origin to the target. ``end_speed`` > 0 lets it pass the target without stopping (a corner).
    ``land`` descends at ``descent`` until the ground, ignoring ``u``. ``yaw`` is the heading to turn
    to (None = keep the current one).
    """

    n: float
    e: float
    u: float
    speed: float
    end_speed: float = 0.0
    origin: tuple[float, float, float] | None = None
    yaw: float | None = None
    land: bool = False
    descent: float = 0.5
    climb: float | None = None  # climb-rate limit overriding Limits.speed_up (take-off)
    track_bearing: float | None = None  # bearing of the leg, for the autopilot's yaw behaviour


def _approach_speed(dist: float, kp: float, accel: float, dt: float) -> float:
    """ArduPilot's sqrt controller: the speed from which the vehicle can still brake over ``dist``."""
    linear = accel / (kp * kp)
    speed = math.sqrt(2.0 * accel * (dist - 0.5 * linear)) if dist > linear else kp * dist
    return min(speed, dist / dt)


class Wind:
    """A constant wind plus seeded gusts (a first-order Gauss-Markov process per axis)."""

    __slots__ = ("_gust_e", "_gust_n", "_rng", "mean_e", "mean_n", "time_constant", "turbulence")

    def __init__(self, speed: float = 0.0, from_deg: float = 0.0, turbulence: float = 0.0, seed: int = 0,
                 time_constant: float = 2.0):
        self._rng = random.Random(seed)
        self._gust_n = 0.0
        self._gust_e = 0.0
        self.time_constant = time_constant
        self.mean_n = 0.0
        self.mean_e = 0.0
        self.turbulence = turbulence
        self.set_mean(speed, from_deg)

    def set_mean(self, speed: float, from_deg: float) -> None:
        """Wind of ``speed`` m/s coming from ``from_deg`` (so blowing towards from_deg + 180)."""
        to = math.radians(from_deg + 180.0)
        self.mean_n = speed * math.cos(to)
        self.mean_e = speed * math.sin(to)

    def step(self, dt: float) -> tuple[float, float]:
        """Advance the gusts by ``dt`` and return the wind velocity (north, east), m/s."""
        if self.turbulence > 0.0:
            a = math.exp(-dt / self.time_constant)
            b = self.turbulence * math.sqrt(1.0 - a * a)
            self._gust_n = a * self._gust_n + b * self._rng.gauss(0.0, 1.0)
            self._gust_e = a * self._gust_e + b * self._rng.gauss(0.0, 1.0)
        return self.mean_n + self._gust_n, self.mean_e + self._gust_e


class GpsNoise:
    """Seeded, time-correlated error of the reported position (north, east, up), metres."""

    __slots__ = ("_rng", "e", "n", "sigma", "time_constant", "u")

    def __init__(self, sigma: float = 0.0, seed: int = 0, time_constant: float = 5.0):
        self._rng = random.Random(seed)
        self.sigma = sigma
        self.time_constant = time_constant
        self.n = self.e = self.u = 0.0

    def step(self, dt: float) -> None:
        """Advance the error by ``dt`` seconds (nothing happens while ``sigma`` is 0)."""
        if self.sigma <= 0.0:
            self.n = self.e = self.u = 0.0
            return
        a = math.exp(-dt / self.time_constant)
        b = self.sigma * math.sqrt(1.0 - a * a)
        g = self._rng.gauss
        self.n = a * self.n + b * g(0.0, 1.0)
        self.e = a * self.e + b * g(0.0, 1.0)
        self.u = a * self.u + 1.5 * b * g(0.0, 1.0)  # GPS altitude is worse than position


class Vehicle:
    """Kinematic multicopter state and its integration step.

    Attributes are plain floats for speed: position ``n``, ``e``, ``u`` (m), velocity ``vn``, ``ve``,
    ``vu`` (m/s), ``roll``, ``pitch``, ``yaw`` (deg; yaw 0-360 clockwise from north), body rates
    (deg/s), ``thrust`` (thrust / weight), ``airspeed`` (m/s), ``path_m`` (horizontal distance flown),
    ``on_ground``.
    """

    __slots__ = (
        "airspeed", "armed", "e", "limits", "n", "on_ground", "path_m", "pitch", "pitch_rate", "roll", "roll_rate",
        "thrust", "u", "ve", "vn", "vu", "yaw", "yaw_rate",
    )

    def __init__(self, yaw: float = 0.0, limits: Limits | None = None):
        self.limits = limits or Limits()
        self.n = self.e = self.u = 0.0
        self.vn = self.ve = self.vu = 0.0
        self.roll = self.pitch = 0.0
        self.yaw = yaw % 360.0
        self.roll_rate = self.pitch_rate = self.yaw_rate = 0.0
        self.thrust = 0.0
        self.airspeed = 0.0
        self.path_m = 0.0
        self.on_ground = True
        self.armed = False

    @property
    def ground_speed(self) -> float:
        return math.hypot(self.vn, self.ve)

    def step(self, dt: float, sp: Setpoint | None, wind: tuple[float, float], ground_u: float) -> None:
        """Advance ``dt`` seconds towards ``sp`` (None = idle) with ``wind`` over ground at ``ground_u``."""
        lim = self.limits
        if not self.armed or sp is None or (self.on_ground and (sp.land or sp.u <= ground_u + 0.05)):
            self._rest(dt, wind, ground_u)
            return

        # Horizontal: velocity demand from the position error, then the acceleration limit.
        dn = sp.n - self.n
        de = sp.e - self.e
        speed = sp.speed if sp.speed > 0.0 else lim.speed
        origin = sp.origin
        if origin is not None and (sp.n - origin[0]) ** 2 + (sp.e - origin[1]) ** 2 > 0.01:
            tn = sp.n - origin[0]
            te = sp.e - origin[1]
            length = math.sqrt(tn * tn + te * te)
            tn /= length
            te /= length
            remaining = dn * tn + de * te  # along the leg
            cn = dn - remaining * tn  # cross-track error vector (towards the leg)
            ce = de - remaining * te
            du_leg = sp.u - origin[2]
            if abs(du_leg) > 0.1:  # a climbing or descending leg: keep the 3D line within the climb limit
                vz_max = (sp.climb or lim.speed_up) if du_leg > 0 else lim.speed_dn
                speed = min(speed, vz_max * length / abs(du_leg))
            if remaining >= 0.0:
                along = _approach_speed(remaining, XY_KP, lim.accel, dt)
                if sp.end_speed > 0.0:
                    along = math.sqrt(along * along + sp.end_speed * sp.end_speed)
            else:
                along = -_approach_speed(-remaining, XY_KP, lim.accel, dt) if sp.end_speed <= 0.0 else sp.end_speed
            along = max(-speed, min(speed, along))
            cross = math.hypot(cn, ce)
            k = min(CROSS_KP, speed / cross) if cross > 1e-9 else 0.0
            vn_d = tn * along + k * cn
            ve_d = te * along + k * ce
            # The vertical target moves along the leg with the vehicle.
            frac = 1.0 - max(0.0, min(1.0, remaining / length))
            u_target = origin[2] + frac * du_leg
        else:
            dist = math.hypot(dn, de)
            if dist > 1e-6:
                v = min(speed, _approach_speed(dist, XY_KP, lim.accel, dt))
                vn_d = dn / dist * v
                ve_d = de / dist * v
            else:
                vn_d = ve_d = 0.0
            u_target = sp.u
        mag = math.hypot(vn_d, ve_d)
        if mag > speed > 0.0:
            vn_d *= speed / mag
            ve_d *= speed / mag
        an = (vn_d - self.vn) / dt
        ae = (ve_d - self.ve) / dt
        a = math.hypot(an, ae)
        if a > lim.accel:
            an *= lim.accel / a
            ae *= lim.accel / a

        # Vertical.
        if sp.land:
            vu_d = -sp.descent
        else:
            err = u_target - self.u
            vu_d = _approach_speed(abs(err), Z_KP, lim.accel_z, dt) * (1.0 if err >= 0 else -1.0)
            vu_d = max(-lim.speed_dn, min(sp.climb or lim.speed_up, vu_d))
        au = max(-lim.accel_z, min(lim.accel_z, (vu_d - self.vu) / dt))

        vn0, ve0 = self.vn, self.ve
        self.vn += an * dt
        self.ve += ae * dt
        self.vu += au * dt
        step_n = 0.5 * (vn0 + self.vn) * dt
        step_e = 0.5 * (ve0 + self.ve) * dt
        self.n += step_n
        self.e += step_e
        self.u += self.vu * dt
        self.path_m += math.sqrt(step_n * step_n + step_e * step_e)
        if self.u <= ground_u:
            self.u = ground_u
            if self.vu < 0.0:
                self.vu = 0.0
            self.on_ground = True
        elif self.u > ground_u + 0.05:
            self.on_ground = False

        self._turn(dt, sp.yaw)
        self._attitude(dt, an, ae, au, wind)

    def _rest(self, dt: float, wind: tuple[float, float], ground_u: float) -> None:
        """On the ground (or disarmed): still, level, on the terrain."""
        self.vn = self.ve = self.vu = 0.0
        if self.u < ground_u or self.on_ground:
            self.u = ground_u
        self.on_ground = self.u <= ground_u + 0.05
        if not self.on_ground:  # disarmed in the air: it falls (a crash); keep it simple
            self.u = ground_u
            self.on_ground = True
        self.roll_rate = -self.roll / dt if abs(self.roll) > 1e-9 else 0.0
        self.pitch_rate = -self.pitch / dt if abs(self.pitch) > 1e-9 else 0.0
        self.roll = self.pitch = 0.0
        self.yaw_rate = 0.0
        self.thrust = 0.0 if not self.armed else 0.1
        self.airspeed = math.hypot(wind[0], wind[1])

    def _turn(self, dt: float, target: float | None) -> None:
        if target is None:
            self.yaw_rate = 0.0
            return
        err = wrap_180(target - self.yaw)
        rate = max(-self.limits.yaw_rate, min(self.limits.yaw_rate, YAW_KP * err))
        if abs(rate * dt) > abs(err):
            rate = err / dt
        self.yaw = (self.yaw + rate * dt) % 360.0
        self.yaw_rate = rate

    def _attitude(self, dt: float, an: float, ae: float, au: float, wind: tuple[float, float]) -> None:
        """Roll and pitch that tilt the thrust to give acceleration (an, ae) against the air drag."""
        air_n = self.vn - wind[0]
        air_e = self.ve - wind[1]
        air = math.hypot(air_n, air_e)
        self.airspeed = air
        # Horizontal specific force the thrust must supply: acceleration minus drag (drag = -DRAG*|v|*v).
        fn = an + DRAG * air * air_n
        fe = ae + DRAG * air * air_e
        fz = GRAVITY + au
        y = math.radians(self.yaw)
        fwd = fn * math.cos(y) + fe * math.sin(y)
        right = -fn * math.sin(y) + fe * math.cos(y)
        pitch_d = -math.degrees(math.atan2(fwd, fz))  # nose down (negative) to go forwards
        roll_d = math.degrees(math.atan2(right, math.hypot(fz, fwd)))
        tilt = math.hypot(roll_d, pitch_d)
        if tilt > self.limits.angle_max:
            roll_d *= self.limits.angle_max / tilt
            pitch_d *= self.limits.angle_max / tilt
        k = min(1.0, dt / ATTITUDE_TAU)
        droll = (roll_d - self.roll) * k
        dpitch = (pitch_d - self.pitch) * k
        self.roll += droll
        self.pitch += dpitch
        self.roll_rate = droll / dt
        self.pitch_rate = dpitch / dt
        self.thrust = math.sqrt(fn * fn + fe * fe + fz * fz) / GRAVITY
