"""Render: what a camera on the simulated vehicle records, pixel by pixel, from a :class:`World`.

Every pixel's ray (``sensors.projection``) is marched to the world's surface model (DSM, so roofs,
tree crowns and facades occlude what lies behind them) and the world's reflectance is sampled where
it lands; rays that never land see the sky. Nadir and oblique views come out of the same code.

Speed (a 20 MP photo on 2 cores in a few seconds) comes from tracing rays on a coarse grid of
pixels (every 8th) and interpolating the ground coordinates in between, except where the grid
shows a depth discontinuity (a roof edge, a tree, the top of a wall): those cells are traced again
on a 2-pixel grid, and the 2-pixel cells that still jump are traced at every pixel. Texture is
then sampled at every pixel (OpenCV ``remap``), in blocks of rows to bound memory. Objects
smaller than a coarse cell that no grid ray touches can vanish in the far field of an oblique view.

Camera effects that matter for mapping: per-photo exposure variation, vignetting, signal-dependent
sensor noise, motion blur along the image motion (speed x shutter; only when above a third of a
pixel), optional Brown lens distortion, atmospheric haze with distance. Multispectral rigs give
one 16-bit image per band, each through its own lens: a small fixed rotation (``RigRelatives``)
and principal-point offset per band, so bands are a few pixels apart like a real RedEdge, with
MicaSense-style radiometry (black level, vignetting polynomial, ``RadiometricCalibration``).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from sensors.camera import Band, Camera
from sensors.projection import (
    Attitude,
    CameraPose,
    Gimbal,
    Intrinsics,
    grid_convergence_deg,
    intersect_dem,
    pixel_rays,
)
from sitl.world import DISPLAY_GAIN, World, band_key, display_rgb

__all__ = [
    "BandImage",
    "BandRadiometry",
    "Effects",
    "Rendered",
    "VehiclePose",
    "band_radiometry",
    "camera_pose",
    "render",
    "render_bands",
    "render_photo",
    "rig_offset",
]

# Sky radiance as apparent reflectance, in world band order (blue, green, red, red edge, NIR).
_SKY_ZENITH = np.array([0.30, 0.17, 0.09, 0.07, 0.05], dtype=np.float32)
_SKY_HORIZON = np.array([0.42, 0.40, 0.37, 0.30, 0.25], dtype=np.float32)
_BAND_ORDER = ("blue", "green", "red", "rededge", "nir")
# Typical clear-sky solar irradiance at the ground (W m-2 nm-1) per world band.
_IRRADIANCE = {"blue": 1.15, "green": 1.25, "red": 1.15, "rededge": 1.05, "nir": 0.90}


@dataclass(frozen=True, slots=True)
class VehiclePose:
    """Where the vehicle is: world-frame metres (x east, y north, z AMSL), attitude in degrees
    (yaw from *true* north, as autopilots report it) and velocity (m/s, ENU) for motion blur."""

    x: float
    y: float
    z: float
    roll: float = 0.0
    pitch: float = 0.0
    yaw: float = 0.0
    velocity: tuple[float, float, float] = (0.0, 0.0, 0.0)


@dataclass(frozen=True, slots=True)
class Effects:
    """Camera effects; ``Effects.none()`` renders the exact, noise-free geometry.

    ``vignetting`` is the brightness lost in the image corners (0.3 = 30 %), ``exposure_jitter``
    the standard deviation of the per-photo exposure factor, ``noise`` scales the sensor noise
    model (0 = off), ``haze_m`` the distance over which 63 % of the view turns to haze
    (0 = no haze), ``distortion`` Brown (k1, k2, p1, p2, k3), ``seed`` the per-photo random
    stream (noise, exposure); ``None`` draws it from the pose so repeated renders match.
    """

    vignetting: float = 0.3
    exposure_jitter: float = 0.03
    noise: float = 1.0
    motion_blur: bool = True
    haze_m: float = 8000.0
    distortion: tuple[float, float, float, float, float] = (0.0, 0.0, 0.0, 0.0, 0.0)
    seed: int | None = None

    @classmethod
    def none(cls) -> Effects:
        return cls(vignetting=0.0, exposure_jitter=0.0, noise=0.0, motion_blur=False, haze_m=0.0)


@dataclass
class Rendered:
    """A render and its geometry: ``points`` are surface hits relative to ``pose.position``
    (float32, NaN where the ray saw sky), ``valid`` where a ray met the ground."""

    image: np.ndarray
    intrinsics: Intrinsics
    pose: CameraPose
    points: np.ndarray
    valid: np.ndarray
    exposure: float = 1.0
    info: dict = field(default_factory=dict)


def camera_pose(world: World, pose: VehiclePose, gimbal: Gimbal = Gimbal()) -> CameraPose:  # noqa: B008
    """The camera pose in the world's grid frame (true-north yaw turned into grid yaw)."""
    lon, lat = world.xy_to_lonlat(pose.x, pose.y)
    conv = grid_convergence_deg(world.epsg, float(lon), float(lat))
    att = Attitude(roll=pose.roll, pitch=pose.pitch, yaw=pose.yaw)
    return CameraPose.from_angles((pose.x, pose.y, pose.z), att, gimbal, conv)


def _intrinsics(camera: Camera, size, effects: Effects, pp_offset=(0.0, 0.0)) -> Intrinsics:
    k1, k2, p1, p2, k3 = effects.distortion
    base = Intrinsics.from_camera(camera, size, k1=k1, k2=k2, k3=k3, p1=p1, p2=p2)
    if pp_offset == (0.0, 0.0):
        return base
    scale = base.width / camera.image_width_px
    return Intrinsics(base.width, base.height, base.fx, base.fy, base.cx + pp_offset[0] * scale,
                      base.cy + pp_offset[1] * scale, k1, k2, k3, p1, p2)  # fmt: skip


def _seed(effects: Effects, pose: VehiclePose, salt: str = "") -> int:
    if effects.seed is not None:
        return int(effects.seed)
    key = f"{pose.x:.4f},{pose.y:.4f},{pose.z:.4f},{pose.yaw:.4f},{salt}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "little")


# -- tracing --------------------------------------------------------------------------------------
def trace(world: World, intr: Intrinsics, pose: CameraPose, step: int = 8, sub: int = 2):
    """Surface hits of every pixel: (points (h, w, 3) float32 relative to the camera, valid (h, w)).

    Rays are traced on a grid of pixel *corners* every ``step`` pixels (grid point j sits at
    ``u = step * j - (step + 1) / 2``), so that ``cv2.resize`` is exactly the bilinear interpolation
    between them; cells with a discontinuity are refined (module docstring).
    """
    if step % 2 or step % sub:
        raise ValueError(f"step must be even and a multiple of sub, got step={step}, sub={sub}")
    w, h = intr.width, intr.height
    nx, ny = math.ceil((w - 0.5) / step + 1.5), math.ceil((h - 0.5) / step + 1.5)
    us = step * np.arange(nx) - (step + 1) / 2
    vs = step * np.arange(ny) - (step + 1) / 2
    uu, vv = np.meshgrid(us, vs)
    g, gv = _trace_pixels(world, intr, pose, uu.ravel(), vv.ravel())
    g, gv = g.reshape(ny, nx, 3), gv.reshape(ny, nx)
    big = cv2.resize(np.nan_to_num(g, nan=0.0), (nx * step, ny * step), interpolation=cv2.INTER_LINEAR)
    points = np.ascontiguousarray(big[step : step + h, step : step + w])
    del big
    vbig = cv2.resize(gv.astype(np.uint8), (nx * step, ny * step), interpolation=cv2.INTER_NEAREST)
    valid = vbig[step : step + h, step : step + w].astype(bool)

    # Level 1: cells with a discontinuity get a ``sub``-pixel grid, interpolated inside.
    ci, cj = np.nonzero(_kinks(g, gv))
    if ci.size:
        offs = np.arange(0, step + 1, sub)
        su = us[cj][:, None, None] + offs[None, None, :]
        sv = vs[ci][:, None, None] + offs[None, :, None]
        su, sv = np.broadcast_arrays(su, sv)
        sg, sgv = _trace_pixels(world, intr, pose, su.ravel(), sv.ravel())
        m = len(offs)
        sg, sgv = sg.reshape(-1, m, m, 3), sgv.reshape(-1, m, m)
        _write_cells(points, valid, sg, sgv, us[cj], vs[ci], step, sub, w, h)
        # Level 2: sub-cells that still jump are traced at every pixel.
        k, si, sj = np.nonzero(_flags(sg, sgv))
        if k.size:
            pu = (us[cj][k] + sj * sub + 0.5)[:, None, None] + np.arange(sub)[None, None, :]
            pv = (vs[ci][k] + si * sub + 0.5)[:, None, None] + np.arange(sub)[None, :, None]
            pu, pv = (a.astype(np.int64) for a in np.broadcast_arrays(pu, pv))
            inside = (pu >= 0) & (pv >= 0) & (pu < w) & (pv < h)
            pu, pv = pu[inside], pv[inside]
            pg, pgv = _trace_pixels(world, intr, pose, pu, pv)
            points[pv, pu] = pg
            valid[pv, pu] = pgv
    return points, valid


def _trace_pixels(world, intr, pose, u, v) -> tuple[np.ndarray, np.ndarray]:
    rays = pixel_rays(np.column_stack([u, v]).astype(float), intr, pose)
    pts, ok = intersect_dem(pose.position, rays, world.dsm, tolerance=1e-3, max_distance=10000.0,
                            cone=1.0 / min(intr.fx, intr.fy))  # fmt: skip
    rel = (pts - pose.position).astype(np.float32)
    return rel, ok


def _kinks(g: np.ndarray, gv: np.ndarray, threshold: float = 0.2) -> np.ndarray:
    """Cells of the coarse grid to refine: mixed validity, or an edge between two corners.

    A step (a roof edge, a wall, the rim of a crown) makes the second difference of the hit height
    large at *both* grid points beside it, while smooth surfaces (slopes, crown domes, a ridge)
    keep it to millimetres; so a cell is refined when both ends of one of its sides kink.
    """
    z = np.pad(np.where(gv, g[..., 2], np.nan), 1, mode="edge")
    with np.errstate(invalid="ignore"):
        kx = np.abs(z[1:-1, :-2] - 2 * z[1:-1, 1:-1] + z[1:-1, 2:]) > threshold
        ky = np.abs(z[:-2, 1:-1] - 2 * z[1:-1, 1:-1] + z[2:, 1:-1]) > threshold
    k = kx | ky
    v4 = np.stack([gv[:-1, :-1], gv[:-1, 1:], gv[1:, :-1], gv[1:, 1:]])
    mixed = v4.any(axis=0) & ~v4.all(axis=0)
    edge = (k[:-1, :-1] & k[:-1, 1:]) | (k[1:, :-1] & k[1:, 1:]) | (k[:-1, :-1] & k[1:, :-1]) | (k[:-1, 1:] & k[1:, 1:])
    return mixed | edge


def _flags(g: np.ndarray, gv: np.ndarray) -> np.ndarray:
    """Cells (between four grid points) whose corners disagree in validity or jump in height."""
    v4 = np.stack([gv[..., :-1, :-1], gv[..., :-1, 1:], gv[..., 1:, :-1], gv[..., 1:, 1:]])
    mixed = v4.any(axis=0) & ~v4.all(axis=0)
    z4 = np.stack([g[..., :-1, :-1, 2], g[..., :-1, 1:, 2], g[..., 1:, :-1, 2], g[..., 1:, 1:, 2]])
    z4 = np.where(v4, z4, 0.0)
    zr = z4.max(axis=0) - z4.min(axis=0)
    span = np.hypot(g[..., 1:, 1:, 0] - g[..., :-1, :-1, 0], g[..., 1:, 1:, 1] - g[..., :-1, :-1, 1])
    jump = zr > 0.3 + 0.1 * np.nan_to_num(span)
    return mixed | (jump & v4.all(axis=0))


def _write_cells(points, valid, sg, sgv, u0, v0, step, sub, w, h) -> None:
    """Interpolate each refined cell's (m, m) sub-grid onto its step x step pixels and store them."""
    k = len(u0)
    p = np.arange(step) + 0.5  # pixel centres measured from the cell's corner
    j0 = np.minimum((p // sub).astype(np.int64), sg.shape[2] - 2)
    f = ((p - j0 * sub) / sub).astype(np.float32)
    g = np.nan_to_num(sg, nan=0.0)
    a = g[:, :, j0] * (1 - f)[None, None, :, None] + g[:, :, j0 + 1] * f[None, None, :, None]
    cell = a[:, j0] * (1 - f)[None, :, None, None] + a[:, j0 + 1] * f[None, :, None, None]
    # A pixel is valid when the sub-grid corners around it are (mixed sub-cells are traced again).
    vb = sgv[:, :, j0] & sgv[:, :, j0 + 1]
    cv = vb[:, j0] & vb[:, j0 + 1]
    pu = np.broadcast_to((u0[:, None, None] + p[None, None, :]).astype(np.int64), (k, step, step))
    pv = np.broadcast_to((v0[:, None, None] + p[None, :, None]).astype(np.int64), (k, step, step))
    inside = (pu >= 0) & (pv >= 0) & (pu < w) & (pv < h)
    points[pv[inside], pu[inside]] = cell[inside]
    valid[pv[inside], pu[inside]] = cv[inside]


# -- shading --------------------------------------------------------------------------------------
def _sky(rays_z: np.ndarray, chan: list[int]) -> np.ndarray:
    t = np.clip(rays_z, 0.0, 1.0)[:, None] ** 0.5
    return (_SKY_HORIZON[chan][None, :] * (1 - t) + _SKY_ZENITH[chan][None, :] * t).astype(np.float32)


def _shade_block(world, intr, pose, points, valid, r0, bands, haze_m) -> np.ndarray:
    """Reflectance (bh, w, nb) of a block of rows, with sky and haze."""
    chan = [_BAND_ORDER.index(b) for b in bands]
    if not valid.all():
        # Sky pixels hold NaN: OpenCV folds such coordinates back into the texture one period at
        # a time (a million turns per pixel), so give them a harmless value; the sky replaces them.
        points = np.where(valid[..., None], points, 0.0).astype(np.float32)
    cx, cy, cz = pose.position
    col = ((cx - world.tex_x0) + points[..., 0]) / world.tex_res - 0.5
    row = ((world.tex_y0 - cy) - points[..., 1]) / world.tex_res - 0.5
    z = (cz + points[..., 2]).astype(np.float32)
    rho = world.shade(col.astype(np.float32), row.astype(np.float32), bands, z, footprint=_footprint(points, valid))
    if haze_m > 0:
        dist = np.sqrt(np.einsum("...i,...i->...", points, points))
        keep = np.exp(-dist / haze_m)[..., None]
        rho = rho * keep + _SKY_HORIZON[chan] * (1 - keep)
    if not valid.all():
        rr, cc = np.nonzero(~valid)
        rays = pixel_rays(np.column_stack([cc, rr + r0]).astype(float), intr, pose)
        rho[rr, cc] = _sky(rays[:, 2], chan)
    return rho


def _footprint(points: np.ndarray, valid: np.ndarray) -> float:
    """Typical ground size of a pixel in a block of rows: median spacing of neighbouring hits."""
    p = points[::16, ::16]
    ok = valid[::16, ::16]
    if p.shape[1] < 2 or not ok.any():
        return 0.0
    d = np.linalg.norm(p[:, 1:] - p[:, :-1], axis=-1) / 16.0
    both = ok[:, 1:] & ok[:, :-1]
    return float(np.median(d[both])) if both.any() else 0.0


def _vignette(w: int, h: int, r0: int, r1: int, strength: float, centre=None) -> np.ndarray:
    cx, cy = centre or ((w - 1) / 2, (h - 1) / 2)
    rmax2 = cx * cx + cy * cy
    x2 = ((np.arange(w, dtype=np.float32) - cx) ** 2)[None, :]
    y2 = ((np.arange(r0, r1, dtype=np.float32) - cy) ** 2)[:, None]
    r2 = (x2 + y2) / rmax2
    return 1.0 - strength * r2 * (0.8 + 0.2 * r2)


def _image_motion(intr: Intrinsics, pose: CameraPose, velocity, shutter_s: float, depth: float):
    """Image displacement (du, dv) in pixels of the ground during the exposure."""
    v_cam = pose.rotation.T @ np.asarray(velocity, dtype=float)
    return -intr.fx * v_cam[0] * shutter_s / depth, -intr.fy * v_cam[1] * shutter_s / depth


def _motion_kernel(du: float, dv: float) -> np.ndarray | None:
    length = math.hypot(du, dv)
    if length < 1 / 3:
        return None
    size = 2 * math.ceil(length / 2) + 1
    k = np.zeros((size, size), dtype=np.float32)
    c = size // 2
    ts = np.linspace(-0.5, 0.5, max(3, 4 * size))
    xs, ys = c + ts * du, c + ts * dv
    for x, y in zip(xs, ys, strict=True):  # a few dozen samples along the streak, not pixels
        x0, y0 = math.floor(x), math.floor(y)
        fx, fy = x - x0, y - y0
        for dx, dy, wgt in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)), (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
            if 0 <= y0 + dy < size and 0 <= x0 + dx < size:
                k[y0 + dy, x0 + dx] += wgt
    return k / k.sum()


def render(
    world: World,
    camera: Camera,
    pose: VehiclePose,
    gimbal: Gimbal = Gimbal(),  # noqa: B008 - frozen value
    size: tuple[int, int] | None = None,
    *,
    effects: Effects = Effects(),
    block_rows: int = 256,
) -> Rendered:
    """Render an RGB photo (uint8, (h, w, 3), sRGB) with its geometry; see :func:`render_photo`."""
    intr = _intrinsics(camera, size, effects)
    cam_pose = camera_pose(world, pose, gimbal)
    points, valid = trace(world, intr, cam_pose)
    rng = np.random.default_rng(_seed(effects, pose))
    exposure = float(1.0 + effects.exposure_jitter * rng.standard_normal()) if effects.exposure_jitter else 1.0
    w, h = intr.width, intr.height
    image = np.empty((h, w, 3), dtype=np.uint8)
    bands = ("red", "green", "blue")
    for r0 in range(0, h, block_rows):
        r1 = min(h, r0 + block_rows)
        lin = _shade_block(world, intr, cam_pose, points[r0:r1], valid[r0:r1], r0, bands, effects.haze_m)
        lin *= DISPLAY_GAIN * exposure
        if effects.vignetting:
            lin *= _vignette(w, h, r0, r1, effects.vignetting)[..., None]
        if effects.noise:
            # Shot noise grows with the signal, read noise does not; one luminance field per pixel.
            sigma = effects.noise * np.sqrt(4e-6 + 4e-4 * lin.mean(axis=-1))
            lin += (sigma * rng.standard_normal(sigma.shape, dtype=np.float32))[..., None]
        image[r0:r1] = display_rgb(lin)
    info = {}
    if effects.motion_blur:
        centre = points[h // 2, w // 2]
        depth = float(np.dot(cam_pose.rotation[:, 2], centre)) if valid[h // 2, w // 2] else 0.0
        if depth > 0:
            du, dv = _image_motion(intr, cam_pose, pose.velocity, camera.shutter_s, depth)
            info["blur_px"] = (du, dv)
            kernel = _motion_kernel(du, dv)
            if kernel is not None:
                image = cv2.filter2D(image, -1, kernel, borderType=cv2.BORDER_REFLECT)
    return Rendered(image, intr, cam_pose, points, valid, exposure, info)


def render_photo(
    world: World,
    camera: Camera,
    pose: VehiclePose,
    gimbal: Gimbal = Gimbal(),  # noqa: B008 - frozen value
    size: tuple[int, int] | None = None,
    *,
    effects: Effects = Effects(),
) -> np.ndarray:
    """The photo ``camera`` takes from ``pose`` with ``gimbal``: sRGB uint8 (h, w, 3).

    ``size`` (width, height) defaults to the camera's full resolution; a smaller size keeps the
    field of view (the intrinsics scale with it), so the EXIF focal length stays valid.
    """
    return render(world, camera, pose, gimbal, size, effects=effects).image


# -- multispectral --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class BandRadiometry:
    """What a MicaSense-style band image needs to turn its DN back into reflectance.

    ``radiance = (DN - black_level) / poly(r) * a1 / (gain * exposure_s * 2**16)``, with
    ``poly(r) = 1 + sum(vignetting_poly[k] * r**(k+1))`` and r the distance in pixels from
    ``vignetting_center``; ``reflectance = pi * radiance / irradiance``.
    """

    band: Band
    rig_index: int
    black_level: int
    radiometric_calibration: tuple[float, float, float]
    exposure_s: float
    gain: float
    irradiance: float
    vignetting_center: tuple[float, float]
    vignetting_poly: tuple[float, ...]
    rig_relatives: tuple[float, float, float]
    rig_translation: tuple[float, float, float]
    principal_point_px: tuple[float, float]
    focal_px: float
    bits: int = 16


@dataclass
class BandImage:
    """One band of a capture: 16-bit DN image, the radiometry to write into its metadata, and the
    band lens's true geometry (``pose``, ``intrinsics``; ``points``/``valid`` as in :class:`Rendered`)."""

    image: np.ndarray
    radiometry: BandRadiometry
    intrinsics: Intrinsics
    pose: CameraPose
    points: np.ndarray
    valid: np.ndarray


def _hash_unit(*parts: str) -> np.ndarray:
    d = hashlib.sha256("/".join(parts).encode()).digest()
    return np.frombuffer(d, dtype=np.uint32)[:6] / 2**32 * 2 - 1  # six numbers in [-1, 1)


def rig_offset(camera: Camera, band_index: int) -> tuple[tuple[float, float, float], tuple[float, float]]:
    """Fixed (RigRelatives degrees (x, y, z), principal-point offset px) of a band's lens.

    The first band is the rig reference (no offset); the others are tilted by up to ~0.2 deg and
    shifted by up to 2.5 px, the same in every capture (a real rig's factory calibration), so
    bands are a few pixels apart and a homography per band aligns them.
    """
    if band_index == 0:
        return (0.0, 0.0, 0.0), (0.0, 0.0)
    r = _hash_unit(camera.id, camera.bands[band_index].name)
    return (float(r[0] * 0.2), float(r[1] * 0.2), float(r[2] * 0.3)), (float(r[3] * 2.5), float(r[4] * 2.5))


def _rig_rotation(rel_deg) -> np.ndarray:
    """MicaSense rig rotation R = Rx . Ry . Rz (micasense imageprocessing ``image.py``): ref <- band."""
    a, b, c = (math.radians(v) for v in rel_deg)
    rx = np.array([[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]])
    ry = np.array([[math.cos(b), 0, math.sin(b)], [0, 1, 0], [-math.sin(b), 0, math.cos(b)]])
    rz = np.array([[math.cos(c), -math.sin(c), 0], [math.sin(c), math.cos(c), 0], [0, 0, 1]])
    return rx @ ry @ rz


def band_radiometry(camera: Camera, band_index: int, exposure_s: float, size=None) -> BandRadiometry:
    """The radiometric and geometric metadata of one band of a capture."""
    band = camera.bands[band_index]
    key = band_key(band)
    rel, pp_off = rig_offset(camera, band_index)
    intr = _intrinsics(camera, size, Effects(), pp_off)
    w, h = intr.width, intr.height
    rmax = math.hypot(w / 2, h / 2)
    irradiance = _IRRADIANCE[key]
    black = 4800
    # a1 chosen so reflectance 0.7 fills ~45 000 DN above black at gain 1 and 1 ms.
    a1 = irradiance / math.pi * 1.0 * 0.001 * 2**16 * 0.7 / 45000.0
    lens = int(band_index)
    translation = (0.02 * (lens % 3 - 1), 0.02 * (lens // 3), 0.0)
    return BandRadiometry(
        band=band, rig_index=band_index, black_level=black, radiometric_calibration=(a1, 0.0, 0.0),
        exposure_s=exposure_s, gain=1.0, irradiance=irradiance, vignetting_center=(w / 2, h / 2),
        vignetting_poly=(0.0, -0.3 / rmax**2, 0.0, 0.0, 0.0, 0.0), rig_relatives=rel,
        rig_translation=translation, principal_point_px=(intr.cx, intr.cy), focal_px=intr.fx,
    )  # fmt: skip


def render_bands(
    world: World,
    camera: Camera,
    pose: VehiclePose,
    gimbal: Gimbal = Gimbal(),  # noqa: B008 - frozen value
    size: tuple[int, int] | None = None,
    *,
    effects: Effects = Effects(),
) -> list[BandImage]:
    """One 16-bit DN image per band of a multispectral ``camera``, each through its own lens."""
    if not camera.bands:
        raise ValueError(f"camera {camera.id!r} has no bands; use render_photo")
    base = camera_pose(world, pose, gimbal)
    rng = np.random.default_rng(_seed(effects, pose, "bands"))
    out = []
    for i, band in enumerate(camera.bands):
        rel, pp_off = rig_offset(camera, i)
        jitter = float(1.0 + effects.exposure_jitter * rng.standard_normal()) if effects.exposure_jitter else 1.0
        rad = band_radiometry(camera, i, camera.shutter_s * jitter, size)
        intr = _intrinsics(camera, size, effects, pp_off)
        bpose = base.offset(_rig_rotation(rel), rad.rig_translation)
        points, valid = trace(world, intr, bpose)
        key = band_key(band)
        w, h = intr.width, intr.height
        dn = np.empty((h, w), dtype=np.uint16)
        scale = rad.irradiance / math.pi * rad.gain * rad.exposure_s * 2**16 / rad.radiometric_calibration[0]
        for r0 in range(0, h, 256):
            r1 = min(h, r0 + 256)
            rho = _shade_block(world, intr, bpose, points[r0:r1], valid[r0:r1], r0, (key,), effects.haze_m)[..., 0]
            signal = rho * scale
            if effects.vignetting:
                x2 = ((np.arange(w) - rad.vignetting_center[0]) ** 2)[None, :]
                y2 = ((np.arange(r0, r1) - rad.vignetting_center[1]) ** 2)[:, None]
                r = np.sqrt(x2 + y2)
                signal *= 1.0 + sum(c * r ** (k + 1) for k, c in enumerate(rad.vignetting_poly))
            if effects.noise:
                sigma = effects.noise * np.sqrt(20.0**2 + 1.5 * np.maximum(signal, 0))
                signal += sigma * rng.standard_normal(signal.shape, dtype=np.float32)
            dn[r0:r1] = np.clip(np.round(signal + rad.black_level), 0, 65535).astype(np.uint16)
        out.append(BandImage(dn, rad, intr, bpose, points, valid))
    return out
