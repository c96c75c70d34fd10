"""The plain-COLMAP side of the map benchmark, run as its own processes: ``python -m benchmarks._colmap_plain``.

Two steps, each a process of its own so the benchmark measures them apart:

``sfm PHOTOS_DIR WORK [--threads W]``: COLMAP as a new user runs it from Python, default settings:
``pycolmap.extract_features`` (SIFT on the CPU, default reader options: one SIMPLE_RADIAL camera
per image, focal length from EXIF), ``pycolmap.match_exhaustive`` (all pairs), and
``pycolmap.incremental_mapping``; the largest model is written to ``WORK/model``. Only the thread
count is set (``W``, as the other tools get; COLMAP's default -1 is all cores). Prints one JSON line:
``status``, ``photos``, ``registered`` (largest model), ``models`` (their sizes), ``reprojection_px``
(COLMAP's mean reprojection error), ``points`` and the stage timings. This is the step the benchmark
times: a plain COLMAP run yields poses and points, not a map.

``evaluate PHOTOS_DIR WORK [--truth truth.csv] [--workers W]``: what it takes to compare that model
with skyscan's map, timed apart. The photos' EXIF GPS (:func:`sensors.mosaic.photos.scan_photos`,
UTM) georeferences the model with ``pycolmap.align_reconstruction_to_locations`` (default RANSAC
options); the registered images become :class:`~sensors.mosaic.geometry.View` objects (COLMAP puts
the centre of the top-left pixel at (0.5, 0.5), ours at (0, 0)); a terrain model from the model's
points (``Ground.from_points``, as the pipeline builds it: points under 2 px of error, cells of a few
points, 10th percentile, the map cropped to where points or cameras are) carries an orthomosaic
rendered with skyscan's own :func:`~sensors.mosaic.ortho.render_tile` at the photos' rounded GSD,
on which :func:`sensors.mosaic.consistency.map_consistency` measures the per-photo offset. With a
SITL ``truth.csv``: the camera-centre error of the aligned model (truth x, y, z in the ``epsg``
column's CRS) and the map's georeference error against the true poses
(:func:`sensors.mosaic.accuracy.truth_error`, the figure skyscan writes as ``truth_rmse_m``). Prints
one JSON line with those figures.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
import traceback
from dataclasses import replace
from pathlib import Path

import numpy as np

MODEL = "model"
MAP = "map.tif"


# -- step 1: COLMAP, defaults -----------------------------------------------------------------------
def sfm(photos: Path, work: Path, threads: int) -> dict:
    """Features, exhaustive matching and incremental mapping with COLMAP's defaults (see the docstring)."""
    import pycolmap

    from sensors.mosaic.photos import list_photos

    work.mkdir(parents=True, exist_ok=True)
    db = work / "database.db"
    names = [str(p.relative_to(photos)) for p in list_photos(photos)]
    record: dict = {"photos": len(names), "engine": f"{pycolmap.COLMAP_version} (pycolmap {pycolmap.__version__})"}
    t0 = time.perf_counter()
    extraction = pycolmap.FeatureExtractionOptions(num_threads=threads)
    pycolmap.extract_features(db, photos, image_names=names, extraction_options=extraction, device=pycolmap.Device.cpu)
    record["features_s"] = round(time.perf_counter() - t0, 2)
    t1 = time.perf_counter()
    pycolmap.match_exhaustive(db, matching_options=pycolmap.FeatureMatchingOptions(num_threads=threads),
                              device=pycolmap.Device.cpu)  # fmt: skip
    record["matching_s"] = round(time.perf_counter() - t1, 2)
    t2 = time.perf_counter()
    sparse = work / "sparse"
    sparse.mkdir(exist_ok=True)
    recs = pycolmap.incremental_mapping(db, photos, sparse, pycolmap.IncrementalPipelineOptions(num_threads=threads))
    record["mapping_s"] = round(time.perf_counter() - t2, 2)
    models = sorted(recs.values(), key=lambda r: -r.num_reg_images())
    record["models"] = [int(r.num_reg_images()) for r in models]
    if not models:
        record.update(status="no model", registered=0)
        return record
    best = models[0]
    (work / MODEL).mkdir(exist_ok=True)
    best.write(work / MODEL)
    record.update(status="ok", registered=int(best.num_reg_images()), points=int(best.num_points3D()),
                  reprojection_px=round(float(best.compute_mean_reprojection_error()), 3))  # fmt: skip
    record["seconds"] = round(time.perf_counter() - t0, 2)
    return record


# -- step 2: georeference, map, offsets -------------------------------------------------------------
def _truth_centres(truth: Path, epsg: int) -> dict[str, np.ndarray]:
    """Camera centres of ``truth.csv`` by file name, in ``epsg`` (x, y, z are in the row's ``epsg``)."""
    from pyproj import Transformer

    out, transformers = {}, {}
    with truth.open(newline="") as fh:
        for row in csv.DictReader(fh):
            src = int(row["epsg"])
            x, y, z = float(row["x"]), float(row["y"]), float(row["z"])
            if src != epsg:
                tr = transformers.setdefault(src, Transformer.from_crs(f"EPSG:{src}", f"EPSG:{epsg}", always_xy=True))
                x, y = tr.transform(x, y)
            out[row["file"]] = np.array([x, y, z])
    return out


def evaluate(photos_dir: Path, work: Path, truth: Path | None, workers: int) -> dict:
    """Georeference the model, render its map and measure it (see the module docstring)."""
    import pycolmap

    from sensors.mosaic.cluster import dask_client
    from sensors.mosaic.consistency import map_consistency
    from sensors.mosaic.geometry import footprints, nadir_gsd, views
    from sensors.mosaic.photos import scan_photos
    from sensors.mosaic.pipeline import render_map, round_gsd, surface_from_points
    from sensors.mosaic.rasters import to_cog
    from sensors.mosaic.sfm import intrinsics_from_colmap

    t0 = time.perf_counter()
    record: dict = {}
    rec = pycolmap.Reconstruction(work / MODEL)
    with dask_client(None, workers) as client:
        photo_set = scan_photos(photos_dir, client=client)
        epsg = photo_set.epsg
        by_name = {Path(p.path).name: p for p in photo_set.photos}
        gps_views = {v.name: v for v in views(photo_set.photos, epsg)}
        images = [im for im in rec.images.values() if im.has_pose and Path(im.name).name in gps_views]
        origin = np.mean([gps_views[Path(im.name).name].position for im in images], axis=0)
        sim = pycolmap.align_reconstruction_to_locations(
            rec, [im.name for im in images],
            np.array([gps_views[Path(im.name).name].position - origin for im in images]),
            3, pycolmap.RANSACOptions(),
        )  # fmt: skip
        if sim is None:
            record.update(status="alignment to the GPS failed", seconds=round(time.perf_counter() - t0, 2))
            return record
        rec.transform(sim)
        record["scale"] = round(float(sim.scale), 6)
        vs, photos = [], []
        for im in sorted(images, key=lambda im: im.name):
            name = Path(im.name).name
            r_cw = np.asarray(im.cam_from_world().rotation.matrix())
            v = replace(gps_views[name], index=len(vs), intr=intrinsics_from_colmap(rec.cameras[im.camera_id]),
                        position=np.asarray(im.projection_center()) + origin, rotation=r_cw.T)  # fmt: skip
            vs.append(v)
            photos.append(by_name[name])
        gps = np.array([gps_views[v.name].position for v in vs])
        centres = np.array([v.position for v in vs])
        dh = np.linalg.norm((centres - gps)[:, :2], axis=1)
        record["gps_fit_m"] = {"median": round(float(np.median(dh)), 3), "max": round(float(dh.max()), 3)}
        if truth is not None and truth.is_file():
            true = _truth_centres(truth, epsg)
            d = np.array([v.position - true[v.name] for v in vs if v.name in true])
            if len(d):
                record["centre_error_m"] = {
                    "rmse_h": round(float(np.sqrt(np.mean(np.sum(d[:, :2] ** 2, axis=1)))), 3),
                    "rmse_v": round(float(np.sqrt(np.mean(d[:, 2] ** 2))), 3),
                    "max_h": round(float(np.linalg.norm(d[:, :2], axis=1).max()), 3), "photos": len(d),
                }  # fmt: skip
        pts = np.array([p.xyz for p in rec.points3D.values()], float).reshape(-1, 3) + origin
        err = np.array([p.error for p in rec.points3D.values()], float)
        ground, region, _ = surface_from_points(pts[err < 2.0], centres)
        t1 = time.perf_counter()
        polys = footprints(vs, ground)
        keep = [k for k, poly in enumerate(polys) if not poly.is_empty]
        vs = [replace(vs[k], index=i) for i, k in enumerate(keep)]
        photos, polys = [photos[k] for k in keep], polys[keep]
        photo_gsd = float(np.nanmedian([nadir_gsd(v, ground) for v in vs]))
        r = render_map(client, vs, polys, ground, round_gsd(photo_gsd), photo_gsd, epsg, work / "tiled.tif",
                       region=region)  # fmt: skip
        to_cog(work / "tiled.tif", work / MAP)
        grid, owner, ctransform = r.grid, r.owner, r.owner_transform
        record.update(map_s=round(time.perf_counter() - t1, 2), gsd_m=grid.gsd, map_px=[grid.width, grid.height])
        t2 = time.perf_counter()
        record["quality"] = map_consistency(client, grid, vs, ground, work / MAP, owner, ctransform)
        record["quality"].pop("per_photo", None)
        record["consistency_s"] = round(time.perf_counter() - t2, 2)
        if truth is not None and truth.is_file():
            from sensors.mosaic.accuracy import truth_error

            acc = truth_error(truth, photos, vs, ground, epsg, owner, ctransform)
            record.update(truth_rmse_m=acc["rmse_m"], truth_rmse_gsd=round(acc["rmse_m"] / grid.gsd, 3))
    record.update(status="ok", seconds=round(time.perf_counter() - t0, 2))
    return record


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks._colmap_plain", description=__doc__.split("\n\n")[0])
    ap.add_argument("step", choices=("sfm", "evaluate"))
    ap.add_argument("photos", type=Path)
    ap.add_argument("work", type=Path)
    ap.add_argument("--threads", type=int, default=2, help="COLMAP's threads (sfm)")
    ap.add_argument("--workers", type=int, default=2, help="Dask workers for the map and its offsets (evaluate)")
    ap.add_argument("--truth", type=Path, default=None, help="SITL truth.csv (evaluate)")
    args = ap.parse_args(argv)
    try:
        if args.step == "sfm":
            record = sfm(args.photos, args.work, args.threads)
        else:
            record = evaluate(args.photos, args.work, args.truth, args.workers)
    except Exception as exc:  # the benchmark reports any failure as the row's status
        traceback.print_exc()
        record = {"status": f"error: {type(exc).__name__}: {str(exc).strip()[:200]}"}
    print(json.dumps(record, default=float), flush=True)
    return 0 if record.get("status") == "ok" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
