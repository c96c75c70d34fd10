"""The SITL world: determinism, cache reuse, spectral sense, sampling, truth exports, real GeoTIFFs."""

from __future__ import annotations

import hashlib
import time

import numpy as np
import pytest
import rasterio
from rasterio.transform import Affine

from sensors.camera import Band
from sitl.world import BANDS, Material, World, band_key
from skyscan.errors import InputError

HOME = (-1.3252, 52.952)  # lon, lat (UTM 30N)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    return World.generate(*HOME, seed=7, extent_m=300, ground_alt_m=120.0, relief_m=15.0,
                          cache_dir=tmp_path_factory.mktemp("worlds"))  # fmt: skip


def _digest(w: World) -> str:
    h = hashlib.sha256()
    for a in (w.dsm.array, w.dtm.array, w.texture, w.classes, w.ids, w.detail):
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def test_same_seed_same_world_and_the_cache_is_reused(tmp_path, world):
    t0 = time.perf_counter()
    again = World.generate(*HOME, seed=7, extent_m=300, ground_alt_m=120.0, relief_m=15.0, cache_dir=tmp_path)
    generated = time.perf_counter() - t0
    t0 = time.perf_counter()
    cached = World.generate(*HOME, seed=7, extent_m=300, ground_alt_m=120.0, relief_m=15.0, cache_dir=tmp_path)
    loaded = time.perf_counter() - t0
    print(f"\n300 m world: generated in {generated:.2f} s, loaded from cache in {loaded * 1000:.1f} ms")
    assert _digest(again) == _digest(world) == _digest(cached)  # same seed, fresh cache: bit-identical
    assert loaded < 0.5 and loaded < generated / 3
    other = World.generate(*HOME, seed=8, extent_m=300, ground_alt_m=120.0, relief_m=15.0, cache_dir=tmp_path)
    assert _digest(other) != _digest(world)
    assert len(list(tmp_path.iterdir())) == 2  # one folder per spec


def test_frame_bounds_and_home(world):
    xmin, ymin, xmax, ymax = world.bounds
    assert world.epsg == 32630 and xmax - xmin == pytest.approx(300) and ymax - ymin == pytest.approx(300)
    hx, hy = world.home_xy
    assert xmin < hx < xmax and ymin < hy < ymax
    assert world.home_altitude == pytest.approx(120.0, abs=1e-3)
    terrain = world.terrain_function()
    assert terrain(HOME[1], HOME[0]) == pytest.approx(120.0, abs=1e-3)


def test_relief_and_surface_objects(world):
    z = world.dtm.array
    assert 8 < float(np.ptp(z)) < 20  # ~relief_m peak to trough
    above = np.asarray(world.dsm.array) - _terrain_on_surface_grid(world)
    for mat, lo, hi in ((Material.ROOF_TILE, 3, 15), (Material.TREE, 1, 22)):
        cells = np.asarray(world.classes) == mat
        if cells.any():
            assert lo < float(np.median(above[cells])) < hi, mat.name
    assert (np.asarray(world.classes) >= Material.ROOF_TILE).any()  # a village reached into 300 m


def _terrain_on_surface_grid(world):
    n = world.dsm.shape[0]
    xs = world.dsm.x0 + (np.arange(n) + 0.5) * world.dsm.res
    ys = world.dsm.y0 - (np.arange(n) + 0.5) * world.dsm.res
    return world.elevation(xs[None, :], ys[:, None])


def _points_of(world, material, n=400, seed=0):
    rows, cols = np.nonzero(np.asarray(world.classes) == material)
    if not rows.size:
        pytest.skip(f"no {material.name} in this world")
    pick = np.random.default_rng(seed).choice(rows.size, size=min(n, rows.size), replace=False)
    x = world.tex_x0 + (cols[pick] + 0.5) * world.tex_res
    y = world.tex_y0 - (rows[pick] + 0.5) * world.tex_res
    return x, y


def _ndvi(world, x, y):
    nir, red = world.sample_band("NIR", x, y), world.sample_band("red", x, y)
    return (nir - red) / (nir + red)


@pytest.mark.parametrize("material", [Material.GRASS, Material.TREE])
def test_vegetation_is_bright_in_nir(world, material):
    x, y = _points_of(world, material)
    ndvi = _ndvi(world, x, y)
    assert np.median(ndvi) > 0.6 and np.percentile(ndvi, 5) > 0.5
    ndre = (world.sample_band("NIR", x, y) - world.sample_band("Red edge", x, y)) / (
        world.sample_band("NIR", x, y) + world.sample_band("Red edge", x, y)
    )
    assert 0.1 < np.median(ndre) < 0.5


@pytest.mark.parametrize("material", [Material.ASPHALT, Material.PAVEMENT, Material.ROOF_GREY])
def test_roads_and_roofs_are_not_vegetation(world, material):
    x, y = _points_of(world, material)
    assert np.percentile(_ndvi(world, x, y), 95) < 0.2


def test_sampling_is_vectorised_and_shaped(world):
    hx, hy = world.home_xy
    x = hx + np.linspace(-20, 20, 12).reshape(3, 4)
    y = np.full_like(x, hy)
    assert world.elevation(x, y).shape == (3, 4)
    rgb = world.sample_rgb(x, y)
    assert rgb.shape == (3, 4, 3) and rgb.dtype == np.uint8
    refl = world.reflectance(x, y)
    assert refl.shape == (3, 4, 5) and refl.dtype == np.float32 and (refl >= 0).all() and (refl < 1.5).all()
    assert np.array_equal(world.sample_band(Band("Red edge", 717.0), x, y), refl[..., 3])
    assert np.isnan(world.elevation(np.array([world.bounds[0] - 50]), np.array([hy]))).all()


def test_band_names():
    assert [band_key(b) for b in ("B", "Green", "red", "Red edge", "RE", "NIR", 845.0)] == [
        "blue", "green", "red", "rededge", "rededge", "nir", "nir"]  # fmt: skip
    assert band_key(Band("Panchro", 634.5)) == "red" and set(BANDS) == {"blue", "green", "red", "rededge", "nir"}
    with pytest.raises(InputError, match="unknown band"):
        band_key("thermal")


def test_truth_ortho_geometry(world):
    hx, hy = world.home_xy
    rgb, tr = world.truth_ortho((hx - 10, hy - 5, hx + 10, hy + 5), 0.05)
    assert rgb.shape == (200, 400, 3) and rgb.dtype == np.uint8
    assert (tr.a, tr.e, tr.c, tr.f) == (0.05, -0.05, hx - 10, hy + 5)
    refl, _ = world.truth_ortho((hx - 10, hy - 5, hx + 10, hy + 5), 0.05, bands=("nir", "red"))
    assert refl.shape == (200, 400, 2)
    # The ortho is the sampling function evaluated at cell centres, with a cell's footprint.
    x, y = hx - 10 + 0.025 + 0.05 * 17, hy + 5 - 0.025 - 0.05 * 3
    assert np.array_equal(world.sample_rgb(np.array([x]), np.array([y]), footprint=0.05)[0], rgb[3, 17])


def test_round_trip_through_geotiffs(world, tmp_path):
    hx, hy = world.home_xy
    bounds = (hx - 40, hy - 30, hx + 40, hy + 30)
    ortho, dem = world.export_geotiffs(tmp_path, gsd=0.1, bounds=bounds)
    real = World.from_geotiffs(ortho, dem)
    assert real.epsg == world.epsg and real.bounds == pytest.approx(bounds)
    pts_x = hx + np.random.default_rng(3).uniform(-35, 35, 300)
    pts_y = hy + np.random.default_rng(4).uniform(-25, 25, 300)
    diff = real.sample_rgb(pts_x, pts_y).astype(int) - world.sample_rgb(pts_x, pts_y).astype(int)
    assert np.median(np.abs(diff)) <= 12  # 0.1 m resampling of 0.25 m texture plus fine detail
    dz = np.abs(real.elevation(pts_x, pts_y) - world.surface(pts_x, pts_y))
    assert np.percentile(dz, 95) < 0.1 and dz.max() < 3  # exact on the ground, resampled at crown edges
    with pytest.raises(InputError, match="no nir band"):
        real.sample_band("NIR", pts_x, pts_y)


def _write_tif(path, arr, crs, transform):
    with rasterio.open(path, "w", driver="GTiff", width=arr.shape[2], height=arr.shape[1], count=arr.shape[0],
                       dtype=arr.dtype, crs=crs, transform=transform) as dst:  # fmt: skip
        dst.write(arr)


def test_geotiff_world_errors(tmp_path):
    rgb = np.zeros((3, 20, 20), np.uint8)
    dem = np.zeros((1, 10, 10), np.float32)
    _write_tif(tmp_path / "o.tif", rgb, "EPSG:32630", Affine(1, 0, 500000, 0, -1, 5860000))
    _write_tif(tmp_path / "small.tif", dem, "EPSG:32630", Affine(1, 0, 500000, 0, -1, 5860000))
    _write_tif(tmp_path / "other.tif", dem, "EPSG:32631", Affine(5, 0, 500000, 0, -5, 5860000))
    with pytest.raises(InputError, match=r"does not cover orthophoto o\.tif"):
        World.from_geotiffs(tmp_path / "o.tif", tmp_path / "small.tif")
    with pytest.raises(InputError, match=r"EPSG:32630 but DEM other\.tif is in EPSG:32631"):
        World.from_geotiffs(tmp_path / "o.tif", tmp_path / "other.tif")
    with pytest.raises(InputError, match="not found"):
        World.from_geotiffs(tmp_path / "o.tif", tmp_path / "nope.tif")


@pytest.mark.parametrize("kw, match", [({"extent_m": 10}, "extent"), ({"resolution_m": 5}, "resolution"),
                                       ({"extent_m": 8000, "resolution_m": 0.1}, "OpenCV")])  # fmt: skip
def test_bad_world_parameters(tmp_path, kw, match):
    with pytest.raises(InputError, match=match):
        World.generate(*HOME, cache_dir=tmp_path, **kw)


def test_walls_are_recognised(world):
    b = world.buildings
    k = int(np.nanargmax(b["eave"]))
    ca, sa = np.cos(b["angle"][k]), np.sin(b["angle"][k])
    # A point on the middle of one long facade, half-way up, and one on the roof above it.
    x = b["cx"][k] - sa * b["hv"][k]
    y = b["cy"][k] + ca * b["hv"][k]
    mid = b["base"][k] + b["eave"][k] / 2
    assert world.wall_mask(np.array([x, b["cx"][k]]), np.array([y, b["cy"][k]]),
                           np.array([mid, b["base"][k] + b["eave"][k] + 0.5])).tolist() == [True, False]  # fmt: skip
