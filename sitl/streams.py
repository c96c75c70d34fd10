"""Telemetry the vehicle streams on its own, at ArduPilot-like rates in simulated time.

:class:`Telemetry` builds each streamed message from the autopilot's state; :class:`StreamSchedule`
decides which are due. Rates change with SET_MESSAGE_INTERVAL (interval in microseconds, -1 = off,
0 = default) and single messages are sent on REQUEST_MESSAGE.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from sitl.mav import CopterMode, mavlink

if TYPE_CHECKING:
    from sitl.autopilot import Autopilot

__all__ = ["DEFAULT_RATES_HZ", "StreamSchedule", "Telemetry"]

M = mavlink
#: Default stream rates (Hz of simulated time), close to ArduPilot's SRx defaults for a GCS link.
DEFAULT_RATES_HZ: dict[int, float] = {
    M.MAVLINK_MSG_ID_HEARTBEAT: 1.0,
    M.MAVLINK_MSG_ID_SYS_STATUS: 1.0,
    M.MAVLINK_MSG_ID_SYSTEM_TIME: 1.0,
    M.MAVLINK_MSG_ID_GPS_RAW_INT: 2.0,
    M.MAVLINK_MSG_ID_GLOBAL_POSITION_INT: 5.0,
    M.MAVLINK_MSG_ID_ATTITUDE: 10.0,
    M.MAVLINK_MSG_ID_VFR_HUD: 4.0,
    M.MAVLINK_MSG_ID_BATTERY_STATUS: 1.0,
    M.MAVLINK_MSG_ID_MISSION_CURRENT: 1.0,
    M.MAVLINK_MSG_ID_EXTENDED_SYS_STATE: 1.0,
    M.MAVLINK_MSG_ID_EKF_STATUS_REPORT: 0.5,
}

_SENSORS = (M.MAV_SYS_STATUS_SENSOR_3D_GYRO | M.MAV_SYS_STATUS_SENSOR_3D_ACCEL | M.MAV_SYS_STATUS_SENSOR_3D_MAG
            | M.MAV_SYS_STATUS_SENSOR_ABSOLUTE_PRESSURE | M.MAV_SYS_STATUS_SENSOR_GPS
            | M.MAV_SYS_STATUS_SENSOR_ANGULAR_RATE_CONTROL | M.MAV_SYS_STATUS_SENSOR_ATTITUDE_STABILIZATION
            | M.MAV_SYS_STATUS_SENSOR_YAW_POSITION | M.MAV_SYS_STATUS_SENSOR_Z_ALTITUDE_CONTROL
            | M.MAV_SYS_STATUS_SENSOR_XY_POSITION_CONTROL | M.MAV_SYS_STATUS_SENSOR_MOTOR_OUTPUTS
            | M.MAV_SYS_STATUS_AHRS | M.MAV_SYS_STATUS_SENSOR_BATTERY | M.MAV_SYS_STATUS_GEOFENCE)
_GUIDED_MODES = {CopterMode.AUTO, CopterMode.GUIDED, CopterMode.RTL, CopterMode.LAND}
_CAPABILITIES = (M.MAV_PROTOCOL_CAPABILITY_MISSION_FLOAT | M.MAV_PROTOCOL_CAPABILITY_PARAM_FLOAT
                 | M.MAV_PROTOCOL_CAPABILITY_MISSION_INT | M.MAV_PROTOCOL_CAPABILITY_COMMAND_INT
                 | M.MAV_PROTOCOL_CAPABILITY_SET_POSITION_TARGET_GLOBAL_INT | M.MAV_PROTOCOL_CAPABILITY_MAVLINK2
                 | M.MAV_PROTOCOL_CAPABILITY_MISSION_FENCE | M.MAV_PROTOCOL_CAPABILITY_MISSION_RALLY)
FLIGHT_SW_VERSION = (4 << 24) | (5 << 16) | (7 << 8) | 255  # "4.5.7 official", what the SITL imitates


class StreamSchedule:
    """Which streamed messages are due at a simulated time (microseconds since boot)."""

    def __init__(self, rates_hz: dict[int, float] | None = None):
        self._default = {k: _interval_us(v) for k, v in (rates_hz or DEFAULT_RATES_HZ).items()}
        self.intervals = dict(self._default)
        self._next = dict.fromkeys(self.intervals, 0)
        self._earliest = 0

    def set_interval(self, msgid: int, interval_us: float) -> None:
        """SET_MESSAGE_INTERVAL semantics: -1 stops, 0 restores the default, else the interval."""
        if interval_us == 0:
            interval = self._default.get(msgid, 0)
        elif interval_us < 0:
            interval = 0
        else:
            interval = int(interval_us)
        if interval <= 0:
            self.intervals.pop(msgid, None)
            self._next.pop(msgid, None)
        else:
            self.intervals[msgid] = interval
            self._next[msgid] = 0
            self._earliest = 0

    def interval_us(self, msgid: int) -> int:
        """Current interval (0 = not streamed)."""
        return self.intervals.get(msgid, 0)

    def due(self, now_us: int) -> list[int]:
        """Message ids due now; each is rescheduled one interval later."""
        if now_us < self._earliest:
            return []
        out = []
        earliest = math.inf
        for msgid, nxt in self._next.items():
            if nxt <= now_us:
                out.append(msgid)
                interval = self.intervals[msgid]
                nxt = max(nxt + interval, now_us - interval)  # never burst to catch up
                self._next[msgid] = nxt
            earliest = min(earliest, nxt)
        self._earliest = earliest if earliest != math.inf else 0
        return out


def _interval_us(hz: float) -> int:
    return round(1e6 / hz) if hz > 0 else 0


class Telemetry:
    """Builds the messages a vehicle streams, from the autopilot's current state."""

    def __init__(self, ap: Autopilot):
        self.ap = ap
        self.mav = ap.out.mav
        self.builders: dict[int, Callable[[], object]] = {
            M.MAVLINK_MSG_ID_HEARTBEAT: self.heartbeat,
            M.MAVLINK_MSG_ID_SYS_STATUS: self.sys_status,
            M.MAVLINK_MSG_ID_SYSTEM_TIME: self.system_time,
            M.MAVLINK_MSG_ID_GPS_RAW_INT: self.gps_raw_int,
            M.MAVLINK_MSG_ID_GLOBAL_POSITION_INT: self.global_position_int,
            M.MAVLINK_MSG_ID_ATTITUDE: self.attitude,
            M.MAVLINK_MSG_ID_VFR_HUD: self.vfr_hud,
            M.MAVLINK_MSG_ID_BATTERY_STATUS: self.battery_status,
            M.MAVLINK_MSG_ID_MISSION_CURRENT: self.mission_current,
            M.MAVLINK_MSG_ID_EXTENDED_SYS_STATE: self.extended_sys_state,
            M.MAVLINK_MSG_ID_EKF_STATUS_REPORT: self.ekf_status_report,
            M.MAVLINK_MSG_ID_HOME_POSITION: self.home_position,
            M.MAVLINK_MSG_ID_AUTOPILOT_VERSION: self.autopilot_version,
        }

    def build(self, msgid: int):
        """The message ``msgid`` now, or None if this vehicle cannot send it."""
        builder = self.builders.get(msgid)
        return builder() if builder is not None else None

    def heartbeat(self):
        ap = self.ap
        base = M.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED | M.MAV_MODE_FLAG_STABILIZE_ENABLED
        if ap.mode in _GUIDED_MODES:
            base |= M.MAV_MODE_FLAG_GUIDED_ENABLED
        if ap.armed:
            base |= M.MAV_MODE_FLAG_SAFETY_ARMED
        state = M.MAV_STATE_ACTIVE if ap.armed else M.MAV_STATE_STANDBY
        return self.mav.heartbeat_encode(M.MAV_TYPE_QUADROTOR, M.MAV_AUTOPILOT_ARDUPILOTMEGA, base, int(ap.mode),
                                         state)

    def sys_status(self):
        b = self.ap.battery
        health = _SENSORS if self.ap.ekf_ready else _SENSORS & ~(M.MAV_SYS_STATUS_AHRS | M.MAV_SYS_STATUS_SENSOR_GPS)
        return self.mav.sys_status_encode(_SENSORS, _SENSORS, health, 200, int(b.voltage * 1000),
                                          int(b.current * 100), b.remaining_pct, 0, 0, 0, 0, 0, 0)

    def system_time(self):
        clock = self.ap.clock
        return self.mav.system_time_encode(clock.unix_us, clock.boot_ms)

    def gps_raw_int(self):
        ap = self.ap
        v = ap.vehicle
        lat, lon, alt = ap.reported_position()
        fix = 3 if ap.gps_fix else 1
        cog = int(math.degrees(math.atan2(v.ve, v.vn)) % 360.0 * 100) if v.ground_speed > 0.2 else 0
        return self.mav.gps_raw_int_encode(ap.clock.boot_us, fix, round(lat * 1e7), round(lon * 1e7),
                                           round(alt * 1000), 121, 200, int(v.ground_speed * 100), cog,
                                           14 if ap.gps_fix else 0)

    def global_position_int(self):
        ap = self.ap
        v = ap.vehicle
        lat, lon, alt = ap.reported_position()
        return self.mav.global_position_int_encode(
            ap.clock.boot_ms, round(lat * 1e7), round(lon * 1e7), round(alt * 1000),
            round((alt - ap.home.alt_amsl) * 1000), round(v.vn * 100), round(v.ve * 100), round(-v.vu * 100),
            round(v.yaw * 100) % 36000)

    def attitude(self):
        v = self.ap.vehicle
        r = math.radians
        yaw = v.yaw if v.yaw <= 180.0 else v.yaw - 360.0
        return self.mav.attitude_encode(self.ap.clock.boot_ms, r(v.roll), r(v.pitch), r(yaw), r(v.roll_rate),
                                        r(v.pitch_rate), r(v.yaw_rate))

    def vfr_hud(self):
        ap = self.ap
        v = ap.vehicle
        throttle = 0 if not ap.armed else min(100, int(50 * v.thrust)) if not v.on_ground else 10
        return self.mav.vfr_hud_encode(v.airspeed, v.ground_speed, int(v.yaw) % 360, throttle, v.u + ap.datum, v.vu)

    def battery_status(self):
        b = self.ap.battery
        cell_mv = int(b.voltage / b.cells * 1000)
        cells = [cell_mv] * b.cells + [65535] * (10 - b.cells)
        energy_hj = int(b.consumed_mah * 3.6 * b.full_voltage / 100.0)
        return self.mav.battery_status_encode(0, M.MAV_BATTERY_FUNCTION_ALL, M.MAV_BATTERY_TYPE_LIPO, 32767, cells,
                                              int(b.current * 100), int(b.consumed_mah), energy_hj, b.remaining_pct)

    def mission_current(self):
        ap = self.ap
        runner = ap.runner
        mode = 1 if ap.mode == CopterMode.AUTO else 2
        return self.mav.mission_current_encode(runner.current, runner.total, runner.state, mode)

    def extended_sys_state(self):
        ap = self.ap
        v = ap.vehicle
        if v.on_ground:
            landed = M.MAV_LANDED_STATE_ON_GROUND
        elif v.vu > 0.3 and v.u < 3.0:
            landed = M.MAV_LANDED_STATE_TAKEOFF
        elif ap.mode == CopterMode.LAND or (ap.active_task is not None and type(ap.active_task).__name__ == "Land"):
            landed = M.MAV_LANDED_STATE_LANDING
        else:
            landed = M.MAV_LANDED_STATE_IN_AIR
        return self.mav.extended_sys_state_encode(M.MAV_VTOL_STATE_MC, landed)

    def ekf_status_report(self):
        flags = 0x3FF if self.ap.ekf_ready else 0x7  # attitude/velocity only until the GPS is in use
        return self.mav.ekf_status_report_encode(flags, 0.01, 0.01, 0.01, 0.01, 0.0)

    def home_position(self):
        ap = self.ap
        h = ap.home
        hn, he = ap.frame.to_ne(h.lat, h.lon)
        return self.mav.home_position_encode(round(h.lat * 1e7), round(h.lon * 1e7), round(h.alt_amsl * 1000), hn, he,
                                             ap.datum - h.alt_amsl, [1.0, 0.0, 0.0, 0.0], 0.0, 0.0, 0.0,
                                             ap.clock.unix_us)

    def autopilot_version(self):
        sysid = int(self.ap.params["SYSID_THISMAV"])
        return self.mav.autopilot_version_encode(_CAPABILITIES, FLIGHT_SW_VERSION, 0, 0, 0, [0] * 8, [0] * 8, [0] * 8,
                                                 0x1209, 0x5741, 0x5C5C0000 + sysid)

    def camera_feedback(self, event, gps_error: tuple[float, float, float]):
        """CAMERA_FEEDBACK for a trigger, with the position as the vehicle believes it (truth + GPS error)."""
        ap = self.ap
        frame = ap.frame
        n, e = frame.to_ne(event.lat, event.lon)
        lat, lon = frame.to_latlon(n + gps_error[0], e + gps_error[1])
        return self.mav.camera_feedback_encode(
            event.time_unix_us, int(ap.params["SYSID_THISMAV"]), 0, event.index, round(lat * 1e7), round(lon * 1e7),
            event.alt_msl + gps_error[2], event.alt_rel + gps_error[2], event.roll, event.pitch, event.yaw,
            ap.params["CAM_FOC_LEN"], 0, event.index)
