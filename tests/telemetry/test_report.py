"""telemetry.report and ``skyscan log report``: the HTML flight report, on real logs and on a flight whose
cross-track error is known by construction."""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mission.formats import read_plan, write_plan
from mission.frame import LocalFrame
from mission.plan import Home, MissionItem, Plan
from skyscan.cli.main import main
from telemetry.logs import read_log
from telemetry.report import cross_track_m, flight_report, mission_windows, planned_path
from tests.browser import chromium, render_dom  # noqa: F401 - chromium is a fixture
from tests.telemetry.logs.synth import T0_US, frame, mav, mavlink, record

ROOT = Path(__file__).resolve().parents[2]
LAT0, LON0, HOME_AMSL = -35.3632621, 149.1652374, 584.0
FRAME = LocalFrame.around(LON0, LAT0)
X0, Y0 = (float(v) for v in FRAME.to_local(LON0, LAT0))
ALT = 30.0
# Lateral offsets of the flown samples from the planned legs, alternating: |d| is 2 or 6 m, so over the
# mission the mean is 4 m, the RMS sqrt((4 + 36) / 2) = sqrt(20) m, the 95th percentile and the max 6 m.
OFFSETS = (2.0, -6.0)
COPTER_AUTO, COPTER_GUIDED, COPTER_RTL = 3, 4, 6


def latlon(x: float, y: float) -> tuple[float, float]:
    """(lat, lon) of a point x m east, y m north of home."""
    lon, lat = FRAME.to_lonlat(X0 + x, Y0 + y)
    return float(lat), float(lon)


def survey_plan() -> Plan:
    """Take off at home to 30 m, fly north 400 m, east 100 m (climbing to 40 m), south 400 m, return home."""
    return Plan(items=[MissionItem.takeoff(ALT), MissionItem.waypoint(*latlon(0, 400), ALT),
                       MissionItem.waypoint(*latlon(100, 400), ALT + 10), MissionItem.waypoint(*latlon(100, 0), ALT),
                       MissionItem.return_to_launch()],
                home=Home(LAT0, LON0, HOME_AMSL))


def _samples() -> list[tuple[float, float, float, int, int | None, bool]]:
    """(x, y, alt_rel, mode, mission item reached after this sample, in the mission) at 1 Hz."""
    s: list[tuple[float, float, float, int, int | None, bool]] = []
    s += [(-80.0, -80.0, 10.0, COPTER_GUIDED, None, False)] * 5  # before AUTO: far off the plan
    s += [(-50.0, 0.0, 20.0, COPTER_AUTO, None, False)] * 3  # AUTO, before the first item is reached: excluded
    s.append((0.0, 0.0, ALT, COPTER_AUTO, 1, False))  # take-off reached at home (its distance is 0 anyway)
    k = 0
    for y in range(20, 381, 5):  # leg 1, north along x = 0 (no sample near a corner)
        s.append((OFFSETS[k % 2], float(y), ALT, COPTER_AUTO, None, True))
        k += 1
    s[-1] = (*s[-1][:4], 2, True)
    for x in range(20, 81, 5):  # leg 2, east along y = 400, climbing 30 -> 40 m
        s.append((float(x), 400.0 + OFFSETS[k % 2], ALT + 10 * x / 100, COPTER_AUTO, None, True))
        k += 1
    s[-1] = (*s[-1][:4], 3, True)
    for y in range(380, 19, -5):  # leg 3, south along x = 100, descending 40 -> 30 m
        s.append((100.0 + OFFSETS[k % 2], float(y), ALT + 10 * y / 400, COPTER_AUTO, None, True))
        k += 1
    s[-1] = (*s[-1][:4], 4, True)
    s += [(200.0, 200.0, ALT, COPTER_RTL, None, False)] * 5  # after the last item: off the plan, excluded
    return s


def survey_tlog(path: Path) -> Path:
    """A copter tlog flying :func:`survey_plan` with the offsets above, battery data and 3 photos."""
    enc = mav(1, 1)
    out = bytearray()
    photo = 0
    for i, (x, y, alt, mode, reached, _) in enumerate(_samples()):
        ts = T0_US + i * 1_000_000
        lat, lon = latlon(x, y)
        msgs = [mavlink.MAVLink_heartbeat_message(2, 3, 217, mode, 4, 3),
                mavlink.MAVLink_global_position_int_message(1000 * i, round(lat * 1e7), round(lon * 1e7),
                                                            round((HOME_AMSL + alt) * 1000), round(alt * 1000),
                                                            500, 0, 0, 0),
                mavlink.MAVLink_sys_status_message(0, 0, 0, 500, 16800 - 5 * i, 1500, 90, 0, 0, 0, 0, 0, 0)]
        if 30 <= i < 90 and i % 20 == 10:
            photo += 1
            msgs.append(mavlink.MAVLink_camera_feedback_message(ts, 0, 0, photo, round(lat * 1e7), round(lon * 1e7),
                                                                HOME_AMSL + alt, alt, 0, 0, 0, 0, 0, photo))
        if reached is not None:
            msgs.append(mavlink.MAVLink_mission_item_reached_message(reached))
        for m in msgs:
            out += record(ts, frame(enc, m))
            ts += 1000
    path.write_bytes(bytes(out))
    return path


@pytest.fixture()
def survey(tmp_path: Path) -> tuple[Path, Path]:
    """(tlog, .plan) of the constructed survey flight."""
    plan = tmp_path / "survey.plan"
    write_plan(survey_plan(), plan)
    return survey_tlog(tmp_path / "survey.tlog"), plan


@pytest.fixture(scope="module")
def flight_logs(shared_data: Path) -> Path:
    path = shared_data / "flight_logs"
    if not path.is_dir():
        pytest.skip(f"flight logs not found at {path}")
    return path


# --- cross-track error -----------------------------------------------------------------------------------


def test_cross_track_distances_by_hand():
    path = np.array([latlon(0, 0), latlon(0, 100), latlon(50, 100)])
    pts = np.array([latlon(3, 50), latlon(-3, -4), latlon(25, 107), latlon(60, 100), latlon(0, 100)])
    dist, along = cross_track_m(pts[:, 0], pts[:, 1], path, FRAME)
    # beside leg 1; before its start (3-4-5 triangle to the first vertex); beside leg 2; past its end; a vertex
    np.testing.assert_allclose(dist, [3, 5, 7, 10, 0], atol=1e-6)
    np.testing.assert_allclose(along, [50, 0, 125, 150, 100], atol=1e-6)
    d_nan, _ = cross_track_m(np.array([np.nan]), np.array([LON0]), path, FRAME)
    assert np.isnan(d_nan).all()


def test_planned_path_follows_home_takeoff_and_rtl():
    path = planned_path(survey_plan(), (LAT0, LON0), HOME_AMSL)
    np.testing.assert_allclose(path.latlon, [(LAT0, LON0), latlon(0, 400), latlon(100, 400), latlon(100, 0),
                                             (LAT0, LON0)])
    np.testing.assert_allclose(path.alt_rel[:4], [30, 30, 40, 30])
    assert math.isnan(path.alt_rel[4])  # the vehicle picks its return altitude
    assert path.labels[0].startswith("item 1: NAV_TAKEOFF") and "RETURN_TO_LAUNCH" in path.labels[4]
    amsl = Plan(items=[MissionItem.waypoint(*latlon(0, 10), HOME_AMSL + 25, frame=0)], home=Home(LAT0, LON0))
    assert planned_path(amsl, (LAT0, LON0), HOME_AMSL).alt_rel.tolist() == [25.0]
    assert math.isnan(planned_path(amsl, (LAT0, LON0), None).alt_rel[0])  # AMSL item, home altitude unknown
    no_home = planned_path(Plan(items=[MissionItem.takeoff(20)]), None)
    assert len(no_home) == 0 and "no position" in no_home.notes[0]


def test_known_offsets_give_known_statistics(survey):
    tlog, plan_file = survey
    log = read_log(tlog)
    report = flight_report(log, read_plan(plan_file))
    samples = _samples()
    in_mission = [s[5] for s in samples]
    ct = report.cross_track
    assert ct is not None
    # The window runs from the take-off reached to the last waypoint reached, inside AUTO: the samples before
    # (80 and 50 m off, and the one at home, logged just before its "reached") and the return (over 100 m off)
    # are not counted.
    assert ct.samples == sum(in_mission) == 159
    assert ct.basis == "in AUTO mode, between the first and the last mission item reached"
    assert ct.max_m == pytest.approx(6.0, abs=0.02) and ct.p95_m == pytest.approx(6.0, abs=0.02)
    # 80 samples 2 m off and 79 samples 6 m off
    assert ct.mean_m == pytest.approx((80 * 2 + 79 * 6) / 159, abs=0.02)
    assert ct.rms_m == pytest.approx(math.sqrt((80 * 4 + 79 * 36) / 159), abs=0.02)
    # planned altitude at each sample, from its position along the path: 30 m, 30 -> 40 m, 40 -> 30 m, as flown
    trk = report.flight.track
    leg2 = [i for i, s in enumerate(samples) if s[5] and abs(s[1] - 400) <= 6]
    expected = [ALT + 10 * samples[i][0] / 100 for i in leg2]
    np.testing.assert_allclose(report.planned_rel[leg2], expected, atol=0.05)
    flown = np.flatnonzero(in_mission)
    np.testing.assert_allclose(report.planned_rel[flown], trk["alt_rel"][flown], atol=0.05)
    assert np.ptp(report.planned_rel[flown]) == pytest.approx(9.5, abs=0.1)  # 30 m up to 39.5 m


def test_mission_windows_from_modes_and_reached_items(survey):
    tlog, _ = survey
    log = read_log(tlog)
    report = flight_report(log)
    (start, end), = report.windows
    t0 = T0_US / 1e6
    assert start == pytest.approx(t0 + 8, abs=0.01)  # the take-off reached (sample 8)
    assert end == pytest.approx(t0 + len(_samples()) - 6, abs=0.01)  # the last waypoint reached
    assert mission_windows(log, report.summary) == (report.windows, report.window_basis)
    # no plan: the page says so and nothing is compared
    assert report.cross_track is None and report.path is None
    assert any("No plan given" in n for n in report.notes)


# --- the page --------------------------------------------------------------------------------------------


def _figures(page: str) -> dict[str, bool]:
    return {k: bool(re.search(rf'<figure id="figure-{k}"><img [^>]*src="data:image/png;base64,[A-Za-z0-9+/]{{100}}',
                              page)) for k in ("altitude", "cross-track", "speed", "battery")}


def test_report_page_in_browser(survey, tmp_path: Path, chromium):  # noqa: F811 - fixture
    tlog, plan_file = survey
    out = flight_report(read_log(tlog), read_plan(plan_file)).write(tmp_path / "report.html")
    dom = render_dom(out, browser=chromium)
    assert re.search(r'<div id="skyscan-map"[^>]*class="leaflet-container[^>]*data-ready="1"', dom)
    layers = re.findall(r'<span class="skyscan-layer-name" data-layer="([a-z0-9-]+)">', dom)
    assert layers == ["planned-path", "waypoints", "flown-track", "track-while-flying-the-mission", "camera-triggers",
                      "home"]
    paths = {lid: len(re.findall(rf'<path class="skyscan-layer skyscan-layer-{lid}\b', dom)) for lid in layers}
    assert paths == {"planned-path": 1, "waypoints": 5, "flown-track": 1, "track-while-flying-the-mission": 1,
                     "camera-triggers": 3, "home": 1}
    assert _figures(dom) == {"altitude": True, "cross-track": True, "speed": True, "battery": True}
    table = re.search(r'<table id="report-cross-track">(.*?)</table>', dom, re.S).group(1)
    assert "<th>RMS</th><td class=\"num\">4.46 m</td>" in table  # sqrt((80 * 4 + 79 * 36) / 159)
    assert '<table id="report-summary">' in dom and "AUTO" in dom


@pytest.mark.parametrize("name", ["ardupilot_bin_h3ct0r_px4tools/16-07-13_17-52-16.bin",
                                  "px4_ulog_pyulog/sample_log_small.ulg", "px4_ulog_pyulog/sample.ulg",
                                  "autel_evo2_rtk_mrk_helenenschacht/101FTASK_Timestamp.mrk"])
def test_real_logs_without_plan(flight_logs: Path, tmp_path: Path, name: str):
    log = read_log(flight_logs / name)
    report = flight_report(log)
    page = report.write(tmp_path / "r.html").read_text("utf-8")
    figs = _figures(page)
    notes = " ".join(report.notes)
    assert "No plan given" in notes and figs["cross-track"] is False
    if name.endswith(".bin"):  # 20 min ArduCopter flight, CURR battery data, GPS
        assert figs == {"altitude": True, "cross-track": False, "speed": True, "battery": True}
        assert len(report.battery) == 2 and 14.0 < np.nanmedian(report.battery[0].values) < 17.5
        assert report.windows == []  # LOITER, LAND and RTL only
    elif name.endswith("sample.ulg"):  # no GPS, no battery topic
        assert "no position data" in notes and "no battery" in notes and not figs["altitude"]
    elif name.endswith(".mrk"):  # photo positions only: triggers on the map, nothing to plot
        assert "camera-triggers" in page and not any(figs.values())
    else:
        assert figs["battery"] and figs["altitude"]


def test_real_sitl_tlog_with_its_own_mission(flight_logs: Path, tmp_path: Path, chromium):  # noqa: F811
    """vtol.tlog carries the mission it was given (MISSION_ITEM rows): pair it with that plan."""
    tlog = flight_logs / "ardupilot_sitl_uavlogviewer" / "vtol.tlog"
    log = read_log(tlog)
    mi = log["MISSION_ITEM"]
    _, first = np.unique(mi["seq"], return_index=True)
    lines = ["QGC WPL 110"] + [
        "\t".join(map(str, [int(mi["seq"][i]), 0, int(mi["frame"][i]), int(mi["command"][i]),
                            *(float(mi[f"param{k}"][i]) for k in range(1, 5)), float(mi["x"][i]), float(mi["y"][i]),
                            float(mi["z"][i]), 1])) for i in first]
    plan_file = tmp_path / "vtol.waypoints"
    plan_file.write_text("\n".join(lines) + "\n")
    plan = read_plan(plan_file)
    report = flight_report(log, plan)
    # QLOITER, CIRCLE, GUIDED, QLAND: the mission was never flown in AUTO, so no cross-track figure
    assert report.cross_track is None
    assert any("never a mission (AUTO) mode" in n or "never shows a mission" in n for n in report.notes)
    assert report.path is not None and len(report.path) >= 2
    assert report.agl is not None  # TERRAIN_REPORT heights
    assert any("no battery" in n for n in report.notes)
    dom = render_dom(report.write(tmp_path / "vtol.html"), browser=chromium)
    layers = re.findall(r'<span class="skyscan-layer-name" data-layer="([a-z0-9-]+)">', dom)
    assert layers == ["planned-path", "waypoints", "flown-track", "home"]
    assert _figures(dom)["altitude"] and not _figures(dom)["battery"]


# --- the command -----------------------------------------------------------------------------------------


def run(capsys, *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_report(capsys, survey, tmp_path: Path):
    tlog, plan_file = survey
    out = tmp_path / "out" / "report.html"
    code, stdout, _ = run(capsys, "log", "report", tlog, "--plan", plan_file, "-o", out)
    assert code == 0 and out.is_file()
    # 6.0x: positions are stored to 1e-7 deg (about 1 cm)
    assert re.search(r"cross-track error: mean 3\.99 m, RMS 4\.46 m, 95% 6\.0\d m, max 6\.0\d m over 159 samples",
                     stdout)
    assert [p.name for p in out.parent.iterdir()] == ["report.html"]
    code, stdout, _ = run(capsys, "log", "report", tlog, "-o", tmp_path / "noplan.html")
    assert code == 0 and "cross-track" not in stdout and (tmp_path / "noplan.html").is_file()


@pytest.mark.parametrize("case", ["missing log", "corrupt log", "corrupt plan"])
def test_cli_bad_input_is_one_line_and_no_file(capsys, survey, tmp_path: Path, case: str):
    tlog, _ = survey
    bad = tmp_path / "bad.tlog"
    bad.write_bytes(b"\x00garbage" * 100)
    broken_plan = tmp_path / "broken.plan"
    broken_plan.write_text('{"fileType": "Plan", "mission": ')
    args = {"missing log": [tmp_path / "nope.tlog"], "corrupt log": [bad],
            "corrupt plan": [tlog, "--plan", broken_plan]}[case]
    out = tmp_path / "o" / "report.html"
    code, _, err = run(capsys, "log", "report", *args, "-o", out)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and err.startswith("error:") and "Traceback" not in err
    assert not out.exists() and not (out.parent.exists() and any(out.parent.iterdir()))


def test_cli_process_exit_code(tmp_path: Path):
    """The real process: one line on stderr, status 2, no output file."""
    out = tmp_path / "r.html"
    res = subprocess.run([sys.executable, "-m", "skyscan", "log", "report", str(tmp_path / "missing.bin"), "-o",
                          str(out)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and res.stderr.startswith("error:") and len(res.stderr.strip().splitlines()) == 1
    assert not out.exists()
