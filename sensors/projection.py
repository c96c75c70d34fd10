"""Projection: the pinhole geometry that links image pixels, rays and points on the ground.

Every function takes and returns numpy arrays (``(N, 2)`` pixels, ``(N, 3)`` points or rays) and
loops over nothing per pixel, so a whole image (or a coarse grid of it) goes through in one call.

Frames and conventions, stated once:

* **World**: a local metric frame, x east, y north, z up (ENU), e.g. a UTM grid plus heights above
  mean sea level. Angles given relative to *true* north are turned into grid angles by adding
  :func:`grid_convergence_deg` (up to a few degrees away from a UTM central meridian). The UTM
  scale factor (< 0.1 %) is ignored.
* **Vehicle attitude** (:class:`Attitude`): aerospace Euler angles in degrees, applied in the
  order yaw, pitch, roll (intrinsic Z-Y-X) to the NED frame: yaw clockwise from north, pitch
  positive nose up, roll positive right wing down. Body axes: x forward, y right, z down.
* **Gimbal** (:class:`Gimbal`), DJI convention: the same Z-Y-X Euler angles, with zero meaning
  "camera looking forward, level"; ``pitch = -90`` is nadir, with the image top pointing along
  the gimbal yaw. A stabilised gimbal (the default: every DJI drone, the gimbals MAVLink's mount
  protocol drives) holds pitch and roll in the earth frame whatever the vehicle does; its yaw is
  either *relative* to the vehicle heading (``yaw_relative=True``, MAVLink "follow" mode, the
  default) or absolute (DJI's XMP ``GimbalYawDegree``). A fixed mount (``stabilised=False``)
  adds the gimbal angles on top of the full vehicle attitude (a hard-mounted multispectral rig).
* **Camera**: the OpenCV frame, x to the image right, y to the image bottom, z along the optical
  axis. :class:`CameraPose` holds the camera centre and the rotation *world <- camera*.
* **Pixels**: ``(u, v) = (column, row)``; pixel centres sit at integer coordinates, so the image
  spans ``u in [-0.5, width - 0.5]``; the principal point defaults to the image centre
  ``((width - 1) / 2, (height - 1) / 2)``.
* **ODM / Pix4D angles** (``Camera:Yaw/Pitch/Roll``): yaw is where the image top points when the
  camera looks down, pitch 0 is nadir and 90 is looking at the horizon, roll tilts the nadir view
  sideways; :func:`odm_angles` converts any rotation to them (ODM ``opendm/photo.py``
  ``compute_opk`` uses the same matrix).

Example: a nadir camera 100 m over flat ground sees the footprint of the survey maths.

>>> from sensors.catalog import get_camera
>>> cam = get_camera("qgc-default")
>>> intr = Intrinsics.from_camera(cam)
>>> pose = CameraPose.from_angles((0.0, 0.0, 100.0), Attitude(), Gimbal(pitch=-90.0))
>>> pts, ok = intersect_plane(pose.position, pixel_rays(image_corners(intr), intr, pose), 0.0)
>>> round(float(pts[:, 0].max() - pts[:, 0].min()), 1)  # across track: 100 m * 6.17 / 4.5
137.1
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

import numpy as np

from skyscan.errors import InputError

__all__ = [
    "Attitude",
    "CameraPose",
    "Gimbal",
    "Heightfield",
    "Intrinsics",
    "camera_rotation",
    "dji_gimbal_angles",
    "grid_convergence_deg",
    "image_corners",
    "intersect_dem",
    "intersect_plane",
    "odm_angles",
    "pixel_rays",
    "project_points",
    "rotation_from_odm",
    "rotation_ned",
]

# NED (x north, y east, z down) -> ENU (x east, y north, z up).
_ENU_FROM_NED = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, -1.0]])
# OpenCV camera axes expressed in the gimbal frame at zero angles (camera looking forward):
# image right = gimbal y (right), image down = gimbal z (down), optical axis = gimbal x (forward).
_GIMBAL_FROM_CV = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
# OpenCV camera axes in ODM's "nadir body" frame (image right = east, image down = south,
# optical axis = down when all ODM angles are zero): cbb . diag(1, -1, -1) in opendm/photo.py.
_ODM_FROM_CV = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])


# -- rotations ------------------------------------------------------------------------------------
def rotation_ned(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Rotation matrix of Z-Y-X Euler angles in degrees (yaw, then pitch, then roll), NED axes."""
    y, p, r = (math.radians(a) for a in (yaw, pitch, roll))
    cy, sy, cp, sp, cr, sr = math.cos(y), math.sin(y), math.cos(p), math.sin(p), math.cos(r), math.sin(r)
    rz = np.array([[cy, -sy, 0.0], [sy, cy, 0.0], [0.0, 0.0, 1.0]])
    ry = np.array([[cp, 0.0, sp], [0.0, 1.0, 0.0], [-sp, 0.0, cp]])
    rx = np.array([[1.0, 0.0, 0.0], [0.0, cr, -sr], [0.0, sr, cr]])
    return rz @ ry @ rx


def _euler_zyx(m: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees of a Z-Y-X rotation; roll is 0 at gimbal lock (pitch +-90)."""
    sp = float(np.clip(-m[2, 0], -1.0, 1.0))
    pitch = math.degrees(math.asin(sp))
    if abs(sp) > 1 - 1e-12:  # gimbal lock: yaw and roll share one axis; give it all to yaw
        yaw = math.degrees(math.atan2(-m[0, 1], m[1, 1]))
        roll = 0.0
    else:
        yaw = math.degrees(math.atan2(m[1, 0], m[0, 0]))
        roll = math.degrees(math.atan2(m[2, 1], m[2, 2]))
    return yaw % 360.0, pitch, roll


@dataclass(frozen=True, slots=True)
class Attitude:
    """Vehicle attitude in degrees (NED, Z-Y-X): yaw clockwise from north, pitch nose up, roll right."""

    roll: float = 0.0
    pitch: float = 0.0
    yaw: float = 0.0


@dataclass(frozen=True, slots=True)
class Gimbal:
    """Gimbal angles in degrees, DJI convention (pitch -90 = nadir); see the module docstring."""

    pitch: float = -90.0
    roll: float = 0.0
    yaw: float = 0.0
    yaw_relative: bool = True
    stabilised: bool = True


def camera_rotation(attitude: Attitude, gimbal: Gimbal, grid_convergence: float = 0.0) -> np.ndarray:
    """Rotation *world (ENU) <- camera (OpenCV)* for a vehicle attitude and gimbal angles.

    ``grid_convergence`` (degrees, :func:`grid_convergence_deg`) is added to every yaw so that
    true-north angles land in a grid frame such as UTM.
    """
    yaw_v = attitude.yaw + grid_convergence
    if gimbal.stabilised:
        yaw = gimbal.yaw + (attitude.yaw if gimbal.yaw_relative else 0.0) + grid_convergence
        r_ned_gimbal = rotation_ned(yaw, gimbal.pitch, gimbal.roll)
    else:
        mount = rotation_ned(gimbal.yaw, gimbal.pitch, gimbal.roll)
        r_ned_gimbal = rotation_ned(yaw_v, attitude.pitch, attitude.roll) @ mount
    return _ENU_FROM_NED @ r_ned_gimbal @ _GIMBAL_FROM_CV


def odm_angles(rotation: np.ndarray) -> tuple[float, float, float]:
    """ODM / Pix4D ``Camera:`` (yaw, pitch, roll) in degrees of a *world <- camera* rotation.

    Pitch 0 = nadir, yaw = heading of the image top; the inverse of ODM's ``compute_opk`` matrix.
    """
    r_ned_cv = _ENU_FROM_NED @ rotation
    return _euler_zyx(r_ned_cv @ _ODM_FROM_CV.T)


def rotation_from_odm(yaw: float, pitch: float, roll: float, grid_convergence: float = 0.0) -> np.ndarray:
    """Rotation *world (ENU) <- camera (OpenCV)* of ODM / Pix4D ``Camera:`` angles in degrees.

    The exact inverse of :func:`odm_angles` (pitch 0 = nadir, yaw = true heading of the image
    top); ``grid_convergence`` (:func:`grid_convergence_deg`) is added to the yaw, as in
    :func:`camera_rotation`, so the rotation lands in a grid frame such as UTM.
    """
    return _ENU_FROM_NED @ rotation_ned(yaw + grid_convergence, pitch, roll) @ _ODM_FROM_CV


def dji_gimbal_angles(rotation: np.ndarray) -> tuple[float, float, float]:
    """Absolute DJI gimbal (yaw, pitch, roll) in degrees (``drone-dji:Gimbal*Degree``) of a rotation.

    Yaw is returned in (-180, 180] as DJI writes it.
    """
    yaw, pitch, roll = _euler_zyx(_ENU_FROM_NED @ rotation @ _GIMBAL_FROM_CV.T)
    return (yaw if yaw <= 180.0 else yaw - 360.0), pitch, roll


@cache
def _geodetic_transformer(epsg: int):
    from pyproj import Transformer

    return Transformer.from_crs("EPSG:4326", f"EPSG:{epsg}", always_xy=True)


def grid_convergence_deg(epsg: int, lon: float, lat: float) -> float:
    """Clockwise angle from grid north to true north at (lon, lat) in the projected CRS ``epsg``.

    A true azimuth (a compass heading) becomes a grid azimuth by *adding* this value. Computed
    numerically (the grid direction of a short step north), so no sign convention is assumed.
    """
    tr = _geodetic_transformer(int(epsg))
    x0, y0 = tr.transform(lon, lat)
    x1, y1 = tr.transform(lon, lat + 1e-4)
    return math.degrees(math.atan2(x1 - x0, y1 - y0))


# -- intrinsics -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Intrinsics:
    """Pinhole intrinsics in pixels of one image size, with optional Brown-Conrady distortion.

    ``k1, k2, k3`` radial and ``p1, p2`` tangential coefficients act on normalised coordinates,
    as in OpenCV (``cv2.projectPoints``); all zero (the default) is a perfect pinhole.
    """

    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float
    k1: float = 0.0
    k2: float = 0.0
    k3: float = 0.0
    p1: float = 0.0
    p2: float = 0.0

    @classmethod
    def from_camera(cls, camera, size: tuple[int, int] | None = None, **distortion: float) -> Intrinsics:
        """Intrinsics of a :class:`sensors.camera.Camera` at its native size or at ``size`` (w, h).

        fx = focal length / pixel pitch along the width, fy along the height; a smaller ``size``
        scales each axis by its own ratio (a resized photo keeps its field of view).
        """
        w, h = size or (camera.image_width_px, camera.image_height_px)
        if w <= 0 or h <= 0:
            raise InputError(f"image size must be positive, got {w} x {h}")
        fx = camera.focal_length_mm / camera.pixel_pitch_x_mm * w / camera.image_width_px
        fy = camera.focal_length_mm / camera.pixel_pitch_y_mm * h / camera.image_height_px
        return cls(int(w), int(h), fx, fy, (w - 1) / 2.0, (h - 1) / 2.0, **distortion)

    @property
    def matrix(self) -> np.ndarray:
        """The 3x3 camera matrix K."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    @property
    def has_distortion(self) -> bool:
        return any((self.k1, self.k2, self.k3, self.p1, self.p2))

    def distort(self, xn: np.ndarray) -> np.ndarray:
        """Apply the lens model to (N, 2) normalised undistorted coordinates."""
        if not self.has_distortion:
            return xn
        x, y = xn[:, 0], xn[:, 1]
        r2 = x * x + y * y
        radial = 1 + r2 * (self.k1 + r2 * (self.k2 + r2 * self.k3))
        xd = x * radial + 2 * self.p1 * x * y + self.p2 * (r2 + 2 * x * x)
        yd = y * radial + self.p1 * (r2 + 2 * y * y) + 2 * self.p2 * x * y
        return np.column_stack([xd, yd])

    def undistort(self, xd: np.ndarray, iterations: int = 20) -> np.ndarray:
        """Invert :meth:`distort` by fixed-point iteration (OpenCV's method; exact to ~1e-12 for
        the mild distortion of mapping lenses)."""
        if not self.has_distortion:
            return xd
        x, y = xd[:, 0].copy(), xd[:, 1].copy()
        for _ in range(iterations):
            r2 = x * x + y * y
            radial = 1 + r2 * (self.k1 + r2 * (self.k2 + r2 * self.k3))
            dx = 2 * self.p1 * x * y + self.p2 * (r2 + 2 * x * x)
            dy = self.p1 * (r2 + 2 * y * y) + 2 * self.p2 * x * y
            x = (xd[:, 0] - dx) / radial
            y = (xd[:, 1] - dy) / radial
        return np.column_stack([x, y])


def image_corners(intr: Intrinsics) -> np.ndarray:
    """The four outer pixel corners (top-left, top-right, bottom-right, bottom-left), (4, 2)."""
    u0, v0, u1, v1 = -0.5, -0.5, intr.width - 0.5, intr.height - 0.5
    return np.array([[u0, v0], [u1, v0], [u1, v1], [u0, v1]])


# -- pose -----------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class CameraPose:
    """Camera centre (world metres) and rotation *world <- camera*."""

    position: np.ndarray
    rotation: np.ndarray

    @classmethod
    def from_angles(
        cls,
        position,
        attitude: Attitude = Attitude(),
        gimbal: Gimbal = Gimbal(),
        grid_convergence: float = 0.0,
    ) -> CameraPose:
        """The pose of a camera on a vehicle at ``position`` with ``attitude`` and ``gimbal``."""
        pos = np.asarray(position, dtype=float).reshape(3)
        return cls(pos, camera_rotation(attitude, gimbal, grid_convergence))

    def offset(self, rotation: np.ndarray | None = None, translation=None) -> CameraPose:
        """This pose moved by a rig offset: ``rotation`` is *this camera <- other camera* and
        ``translation`` the other camera's centre in this camera's frame (metres)."""
        rot = self.rotation if rotation is None else self.rotation @ rotation
        pos = self.position if translation is None else self.position + self.rotation @ np.asarray(translation)
        return CameraPose(pos, rot)


# -- pixels <-> rays ------------------------------------------------------------------------------
def pixel_rays(pixels, intr: Intrinsics, pose: CameraPose) -> np.ndarray:
    """Unit rays in the world frame through (N, 2) pixel coordinates (lens distortion removed)."""
    px = np.asarray(pixels, dtype=float).reshape(-1, 2)
    xd = np.column_stack([(px[:, 0] - intr.cx) / intr.fx, (px[:, 1] - intr.cy) / intr.fy])
    xn = intr.undistort(xd)
    d = np.column_stack([xn, np.ones(len(xn))]) @ pose.rotation.T
    return d / np.linalg.norm(d, axis=1, keepdims=True)


def project_points(points, intr: Intrinsics, pose: CameraPose) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates of (N, 3) world points and whether each is in front of the camera.

    Points behind the camera (or on its plane) get ``visible = False`` and NaN pixels; points in
    front but outside the image keep their (out-of-range) coordinates so callers can test bounds.
    """
    pts = np.asarray(points, dtype=float).reshape(-1, 3)
    d = (pts - pose.position) @ pose.rotation  # = R^T (X - C) row by row
    visible = d[:, 2] > 1e-9
    with np.errstate(divide="ignore", invalid="ignore"):
        xn = d[:, :2] / np.where(visible, d[:, 2], np.nan)[:, None]
    xd = intr.distort(xn)
    uv = np.column_stack([xd[:, 0] * intr.fx + intr.cx, xd[:, 1] * intr.fy + intr.cy])
    return uv, visible


# -- rays -> ground -------------------------------------------------------------------------------
def intersect_plane(origin, rays, z: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Points where rays from ``origin`` ((3,) or (N, 3)) meet the horizontal plane at height ``z``.

    ``valid`` is False for rays parallel to the plane or pointing away from it; their points are NaN.
    """
    d = np.asarray(rays, dtype=float).reshape(-1, 3)
    o = np.broadcast_to(np.asarray(origin, dtype=float), d.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (z - o[:, 2]) / d[:, 2]
    valid = np.isfinite(t) & (t > 0)
    pts = o + np.where(valid, t, np.nan)[:, None] * d
    return pts, valid


@dataclass(eq=False)
class Heightfield:
    """A north-up height raster (DEM or DSM) with vectorised bilinear sampling.

    ``x0, y0`` is the outer top-left corner, ``res`` the square cell size (metres); cell centres
    carry the values. Outside the raster the heights continue (``edge="reflect"``: mirrored,
    matching a texture sampled with OpenCV's ``BORDER_REFLECT_101``; ``"clamp"``: edge values
    extended), so a ray leaving the raster still meets a ground; ``sample(..., outside=nan)``
    gives NaN there instead.
    """

    array: np.ndarray
    x0: float
    y0: float
    res: float
    edge: str = "clamp"
    _maxmap: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_transform(cls, array: np.ndarray, transform) -> Heightfield:
        """From an array and its affine transform (rasterio/affine ``Affine``, north-up, square cells)."""
        a, b, c, d, e, f = (transform.a, transform.b, transform.c, transform.d, transform.e, transform.f)
        if b or d or e >= 0 or not math.isclose(a, -e, rel_tol=1e-9):
            raise InputError(f"height raster must be north-up with square cells, got transform {tuple(transform)[:6]}")
        return cls(array, c, f, a)

    @property
    def shape(self) -> tuple[int, int]:
        return self.array.shape[:2]

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(xmin, ymin, xmax, ymax) of the raster's outer edges."""
        h, w = self.shape
        return self.x0, self.y0 - h * self.res, self.x0 + w * self.res, self.y0

    def sample(self, x, y, outside: float | None = None) -> np.ndarray:
        """Bilinear heights at world (x, y) (arrays of any shape); ``outside`` replaces off-raster values."""
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        h, w = self.shape
        col = (x - self.x0) / self.res - 0.5
        row = (self.y0 - y) / self.res - 0.5
        out = _bilinear(self.array, *self._inside(col, row))
        if outside is not None:
            off = (col < -0.5) | (row < -0.5) | (col > w - 0.5) | (row > h - 0.5)
            out = np.where(off, outside, out)
        return out

    def _inside(self, col, row):
        """Fold coordinates outside the raster back in (mirror) when ``edge="reflect"``."""
        if self.edge != "reflect":
            return col, row
        h, w = self.shape
        return _reflect(col, w), _reflect(row, h)

    def maxmap(self, block: int) -> tuple[np.ndarray, float]:
        """Per-block maxima dilated by one block (a conservative bound for ray marching)."""
        if block not in self._maxmap:
            h, w = self.shape
            hb, wb = -(-h // block), -(-w // block)
            pad = np.full((hb * block, wb * block), -np.inf, dtype=np.float32)
            pad[:h, :w] = self.array
            m = pad.reshape(hb, block, wb, block).max(axis=(1, 3))
            # Dilate by one block: a step of at most one block from a point stays in its 3x3 blocks.
            p = np.pad(m, 1, mode="edge")
            dil = np.max([p[i : i + hb, j : j + wb] for i in range(3) for j in range(3)], axis=0)
            self._maxmap[block] = (dil, block * self.res)
        return self._maxmap[block]

    @property
    def zrange(self) -> tuple[float, float]:
        """(min, max) height of the raster."""
        if "zrange" not in self._maxmap:
            self._maxmap["zrange"] = (float(np.nanmin(self.array)), float(np.nanmax(self.array)))
        return self._maxmap["zrange"]


def _reflect(c: np.ndarray, n: int) -> np.ndarray:
    """Mirror fractional centre coordinates into [0, n - 1] (reflect-101, periodic beyond)."""
    if n < 2:
        return np.zeros_like(c)
    period = 2.0 * (n - 1)
    c = np.mod(c, period)
    return np.where(c > n - 1, period - c, c)


def _bilinear(array: np.ndarray, col: np.ndarray, row: np.ndarray) -> np.ndarray:
    """Bilinear interpolation at fractional (col, row) centre coordinates, clamped at the edges."""
    h, w = array.shape[:2]
    col = np.clip(col, 0.0, w - 1.0)
    row = np.clip(row, 0.0, h - 1.0)
    c0 = np.minimum(col.astype(np.int64), max(w - 2, 0))
    r0 = np.minimum(row.astype(np.int64), max(h - 2, 0))
    fc = col - c0
    fr = row - r0
    c1 = np.minimum(c0 + 1, w - 1)
    r1 = np.minimum(r0 + 1, h - 1)
    top = array[r0, c0] * (1 - fc) + array[r0, c1] * fc
    bot = array[r1, c0] * (1 - fc) + array[r1, c1] * fc
    return top * (1 - fr) + bot * fr


def intersect_dem(
    origin,
    rays,
    dem: Heightfield | Callable,
    *,
    max_distance: float = 5000.0,
    step: float | None = None,
    block: int = 8,
    zrange: tuple[float, float] | None = None,
    tolerance: float = 1e-7,
    cone: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """First points where rays from ``origin`` meet a height field (DEM, or a DSM with walls).

    Ray marching in two levels, all rays at once: a coarse march over per-block height maxima
    skips empty space safely, a fine march (``step`` metres horizontally, default one cell)
    inside each block that may hold the surface finds the first sign change of
    ``ray height - surface height``, and bisection then pins the crossing down to micrometres.
    Because it looks for the *first* crossing, occlusions and vertical walls (buildings in a
    DSM) come out right, which a fixed-point iteration ``z <- DEM(x, y)`` cannot promise.

    ``dem`` may also be any callable ``(x, y) -> z`` (then ``zrange`` must bound it, and ``step``
    is required). Rays that never meet it within ``max_distance`` (sky, horizon) are
    ``valid = False`` with NaN points. ``tolerance`` (metres along the ray) ends the root search.

    ``cone`` (radians, e.g. one pixel's angle ``1 / fx``) lets the march coarsen with distance:
    once a pixel's footprint ``t * cone`` exceeds a max-map block, steps grow to eight footprints
    and only features smaller than a pixel can be stepped over (cone marching, for obliques
    towards the horizon). 0 keeps every step exact.
    """
    d = np.asarray(rays, dtype=float).reshape(-1, 3)
    n = len(d)
    o = np.broadcast_to(np.asarray(origin, dtype=float), d.shape).copy()
    if isinstance(dem, Heightfield):
        sample = dem.sample
        zlo, zhi = zrange or dem.zrange
        step = step or dem.res
        mm, mm_cell = dem.maxmap(block)
        big, big_cell = dem.maxmap(block * 8)  # a second level: long strides over open ground
    else:
        if zrange is None or step is None:
            raise InputError("intersect_dem with a callable surface needs zrange and step")
        sample = dem
        zlo, zhi = zrange
        mm = big = None
        mm_cell = big_cell = step * block
    pts = np.full((n, 3), np.nan)
    valid = np.zeros(n, dtype=bool)

    # Parametric band [t0, t1] where the ray is between the surface's lowest and highest points
    # (padded, so that a flat surface still leaves a band to march through).
    zlo, zhi = zlo - 0.01, zhi + 0.01
    dz = d[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        t_hi = np.where(dz < 0, (o[:, 2] - zhi) / -dz, np.where(o[:, 2] <= zhi, 0.0, np.inf))
        # A rising ray from below the top leaves the band when it passes zhi.
        t_lo = np.where(dz < 0, (o[:, 2] - zlo) / -dz,
                        np.where(o[:, 2] > zhi, -np.inf, np.where(dz > 0, (zhi - o[:, 2]) / dz, max_distance)))
    t0 = np.maximum(t_hi, 0.0)
    t1 = np.minimum(t_lo, max_distance)
    horiz = np.hypot(d[:, 0], d[:, 1])
    # Coarse step: at most one max-map block horizontally, so the dilated block bounds the segment.
    coarse = np.where(horiz > 1e-12, mm_cell / np.maximum(horiz, 1e-12), np.inf)
    stride = np.where(horiz > 1e-12, big_cell / np.maximum(horiz, 1e-12), np.inf)
    fine_n = max(2, math.ceil(mm_cell / step) + 1)

    active = np.flatnonzero(t0 < t1)
    t = t0.copy()
    while active.size:
        ta = t[active]
        oa, da = o[active], d[active]
        za = oa[:, 2] + ta * da[:, 2]
        if mm is not None:
            xa, ya = oa[:, 0] + ta * da[:, 0], oa[:, 1] + ta * da[:, 1]
            ca, ra = dem._inside((xa - dem.x0) / dem.res - 0.5, (dem.y0 - ya) / dem.res - 0.5)
            # Long stride where the ray stays above everything in the 3 x 3 big blocks around it.
            tb = np.minimum(ta + stride[active], t1[active])
            zb = oa[:, 2] + tb * da[:, 2]
            bi = np.clip(((ca + 0.5) / (8 * block)).astype(np.int64), 0, big.shape[1] - 1)
            bj = np.clip(((ra + 0.5) / (8 * block)).astype(np.int64), 0, big.shape[0] - 1)
            far = np.minimum(za, zb) > big[bj, bi]
            tb = np.where(far, tb, np.minimum(ta + coarse[active], t1[active]))
            zb = oa[:, 2] + tb * da[:, 2]
            ci = np.clip(((ca + 0.5) / block).astype(np.int64), 0, mm.shape[1] - 1)
            ri = np.clip(((ra + 0.5) / block).astype(np.int64), 0, mm.shape[0] - 1)
            maybe = ~far & (np.minimum(za, zb) <= mm[ri, ci])
        else:
            tb = np.minimum(ta + coarse[active], t1[active])
            maybe = np.ones(active.size, dtype=bool)
        if cone > 0:
            foot = cone * ta
            wide = foot > mm_cell
            if wide.any():
                far_tb = np.minimum(ta + 8 * foot / np.maximum(horiz[active], 1e-12), t1[active])
                tb = np.where(wide, np.maximum(tb, far_tb), tb)
                zb = oa[:, 2] + tb * da[:, 2]
                maybe = np.where(wide, np.minimum(za, zb) <= zhi, maybe)
        if maybe.any():
            hit_idx, hit_t = _fine_march(sample, oa[maybe], da[maybe], ta[maybe], tb[maybe], fine_n, tolerance)
            rays_hit = active[maybe][hit_idx]
            pts[rays_hit] = o[rays_hit] + hit_t[:, None] * d[rays_hit]
            valid[rays_hit] = True
        t[active] = tb
        done = valid[active] | (tb >= t1[active])
        active = active[~done]
    return pts, valid


def _fine_march(sample, o, d, ta, tb, n_steps: int, tolerance: float):
    """First crossing of each ray segment [ta, tb] with the surface: (indices of rays that hit, t)."""
    frac = np.linspace(0.0, 1.0, n_steps)
    ts = ta[:, None] + (tb - ta)[:, None] * frac[None, :]
    x = o[:, 0:1] + ts * d[:, 0:1]
    y = o[:, 1:2] + ts * d[:, 1:2]
    f = o[:, 2:3] + ts * d[:, 2:3] - sample(x, y)
    below = f <= 0
    has = below.any(axis=1)
    first = np.argmax(below, axis=1)
    idx = np.flatnonzero(has)
    if not idx.size:
        return idx, np.empty(0)
    k = first[idx]
    hi, fhi = ts[idx, k], f[idx, k]
    # A segment that starts below the surface (camera inside a building, say) hits at its start.
    km = np.maximum(k - 1, 0)
    lo, flo = np.where(k > 0, ts[idx, km], hi), np.where(k > 0, f[idx, km], 0.0)
    return idx, _illinois(sample, o[idx], d[idx], lo, flo, hi, fhi, tolerance)


def _illinois(sample, o, d, lo, flo, hi, fhi, tolerance: float, max_iter: int = 60) -> np.ndarray:
    """Root of ``ray height - surface`` in brackets [lo, hi] (f(lo) > 0 >= f(hi)): Illinois false
    position, vectorised; converges superlinearly on the smooth bilinear pieces of a height field."""
    last = np.zeros(lo.shape, dtype=np.int8)  # which end moved last: +1 hi, -1 lo
    t = hi.copy()
    todo = np.flatnonzero(hi - lo > tolerance)
    for _ in range(max_iter):
        if not todo.size:
            break
        a, fa, b, fb = lo[todo], flo[todo], hi[todo], fhi[todo]
        denom = fa - fb
        tt = np.where(denom > 0, (a * -fb + b * fa) / np.where(denom > 0, denom, 1.0), 0.5 * (a + b))
        tt = np.clip(tt, a, b)
        p = o[todo] + tt[:, None] * d[todo]
        ft = p[:, 2] - sample(p[:, 0], p[:, 1])
        under = ft <= 0
        lt = last[todo]
        # Illinois: when the same end moves twice, halve the other end's value so both close in.
        flo[todo] = np.where(under & (lt == 1), fa * 0.5, np.where(under, fa, ft))
        fhi[todo] = np.where(~under & (lt == -1), fb * 0.5, np.where(under, ft, fb))
        lo[todo] = np.where(under, a, tt)
        hi[todo] = np.where(under, tt, b)
        last[todo] = np.where(under, 1, -1)
        t[todo] = tt
        converged = (hi[todo] - lo[todo] <= tolerance) | (np.abs(ft) <= tolerance * 1e-3)
        todo = todo[~converged]
    return t
