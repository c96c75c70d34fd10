"""Named sample geometries and helpers shared by the tests (lon/lat around a point in Canberra)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import Polygon, mapping

from mission.area import Area
from mission.commands import Cmd
from mission.frame import LocalFrame
from mission.plan import Plan

ORIGIN = (149.1650, -35.3630)  # lon, lat
FRAME = LocalFrame.around(*ORIGIN)
X0, Y0 = (float(v) for v in FRAME.to_local(*ORIGIN))


def lonlat_polygon(shell, holes=()) -> Polygon:
    """A lon/lat polygon from rings given in metres east/north of ORIGIN."""

    def ring(pts):
        pts = np.asarray(pts, dtype=float)
        lon, lat = FRAME.to_lonlat(pts[:, 0] + X0, pts[:, 1] + Y0)
        return np.column_stack([lon, lat])

    return Polygon(ring(shell), [ring(h) for h in holes])


SQUARE = [(0, 0), (400, 0), (400, 400), (0, 400)]
L_SHAPE = [(0, 0), (600, 0), (600, 250), (250, 250), (250, 600), (0, 600)]
BIG_HOLE = [(150, 150), (450, 150), (450, 450), (150, 450)]
FIELD = [(0, 0), (800, 0), (800, 600), (0, 600)]


def latlon_of(xy) -> tuple[float, float]:
    """(lat, lon) of a point given in metres east/north of ORIGIN."""
    lon, lat = FRAME.to_lonlat(xy[0] + X0, xy[1] + Y0)
    return float(lat), float(lon)


def area_from_m(shell, holes=(), nofly=None) -> Area:
    """An Area from rings in metres (nofly: a list of rings)."""
    nf = shapely.union_all([lonlat_polygon(r) for r in nofly]) if nofly else None
    return Area.from_lonlat(lonlat_polygon(shell, holes), nf)


def write_geojson(path: Path, geom) -> Path:
    path.write_text(json.dumps({"type": "Feature", "properties": {}, "geometry": mapping(geom)}))
    return path


def plan_legs(plan: Plan, frame: LocalFrame):
    """(transects, legs) of a plan in local metres.

    ``legs`` are all straight legs flown from home to the last waypoint and back to home;
    ``transects`` the legs from a camera-on waypoint (one followed by DO_SET_CAM_TRIGG_DIST > 0) to
    the next waypoint.
    """
    pts, on = [], []
    hx, hy = frame.to_local(plan.home.lon, plan.home.lat)
    pts.append((float(hx), float(hy)))
    on.append(False)
    for it in plan.items:
        if it.is_positional and (it.x or it.y):
            x, y = frame.to_local(it.y, it.x)
            pts.append((float(x), float(y)))
            on.append(False)
        elif it.command == Cmd.DO_SET_CAM_TRIGG_DIST and it.params[0] > 0:
            on[-1] = True
    pts.append(pts[0])
    on.append(False)
    pts = np.asarray(pts)
    legs = np.stack([pts[:-1], pts[1:]], axis=1)
    transects = legs[np.asarray(on[:-1])]
    return transects, legs
