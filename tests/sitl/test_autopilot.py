"""Autopilot and mission execution in-process (no sockets): the AUTO rules one by one."""

from __future__ import annotations

import itertools
import math

import pytest

from sitl.geo import FlatEarth
from sitl.items import StoredItem
from sitl.mav import CopterMode, MavResult, mavlink
from sitl.options import SitlOptions
from sitl.simulator import Simulator
from sitl.triggers import TriggerEvent

LAT, LON, ALT = -35.363261, 149.165230, 584.0
FE = FlatEarth(LAT, LON)
NAN = math.nan


def item(cmd: int, frame: int = 3, p=(0, 0, 0, 0), x: float = 0, y: float = 0, z: float = 0) -> StoredItem:
    if cmd in (16, 17, 19, 20, 21, 22, 195, 201, 5100):
        return StoredItem(cmd, frame, *p, round(x * 1e7), round(y * 1e7), z)
    return StoredItem(cmd, frame, *p, int(x), int(y), z)


def wp(n: float, e: float, alt: float = 20.0, p=(0, 0, 0, NAN), frame: int = 3) -> StoredItem:
    lat, lon = FE.to_latlon(n, e)
    return item(16, frame, p, lat, lon, alt)


HOME_ITEM = item(16, 0)
TAKEOFF = item(22, 3, (0, 0, 0, NAN), z=20)
RTL = item(20, 2)


class Harness:
    """A simulator plus everything it sent, decoded."""

    def __init__(self, terrain=None, **params: float):
        self.events: list[TriggerEvent] = []
        opts = SitlOptions(home_lat=LAT, home_lon=LON, home_alt=ALT, home_heading=0.0, ekf_ready_after_s=1.0,
                           params=dict(params), start_time=1_700_000_000.0)
        self.sim = Simulator(opts, camera=self.events.append, terrain=terrain)
        self.ap = self.sim.autopilot
        self.parser = mavlink.MAVLink(None)
        self.sent: list = []

    def step(self, seconds: float = 0.01) -> None:
        for _ in range(max(1, round(seconds / self.sim.dt))):
            self.sim.step()
        self._collect()

    def _collect(self) -> None:
        for _, frame in self.sim.out.drain():
            self.sent += self.parser.parse_buffer(frame) or []

    def texts(self) -> list[str]:
        self._collect()
        return [m.text for m in self.sent if m.get_type() == "STATUSTEXT"]

    def reached(self) -> list[int]:
        self._collect()
        return [m.seq for m in self.sent if m.get_type() == "MISSION_ITEM_REACHED"]

    def start(self, items: list[StoredItem]) -> None:
        assert self.ap.commit_plan(0, [HOME_ITEM, *items]) == 0
        self.step(1.5)
        assert self.ap.set_mode(CopterMode.GUIDED)
        assert self.ap.arm()
        assert self.ap.command(mavlink.MAV_CMD_MISSION_START, (0,) * 7, 3) == MavResult.ACCEPTED

    def run_until(self, cond, max_s: float = 600.0) -> None:
        t_end = self.sim.clock.t + max_s
        while not cond():
            assert self.sim.clock.t < t_end, f"timed out; last texts {self.texts()[-5:]}"
            self.step(0.1)

    def fly_mission(self, items: list[StoredItem], max_s: float = 600.0) -> None:
        self.start(items)
        self.run_until(lambda: not self.ap.armed, max_s)


def test_do_jump_repeats_and_unknown_commands_are_skipped():
    h = Harness()
    h.fly_mission([TAKEOFF, wp(30, 0), wp(30, 30), item(177, 2, (2, 2, 0, 0)), item(31000, 2), RTL])
    assert h.reached() == [1, 2, 3, 2, 3, 2, 3, 6]
    assert "Skipping invalid cmd #5" in h.texts()
    assert h.texts().count("Mission: 4 Jump to 2") == 2


def test_distance_triggers_fall_on_exact_multiples():
    h = Harness()
    h.fly_mission([TAKEOFF, wp(0, 0), item(206, 2, (15, 0, 1, 0)), wp(200, 0), item(206, 2, (0, 0, 0, 0)), RTL])
    pts = [FE.to_ne(e.lat, e.lon) for e in h.events]
    assert len(pts) == 14  # 0, 15, ..., 195
    for k, (n, e) in enumerate(pts):
        assert n == pytest.approx(15 * k, abs=0.05) and abs(e) < 0.05
    assert [e.source for e in h.events] == ["single"] + ["distance"] * 13
    feedback = [m for m in h.sent if m.get_type() == "CAMERA_FEEDBACK"]
    assert [m.img_idx for m in feedback] == list(range(1, 15))
    assert feedback[3].time_usec == h.events[3].time_unix_us


def test_waypoint_yaw_hold_time_and_mission_end_holds_position():
    h = Harness()
    h.start([TAKEOFF, wp(40, 0, p=(5, 0, 0, 90)), wp(40, 40)])
    h.run_until(lambda: 2 in h.reached())
    arrived = next(m for m in h.sent if m.get_type() == "STATUSTEXT" and m.text == "Reached command #2")
    assert h.ap.vehicle.yaw == pytest.approx(90, abs=1)
    assert arrived is not None
    t_reached = h.sim.clock.t
    h.run_until(lambda: 3 in h.reached())
    assert h.sim.clock.t - t_reached > 5  # hold, then 40 m
    h.step(10)
    v = h.ap.vehicle
    assert h.ap.armed and h.ap.mode == CopterMode.AUTO and not v.on_ground
    assert (v.n, v.e, v.u) == pytest.approx((40, 40, 20), abs=0.3)
    assert h.sim.telemetry.mission_current().mission_state == 5


def test_roi_points_the_vehicle_and_the_gimbal():
    h = Harness()
    lat, lon = FE.to_latlon(50, 60)
    h.start([TAKEOFF, wp(0, 0), item(195, 3, (0, 0, 0, 0), lat, lon, 0), wp(100, 0), RTL])
    h.run_until(lambda: h.ap.vehicle.n > 50)
    v = h.ap.vehicle
    bearing = math.degrees(math.atan2(60 - v.e, 50 - v.n)) % 360
    assert v.yaw == pytest.approx(bearing, abs=5)
    assert -80 < h.ap.gimbal.pitch < -5


def test_condition_yaw_change_speed_and_gimbal_commands():
    h = Harness()
    h.start([TAKEOFF, wp(0, 0), item(115, 2, (45, 30, 0, 0)), item(178, 2, (1, 4, -1, 0)),
             item(205, 2, (-45, 0, 0, 0), 0, 0, 2), item(203, 2, (0, 0, 0, 0), 1, 0, 0), wp(100, 0), RTL])
    h.run_until(lambda: h.ap.vehicle.n > 60)
    v = h.ap.vehicle
    assert v.yaw == pytest.approx(45, abs=1)
    assert v.ground_speed == pytest.approx(4.0, abs=0.05)
    shot = h.events[-1]  # taken as the leg began, before the turn to 45 deg
    assert shot.gimbal_pitch == -45 and shot.gimbal_yaw == pytest.approx(shot.yaw, abs=0.01)
    assert h.ap.command(mavlink.MAV_CMD_DO_GIMBAL_MANAGER_PITCHYAW, (-30, 200, 0, 0, 16, 0, 0), 2) == 0
    event = h.ap.fire("single")
    assert (event.gimbal_pitch, event.gimbal_yaw) == (-30, 200)


def test_image_capture_interval_and_count():
    h = Harness()
    h.start([TAKEOFF, item(2000, 2, (0, 2, 3, 0)), wp(0, 0, p=(10, 0, 0, NAN)), RTL])
    h.run_until(lambda: not h.ap.armed)
    times = [e.sim_time_s for e in h.events]
    assert len(times) == 3
    assert [b - a for a, b in itertools.pairwise(times)] == pytest.approx([2, 2], abs=0.011)


def test_altitude_frames_amsl_and_terrain():
    def slope(lat, lon):  # the ground rises 10 m per 100 m north of home
        n, _ = FE.to_ne(lat, lon)
        return ALT + 0.1 * n

    h = Harness(terrain=slope)
    h.start([TAKEOFF, wp(0, 0, 25.0 + ALT + 10, frame=0), wp(200, 0, 30.0, frame=10),
             item(203, 2, (0, 0, 0, 0), 1, 0, 0), wp(0, 0, 20.0)])
    h.run_until(lambda: 2 in h.reached())
    assert h.ap.alt_rel == pytest.approx(35, abs=2.1)  # reached = within WPNAV_RADIUS in 3D
    h.run_until(lambda: 3 in h.reached())
    assert h.events[0].alt_msl == pytest.approx(ALT + 20 + 30, abs=1.0)  # 30 m above ground that rose 20 m
    assert h.events[0].alt_rel == pytest.approx(50, abs=1.0)


def test_critical_battery_lands():
    h = Harness(BATT_CAPACITY=300, BATT_CRT_MAH=200, BATT_LOW_VOLT=0)
    h.start([TAKEOFF, wp(300, 0), RTL])
    h.run_until(lambda: h.ap.mode == CopterMode.LAND, 60)
    assert any(t.startswith("Battery 1 is critical") for t in h.texts())
    h.run_until(lambda: not h.ap.armed, 120)
    assert h.ap.vehicle.n > 10  # landed where it was, not at home


def test_rtl_goes_to_the_nearest_rally_point():
    h = Harness()
    lat, lon = FE.to_latlon(200, 0)
    assert h.ap.commit_plan(2, [item(5100, 3, (0, 0, 0, 0), lat, lon, 25)]) == 0
    h.fly_mission([TAKEOFF, wp(180, 0), RTL])
    v = h.ap.vehicle
    assert (v.n, v.e) == pytest.approx((200, 0), abs=1.0)


def test_auto_needs_a_takeoff_when_landed_and_clear_is_refused_in_flight():
    h = Harness()
    assert h.ap.commit_plan(0, [HOME_ITEM, wp(30, 0), RTL]) == 0
    h.step(1.5)
    assert h.ap.set_mode(CopterMode.GUIDED) and h.ap.arm()
    assert h.ap.command(mavlink.MAV_CMD_MISSION_START, (0,) * 7, 3) == MavResult.FAILED
    assert "Auto: Missing Takeoff Cmd" in h.texts()
    assert h.ap.commit_plan(0, [HOME_ITEM, TAKEOFF, wp(300, 0), RTL]) == 0
    assert h.ap.command(mavlink.MAV_CMD_MISSION_START, (0,) * 7, 3) == MavResult.ACCEPTED
    h.step(10)
    assert not h.ap.clear_plan(0)
    assert h.ap.command(mavlink.MAV_CMD_DO_SET_MISSION_CURRENT, (3, 0, 0, 0, 0, 0, 0), 0) == MavResult.ACCEPTED
    assert h.ap.runner.current == 3
    h.run_until(lambda: not h.ap.armed)
    assert h.ap.vehicle.n < 3


def test_disarms_after_disarm_delay_on_the_ground():
    h = Harness(DISARM_DELAY=3)
    h.step(1.5)
    assert h.ap.set_mode(CopterMode.GUIDED) and h.ap.arm()
    h.step(2.5)
    assert h.ap.armed
    h.step(1.0)
    assert not h.ap.armed


def test_same_seed_same_flight():
    def flight(seed):
        h = Harness(SIM_WIND_SPD=6, SIM_WIND_TURB=2, SIM_GPS_NOISE=1)
        h.ap.wind._rng.seed(seed)
        h.fly_mission([TAKEOFF, wp(0, 0), item(206, 2, (10, 0, 1, 0)), wp(80, 0), RTL])
        return [(e.lat, e.lon, e.roll, e.pitch) for e in h.events], [
            (m.lat, m.lon) for m in h.sent if m.get_type() == "GPS_RAW_INT"]

    assert flight(1) == flight(1)
    assert flight(1)[0] != flight(2)[0]
