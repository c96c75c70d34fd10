"""The simulated ArduCopter: flight modes, arming, commands, failsafes, camera and gimbal.

:class:`Autopilot` owns the vehicle model, battery, stored plans and mission runner, and advances
them one physics step at a time (:meth:`Autopilot.step`). It answers the command protocol
(:meth:`command`, returning a MAV_RESULT) and sends what ArduCopter sends on its own: STATUSTEXT,
MISSION_CURRENT, MISSION_ITEM_REACHED, HOME_POSITION and CAMERA_FEEDBACK. Position is kept in a
local frame around the boot position: ``u`` is height above the boot altitude (the *datum*); home
may move later (arming, DO_SET_HOME), so relative altitudes are converted through :meth:`rel_to_u`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from mission.commands import Cmd, Frame
from sitl.battery import Battery
from sitl.clock import SimClock
from sitl.fence import FENCE_ALT_MAX, Fence, parse_fence
from sitl.geo import FlatEarth, bearing_deg, wrap_180, wrap_360
from sitl.items import StoredItem
from sitl.mav import CopterMode, MavResult, MissionResult, MissionType, mavlink
from sitl.mission_runner import STATE_ACTIVE, MissionRunner
from sitl.nav import AltFn, Goto, Hold, Land, Rtl, Takeoff, Task, const_alt
from sitl.outbox import Outbox
from sitl.params import Params
from sitl.terrain import TerrainFn
from sitl.triggers import CameraTriggers, TriggerEvent
from sitl.vehicle import GpsNoise, Limits, Setpoint, Vehicle, Wind

__all__ = ["Autopilot", "AutopilotConfig", "Gimbal", "Home"]

FORCE_ARM = 21196  # MAV_CMD_COMPONENT_ARM_DISARM p2 magic that skips checks
ARMABLE_MODES = {CopterMode.STABILIZE, CopterMode.ALT_HOLD, CopterMode.GUIDED, CopterMode.LOITER,
                 CopterMode.POSHOLD}
POSITION_MODES = {CopterMode.AUTO, CopterMode.GUIDED, CopterMode.LOITER, CopterMode.RTL, CopterMode.LAND,
                  CopterMode.POSHOLD, CopterMode.BRAKE}
FS_NONE, FS_LAND, FS_RTL, FS_SMARTRTL_RTL, FS_SMARTRTL_LAND, FS_TERMINATE = 0, 1, 2, 3, 4, 5


@dataclass(slots=True)
class Home:
    """The home position (RTL destination; relative altitudes are above ``alt_amsl``)."""

    lat: float
    lon: float
    alt_amsl: float


@dataclass(slots=True)
class Gimbal:
    """Camera gimbal: earth-frame pitch/roll (stabilised) and yaw relative to the vehicle or locked."""

    pitch: float = -90.0
    roll: float = 0.0
    yaw: float = 0.0  # relative to the vehicle's nose, or a compass heading when yaw_lock
    yaw_lock: bool = False

    def heading(self, vehicle_yaw: float) -> float:
        """Compass heading the camera looks along."""
        return wrap_360(self.yaw if self.yaw_lock else vehicle_yaw + self.yaw)


@dataclass(slots=True)
class AutopilotConfig:
    """Start-up settings that are not parameters."""

    home_lat: float
    home_lon: float
    home_alt: float = 0.0
    heading: float = 0.0
    seed: int = 0
    gps_fix_after_s: float = 1.0
    ekf_ready_after_s: float = 5.0
    max_mission_items: int = 718
    max_fence_items: int = 256
    max_rally_items: int = 32


class Autopilot:
    """ArduCopter behaviour over a :class:`~sitl.vehicle.Vehicle`."""

    def __init__(self, config: AutopilotConfig, params: Params, clock: SimClock, out: Outbox,
                 terrain: TerrainFn, on_trigger: Callable[[TriggerEvent, tuple[float, float, float]], None]):
        self.config = config
        self.params = params
        self.clock = clock
        self.out = out
        self.terrain = terrain
        self._on_trigger = on_trigger
        self.frame = FlatEarth(config.home_lat, config.home_lon)
        self.datum = config.home_alt
        self.vehicle = Vehicle(config.heading)
        self.vehicle.u = self.ground_u(0.0, 0.0)
        self.home = Home(config.home_lat, config.home_lon, self.datum + self.vehicle.u)
        self.home_changed = False
        self.battery = Battery(params["BATT_CAPACITY"], params["SIM_BATT_VOLTAGE"])
        self.wind = Wind(params["SIM_WIND_SPD"], params["SIM_WIND_DIR"], params["SIM_WIND_TURB"], config.seed)
        self.gps_noise = GpsNoise(params["SIM_GPS_NOISE"], config.seed + 1)
        self.triggers = CameraTriggers()
        self.gimbal = Gimbal()
        self.runner = MissionRunner(self)
        self.mode = CopterMode.STABILIZE
        self.task: Task | None = None
        self.fixed_yaw: float | None = None
        self.roi: tuple[float, float, float] | None = None  # n, e, u
        self.speed_override: float | None = None
        self.gps_fix = False
        self.ekf_ready = False
        self.auto_armed = False
        self.fence_enabled = params["FENCE_ENABLE"] == 1
        self.fence = Fence()
        self._fence_breached: list[str] = []
        self.rally: list[StoredItem] = []
        self.mission_items: list[StoredItem] = []
        self.fence_items: list[StoredItem] = []
        self.battery_failsafe = 0  # 0 none, 1 low, 2 critical
        self._batt_low_since: float | None = None
        self._batt_crit_since: float | None = None
        self._idle_since: float | None = None
        self._wind_now = (0.0, 0.0)
        self._next_slow = 0.0
        self.listeners_mission_current: list[Callable[[], None]] = []
        params.on_change(self._param_changed)
        self._apply_limits()

    # -- geometry helpers -------------------------------------------------------------------------
    @property
    def armed(self) -> bool:
        return self.vehicle.armed

    def ground_u(self, n: float, e: float) -> float:
        """Ground height at (n, e) above the datum."""
        lat, lon = self.frame.to_latlon(n, e)
        return self.terrain(lat, lon) - self.datum

    def rel_to_u(self, alt_rel: float) -> float:
        return alt_rel + self.home.alt_amsl - self.datum

    @property
    def alt_rel(self) -> float:
        """True altitude above home, m."""
        return self.vehicle.u + self.datum - self.home.alt_amsl

    def alt_target(self, it: StoredItem, n: float, e: float) -> AltFn:
        """The altitude an item asks for, by frame: relative to home, AMSL, or above the terrain."""
        if it.frame in (Frame.GLOBAL, Frame.GLOBAL_INT):
            return const_alt(it.z - self.datum)
        if it.frame in (Frame.GLOBAL_TERRAIN_ALT, Frame.GLOBAL_TERRAIN_ALT_INT):
            z = it.z
            return lambda pn, pe: self.ground_u(pn, pe) + z
        return const_alt(self.rel_to_u(it.z))

    @property
    def nav_speed(self) -> float:
        """Horizontal speed for AUTO/GUIDED legs, m/s (DO_CHANGE_SPEED overrides WPNAV_SPEED)."""
        return self.speed_override if self.speed_override is not None else self.params["WPNAV_SPEED"] / 100.0

    @property
    def wp_radius(self) -> float:
        return max(self.params["WPNAV_RADIUS"] / 100.0, 0.05)

    def position(self) -> tuple[float, float, float]:
        """True latitude, longitude, altitude AMSL."""
        lat, lon = self.frame.to_latlon(self.vehicle.n, self.vehicle.e)
        return lat, lon, self.vehicle.u + self.datum

    def reported_position(self) -> tuple[float, float, float]:
        """Position as the vehicle reports it (truth + GPS error)."""
        v, g = self.vehicle, self.gps_noise
        lat, lon = self.frame.to_latlon(v.n + g.n, v.e + g.e)
        return lat, lon, v.u + g.u + self.datum

    # -- parameters -------------------------------------------------------------------------------
    def _apply_limits(self) -> None:
        p = self.params
        self.vehicle.limits = Limits(
            speed=max(p["WPNAV_SPEED"] / 100.0, 0.2), accel=max(p["WPNAV_ACCEL"] / 100.0, 0.5),
            speed_up=max(p["WPNAV_SPEED_UP"] / 100.0, 0.1), speed_dn=max(p["WPNAV_SPEED_DN"] / 100.0, 0.1),
            accel_z=max(p["WPNAV_ACCEL_Z"] / 100.0, 0.2), yaw_rate=max(p["ATC_SLEW_YAW"] / 100.0, 1.0),
            angle_max=max(p["ANGLE_MAX"] / 100.0, 5.0))

    def _param_changed(self, name: str, value: float) -> None:
        if name.startswith(("WPNAV_", "ATC_", "ANGLE_")):
            self._apply_limits()
        elif name == "WPNAV_SPEED":
            self.speed_override = None
        elif name in ("SIM_WIND_SPD", "SIM_WIND_DIR"):
            self.wind.set_mean(self.params["SIM_WIND_SPD"], self.params["SIM_WIND_DIR"])
        elif name == "SIM_WIND_TURB":
            self.wind.turbulence = value
        elif name == "SIM_GPS_NOISE":
            self.gps_noise.sigma = value
        elif name == "BATT_CAPACITY":
            self.battery.capacity_mah = value
        elif name == "FENCE_ENABLE":
            self.fence_enabled = value == 1
        elif name == "CAM_TRIGG_DIST" and value != self.triggers.distance_m:
            self.triggers.set_distance(value)

    # -- stored plans (PlanHost for the mission protocol) -------------------------------------------
    def plan_items(self, mission_type: int) -> list[StoredItem]:
        """Items as a GCS downloads them; mission item 0 is the current home."""
        if mission_type == MissionType.MISSION:
            home = StoredItem(Cmd.NAV_WAYPOINT, Frame.GLOBAL, 0, 0, 0, 0, round(self.home.lat * 1e7),
                              round(self.home.lon * 1e7), self.home.alt_amsl)
            return [home, *self.mission_items[1:]]
        if mission_type == MissionType.FENCE:
            return list(self.fence_items)
        return list(self.rally)

    def commit_plan(self, mission_type: int, items: list[StoredItem]) -> MissionResult:
        """Store a completely received plan (the previous one stays on any error)."""
        if mission_type == MissionType.MISSION:
            self.mission_items = list(items)
            self.runner.load(self.mission_items)
            self.params.set_internal("MIS_TOTAL", len(items))
            self.mission_current_changed()
        elif mission_type == MissionType.FENCE:
            fence, result = parse_fence(items, self.frame)
            if result != MissionResult.ACCEPTED:
                return result
            self.fence_items = list(items)
            self.fence = fence
        else:
            self.rally = list(items)
            self.params.set_internal("RALLY_TOTAL", len(items))
        return MissionResult.ACCEPTED

    def clear_plan(self, mission_type: int) -> bool:
        """Clear a plan; a mission running in AUTO in the air cannot be cleared (ArduPilot refuses)."""
        running = self.mode == CopterMode.AUTO and not self.vehicle.on_ground and self.runner.state == STATE_ACTIVE
        if mission_type in (MissionType.MISSION, MissionType.ALL) and running:
            return False
        if mission_type in (MissionType.MISSION, MissionType.ALL):
            self.commit_plan(MissionType.MISSION, [])
        if mission_type in (MissionType.FENCE, MissionType.ALL):
            self.commit_plan(MissionType.FENCE, [])
        if mission_type in (MissionType.RALLY, MissionType.ALL):
            self.commit_plan(MissionType.RALLY, [])
        return True

    def mission_current_changed(self) -> None:
        for listener in self.listeners_mission_current:
            listener()

    def reset_mission_effects(self) -> None:
        """A mission (re)started from item 1: speed, ROI and yaw overrides are dropped."""
        self.speed_override = None
        self.roi = None
        self.fixed_yaw = None

    # -- modes and arming ------------------------------------------------------------------------
    def set_mode(self, mode: int, from_mission_start: bool = False) -> bool:
        """Change flight mode as ArduCopter would; False (with a STATUSTEXT) when refused."""
        try:
            mode = CopterMode(mode)
        except ValueError:
            return False
        v = self.vehicle
        if mode in POSITION_MODES and not self.ekf_ready:
            self.out.statustext(f"Mode change to {mode.name} failed: requires position", mavlink.MAV_SEVERITY_WARNING)
            return False
        if mode == CopterMode.AUTO:
            first = self.runner.first_nav_from(self.runner.resume_index())
            if self.armed and v.on_ground and (first is None or first.command != Cmd.NAV_TAKEOFF):
                self.out.statustext("Auto: Missing Takeoff Cmd", mavlink.MAV_SEVERITY_CRITICAL)
                return False
        if self.mode == CopterMode.AUTO and mode != CopterMode.AUTO:
            self.runner.stop()
        self.mode = mode
        self.auto_armed = from_mission_start or not v.on_ground or bool(int(self.params["AUTO_OPTIONS"]) & 2)
        self._enter_mode()
        return True

    def _enter_mode(self) -> None:
        v = self.vehicle
        mode = self.mode
        self.roi = None if mode != CopterMode.AUTO else self.roi
        if mode != CopterMode.AUTO:
            self.fixed_yaw = None
        if mode == CopterMode.AUTO:
            self.runner.start()
            self.task = None
        elif mode == CopterMode.RTL:
            self.task = self.make_rtl() if not v.on_ground else None
        elif mode == CopterMode.LAND:
            self.task = Land(self.params, v, self.nav_speed) if not v.on_ground else None
        else:
            self.task = Hold.here(v, self.nav_speed) if not v.on_ground else None

    @property
    def active_task(self) -> Task | None:
        return self.runner.task if self.mode == CopterMode.AUTO else self.task

    def make_rtl(self) -> Rtl:
        """An RTL to home or, when nearer, the nearest rally point (RALLY_INCL_HOME)."""
        v = self.vehicle
        hn, he = self.frame.to_ne(self.home.lat, self.home.lon)
        best = (math.hypot(hn - v.n, he - v.e), hn, he, math.nan)
        if self.params["RALLY_INCL_HOME"] == 0 and self.rally:
            best = (math.inf, hn, he, math.nan)
        for r in self.rally:
            rn, re = self.frame.to_ne(r.lat, r.lon)
            d = math.hypot(rn - v.n, re - v.e)
            if d < best[0]:
                best = (d, rn, re, self.rel_to_u(r.z))
        cap = math.inf
        if self.fence_enabled and int(self.params["FENCE_TYPE"]) & FENCE_ALT_MAX:
            cap = self.rel_to_u(self.params["FENCE_ALT_MAX"] - self.params["FENCE_MARGIN"])
        dest_u = best[3]
        if math.isnan(dest_u):
            rtl_alt = self.params["RTL_ALT"] / 100.0
            dest_u = self.rel_to_u(rtl_alt) if rtl_alt > 0 else v.u
        speed = self.params["RTL_SPEED"] / 100.0 or self.nav_speed
        return Rtl(self.params, v, (best[1], best[2], dest_u), speed, cap)

    def prearm_failure(self) -> str | None:
        """The first failing pre-arm check, as ArduPilot words it, or None."""
        if not self.gps_fix:
            return "PreArm: Need 3D Fix"
        if not self.ekf_ready:
            return "PreArm: AHRS: waiting for home"
        p = self.params
        if p["BATT_ARM_VOLT"] > 0 and self.battery.voltage < p["BATT_ARM_VOLT"]:
            return "PreArm: Battery 1 below minimum arming voltage"
        if self.battery_failsafe:
            return "PreArm: Battery 1 low voltage failsafe"
        if self.fence_enabled and self._fence_check():
            return "PreArm: Fence: vehicle outside fence"
        return None

    def arm(self, force: bool = False) -> bool:
        """Arm (pre-arm checks unless forced or ARMING_CHECK = 0); sets home here, as ArduPilot does."""
        if self.armed:
            return True
        if self.mode not in ARMABLE_MODES and not (
            self.mode == CopterMode.AUTO and int(self.params["AUTO_OPTIONS"]) & 1
        ) and not force:
            self.out.statustext("Arm: Mode not armable", mavlink.MAV_SEVERITY_CRITICAL)
            return False
        if not force and self.params["ARMING_CHECK"] != 0:
            failure = self.prearm_failure()
            if failure:
                self.out.statustext(failure, mavlink.MAV_SEVERITY_CRITICAL)
                return False
        if self.ekf_ready:
            lat, lon, alt = self.position()
            self.set_home(lat, lon, alt)
        self.vehicle.armed = True
        self._idle_since = self.clock.t
        return True

    def disarm(self, force: bool = False) -> bool:
        """Disarm; refused in the air unless forced."""
        if not self.armed:
            return True
        if not self.vehicle.on_ground and not force:
            return False
        self.vehicle.armed = False
        self.auto_armed = False
        self.task = None if self.mode != CopterMode.AUTO else self.task
        return True

    def set_home(self, lat: float, lon: float, alt_amsl: float) -> None:
        self.home = Home(lat, lon, alt_amsl)
        self.home_changed = True  # the simulator sends HOME_POSITION

    # -- commands --------------------------------------------------------------------------------
    def command(self, cmd: int, p: tuple[float, ...], frame: int) -> MavResult:
        """COMMAND_LONG/COMMAND_INT (``p`` = params 1-7, with p5/p6 in degrees for located commands)."""
        v = self.vehicle
        if cmd == mavlink.MAV_CMD_COMPONENT_ARM_DISARM:
            force = int(p[1]) == FORCE_ARM
            if p[0] == 1:
                return MavResult.ACCEPTED if self.arm(force) else MavResult.FAILED
            if p[0] == 0:
                return MavResult.ACCEPTED if self.disarm(force) else MavResult.FAILED
            return MavResult.DENIED
        if cmd == Cmd.NAV_TAKEOFF:
            if self.mode != CopterMode.GUIDED or not self.armed or not v.on_ground:
                return MavResult.FAILED
            u = self.rel_to_u(p[6]) if frame not in (Frame.GLOBAL, Frame.GLOBAL_INT) else p[6] - self.datum
            self.task = Takeoff(v, u, max(self.params["PILOT_SPEED_UP"] / 100.0, 0.1), self.nav_speed)
            self._idle_since = None
            return MavResult.ACCEPTED
        if cmd == Cmd.DO_SET_MODE:
            if not int(p[0]) & mavlink.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED:
                return MavResult.UNSUPPORTED
            return MavResult.ACCEPTED if self.set_mode(int(p[1])) else MavResult.FAILED
        if cmd == mavlink.MAV_CMD_MISSION_START:
            if p[0] != 0 or p[1] != 0:
                return MavResult.DENIED
            if self.mode == CopterMode.AUTO and self.runner.state == STATE_ACTIVE:
                self.auto_armed = True
                return MavResult.ACCEPTED
            return MavResult.ACCEPTED if self.set_mode(CopterMode.AUTO, from_mission_start=True) else MavResult.FAILED
        if cmd == Cmd.NAV_RETURN_TO_LAUNCH:
            return MavResult.ACCEPTED if self.set_mode(CopterMode.RTL) else MavResult.FAILED
        if cmd == Cmd.NAV_LAND:
            return MavResult.ACCEPTED if self.set_mode(CopterMode.LAND) else MavResult.FAILED
        if cmd == mavlink.MAV_CMD_DO_SET_MISSION_CURRENT:
            return MavResult.ACCEPTED if self.runner.set_current(int(p[0])) else MavResult.DENIED
        if cmd == 192:  # DO_REPOSITION: fly there in GUIDED
            return self._reposition(p[4], p[5], p[6], frame)
        if cmd == Cmd.DO_SET_HOME:
            if p[0] == 1:
                lat, lon, alt = self.position()
            else:
                lat, lon, alt = p[4], p[5], p[6]
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                return MavResult.DENIED
            self.set_home(lat, lon, alt)
            return MavResult.ACCEPTED
        if self.do_command(cmd, p, frame, in_mission=False):
            return MavResult.ACCEPTED
        return MavResult.UNSUPPORTED

    def _reposition(self, lat: float, lon: float, alt: float, frame: int) -> MavResult:
        v = self.vehicle
        if not self.armed or v.on_ground or not -90 <= lat <= 90:
            return MavResult.FAILED
        if self.mode != CopterMode.GUIDED and not self.set_mode(CopterMode.GUIDED):
            return MavResult.FAILED
        self.guided_goto(lat, lon, alt, frame)
        return MavResult.ACCEPTED

    def guided_goto(self, lat: float, lon: float, alt: float, frame: int) -> bool:
        """GUIDED: fly to a point (SET_POSITION_TARGET_GLOBAL_INT, DO_REPOSITION)."""
        v = self.vehicle
        if self.mode != CopterMode.GUIDED or not self.armed or v.on_ground:
            return False
        n, e = self.frame.to_ne(lat, lon)
        item = StoredItem(Cmd.NAV_WAYPOINT, frame, 0, 0, 0, 0, 0, 0, alt)
        self.task = Goto((v.n, v.e, v.u), n, e, self.alt_target(item, n, e), self.nav_speed, self.wp_radius,
                         hold_s=math.inf)
        return True

    def do_command(self, cmd: int, p: tuple[float, ...], frame: int, in_mission: bool) -> bool:
        """DO_/CONDITION_/camera commands shared by missions and the command protocol; False if unknown."""
        v = self.vehicle
        if cmd == Cmd.DO_CHANGE_SPEED:
            if p[1] > 0:
                self.speed_override = p[1]
            return True
        if cmd == Cmd.CONDITION_YAW:
            target = p[0] if p[3] == 0 else v.yaw + (p[0] if p[2] >= 0 else -p[0])
            self.fixed_yaw = wrap_360(target)
            return True
        if cmd in (Cmd.DO_SET_ROI_LOCATION, Cmd.DO_SET_ROI):
            if p[4] == 0 and p[5] == 0:
                self.roi = None
            else:
                n, e = self.frame.to_ne(p[4], p[5])
                item = StoredItem(cmd, frame, 0, 0, 0, 0, 0, 0, p[6])
                self.roi = (n, e, self.alt_target(item, n, e)(n, e))
            return True
        if cmd == Cmd.DO_SET_ROI_NONE:
            self.roi = None
            self.gimbal.pitch = -90.0
            return True
        if cmd == Cmd.DO_SET_CAM_TRIGG_DIST:
            self.triggers.set_distance(p[0])
            self.params.set_internal("CAM_TRIGG_DIST", max(p[0], 0.0))
            if p[2] == 1 and p[0] > 0:
                self.fire("single")
            return True
        if cmd == Cmd.DO_DIGICAM_CONTROL:
            if p[4] == 1:
                self.fire("single")
            return True
        if cmd == Cmd.DO_SET_CAM_TRIGG_INTERVAL:
            if p[0] > 0:
                self.triggers.start_interval(p[0] / 1000.0, 0, self.clock.t)
            else:
                self.triggers.stop_interval()
            return True
        if cmd == Cmd.IMAGE_START_CAPTURE:
            return self.triggers.start_interval(p[1], int(p[2]), self.clock.t)
        if cmd == Cmd.IMAGE_STOP_CAPTURE:
            self.triggers.stop_interval()
            return True
        if cmd == Cmd.DO_MOUNT_CONTROL:
            self.gimbal.pitch = max(-90.0, min(30.0, p[0]))
            self.gimbal.roll = p[1]
            self.gimbal.yaw = p[2]
            self.gimbal.yaw_lock = False
            return True
        if cmd == Cmd.DO_GIMBAL_MANAGER_PITCHYAW:
            if math.isfinite(p[0]):
                self.gimbal.pitch = max(-90.0, min(30.0, p[0]))
            if math.isfinite(p[1]):
                self.gimbal.yaw = p[1]
                self.gimbal.yaw_lock = bool(int(p[4]) & 16)  # GIMBAL_MANAGER_FLAGS_YAW_LOCK
            return True
        if cmd == Cmd.DO_FENCE_ENABLE:
            self.fence_enabled = int(p[0]) == 1
            return True
        if cmd == Cmd.DO_SET_HOME and in_mission:
            lat, lon, alt = self.position() if p[0] == 1 else (p[4], p[5], p[6])
            self.set_home(lat, lon, alt)
            return True
        if cmd == Cmd.DO_SET_MODE and in_mission:
            return self.set_mode(int(p[1]))
        # Accepted and ignored: nothing to simulate (servos, relays, video, landing markers, delays).
        return cmd in (Cmd.DO_SET_SERVO, 184, 181, 182, Cmd.DO_LAND_START, Cmd.VIDEO_START_CAPTURE,
                       Cmd.VIDEO_STOP_CAPTURE, Cmd.CONDITION_DELAY, 530, Cmd.DO_SET_ROI_WPNEXT_OFFSET)

    # -- camera ----------------------------------------------------------------------------------
    def fire(self, source: str, pose: tuple | None = None) -> TriggerEvent:
        """Take a photo now (or at an interpolated ``pose``) and report it."""
        v = self.vehicle
        t, n, e, u, roll, pitch, yaw = pose or (self.clock.t, v.n, v.e, v.u, v.roll, v.pitch, v.yaw)
        lat, lon = self.frame.to_latlon(n, e)
        self.triggers.count += 1
        g = self.gimbal
        if self.roi is not None:
            self._aim_gimbal(n, e, u)
        event = TriggerEvent(
            index=self.triggers.count, sim_time_s=t, time_unix_us=self.clock.unix_us_at(t), lat=lat, lon=lon,
            alt_msl=u + self.datum, alt_rel=u + self.datum - self.home.alt_amsl, roll=roll, pitch=pitch, yaw=yaw,
            gimbal_pitch=g.pitch, gimbal_roll=g.roll, gimbal_yaw=g.heading(yaw), source=source)
        gn = self.gps_noise
        self._on_trigger(event, (gn.n, gn.e, gn.u))
        return event

    def _aim_gimbal(self, n: float, e: float, u: float) -> None:
        rn, re, ru = self.roi
        d = math.hypot(rn - n, re - e)
        self.gimbal.pitch = max(-90.0, min(0.0, math.degrees(math.atan2(ru - u, d)))) if d > 0.5 else -90.0
        self.gimbal.yaw = 0.0
        self.gimbal.yaw_lock = False

    # -- the step --------------------------------------------------------------------------------
    def step(self, dt: float) -> None:
        """Advance the autopilot and the vehicle by ``dt`` seconds of simulated time."""
        v = self.vehicle
        clock = self.clock
        t0 = clock.t
        t1 = t0 + dt
        if not self.ekf_ready:
            self._boot_checks(t0)
        ground = self.ground_u(v.n, v.e)
        task = self.active_task
        sp = None
        if v.armed and task is not None:
            if self.mode == CopterMode.AUTO and not self.auto_armed and v.on_ground:
                sp = None  # AUTO armed on the ground waits for MISSION_START (no throttle to raise)
            else:
                task.speed = task.speed if task.is_rtl else self.nav_speed
                sp = task.step(v, t0, ground)
                if sp is not None:
                    self._yaw_policy(sp, task)
        pose0 = (t0, v.n, v.e, v.u, v.roll, v.pitch, v.yaw)
        path0 = v.path_m
        self._wind_now = self.wind.step(dt)
        v.step(dt, sp, self._wind_now, ground)
        clock.t = t1
        self.gps_noise.step(dt)
        self.battery.step(dt, Battery.load(v.armed, not v.on_ground, v.thrust, v.vu))

        due = self.triggers.due(path0, v.path_m, t0, t1, self._distance_triggering())
        for frac, source in due:
            self.fire(source, self._lerp_pose(pose0, frac, t1))

        if v.armed:
            self._after_move(task, sp, t1)
        if self.mode == CopterMode.AUTO:
            self.runner.update()
        if t1 >= self._next_slow:  # failsafes at 10 Hz, as ArduCopter's slow loops
            self._next_slow = t1 + 0.1
            self._check_battery(t1)
            self._check_fence()

    def _lerp_pose(self, pose0: tuple, frac: float, t1: float) -> tuple:
        v = self.vehicle
        t0, n0, e0, u0, r0, p0, y0 = pose0
        return (t0 + frac * (t1 - t0), n0 + frac * (v.n - n0), e0 + frac * (v.e - e0), u0 + frac * (v.u - u0),
                r0 + frac * (v.roll - r0), p0 + frac * (v.pitch - p0), wrap_360(y0 + frac * wrap_180(v.yaw - y0)))

    def _distance_triggering(self) -> bool:
        if self.vehicle.on_ground or not self.armed:
            return False
        return self.params["CAM_AUTO_ONLY"] == 0 or self.mode == CopterMode.AUTO

    def _yaw_policy(self, sp: Setpoint, task: Task) -> None:
        """Heading: ROI, then a fixed yaw (waypoint p4, CONDITION_YAW), then WP_YAW_BEHAVIOR."""
        v = self.vehicle
        if self.roi is not None:
            dn, de = self.roi[0] - v.n, self.roi[1] - v.e
            if math.hypot(dn, de) > 1.0:
                sp.yaw = bearing_deg(dn, de)
            self._aim_gimbal(v.n, v.e, v.u)
            return
        if self.fixed_yaw is not None and self.mode == CopterMode.AUTO:
            sp.yaw = self.fixed_yaw
            return
        if sp.yaw is not None:
            return
        behaviour = int(self.params["WP_YAW_BEHAVIOR"])
        if behaviour == 1 or (behaviour == 2 and not task.is_rtl):
            sp.yaw = sp.track_bearing
        elif behaviour == 3 and v.ground_speed > 1.0:
            sp.yaw = bearing_deg(v.vn, v.ve)

    def _boot_checks(self, t: float) -> None:
        if not self.gps_fix and t >= self.config.gps_fix_after_s:
            self.gps_fix = True
            self.out.statustext("GPS 1: detected u-blox")
        if self.gps_fix and t >= self.config.ekf_ready_after_s:
            self.ekf_ready = True
            self.out.statustext("EKF3 IMU0 origin set")
            self.out.statustext("EKF3 IMU0 is using GPS")
            lat, lon, alt = self.position()
            self.set_home(lat, lon, alt)

    def _after_move(self, task: Task | None, sp: Setpoint | None, t: float) -> None:
        """Landing, disarming and the idle-on-the-ground timer."""
        v = self.vehicle
        if task is not None and task.done and v.on_ground and isinstance(task, Land | Rtl):
            self.disarm()  # landed by LAND, RTL or a mission's NAV_LAND/RTL: ArduCopter disarms
            return
        if v.on_ground and sp is None and not (self.mode == CopterMode.AUTO and self.runner.state == STATE_ACTIVE
                                               and self.auto_armed):
            if self._idle_since is None:
                self._idle_since = t
            delay = self.params["DISARM_DELAY"]
            if delay > 0 and t - self._idle_since >= delay:
                self.out.statustext("Disarming motors")
                self.disarm()
        else:
            self._idle_since = None

    def _check_battery(self, t: float) -> None:
        p, b = self.params, self.battery
        low = (p["BATT_LOW_VOLT"] > 0 and b.voltage < p["BATT_LOW_VOLT"]) or (
            p["BATT_LOW_MAH"] > 0 and b.remaining_mah < p["BATT_LOW_MAH"])
        crit = (p["BATT_CRT_VOLT"] > 0 and b.voltage < p["BATT_CRT_VOLT"]) or (
            p["BATT_CRT_MAH"] > 0 and b.remaining_mah < p["BATT_CRT_MAH"])
        timer = p["BATT_LOW_TIMER"]
        # Voltage must stay low for BATT_LOW_TIMER; a capacity threshold acts at once (as ArduPilot).
        self._batt_low_since = (self._batt_low_since if self._batt_low_since is not None else t) if low else None
        self._batt_crit_since = (self._batt_crit_since if self._batt_crit_since is not None else t) if crit else None
        mah_low = p["BATT_LOW_MAH"] > 0 and b.remaining_mah < p["BATT_LOW_MAH"]
        mah_crit = p["BATT_CRT_MAH"] > 0 and b.remaining_mah < p["BATT_CRT_MAH"]
        level = 0
        if crit and (mah_crit or t - self._batt_crit_since >= timer):
            level = 2
        elif low and (mah_low or t - self._batt_low_since >= timer):
            level = 1
        if level <= self.battery_failsafe:
            return
        self.battery_failsafe = level
        word = "critical" if level == 2 else "low"
        self.out.statustext(f"Battery 1 is {word} {b.voltage:.2f}V used {b.consumed_mah:.0f} mAh",
                            mavlink.MAV_SEVERITY_CRITICAL)
        action = int(p["BATT_FS_CRT_ACT"] if level == 2 else p["BATT_FS_LOW_ACT"])
        self._failsafe_action(action)

    def _failsafe_action(self, action: int) -> None:
        v = self.vehicle
        if not self.armed or action == FS_NONE:
            return
        if v.on_ground:
            self.disarm()
            return
        if action == FS_TERMINATE:
            self.disarm(force=True)
        elif action in (FS_LAND, FS_SMARTRTL_LAND):
            if self.mode != CopterMode.LAND:
                self.set_mode(CopterMode.LAND)
        elif self.mode not in (CopterMode.RTL, CopterMode.LAND) and not self.set_mode(CopterMode.RTL):
            self.set_mode(CopterMode.LAND)

    def _fence_check(self) -> list[str]:
        p = self.params
        v = self.vehicle
        hn, he = self.frame.to_ne(self.home.lat, self.home.lon)
        return self.fence.breaches(v.n, v.e, self.alt_rel, int(p["FENCE_TYPE"]), (hn, he, p["FENCE_RADIUS"]),
                                   p["FENCE_ALT_MAX"], p["FENCE_ALT_MIN"])

    def _check_fence(self) -> None:
        if not self.fence_enabled or not self.armed or self.vehicle.on_ground:
            self._fence_breached = []
            return
        breaches = self._fence_check()
        if breaches and not self._fence_breached:
            self.out.statustext(f"Fence Breach: {', '.join(breaches)}", mavlink.MAV_SEVERITY_CRITICAL)
            action = int(self.params["FENCE_ACTION"])
            if action == 2:
                if self.mode != CopterMode.LAND:
                    self.set_mode(CopterMode.LAND)
            elif action == 4:
                self.set_mode(CopterMode.BRAKE)
            elif action != 0 and self.mode not in (CopterMode.RTL, CopterMode.LAND) and not self.set_mode(
                    CopterMode.RTL):
                self.set_mode(CopterMode.LAND)
        self._fence_breached = breaches
