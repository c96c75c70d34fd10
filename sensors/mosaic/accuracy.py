"""Absolute accuracy of a map: against the SITL's true poses, or against surveyed check points.

**Truth poses** (``truth.csv`` from :class:`sitl.camera.SimCamera`): every photo's true centre and
rotation are known. At each point of the map's node grid, the map shows the pixel of the photo
that owns it there (the most nadir view, see :mod:`sensors.mosaic.ortho`), found through the pose
the map used; that pixel's true ray, from the true pose, meets the ground somewhere else, and the
horizontal distance between the two is the map's georeference error at that point (the map draws
the ground seen by that pixel at the wrong place by exactly that much). Without the owner grid, a
7 x 7 grid of pixels over each whole photo is used instead (corners included, which a map with
overlap never shows: a harsher figure). Both rays meet the same ground model, so pass the
world's DEM to include terrain; the figure then measures the whole pose chain (metadata, geotagging,
adjustment). RMSE_r = sqrt(RMSE_x^2 + RMSE_y^2) as REFERENCES §9 defines it.

**Check points** (:mod:`sensors.mosaic.control`): surveyed ground points marked in photos (ODM's
``gcp_list.txt`` carries those image observations). Each observation's pixel is projected through
the map's pose of that photo onto the map's ground; the mean of a point's projections is where the
map puts it, compared with where it was surveyed. Points without observations in a used photo cannot
be located in the map and are counted as ``unmeasured``. When the structure from motion used the
``gcp`` points to georeference the map (``used_gcps``), only the ``check`` points are independent and
only they are reported; otherwise every point is an independent check.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from pyproj import Transformer

from sensors.projection import grid_convergence_deg, pixel_rays, project_points, rotation_from_odm
from skyscan.errors import InputError

from .geometry import Ground, View

__all__ = ["check_point_error", "truth_error"]


def _sample_pixels(v: View, n: int = 7) -> np.ndarray:
    u = np.linspace(0.05, 0.95, n) * v.intr.width
    w = np.linspace(0.05, 0.95, n) * v.intr.height
    uu, vv = np.meshgrid(u, w)
    return np.column_stack([uu.ravel(), vv.ravel()])


def _shown_pixels(v: View, owner: np.ndarray, transform, ground: Ground, index: int, limit: int) -> np.ndarray | None:
    """Pixels of view ``v`` the map shows at the owner-grid nodes it owns (at most ``limit``, evenly picked)."""
    rows, cols = np.nonzero(owner == index)
    if not len(rows):
        return None
    if len(rows) > limit:
        pick = np.linspace(0, len(rows) - 1, limit).astype(int)
        rows, cols = rows[pick], cols[pick]
    x = transform.c + (cols + 0.5) * transform.a
    y = transform.f + (rows + 0.5) * transform.e
    pts = np.column_stack([x, y, ground.height(x, y)])
    uv, vis = project_points(pts, v.intr, v.pose)
    return uv[vis]


def truth_error(truth_csv, photos, vs: list[View], ground: Ground, epsg: int, owner: np.ndarray | None = None,
                transform=None) -> dict:  # fmt: skip
    """Georeference error of the map against ``truth_csv`` (see the module docstring).

    ``owner``/``transform``: the map's owner grid (view index per node, -1 where none) and its
    affine transform; without them whole photos are sampled. Returns ``{"rmse_m", "rmse_x_m",
    "rmse_y_m", "max_m", "photos", "points", ...}``; photos missing from the truth file are left
    out (and counted in ``missing``).
    """
    path = Path(truth_csv)
    try:
        with open(path, newline="") as f:
            rows = {r["file"]: r for r in csv.DictReader(f)}
    except (OSError, KeyError) as exc:
        raise InputError(f"cannot read truth file {path}: {exc}") from None
    tr = Transformer.from_crs("EPSG:4326", f"EPSG:{epsg}", always_xy=True)
    dx, dy, missing, per_photo = [], [], 0, []
    for p, v in zip(photos, vs, strict=True):
        row = rows.get(Path(p.path).name)
        if row is None:
            missing += 1
            continue
        lon, lat = float(row["lon"]), float(row["lat"])
        x, y = tr.transform(lon, lat)
        centre = np.array([x, y, float(row["alt_msl"])])
        rot = rotation_from_odm(float(row["odm_yaw"]), float(row["odm_pitch"]), float(row["odm_roll"]),
                                grid_convergence_deg(epsg, lon, lat))  # fmt: skip
        if owner is not None:
            px = _shown_pixels(v, owner, transform, ground, v.index, 200)
            if px is None or not len(px):
                continue
        else:
            px = _sample_pixels(v)
        # The true ray through the pixel uses the camera's true lens (the SITL renders with the photo's
        # own intrinsics), not the map's refined estimate of it.
        true_pts, ok_t = ground.intersect(centre, pixel_rays(px, p.intrinsics,
                                                             View(0, v.path, p.intrinsics, centre, rot).pose))
        map_pts, ok_m = ground.intersect(v.position, pixel_rays(px, v.intr, v.pose))
        ok = ok_t & ok_m
        dx.append(map_pts[ok, 0] - true_pts[ok, 0])
        dy.append(map_pts[ok, 1] - true_pts[ok, 1])
        if ok.any():
            per_photo.append((float(np.sqrt(np.mean(dx[-1] ** 2 + dy[-1] ** 2))), v.name))
    if not dx:
        raise InputError(f"no photo of the map is listed in the truth file {path}")
    ex, ey = np.concatenate(dx), np.concatenate(dy)
    rx, ry = float(np.sqrt(np.mean(ex**2))), float(np.sqrt(np.mean(ey**2)))
    return {"rmse_m": round(float(np.hypot(rx, ry)), 4), "rmse_x_m": round(rx, 4), "rmse_y_m": round(ry, 4),
            "max_m": round(float(np.hypot(ex, ey).max()), 4), "photos": len(dx), "points": len(ex),
            "worst_photos": [{"photo": n, "rmse_m": round(e, 4)} for e, n in sorted(per_photo, reverse=True)[:5]],
            "missing": missing, "reference": "SITL truth poses" + (", at the map's pixels" if owner is not None
                                                                   else ", whole photos")}  # fmt: skip


def check_point_error(control, vs: list[View], ground: Ground, epsg: int, used_gcps: bool = False) -> dict | None:
    """Map error at the observed control points (see the module docstring); None when none was observed."""
    points = control.checks if used_gcps else control.points
    tr = Transformer.from_crs("EPSG:4326", f"EPSG:{epsg}", always_xy=True)
    by_name = {v.name: v for v in vs}
    rows = []
    unmeasured = []
    for cp in points:
        hits = []
        for ob in cp.observations:
            v = by_name.get(Path(ob.image).name)
            if v is None:
                continue
            pts, ok = ground.intersect(v.position, pixel_rays(np.array([[ob.x, ob.y]]), v.intr, v.pose))
            if ok[0]:
                hits.append(pts[0])
        if not hits:
            unmeasured.append(cp.name)
            continue
        x, y = tr.transform(cp.lon, cp.lat)
        m = np.mean(hits, axis=0)
        rows.append((cp.name, m[0] - x, m[1] - y, m[2] - cp.alt, len(hits)))
    if not rows:
        return None
    d = np.array([r[1:4] for r in rows])
    rx, ry, rz = (float(np.sqrt(np.mean(d[:, i] ** 2))) for i in range(3))
    rr = round(float(np.hypot(rx, ry)), 4)
    return {"rmse_m": rr, "rmse_x_m": round(rx, 4), "rmse_y_m": round(ry, 4),
            "rmse_z_m": round(rz, 4), "max_m": round(float(np.hypot(d[:, 0], d[:, 1]).max()), 4),
            "points": len(rows), "photos": sum(r[4] for r in rows), "unmeasured": unmeasured,
            "per_point": [{"name": n, "dx_m": round(float(a), 3), "dy_m": round(float(b), 3),
                           "dz_m": round(float(c), 3), "observations": k} for n, a, b, c, k in rows],
            "reference": f"{len(rows)} {'check' if used_gcps else 'control'} points from {Path(control.source).name} "
                         "(not used to georeference the map)"}
