"""Benchmark: the survey planner against QGroundControl's transect rule on real and concave areas.

For each area it prints planning time (and per km^2), path length, turns, photos, estimated flight
time and coverage (the share of the area seen by the 15 photos that 80/70 overlap promises) for:

* ``qgc-aoi``: QGroundControl's rule (two farthest crossings per line, manual angle 0) on the area
  as drawn: its edges get less than the promised overlap;
* ``qgc-grow``: the same rule on skyscan's flight region (the area grown so that its edges get the
  full overlap), i.e. what a QGC user must draw to get the same map: the like-for-like baseline;
* ``skyscan``: skyscan's plan (automatic angle, cells, no-fly routing).

It says where each baseline leaves its region, flies over holes or enters no-fly zones. Every figure
is measured in this run; ratios are skyscan / baseline.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import shapely

from benchmarks.qgc_baseline import qgc_plan
from mission.area import Area, read_area
from mission.check import coverage
from mission.photos import planned_photos
from mission.survey import SurveySpec, flight_region, plan_survey, promised_count
from sensors.catalog import get_camera

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "polygons"
FRONT, SIDE, ALT = 0.8, 0.7, 100.0


@dataclass
class Row:
    name: str
    km2: float
    plan_s: float
    length_km: float
    turns: int
    photos: int
    time_min: float
    cover: float


def _areas() -> list[tuple[str, Area]]:
    out = []
    for rel in ("dronetm_agung-1/aoi.geojson", "dronetm_agung-2/aoi.geojson",
                "qgroundcontrol_unittest/PolygonAreaTest.kml"):
        if (SHARED / rel).exists():
            out.append((rel.split("/")[0], read_area(SHARED / rel)))
    samples = resources.files("mission.samples")
    with resources.as_file(samples / "sample_field.geojson") as field, \
            resources.as_file(samples / "sample_nofly.geojson") as house:
        out.append(("sample field + pond", read_area(field)))
        out.append(("sample field + pond + no-fly", read_area(field, [house])))
    return out


def _baseline(label: str, area: Area, region: Area, cam, speed: float, promised: int) -> tuple[Row, str]:
    """QGC's rule over ``region``; coverage measured over ``area``."""
    t0 = time.perf_counter()
    base, transects, base_time = qgc_plan(region, cam, ALT, FRONT, SIDE, speed)
    dt = time.perf_counter() - t0
    photos = planned_photos(base, area.frame)
    rep = coverage(area, photos, cam, promised)
    lines = shapely.linestrings(transects)
    leaves = not bool(shapely.covers(region.polygon.buffer(0.5), lines).all())
    holes = [shapely.Polygon(r) for p in shapely.get_parts(area.polygon) for r in p.interiors]
    over_holes = bool(holes) and bool(shapely.intersects(lines[:, None], np.asarray(holes)[None]).any())
    over_nofly = (not area.nofly.is_empty) and bool(shapely.intersects(lines, area.nofly).any())
    # Same accounting as skyscan's: take-off at the first waypoint, back to it, climb and descent.
    xy = np.concatenate([*transects, transects[:1, 0]])
    length = (float(np.hypot(*np.diff(xy, axis=0).T).sum()) + 2 * ALT) / 1000
    flags = (("leaves its region", leaves), ("over holes", over_holes), ("enters no-fly", over_nofly))
    note = ", ".join(n for n, f in flags if f) or "stays inside"
    row = Row(label, area.area_m2 / 1e6, dt, length, max(0, len(transects) - 1), len(photos), base_time / 60,
              rep.percent_promised)
    return row, note


def main() -> int:
    cam = get_camera("mavic3e")
    promised = promised_count(FRONT, SIDE)
    header = (f"{'area':30} {'km2':>6} {'method':8} {'plan s':>7} {'s/km2':>6} {'path km':>8} {'turns':>5} "
              f"{'photos':>6} {'min':>6} {f'cov>={promised} %':>10}  notes")
    print(f"camera {cam.name}, {ALT:.0f} m, overlap {FRONT:.0%}/{SIDE:.0%}; coverage = share of the area "
          f"seen by >= {promised} photos")
    print(header)
    print("-" * len(header))
    for name, area in _areas():
        km2 = area.area_m2 / 1e6
        spec = SurveySpec(altitude_m=ALT, front_overlap=FRONT, side_overlap=SIDE, max_items=100_000)
        t0 = time.perf_counter()
        plan = plan_survey(area, cam, spec)
        dt = time.perf_counter() - t0
        rep = coverage(area, planned_photos(plan, area.frame), cam, promised)
        rows = {"skyscan": Row("skyscan", km2, dt, plan.stats.distance_m / 1000, plan.stats.turns,
                               plan.stats.photo_count, plan.stats.flight_time_s / 60, rep.percent_promised)}
        notes = {}
        grown = Area(area.frame, flight_region(area, cam, spec, 0.0), area.nofly, area.name)
        for label, region in (("qgc-aoi", area), ("qgc-grow", grown)):
            rows[label], notes[label] = _baseline(label, area, region, cam, plan.meta.speed_m_s, promised)
        for label in ("qgc-aoi", "qgc-grow"):
            notes[label] += (f"; skyscan path x{rows['skyscan'].length_km / rows[label].length_km:.2f}, "
                             f"time x{rows['skyscan'].time_min / rows[label].time_min:.2f}")
        notes["skyscan"] = f"angle {plan.meta.angle_deg:.1f}"
        for label in ("qgc-aoi", "qgc-grow", "skyscan"):
            r = rows[label]
            print(f"{name[:30]:30} {km2:6.2f} {label:8} {r.plan_s:7.3f} {r.plan_s / km2:6.3f} {r.length_km:8.2f} "
                  f"{r.turns:5d} {r.photos:6d} {r.time_min:6.1f} {r.cover:10.2f}  {notes[label]}")
    return 0
