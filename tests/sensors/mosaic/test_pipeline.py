"""The map pipeline end to end (sensors.mosaic.pipeline.build_map) on real files and a real Dask cluster.

One small SITL photo set (16 photos, 640 x 480, rendered over a procedural world with relief) and one
two-process LocalCluster serve every test (see conftest.py). Checked: the outputs (COG, overlap
counts, footprints and seams, map.json, the report as Chromium builds it), absolute accuracy against
the SITL's true poses and, independently, against the world's true orthophoto, poses from structure
from motion despite noisy GPS, lying attitude tags and a bad fix, bad photos skipped with reasons,
errors that leave nothing behind. Real DJI photos: test_real_map_independent.py.
"""

from __future__ import annotations

import csv
import json
import math
import re
import shutil
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np
import pytest
import rasterio
import shapely
from pyproj import Transformer
from shapely.geometry import shape

from sensors.mosaic.pipeline import MapOptions, MapResult, build_map
from sensors.photo import read_photo_meta, retag_jpeg, write_jpeg
from sensors.positions import PhotoPosition, write_positions_csv
from skyscan.errors import InputError
from tests.browser import chromium, render_dom  # noqa: F401 - chromium is a fixture

from .conftest import SET_PHOTOS

FAULTY = "survey_photos/dronetm_agung1_faulty_images"
OUTPUTS = {"map.tif", "overlap.tif", "footprints.geojson", "map.json", "report.html"}


def _truth_rows(folder: Path) -> list[dict]:
    with open(folder / "truth.csv", newline="") as f:
        return list(csv.DictReader(f))


def _listing(folder: Path) -> set[str]:
    """Every entry of ``folder`` (hidden temporary files and work folders included)."""
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


@pytest.fixture(scope="session")
def dem(world, tmp_path_factory) -> Path:
    """The world's surface model (buildings and trees on the terrain) as a 1 m GeoTIFF."""
    _, dem_path = world.export_geotiffs(tmp_path_factory.mktemp("world"), gsd=1.0)
    return dem_path


@pytest.fixture(scope="session")
def base_map(photoset, dem, dask_client, tmp_path_factory) -> tuple[MapResult, set[str], list]:
    """The photo set mapped once onto the world's DEM, with the truth; (result, workers used, progress calls)."""
    from distributed import get_task_stream

    out = tmp_path_factory.mktemp("base") / "out"
    calls: list[tuple[str, int, int]] = []
    with get_task_stream(dask_client) as ts:
        result = build_map(photoset, out, MapOptions(truth=photoset / "truth.csv", dem=dem), client=dask_client,
                           progress=lambda *a: calls.append(a))  # fmt: skip
    workers = {t["worker"] for t in ts.data}
    return result, workers, calls


# -- the cluster and the outputs ------------------------------------------------------------------
def test_map_is_built_on_a_two_worker_local_cluster(base_map, dask_client):
    result, workers, calls = base_map
    assert len(dask_client.scheduler_info()["workers"]) == 2
    assert len(workers) == 2, f"tasks ran on {workers}"  # the work was spread, not done by one process
    assert result.photos_in == result.photos_used == SET_PHOTOS and result.skipped == []
    assert _listing(result.out_dir) == OUTPUTS  # no work folder, no temporary file left
    stages = {c[0] for c in calls}
    assert {"scan", "features", "matching", "mapping", "ortho", "cog"} <= stages
    for stage in stages:  # every stage reported its end
        last = [c for c in calls if c[0] == stage][-1]
        assert last[1] == last[2], (stage, last)


def test_map_is_a_cloud_optimised_geotiff_in_utm(base_map, photoset):
    result, _, _ = base_map
    with rasterio.open(result.out_dir / "map.tif") as ds:
        assert ds.driver == "GTiff"
        assert ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        assert ds.block_shapes == [(512, 512)] * 4
        assert ds.overviews(1), "no overviews"
        epsg = ds.crs.to_epsg()
        assert 32701 <= epsg <= 32760 and epsg == result.epsg == 32755  # Canberra: UTM 55 S
        assert ds.count == 4 and ds.dtypes == ("uint8",) * 4
        assert ds.colorinterp[3] == rasterio.enums.ColorInterp.alpha
        assert (ds.width, ds.height) == (result.width, result.height)
        assert ds.transform.a == pytest.approx(result.gsd_m) and ds.transform.e == pytest.approx(-result.gsd_m)
        rgba = ds.read()
        ov = ds.read(4, out_shape=(ds.height // 4, ds.width // 4))  # an overview level is readable
        assert ov.max() == 255
        bounds = ds.bounds
    alpha = rgba[3]
    covered = alpha == 255
    assert 0.5 < covered.mean() < 0.98, covered.mean()  # a map of the survey, with empty corners
    assert set(np.unique(alpha)) <= {0, 255}
    assert (rgba[:3, alpha == 0] == 0).all()  # nothing painted outside the coverage
    # The photo positions lie inside the map, in its covered part.
    tr = Transformer.from_crs("EPSG:4326", f"EPSG:{epsg}", always_xy=True)
    rows = _truth_rows(photoset)
    x, y = tr.transform([float(r["lon"]) for r in rows], [float(r["lat"]) for r in rows])
    assert (bounds.left < np.min(x)) and (np.max(x) < bounds.right) and (bounds.bottom < np.min(y) < np.max(y)
                                                                           < bounds.top)  # fmt: skip
    with rasterio.open(result.out_dir / "map.tif") as ds:
        rr, cc = rasterio.transform.rowcol(ds.transform, x, y)
    assert covered[np.asarray(rr), np.asarray(cc)].all()


def test_overlap_counts_photos_per_point(base_map, photoset):
    result, _, _ = base_map
    with rasterio.open(result.out_dir / "overlap.tif") as ds:
        assert ds.crs.to_epsg() == result.epsg and ds.nodata == 0 and ds.count == 1
        count = ds.read(1)
        transform = ds.transform
        b = ds.bounds
    with rasterio.open(result.out_dir / "map.tif") as m:
        mb = m.bounds
    # Same area as the map (node grid: within one coarse cell of it).
    cell = transform.a
    assert all(abs(u - v) <= cell for u, v in zip(b, mb, strict=True)), (b, mb)
    rows = _truth_rows(photoset)
    x = np.array([float(r["x"]) for r in rows])
    y = np.array([float(r["y"]) for r in rows])
    r, c = rasterio.transform.rowcol(transform, float(np.mean(x)), float(np.mean(y)))
    middle = count[r - 2 : r + 3, c - 2 : c + 3]
    # 75 % front / 65 % side: the middle of the survey is seen by at least 2 (about 4) photos.
    assert middle.min() >= 2, middle
    seen = count[count > 0]
    assert seen.max() <= SET_PHOTOS
    assert (seen >= 2).mean() > 0.5, np.bincount(seen)


def test_footprints_and_seams_geojson(base_map, photoset):
    result, _, _ = base_map
    doc = json.loads((result.out_dir / "footprints.geojson").read_text())
    assert doc["type"] == "FeatureCollection"
    feats = doc["features"]
    foot = [f for f in feats if f["properties"]["kind"] == "footprint"]
    seams = [f for f in feats if f["properties"]["kind"] == "seam"]
    names = sorted(p.name for p in photoset.glob("IMG_*.JPG"))
    assert sorted(f["properties"]["photo"] for f in foot) == names  # one footprint per used photo
    assert seams and {f["properties"]["photo"] for f in seams} <= set(names)
    # WGS84 lon/lat; each photo's footprint holds the point below it (nadir photos).
    truth = {r["file"]: (float(r["lon"]), float(r["lat"])) for r in _truth_rows(photoset)}
    for f in foot:
        g = shape(f["geometry"])
        assert g.is_valid and g.contains(shapely.Point(truth[f["properties"]["photo"]])), f["properties"]
    # Seam regions split the covered area: they cover the union of the footprints and do not overlap.
    to_utm = Transformer.from_crs("EPSG:4326", f"EPSG:{result.epsg}", always_xy=True)

    def utm(g):
        return shapely.transform(g, lambda xy: np.column_stack(to_utm.transform(xy[:, 0], xy[:, 1])))

    seam_polys = [utm(shape(f["geometry"])) for f in seams]
    union_foot = shapely.union_all([utm(shape(f["geometry"])) for f in foot])
    union_seam = shapely.union_all(seam_polys)
    total = sum(p.area for p in seam_polys)
    assert total == pytest.approx(union_seam.area, rel=0.01)  # a partition: no overlaps
    assert union_seam.area == pytest.approx(union_foot.area, rel=0.15)
    assert union_foot.area == pytest.approx(result.covered_m2, rel=0.01)


def test_map_json_has_the_numbers(base_map):
    result, _, _ = base_map
    doc = json.loads((result.out_dir / "map.json").read_text())
    assert doc["photos_in"] == doc["photos_used"] == SET_PHOTOS
    assert doc["epsg"] == result.epsg and doc["gsd_m"] == result.gsd_m
    assert [doc["width"], doc["height"]] == [result.width, result.height]
    assert doc["files"] == result.files and set(doc["files"].values()) == OUTPUTS
    assert doc["truth_rmse_m"] == result.truth_rmse_m and doc["truth_rmse_gsd"] == result.truth_rmse_gsd
    assert doc["accuracy"]["photos"] == SET_PHOTOS and doc["accuracy"]["missing"] == 0
    sfm = doc["sfm"]
    assert sfm["engine"].startswith("COLMAP") and sfm["registered"] == sfm["photos"] == SET_PHOTOS
    assert sfm["models"] == [SET_PHOTOS] and 0 < sfm["reprojection_px"] < 1.0 and sfm["points"] > 500
    # Exact GPS in the SITL: the model's camera centres land on it to centimetres.
    assert sfm["georeference"]["method"] == "gps" and sfm["georeference"]["gps_fit_m"]["median"] < 0.2
    assert sfm["ground"]["source"].startswith("DEM")
    assert doc["seconds"] > 0 and set(doc["stages"]) >= {"scan", "structure from motion", "ortho"}
    # The photos' native GSD (about 0.17 m at 640 px from 80 m) rounded to 2 significant figures.
    assert 0.1 < doc["gsd_m"] < 0.3


def test_report_builds_in_chromium(base_map, chromium):  # noqa: F811 - fixture
    result, _, _ = base_map
    dom = render_dom(result.out_dir / "report.html", browser=chromium)
    map_div = re.search(r'<div id="skyscan-map"[^>]*>', dom).group(0)
    assert "leaflet-container" in map_div and 'data-ready="1"' in map_div
    names = re.findall(r'<span class="skyscan-layer-name" data-layer="([a-z0-9-]+)">', dom)
    for want in ("map", "overlap", "flight", "photo-positions", "footprints", "seam"):
        assert any(n.startswith(want) for n in names), (want, names)
    # The map preview is on the map as an image overlay (the overlap layer starts hidden).
    imgs = re.findall(r'<img[^>]*class="[^"]*leaflet-image-layer[^"]*"[^>]*>', dom)
    assert any('src="data:image/png;base64,' in i and "skyscan-layer-map" in i for i in imgs), imgs
    # Track and photo positions are drawn (one marker per photo).
    markers = re.findall(r'<path class="skyscan-layer skyscan-layer-photo-positions\b', dom)
    assert len(markers) == SET_PHOTOS
    for section in ("Summary", "Overlap", "Structure from motion", "Absolute accuracy"):
        assert f"<h2>{section}" in dom, section
    assert f"{SET_PHOTOS} used of {SET_PHOTOS}" in dom


# -- absolute accuracy ----------------------------------------------------------------------------
def test_georeference_error_against_truth_poses(base_map):
    result, _, _ = base_map
    acc = result.accuracy
    assert acc["photos"] == SET_PHOTOS and acc["points"] >= 40 * SET_PHOTOS
    print(f"truth poses: RMSE {acc['rmse_m']:.3f} m = {result.truth_rmse_gsd:.2f} GSD (max {acc['max_m']:.3f} m)")
    # Poses from 640 x 480 images alone (no attitude tags used): 0.84 GSD. The issue asks for 2; held to 1, as
    # refining the lens on this level block bent it into a dome (1.97 to 8.7 GSD, with the RANSAC seed). A
    # real SITL flight at 800 x 600 (tests/e2e/test_map_flight.py) measured 0.5 GSD.
    assert result.truth_rmse_gsd <= 1.0, acc


def _patch_shifts(map_path: Path, world, patch: int = 128, step: int = 96) -> tuple[np.ndarray, float]:
    """Shifts (pixels) between the map and the world's true orthophoto at patches on a grid.

    Only patches fully inside the map's coverage with texture in both images count; returns
    (rows of (dx, dy, response), gsd).
    """
    with rasterio.open(map_path) as ds:
        rgba = ds.read()
        b = ds.bounds
        gsd = ds.transform.a
    truth, _ = world.truth_ortho((b.left, b.bottom, b.right, b.top), gsd)
    ours = cv2.cvtColor(np.ascontiguousarray(np.moveaxis(rgba[:3], 0, -1)), cv2.COLOR_RGB2GRAY).astype(np.float32)
    true = cv2.cvtColor(truth, cv2.COLOR_RGB2GRAY).astype(np.float32)
    h, w = min(ours.shape[0], true.shape[0]), min(ours.shape[1], true.shape[1])
    window = cv2.createHanningWindow((patch, patch), cv2.CV_32F)
    out = []
    for r in range(0, h - patch, step):
        for c in range(0, w - patch, step):
            if rgba[3, r : r + patch, c : c + patch].min() < 255:
                continue
            a, t = ours[r : r + patch, c : c + patch], true[r : r + patch, c : c + patch]
            if a.std() < 8 or t.std() < 8:  # no texture to lock onto
                continue
            (dx, dy), resp = cv2.phaseCorrelate(t, a, window)
            out.append((dx, dy, resp))
    return np.array(out).reshape(-1, 3), gsd


def test_map_matches_the_worlds_true_orthophoto(base_map, world):
    """Independent of the pipeline's own metric: the map against the world's true ortho, patch by patch.

    The world has tens of metres of relief and buildings, so the map is made on the world's DEM (its
    surface model): on the take-off plane instead, this set measured 2.5 GSD RMSE here (points off the
    plane are displaced radially), while the pose-based metric cannot see that (both its rays meet the
    same plane).
    """
    result, _, _ = base_map
    shifts, gsd = _patch_shifts(result.out_dir / "map.tif", world)
    assert gsd == pytest.approx(result.gsd_m)
    assert len(shifts) >= 30, f"only {len(shifts)} textured patches"
    d = np.hypot(shifts[:, 0], shifts[:, 1])
    rmse_px = float(np.sqrt(np.mean(d**2)))
    msg = (f"map vs true ortho: {len(shifts)} patches, RMSE {rmse_px * gsd:.3f} m = {rmse_px:.2f} GSD, "
           f"median {np.median(d):.2f} GSD, max {d.max():.2f} GSD")  # fmt: skip
    print(msg)
    assert rmse_px <= 1.0, msg  # measured 0.32 GSD (1.3 GSD while the lens was refined: a dome)
    # The patches do lock onto the same ground (a strong correlation peak), so a small shift means something.
    assert np.median(shifts[:, 2]) > 0.3, msg


# -- poses from structure from motion ------------------------------------------------------------
def _perturbed_positions(folder: Path, path: Path, seed: int = 7) -> Path:
    """Truth poses with deterministic noise: 1.5 m RMS horizontally, and attitude tags that lie: yaw off
    by 5 degrees RMS and every camera claiming 15 degrees of forward tilt it does not have."""
    rng = np.random.default_rng(seed)
    rows = _truth_rows(folder)
    epsg = int(rows[0]["epsg"])
    to_ll = Transformer.from_crs(f"EPSG:{epsg}", "EPSG:4326", always_xy=True)
    n = len(rows)
    dxy = rng.normal(0.0, 1.5 / math.sqrt(2), (n, 2))
    dyaw = rng.normal(0.0, 5.0, n)
    positions = []
    for r, (dx, dy), yaw in zip(rows, dxy, dyaw, strict=True):
        lon, lat = to_ll.transform(float(r["x"]) + dx, float(r["y"]) + dy)
        positions.append(PhotoPosition(
            file=r["file"], lat=lat, lon=lon, alt_msl=float(r["alt_msl"]), alt_rel=float(r["alt_rel"]),
            time=datetime.fromisoformat(r["time_utc"]), roll=float(r["roll"]), pitch=float(r["pitch"]),
            yaw=float(r["yaw"]), camera_yaw=(float(r["odm_yaw"]) + yaw) % 360.0,
            camera_pitch=float(r["odm_pitch"]) + 15.0, camera_roll=float(r["odm_roll"]), source="test noise",
        ))  # fmt: skip
    return write_positions_csv(path, positions)


def test_structure_from_motion_ignores_lying_tags_and_averages_gps_noise(photoset, dem, dask_client, tmp_path):
    """Noisy positions and attitude tags that lie (the real DJI Mini 2 set's gimbal says nadir at 17 deg):
    direct georeferencing puts the map metres off; the poses from the images put it near the truth."""
    positions = _perturbed_positions(photoset, tmp_path / "positions.csv")
    opts = MapOptions(positions=positions, truth=photoset / "truth.csv", dem=dem, report=False)
    sfm = build_map(photoset, tmp_path / "sfm", opts, client=dask_client)
    direct = build_map(photoset, tmp_path / "direct", replace(opts, match=False), client=dask_client)
    msg = (f"truth RMSE direct {direct.truth_rmse_m} m ({direct.truth_rmse_gsd} GSD) -> "
           f"structure from motion {sfm.truth_rmse_m} m ({sfm.truth_rmse_gsd} GSD); {sfm.sfm['georeference']}, "
           f"tilt {sfm.sfm['tilt_deg']}")  # fmt: skip
    print(msg)
    assert direct.sfm is None and sfm.sfm["registered"] == SET_PHOTOS
    # The tags claimed 15 degrees of tilt; the images say nadir (the SITL camera looks straight down).
    assert sfm.sfm["tilt_deg"]["max"] < 2.0, msg
    # GPS noise: the similarity (7 parameters) onto 16 noisy fixes averages it, but only by about
    # sqrt(16 / 7): 1.5 m RMS of noise leaves about 1 m in the georeference (measured 0.99 m; a
    # sweep of the prior's sigma, 3 to 30 m, moved the camera centres by 2 cm: the images set the shape).
    assert sfm.sfm["georeference"]["gps_fit_m"]["median"] < 2.5, msg
    assert sfm.truth_rmse_m < 1.2, msg
    # The lies do reach the map without structure from motion (the test is not vacuous): tens of metres.
    assert direct.truth_rmse_m > 10 * sfm.truth_rmse_m, msg


def test_one_bad_gps_fix_does_not_bend_the_map(photoset, dem, dask_client, tmp_path):
    """A photo whose GPS fix is 40 m off is named as an outlier of the georeferencing; the map stays right."""
    rows = _truth_rows(photoset)
    epsg = int(rows[0]["epsg"])
    to_ll = Transformer.from_crs(f"EPSG:{epsg}", "EPSG:4326", always_xy=True)
    positions = []
    for k, r in enumerate(rows):
        lon, lat = to_ll.transform(float(r["x"]) + (40.0 if k == 5 else 0.0), float(r["y"]))
        positions.append(PhotoPosition(file=r["file"], lat=lat, lon=lon, alt_msl=float(r["alt_msl"]),
                                       alt_rel=float(r["alt_rel"]), time=datetime.fromisoformat(r["time_utc"]),
                                       source="test"))  # fmt: skip
    csv_path = write_positions_csv(tmp_path / "positions.csv", positions)
    result = build_map(photoset, tmp_path / "out", MapOptions(positions=csv_path, truth=photoset / "truth.csv",
                                                              dem=dem, report=False), client=dask_client)  # fmt: skip
    geo = result.sfm["georeference"]
    print(geo, result.truth_rmse_m)
    assert geo["gps_outliers"] == [rows[5]["file"]], geo
    assert result.photos_used == SET_PHOTOS and result.truth_rmse_gsd <= 2.0, result.accuracy


# -- bad input ------------------------------------------------------------------------------------
def _bad_set(photoset: Path, folder: Path) -> dict[str, str]:
    """The set plus broken photos; returns {file: words its skip reason must contain}."""
    folder.mkdir()
    for p in photoset.glob("IMG_*.JPG"):
        shutil.copy(p, folder / p.name)
    src = photoset / "IMG_0005.JPG"
    meta = read_photo_meta(src)
    data = src.read_bytes()
    (folder / "CUT_0005.JPG").write_bytes(data[: len(data) * 2 // 5])  # transfer broke off
    retag_jpeg(src, folder / "NOGPS_0005.JPG", replace(meta, lat=None, lon=None, alt=None))
    retag_jpeg(src, folder / "NORTH_0005.JPG", replace(meta, lat=-meta.lat))  # the other hemisphere
    write_jpeg(folder / "CAP_0005.JPG", np.zeros((meta.height, meta.width, 3), np.uint8), meta)  # lens cap
    assert read_photo_meta(folder / "NOGPS_0005.JPG").lat is None
    assert read_photo_meta(folder / "NORTH_0005.JPG").lat == pytest.approx(-meta.lat, abs=1e-6)
    return {"CUT_0005.JPG": "decod|unreadable|truncat|corrupt", "NOGPS_0005.JPG": "gps",
            "NORTH_0005.JPG": "km from the median", "CAP_0005.JPG": "black frame"}  # fmt: skip


def test_bad_photos_are_skipped_with_reasons(photoset, dask_client, tmp_path, request):
    folder = tmp_path / "photos"
    expected = _bad_set(photoset, folder)
    shared = request.config.rootpath.parent / "shared" / "data" / FAULTY
    real_faulty = sorted(shared.glob("*.JPG")) if shared.is_dir() else []
    for p in real_faulty:  # real lens-cap and blurred frames (another place, another camera)
        shutil.copy(p, folder / p.name)
    out = tmp_path / "out"
    result = build_map(folder, out, MapOptions(match=False, report=False), client=dask_client)
    reasons = {s["file"]: s["reason"] for s in result.skipped}
    print("\n".join(f"skipped {k}: {v}" for k, v in reasons.items()))
    for name, words in expected.items():
        assert name in reasons, (name, reasons)
        assert re.search(words, reasons[name], re.IGNORECASE), (name, reasons[name])
    assert set(reasons) == set(expected) | {p.name for p in real_faulty}
    assert result.photos_used == SET_PHOTOS and result.photos_in == SET_PHOTOS + len(reasons)
    doc = json.loads((out / "map.json").read_text())
    assert {s["file"]: s["reason"] for s in doc["skipped"]} == reasons
    assert _listing(out) == OUTPUTS - {"report.html"}
    with rasterio.open(out / "map.tif") as ds:
        assert ds.read(4).mean() > 0.5 * 255  # the map of the rest is there


def test_no_usable_photos_is_an_input_error_and_writes_nothing(photoset, dask_client, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("not a photo")
    out = tmp_path / "out"
    with pytest.raises(InputError, match="no photos found"):
        build_map(empty, out, client=dask_client)
    assert not out.exists()

    bad = tmp_path / "bad"
    _bad_set(photoset, bad)
    for p in [*bad.glob("IMG_*.JPG"), bad / "NORTH_0005.JPG"]:  # alone, a photo in the north is a fine photo
        p.unlink()
    out.mkdir()  # an existing output folder stays as it was: empty
    with pytest.raises(InputError, match="no usable photos") as exc:
        build_map(bad, out, client=dask_client)
    assert "CAP_0005.JPG" in str(exc.value) or "black frame" in str(exc.value)
    assert _listing(out) == set()

    with pytest.raises(InputError, match="does not exist"):
        build_map(tmp_path / "nowhere", out, client=dask_client)


def test_dem_that_misses_the_area_is_an_input_error(photoset, world, dask_client, tmp_path):
    """A DEM of another place (2 km east of the survey) is refused before anything is written."""
    from affine import Affine

    x0, y1 = world.bounds[2] + 2000.0, world.bounds[3]
    dem = tmp_path / "elsewhere.tif"
    with rasterio.open(dem, "w", driver="GTiff", width=50, height=50, count=1, dtype="float32",
                       crs=f"EPSG:{world.epsg}", transform=Affine(2.0, 0, x0, 0, -2.0, y1)) as ds:  # fmt: skip
        ds.write(np.full((1, 50, 50), 100.0, np.float32))
    out = tmp_path / "out"
    with pytest.raises(InputError, match="covers only 0%"):
        build_map(photoset, out, MapOptions(dem=dem, match=False), client=dask_client)
    assert not out.exists()
