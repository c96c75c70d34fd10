"""Flights over real sockets: a survey to completion, geofence and battery failsafes, wind, speed."""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest

from mission.frame import LocalFrame
from mission.photos import planned_photos
from mission.plan import Home, MissionItem, Plan
from tests.sitl.client import Gcs, Item, mavlink, survey_items
from tests.sitl.conftest import HOME

ARMED = mavlink.MAV_MODE_FLAG_SAFETY_ARMED
GUIDED, AUTO, RTL, LAND = 4, 3, 6, 9


def guided_and_armed(gcs: Gcs, timeout: float = 10.0) -> None:
    """GUIDED as soon as the EKF gives a position, then arm."""
    deadline = time.monotonic() + timeout
    while gcs.set_mode(GUIDED) != 0:
        assert time.monotonic() < deadline, "GUIDED refused: " + "; ".join(gcs.statustexts()[-3:])
        time.sleep(0.05)
    gcs.arm_when_ready()


def start_mission(gcs: Gcs, items: list[Item]) -> None:
    assert gcs.upload(items)[0].type == mavlink.MAV_MISSION_ACCEPTED
    guided_and_armed(gcs)
    assert gcs.command(mavlink.MAV_CMD_MISSION_START, 0, 0) == 0


def wait_disarmed(gcs: Gcs, timeout: float):
    return gcs.wait("HEARTBEAT", lambda m: not m.base_mode & ARMED, timeout=timeout)


def as_plan(items: list[Item]) -> Plan:
    """The uploaded items as skyscan's Plan (no home item), for the planner's photo model."""
    mission = [MissionItem(it.command, it.frame, it.params, it.x, it.y, it.z) for it in items[1:]]
    return Plan(items=mission, home=Home(HOME[0], HOME[1], HOME[2]))


def test_survey_runs_to_completion_with_planned_photos(sitl_factory, gcs_factory):
    sitl = sitl_factory(speedup=100)
    gcs = gcs_factory(sitl.connection_string())
    legs = [(0, 0), (150, 0), (150, 40), (0, 40), (0, 80), (150, 80)]
    items = survey_items(HOME[:2], legs, alt=30, trigger_m=20)
    start_mission(gcs, items)
    wait_disarmed(gcs, timeout=30)
    reached = [m.seq for m in gcs.seen if m.get_type() == "MISSION_ITEM_REACHED"]
    nav = [i for i, it in enumerate(items) if i > 0 and it.command in (16, 20, 22)]
    assert reached == nav
    assert f"Reached command #{nav[-1]}" in gcs.statustexts()
    feedback = [m for m in gcs.seen if m.get_type() == "CAMERA_FEEDBACK"]
    assert [m.img_idx for m in feedback] == list(range(1, len(feedback) + 1))

    frame = LocalFrame.around(HOME[1], HOME[0])
    planned = planned_photos(as_plan(items), frame)
    assert abs(len(feedback) - len(planned)) <= 0.1 * len(planned)
    x, y = frame.to_local([m.lng * 1e-7 for m in feedback], [m.lat * 1e-7 for m in feedback])
    spacing = np.hypot(np.diff(x), np.diff(y))
    straight = spacing[spacing > 15]  # corners shorten the chord between two photos
    assert np.median(straight) == pytest.approx(20.0, rel=0.1)
    # Photos land on the planned positions (same rule, flown path vs planned legs).
    px, py = planned.x, planned.y
    nearest = [float(np.min(np.hypot(px - a, py - b))) for a, b in zip(x, y, strict=True)]
    assert np.median(nearest) < 2.0
    assert all(abs(m.alt_rel - 30) < 1.5 for m in feedback)

    hb = gcs.wait("HEARTBEAT")
    assert hb.custom_mode == AUTO and not hb.base_mode & ARMED
    pos = gcs.wait("GLOBAL_POSITION_INT")
    assert abs(pos.relative_alt) < 200 and abs(pos.lat - HOME[0] * 1e7) < 50  # landed at home
    # The truth file has one line per trigger, with the same count.
    sitl.stop()
    truth_path = sitl.tlog_path.with_name(sitl.tlog_path.name.replace(".tlog", ".truth.jsonl"))
    truth = [json.loads(line) for line in truth_path.read_text().splitlines()]
    assert len([t for t in truth if t["kind"] == "trigger"]) == len(feedback)
    assert len([t for t in truth if t["kind"] == "pose"]) > 100


def test_geofence_breach_returns_home(sitl_factory, gcs_factory):
    gcs = gcs_factory(sitl_factory(speedup=100, args=["--param", "FENCE_ENABLE=1"]).connection_string())
    lat, lon = HOME[:2]
    d = 0.001  # about 110 m north-south
    square = [(lat - d, lon - d), (lat - d, lon + d), (lat + d, lon + d), (lat + d, lon - d)]
    fence = [Item(5001, 5, (4, 0, 0, 0), a, b, 0) for a, b in square]
    assert gcs.upload(fence, mission_type=1)[0].type == mavlink.MAV_MISSION_ACCEPTED
    items = survey_items(HOME[:2], [(0, 0), (300, 0)], alt=20)
    start_mission(gcs, items)
    gcs.wait("STATUSTEXT", lambda m: m.text.startswith("Fence Breach"), timeout=20)
    gcs.wait("HEARTBEAT", lambda m: m.custom_mode == RTL, timeout=5)
    wait_disarmed(gcs, timeout=30)
    pos = gcs.wait("GLOBAL_POSITION_INT")
    assert abs(pos.lat - lat * 1e7) < 100 and abs(pos.lon - lon * 1e7) < 100
    reached = [m.seq for m in gcs.seen if m.get_type() == "MISSION_ITEM_REACHED"]
    assert items.index(next(it for it in items if it.command == 16 and it.x > lat + 0.002)) not in reached


def test_low_battery_returns_home(sitl_factory, gcs_factory):
    args = ["--param", "BATT_CAPACITY=150", "--param", "BATT_LOW_MAH=90", "--param", "BATT_LOW_VOLT=0"]
    gcs = gcs_factory(sitl_factory(speedup=100, args=args).connection_string())
    items = survey_items(HOME[:2], [(0, 0), (400, 0), (400, 100)], alt=20)
    start_mission(gcs, items)
    text = gcs.wait("STATUSTEXT", lambda m: m.text.startswith("Battery 1 is low"), timeout=20)
    assert text.severity == mavlink.MAV_SEVERITY_CRITICAL
    gcs.wait("HEARTBEAT", lambda m: m.custom_mode == RTL, timeout=5)
    wait_disarmed(gcs, timeout=40)
    batt = gcs.wait("BATTERY_STATUS")
    assert batt.battery_remaining < 40 and batt.current_consumed > 60


def test_wind_tilts_the_vehicle_into_the_wind(sitl_factory, gcs_factory):
    gcs = gcs_factory(sitl_factory(speedup=20, args=["--wind", "6@270"]).connection_string())
    guided_and_armed(gcs)
    assert gcs.command(mavlink.MAV_CMD_NAV_TAKEOFF, 0, 0, 0, 0, 0, 0, 15) == 0
    gcs.wait("GLOBAL_POSITION_INT", lambda m: m.relative_alt > 14500, timeout=10)
    gcs.drain(0.2)
    att = [m for m in gcs.drain(0.3) if m.get_type() == "ATTITUDE"]
    roll = np.mean([m.roll for m in att])
    pitch = np.mean([m.pitch for m in att])
    yaw = np.mean([m.yaw for m in att])
    # Compass direction the thrust leans to (nose down = forwards, right roll = right): into a wind from
    # 270 deg means leaning west.
    north = -math.sin(pitch) * math.cos(yaw) - math.sin(roll) * math.sin(yaw)
    east = -math.sin(pitch) * math.sin(yaw) + math.sin(roll) * math.cos(yaw)
    lean = math.degrees(math.atan2(east, north)) % 360
    assert lean == pytest.approx(270, abs=10), (roll, pitch, yaw)
    assert math.degrees(math.hypot(roll, pitch)) > 1.0
    pos = gcs.wait("GLOBAL_POSITION_INT")
    assert abs(pos.vx) < 30 and abs(pos.vy) < 30  # it holds its position


def test_ten_minute_survey_runs_at_least_15x_real_time(sitl_factory, gcs_factory):
    sitl = sitl_factory(speedup=20)
    gcs = gcs_factory(sitl.connection_string())
    legs = []
    for i in range(10):  # 10 lines of 500 m, 30 m apart: about 11 minutes of flight
        a, b = (0, 500) if i % 2 == 0 else (500, 0)
        legs += [(a, 30 * i), (b, 30 * i)]
    items = survey_items(HOME[:2], legs, alt=40, trigger_m=25)
    assert gcs.upload(items)[0].type == mavlink.MAV_MISSION_ACCEPTED
    guided_and_armed(gcs)
    gcs.set_param("SIM_SPEEDUP", 1000)  # as fast as it goes
    t0_wall = time.monotonic()
    assert gcs.command(mavlink.MAV_CMD_MISSION_START, 0, 0) == 0
    t0_sim = gcs.wait("SYSTEM_TIME").time_boot_ms / 1000
    wait_disarmed(gcs, timeout=120)
    t1_sim = gcs.wait("SYSTEM_TIME").time_boot_ms / 1000
    wall = time.monotonic() - t0_wall
    ratio = (t1_sim - t0_sim) / wall
    photos = len([m for m in gcs.seen if m.get_type() == "CAMERA_FEEDBACK"])
    print(f"\n10-minute survey: {t1_sim - t0_sim:.0f} s simulated in {wall:.2f} s wall = {ratio:.0f}x real time, "
          f"{photos} photos, {len(gcs.seen)} messages received")
    assert t1_sim - t0_sim > 540
    assert ratio >= 15
    reached = [m.seq for m in gcs.seen if m.get_type() == "MISSION_ITEM_REACHED"]
    assert reached == [i for i, it in enumerate(items) if i > 0 and it.command in (16, 20, 22)]
