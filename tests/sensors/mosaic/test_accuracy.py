"""Check points: surveyed ground marks seen in photos measure the map's absolute error.

The marks are ground points of the SITL world (bare earth, known height); their image marks are
where the *true* poses put them in each photo, as a surveyor clicking the marker would find them.
The map's error at them must stay within 2 GSD, and marks in no used photo are reported as unmeasured.
"""

from __future__ import annotations

import csv

import numpy as np
from pyproj import Transformer

from sensors.mosaic.photos import scan_photos
from sensors.mosaic.pipeline import MapOptions, build_map
from sensors.projection import CameraPose, grid_convergence_deg, project_points, rotation_from_odm


def _marks(photoset, world, n: int = 6):
    """``n`` bare-earth points spread over the survey and their true pixel marks in every photo."""
    with open(photoset / "truth.csv", newline="") as f:
        truth = {r["file"]: r for r in csv.DictReader(f)}
    photos = scan_photos(photoset).photos
    epsg = world.epsg
    to_grid = Transformer.from_crs("EPSG:4326", f"EPSG:{epsg}", always_xy=True)
    centres = np.array([to_grid.transform(float(r["lon"]), float(r["lat"])) for r in truth.values()])
    lo, hi = centres.min(axis=0), centres.max(axis=0)
    rng = np.random.default_rng(7)
    points = []
    while len(points) < n:
        x, y = rng.uniform(lo, hi)
        z, top = float(world.elevation(x, y)), float(world.surface(x, y))
        if abs(top - z) < 0.05:  # bare earth: a mark on a roof or a tree is not a ground mark
            points.append((x, y, z))
    lines = []
    names = [f"cp{k}" if k < n // 2 else f"check{k}" for k in range(n)]  # half control, half check points
    for k, (x, y, z) in enumerate(points):
        lon, lat = to_grid.transform(x, y, direction="INVERSE")
        for p in photos:
            r = truth[p.path.name]
            plon, plat = float(r["lon"]), float(r["lat"])
            centre = np.array([*to_grid.transform(plon, plat), float(r["alt_msl"])])
            rot = rotation_from_odm(float(r["odm_yaw"]), float(r["odm_pitch"]), float(r["odm_roll"]),
                                    grid_convergence_deg(epsg, plon, plat))  # fmt: skip
            uv, vis = project_points(np.array([[x, y, z]]), p.intrinsics, CameraPose(centre, rot))
            u, v = uv[0]
            if vis[0] and 0 <= u < p.intrinsics.width and 0 <= v < p.intrinsics.height:
                lines.append(f"{lon:.9f} {lat:.9f} {z:.3f} {u:.2f} {v:.2f} {p.path.name} {names[k]}")
    return points, lines


def test_map_error_at_check_points_is_within_two_gsd(photoset, world, dask_client, tmp_path):
    """Three control points georeference the map (the GPS then only checks it); three check points, never
    used, measure it."""
    points, lines = _marks(photoset, world)
    lines.append("0.0 0.0 0.0 10 10 NOT_A_PHOTO.JPG check-nowhere")  # marked in a photo that is not in the set
    gcp = tmp_path / "gcp_list.txt"
    gcp.write_text("EPSG:4326\n" + "\n".join(lines) + "\n")
    result = build_map(photoset, tmp_path / "out", MapOptions(control=gcp, report=False), client=dask_client)
    geo = result.sfm["georeference"]
    assert geo["method"] == "control points" and geo["control_points"] == 3, geo
    acc = result.accuracy
    print(geo, acc)
    assert acc is not None and acc["points"] == len(points) // 2, acc  # the check points only
    assert {p["name"] for p in acc["per_point"]} == {"check3", "check4", "check5"}
    assert acc["unmeasured"] == ["check-nowhere"]
    assert acc["rmse_m"] <= 2 * result.gsd_m, f"check-point RMSE {acc['rmse_m']} m > 2 GSD ({result.gsd_m} m)"
    assert acc["photos"] >= len(points)  # every mark is in several overlapping photos
