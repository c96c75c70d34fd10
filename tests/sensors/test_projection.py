"""Pinhole geometry: footprints against the survey maths, round trips, DEM ray marching, angles."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sensors.catalog import get_camera
from sensors.projection import (
    Attitude,
    CameraPose,
    Gimbal,
    Heightfield,
    Intrinsics,
    dji_gimbal_angles,
    grid_convergence_deg,
    image_corners,
    intersect_dem,
    intersect_plane,
    odm_angles,
    pixel_rays,
    project_points,
)
from skyscan.errors import InputError

CAMERAS = ["qgc-default", "mavic3e", "mini2", "rededge-p", "p4rtk"]


def nadir(h: float = 100.0, yaw: float = 0.0) -> CameraPose:
    return CameraPose.from_angles((0.0, 0.0, h), Attitude(yaw=yaw), Gimbal(pitch=-90.0))


@pytest.mark.parametrize("name", CAMERAS)
def test_nadir_footprint_matches_survey_geometry(name):
    cam = get_camera(name)
    intr = Intrinsics.from_camera(cam)
    pts, ok = intersect_plane(nadir().position, pixel_rays(image_corners(intr), intr, nadir()), 0.0)
    g = cam.survey_geometry(100.0, 0.7, 0.7)
    assert ok.all()
    # Landscape, yaw 0: the long side (across track) lies east-west, the image top points north.
    assert np.ptp(pts[:, 0]) == pytest.approx(g.footprint_across_m, rel=1e-9)
    assert np.ptp(pts[:, 1]) == pytest.approx(g.footprint_along_m, rel=1e-9)
    assert pts[0, 1] > 0 and pts[0, 0] < 0  # top-left corner is north-west


@pytest.mark.parametrize("tilt", [20.0, 35.0, 45.0, 55.0])
def test_oblique_footprint_near_and_far_edges(tilt):
    """REFERENCES.md section 1: ground distance to the near/far edge is H tan(theta -/+ alpha/2)."""
    cam = get_camera("qgc-default")
    intr = Intrinsics.from_camera(cam)
    pose = CameraPose.from_angles((0, 0, 100.0), Attitude(yaw=0.0), Gimbal(pitch=-(90.0 - tilt)))
    edges = np.array([[intr.cx, -0.5], [intr.cx, intr.height - 0.5]])  # top (far), bottom (near)
    pts, ok = intersect_plane(pose.position, pixel_rays(edges, intr, pose), 0.0)
    alpha = math.radians(cam.fov_deg[1])
    th = math.radians(tilt)
    assert ok.all()
    assert pts[1, 1] == pytest.approx(100 * math.tan(th - alpha / 2), abs=1e-6)
    assert pts[0, 1] == pytest.approx(100 * math.tan(th + alpha / 2), abs=1e-6)


def test_published_oblique_example():
    """The QGC default camera at 100 m and 45 deg sees 32.8-304 m ahead (REFERENCES.md section 1)."""
    cam = get_camera("qgc-default")
    intr = Intrinsics.from_camera(cam)
    pose = CameraPose.from_angles((0, 0, 100.0), Attitude(), Gimbal(pitch=-45.0))
    pts, _ = intersect_plane(pose.position, pixel_rays([[intr.cx, -0.5], [intr.cx, 2999.5]], intr, pose), 0)
    assert (round(pts[1, 1], 1), round(pts[0, 1])) == (32.8, 304)


POSES = [
    ((10.0, -20.0, 120.0), Attitude(roll=3, pitch=-7, yaw=33), Gimbal(pitch=-90)),
    ((0.0, 0.0, 80.0), Attitude(yaw=271), Gimbal(pitch=-45, roll=2)),
    ((5.0, 5.0, 60.0), Attitude(roll=12, pitch=8, yaw=190), Gimbal(pitch=-60, yaw=15, stabilised=False)),
]


@pytest.mark.parametrize("pos, att, gim", POSES)
@pytest.mark.parametrize("distortion", [{}, {"k1": -0.08, "k2": 0.03, "p1": 1e-4, "p2": -2e-4}])
def test_round_trip_on_a_plane(pos, att, gim, distortion):
    cam = get_camera("mavic3e")
    intr = Intrinsics.from_camera(cam, **distortion)
    pose = CameraPose.from_angles(pos, att, gim)
    rng = np.random.default_rng(1)
    px = rng.uniform([0, 0], [intr.width - 1, intr.height - 1], size=(2000, 2))
    ground, ok = intersect_plane(pose.position, pixel_rays(px, intr, pose), z=3.5)
    uv, vis = project_points(ground[ok], intr, pose)
    assert vis.all()
    assert np.abs(uv - px[ok]).max() < 1e-6
    # And the other way: world points -> pixels -> back onto the plane, to a micrometre.
    again, ok2 = intersect_plane(pose.position, pixel_rays(uv, intr, pose), z=3.5)
    assert ok2.all() and np.abs(again - ground[ok]).max() < 1e-6


def test_points_behind_the_camera_are_not_visible():
    intr = Intrinsics.from_camera(get_camera("mini2"))
    uv, vis = project_points([[0, 0, 0], [0, 0, 200.0], [0, 0, 100.0]], intr, nadir())
    assert vis.tolist() == [True, False, False]
    assert np.isfinite(uv[0]).all() and np.isnan(uv[1]).all()
    assert uv[0] == pytest.approx([intr.cx, intr.cy])


def test_yaw_turns_the_image_top():
    intr = Intrinsics.from_camera(get_camera("mini2"))
    top = [[intr.cx, 0.0]]
    for yaw, (ex, ey) in ((0, (0, 1)), (90, (1, 0)), (180, (0, -1)), (270, (-1, 0))):
        p, _ = intersect_plane([0, 0, 100], pixel_rays(top, intr, nadir(yaw=yaw)), 0)
        assert np.sign(np.round(p[0, :2], 6)).tolist() == [ex, ey]


def test_stabilised_gimbal_ignores_vehicle_tilt_but_not_yaw():
    a = CameraPose.from_angles((0, 0, 0), Attitude(roll=15, pitch=-10, yaw=40), Gimbal(pitch=-90))
    b = CameraPose.from_angles((0, 0, 0), Attitude(yaw=40), Gimbal(pitch=-90))
    c = CameraPose.from_angles((0, 0, 0), Attitude(yaw=0), Gimbal(pitch=-90, yaw=40, yaw_relative=False))
    assert np.allclose(a.rotation, b.rotation) and np.allclose(b.rotation, c.rotation)
    fixed = CameraPose.from_angles((0, 0, 0), Attitude(roll=15, yaw=40), Gimbal(pitch=-90, stabilised=False))
    assert not np.allclose(fixed.rotation, b.rotation)


@settings(max_examples=60, deadline=None)
@given(
    yaw=st.floats(0, 359.9),
    pitch=st.floats(-89.0, 0.0),
    roll=st.floats(-20, 20),
)
def test_angle_conventions_round_trip(yaw, pitch, roll):
    pose = CameraPose.from_angles((0, 0, 0), Attitude(yaw=yaw), Gimbal(pitch=pitch, roll=roll))
    gy, gp, gr = dji_gimbal_angles(pose.rotation)
    assert (gy - yaw + 180) % 360 - 180 == pytest.approx(0, abs=1e-6)
    assert (gp, gr) == (pytest.approx(pitch, abs=1e-6), pytest.approx(roll, abs=1e-6))
    oy, op, _ = odm_angles(pose.rotation)
    if abs(roll) < 1e-9:  # ODM's pitch is DJI's + 90 for a level gimbal
        assert op == pytest.approx(90 + pitch, abs=1e-6)
        assert (oy - yaw + 180) % 360 - 180 == pytest.approx(0, abs=1e-6)


def test_odm_angles_of_a_nadir_photo():
    y, p, r = odm_angles(nadir(yaw=123.0).rotation)
    assert (y, p, r) == (pytest.approx(123.0), pytest.approx(0.0, abs=1e-9), pytest.approx(0.0, abs=1e-9))


def test_grid_convergence_in_utm_zone_30():
    """West of zone 30's central meridian (3 W) at 53 N, true north lies west of grid north."""
    gamma = grid_convergence_deg(32630, -1.3252, 52.952)
    expected = math.degrees(math.atan(math.tan(math.radians(-1.3252 + 3.0)) * math.sin(math.radians(52.952))))
    assert gamma == pytest.approx(-expected, abs=0.01)


# -- height fields --------------------------------------------------------------------------------
def test_intersect_dem_on_flat_ground_equals_the_plane():
    hf = Heightfield(np.full((200, 200), 12.0, dtype=np.float32), -100.0, 100.0, 1.0)
    intr = Intrinsics.from_camera(get_camera("qgc-default"), size=(400, 300))
    pose = CameraPose.from_angles((3.0, -4.0, 90.0), Attitude(yaw=20), Gimbal(pitch=-70))
    px = np.stack(np.meshgrid(np.arange(0, 400, 13), np.arange(0, 300, 11)), -1).reshape(-1, 2).astype(float)
    rays = pixel_rays(px, intr, pose)
    a, ok_a = intersect_dem(pose.position, rays, hf, tolerance=1e-8)
    b, ok_b = intersect_plane(pose.position, rays, 12.0)
    assert ok_a.all() and ok_b.all()
    assert np.abs(a - b).max() < 1e-6


def test_intersect_dem_lands_on_the_surface_of_rough_terrain():
    yy, xx = np.mgrid[0:300, 0:300]
    arr = (8 * np.sin(xx / 23.0) + 5 * np.cos(yy / 11.0) + 0.02 * xx).astype(np.float32)
    hf = Heightfield(arr, -150.0, 150.0, 0.5)
    intr = Intrinsics.from_camera(get_camera("mini2"), size=(200, 150))
    pose = CameraPose.from_angles((0, 0, 60.0), Attitude(yaw=45), Gimbal(pitch=-55))
    px = np.stack(np.meshgrid(np.arange(200), np.arange(150)), -1).reshape(-1, 2).astype(float)
    rays = pixel_rays(px, intr, pose)
    pts, ok = intersect_dem(pose.position, rays, hf)
    assert ok.mean() > 0.5
    assert np.abs(pts[ok, 2] - hf.sample(pts[ok, 0], pts[ok, 1])).max() < 1e-5
    # First hit: nothing between the camera and the hit point is below the surface.
    t = np.linspace(0.02, 0.98, 40)
    seg = pose.position + t[None, :, None] * (pts[ok] - pose.position)[:, None, :]
    assert (seg[..., 2] - hf.sample(seg[..., 0], seg[..., 1]) > -1e-6).all()


def test_a_wall_occludes_what_lies_behind_it():
    arr = np.zeros((100, 100), dtype=np.float32)
    arr[:, 60:70] = 20.0  # a 20 m high block from x = 10 to 20 m
    hf = Heightfield(arr, -50.0, 50.0, 1.0)
    ray = np.array([[1.0, 0.0, -0.3]])
    ray /= np.linalg.norm(ray)
    pts, ok = intersect_dem([0.0, 0.0, 12.0], ray, hf)
    # Bilinear cells: the wall's face is the ramp between cell centres x = 9.5 and 10.5.
    assert ok[0] and 9.5 <= pts[0, 0] <= 10.5 and 0 < pts[0, 2] < 20


def test_rays_into_the_sky_never_hit():
    hf = Heightfield(np.zeros((50, 50), dtype=np.float32), -25.0, 25.0, 1.0)
    up = np.array([[0.0, 0.6, 0.8], [1.0, 0.0, 0.0], [0.0, 0.0, -1.0]])
    pts, ok = intersect_dem([0, 0, 10.0], up / np.linalg.norm(up, axis=1, keepdims=True), hf, max_distance=500.0)
    assert ok.tolist() == [False, False, True]
    assert np.isnan(pts[0]).all()


def test_heightfield_rejects_a_rotated_transform():
    from rasterio.transform import Affine

    with pytest.raises(InputError, match="north-up"):
        Heightfield.from_transform(np.zeros((2, 2)), Affine(1, 0.2, 0, 0, -1, 0))


def test_heightfield_reflects_beyond_its_edge():
    hf = Heightfield(np.arange(16, dtype=np.float32).reshape(4, 4), 0.0, 4.0, 1.0, edge="reflect")
    assert hf.sample(-0.5, 3.5) == pytest.approx(hf.sample(1.5, 3.5))
    assert np.isnan(hf.sample(-0.5, 3.5, outside=np.nan))


@settings(max_examples=80, deadline=None)
@given(yaw=st.floats(0, 359.99), pitch=st.floats(-85.0, 85.0), roll=st.floats(-85.0, 85.0),
       convergence=st.floats(-3.0, 3.0))
def test_rotation_from_odm_inverts_odm_angles(yaw, pitch, roll, convergence):
    from sensors.projection import rotation_from_odm

    rot = rotation_from_odm(yaw, pitch, roll, grid_convergence=convergence)
    assert rot @ rot.T == pytest.approx(np.eye(3), abs=1e-12)
    assert np.linalg.det(rot) == pytest.approx(1.0)
    y, p, r = odm_angles(rot)
    assert (y - yaw - convergence + 180) % 360 - 180 == pytest.approx(0, abs=1e-6)
    assert (p, r) == (pytest.approx(pitch, abs=1e-6), pytest.approx(roll, abs=1e-6))
    # and the other way: any rotation survives angles -> matrix
    assert rotation_from_odm(*odm_angles(rot)) == pytest.approx(rot, abs=1e-9)


def test_rotation_from_odm_matches_the_gimbal_model():
    """A nadir photo with the image top to 123 deg, and a 20-deg forward tilt, as the gimbal model builds them."""
    from sensors.projection import rotation_from_odm

    assert rotation_from_odm(123.0, 0.0, 0.0) == pytest.approx(nadir(yaw=123.0).rotation, abs=1e-12)
    tilted = CameraPose.from_angles((0, 0, 0), Attitude(yaw=40.0), Gimbal(pitch=-70.0)).rotation
    assert rotation_from_odm(40.0, 20.0, 0.0) == pytest.approx(tilted, abs=1e-12)
    # grid convergence turns the yaw exactly as camera_rotation does
    grid = CameraPose.from_angles((0, 0, 0), Attitude(yaw=40.0), Gimbal(pitch=-70.0), grid_convergence=-1.5).rotation
    assert rotation_from_odm(40.0, 20.0, 0.0, grid_convergence=-1.5) == pytest.approx(grid, abs=1e-12)
