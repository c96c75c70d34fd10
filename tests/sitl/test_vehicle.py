"""The vehicle model in-process: limits, attitude against wind, determinism, battery, triggers."""

from __future__ import annotations

import itertools
import math

import pytest

from sitl.battery import Battery
from sitl.geo import FlatEarth, bearing_deg
from sitl.triggers import CameraTriggers
from sitl.vehicle import Limits, Setpoint, Vehicle, Wind

DT = 0.01


def fly(v: Vehicle, sp: Setpoint, seconds: float, wind: Wind | None = None, record=None) -> None:
    wind = wind or Wind()
    for _ in range(int(seconds / DT)):
        v.step(DT, sp, wind.step(DT), 0.0)
        if record is not None:
            record.append((v.n, v.e, v.u, v.vn, v.ve, v.vu, v.roll, v.pitch, v.yaw))


def airborne(u: float = 20.0) -> Vehicle:
    v = Vehicle(limits=Limits())
    v.armed = True
    v.u = u
    v.on_ground = False
    return v


def test_speed_and_acceleration_limits():
    v = airborne()
    track = []
    fly(v, Setpoint(500.0, 0.0, 20.0, speed=10.0, origin=(0.0, 0.0, 20.0)), 30.0, record=track)
    speeds = [math.hypot(s[3], s[4]) for s in track]
    assert max(speeds) == pytest.approx(10.0, abs=0.01)
    accels = [abs(b - a) / DT for a, b in itertools.pairwise(speeds)]
    assert max(accels) <= 2.5 + 1e-6
    assert 0.5 * 10 * 10 / 2.5 < track[int(4 / DT)][0] < 40  # accelerating for 4 s at 2.5 m/s/s


def test_climb_descent_limits_and_stop_at_target():
    v = airborne(0.5)
    rec = []
    fly(v, Setpoint(0.0, 0.0, 40.0, speed=10.0), 25.0, record=rec)
    assert max(s[5] for s in rec) == pytest.approx(2.5, abs=0.01)
    assert v.u == pytest.approx(40.0, abs=0.05)
    rec = []
    fly(v, Setpoint(0.0, 0.0, 10.0, speed=10.0), 30.0, record=rec)
    assert min(s[5] for s in rec) == pytest.approx(-1.5, abs=0.01)
    assert v.u == pytest.approx(10.0, abs=0.05)


def test_land_descends_at_land_speed_and_stops_on_the_ground():
    v = airborne(5.0)
    fly(v, Setpoint(0.0, 0.0, 0.0, speed=5.0, land=True, descent=0.5), 12.0)
    assert v.on_ground and v.u == 0.0 and v.vu == 0.0


def test_stays_on_the_leg_and_faces_the_yaw_asked():
    v = airborne()
    v.e = 5.0  # start 5 m off the leg
    rec = []
    fly(v, Setpoint(300.0, 0.0, 20.0, speed=10.0, origin=(0.0, 0.0, 20.0), yaw=0.0), 25.0, record=rec)
    assert abs(v.e) < 0.05
    assert v.yaw == pytest.approx(0.0, abs=0.1) or v.yaw == pytest.approx(360.0, abs=0.1)
    v2 = airborne()
    rec = []
    fly(v2, Setpoint(0.0, 0.0, 20.0, speed=10.0, yaw=90.0), 0.5, record=rec)
    assert v2.yaw == pytest.approx(30.0, abs=0.5)  # ATC_SLEW_YAW 60 deg/s


def test_attitude_follows_acceleration():
    v = airborne()
    rec = []
    fly(v, Setpoint(500.0, 0.0, 20.0, speed=10.0, origin=(0.0, 0.0, 20.0), yaw=0.0), 2.0, record=rec)
    assert v.pitch < -10  # nose down to accelerate north
    assert abs(v.roll) < 0.5


@pytest.mark.parametrize("from_deg", [0.0, 90.0, 270.0])
def test_hover_leans_into_the_wind(from_deg):
    v = airborne()
    wind = Wind(8.0, from_deg)
    fly(v, Setpoint(0.0, 0.0, 20.0, speed=10.0, yaw=0.0), 3.0, wind=wind)
    # Nose north: pitch down = leaning north, roll right = leaning east.
    lean = bearing_deg(-math.sin(math.radians(v.pitch)), math.sin(math.radians(v.roll)))
    assert lean == pytest.approx(from_deg, abs=1) or abs(lean - from_deg) == pytest.approx(360, abs=1)
    assert math.hypot(v.n, v.e) < 0.01  # the position does not drift


def test_gusts_are_deterministic_for_a_seed():
    def run(seed):
        v = airborne()
        rec = []
        fly(v, Setpoint(100.0, 0.0, 20.0, speed=8.0, origin=(0.0, 0.0, 20.0)), 10.0,
            wind=Wind(5.0, 270.0, turbulence=2.0, seed=seed), record=rec)
        return rec

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_battery_drains_faster_when_climbing():
    hover, climb = Battery(5200), Battery(5200)
    for _ in range(6000):
        hover.step(DT, Battery.load(True, True, 1.0, 0.0))
        climb.step(DT, Battery.load(True, True, 1.1, 2.5))
    assert 0 < hover.consumed_mah < climb.consumed_mah
    assert hover.voltage < 12.6 and climb.voltage < hover.voltage
    assert hover.remaining_pct < 100
    idle = Battery(5200)
    idle.step(1.0, Battery.load(False, False, 0.0, 0.0))
    assert idle.voltage > hover.voltage


def test_distance_trigger_fires_at_exact_multiples_within_a_step():
    trig = CameraTriggers()
    trig.set_distance(10.0)
    fired = []
    path = 0.0
    for step in range(99):  # 99 steps of 3.7 m: triggers fall inside steps
        due = trig.due(path, path + 3.7, step, step + 1, True)
        fired += [path + f * 3.7 for f, _ in due]
        path += 3.7
    assert fired == pytest.approx([10.0 * k for k in range(1, 37)])


def test_interval_capture_with_a_count():
    trig = CameraTriggers()
    assert trig.start_interval(2.0, 3, now=0.0)
    times = []
    t = 0.0
    for _ in range(1000):
        times += [t + f * 0.01 for f, _ in trig.due(0, 0, t, t + 0.01, False)]
        t += 0.01
    assert times == pytest.approx([0.0, 2.0, 4.0], abs=1e-6)


def test_flat_earth_round_trip():
    fe = FlatEarth(-35.363261, 149.165230)
    lat, lon = fe.to_latlon(1000.0, -500.0)
    n, e = fe.to_ne(lat, lon)
    assert (n, e) == pytest.approx((1000.0, -500.0), abs=1e-6)
    from mission.frame import LocalFrame

    frame = LocalFrame.around(149.165230, -35.363261)
    x0, y0 = frame.to_local(149.165230, -35.363261)
    x1, y1 = frame.to_local(lon, lat)
    assert math.hypot(x1 - x0, y1 - y0) == pytest.approx(math.hypot(1000, 500), rel=1e-3)
