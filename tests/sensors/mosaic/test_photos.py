"""Posed photos: folder scan, positions override, intrinsics, orientation, bad photos skipped with reasons."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pyproj import Transformer

from sensors.catalog import get_camera
from sensors.mosaic.photos import (
    NO_INTRINSICS,
    Photo,
    PhotoSet,
    Skipped,
    assemble,
    camera_intrinsics,
    list_photos,
    load_photo,
    scan_photos,
    utm_epsg,
)
from sensors.photo import BandMeta, write_band_tiff, write_jpeg
from sensors.positions import PhotoPosition, write_positions_csv
from sensors.projection import Intrinsics, grid_convergence_deg, odm_angles, rotation_from_odm
from skyscan.errors import InputError

from . import HOME, T0, dji_meta, line_of_photos, texture

NOTTINGHAM = "survey_photos/dji_mini2_nottingham_rdslauder"


@pytest.fixture
def survey(tmp_path) -> Path:
    """Six good DJI Mini 2 photos (800 x 600) heading east, 25 m apart, plus non-photo files."""
    folder = tmp_path / "photos"
    line_of_photos(folder, 6)
    (folder / "truth.csv").write_text("index,file\n")
    (folder / "notes.txt").write_text("flight notes")
    (folder / ".IMG_0009.JPG.tmp.jpg").write_bytes(b"")  # a temporary file of an unfinished write
    return folder


def test_a_survey_folder_becomes_posed_photos(survey):
    s = scan_photos(survey)
    assert isinstance(s, PhotoSet)
    assert [p.path.name for p in s.photos] == [f"IMG_{i:04d}.JPG" for i in range(1, 7)]
    assert s.skipped == ()
    assert s.epsg == 32630
    p = s.photos[0]
    assert (p.lat, p.lon) == (pytest.approx(HOME[1], abs=1e-7), pytest.approx(HOME[0], abs=1e-7))
    assert (p.alt_msl, p.alt_rel) == (pytest.approx(200.0, abs=1e-3), pytest.approx(100.0, abs=0.01))
    assert p.time == T0
    assert p.orientation == "xmp-camera"  # the full Camera: rotation is preferred over DJI tags
    assert (p.yaw, p.pitch, p.roll) == (pytest.approx(90.0), pytest.approx(0.0), pytest.approx(0.0))
    mini2 = get_camera("mini2")
    assert p.camera == mini2
    assert p.intrinsics == Intrinsics.from_camera(mini2, (800, 600))  # scaled to the file's pixel size
    assert p.band is None
    assert p.quality is not None and p.quality.reason is None


def test_pose_in_the_utm_grid(survey):
    s = scan_photos(survey)
    p = s.photos[2]
    pose = p.pose(s.epsg)
    x, y = Transformer.from_crs("EPSG:4326", "EPSG:32630", always_xy=True).transform(p.lon, p.lat)
    assert pose.position == pytest.approx([x, y, p.alt_msl], abs=1e-6)
    gamma = grid_convergence_deg(32630, p.lon, p.lat)
    assert gamma == pytest.approx(-1.33, abs=0.05)  # west of zone 30's central meridian
    assert pose.rotation == pytest.approx(rotation_from_odm(90.0, 0.0, 0.0, gamma), abs=1e-12)
    # a nadir camera looks straight down, image top towards grid east minus the convergence
    assert pose.rotation[:, 2] == pytest.approx([0, 0, -1], abs=1e-9)
    assert odm_angles(pose.rotation)[0] == pytest.approx(90.0 + gamma)
    poses = s.poses()
    assert poses[1].position[0] - poses[0].position[0] == pytest.approx(25.0, rel=0.01)  # 25 m east


def test_bad_photos_are_skipped_with_reasons_and_the_rest_kept(survey):
    good = survey / "IMG_0001.JPG"
    # no EXIF at all
    Image.fromarray(texture(600, 800, seed=20)).save(survey / "plain.jpg", quality=90)
    # truncated
    data = good.read_bytes()
    (survey / "cut.JPG").write_bytes(data[: len(data) // 2])
    # a lens-cap frame
    write_jpeg(survey / "cap.jpg", np.full((600, 800, 3), 2, np.uint8), dji_meta(HOME[1], HOME[0]))
    # the other hemisphere (latitude sign lost)
    write_jpeg(survey / "south.jpg", texture(600, 800, seed=21), dji_meta(-HOME[1], HOME[0]))
    # GPS without a fix: (0, 0)
    write_jpeg(survey / "nofix.jpg", texture(600, 800, seed=22), dji_meta(0.0, 0.0))
    # not an image at all, with an image name
    (survey / "fake.tif").write_text("hello")

    s = scan_photos(survey)
    assert len(s.photos) == 6
    reasons = {k.path.name: k.reason for k in s.skipped}
    assert set(reasons) == {"plain.jpg", "cut.JPG", "cap.jpg", "south.jpg", "nofix.jpg", "fake.tif"}
    assert reasons["plain.jpg"].startswith("no GPS position (no EXIF data")
    assert "truncated" in reasons["cut.JPG"]
    assert reasons["cap.jpg"].startswith("black frame")
    assert reasons["south.jpg"].startswith("position 11") and "km from the median" in reasons["south.jpg"]
    assert "(0, 0)" in reasons["nofix.jpg"]
    assert reasons["fake.tif"].startswith("unreadable image")
    assert all(str(k.path.parent) == str(survey) for k in s.skipped)


def test_missing_orientation_is_assumed_nadir_along_the_flight(tmp_path):
    folder = tmp_path / "p"
    none = dict(gimbal_pitch=None, gimbal_roll=None, gimbal_yaw=None, flight_yaw=None, make="Acme", model="X1")
    line_of_photos(folder, 5, heading=30.0, meta_kw=none)
    s = scan_photos(folder, camera="mini2")
    assert {p.orientation for p in s.photos} == {"assumed-nadir"}
    assert [p.yaw for p in s.photos] == pytest.approx([30.0] * 5, abs=0.05)
    assert all(p.pitch == 0.0 and p.roll == 0.0 for p in s.photos)
    assert all(p.camera == get_camera("mini2") for p in s.photos)


def test_dji_gimbal_tags_all_zero_mean_not_recorded(tmp_path):
    """The real DJI Mini 2 quirk (GimbalPitch/Roll/Yaw = +0.00 on nadir photos) gives nadir along
    the flight yaw; a real gimbal reading of 0.01 deg is kept as written (a horizon view)."""
    meta = dji_meta(HOME[1], HOME[0], gimbal_pitch=0.0, gimbal_roll=0.0, gimbal_yaw=0.0, flight_yaw=174.4,
                    camera_yaw=None, camera_pitch=None, camera_roll=None)  # fmt: skip
    quirk = load_photo(write_jpeg(tmp_path / "a.jpg", texture(600, 800), meta))
    assert isinstance(quirk, Photo)
    assert (quirk.orientation, quirk.yaw, quirk.pitch) == ("assumed-nadir", pytest.approx(174.4), 0.0)
    real = load_photo(write_jpeg(tmp_path / "b.jpg", texture(600, 800), replace(meta, gimbal_pitch=0.01)))
    # write_jpeg also writes Camera: tags (derived from the DJI ones), which are read first
    assert (real.orientation, real.pitch) == ("xmp-camera", pytest.approx(90.01))


def test_positions_file_overrides_exif(survey, tmp_path):
    # a photo without any metadata, placed and oriented by the positions file
    Image.fromarray(texture(600, 800, seed=30)).save(survey / "bare.jpg", quality=90)
    rows = [
        PhotoPosition("bare.jpg", HOME[1] + 0.0002, HOME[0] + 0.0001, 210.0, 105.0, time=T0,
                      camera_yaw=45.0, camera_pitch=5.0, camera_roll=-2.0),
        PhotoPosition("IMG_0001.JPG", HOME[1] + 0.0001, HOME[0], 222.0),  # position only: XMP orientation stays
    ]  # fmt: skip
    csv_path = write_positions_csv(tmp_path / "positions.csv", rows)
    without = scan_photos(survey)
    assert "bare.jpg" in {k.path.name for k in without.skipped}
    s = scan_photos(survey, positions=csv_path, camera="mini2")
    by_name = {p.path.name: p for p in s.photos}
    bare = by_name["bare.jpg"]
    assert (bare.lat, bare.lon, bare.alt_msl, bare.alt_rel) == (HOME[1] + 0.0002, HOME[0] + 0.0001, 210.0, 105.0)
    assert (bare.yaw, bare.pitch, bare.roll, bare.orientation) == (45.0, 5.0, -2.0, "positions")
    assert bare.intrinsics == Intrinsics.from_camera(get_camera("mini2"), (800, 600))
    first = by_name["IMG_0001.JPG"]
    assert (first.lat, first.alt_msl, first.orientation) == (HOME[1] + 0.0001, 222.0, "xmp-camera")


def test_intrinsics_from_exif_when_the_camera_is_unknown(tmp_path):
    meta = dji_meta(HOME[1], HOME[0], make="Acme", model="Flyer 9", focal_length_35mm=28.0)
    p = load_photo(write_jpeg(tmp_path / "a.jpg", texture(600, 800), meta))
    assert isinstance(p, Photo) and p.camera is None
    expected = 28.0 / math.hypot(36, 24) * math.hypot(800, 600)
    assert (p.intrinsics.fx, p.intrinsics.fy) == (pytest.approx(expected), pytest.approx(expected))
    assert (p.intrinsics.cx, p.intrinsics.cy) == (399.5, 299.5)
    bare = replace(meta, focal_length_35mm=None, focal_length_mm=None)
    s = load_photo(write_jpeg(tmp_path / "b.jpg", texture(600, 800), bare))
    assert isinstance(s, Skipped) and s.reason == NO_INTRINSICS
    # the camera argument fixes it
    assert isinstance(load_photo(tmp_path / "b.jpg", camera="mini2"), Photo)
    with pytest.raises(InputError, match="unknown camera"):
        load_photo(tmp_path / "b.jpg", camera="no-such-camera")


def test_catalogue_intrinsics_for_crops_and_portrait_files():
    cam = get_camera("mini2")  # 4000 x 3000 sensor
    full = camera_intrinsics(cam, 4000, 3000)
    assert full == Intrinsics.from_camera(cam)
    crop = camera_intrinsics(cam, 4000, 2250)  # 16:9 stills crop the sensor: same pixel pitch
    assert (crop.fx, crop.fy) == (pytest.approx(full.fx), pytest.approx(full.fy))
    assert (crop.cx, crop.cy) == (1999.5, 1124.5)
    half = camera_intrinsics(cam, 2000, 1500)
    assert half.fx == pytest.approx(full.fx / 2)
    portrait = camera_intrinsics(cam, 3000, 4000)
    assert (portrait.fx, portrait.fy) == (pytest.approx(full.fy), pytest.approx(full.fx))


def test_zoom_focal_length_overrides_the_catalogue(tmp_path):
    meta = dji_meta(HOME[1], HOME[0], focal_length_mm=6.0)
    p = load_photo(write_jpeg(tmp_path / "a.jpg", texture(600, 800), meta))
    assert p.camera.focal_length_mm == 6.0
    assert p.intrinsics.fx == pytest.approx(Intrinsics.from_camera(get_camera("mini2"), (800, 600)).fx * 6.0 / 4.49)


def test_multispectral_captures_reduce_to_the_green_band(tmp_path):
    folder = tmp_path / "ms"
    names = ["Blue", "Green", "Red", "NIR", "Red edge"]
    for cap in range(3):
        base = dji_meta(HOME[1] + cap * 2e-4, HOME[0], i=cap, make="MicaSense", model="RedEdge-M",
                        gimbal_pitch=None, gimbal_roll=None, gimbal_yaw=None, flight_yaw=None,
                        camera_yaw=0.0, camera_pitch=0.0, camera_roll=0.0)  # fmt: skip
        for k, name in enumerate(names, start=1):
            band = BandMeta(name=name, rig_index=k - 1, focal_length_mm=5.4, focal_plane_px_per_mm=266.67,
                            principal_point_mm=(2.4, 1.8))  # fmt: skip
            img = (texture(240, 320, seed=cap)[..., 1].astype(np.uint16) * 200 + 3000).astype(np.uint16)
            write_band_tiff(folder / f"IMG_{cap:04d}_{k}.tif", img, replace(base, band=band))
    files = list_photos(folder)
    assert [f.name for f in files] == ["IMG_0000_2.tif", "IMG_0001_2.tif", "IMG_0002_2.tif"]
    s = scan_photos(folder)
    assert [p.band for p in s.photos] == ["Green"] * 3
    p = s.photos[0]
    assert p.orientation == "xmp-camera"
    # the band's own calibration: focal 5.4 mm x 266.67 px/mm, principal point from the XMP
    assert (p.intrinsics.fx, p.intrinsics.cx, p.intrinsics.cy) == (
        pytest.approx(5.4 * 266.67), pytest.approx(2.4 * 266.67), pytest.approx(1.8 * 266.67))
    assert list_photos(folder, band="NIR")[0].name == "IMG_0000_4.tif"


def test_nothing_usable_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="photo folder not found"):
        scan_photos(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "truth.csv").write_text("x\n")
    with pytest.raises(InputError, match="no photos found"):
        scan_photos(tmp_path / "empty")
    (tmp_path / "bad").mkdir()
    Image.fromarray(texture(60, 80)).save(tmp_path / "bad" / "a.jpg")
    with pytest.raises(InputError, match=r"no usable photos: 1 file\(s\) skipped \(1 x no GPS position\)"):
        scan_photos(tmp_path / "bad")


def test_assemble_of_per_photo_results(survey):
    """The pipeline's path: load_photo per photo (anywhere), then assemble the small results."""
    results = [load_photo(p) for p in list_photos(survey)]
    assert all(isinstance(r, Photo) for r in results)
    far = replace(results[0], lat=results[0].lat + 1.0)  # 111 km north
    s = assemble([*results[1:], far, Skipped(Path("x.jpg"), "no GPS position")])
    assert len(s.photos) == 5
    assert [k.path.name for k in s.skipped] == ["x.jpg", "IMG_0001.JPG"]
    assert "km from the median" in s.skipped[1].reason
    # fewer than three photos: nothing to compare with, nothing is far
    assert len(assemble([results[0], far]).photos) == 2


def test_scan_on_a_dask_client(survey):
    distributed = pytest.importorskip("distributed")
    seen = []
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None) as client:
        s = scan_photos(survey, client=client, progress=lambda d, n: seen.append((d, n)))
    assert s == scan_photos(survey)
    assert seen[-1] == (6, 6) and len(seen) == 6


def test_utm_zones():
    assert utm_epsg(-1.3, 52.9) == 32630
    assert utm_epsg(115.5, -8.3) == 32750
    assert utm_epsg(179.99, 0.0) == 32660
    assert utm_epsg(-180.0, -1.0) == 32701


# -- real photos ----------------------------------------------------------------------------------
def test_real_dji_survey(shared_data):
    s = scan_photos(shared_data / NOTTINGHAM)
    assert len(s.photos) == 16 and s.skipped == ()
    assert s.epsg == 32630
    # every photo is nadir: the firmware's all-zero gimbal tags are not a horizon view
    assert {p.pitch for p in s.photos} == {0.0}
    assert {p.orientation for p in s.photos} == {"assumed-nadir"}
    strip_a = [p.yaw for p in s.photos if p.path.name <= "DJI_0763.JPG"]
    assert np.ptp(strip_a) < 4 and 170 < np.mean(strip_a) < 180
    # 16:9 photos from the 4:3 sensor: square pixels, the catalogue focal length
    p = s.photos[0]
    assert (p.intrinsics.width, p.intrinsics.height) == (4000, 2250)
    assert p.intrinsics.fx == pytest.approx(4.49 / (6.17 / 4000), rel=1e-3)
    assert p.intrinsics.fy == pytest.approx(p.intrinsics.fx, rel=0.02)
    # neighbouring photos of strip A are 19-27 m apart, as the MANIFEST says
    poses = s.poses()
    gaps = [np.hypot(*(poses[i + 1].position[:2] - poses[i].position[:2])) for i in range(10)]
    assert min(gaps) > 18 and max(gaps) < 28


def test_real_faulty_folder_reports_every_photo(shared_data):
    with pytest.raises(InputError) as err:
        scan_photos(shared_data / "survey_photos/dronetm_agung1_faulty_images")
    assert "3 file(s) skipped" in str(err.value)
    results = [load_photo(p) for p in list_photos(shared_data / "survey_photos/dronetm_agung1_faulty_images")]
    assert all(isinstance(r, Skipped) for r in results)
    reasons = {r.path.name: r.reason for r in results}
    assert "blurred" in reasons["DJI_20251001132715_0396_D_POOR_SHARPNESS.JPG"]
    assert reasons["DJI_20251001213509_0003_D_LENS_CAP.JPG"].startswith("black frame")


def test_real_wrong_hemisphere_among_real_photos(shared_data, tmp_path):
    """The DroneTM fault, applied to a real photo: its latitude sign flipped, the rest untouched."""
    folder = tmp_path / "set"
    folder.mkdir()
    for p in sorted((shared_data / NOTTINGHAM).glob("*.JPG"))[:8]:
        (folder / p.name).symlink_to(p)
    src = shared_data / NOTTINGHAM / "DJI_0772.JPG"
    with Image.open(src) as im:
        exif = im.getexif()
        gps = exif.get_ifd(0x8825)
        gps[1] = "S"
        im.draft("RGB", (1000, 563))
        im.convert("RGB").save(folder / "DJI_0772_S.JPG", exif=exif, quality=92)
    s = scan_photos(folder)
    assert len(s.photos) == 8
    assert [k.path.name for k in s.skipped] == ["DJI_0772_S.JPG"]
    assert "km from the median" in s.skipped[0].reason


def test_real_multispectral_and_senseFly_metadata(shared_data):
    ms = scan_photos(shared_data / "multispectral/micasense_rededge_0000SET")
    assert [p.path.name for p in ms.photos] == ["IMG_0000_2.tif", "IMG_0001_2.tif"]
    assert {p.band for p in ms.photos} == {"Green"}
    assert ms.photos[0].intrinsics.fx == pytest.approx(1444.7, abs=1.0)  # 5.4 mm calibrated x 266.67 px/mm
    fixtures = scan_photos(shared_data / "survey_photos/webodm_fixtures")
    assert [p.orientation for p in fixtures.photos] == ["xmp-camera", "xmp-camera"]
    assert fixtures.photos[0].yaw == pytest.approx(274.93, abs=0.01)
    assert [k.path.name for k in fixtures.skipped] == ["orthophoto.tif"]  # a GeoTIFF, not a photo: no GPS
