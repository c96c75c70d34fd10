"""`skyscan upload | download | fly` against a real SITL process: success and the clear failures."""

from __future__ import annotations

import socket

import pytest

from mission.formats import read_plan, write_plan
from mission.plan import MissionItem
from mission.survey import SurveySpec, plan_survey
from sensors.catalog import get_camera
from sitl.process import SitlProcess
from skyscan.cli.main import ExitStatus, main
from tests.common import area_from_m, latlon_of

HOME_ALT = 584.0


@pytest.fixture(scope="module")
def small_plan(tmp_path_factory):
    area = area_from_m([(0, 0), (120, 0), (120, 80), (0, 80)])
    plan = plan_survey(area, get_camera("mavic3e"), SurveySpec(altitude_m=50, home=latlon_of((-20, -20))))
    path = tmp_path_factory.mktemp("plan") / "small.plan"
    write_plan(plan, path)
    return plan, path


@pytest.fixture(scope="module")
def sitl(small_plan, tmp_path_factory):
    plan, _ = small_plan
    with SitlProcess(home=(plan.home.lat, plan.home.lon, HOME_ALT, 0.0), speedup=20,
                     log_dir=tmp_path_factory.mktemp("sitl")) as proc:
        yield proc


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_upload_then_download(capsys, tmp_path, sitl, small_plan):
    plan, path = small_plan
    code, out, err = run(capsys, "upload", path, "--connect", sitl.connection_string())
    assert code == ExitStatus.OK, err
    assert "verified" in out and "ArduPilot quadrotor" in out
    got = tmp_path / "onboard.waypoints"
    code, out, err = run(capsys, "download", "--connect", sitl.connection_string(), "-o", got)
    assert code == ExitStatus.OK, err
    back = read_plan(got)
    assert [it.command for it in back.items] == [it.command for it in plan.items]


def test_fly_to_landing_with_tlog(capsys, tmp_path, sitl, small_plan):
    _, path = small_plan
    tlog = tmp_path / "flight.tlog"
    code, out, err = run(capsys, "fly", path, "--connect", sitl.connection_string(), "--tlog", tlog)
    assert code == ExitStatus.OK, err
    assert "landed" in out and tlog.stat().st_size > 1000


def test_rejected_item_exit_2(capsys, tmp_path, sitl, small_plan):
    plan, _ = small_plan
    bad = tmp_path / "bad.plan"
    items = list(plan.items)
    items[3] = MissionItem.waypoint(123.0, plan.home.lon, 50)  # impossible latitude
    write_plan(plan.with_items(items), bad)
    code, _, err = run(capsys, "upload", bad, "--connect", sitl.connection_string())
    assert code == ExitStatus.INPUT_ERROR
    assert "refused by the vehicle at item 4" in err and "MAV_MISSION_INVALID_PARAM5_X" in err
    assert "Traceback" not in err


def test_no_heartbeat_exit_2(capsys, tmp_path, small_plan):
    _, path = small_plan
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, _, err = run(capsys, "upload", path, "--connect", f"udpout:127.0.0.1:{port}", "--timeout", "1")
    assert code == ExitStatus.INPUT_ERROR and "no heartbeat" in err


def test_bad_connection_string_exit_2(capsys, small_plan):
    _, path = small_plan
    code, _, err = run(capsys, "upload", path, "--connect", "com7")
    assert code == ExitStatus.INPUT_ERROR and "not understood" in err
