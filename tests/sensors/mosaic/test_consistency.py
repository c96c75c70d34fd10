"""The map's own consistency figure (sensors.mosaic.consistency), measured on a map with known poses.

The map is rendered here from views with the SITL's exact poses (truth.csv) onto the world's surface
model, tile by tile with :func:`sensors.mosaic.ortho.render_tile` into a COG (the pipeline's raster
helpers), so the test does not depend on how the pipeline chooses its poses. Then: exact poses give
offsets well under a map GSD; one photo moved by 10 map GSD before rendering is reported that far
off (and its neighbours' seams with it), with a WARNING verdict; a photo that no other photo
overlaps is not measurable (None), not a crash.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest
import shapely
from affine import Affine
from pyproj import Transformer

from sensors.mosaic.consistency import map_consistency, photo_offset
from sensors.mosaic.geometry import Grid, Ground, View, footprints, nadir_gsd, views
from sensors.mosaic.ortho import render_tile
from sensors.mosaic.photos import scan_photos
from sensors.mosaic.rasters import TiledWriter, to_cog
from sensors.projection import grid_convergence_deg, rotation_from_odm

MAP_GSD = 0.17  # the set's native GSD, as the pipeline would choose it (1327 x 865 px)
STEP = 16
BAD = 5  # the view moved in the perturbed map (middle of the block: neighbours on every side)
SHIFT_GSD = 10.0


@dataclass(frozen=True)
class Built:
    """A rendered map and what photo_offset needs about it."""

    path: Path
    grid: Grid
    owner: np.ndarray
    transform: Affine
    vs: list[View]


@pytest.fixture(scope="session")
def dem(world, tmp_path_factory) -> Path:
    """The world's surface model (buildings and trees on the terrain) as a 1 m GeoTIFF."""
    _, dem_path = world.export_geotiffs(tmp_path_factory.mktemp("world"), gsd=1.0)
    return dem_path


@pytest.fixture(scope="session")
def true_views(photoset) -> list[View]:
    """The set's views with the SITL's exact poses."""
    with open(photoset / "truth.csv", newline="") as f:
        truth = {r["file"]: r for r in csv.DictReader(f)}
    s = scan_photos(photoset)
    tr = Transformer.from_crs("EPSG:4326", f"EPSG:{s.epsg}", always_xy=True)
    out = []
    for v in views(s.photos, s.epsg):
        r = truth[v.name]
        lon, lat = float(r["lon"]), float(r["lat"])
        centre = np.array([*tr.transform(lon, lat), float(r["alt_msl"])])
        rot = rotation_from_odm(float(r["odm_yaw"]), float(r["odm_pitch"]), float(r["odm_roll"]),
                                grid_convergence_deg(s.epsg, lon, lat))  # fmt: skip
        out.append(replace(v, position=centre, rotation=rot))
    return out


@pytest.fixture(scope="session")
def ground(true_views, dem, world) -> Ground:
    """The world's DSM on the UTM grid around the flight (as the pipeline reads a --dem)."""
    xy = np.array([v.position[:2] for v in true_views])
    lo, hi = xy.min(axis=0) - 80.0, xy.max(axis=0) + 80.0
    return Ground.from_dem(dem, world.epsg, (lo[0], lo[1], hi[0], hi[1]))


def _coarse_transform(grid: Grid, step: int) -> Affine:
    """The owner grid's transform as the pipeline defines it: node j on output pixel j * step (its centre)."""
    g = grid.gsd
    return Affine(g * step, 0, grid.x0 + 0.5 * g - 0.5 * step * g, 0, -g * step, grid.y0 - 0.5 * g + 0.5 * step * g)


def build(vs: list[View], ground: Ground, folder: Path, client, tile_px: int = 512) -> Built:
    """Render ``vs`` into ``folder/map.tif`` (COG) the way the pipeline does; return the map and its owner grid."""
    polys = footprints(vs, ground)
    grid = Grid.covering(shapely.union_all(polys).bounds, MAP_GSD, 32755)
    photo_gsd = float(np.median([nadir_gsd(v, ground) for v in vs]))
    folder.mkdir(parents=True, exist_ok=True)
    windows = grid.tiles(tile_px)
    boxes = shapely.box(*np.array([grid.window_bounds(w) for w in windows]).T)
    ground_f = client.scatter(ground, broadcast=True, hash=False)
    futures = []
    for w, box in zip(windows, boxes, strict=True):
        cand = [v for v, p in zip(vs, polys, strict=True) if p.intersects(box)]
        if cand:
            futures.append(client.submit(render_tile, grid, w, cand, ground_f, step=STEP, photo_gsd=photo_gsd,
                                         pure=False))  # fmt: skip
    owner = np.full((math.ceil(grid.height / STEP), math.ceil(grid.width / STEP)), -1, np.int32)
    with TiledWriter(folder / "tiled.tif", grid.width, grid.height, grid.transform, grid.epsg) as writer:
        for tile in client.gather(futures):
            writer.write(tile.window, tile.rgba)
            c, r, w, h = tile.window
            kc, kr = len(range(0, w, STEP)), len(range(0, h, STEP))
            owner[r // STEP : r // STEP + kr, c // STEP : c // STEP + kc] = tile.owner[:kr, :kc]
    to_cog(folder / "tiled.tif", folder / "map.tif")
    (folder / "tiled.tif").unlink()
    return Built(folder / "map.tif", grid, owner, _coarse_transform(grid, STEP), vs)


@pytest.fixture(scope="session")
def exact_map(true_views, ground, dask_client, tmp_path_factory) -> Built:
    return build(true_views, ground, tmp_path_factory.mktemp("exact"), dask_client)


@pytest.fixture(scope="session")
def moved_map(true_views, ground, dask_client, tmp_path_factory) -> tuple[Built, np.ndarray]:
    """The map with view BAD moved by SHIFT_GSD map GSD (east-north-east) before rendering; (map, shift m)."""
    shift = SHIFT_GSD * MAP_GSD * np.array([math.cos(math.radians(30)), math.sin(math.radians(30)), 0.0])
    vs = list(true_views)
    vs[BAD] = replace(vs[BAD], position=vs[BAD].position + shift)
    return build(vs, ground, tmp_path_factory.mktemp("moved"), dask_client), shift


def _print(summary: dict) -> None:
    print(f"\n{summary['verdict']}")
    for p in summary["per_photo"]:
        off = "None" if p["offset_m"] is None else f"{p['offset_m']:.3f} m ({p['offset_gsd']:.2f} GSD)"
        nb = ", ".join(f"{k[4:8]}:{v:.2f}" for k, v in p["neighbours"].items())
        print(f"  {p['photo']}: {off} inliers {p['inliers']}/{p['matches']} overlap {p['overlap_px']} px "
              f"{p['seconds']:.2f} s doubled {p['doubled_m']} {p['doubled_in']} | {nb}")
    print(f"  seams: {summary['seams']}; {summary['seconds']} s, {summary['seconds_per_photo']} s per photo task")


def test_exact_poses_make_a_consistent_map(exact_map, ground, dask_client):
    m = exact_map
    calls = []
    s = map_consistency(dask_client, m.grid, m.vs, ground, m.path, m.owner, m.transform, max_px=512,
                        progress=lambda *a: calls.append(a))  # fmt: skip
    _print(s)
    assert calls[-1] == ("consistency", len(m.vs), len(m.vs))
    assert s["photos"] == len(m.vs) and s["measured"] >= len(m.vs) - 2, s["unmeasured"]
    per = [p for p in s["per_photo"] if p["offset_m"] is not None]
    assert all(p["offset_gsd"] < 1.0 for p in per), [(p["photo"], p["offset_gsd"]) for p in per]
    assert s["max_gsd"] < 1.0 and s["median_gsd"] < 0.5
    assert s["doubled"] == [] and s["off"] == []
    # Seams (per pair, the mean of both sides): a neighbour's part may hold only a few matches, so a pair's
    # figure is noisier than a photo's (measured: median 0.1, max 0.8 GSD).
    assert s["seams"]["pairs"] >= len(m.vs) and s["seams"]["median_gsd"] < 0.5 and s["seams"]["max_gsd"] < 1.5
    assert s["consistent"] is True and s["verdict"].startswith("map consistent: median")


def test_a_moved_photo_is_reported_off_by_its_shift(moved_map, ground, dask_client):
    m, shift = moved_map
    s = map_consistency(dask_client, m.grid, m.vs, ground, m.path, m.owner, m.transform, max_px=512)
    _print(s)
    assert {p["window_gsd"] for p in s["per_photo"]} == {2 * MAP_GSD}  # max_px=512: windows at half resolution
    bad = m.vs[BAD].name
    want = float(np.hypot(*shift[:2]))
    got = {p["photo"]: p for p in s["per_photo"]}[bad]
    # The map shows the others' content where the moved photo puts its own content shifted by -shift.
    assert got["offset_m"] == pytest.approx(want, rel=0.3), got
    assert got["dx_m"] == pytest.approx(-shift[0], abs=0.3 * want) and got["dy_m"] == pytest.approx(-shift[1],
                                                                                                     abs=0.3 * want)
    assert [o["photo"] for o in s["off"]] == [bad], s["off"]
    assert s["verdict"].startswith("WARNING:") and bad in s["verdict"] and s["consistent"] is False
    # Its neighbours see the same misregistration on the part it owns (the seams with it), from their side...
    seams = {p["photo"]: p["neighbours"][bad] for p in s["per_photo"] if bad in p["neighbours"]}
    assert len(seams) >= 3, seams
    assert all(v == pytest.approx(want, rel=0.3) for v in seams.values()), seams
    # ... as it sees them on theirs, while the other seams stay tight.
    sides = [((p["photo"], k), v) for p in s["per_photo"] for k, v in p["neighbours"].items()]
    with_bad = [v for pair, v in sides if bad in pair]
    rest = [v for pair, v in sides if bad not in pair]
    assert len(with_bad) >= 8 and all(v == pytest.approx(want, rel=0.3) for v in with_bad), with_bad
    assert np.median(rest) < 0.5 * MAP_GSD and max(rest) < 2 * MAP_GSD, sorted(rest)
    assert s["seams"]["max_m"] == pytest.approx(want, rel=0.3) and bad in s["seams"]["worst"][0]["pair"]
    # Neighbours' content shows at two places 10 GSD apart: the second copy is in the moved photo's part.
    assert len(s["doubled"]) >= 2 and all(d["in"] == [bad] for d in s["doubled"]), s["doubled"]
    assert all(d["separation_m"] == pytest.approx(want, rel=0.3) for d in s["doubled"]), s["doubled"]
    assert f"doubled features in {bad}'s part" in s["verdict"]
    # Everyone else is fine on the whole.
    assert all(p["offset_gsd"] < 1.0 for p in s["per_photo"] if p["photo"] != bad and p["offset_m"] is not None)


def test_a_photo_off_by_tens_of_metres_is_found(true_views, ground, dask_client, tmp_path):
    """15 m (88 map GSD) off: the window's margin still holds the map's copy of its content."""
    shift = 15.0 * np.array([math.cos(math.radians(-50)), math.sin(math.radians(-50)), 0.0])
    vs = list(true_views)
    vs[BAD] = replace(vs[BAD], position=vs[BAD].position + shift)
    m = build(vs, ground, tmp_path / "far", dask_client)
    names = [v.name for v in vs]
    r = photo_offset(m.grid, vs[BAD], ground, m.path, m.owner, m.transform, names)
    print(f"\n{r}")
    assert r.offset_m == pytest.approx(15.0, rel=0.1), r
    assert r.dx_m == pytest.approx(-shift[0], abs=1.5) and r.dy_m == pytest.approx(-shift[1], abs=1.5), r
    assert len(r.neighbours) >= 3 and all(v == pytest.approx(15.0, rel=0.1) for v in r.neighbours.values()), r
    # A neighbour: its own content is where the map shows it, but shows 15 m away in the moved photo's part.
    r0 = photo_offset(m.grid, vs[0], ground, m.path, m.owner, m.transform, names)
    print(r0)
    assert r0.offset_m < MAP_GSD and r0.neighbours[vs[BAD].name] == pytest.approx(15.0, rel=0.1), r0
    assert r0.doubled_m == pytest.approx(15.0, rel=0.1) and r0.doubled_in == (vs[BAD].name,), r0


def test_a_photo_no_other_photo_overlaps_is_not_measurable(true_views, ground, dask_client, tmp_path):
    # A map of one photo: it owns all of it, so there is nothing of anyone else to compare with.
    v = true_views[0]
    m = build([v], ground, tmp_path / "one", dask_client)
    r = photo_offset(m.grid, v, ground, m.path, m.owner, m.transform, [v.name])
    assert r.offset_m is None and r.dx_m is None and r.neighbours == {} and r.overlap_px == 0
    # A photo whose footprint is off the map altogether.
    far = replace(true_views[1], index=1, position=true_views[1].position + np.array([5000.0, 0.0, 0.0]))
    r = photo_offset(m.grid, far, ground, m.path, m.owner, m.transform, [v.name, far.name])
    assert r.offset_m is None and r.overlap_px == 0
    s = map_consistency(dask_client, m.grid, [v], ground, m.path, m.owner, m.transform)
    assert s["measured"] == 0 and s["unmeasured"] == [v.name] and s["consistent"] is None
    assert "not measurable" in s["verdict"] and s["max_m"] is None


# -- parallax of what stands above the ground model, told from a misregistration -----------------------
def test_a_second_copy_along_the_baseline_is_named_relief_with_its_height():
    from sensors.mosaic.consistency import PhotoOffset, _relief_height, summarise
    from sensors.projection import Intrinsics

    intr = Intrinsics(4000, 3000, 3000.0, 3000.0, 1999.5, 1499.5)
    ground = Ground.plane(100.0)
    view = View(0, Path("A.JPG"), intr, np.array([0.0, 0.0, 210.0]), np.diag([1.0, -1.0, -1.0]))
    centres = np.array([[0.0, 0.0, 210.0], [20.0, 0.0, 210.0]])  # camera 1 is 20 m east
    # A roof 10 m high: the map (camera 1's copy) shows it 10 / (110 - 10) * 20 = 2 m west of photo 0's copy.
    assert _relief_height(view, ground, centres, {1: np.array([-2.0, 0.0])}) == pytest.approx(10.0, abs=0.01)
    assert _relief_height(view, ground, centres, {1: np.array([0.0, 2.0])}) is None  # across the baseline
    assert _relief_height(view, ground, centres, {1: np.array([-40.0, 0.0])}) is None  # higher than half of H
    common = dict(offset_m=0.01, dx_m=0.01, dy_m=0.0, overlap_px=5000, neighbours={}, score=0.8, inliers=100,
                  matches=120)  # fmt: skip
    relief = summarise([PhotoOffset("A.JPG", **common, doubled_m=2.0, doubled_in=("B.JPG",), relief_m=10.0)], 0.04)
    wrong = summarise([PhotoOffset("A.JPG", **common, doubled_m=2.0, doubled_in=("B.JPG",))], 0.04)
    assert "drawn twice by parallax in B.JPG's part (2.0 m apart, 10 m high" in relief["verdict"]
    assert "doubled features" not in relief["verdict"]
    assert wrong["verdict"].startswith("WARNING: doubled features in B.JPG's part")
