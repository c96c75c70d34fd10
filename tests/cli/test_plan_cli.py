"""The CLI: `skyscan plan survey`, `plan check`, `cameras`, `demo`; exit codes and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mission.formats import read_plan
from skyscan.cli.main import ExitStatus, main
from tests.common import FIELD, L_SHAPE, lonlat_polygon, write_geojson

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def field(tmp_path) -> Path:
    return write_geojson(tmp_path / "field.geojson", lonlat_polygon(L_SHAPE))


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_survey_writes_every_format_and_summary(capsys, tmp_path, field):
    outs = [tmp_path / f"m{ext}" for ext in (".plan", ".waypoints", ".kml", ".geojson")]
    args = ["plan", "survey", field, "--camera", "DJI Mavic 3E", "--gsd", "2.5cm", "--overlap", "80/70"]
    for o in outs:
        args += ["-o", o]
    code, out, err = run(capsys, *args)
    assert code == ExitStatus.OK, err
    assert "coverage (>= 15 photos)" in out and "estimated flight time" in out
    plans = [read_plan(o) for o in outs]
    n = len(plans[0].items)
    assert all(len(p.items) == n for p in plans)
    doc = json.loads(outs[0].read_text())
    assert doc["fileType"] == "Plan" and doc["mission"]["items"][0]["command"] == 22


def test_check_reads_plan_back(capsys, tmp_path, field):
    plan = tmp_path / "m.plan"
    assert run(capsys, "plan", "survey", field, "-c", "mavic3e", "--alt", "70m", "-o", plan)[0] == 0
    code, out, _ = run(capsys, "plan", "check", plan, "--raster", tmp_path / "count.tif", "--require", "99.5")
    assert code == ExitStatus.OK
    assert "seen by >= 15 photos (promised)" in out and (tmp_path / "count.tif").exists()
    code, _, err = run(capsys, "plan", "check", plan, "--require", "100.1")
    assert code == ExitStatus.FAILED and "below the required" in err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--camera", "mavic 3x", "--alt", "80"], "unknown camera 'mavic 3x'; did you mean"),
        (["--camera", "mavic3e", "--alt", "80", "--overlap", "99/70"], "front overlap 99 % is out of range"),
        (["--camera", "mavic3e"], "give exactly one of --gsd"),
        (["--camera", "mavic3e", "--gsd", "0.3cm", "--overlap", "90/90"], "exceed the vehicle's limit of 700"),
        (["--camera", "mavic3e", "--alt", "200"], "above the 120 m limit"),
        (["--camera", "mavic3e", "--alt", "80", "--home", "149.1,-35.3"], "not a latitude,longitude pair"),
        (["--camera", "mavic3e", "--gsd", "2 furlongs"], "--gsd: unknown unit 'furlongs'"),
        (["--camera", "mavic3e", "--gsd", "two"], "--gsd: cannot read"),
    ],
)
def test_bad_input_one_line_exit_2_no_file(capsys, tmp_path, field, extra, message):
    out_file = tmp_path / "out.plan"
    code, _, err = run(capsys, "plan", "survey", field, *extra, "-o", out_file)
    assert code == ExitStatus.INPUT_ERROR
    assert message in " ".join(err.split())
    assert "Traceback" not in err and len(err.strip().splitlines()) <= 3  # one message, wrapped at most
    assert list(tmp_path.iterdir()) == [field]


def test_self_intersecting_area(capsys, tmp_path):
    bow = tmp_path / "bow.geojson"
    bow.write_text(json.dumps({"type": "Polygon", "coordinates": [
        [[149.0, -35.0], [149.01, -35.01], [149.01, -35.0], [149.0, -35.01], [149.0, -35.0]]]}))
    code, _, err = run(capsys, "plan", "survey", bow, "-c", "mavic3e", "--alt", "80", "-o", tmp_path / "x.plan")
    assert code == 2 and "self-intersecting" in err and not (tmp_path / "x.plan").exists()


def test_unknown_output_format_refused_before_planning(capsys, tmp_path, field):
    code, _, err = run(capsys, "plan", "survey", field, "-c", "mavic3e", "--alt", "80", "-o", tmp_path / "m.plan",
                       "-o", tmp_path / "m.docx")
    assert code == 2 and "unknown output format .docx" in err
    assert not (tmp_path / "m.plan").exists()


def test_usage_error_is_exit_2(capsys, field):
    code, _, err = run(capsys, "plan", "survey", field, "--no-such-option")
    assert code == 2 and "No such option" in err


def test_cameras_lists_catalogue(capsys):
    code, out, _ = run(capsys, "cameras")
    assert code == 0 and "mavic3e" in out and "rededge-p" in out


def test_demo_writes_everything(capsys, tmp_path):
    code, _, err = run(capsys, "demo", "--no-fly", "-o", tmp_path / "demo")
    assert code == 0, err
    names = sorted(p.name for p in (tmp_path / "demo").iterdir())
    assert names == ["coverage-planned.tif", "survey.geojson", "survey.kml", "survey.plan", "survey.waypoints"]


def test_console_entry_points(tmp_path):
    for cmd in ([sys.executable, "-m", "skyscan", "--help"],):
        res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert res.returncode == 0 and "plan" in res.stdout
    bow = tmp_path / "field.geojson"
    write_geojson(bow, lonlat_polygon(FIELD))
    res = subprocess.run([sys.executable, "-m", "skyscan", "plan", "survey", str(bow), "-c", "nope", "--alt", "80",
                          "-o", str(tmp_path / "a.plan")], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and res.stderr.startswith("error: unknown camera") and "Traceback" not in res.stderr


def test_log_summary_and_export(capsys, tmp_path, shared_data):
    log = shared_data / "flight_logs" / "ardupilot_bin_h3ct0r_px4tools" / "16-07-13_17-52-16.bin"
    code, out, err = run(capsys, "log", "summary", log)
    assert code == 0, err
    assert "modes:" in out and "LOITER" in out and "Frame: OCTA_QUAD" in out
    code, _, err = run(capsys, "log", "export", log, "-o", tmp_path / "track.gpx")
    assert code == 0, err
    assert "<gpx" in (tmp_path / "track.gpx").read_text()


def test_log_garbage_exit_2(capsys, tmp_path):
    bad = tmp_path / "x.tlog"
    bad.write_bytes(b"garbage" * 10)
    code, _, err = run(capsys, "log", "summary", bad)
    assert code == 2 and "not a flight log" in err
