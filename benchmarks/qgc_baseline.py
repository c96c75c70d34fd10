"""The baseline survey: QGroundControl's transect rule, re-implemented for comparison.

QGroundControl (``SurveyComplexItem``) lays parallel lines at the line spacing across the area's
bounding box at a manual grid angle and keeps, for each line, only its two farthest crossings with
any polygon edge: concave areas are flown outside the polygon and holes cannot be expressed. Lines
are flown in order, alternating direction, with a straight turnaround at both ends and the camera
triggered by distance from entry to exit.
"""

from __future__ import annotations

import math

import numpy as np
import shapely

from mission.area import Area
from mission.coverage import SweepFrame
from mission.flight_time import VehicleLimits, path_time
from mission.plan import Home, MissionItem, Plan, PlanMeta
from sensors.camera import Camera


def qgc_transects(area: Area, spacing: float, angle_deg: float = 0.0) -> np.ndarray:
    """(N, 2, 2) transects (entry, exit) in local metres, lawnmower order."""
    frame = SweepFrame(angle_deg)
    poly_uv = frame.rotate(area.polygon)
    u0, v0, u1, v1 = poly_uv.bounds
    n = math.ceil((v1 - v0) / spacing) + 1  # one extra line so the far edge is reached
    vs = v0 + np.arange(n) * spacing
    lines = shapely.linestrings([[(u0 - 10, v), (u1 + 10, v)] for v in vs])
    # Crossings with every ring edge (outer and holes); keep the two farthest apart.
    out = []
    for k, pts in enumerate(shapely.intersection(lines, poly_uv.boundary)):
        xy = shapely.get_coordinates(pts)
        if len(xy) < 2:
            continue
        a, b = xy[:, 0].min(), xy[:, 0].max()
        seg = [(a, vs[k]), (b, vs[k])] if len(out) % 2 == 0 else [(b, vs[k]), (a, vs[k])]
        out.append(seg)
    return frame.to_xy(np.asarray(out)) if out else np.empty((0, 2, 2))


def qgc_plan(area: Area, camera: Camera, altitude: float, front: float, side: float, speed: float,
             turnaround: float = 10.0, angle_deg: float = 0.0) -> tuple[Plan, np.ndarray, float]:
    """The baseline as a Plan (for the coverage check), its transects, and its flight time."""
    g = camera.survey_geometry(altitude, front, side)
    tr = qgc_transects(area, g.line_spacing_m, angle_deg)
    pts = []
    for a, b in tr:
        d = (b - a) / max(np.hypot(*(b - a)), 1e-9)
        pts.extend([a - d * turnaround, a, b, b + d * turnaround])
    xy = np.asarray(pts)
    lon, lat = area.frame.to_lonlat(xy[:, 0], xy[:, 1])
    items = [MissionItem.takeoff(altitude)]
    for k in range(len(xy)):
        items.append(MissionItem.waypoint(float(lat[k]), float(lon[k]), altitude))
        if k % 4 == 1:
            items.append(MissionItem.trigger_distance(g.trigger_distance_m))
        elif k % 4 == 3:
            items.append(MissionItem.trigger_distance(0.0))
    items.append(MissionItem.return_to_launch())
    plan = Plan(items=items, home=Home(float(lat[0]), float(lon[0])), meta=PlanMeta(camera_id=camera.id))
    full = np.concatenate([xy, xy[:1]])
    lim = VehicleLimits()
    t = path_time(full, speed, lim) + altitude / lim.climb_m_s + (altitude - 10) / lim.descent_m_s + 10 / lim.land_m_s
    return plan, tr, t
