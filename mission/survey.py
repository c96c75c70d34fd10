"""Survey: a nadir grid (or crosshatch) over an :class:`~mission.area.Area`, as a :class:`Plan`.

:func:`plan_survey` turns an area, a camera and a :class:`SurveySpec` into mission items:
take-off, speed, for every transect segment a turnaround point, the entry waypoint with
``DO_SET_CAM_TRIGG_DIST`` (fire now, then every *d* metres), the exit waypoint and the camera off,
then RTL. Hover-and-capture replaces the distance trigger by a held waypoint and one
``DO_DIGICAM_CONTROL`` per photo.

**Margin.** To give every point of the area the overlap the pilot asked for, edge points need
photos taken from outside the area: up to a fraction of the footprint across and along track. By
default the flight region is the area grown by exactly what the overlaps need (a rectangle aligned
with the lines, so each line runs on as far as its photos still see the area); ``margin_m`` caps
how far outside the area the lines may go (0 keeps every transect inside the area). No-fly zones,
grown by ``nofly_clearance_m``, are cut out of the flight region and routed around in transits.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon

from mission.area import Area, clean_polygons
from mission.commands import Frame
from mission.coverage import (
    PassPlan,
    PathPoint,
    SweepFrame,
    build_path,
    clip_sweep_lines,
    line_offsets,
    plan_pass,
)
from mission.flight_time import VehicleLimits, path_time
from mission.plan import Fence, FencePolygon, Home, MissionItem, Plan, PlanMeta, PlanStats
from mission.routing import Router
from sensors.camera import Camera, Orientation, SurveyGeometry
from skyscan.errors import InputError, PlanCheckError

__all__ = ["SurveySpec", "flight_region", "plan_survey", "promised_count"]

ENTRY_CORNERS = ("auto", "nw", "ne", "sw", "se")


@dataclass
class SurveySpec:
    """What the pilot asks for. Give exactly one of ``altitude_m`` and ``gsd_m``."""

    altitude_m: float | None = None
    gsd_m: float | None = None
    front_overlap: float = 0.8
    side_overlap: float = 0.7
    angle_deg: float | None = None  # transect bearing; None = automatic (shortest flight time)
    crosshatch: bool = False
    orientation: Orientation = Orientation.LANDSCAPE
    entry: str = "auto"
    turnaround_m: float = 10.0
    trigger: str = "distance"  # or "hover"
    hover_s: float = 2.0
    speed_m_s: float | None = None  # None = fastest the camera and vehicle allow
    blur_fraction: float = 0.5
    margin_m: float | None = None  # None = what the overlaps need at the edges
    nofly_clearance_m: float = 10.0
    home: tuple[float, float] | None = None  # (lat, lon); None = take off at the first waypoint
    fence_margin_m: float | None = 50.0  # inclusion fence around path and home; None = no fence
    max_items: int = 700
    max_altitude_m: float = 120.0
    max_flight_time_s: float | None = None
    limits: VehicleLimits = field(default_factory=VehicleLimits)

    def validate(self) -> None:
        """Raise InputError for options out of range."""
        if (self.altitude_m is None) == (self.gsd_m is None):
            raise InputError("give exactly one of altitude and GSD (e.g. --alt 80 or --gsd 2.5cm)")
        for label, v in (("front", self.front_overlap), ("side", self.side_overlap)):
            if not 0.0 <= v <= 0.95:
                raise InputError(f"{label} overlap {v:.0%} is out of range; use 0-95 % (e.g. --overlap 80/70)")
        if self.entry not in ENTRY_CORNERS:
            raise InputError(f"unknown entry corner {self.entry!r}; use one of {', '.join(ENTRY_CORNERS)}")
        if self.trigger not in ("distance", "hover"):
            raise InputError(f"unknown trigger mode {self.trigger!r}; use 'distance' or 'hover'")
        if self.turnaround_m < 0 or (self.margin_m is not None and self.margin_m < 0):
            raise InputError("turnaround and margin must be >= 0 m")
        if self.speed_m_s is not None and not self.speed_m_s > 0:
            raise InputError(f"speed must be positive, got {self.speed_m_s}")


def promised_count(front_overlap: float, side_overlap: float, passes: int = 1) -> int:
    """How many photos every point sees inside a regular grid with these overlaps.

    Along track a point lies in ``floor(1 / (1 - front))`` consecutive photos, across track in
    ``floor(1 / (1 - side))`` lines; 80/70 promises 5 x 3 = 15. A crosshatch doubles it.
    """
    n_f = math.floor(1 / (1 - front_overlap) + 1e-9)
    n_s = math.floor(1 / (1 - side_overlap) + 1e-9)
    return max(1, n_f) * max(1, n_s) * passes


def _edge_margins(g: SurveyGeometry, front: float, side: float) -> tuple[float, float]:
    """(along, across) distance beyond the area that photo centres need for full overlap at edges.

    Along track the photos of a line, ``d`` apart, must reach ``(n_f - 1) d - L/2`` past the edge
    for the edge point to lie in ``n_f`` of them (kept below ``L/2`` so the farthest still sees
    it); across track likewise with the line spacing. A quarter/half step of slack absorbs the
    rounding of line positions and of the per-segment trigger distance.
    """
    n_f = max(1, math.floor(1 / (1 - front) + 1e-9))
    n_s = max(1, math.floor(1 / (1 - side) + 1e-9))
    d, s = g.trigger_distance_m, g.line_spacing_m
    along = max(0.0, (n_f - 1) * d - g.footprint_along_m / 2 + 0.25 * d)
    across = max(0.0, (n_s - 0.45) * s - g.footprint_across_m / 2)
    return along, across


@dataclass
class _Candidate:
    bearing: float
    passes: list[PassPlan]
    path: list[PathPoint]
    time_s: float


class _Planner:
    """State shared by every candidate bearing of one survey."""

    def __init__(self, area: Area, camera: Camera, spec: SurveySpec):
        self.area, self.camera, self.spec = area, camera, spec
        if spec.altitude_m is not None:
            self.altitude = float(spec.altitude_m)
        else:  # floored to the centimetre so the GSD never exceeds the target
            self.altitude = math.floor(camera.altitude_for_gsd(float(spec.gsd_m), spec.orientation) * 100) / 100
        self.geom = camera.survey_geometry(self.altitude, spec.front_overlap, spec.side_overlap, spec.orientation)
        # Hover-and-capture shoots at a standstill: neither the trigger interval nor blur limits speed.
        cap = math.inf if spec.trigger == "hover" else camera.max_survey_speed(self.geom, spec.blur_fraction)
        if cap < 1.0:
            raise InputError(
                f"{camera.name} allows only {cap:.2f} m/s at this altitude and overlap (trigger interval "
                f"{camera.min_trigger_interval_s:g} s, shutter {camera.shutter_s:g} s); fly higher, lower the "
                "front overlap, or use --trigger hover")
        self.speed = math.floor(min(spec.speed_m_s or spec.limits.cruise_m_s, cap) * 10 + 1e-9) / 10
        along, across = _edge_margins(self.geom, spec.front_overlap, spec.side_overlap)
        self.along_margin = along if spec.margin_m is None else min(along, spec.margin_m)
        self.across_margin = across if spec.margin_m is None else min(across, spec.margin_m)
        # Lines keep running while their footprint (half-width across) still sees the area.
        self.reach_across = 0.5 * self.geom.footprint_across_m * 0.98
        if spec.margin_m is not None:
            self.reach_across = min(self.reach_across, spec.margin_m)
        nofly = area.nofly
        # Grow the radius so the polygonal buffer circumscribes the true clearance circle.
        grow = spec.nofly_clearance_m / math.cos(math.pi / 16)
        self.blocked = shapely.buffer(nofly, grow, quad_segs=4) if not nofly.is_empty else MultiPolygon()
        self.router = Router(self.blocked if not self.blocked.is_empty else None)
        self.home_xy = None
        if spec.home is not None:
            hx, hy = area.frame.to_local(spec.home[1], spec.home[0])
            self.home_xy = np.array([float(hx), float(hy)])
            self.router.check_outside(self.home_xy, f"home ({spec.home[0]:.6f}, {spec.home[1]:.6f})")
        self.start_xy = self._entry_point()

    def _entry_point(self):
        if self.spec.entry == "auto":
            return self.home_xy
        x0, y0, x1, y1 = self.area.polygon.bounds
        return np.array([x0 if "w" in self.spec.entry else x1, y1 if "n" in self.spec.entry else y0])

    def region(self, frame: SweepFrame):
        """The flight region in sweep coordinates for one bearing."""
        aoi_uv = clean_polygons(frame.rotate(self.area.polygon))
        hu, hv = self.along_margin, self.reach_across
        grown = _grow_rect(aoi_uv, hu, hv) if hu > 0 or hv > 0 else aoi_uv
        if not self.blocked.is_empty:
            grown = shapely.difference(grown, clean_polygons(frame.rotate(self.blocked)))
        return aoi_uv, grown

    def segments(self, bearing: float):
        frame = SweepFrame(bearing)
        aoi_uv, region = self.region(frame)
        _, v0, _, v1 = aoi_uv.bounds
        offsets = line_offsets(v0, v1, self.geom.line_spacing_m, self.across_margin)
        segs = clip_sweep_lines(region, offsets)
        return frame, segs

    def quick_cost(self, bearing: float) -> float:
        """Flight time of a plain lawnmower over the segments (no cell ordering, no routing).

        Exact for convex areas, pessimistic for split ones: good enough to shortlist bearings.
        """
        frame, segs = self.segments(bearing)
        if not segs:
            return math.inf
        t = self._turnaround()
        pts = []
        for i, sg in enumerate(segs):
            us = (sg.u0 - t, sg.u0, sg.u1, sg.u1 + t)
            pts.extend((u, sg.v) for u in (us if i % 2 == 0 else us[::-1]))
        xy = frame.to_xy(np.asarray(pts))
        start = self.home_xy if self.home_xy is not None else xy[0]
        xy = np.concatenate([[start], xy, [start]])
        return path_time(xy, self.speed, self.spec.limits)

    def candidate(self, bearing: float) -> _Candidate:
        bearings = [bearing, (bearing + 90.0) % 180.0] if self.spec.crosshatch else [bearing]
        passes: list[PassPlan] = []
        start = self.start_xy
        for i, b in enumerate(bearings):
            frame, segs = self.segments(b)
            end = self.home_xy if i == len(bearings) - 1 else None
            pp = plan_pass(segs, frame, self.router, self._turnaround(), start=start, end=end)
            passes.append(pp)
            if pp.runs:
                last_seg, ltr = pp.runs[-1].segments[-1]
                start = frame.to_xy(np.array([last_seg.u1 if ltr else last_seg.u0, last_seg.v]))
        path = build_path(passes, self.router, self.geom.trigger_distance_m, self._turnaround(),
                          start=self.home_xy, hover=self.spec.trigger == "hover")
        return _Candidate(bearing, passes, path, self._path_time(path))

    def _turnaround(self) -> float:
        return 0.0 if self.spec.trigger == "hover" else self.spec.turnaround_m

    def full_xy(self, path: list[PathPoint]) -> np.ndarray:
        """Home -> path -> (routed) home, as an (N, 2) array."""
        xy = np.array([[p.x, p.y] for p in path])
        home = self.home_xy if self.home_xy is not None else xy[0]
        back = self.router.path(xy[-1], home)[1:]
        return np.concatenate([[home], xy, back])

    def _path_time(self, path: list[PathPoint]) -> float:
        if not path:
            return math.inf
        xy = self.full_xy(path)
        stops = np.zeros(len(xy), dtype=bool)
        holds = 0.0
        if self.spec.trigger == "hover":
            is_photo = np.array([p.role == "photo" for p in path])
            stops[1:1 + len(path)] = is_photo
            holds = self.spec.hover_s * int(is_photo.sum())
        lim = self.spec.limits
        vertical = self.altitude / lim.climb_m_s + max(self.altitude - 10, 0) / lim.descent_m_s + min(
            self.altitude, 10) / lim.land_m_s
        return path_time(xy, self.speed, lim, stop_at=stops) + holds + vertical


def _grow_rect(geom_uv, hu: float, hv: float):
    """Minkowski sum of a (multi)polygon with the axis-aligned rectangle [-hu, hu] x [-hv, hv]."""
    rings = shapely.get_rings(geom_uv)
    coords, idx = shapely.get_coordinates(rings, return_index=True)
    # Consecutive vertex pairs on the same ring are the edges.
    same = idx[1:] == idx[:-1]
    a, b = coords[:-1][same], coords[1:][same]
    offs = np.array([[-hu, -hv], [hu, -hv], [hu, hv], [-hu, hv]])
    pts = np.concatenate([a[:, None, :] + offs[None], b[:, None, :] + offs[None]], axis=1)  # (E, 8, 2)
    hulls = shapely.convex_hull(shapely.multipoints(pts))
    # P + R = P united with every edge swept by R: holes narrower than R close, wider ones shrink.
    return shapely.union_all(np.concatenate([hulls, shapely.get_parts(geom_uv)]))


def _candidate_bearings(area: Area) -> list[float]:
    """Edge directions of the area's convex hull plus every 10 degrees (lines are symmetric mod 180)."""
    hull = np.asarray(area.polygon.convex_hull.exterior.coords)
    e = np.diff(hull, axis=0)
    edge = np.degrees(np.arctan2(e[:, 0], e[:, 1])) % 180.0
    grid = np.arange(0.0, 180.0, 10.0)
    return sorted({round(float(b), 2) % 180.0 for b in np.concatenate([edge, grid])})


def flight_region(area: Area, camera: Camera, spec: SurveySpec, bearing_deg: float):
    """Where transects at ``bearing_deg`` may run (local metres): the area grown for full overlap at
    its edges (capped by the margin), minus the no-fly zones and their clearance."""
    spec.validate()
    frame = SweepFrame(bearing_deg)
    _, region = _Planner(area, camera, spec).region(frame)
    return shapely.transform(region, frame.to_xy)


def plan_survey(area: Area, camera: Camera, spec: SurveySpec) -> Plan:
    """Plan a nadir survey of ``area`` with ``camera`` as ``spec`` asks; check it; return the Plan.

    Raises InputError for bad options and PlanCheckError when the plan breaks a limit (altitude,
    item count, flight time), listing every problem.
    """
    t0 = time.perf_counter()
    spec.validate()
    pl = _Planner(area, camera, spec)
    if spec.angle_deg is not None:
        best = pl.candidate(float(spec.angle_deg) % 180.0)
    else:
        # Coarse search over edge directions and a 10 degree grid, refined in 1 degree steps around
        # the three best; the four best by the quick estimate are then planned in full.
        costs = {b: pl.quick_cost(b) for b in _candidate_bearings(area)}
        for b in sorted(costs, key=costs.get)[:3]:
            for step in (-4, -2, -1, 1, 2, 4):
                nb = round((b + step) % 180.0, 2)
                if nb not in costs:
                    costs[nb] = pl.quick_cost(nb)
        shortlist = [b for b in sorted(costs, key=costs.get)[:4] if np.isfinite(costs[b])]
        if not shortlist:
            raise InputError(f"{area.name}: no transect fits inside the area outside the no-fly zones")
        best = min((pl.candidate(b) for b in shortlist), key=lambda c: c.time_s)
    if not best.path:
        raise InputError(f"{area.name}: no transect fits inside the area outside the no-fly zones")
    plan = _to_plan(pl, best)
    plan.stats.planning_time_s = time.perf_counter() - t0
    check_limits(plan, spec)
    return plan


def _to_plan(pl: _Planner, best: _Candidate) -> Plan:
    spec, area, alt = pl.spec, pl.area, pl.altitude
    xy = pl.full_xy(best.path)
    lon, lat = area.frame.to_lonlat(xy[:, 0], xy[:, 1])
    home = Home(float(lat[0]), float(lon[0]))
    items = [MissionItem.takeoff(alt), MissionItem.change_speed(pl.speed)]
    rel = Frame.GLOBAL_RELATIVE_ALT
    for k, p in enumerate(best.path, start=1):
        if p.role == "photo":
            items.append(MissionItem.waypoint(float(lat[k]), float(lon[k]), alt, hold_s=spec.hover_s,
                                              yaw_deg=round(p.yaw_deg, 2), frame=rel))
            items.append(MissionItem.shoot())
            continue
        items.append(MissionItem.waypoint(float(lat[k]), float(lon[k]), alt, frame=rel))
        if p.role == "entry":
            items.append(MissionItem.trigger_distance(round(p.trigger_m, 3)))
        if p.camera_off:
            items.append(MissionItem.trigger_distance(0.0))
    # Transits back to home around no-fly zones; RTL flies the last straight leg.
    for k in range(len(best.path) + 1, len(xy) - 1):
        items.append(MissionItem.waypoint(float(lat[k]), float(lon[k]), alt, frame=rel))
    items.append(MissionItem.return_to_launch())

    area_gj, nofly_gj = area.geojson()
    meta = PlanMeta(
        pattern="crosshatch" if spec.crosshatch else "grid",
        camera_id=pl.camera.id, camera_name=pl.camera.name, altitude_m=alt, altitude_mode="relative",
        gsd_m=pl.geom.gsd_m, front_overlap=spec.front_overlap, side_overlap=spec.side_overlap,
        orientation=Orientation(spec.orientation).value, angle_deg=best.bearing, speed_m_s=pl.speed,
        trigger=spec.trigger, turnaround_m=pl._turnaround(), margin_m=(pl.along_margin, pl.across_margin),
        area=area_gj, nofly=nofly_gj,
    )
    segs = [s for pp in best.passes for run in pp.runs for s, _ in run.segments]
    horiz = float(np.hypot(*np.diff(xy, axis=0).T).sum())
    plan = Plan(items=items, home=home, fence=_fence(pl, xy), meta=meta)
    from mission.photos import planned_photos  # local: photos imports plan, not survey

    plan.stats = PlanStats(
        distance_m=horiz + 2 * alt,
        flight_time_s=best.time_s,
        photo_count=len(planned_photos(plan, area.frame)),
        area_m2=area.area_m2,
        gsd_across_m=pl.geom.gsd_across_m,
        gsd_along_m=pl.geom.gsd_along_m,
        lines=len({(i, s.line) for i, pp in enumerate(best.passes) for run in pp.runs for s, _ in run.segments}),
        segments=len(segs),
        turns=max(0, len(segs) - 1),
        line_spacing_m=pl.geom.line_spacing_m,
        trigger_distance_m=pl.geom.trigger_distance_m,
    )
    return plan


def _fence(pl: _Planner, xy: np.ndarray) -> Fence:
    """Exclusion fences for the no-fly zones and an inclusion fence around the whole flight."""
    fence = Fence()
    area = pl.area

    def ring_latlon(poly: Polygon) -> tuple[tuple[float, float], ...]:
        c = np.asarray(poly.exterior.coords)[:-1]
        lon, lat = area.frame.to_lonlat(c[:, 0], c[:, 1])
        return tuple((float(a), float(o)) for a, o in zip(lat, lon, strict=True))

    if pl.spec.fence_margin_m is not None:
        hull = shapely.multipoints(xy).convex_hull.buffer(pl.spec.fence_margin_m, quad_segs=2)
        fence.polygons.append(FencePolygon(ring_latlon(hull.simplify(1.0)), inclusion=True))
    for zone in shapely.get_parts(area.nofly):
        fence.polygons.append(FencePolygon(ring_latlon(zone.simplify(0.5)), inclusion=False))
    return fence


def check_limits(plan: Plan, spec: SurveySpec) -> None:
    """Refuse a plan that breaks the altitude, item-count or flight-time limit (all listed)."""
    problems = []
    alt = plan.meta.altitude_m or 0.0
    if alt > spec.max_altitude_m:
        problems.append(f"altitude {alt:.1f} m is above the {spec.max_altitude_m:.0f} m limit "
                        "(raise --max-alt only if your authorisation allows, or ask for a finer GSD)")
    n = len(plan.items) + 1  # ArduPilot stores home as item 0
    if n > spec.max_items:
        problems.append(f"{n} mission items exceed the vehicle's limit of {spec.max_items} "
                        "(use a coarser GSD, lower overlap, trigger by distance, or split the area)")
    if spec.max_flight_time_s is not None and plan.stats.flight_time_s > spec.max_flight_time_s:
        problems.append(f"estimated flight time {plan.stats.flight_time_s / 60:.1f} min exceeds the "
                        f"{spec.max_flight_time_s / 60:.1f} min battery limit (split the area or fly faster)")
    if problems:
        raise PlanCheckError("plan refused: " + "; ".join(problems), problems)
