"""The SITL as a real process: start-up lines, heartbeats, parameters, arming, clean stop, instances."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sitl.process import SitlProcess
from tests.sitl.client import mavlink, mavutil

ROOT = Path(__file__).resolve().parents[2]


def test_prints_endpoints_and_sends_ardupilot_heartbeats(sitl_factory, gcs_factory):
    sitl = sitl_factory(speedup=5, listen=["tcp:127.0.0.1:0", "udp:127.0.0.1:0"])
    assert [e.scheme for e in sitl.endpoints] == ["tcp", "udp"]
    assert all(e.port > 0 for e in sitl.endpoints)
    for url in (sitl.connection_string("tcp"), sitl.connection_string("udp")):
        gcs = gcs_factory(url)
        hb = gcs.wait("HEARTBEAT")
        assert hb.get_srcSystem() == 1 and hb.get_srcComponent() == 1
        assert hb.type == mavlink.MAV_TYPE_QUADROTOR
        assert hb.autopilot == mavlink.MAV_AUTOPILOT_ARDUPILOTMEGA
        assert hb.base_mode & mavlink.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED
        assert not hb.base_mode & mavlink.MAV_MODE_FLAG_SAFETY_ARMED
        assert hb.custom_mode == 0 and hb.system_status == mavlink.MAV_STATE_STANDBY
        kinds = {m.get_type() for m in gcs.drain(0.6)}
        assert {"GLOBAL_POSITION_INT", "ATTITUDE", "VFR_HUD", "SYS_STATUS", "GPS_RAW_INT", "BATTERY_STATUS",
                "SYSTEM_TIME", "MISSION_CURRENT"} <= kinds


def test_parameters_list_read_set(sitl_factory, gcs_factory):
    gcs = gcs_factory(sitl_factory(speedup=5).connection_string())
    gcs.mav.param_request_list_send(1, 1)
    values = {}
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        m = gcs.wait("PARAM_VALUE")
        values[m.param_id] = m
        if len(values) == m.param_count:
            break
    assert {"WPNAV_SPEED", "RTL_ALT", "FENCE_ENABLE", "BATT_CAPACITY", "MIS_TOTAL", "SIM_SPEEDUP"} <= set(values)
    assert sorted(m.param_index for m in values.values()) == list(range(len(values)))
    assert values["WPNAV_SPEED"].param_value == 1000

    gcs.mav.param_request_read_send(1, 1, b"RTL_ALT", -1)
    assert gcs.wait("PARAM_VALUE", lambda m: m.param_id == "RTL_ALT").param_value == 1500
    index = values["LAND_SPEED"].param_index
    gcs.mav.param_request_read_send(1, 1, b"", index)
    assert gcs.wait("PARAM_VALUE", lambda m: m.param_index == index).param_id == "LAND_SPEED"

    echo = gcs.set_param("WPNAV_SPEED", 750)
    assert echo.param_value == 750 and echo.param_index == 65535
    gcs.mav.param_request_read_send(1, 1, b"WPNAV_SPEED", -1)
    assert gcs.wait("PARAM_VALUE", lambda m: m.param_id == "WPNAV_SPEED").param_value == 750

    # Unknown names are dropped silently, as ArduPilot does.
    gcs.mav.param_set_send(1, 1, b"NO_SUCH_PARAM", 1.0, mavlink.MAV_PARAM_TYPE_REAL32)
    assert not [m for m in gcs.drain(0.3) if m.get_type() == "PARAM_VALUE" and m.param_id == "NO_SUCH_PARAM"]


def test_arming_refused_before_ekf_ready_then_accepted(sitl_factory, gcs_factory):
    gcs = gcs_factory(sitl_factory(speedup=4, args=["--ekf-delay", "5"]).connection_string())
    assert gcs.set_mode(4) == mavlink.MAV_RESULT_FAILED  # GUIDED needs a position
    assert gcs.arm() == mavlink.MAV_RESULT_FAILED
    assert any(t.startswith("PreArm: ") for t in gcs.statustexts())
    gcs.wait("STATUSTEXT", lambda m: m.text == "EKF3 IMU0 is using GPS", timeout=5)
    gcs.wait("HOME_POSITION", timeout=3)
    assert gcs.set_mode(4) == mavlink.MAV_RESULT_ACCEPTED
    assert gcs.arm() == mavlink.MAV_RESULT_ACCEPTED
    hb = gcs.wait("HEARTBEAT", lambda m: m.base_mode & mavlink.MAV_MODE_FLAG_SAFETY_ARMED)
    assert hb.custom_mode == 4 and hb.system_status == mavlink.MAV_STATE_ACTIVE
    gcs.set_param("SIM_SPEEDUP", 50)  # the rest need not be watched at 4x
    assert gcs.command(mavlink.MAV_CMD_NAV_TAKEOFF, 0, 0, 0, 0, 0, 0, 10) == mavlink.MAV_RESULT_ACCEPTED
    gcs.wait("GLOBAL_POSITION_INT", lambda m: m.relative_alt > 9000, timeout=10)
    assert gcs.command(mavlink.MAV_CMD_NAV_LAND) == mavlink.MAV_RESULT_ACCEPTED
    gcs.wait("HEARTBEAT", lambda m: not m.base_mode & mavlink.MAV_MODE_FLAG_SAFETY_ARMED, timeout=15)


def test_commands_acks(sitl_factory, gcs_factory):
    gcs = gcs_factory(sitl_factory(speedup=20).connection_string())
    assert gcs.command(31999) == mavlink.MAV_RESULT_UNSUPPORTED
    assert gcs.command(mavlink.MAV_CMD_MISSION_START, 1, 0) == mavlink.MAV_RESULT_DENIED
    assert gcs.command(mavlink.MAV_CMD_REQUEST_MESSAGE, mavlink.MAVLINK_MSG_ID_AUTOPILOT_VERSION) == 0
    version = gcs.wait("AUTOPILOT_VERSION")
    assert version.capabilities & mavlink.MAV_PROTOCOL_CAPABILITY_MISSION_INT
    assert gcs.command(mavlink.MAV_CMD_SET_MESSAGE_INTERVAL, mavlink.MAVLINK_MSG_ID_ATTITUDE, -1) == 0
    gcs.drain(0.1)
    assert not [m for m in gcs.drain(0.3) if m.get_type() == "ATTITUDE"]
    gcs.mav.command_int_send(1, 1, 0, mavlink.MAV_CMD_GET_HOME_POSITION, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    assert gcs.wait("COMMAND_ACK", lambda m: m.command == mavlink.MAV_CMD_GET_HOME_POSITION).result == 0
    home = gcs.wait("HOME_POSITION")
    assert home.latitude == pytest.approx(-35.363261 * 1e7, abs=2) and home.altitude == 584000
    # Force-arm skips the pre-arm checks, even before the EKF is ready.
    assert gcs.arm(force=True) == 0
    assert gcs.command(mavlink.MAV_CMD_COMPONENT_ARM_DISARM, 0) == 0


def test_sigterm_stops_cleanly_with_a_readable_tlog(sitl_factory, gcs_factory):
    sitl = sitl_factory(speedup=10)
    gcs = gcs_factory(sitl.connection_string())
    gcs.set_param("WPNAV_SPEED", 900)
    gcs.drain(0.5)
    assert sitl.stop() == 0
    assert "stopped" in sitl.stderr_text
    log = mavutil.mavlink_connection(str(sitl.tlog_path), dialect="ardupilotmega")
    counts: dict[str, int] = {}
    stamps = []
    while (m := log.recv_match()) is not None:
        counts[m.get_type()] = counts.get(m.get_type(), 0) + 1
        stamps.append(m._timestamp)
    assert counts["HEARTBEAT"] >= 3 and counts["ATTITUDE"] >= 30
    assert counts.get("PARAM_SET") == 1  # what the SITL received is logged too
    assert stamps == sorted(stamps)
    assert abs(stamps[0] - time.time()) < 3600  # simulated UTC from the boot time


def test_two_instances_and_instance_offset(sitl_factory, gcs_factory):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        base = probe.getsockname()[1]
    a = sitl_factory(speedup=5, listen=[f"tcp:127.0.0.1:{base}"], args=["-I", "1"])
    b = sitl_factory(speedup=5, listen=["tcp:127.0.0.1:0"], args=["--sysid", "2"])
    assert a.endpoint().port == base + 10
    assert a.endpoint().port != b.endpoint().port
    ga = gcs_factory(a.connection_string())
    gb = gcs_factory(b.connection_string())
    assert ga.wait("HEARTBEAT").get_srcSystem() == 1
    assert gb.wait("HEARTBEAT").get_srcSystem() == 2


def test_several_tcp_clients_share_the_vehicle(sitl_factory, gcs_factory):
    sitl = sitl_factory(speedup=5)
    one = gcs_factory(sitl.connection_string())
    two = gcs_factory(sitl.connection_string())
    one.set_param("RTL_ALT", 2500)
    echo = two.wait("PARAM_VALUE", lambda m: m.param_id == "RTL_ALT")  # PARAM_SET echoes go to every GCS
    assert echo.param_value == 2500


def test_udp_out_sends_to_a_fixed_address(sitl_factory):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx:
        rx.bind(("127.0.0.1", 0))
        rx.settimeout(5)
        port = rx.getsockname()[1]
        sitl_factory(speedup=5, args=["--udp-out", f"127.0.0.1:{port}"])
        data, _ = rx.recvfrom(4096)
    parser = mavlink.MAVLink(None)
    assert parser.parse_buffer(data)


def _run(args: list[str], timeout: float = 20.0) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "sitl", *args], capture_output=True, text=True, env=env,
                          timeout=timeout, cwd=ROOT)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--home", "200,10"], "--home"),
        (["--home", "abc"], "--home: cannot read"),
        (["--listen", "serial:/dev/ttyUSB0"], "--listen: cannot read"),
        (["--listen", "tcp:127.0.0.1:99999"], "out of range"),
        (["--wind", "fast"], "--wind"),
        (["--param", "NOPE=1"], "unknown parameter"),
    ],
)
def test_bad_options_exit_2_with_one_line(tmp_path, args, message):
    result = _run([*args, "--log-dir", str(tmp_path)])
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_port_in_use_is_a_user_error(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        result = _run(["--listen", f"tcp:127.0.0.1:{port}", "--log-dir", str(tmp_path)])
    assert result.returncode == 2
    assert "in use" in result.stderr


def test_sigint_also_stops_with_status_0(tmp_path):
    proc = SitlProcess(speedup=5, log_dir=tmp_path).start()
    try:
        proc.proc.send_signal(signal.SIGINT)
        assert proc.proc.wait(10) == 0
    finally:
        proc.stop()
