"""Camera geometry, survey maths, plausibility checks and the camera catalogue."""

from __future__ import annotations

import dataclasses
import json
import math
from importlib import resources

import pytest

from sensors.camera import Band, Camera, Orientation
from sensors.catalog import get_camera, load_catalog
from skyscan.errors import InputError

# -- fixtures ---------------------------------------------------------------------------------


def make_camera(**overrides) -> Camera:
    """QGroundControl's default custom camera, with any field overridden."""
    fields = dict(
        id="qgc",
        name="QGC default",
        sensor_width_mm=6.17,
        sensor_height_mm=4.55,
        image_width_px=4000,
        image_height_px=3000,
        focal_length_mm=4.5,
        min_trigger_interval_s=1.0,
        shutter_s=1 / 1000,
    )
    fields.update(overrides)
    return Camera(**fields)


@pytest.fixture
def qgc() -> Camera:
    return make_camera()


@pytest.fixture
def rededge() -> Camera:
    """The original MicaSense RedEdge as QGroundControl lists it."""
    return Camera(
        id="rededge",
        name="MicaSense RedEdge",
        sensor_width_mm=4.8,
        sensor_height_mm=3.6,
        image_width_px=1280,
        image_height_px=960,
        focal_length_mm=5.5,
    )


def cm(metres: float) -> float:
    return round(metres * 100, 2)


# -- worked examples --------------------------------------------------------------------------


def test_qgc_default_landscape_at_100m(qgc):
    g = qgc.survey_geometry(100.0, front_overlap=0.7, side_overlap=0.7)
    # QGC takes its GSD from the width axis, Mission Planner from the height axis.
    assert cm(g.gsd_across_m) == 3.43
    assert cm(g.gsd_along_m) == 3.37
    assert g.gsd_m == pytest.approx(g.gsd_across_m)
    assert round(g.footprint_across_m, 1) == 137.1
    assert round(g.footprint_along_m, 1) == 101.1
    assert round(g.line_spacing_m, 1) == 41.1
    assert round(g.trigger_distance_m, 1) == 30.3
    assert g.altitude_m == 100.0


def test_qgc_default_portrait_swaps_across_and_along(qgc):
    land = qgc.survey_geometry(100.0, 0.7, 0.7, Orientation.LANDSCAPE)
    port = qgc.survey_geometry(100.0, 0.7, 0.7, Orientation.PORTRAIT)
    assert cm(port.gsd_across_m) == 3.37
    assert cm(port.gsd_along_m) == 3.43
    assert port.gsd_across_m == pytest.approx(land.gsd_along_m)
    assert port.gsd_along_m == pytest.approx(land.gsd_across_m)
    assert port.footprint_across_m == pytest.approx(land.footprint_along_m)
    assert port.footprint_along_m == pytest.approx(land.footprint_across_m)
    assert round(port.line_spacing_m, 1) == 30.3
    assert round(port.trigger_distance_m, 1) == 41.1
    # the string form of the enum is accepted too
    assert qgc.survey_geometry(100.0, 0.7, 0.7, "portrait") == port


def test_default_orientation_is_landscape(qgc):
    assert qgc.survey_geometry(100.0, 0.7, 0.7) == qgc.survey_geometry(100.0, 0.7, 0.7, Orientation.LANDSCAPE)


@pytest.mark.parametrize("orientation", list(Orientation))
def test_altitude_for_gsd_uses_the_coarser_axis(qgc, orientation):
    target = 0.0343
    h = qgc.altitude_for_gsd(target, orientation)
    assert h == pytest.approx(100.0, abs=0.1)
    g = qgc.survey_geometry(h, 0.7, 0.7, orientation)
    # both axes meet the target, and the coarser one is exactly on it
    assert g.gsd_across_m <= target * (1 + 1e-12)
    assert g.gsd_along_m <= target * (1 + 1e-12)
    assert g.gsd_m == pytest.approx(target)
    # the width axis (1.5425 um) is the coarser one, not the height axis (1.5167 um)
    assert h == pytest.approx(target * 4.5 / (6.17 / 4000))
    assert h < target * 4.5 / (4.55 / 3000)


def test_altitude_for_gsd_round_trips(qgc):
    for gsd in (0.005, 0.02, 0.1):
        h = qgc.altitude_for_gsd(gsd)
        assert qgc.survey_geometry(h, 0.5, 0.5).gsd_m == pytest.approx(gsd)


def test_odm_doctest_one_inch_sensor():
    # OpenDroneMap's GSD doctest: 13.2 mm sensor, 8.8 mm lens, 5472 px wide, 100 m -> 2.74 cm
    cam = Camera(
        id="odm",
        name="1-inch",
        sensor_width_mm=13.2,
        sensor_height_mm=8.8,
        image_width_px=5472,
        image_height_px=3648,
        focal_length_mm=8.8,
    )
    g = cam.survey_geometry(100.0, 0.0, 0.0)
    assert cm(g.gsd_across_m) == 2.74
    assert cm(g.gsd_along_m) == 2.74


def test_rededge_at_120m(rededge):
    g = rededge.survey_geometry(120.0, front_overlap=0.75, side_overlap=0.75)
    assert cm(g.gsd_across_m) == 8.18
    assert cm(g.gsd_along_m) == 8.18
    assert round(g.footprint_across_m, 1) == 104.7
    assert round(g.footprint_along_m, 1) == 78.5
    assert round(g.line_spacing_m, 1) == 26.2
    assert round(g.trigger_distance_m, 1) == 19.6


def test_zero_overlap_spacing_equals_footprint(qgc):
    g = qgc.survey_geometry(80.0, 0.0, 0.0)
    assert g.line_spacing_m == pytest.approx(g.footprint_across_m)
    assert g.trigger_distance_m == pytest.approx(g.footprint_along_m)


def test_geometry_scales_linearly_with_altitude(qgc):
    a = qgc.survey_geometry(50.0, 0.8, 0.6)
    b = qgc.survey_geometry(150.0, 0.8, 0.6)
    scaled = ("gsd_across_m", "gsd_along_m", "footprint_across_m", "line_spacing_m", "trigger_distance_m")
    for field in scaled:
        assert getattr(b, field) == pytest.approx(3 * getattr(a, field))


def test_intrinsics(qgc):
    assert qgc.pixel_pitch_x_mm == pytest.approx(0.0015425)
    assert qgc.pixel_pitch_y_mm == pytest.approx(4.55 / 3000)
    assert qgc.megapixels == pytest.approx(12.0)
    long_fov, short_fov = qgc.fov_deg
    assert long_fov == pytest.approx(math.degrees(2 * math.atan(6.17 / 9.0)))
    assert short_fov == pytest.approx(math.degrees(2 * math.atan(4.55 / 9.0)))
    assert long_fov > short_fov


# -- bad survey inputs ------------------------------------------------------------------------


@pytest.mark.parametrize("altitude", [0.0, -10.0, math.nan])
def test_survey_geometry_rejects_bad_altitude(qgc, altitude):
    with pytest.raises(InputError, match="altitude"):
        qgc.survey_geometry(altitude, 0.7, 0.7)


@pytest.mark.parametrize(("front", "side"), [(1.0, 0.7), (0.7, 1.0), (-0.1, 0.7), (0.7, 1.5)])
def test_survey_geometry_rejects_bad_overlap(qgc, front, side):
    with pytest.raises(InputError, match="overlap"):
        qgc.survey_geometry(100.0, front, side)


@pytest.mark.parametrize("gsd", [0.0, -0.01, math.nan])
def test_altitude_for_gsd_rejects_bad_gsd(qgc, gsd):
    with pytest.raises(InputError, match="GSD"):
        qgc.altitude_for_gsd(gsd)


# -- speed caps -------------------------------------------------------------------------------


def test_max_survey_speed_trigger_interval_binds():
    # slow camera, fast shutter: the camera is not ready for the next shot
    cam = make_camera(min_trigger_interval_s=5.0, shutter_s=1 / 2000)
    g = cam.survey_geometry(100.0, 0.7, 0.7)
    trigger_cap = g.trigger_distance_m / 5.0
    blur_cap = 0.5 * min(g.gsd_across_m, g.gsd_along_m) / (1 / 2000)
    assert trigger_cap < blur_cap
    assert cam.max_survey_speed(g) == pytest.approx(trigger_cap)
    assert cam.max_survey_speed(g) == pytest.approx(30.33 / 5.0, rel=1e-3)


def test_max_survey_speed_blur_binds():
    # fast camera, long exposure: half a pixel of motion blur limits the speed
    cam = make_camera(min_trigger_interval_s=0.5, shutter_s=1 / 100)
    g = cam.survey_geometry(100.0, 0.7, 0.7)
    trigger_cap = g.trigger_distance_m / 0.5
    blur_cap = 0.5 * min(g.gsd_across_m, g.gsd_along_m) / (1 / 100)
    assert blur_cap < trigger_cap
    assert cam.max_survey_speed(g) == pytest.approx(blur_cap)
    assert cam.max_survey_speed(g) == pytest.approx(1.685, rel=1e-3)
    # a stricter blur budget halves the cap
    assert cam.max_survey_speed(g, blur_fraction=0.25) == pytest.approx(blur_cap / 2)


def test_max_survey_speed_without_trigger_interval_only_blur():
    cam = make_camera(min_trigger_interval_s=0.0, shutter_s=1 / 1000)
    g = cam.survey_geometry(100.0, 0.7, 0.7)
    assert cam.max_survey_speed(g) == pytest.approx(0.5 * g.gsd_along_m / (1 / 1000))


# -- construction errors ----------------------------------------------------------------------


@pytest.mark.parametrize("field", ["sensor_width_mm", "sensor_height_mm", "focal_length_mm", "shutter_s"])
@pytest.mark.parametrize("value", [0, 0.0, -1.0, math.nan, math.inf])
def test_camera_rejects_bad_sizes(field, value):
    with pytest.raises(InputError, match=field):
        make_camera(**{field: value})


@pytest.mark.parametrize("field", ["image_width_px", "image_height_px"])
@pytest.mark.parametrize("value", [0, -4000, 4000.0, math.nan])
def test_camera_rejects_bad_pixel_counts(field, value):
    with pytest.raises(InputError, match=field):
        make_camera(**{field: value})


def test_camera_rejects_negative_trigger_interval():
    with pytest.raises(InputError, match="min_trigger_interval_s"):
        make_camera(min_trigger_interval_s=-1.0)


def test_camera_is_immutable(qgc):
    with pytest.raises(dataclasses.FrozenInstanceError):
        qgc.focal_length_mm = 8.8  # type: ignore[misc]


# -- plausibility -----------------------------------------------------------------------------


def test_plausible_camera_has_no_problems(qgc, rededge):
    assert qgc.plausibility_problems() == []
    assert rededge.plausibility_problems() == []


def test_rejects_half_micron_pixels():
    # a 1/2.3-inch sensor claiming 12340 x 9100 px: 0.5 um pixels
    cam = make_camera(image_width_px=12340, image_height_px=9100)
    problems = cam.plausibility_problems()
    assert any("pixel pitch along the width is 0.50 um" in p for p in problems)
    assert any("pixel pitch along the height" in p for p in problems)


def test_rejects_fifteen_micron_pixels():
    # a thermal-sized 15 um pitch on a visible-light row
    cam = make_camera(
        sensor_width_mm=9.6,
        sensor_height_mm=7.68,
        image_width_px=640,
        image_height_px=512,
        focal_length_mm=9.0,
    )
    problems = cam.plausibility_problems()
    assert any("15.00 um" in p for p in problems)


def test_rejects_full_frame_telephoto_on_small_sensor():
    cam = make_camera(focal_length_mm=500.0)
    problems = cam.plausibility_problems()
    assert len(problems) == 1
    assert "field of view" in problems[0]
    assert "500.0 mm" in problems[0]


def test_rejects_very_wide_lens():
    cam = make_camera(focal_length_mm=0.5)
    assert any("field of view" in p for p in cam.plausibility_problems())


def test_rejects_pixel_counts_typed_into_mm_fields():
    # QGroundControl's "Flir Duo R" row: 160 x 120 "mm" sensor, 1920 x 1080 px, 1.9 mm lens
    cam = Camera(
        id="flir-duo-r",
        name="Flir Duo R (QGC row)",
        sensor_width_mm=160,
        sensor_height_mm=120,
        image_width_px=1920,
        image_height_px=1080,
        focal_length_mm=1.9,
    )
    problems = cam.plausibility_problems()
    assert any("pixel pitch along the width" in p for p in problems)
    assert any("pixel pitch along the height" in p for p in problems)
    assert any("non-square" in p for p in problems)
    assert any("field of view" in p for p in problems)


def test_rejects_non_square_pixels():
    # 4:3 sensor with a 16:9 image
    cam = make_camera(image_width_px=4000, image_height_px=2250)
    assert any("non-square" in p for p in cam.plausibility_problems())


@pytest.mark.parametrize(
    "overrides",
    [
        dict(sensor_width_mm=4.55, sensor_height_mm=6.17, image_width_px=3000, image_height_px=4000),
        dict(sensor_width_mm=4.55, sensor_height_mm=6.17),
        dict(image_width_px=3000, image_height_px=4000),
    ],
    ids=["both-swapped", "sensor-swapped", "image-swapped"],
)
def test_rejects_swapped_width_and_height(overrides):
    problems = make_camera(**overrides).plausibility_problems()
    assert any("long side" in p for p in problems)


# -- catalogue --------------------------------------------------------------------------------

CATALOG = load_catalog()

REQUIRED_IDS = {
    "mavic3e",
    "mavic3m",
    "mavic3m-ms",
    "p4rtk",
    "zenmuse-p1-24",
    "zenmuse-p1-35",
    "matrice4e",
    "mini4pro",
    "mini2",
    "rededge-p",
    "rededge-mx",
    "altum-pt",
    "sequoia-plus",
    "rx1r2",
    "a6100-20mm",
    "p4pro",
    "air2s",
    "qgc-default",
}


def test_catalogue_size_and_required_ids():
    assert len(CATALOG) >= 15
    assert set(CATALOG) >= REQUIRED_IDS, sorted(REQUIRED_IDS - set(CATALOG))


def test_catalogue_has_an_m30_or_h20_wide_and_a_mavic3_hasselblad_row():
    names = " ".join(c.name for c in CATALOG.values()).lower()
    assert "matrice 30" in names or "h20" in names
    assert any("L2D-20c" in c.aliases for c in CATALOG.values())


def test_catalogue_ids_unique_in_file():
    text = resources.files("sensors.catalog").joinpath("cameras.json").read_text(encoding="utf-8")
    rows = json.loads(text)["cameras"]
    ids = [row["id"] for row in rows]
    assert len(ids) == len(set(ids))
    assert len(rows) == len(CATALOG)


def test_catalogue_lookup_keys_do_not_collide():
    """No id, name or alias of one camera may also name another camera."""
    owner: dict[str, str] = {}
    for cam in CATALOG.values():
        for label in (cam.id, cam.name, *cam.aliases):
            key = "".join(ch for ch in label.lower() if ch.isalnum())
            assert owner.setdefault(key, cam.id) == cam.id, f"{label!r} names {owner[key]} and {cam.id}"


@pytest.mark.parametrize("cam_id", list(CATALOG))
def test_catalogue_row_is_plausible(cam_id):
    cam = CATALOG[cam_id]
    assert cam.plausibility_problems() == []
    assert cam.id == cam_id
    assert cam.name.strip()
    assert len(cam.source.strip()) > 10
    assert cam.min_trigger_interval_s > 0
    assert 1 / 20000 <= cam.shutter_s <= 1 / 100
    for band in cam.bands:
        assert isinstance(band, Band)
        assert band.name
        assert 400 <= band.center_nm <= 1000
        assert 0 < band.bandwidth_nm < 100


def test_catalogue_multispectral_rows_have_bands():
    for cam_id in ("mavic3m-ms", "rededge-p", "rededge-mx", "altum-pt", "sequoia-plus"):
        assert len(CATALOG[cam_id].bands) >= 4, cam_id
    for cam_id in ("mavic3e", "p4rtk", "mini2"):
        assert CATALOG[cam_id].bands == ()


def test_catalogue_mavic3m_ms_bands():
    bands = {b.name: b for b in CATALOG["mavic3m-ms"].bands}
    assert [bands[n].center_nm for n in ("G", "R", "RE", "NIR")] == [560, 650, 730, 860]


def test_catalogue_qgc_default_matches_worked_example(qgc):
    cam = CATALOG["qgc-default"]
    geometry = ("sensor_width_mm", "sensor_height_mm", "image_width_px", "image_height_px", "focal_length_mm")
    for field in geometry:
        assert getattr(cam, field) == getattr(qgc, field)
    assert cam.min_trigger_interval_s == 1.0
    assert "QGroundControl" in cam.source


def test_catalogue_mini2_figures():
    cam = CATALOG["mini2"]
    assert (cam.image_width_px, cam.image_height_px, cam.focal_length_mm) == (4000, 3000, 4.49)
    assert "FC7303" in cam.aliases


# -- lookup -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("mavic3e", "mavic3e"),
        ("DJI Mavic 3E", "mavic3e"),
        ("dji mavic 3e", "mavic3e"),
        ("  DJI-Mavic-3E ", "mavic3e"),
        ("M3E", "mavic3e"),
        ("FC7303", "mini2"),
        ("fc7303", "mini2"),
        ("FC8482", "mini4pro"),
        ("FC3411", "air2s"),
        ("L2D-20c", "mavic3-hasselblad"),
        ("RedEdge-P", "rededge-p"),
        ("mavic3m-ms", "mavic3m-ms"),
    ],
)
def test_get_camera_finds(name, expected):
    assert get_camera(name).id == expected


def test_get_camera_returns_catalogue_object():
    assert get_camera("mavic3e") is CATALOG["mavic3e"]


def test_get_camera_unknown_suggests_close_match():
    with pytest.raises(InputError, match=r"unknown camera 'mavic 3x'.*did you mean.*mavic3e"):
        get_camera("mavic 3x")


def test_get_camera_unknown_without_suggestion():
    with pytest.raises(InputError, match="unknown camera") as info:
        get_camera("qqqqqqqq")
    assert "did you mean" not in str(info.value)
