"""Geotagging against truth: photos of a real SITL flight, re-tagged from its log after losing their tags.

One module-scoped flight (a 60 x 40 m survey at 40 m, ~33 photos, speedup 25) gives photos, the true
pose of each (truth.csv) and the SITL's .tlog. Test inputs are copies of the photos with GPS and XMP
stripped and the EXIF time moved by a camera clock offset; some lose a photo, gain a stray one, or
lose the camera events. Positions and orientations are checked against truth, mismatches by name.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import struct
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mission.survey import SurveySpec, plan_survey
from sensors.catalog import get_camera
from sensors.photo import PhotoMeta, _jpeg_header_segments, read_photo_meta, write_jpeg
from sensors.positions import read_positions_csv
from sensors.projection import _ENU_FROM_NED, _ODM_FROM_CV, rotation_ned
from sitl.process import SitlProcess
from skyscan.cli.main import ExitStatus, main
from skyscan.errors import InputError
from telemetry.fly import fly
from telemetry.geotag import GeotagOptions, geotag, match_events, write_geotags
from telemetry.link import connect, mavutil
from telemetry.logs import read_log
from telemetry.logs.flight import Flight
from tests.common import area_from_m, latlon_of

CLOCK = 3600.37  # the camera clock runs this far ahead of UTC (a time zone plus a bit)


@pytest.fixture(scope="module")
def flight(tmp_path_factory):
    """Fly a 60 x 40 m survey at 40 m on the SITL with the simulated camera; photos, truth and tlog."""
    tmp = tmp_path_factory.mktemp("geotag_flight")
    area = area_from_m([(0, 0), (60, 0), (60, 40), (0, 40)])
    spec = SurveySpec(altitude_m=40, front_overlap=0.75, side_overlap=0.65, home=latlon_of((-15, -15)),
                      fence_margin_m=60)
    plan = plan_survey(area, get_camera("mavic3e"), spec)
    args = ["--camera", "mavic3e", "--photo-size", "320x240", "--world-extent", "300",
            "--param", "BATT_CAPACITY=20000"]
    with SitlProcess(home=(plan.home.lat, plan.home.lon, 584.0, 0.0), speedup=25, log_dir=tmp / "sitl",
                     args=args, startup_timeout=60, stop_timeout=300) as sitl:
        with connect(sitl.connection_string(), timeout=20) as link:
            state = fly(link, plan, timeout=900)
        tlog = sitl.tlog_path
    photos = sorted((tmp / "sitl" / "photos").glob("IMG_*.JPG"))
    with open(tmp / "sitl" / "photos" / "truth.csv", newline="") as f:
        truth = {r["file"]: r for r in csv.DictReader(f)}
    assert 20 <= len(photos) == len(truth) == state.photos <= 45
    return {"dir": tmp, "tlog": tlog, "photos": photos, "truth": truth,
            "flight": Flight.from_log(read_log(tlog))}  # fmt: skip


def camera_copies(flight, dst: Path, *, clock: float = CLOCK, drop=(), stray: bool = False,
                  keep_gps: bool = False, keep_subsec: bool = True) -> Path:
    """Copies of the flight's photos as a camera without a GPS link writes them: no GPS, no XMP angles,
    capture time on a clock ``clock`` seconds off; ``drop`` names photos to leave out, ``stray`` adds
    one taken on the ground a minute before the first."""
    dst.mkdir(parents=True, exist_ok=True)
    first = None
    for p in flight["photos"]:
        m = read_photo_meta(p)
        first = first or m
        if p.name in drop:
            continue
        t = m.time + timedelta(seconds=clock)
        if not keep_subsec:
            t = t.replace(microsecond=0)
        meta = PhotoMeta(make=m.make, model=m.model, time=t, focal_length_mm=m.focal_length_mm)
        if keep_gps:
            meta = replace(meta, lat=m.lat, lon=m.lon, alt=m.alt)
        write_jpeg(dst / p.name, np.asarray(Image.open(p).convert("RGB")), meta)
    if stray:
        meta = PhotoMeta(make=first.make, model=first.model, time=first.time + timedelta(seconds=clock - 60.0))
        write_jpeg(dst / "IMG_9999.JPG", np.zeros((24, 32, 3), np.uint8), meta)
    return dst


def odm_rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """World (ENU) <- camera rotation of ODM/Pix4D angles (the inverse of sensors.projection.odm_angles)."""
    return _ENU_FROM_NED @ rotation_ned(yaw, pitch, roll) @ _ODM_FROM_CV


def rotation_error_deg(a: tuple[float, float, float], b: tuple[float, float, float]) -> float:
    r = odm_rotation(*a).T @ odm_rotation(*b)
    return math.degrees(math.acos(np.clip((np.trace(r) - 1.0) / 2.0, -1.0, 1.0)))


def errors_against_truth(positions, truth) -> np.ndarray:
    """(horizontal m, vertical m, rotation deg) per position, against the true pose of that file."""
    out = []
    for p in positions:
        t = truth[p.file]
        dn = (p.lat - float(t["lat"])) * 111_320.0
        de = (p.lon - float(t["lon"])) * 111_320.0 * math.cos(math.radians(p.lat))
        rot = rotation_error_deg((p.camera_yaw, p.camera_pitch, p.camera_roll),
                                 (float(t["odm_yaw"]), float(t["odm_pitch"]), float(t["odm_roll"])))  # fmt: skip
        out.append((math.hypot(dn, de), abs(p.alt_msl - float(t["alt_msl"])), rot))
    return np.array(out)


def _hash(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def _scan_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    return data[_jpeg_header_segments(data, path)[1] :]


# -- with camera events -----------------------------------------------------------------------------
def test_events_give_the_true_pose(flight, tmp_path):
    photos = camera_copies(flight, tmp_path / "in")
    result = geotag(sorted(photos.iterdir()), flight["flight"])
    assert result.method == "events" and result.all_tagged and not result.unmatched_events
    assert result.offset_s == pytest.approx(-CLOCK, abs=0.005)  # EXIF keeps milliseconds
    assert result.confidence > 0.8
    err = errors_against_truth(result.positions, flight["truth"])
    assert len(err) == len(flight["photos"])
    assert err[:, 0].max() < 0.5 and err[:, 1].max() < 0.5 and err[:, 2].max() < 0.5, err.max(axis=0)
    # Measured on this flight: about 6 mm, 0.1 mm and 0.0001 degree (the tlog's 1e-7 degree integers).
    assert err[:, 0].max() < 0.05
    assert all(p.source == "CAMERA_FEEDBACK" and not p.interpolated for p in result.positions)
    assert [p.event_index for p in result.positions] == [int(flight["truth"][p.file]["index"])
                                                         for p in result.positions]  # fmt: skip


def test_written_tags_read_back_as_the_truth(flight, tmp_path):
    photos = camera_copies(flight, tmp_path / "in")
    before = _hash(photos)
    result = geotag(sorted(photos.iterdir()), flight["flight"])
    write_geotags(result, tmp_path / "out")
    assert _hash(photos) == before  # originals untouched
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == sorted([p.name for p in flight["photos"]] + ["positions.csv", "positions.geojson"])
    back = [read_photo_meta(tmp_path / "out" / p.file) for p in result.positions]
    csv_rows = read_positions_csv(tmp_path / "out" / "positions.csv")
    gj = json.loads((tmp_path / "out" / "positions.geojson").read_text())
    assert len(gj["features"]) == len(csv_rows) == len(back) == len(flight["photos"])
    for m, p in zip(back, result.positions, strict=True):
        t = flight["truth"][p.file]
        assert m.lat == pytest.approx(float(t["lat"]), abs=1e-6) and m.lon == pytest.approx(float(t["lon"]), abs=1e-6)
        assert m.alt == pytest.approx(float(t["alt_msl"]), abs=0.01)
        assert m.gps_time.timestamp() == pytest.approx(float(t["unix_time"]), abs=0.002)
        assert rotation_error_deg(m.odm_ypr(), (float(t["odm_yaw"]), float(t["odm_pitch"]),
                                                float(t["odm_roll"]))) < 0.5  # fmt: skip
        assert rotation_error_deg((m.camera_yaw, m.camera_pitch, m.camera_roll), (p.camera_yaw, p.camera_pitch,
                                                                                  p.camera_roll)) < 1e-4  # fmt: skip
        assert m.time.timestamp() == pytest.approx(float(t["unix_time"]) + CLOCK, abs=0.002)  # camera's own time kept
        assert csv_rows[p.file].lat == pytest.approx(p.lat, abs=1e-9)
    # The image data is copied byte for byte.
    src = photos / result.positions[0].file
    assert _scan_bytes(tmp_path / "out" / src.name) == _scan_bytes(src)


def test_missing_photo_is_reported_not_shifted(flight, tmp_path):
    gone = flight["photos"][9].name
    photos = camera_copies(flight, tmp_path / "in", drop={gone})
    result = geotag(sorted(photos.iterdir()), flight["flight"])
    assert len(result.positions) == len(flight["photos"]) - 1 and not result.unmatched_photos
    assert [e.index for e in result.unmatched_events] == [int(flight["truth"][gone]["index"])]
    assert "no photo" in str(result.unmatched_events[0])
    assert any("photos but" in w for w in result.warnings)
    err = errors_against_truth(result.positions, flight["truth"])
    assert err[:, 0].max() < 0.5  # every other photo still gets its own event


def test_stray_photo_is_listed_by_name(flight, tmp_path):
    photos = camera_copies(flight, tmp_path / "in", stray=True)
    result = geotag(sorted(photos.iterdir()), flight["flight"])
    assert [u.file for u in result.unmatched_photos] == ["IMG_9999.JPG"]
    assert "no trigger event within" in result.unmatched_photos[0].reason
    assert "camera clock -3600.37 s" in result.unmatched_photos[0].reason
    assert len(result.positions) == len(flight["photos"]) and not result.unmatched_events
    assert errors_against_truth(result.positions, flight["truth"])[:, 0].max() < 0.5


def test_photos_without_times_match_by_order_only_when_counts_agree(flight, tmp_path):
    metas = [replace(read_photo_meta(p), time=None, lat=None, lon=None) for p in flight["photos"]]
    result = geotag(metas, flight["flight"])
    assert result.method == "order" and result.all_tagged and any("by order" in w for w in result.warnings)
    assert errors_against_truth(result.positions, flight["truth"])[:, 0].max() < 0.5
    with pytest.raises(InputError, match="no EXIF capture times"):
        geotag(metas[:-1], flight["flight"])


def test_whole_second_times_still_match(flight, tmp_path):
    photos = camera_copies(flight, tmp_path / "in", keep_subsec=False)
    result = geotag(sorted(photos.iterdir()), flight["flight"])
    assert result.all_tagged and not result.unmatched_events and result.tolerance_s >= 0.6
    assert any("sub-seconds" in w for w in result.warnings)
    assert errors_against_truth(result.positions, flight["truth"])[:, 0].max() < 0.5


def test_match_events_with_drift_and_gaps():
    rng = np.random.default_rng(3)
    events = np.cumsum(rng.uniform(1.2, 2.5, 300)) + 1.7e9
    keep = np.ones(300, bool)
    keep[[5, 77, 200]] = False  # missed shots
    photos = (events[keep] - 1.7e9) * (1 + 40e-6) - 7200.0 + 1.7e9 + rng.normal(0, 0.02, keep.sum())
    m = match_events(np.sort(photos), events)
    assert np.array_equal(m["match"], np.flatnonzero(keep))
    assert m["drift"] == pytest.approx(-40e-6, abs=10e-6)
    assert m["confidence"] > 0.99


def test_gimbal_options(flight, tmp_path, capsys):
    photos = camera_copies(flight, tmp_path / "in", drop={p.name for p in flight["photos"][6:]})
    code, _, err = run(capsys, "geotag", photos, "--log", flight["tlog"], "-o", tmp_path / "o", "--gimbal-pitch=-45")
    assert code == ExitStatus.OK, err
    rows = read_positions_csv(tmp_path / "o" / "positions.csv").values()
    assert all(r.camera_pitch == pytest.approx(45.0, abs=1e-3) for r in rows)
    assert all(abs((r.camera_yaw - r.yaw + 180) % 360 - 180) < 1e-3 for r in rows)  # follows the heading
    # A hard-mounted nadir camera tilts with the vehicle: off the stabilised truth by its roll and pitch.
    fixed = geotag(sorted(photos.iterdir()), flight["flight"], GeotagOptions(fixed_mount=True))
    err = errors_against_truth(fixed.positions, flight["truth"])[:, 2]
    tilt = [math.hypot(p.roll, p.pitch) for p in fixed.positions]
    assert err == pytest.approx(tilt, abs=0.2) and max(tilt) > 1.0


# -- without camera events ----------------------------------------------------------------------------
def test_offset_search_on_the_track_shape(flight, tmp_path):
    photos = camera_copies(flight, tmp_path / "in")
    result = geotag(sorted(photos.iterdir()), flight["flight"], GeotagOptions(ignore_events=True))
    assert result.method == "track-shape" and result.all_tagged
    # Measured: within 5 ms of the true offset, confidence about 0.27.
    assert result.offset_s == pytest.approx(-CLOCK, abs=0.05)
    assert result.confidence > 0.1
    err = errors_against_truth(result.positions, flight["truth"])
    assert err[:, 0].max() < 0.5 and err[:, 1].max() < 0.5 and err[:, 2].max() < 0.5, err.max(axis=0)
    assert all(p.interpolated and p.source == "track+offset" for p in result.positions)


def test_offset_search_on_photo_gps(flight, tmp_path):
    photos = camera_copies(flight, tmp_path / "in", keep_gps=True, clock=-5.2)
    result = geotag(sorted(photos.iterdir()), flight["flight"], GeotagOptions(ignore_events=True))
    assert result.method == "photo-gps" and result.all_tagged
    assert result.offset_s == pytest.approx(5.2, abs=0.02) and result.confidence > 0.5


def test_given_offset_skips_the_search(flight, tmp_path):
    photos = camera_copies(flight, tmp_path / "in")
    result = geotag(sorted(photos.iterdir()), flight["flight"], GeotagOptions(ignore_events=True, offset=-CLOCK))
    assert result.method == "given-offset" and result.offset_s == -CLOCK
    assert errors_against_truth(result.positions, flight["truth"])[:, 0].max() < 0.5


def _tlog_without(src: Path, dst: Path, drop: str) -> Path:
    """A copy of a tlog without one message type (a log from an autopilot that sends no camera events)."""
    log = mavutil.mavlink_connection(str(src))
    with open(dst, "wb") as out:
        while (msg := log.recv_msg()) is not None:
            if msg.get_type() not in (drop, "BAD_DATA"):
                out.write(struct.pack(">Q", round(msg._timestamp * 1e6)) + msg.get_msgbuf())
    return dst


# -- CLI --------------------------------------------------------------------------------------------------
def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_tags_copies_and_exits_0(flight, tmp_path, capsys):
    photos = camera_copies(flight, tmp_path / "in")
    before = _hash(photos)
    code, out, err = run(capsys, "geotag", photos, "--log", flight["tlog"], "-o", tmp_path / "out")
    assert code == ExitStatus.OK, err
    assert f"{len(flight['photos'])} of {len(flight['photos'])} tagged" in out and "-3600.370 s" in out
    assert _hash(photos) == before
    assert len(list((tmp_path / "out").glob("IMG_*.JPG"))) == len(flight["photos"])
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]  # no staging left


def test_cli_without_events_searches_the_offset(flight, tmp_path, capsys):
    tlog = _tlog_without(flight["tlog"], tmp_path / "no_events.tlog", "CAMERA_FEEDBACK")
    photos = camera_copies(flight, tmp_path / "in")
    code, out, err = run(capsys, "geotag", photos, "--log", tlog, "-o", tmp_path / "out")
    assert code == ExitStatus.OK, err
    assert "track's shape" in out
    rows = read_positions_csv(tmp_path / "out" / "positions.csv")
    assert errors_against_truth(rows.values(), flight["truth"])[:, 0].max() < 0.5


def test_cli_some_photos_not_tagged_exits_1(flight, tmp_path, capsys):
    photos = camera_copies(flight, tmp_path / "in", stray=True)
    code, out, _ = run(capsys, "geotag", photos, "--log", flight["tlog"], "-o", tmp_path / "out")
    assert code == ExitStatus.FAILED
    assert "not tagged: IMG_9999.JPG: no trigger event within" in out
    assert not (tmp_path / "out" / "IMG_9999.JPG").exists()
    assert len(read_positions_csv(tmp_path / "out" / "positions.csv")) == len(flight["photos"])


def test_cli_in_place(flight, tmp_path, capsys):
    photos = camera_copies(flight, tmp_path / "in")
    code, _, err = run(capsys, "geotag", photos, "--log", flight["tlog"], "--in-place")
    assert code == ExitStatus.OK, err
    assert read_photo_meta(photos / "IMG_0003.JPG").has_position and (photos / "positions.csv").is_file()
    assert not [p for p in photos.iterdir() if p.name.startswith(".")]


def test_cli_input_errors_exit_2_and_write_nothing(flight, tmp_path, capsys):
    photos = camera_copies(flight, tmp_path / "in", drop={p.name for p in flight["photos"][3:]})
    before = _hash(photos)
    empty = tmp_path / "empty"
    empty.mkdir()
    bad_log = tmp_path / "bad.tlog"
    bad_log.write_text("not a log\n" * 10)
    far = camera_copies(flight, tmp_path / "far", clock=CLOCK + 86_400 * 3, drop={p.name for p in flight["photos"][3:]})
    cases = [
        (["geotag", empty, "--log", flight["tlog"], "-o", tmp_path / "o1"], "no JPEG photos"),
        (["geotag", photos, "--log", bad_log, "-o", tmp_path / "o2"], ""),
        (["geotag", photos, "--log", tmp_path / "missing.tlog", "-o", tmp_path / "o3"], "not found"),
        (["geotag", photos, "--log", flight["tlog"], "-o", photos], "photo folder"),
        (["geotag", photos, "--log", flight["tlog"]], "-o OUT_DIR"),
        (["geotag", far, "--log", flight["tlog"], "-o", tmp_path / "o4", "--offset", "0"], "no photo could be"),
    ]
    for argv, words in cases:
        code, out, err = run(capsys, *argv)
        assert code == ExitStatus.INPUT_ERROR, (argv, out, err)
        assert "Traceback" not in err and err.count("\n") <= 2 and words in err, err
    assert _hash(photos) == before
    assert not any((tmp_path / f"o{i}").exists() and any((tmp_path / f"o{i}").iterdir()) for i in range(1, 5))


def test_a_failure_while_writing_leaves_no_partial_output(flight, tmp_path):
    photos = camera_copies(flight, tmp_path / "in", drop={p.name for p in flight["photos"][5:]})
    result = geotag(sorted(photos.iterdir()), flight["flight"])
    assert len(result.positions) == 5
    (photos / flight["photos"][3].name).write_bytes(b"\xff\xd8\xff\xe1\xff\xff")  # damaged after the match
    with pytest.raises(InputError, match="damaged JPEG"):
        write_geotags(result, tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []  # no copies, no positions files, no staging folder


# -- the real MRK (no photos of it exist in the shared data: the photos here are made for its events) --------
def test_real_mrk_events_with_made_photos(shared_data, tmp_path):
    mrk = shared_data / "flight_logs" / "autel_evo2_rtk_mrk_helenenschacht" / "101FTASK_Timestamp.mrk"
    fl = Flight.from_log(read_log(mrk))
    assert len(fl.events) == 176
    times = np.sort(fl.events["time"])
    skip = {40, 41, 150}  # three missed shots
    rng = np.random.default_rng(7)
    for k, t in enumerate(times):
        if k in skip:
            continue
        stamp = t + 2 * 3600 + 0.35 + rng.normal(0, 0.03)  # camera on local summer time, shutter lag jitter
        meta = PhotoMeta(make="Autel Robotics", model="XT705", time=datetime.fromtimestamp(stamp, tz=UTC))
        write_jpeg(tmp_path / f"IMG_{k + 1:04d}.JPG", np.zeros((8, 8, 3), np.uint8), meta)
    result = geotag(sorted(tmp_path.glob("*.JPG")), fl)
    assert result.method == "events" and result.all_tagged and len(result.positions) == 173
    assert sorted(e.index for e in result.unmatched_events) == sorted(int(fl.events["index"][np.argsort(
        fl.events["time"])][k]) for k in skip)  # fmt: skip
    assert result.offset_s == pytest.approx(-(2 * 3600 + 0.35), abs=0.02)
    order = np.argsort(fl.events["time"])
    by_index = {int(fl.events["index"][j]): (fl.events["lat"][j], fl.events["lon"][j]) for j in order}
    for p in result.positions:
        assert (p.lat, p.lon) == pytest.approx(by_index[p.event_index], abs=1e-9)
    assert math.isnan(result.positions[0].alt_msl) and any("ellipsoidal" in w for w in result.warnings)
    out = write_geotags(result, tmp_path / "out")
    m = read_photo_meta(out[0])
    assert m.has_position and m.alt is None
