"""Track, camera events, summary and export across formats; format detection by content."""

from __future__ import annotations

import csv
import io
import json
import shutil
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from skyscan.errors import InputError, LogFormatError
from telemetry.logs import (
    EVENT_COLUMNS,
    TRACK_COLUMNS,
    Flight,
    camera_events,
    detect_format,
    export,
    parse_tlog,
    read_log,
    render,
    summary,
    track,
)
from tests.telemetry.logs.synth import LAT0, T0_US, modern_bin, survey_tlog


@pytest.fixture
def synthetic_tlog(tmp_path):
    path = tmp_path / "survey.tlog"
    path.write_bytes(survey_tlog(60, v1_every=4))
    return path


def test_tlog_track_and_events(synthetic_tlog):
    log = read_log(synthetic_tlog)
    trk = track(log)
    assert trk.fields == list(TRACK_COLUMNS)
    assert len(trk) == 60
    assert trk["lat"][0] == pytest.approx(LAT0, abs=1e-7)
    assert np.allclose(trk["ground_speed"], 5.0)  # vx 3 m/s, vy 4 m/s
    assert np.allclose(trk["yaw"], np.degrees(0.785 + 0.001 * np.arange(60)) % 360)
    assert np.allclose(trk["alt_rel"], 0.1 * np.arange(60))
    ev = camera_events(log)
    assert ev.fields == list(EVENT_COLUMNS)
    assert ev["index"].tolist() == [1, 2, 3, 4, 5, 6]
    assert ev["time"][0] == pytest.approx((T0_US + 5 * 200_000) / 1e6)  # vehicle UTC time, not receive time
    assert ev["yaw"].tolist() == [45.0] * 6 and not ev["interpolated"].any()
    flight = Flight.from_log(log)
    assert flight.utc and len(flight.events) == 6


def test_tlog_summary(synthetic_tlog):
    s = summary(read_log(synthetic_tlog))
    assert s.duration_s == pytest.approx(59 * 0.2 + 0.005, abs=0.01)
    assert s.distance_m == pytest.approx(59 * 1.4, rel=0.05)  # 1e-5 deg N and E per step: ~1.4 m
    assert s.max_alt_rel_m == pytest.approx(5.9)
    assert s.battery_voltage_start == 16.0 and s.battery_voltage_end == pytest.approx(15.41)
    assert s.battery_used_mah is not None and s.battery_used_mah > 0
    assert [m.name for m in s.modes] == ["GUIDED", "AUTO"]
    assert s.mission_items_reached == [1]
    assert s.camera_events == 6
    assert [(n.severity, n.text) for n in s.notices] == [("WARNING", "Warning: low battery")]
    assert "camera events:  6" in s.to_text()
    json.dumps(s.to_dict())


def test_dataflash_track_events_summary(tmp_path):
    path = tmp_path / "modern.bin"
    path.write_bytes(modern_bin())
    log = read_log(path)
    trk = track(log)
    assert len(trk) == 100 and np.allclose(trk["roll"], 1.5) and np.allclose(trk["yaw"], 45 + 0.01 * np.arange(100))
    ev = camera_events(log)
    assert ev["source"].tolist() == ["CAM"] * 5
    assert np.all(np.diff(ev["time"]) > 0)
    s = summary(log)
    assert [m.name for m in s.modes] == ["LOITER", "AUTO", "RTL"]
    assert s.battery_used_mah == pytest.approx(495.0)
    assert s.mission_items_reached == [1]


def test_real_logs_summaries(vtol_tlog, copter_bin, autel_mrk, px4_ulogs):
    s = summary(read_log(vtol_tlog))
    assert 3 < s.duration_s / 60 < 4 and 1000 < s.distance_m < 3000
    assert 50 < s.max_alt_rel_m < 80 and [m.name for m in s.modes][:2] == ["QLOITER", "CIRCLE"]
    c = summary(read_log(copter_bin))
    assert 5 < c.duration_s / 60 < 7 and 100 < c.distance_m < 1000 and 15 < c.max_alt_rel_m < 25
    assert 1000 < c.battery_used_mah < 3000 and c.battery_voltage_min > 14
    assert {m.name for m in c.modes} >= {"LOITER", "RTL"}
    assert summary(read_log(autel_mrk)).distance_m > 500


def test_export_formats(synthetic_tlog, tmp_path):
    log = read_log(synthetic_tlog)
    gj = json.loads(render(log, "geojson"))
    kinds = [f["properties"]["kind"] for f in gj["features"]]
    assert kinds.count("track") == 1 and kinds.count("camera_event") == 6
    assert gj["features"][0]["geometry"]["coordinates"][0][1] == pytest.approx(LAT0)
    kml = ET.fromstring(render(log, "kml"))
    assert len(kml.findall(".//{http://www.opengis.net/kml/2.2}Placemark")) == 7
    gpx = ET.fromstring(render(log, "gpx"))
    ns = {"g": "http://www.topografix.com/GPX/1/1"}
    assert len(gpx.findall(".//g:trkpt", ns)) == 60 and len(gpx.findall("g:wpt", ns)) == 6
    assert gpx.find(".//g:trkpt/g:time", ns).text.startswith("2023-11-14T22:13:20")
    rows = list(csv.DictReader(io.StringIO(render(log, "csv"))))
    assert len(rows) == 66 and rows[-1]["kind"] == "camera_event" and rows[-1]["source"] == "CAMERA_FEEDBACK"
    out = export(log, tmp_path / "out" / "flight.geojson")
    assert json.loads(out.read_text())["type"] == "FeatureCollection"
    assert sorted(p.name for p in out.parent.iterdir()) == ["flight.geojson"]  # no temporary left behind
    with pytest.raises(InputError, match="geojson, kml, gpx, csv"):
        export(log, tmp_path / "flight.shp")


def test_detect_by_content_not_extension(tmp_path, vtol_tlog, copter_bin, autel_mrk, px4_ulogs):
    for src, kind in ((vtol_tlog, "tlog"), (copter_bin, "dataflash"), (autel_mrk, "mrk"), (px4_ulogs[0], "ulog")):
        dst = tmp_path / f"renamed_{kind}.dat"
        shutil.copyfile(src, dst)
        assert detect_format(dst) == kind
        assert read_log(dst).format == kind
    other = tmp_path / "notes.txt"
    other.write_text("just some notes\n")
    with pytest.raises(LogFormatError, match=r"\.tlog.*\.bin.*\.ulg.*\.mrk"):
        read_log(other)
    (tmp_path / "empty.bin").write_bytes(b"")
    with pytest.raises(LogFormatError, match="empty"):
        read_log(tmp_path / "empty.bin")


def test_events_without_pose_are_interpolated_from_track():
    from tests.telemetry.logs import synth

    enc = synth.mav()
    data = bytearray(survey_tlog(30))
    trig = synth.mavlink.MAVLink_camera_trigger_message(0, 1)  # boot-time stamp: receive time is used
    data += synth.record(T0_US + 10 * 200_000 + 1000, synth.frame(enc, trig))
    ev = camera_events(parse_tlog(bytes(data)))
    # the FEEDBACK events win when present; drop them to see the trigger fallback
    assert ev["source"][0] == "CAMERA_FEEDBACK"
    log = parse_tlog(bytes(data), types=["GLOBAL_POSITION_INT", "ATTITUDE", "CAMERA_TRIGGER", "HEARTBEAT"])
    ev = camera_events(log)
    assert ev["source"].tolist() == ["CAMERA_TRIGGER"] and ev["interpolated"].tolist() == [True]
    assert ev["lat"][0] == pytest.approx(LAT0 + 10e-5, abs=2e-7)
