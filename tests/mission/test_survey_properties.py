"""Property tests: on random concave polygons with holes and no-fly zones, transects stay inside
the allowed area (the area itself with ``margin 0``, the reported flight region by default) and no
leg of the flight, home and back included, enters a no-fly zone."""

from __future__ import annotations

import math

import numpy as np
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mission.survey import SurveySpec, flight_region, plan_survey
from sensors.catalog import get_camera
from tests.common import area_from_m, latlon_of, plan_legs

CAM = get_camera("mavic3e")


@st.composite
def star(draw, n_min, n_max, r_min, r_max, centre=(0.0, 0.0)):
    n = draw(st.integers(n_min, n_max))
    angles = sorted(draw(st.lists(st.floats(0, 2 * math.pi, exclude_max=True), min_size=n, max_size=n, unique=True)))
    radii = draw(st.lists(st.floats(r_min, r_max), min_size=n, max_size=n))
    pts = [(centre[0] + r * math.cos(a), centre[1] + r * math.sin(a)) for a, r in zip(angles, radii, strict=True)]
    poly = shapely.Polygon(pts)
    if not poly.is_valid or poly.area < 1000:
        from hypothesis import reject

        reject()
    return pts


@st.composite
def survey_case(draw):
    shell = draw(star(5, 12, 150, 700))
    outer = shapely.Polygon(shell)
    holes, nofly = [], []
    if draw(st.booleans()):
        c = outer.representative_point()
        hole = draw(star(3, 7, 20, 150, centre=(c.x, c.y)))
        if outer.buffer(-5).contains(shapely.Polygon(hole)):
            holes.append(hole)
    if draw(st.booleans()):
        x0, y0, x1, y1 = outer.bounds
        cx, cy = draw(st.floats(x0, x1)), draw(st.floats(y0, y1))
        w = draw(st.floats(10, 80))
        nofly.append([(cx - w, cy - w), (cx + w, cy - w), (cx + w, cy + w), (cx - w, cy + w)])
    return shell, holes, nofly


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(case=survey_case(), alt=st.floats(30, 110), angle=st.one_of(st.none(), st.floats(0, 180)),
       home=st.booleans())
def test_transects_inside_allowed_area_and_nofly_never_entered(case, alt, angle, home):
    shell, holes, nofly = case
    area = area_from_m(shell, holes, nofly or None)
    x0, y0, _, _ = shapely.Polygon(shell).bounds
    home_ll = latlon_of((x0 - 40, y0 - 40)) if home else None  # outside the area: transits cross it
    spec = SurveySpec(altitude_m=alt, angle_deg=angle, margin_m=0, max_items=100_000, home=home_ll)
    plan = plan_survey(area, CAM, spec)
    transects, legs = plan_legs(plan, area.frame)
    allowed = area.polygon
    if not area.nofly.is_empty:
        allowed = allowed.difference(area.nofly.buffer(spec.nofly_clearance_m))
    lines = shapely.linestrings(transects)
    assert shapely.covers(allowed.buffer(0.05), lines).all()
    if not area.nofly.is_empty:
        every = shapely.linestrings(legs)
        crossing = shapely.intersects(every, area.nofly) & ~shapely.touches(every, area.nofly)
        assert not crossing.any()
    assert np.isfinite(plan.stats.flight_time_s) and plan.stats.photo_count > 0

    # With the default margin, transects stay inside the flight region the planner reports.
    spec_auto = SurveySpec(altitude_m=alt, angle_deg=angle, max_items=100_000, home=home_ll)
    auto = plan_survey(area, CAM, spec_auto)
    region = flight_region(area, CAM, spec_auto, auto.meta.angle_deg)
    transects, legs = plan_legs(auto, area.frame)
    assert shapely.covers(region.buffer(0.05), shapely.linestrings(transects)).all()
    if not area.nofly.is_empty:
        every = shapely.linestrings(legs)
        assert not (shapely.intersects(every, area.nofly) & ~shapely.touches(every, area.nofly)).any()
