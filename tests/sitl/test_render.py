"""Rendered photos: geometry against the truth ortho, matchable overlaps, obliques, bands, SimCamera."""

from __future__ import annotations

import csv
import math
import time

import cv2
import numpy as np
import pytest

from sensors.catalog import get_camera
from sensors.photo import read_photo_meta
from sensors.projection import Gimbal, project_points
from sitl.camera import SimCamera, exif_make_model
from sitl.render import Effects, VehiclePose, render, render_bands, trace
from sitl.triggers import TriggerEvent
from sitl.world import World

HOME = (-1.3252, 52.952)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    return World.generate(*HOME, seed=3, extent_m=400, cache_dir=tmp_path_factory.mktemp("worlds"))


def gray(img: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float32)


def nadir_pose(world, dx=0.0, dy=0.0, agl=100.0, yaw=0.0, velocity=(0.0, 0.0, 0.0)) -> VehiclePose:
    hx, hy = world.home_xy
    return VehiclePose(hx + dx, hy + dy, world.home_altitude + agl, yaw=yaw, velocity=velocity)


def test_nadir_render_matches_the_truth_ortho(world):
    """Warp the photo back to the ground with its known pose: it lands on the truth ortho."""
    cam = get_camera("mini2")
    r = render(world, cam, nadir_pose(world, yaw=30.0), size=(2000, 1500), effects=Effects(seed=1))
    gsd = cam.survey_geometry(100.0, 0.7, 0.7).gsd_across_m * cam.image_width_px / 2000
    hx, hy = world.home_xy
    bounds = (hx - 25, hy - 25, hx + 25, hy + 25)
    truth, tr = world.truth_ortho(bounds, gsd)
    h, w = truth.shape[:2]
    xs = tr.c + (np.arange(w) + 0.5) * gsd
    ys = tr.f - (np.arange(h) + 0.5) * gsd
    xx, yy = np.meshgrid(xs, ys)
    zz = world.surface(xx, yy)
    uv, vis = project_points(np.column_stack([xx.ravel(), yy.ravel(), zz.ravel()]), r.intrinsics, r.pose)
    assert vis.all()
    mu, mv = (uv[:, i].reshape(h, w).astype(np.float32) for i in (0, 1))
    warped = cv2.remap(r.image, mu, mv, cv2.INTER_LINEAR)
    a, b = gray(warped), gray(truth)
    # ECC, not cv2.phaseCorrelate: OpenCV 5's phase correlation is biased below a pixel (0.3 px reads 0.5).
    crit = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 200, 1e-7)
    _, m = cv2.findTransformECC(b, a, np.eye(2, 3, dtype=np.float32), cv2.MOTION_TRANSLATION, crit, None, 5)
    dx, dy = float(m[0, 2]), float(m[1, 2])
    ncc = float(np.corrcoef(a.ravel(), b.ravel())[0, 1])
    print(f"\nnadir render vs truth ortho: shift ({dx:+.3f}, {dy:+.3f}) px at {gsd * 100:.1f} cm, NCC {ncc:.3f}")
    assert math.hypot(dx, dy) < 0.5 and ncc > 0.85


def test_overlapping_photos_match_with_the_known_offset(world):
    """Two photos 30 m apart along track: many ORB matches, and they agree with the true geometry."""
    cam = get_camera("mini2")
    size = (2000, 1500)
    a = render(world, cam, nadir_pose(world, dy=-15.0, yaw=5.0), size=size)
    b = render(world, cam, nadir_pose(world, dy=15.0, yaw=5.0), size=size)
    orb = cv2.ORB_create(nfeatures=4000)
    ka, da = orb.detectAndCompute(cv2.cvtColor(a.image, cv2.COLOR_RGB2GRAY), None)
    kb, db = orb.detectAndCompute(cv2.cvtColor(b.image, cv2.COLOR_RGB2GRAY), None)
    matches = cv2.BFMatcher(cv2.NORM_HAMMING, crossCheck=True).match(da, db)
    pa = np.array([ka[m.queryIdx].pt for m in matches])
    pb = np.array([kb[m.trainIdx].pt for m in matches])
    # Where each keypoint of A truly lands in B: A's ray hit on the surface, projected into B.
    ia = np.clip(np.round(pa).astype(int), 0, [size[0] - 1, size[1] - 1])
    ground = a.points[ia[:, 1], ia[:, 0]] + a.pose.position
    pred, vis = project_points(ground, b.intrinsics, b.pose)
    err = np.linalg.norm(pred - pb, axis=1)
    good = vis & (err < 2.0)
    print(f"\nORB: {len(ka)}/{len(kb)} keypoints, {len(matches)} matches, {good.sum()} within 2 px of the truth")
    assert good.sum() > 300 and good.mean() > 0.5


def _tallest_building(world):
    b = world.buildings
    k = int(np.nanargmax(np.where(np.isfinite(b["base"]), b["eave"], -1)))
    return {key: float(v[k]) for key, v in b.items()}


def test_oblique_render_sees_building_walls(world):
    b = _tallest_building(world)
    # Stand 30 m off the middle of a long facade, 25 m above its base, look at it 45 deg down.
    nx, ny = -math.sin(b["angle"]), math.cos(b["angle"])  # outward normal of the +v facade
    dist = b["hv"] + 30.0
    yaw = math.degrees(math.atan2(-nx, -ny)) % 360  # compass heading towards the building
    cam = get_camera("mini2")
    lon, lat = world.xy_to_lonlat(b["cx"] + nx * dist, b["cy"] + ny * dist)
    from sensors.projection import grid_convergence_deg

    yaw_true = yaw - grid_convergence_deg(world.epsg, float(lon), float(lat))
    pose = VehiclePose(b["cx"] + nx * dist, b["cy"] + ny * dist, b["base"] + 25.0, yaw=yaw_true)
    obl = render(world, cam, pose, Gimbal(pitch=-45.0), size=(800, 600), effects=Effects.none())
    top = render(world, cam, VehiclePose(b["cx"], b["cy"], b["base"] + 80.0), size=(800, 600), effects=Effects.none())

    def wall_fraction(r):
        p = r.points[r.valid].astype(np.float64) + r.pose.position
        return float(world.wall_mask(p[:, 0], p[:, 1], p[:, 2]).mean())

    f_obl, f_top = wall_fraction(obl), wall_fraction(top)
    print(f"\nwall pixels: {f_obl:.1%} oblique vs {f_top:.1%} nadir")
    assert f_obl > 0.04 and f_obl > 2 * f_top


def test_sky_above_the_horizon(world):
    r = render(world, get_camera("mini2"), nadir_pose(world, agl=30.0), Gimbal(pitch=0.0), size=(400, 300),
               effects=Effects.none())  # fmt: skip
    assert not r.valid[:100].any() and r.valid[-20:].all()
    sky = r.image[:50].reshape(-1, 3).mean(axis=0)
    assert sky[2] > sky[0]  # blue over red


def test_motion_blur_follows_the_ground_speed(world):
    cam = get_camera("mini2")
    r = render(world, cam, nadir_pose(world, velocity=(0, 10, 0)), size=(400, 300))
    du, dv = r.info["blur_px"]
    # 10 m/s x shutter of ground travel, at 10 x the full-size GSD here, along the image vertical
    # (the image top points to true north, a degree from grid north here).
    gsd = cam.survey_geometry(100, 0.7, 0.7).gsd_along_m * 10
    assert abs(du) < 0.03 * abs(dv) and dv == pytest.approx(10 * cam.shutter_s / gsd, rel=0.02)


def test_multispectral_bands_are_offset_and_calibrated(world):
    cam = get_camera("rededge-p")
    bands = render_bands(world, cam, nadir_pose(world, agl=60.0, yaw=20.0), size=(728, 544), effects=Effects.none())
    assert [b.radiometry.band.name for b in bands] == [b.name for b in cam.bands]
    assert all(b.image.dtype == np.uint16 and b.image.shape == (544, 728) for b in bands)
    ref = bands[0]
    centre = ref.points[272, 364].astype(np.float64) + ref.pose.position
    offsets = []
    for b in bands[1:]:
        uv, _ = project_points(centre[None, :], b.intrinsics, b.pose)
        offsets.append(float(np.hypot(*(uv[0] - (364, 272)))))
    print(f"\nband offsets from {ref.radiometry.band.name} at image centre: {np.round(offsets, 2)} px")
    assert all(0.3 < o < 12 for o in offsets) and max(offsets) > 2
    # Measured shift between two visible bands agrees with the geometry.
    green = bands[1]
    uv, _ = project_points(centre[None, :], green.intrinsics, green.pose)
    expect = uv[0] - (364, 272)
    (dx, dy), _ = cv2.phaseCorrelate(ref.image.astype(np.float32), green.image.astype(np.float32))
    assert np.hypot(dx - expect[0], dy - expect[1]) < 1.0  # bands differ in content, not only in place
    # DN -> reflectance with the written metadata gives the world's reflectance back.
    for b in bands:
        r = b.radiometry
        ys, xs = np.mgrid[200:340:7, 300:430:7]
        rr = np.hypot(xs - r.vignetting_center[0], ys - r.vignetting_center[1])
        poly = 1 + sum(c * rr ** (k + 1) for k, c in enumerate(r.vignetting_poly))
        radiance = (b.image[ys, xs] - r.black_level) / poly * r.radiometric_calibration[0] / (
            r.gain * r.exposure_s * 2**16
        )
        got = math.pi * radiance / r.irradiance
        hits = b.points[ys, xs].astype(np.float64) + b.pose.position
        want = world.reflectance(hits[..., 0], hits[..., 1], (r.band,), z=hits[..., 2])[..., 0]
        # Pixels average sub-pixel detail that point samples keep: compare over the region.
        assert got.mean() == pytest.approx(want.mean(), rel=0.03), r.band.name
        assert np.corrcoef(got.ravel(), want.ravel())[0, 1] > 0.8


def test_20_megapixel_render_time(world):
    cam = get_camera("mavic3e")
    t0 = time.perf_counter()
    r = render(world, cam, nadir_pose(world, yaw=30.0, velocity=(5, 8, 0)))
    dt = time.perf_counter() - t0
    print(f"\n{cam.name} {r.image.shape[1]}x{r.image.shape[0]} ({r.image.shape[0] * r.image.shape[1] / 1e6:.1f} MP) "
          f"nadir render: {dt:.2f} s")  # fmt: skip
    assert r.image.shape == (3956, 5280, 3) and r.valid.all()
    assert dt < 90  # generous: this is a smoke test of the speed, the figure above is the measurement


def test_trace_refines_discontinuities(world):
    """Coarse-grid interpolation plus refinement equals tracing every pixel."""
    from sensors.projection import pixel_rays

    r = render(world, get_camera("mini2"), nadir_pose(world, agl=50.0), size=(240, 180), effects=Effects.none())
    pts, ok = trace(world, r.intrinsics, r.pose)
    uu, vv = np.meshgrid(np.arange(240), np.arange(180))
    from sensors.projection import intersect_dem

    full, fok = intersect_dem(r.pose.position, pixel_rays(np.column_stack([uu.ravel(), vv.ravel()]), r.intrinsics,
                                                          r.pose), world.dsm, tolerance=1e-3)  # fmt: skip
    full = (full - r.pose.position).reshape(180, 240, 3)
    assert (ok == fok.reshape(180, 240)).all()
    err = np.linalg.norm(pts - full, axis=-1)
    assert np.percentile(err, 99) < 0.05 and np.median(err) < 0.005


# -- SimCamera ------------------------------------------------------------------------------------
def _events(world, n=3, spacing=20.0):
    hx, hy = world.home_xy
    out = []
    for i in range(n):
        lon, lat = world.xy_to_lonlat(hx, hy - 20 + i * spacing)
        out.append(TriggerEvent(index=i + 1, sim_time_s=2.0 * i, time_unix_us=1_779_000_000_250_000 + 2_000_000 * i,
                                lat=float(lat), lon=float(lon), source="single",
                                alt_msl=world.home_altitude + 90.0, alt_rel=90.0, roll=1.5, pitch=-6.0, yaw=2.0,
                                gimbal_pitch=-90.0, gimbal_roll=0.0, gimbal_yaw=2.0))  # fmt: skip
    return out


def test_sim_camera_writes_geotagged_photos_and_truth(world, tmp_path):
    events = _events(world)
    cam = SimCamera(world, "mavic3e", tmp_path, size=(528, 396), workers=1)
    t0 = time.perf_counter()
    paths = [cam.on_trigger(e) for e in events]
    queued = time.perf_counter() - t0
    written = cam.close()
    assert queued < 0.5  # on_trigger does not render
    assert written == paths == [tmp_path / f"IMG_{i:04d}.JPG" for i in (1, 2, 3)]
    for e, p in zip(events, paths, strict=True):
        m = read_photo_meta(p)
        assert (m.make, m.model) == exif_make_model(get_camera("mavic3e")) == ("DJI", "M3E")
        assert m.lat == pytest.approx(e.lat, abs=1e-7) and m.lon == pytest.approx(e.lon, abs=1e-7)
        assert m.alt == pytest.approx(e.alt_msl, abs=1e-3) and m.rel_alt == pytest.approx(90.0, abs=0.01)
        assert m.gimbal_pitch == pytest.approx(-90.0, abs=0.01) and m.flight_yaw == pytest.approx(2.0, abs=0.01)
        assert m.camera_pitch == pytest.approx(0.0, abs=0.01) and m.camera_yaw == pytest.approx(2.0, abs=0.01)
        assert m.time.timestamp() == pytest.approx(e.time_unix_us / 1e6, abs=1e-3) and (m.width, m.height) == (528, 396)
    rows = list(csv.DictReader((tmp_path / "truth.csv").open()))
    assert [r["file"] for r in rows] == [p.name for p in paths]
    assert float(rows[1]["vy"]) == pytest.approx(10.0, abs=0.01)  # 20 m in 2 s, due north


def test_sim_camera_multispectral(world, tmp_path):
    """Band TIFFs for a rig: one per band, one capture id, each band with its own rig offset."""
    e = _events(world, 1)[0]
    with SimCamera(world, "rededge-p", tmp_path, size=(182, 136), workers=0) as cam:
        first = cam.on_trigger(e)
    assert first == tmp_path / "IMG_0001_1.tif"
    metas = [read_photo_meta(tmp_path / f"IMG_0001_{i}.tif") for i in range(1, 6)]
    assert [m.band_name for m in metas] == ["Blue", "Green", "Red", "Red edge", "NIR"]
    assert len({m.band.capture_id for m in metas}) == 1 and metas[4].band.rig_index == 4
    assert all(m.lat == pytest.approx(e.lat, abs=1e-7) for m in metas)
    assert metas[0].band.rig_relatives == (0.0, 0.0, 0.0) and metas[3].band.rig_relatives != (0.0, 0.0, 0.0)
