"""The survey planner: transect geometry, camera commands, limits, automatic angle, coverage."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely

from mission.area import read_area
from mission.check import coverage
from mission.commands import Cmd
from mission.photos import planned_photos
from mission.survey import SurveySpec, plan_survey, promised_count
from sensors.catalog import get_camera
from skyscan.errors import InputError, PlanCheckError
from tests.common import BIG_HOLE, FIELD, L_SHAPE, SQUARE, area_from_m, latlon_of, plan_legs

CAM = get_camera("mavic3e")


def test_promised_count():
    assert promised_count(0.8, 0.7) == 15
    assert promised_count(0.8, 0.7, passes=2) == 30
    assert promised_count(0.75, 0.75) == 16
    assert promised_count(0.0, 0.0) == 1


def test_items_structure_and_trigger_pairs():
    plan = plan_survey(area_from_m(FIELD), CAM, SurveySpec(altitude_m=80))
    cmds = [it.command for it in plan.items]
    assert cmds[0] == Cmd.NAV_TAKEOFF and plan.items[0].z == 80
    assert cmds[1] == Cmd.DO_CHANGE_SPEED
    assert cmds[-1] == Cmd.NAV_RETURN_TO_LAUNCH
    trig = [it for it in plan.items if it.command == Cmd.DO_SET_CAM_TRIGG_DIST]
    on = [t for t in trig if t.params[0] > 0]
    off = [t for t in trig if t.params[0] == 0]
    assert len(on) == len(off) == plan.stats.segments > 0
    assert all(t.params[2] == 1 for t in on)  # shoot at the entry
    # Camera on/off alternate, starting with on.
    assert [t.params[0] > 0 for t in trig] == [True, False] * len(on)
    # Every trigger distance is at most the planned one.
    assert max(t.params[0] for t in on) <= plan.stats.trigger_distance_m + 1e-6
    # Every waypoint flies at the survey altitude relative to home.
    assert {it.z for it in plan.items if it.command == Cmd.NAV_WAYPOINT} == {80}


def test_photo_spacing_and_count():
    plan = plan_survey(area_from_m(SQUARE), CAM, SurveySpec(altitude_m=60, turnaround_m=0))
    photos = planned_photos(plan)
    assert len(photos) == plan.stats.photo_count
    d = plan.stats.trigger_distance_m
    step = np.hypot(np.diff(photos.x), np.diff(photos.y))
    same_line = np.abs(np.diff(photos.heading)) < 1
    assert np.all(step[same_line] <= d + 1e-6)
    assert np.all(step[same_line] >= 0.5 * d)


def test_speed_capped_by_camera():
    slow = get_camera("p4rtk")  # 2 s minimum trigger interval
    spec = SurveySpec(altitude_m=40, speed_m_s=15)
    plan = plan_survey(area_from_m(SQUARE), slow, spec)
    g = slow.survey_geometry(40, 0.8, 0.7)
    assert plan.meta.speed_m_s <= g.trigger_distance_m / slow.min_trigger_interval_s + 1e-9
    assert plan.meta.speed_m_s <= 0.5 * g.gsd_along_m / slow.shutter_s + 1e-9
    assert plan.meta.speed_m_s < 15


def test_camera_too_slow_is_refused():
    with pytest.raises(InputError, match=r"allows only 0\.75 m/s"):
        plan_survey(area_from_m(SQUARE), get_camera("p4rtk"), SurveySpec(altitude_m=15, front_overlap=0.9))


def test_altitude_from_gsd():
    plan = plan_survey(area_from_m(SQUARE), CAM, SurveySpec(gsd_m=0.02))
    assert plan.stats.gsd_across_m <= 0.02 + 1e-9 and plan.stats.gsd_along_m <= 0.02 + 1e-9
    assert max(plan.stats.gsd_across_m, plan.stats.gsd_along_m) == pytest.approx(0.02, rel=1e-3)
    assert CAM.altitude_for_gsd(0.02) - 0.01 <= plan.meta.altitude_m <= CAM.altitude_for_gsd(0.02)


@pytest.mark.parametrize("shape", [L_SHAPE, FIELD])
def test_margin_zero_keeps_transects_inside(shape):
    area = area_from_m(shape, holes=[BIG_HOLE] if shape is FIELD else ())
    plan = plan_survey(area, CAM, SurveySpec(altitude_m=50, margin_m=0))
    transects, _ = plan_legs(plan, area.frame)
    inside = shapely.covers(area.polygon.buffer(0.01), shapely.linestrings(transects))
    assert inside.all()


def test_big_hole_is_not_imaged_by_transects():
    area = area_from_m(FIELD, holes=[BIG_HOLE])
    plan = plan_survey(area, CAM, SurveySpec(altitude_m=40))
    transects, _ = plan_legs(plan, area.frame)
    hole = shapely.Polygon(area.polygon.interiors[0])
    # Lines image the hole's rim from inside it, reaching at most half a footprint in.
    reach = CAM.survey_geometry(40, 0.8, 0.7).footprint_across_m / 2
    core = hole.buffer(-reach - 0.01)
    assert not core.is_empty
    assert not shapely.intersects(shapely.linestrings(transects), core).any()
    # A camera-on leg never spans the hole: the line is split at it.
    assert plan.stats.segments > plan.stats.lines


def test_nofly_never_entered():
    nofly = [[(300, 200), (420, 200), (420, 330), (300, 330)]]
    area = area_from_m(FIELD, nofly=nofly)
    plan = plan_survey(area, CAM, SurveySpec(altitude_m=50, home=latlon_of((-50, -50))))
    transects, legs = plan_legs(plan, area.frame)
    lines = shapely.linestrings(legs)
    assert not (shapely.intersects(lines, area.nofly) & ~shapely.touches(lines, area.nofly)).any()
    clear = area.nofly.buffer(10 - 0.01)
    assert not shapely.intersects(shapely.linestrings(transects), clear).any()
    # The no-fly zone becomes an exclusion fence; the inclusion fence holds the whole flight.
    assert [p.inclusion for p in plan.fence.polygons] == [True, False]


def test_home_inside_nofly_is_refused():
    area = area_from_m(FIELD, nofly=[[(300, 200), (420, 200), (420, 330), (300, 330)]])
    with pytest.raises(InputError, match=r"home .* inside a no-fly zone"):
        plan_survey(area, CAM, SurveySpec(altitude_m=50, home=latlon_of((360, 260))))


def test_auto_angle_follows_long_side():
    # A 1500 x 200 m strip rotated to a bearing of 30 degrees.
    t = math.radians(30)
    d, n = np.array([math.sin(t), math.cos(t)]), np.array([math.cos(t), -math.sin(t)])
    shell = [tuple(a * d + b * n) for a, b in [(0, 0), (1500, 0), (1500, 200), (0, 200)]]
    area = area_from_m(shell)
    auto = plan_survey(area, CAM, SurveySpec(altitude_m=60))
    assert min(abs(auto.meta.angle_deg - 30), 180 - abs(auto.meta.angle_deg - 30)) < 3
    for bearing in (0, 45, 90, 120):
        fixed = plan_survey(area, CAM, SurveySpec(altitude_m=60, angle_deg=bearing))
        assert auto.stats.flight_time_s <= fixed.stats.flight_time_s + 1e-6


def test_crosshatch_flies_two_bearings():
    area = area_from_m(SQUARE)
    single = plan_survey(area, CAM, SurveySpec(altitude_m=60, angle_deg=20))
    cross = plan_survey(area, CAM, SurveySpec(altitude_m=60, angle_deg=20, crosshatch=True))
    assert cross.meta.pattern == "crosshatch"
    assert 1.6 * single.stats.photo_count < cross.stats.photo_count < 2.4 * single.stats.photo_count
    photos = planned_photos(cross)
    headings = np.round(photos.heading) % 180
    assert set(headings) == {20.0, 110.0}


def test_hover_and_capture():
    spec = SurveySpec(altitude_m=100, front_overlap=0.7, trigger="hover", hover_s=3)
    plan = plan_survey(area_from_m(SQUARE), CAM, spec)
    assert not any(it.command == Cmd.DO_SET_CAM_TRIGG_DIST for it in plan.items)
    shots = [i for i, it in enumerate(plan.items) if it.command == Cmd.DO_DIGICAM_CONTROL]
    assert len(shots) == plan.stats.photo_count > 0
    assert all(plan.items[i - 1].command == Cmd.NAV_WAYPOINT and plan.items[i - 1].params[0] == 3 for i in shots)
    # Each hover point holds the line's heading, so every footprint is aligned with its line.
    headings = planned_photos(plan).heading % 180
    assert np.ptp(headings) < 0.5


def test_entry_corner():
    area = area_from_m(FIELD)
    x0, y0, x1, y1 = area.polygon.bounds
    corners = {"sw": (x0, y0), "se": (x1, y0), "nw": (x0, y1), "ne": (x1, y1)}
    for corner in ("sw", "ne", "se"):
        plan = plan_survey(area, CAM, SurveySpec(altitude_m=60, entry=corner, angle_deg=0))
        transects, _ = plan_legs(plan, area.frame)
        first = transects[0, 0]
        nearest = min(corners, key=lambda k: np.hypot(first[0] - corners[k][0], first[1] - corners[k][1]))
        assert nearest == corner


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        (SurveySpec(altitude_m=150), "altitude 150.0 m is above the 120 m limit"),
        (SurveySpec(gsd_m=0.004, front_overlap=0.9, side_overlap=0.9), "exceed the vehicle's limit of 700"),
        (SurveySpec(altitude_m=60, max_flight_time_s=60), "exceeds the 1.0 min battery limit"),
    ],
)
def test_limits_refused(spec, match):
    with pytest.raises(PlanCheckError, match=match):
        plan_survey(area_from_m(FIELD), CAM, spec)


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        (SurveySpec(), "exactly one of altitude and GSD"),
        (SurveySpec(altitude_m=50, front_overlap=0.99), "front overlap 99% is out of range"),
        (SurveySpec(altitude_m=50, entry="middle"), "unknown entry corner"),
    ],
)
def test_bad_spec(spec, match):
    with pytest.raises(InputError, match=match):
        plan_survey(area_from_m(SQUARE), CAM, spec)


REAL_AOIS = [
    "dronetm_agung-1/aoi.geojson",
    "dronetm_agung-2/aoi.geojson",
    "qgroundcontrol_unittest/PolygonAreaTest.kml",
]


@pytest.mark.parametrize("aoi", REAL_AOIS)
@pytest.mark.parametrize(("camera", "alt"), [("mavic3e", 110), ("p4rtk", 100), ("rededge-p", 120)])
def test_real_aoi_coverage_at_80_70(shared_data, aoi, camera, alt):
    area = read_area(shared_data / "polygons" / aoi)
    cam = get_camera(camera)
    spec = SurveySpec(altitude_m=alt, front_overlap=0.8, side_overlap=0.7, max_items=5000)
    plan = plan_survey(area, cam, spec)
    report = coverage(area, planned_photos(plan, area.frame), cam, promised_count(0.8, 0.7))
    assert report.percent_promised >= 99.5, report.percent_promised
