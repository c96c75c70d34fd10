"""Geometry of the map: posed views in the UTM grid, the ground they look at, footprints, the output grid.

Everything here works in one projected frame: the UTM zone of the photos (x east, y north, z metres
above mean sea level). Photos arrive in WGS84 with true-north angles (:class:`sensors.mosaic.photos.Photo`);
:func:`views` turns them into :class:`View` objects (centre + rotation in the grid) once, and every
later stage (footprints, matching, adjustment, orthorectification) takes views, which pickle cheaply
to dask workers (no image data: a view names its file).

The ground is a horizontal plane at the take-off height (photos carry ``alt_msl`` and ``alt_rel``: their
difference is the take-off ground) or a DEM (any CRS, reprojected once onto a grid in the UTM frame).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import shapely
from affine import Affine

from sensors.projection import CameraPose, Heightfield, Intrinsics, intersect_dem, intersect_plane, pixel_rays
from skyscan.errors import InputError

__all__ = ["Grid", "Ground", "View", "footprints", "nadir_gsd", "views"]


@dataclass(frozen=True, eq=False)
class View:
    """One photo as the pipeline sees it: its file, intrinsics and pose in the UTM grid."""

    index: int
    path: Path
    intr: Intrinsics
    position: np.ndarray  # (3,) camera centre x, y, z (UTM metres, z above MSL)
    rotation: np.ndarray  # (3, 3) world (ENU grid) <- camera (OpenCV)

    @property
    def pose(self) -> CameraPose:
        return CameraPose(self.position, self.rotation)

    @property
    def name(self) -> str:
        return self.path.name

    def corrected(self, correction: np.ndarray) -> View:
        """This view moved by a correction ``(dx, dy, dz, wx, wy, wz)``: metres, and a small rotation
        vector (radians, world frame) applied on the left of the rotation."""
        import cv2

        rot, _ = cv2.Rodrigues(np.asarray(correction[3:6], dtype=float).reshape(3, 1))
        return replace(self, position=self.position + correction[:3], rotation=rot @ self.rotation)


def views(photos: Sequence, epsg: int) -> list[View]:
    """Views of ``photos`` (:class:`sensors.mosaic.photos.Photo`) in the UTM grid ``epsg``."""
    from pyproj import Transformer

    tr = Transformer.from_crs("EPSG:4326", f"EPSG:{epsg}", always_xy=True)
    out = []
    for i, p in enumerate(photos):
        x, y = tr.transform(p.lon, p.lat)
        out.append(View(i, Path(p.path), p.intrinsics, np.array([x, y, p.alt_msl], dtype=float), p.rotation(epsg)))
    return out


# -- ground ---------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Ground:
    """The surface photos are projected onto: a plane at height ``z`` or a DEM (:class:`Heightfield`)."""

    z: float | None = None
    dem: Heightfield | None = None

    @classmethod
    def plane(cls, z: float) -> Ground:
        return cls(z=float(z))

    @classmethod
    def from_dem(cls, path, epsg: int, bounds: tuple[float, float, float, float], res: float | None = None) -> Ground:
        """Read a DEM GeoTIFF (any CRS) and resample it onto a UTM grid over ``bounds`` (+ 10 % margin).

        Raises :class:`InputError` when the file cannot be read, has no CRS, or covers less than
        99 % of ``bounds`` (a map must not silently fall off its terrain model).
        """
        import rasterio
        from rasterio.warp import Resampling, reproject, transform_bounds

        path = Path(path)
        try:
            src = rasterio.open(path)
        except (rasterio.errors.RasterioIOError, OSError) as exc:
            raise InputError(f"cannot read DEM {path}: {exc}") from None
        with src:
            if src.crs is None:
                raise InputError(f"DEM {path} has no CRS; assign one (gdal_edit.py -a_srs EPSG:xxxx) and retry")
            xmin, ymin, xmax, ymax = bounds
            mx, my = 0.1 * (xmax - xmin) + 10, 0.1 * (ymax - ymin) + 10
            xmin, ymin, xmax, ymax = xmin - mx, ymin - my, xmax + mx, ymax + my
            if res is None:  # the DEM's own resolution, in metres, within sane limits
                left, b, r, t = transform_bounds(src.crs, f"EPSG:{epsg}", *src.bounds)
                res = float(np.clip(min((r - left) / src.width, (t - b) / src.height), 0.25, 30.0))
            w, h = math.ceil((xmax - xmin) / res), math.ceil((ymax - ymin) / res)
            transform = Affine(res, 0, xmin, 0, -res, ymax)
            out = np.full((h, w), np.nan, dtype=np.float32)
            nodata = src.nodata
            reproject(rasterio.band(src, 1), out, src_nodata=nodata, dst_transform=transform,
                      dst_crs=f"EPSG:{epsg}", dst_nodata=np.nan, resampling=Resampling.bilinear)  # fmt: skip
        inner = out[round(my / res) : h - round(my / res), round(mx / res) : w - round(mx / res)]
        covered = float(np.isfinite(inner).mean()) if inner.size else 0.0
        if covered < 0.99:
            raise InputError(f"DEM {path} covers only {covered:.0%} of the photos' area; "
                             "give a DEM that covers the whole flight (or none, to map onto a plane)")  # fmt: skip
        if not np.isfinite(out).all():  # the margin may fall off the DEM: extend edge values there
            from scipy import ndimage

            idx = ndimage.distance_transform_edt(~np.isfinite(out), return_distances=False, return_indices=True)
            out = out[tuple(idx)]
        return cls(dem=Heightfield.from_transform(out, transform))

    @classmethod
    def from_points(cls, pts: np.ndarray, bounds: tuple[float, float, float, float], cell: float,
                    percentile: float = 10.0, min_points: int = 3) -> Ground:  # fmt: skip
        """A smooth terrain model from 3-D tie points (ODM's fast-orthophoto idea, as a height grid).

        Tie points on trees and roofs sit above the ground, so each ``cell`` (m) keeps a low
        ``percentile`` of its points' heights (cells with fewer than ``min_points`` points are
        dropped); those cell values are interpolated linearly between their centres and, outside
        their hull, extrapolated by a least-squares quadratic surface through them. Sampled every
        half cell over ``bounds``. On the SITL's hilly world (30 m of relief) this terrain model is
        within about 1 m RMS of the true DTM where a take-off plane is off by 7 m (see the tests).
        An orthophoto on it leaves buildings leaning, as every DTM orthophoto does.
        """
        from scipy.interpolate import LinearNDInterpolator

        xmin, ymin, xmax, ymax = bounds
        ncol = max(1, math.ceil((xmax - xmin) / cell))
        col = np.clip(((pts[:, 0] - xmin) // cell).astype(np.int64), -1, ncol)
        row = ((ymax - pts[:, 1]) // cell).astype(np.int64)
        key = row * (ncol + 2) + col + 1
        order = np.lexsort((pts[:, 2], key))
        key, z = key[order], pts[order, 2]
        starts = np.r_[0, np.nonzero(np.diff(key))[0] + 1]
        counts = np.diff(np.r_[starts, len(key)])
        ok = counts >= min_points
        if ok.sum() < 6:
            raise InputError("too few tie points to model the ground; pass --dem or --ground-alt")
        cz = z[starts[ok] + np.floor((counts[ok] - 1) * percentile / 100.0).astype(np.int64)]
        k = key[starts[ok]]
        cx = xmin + (k % (ncol + 2) - 1 + 0.5) * cell
        cy = ymax - (k // (ncol + 2) + 0.5) * cell
        mx, my = cx.mean(), cy.mean()

        def quad(x, y):
            x, y = x - mx, y - my
            return np.stack([np.ones_like(x), x, y, x * x, x * y, y * y], axis=-1)

        coef = np.linalg.lstsq(quad(cx, cy), cz, rcond=None)[0]
        res = cell / 2.0
        w, h = max(2, math.ceil((xmax - xmin) / res)), max(2, math.ceil((ymax - ymin) / res))
        gx, gy = np.meshgrid(xmin + (np.arange(w) + 0.5) * res, ymax - (np.arange(h) + 0.5) * res)
        grid = LinearNDInterpolator(np.column_stack([cx, cy]), cz)(gx, gy)
        grid = np.where(np.isfinite(grid), grid, quad(gx, gy) @ coef).astype(np.float32)
        return cls(dem=Heightfield.from_transform(grid, Affine(res, 0, xmin, 0, -res, ymax)))

    def height(self, x, y) -> np.ndarray:
        """Ground height at grid points (arrays of any shape)."""
        if self.dem is not None:
            return self.dem.sample(x, y)
        return np.full(np.broadcast(np.asarray(x), np.asarray(y)).shape, self.z, dtype=float)

    def intersect(self, origin, rays) -> tuple[np.ndarray, np.ndarray]:
        """Where rays from ``origin`` meet the ground: ``(points (N, 3), valid (N,))``."""
        if self.dem is not None:
            return intersect_dem(origin, rays, self.dem)
        return intersect_plane(origin, rays, self.z)

    @property
    def mean_height(self) -> float:
        return float(np.mean(self.dem.zrange)) if self.dem is not None else float(self.z)


# -- footprints -----------------------------------------------------------------------------------
def _border_pixels(intr: Intrinsics, per_side: int) -> np.ndarray:
    """Pixels around the image border, clockwise from the top-left corner."""
    u0, v0, u1, v1 = -0.5, -0.5, intr.width - 0.5, intr.height - 0.5
    t = np.linspace(0.0, 1.0, per_side, endpoint=False)
    top = np.column_stack([u0 + t * (u1 - u0), np.full_like(t, v0)])
    right = np.column_stack([np.full_like(t, u1), v0 + t * (v1 - v0)])
    bottom = np.column_stack([u1 - t * (u1 - u0), np.full_like(t, v1)])
    left = np.column_stack([np.full_like(t, u0), v1 - t * (v1 - v0)])
    return np.vstack([top, right, bottom, left])


def footprints(vs: Sequence[View], ground: Ground, per_side: int = 8) -> np.ndarray:
    """Ground footprint polygons (shapely array) of views; an empty polygon when a view sees no ground.

    Border rays that miss the ground (an oblique looking at the horizon) are dropped, so a footprint
    is the ground the view actually sees.
    """
    out = []
    for v in vs:
        rays = pixel_rays(_border_pixels(v.intr, per_side), v.intr, v.pose)
        pts, ok = ground.intersect(v.position, rays)
        # Clip the far field: an oblique's border ray may meet the ground kilometres away.
        far = np.linalg.norm(pts[:, :2] - v.position[:2], axis=1) > 20 * max(v.position[2] - ground.mean_height, 1.0)
        ok &= ~far
        out.append(shapely.Polygon(pts[ok, :2]).buffer(0) if ok.sum() >= 3 else shapely.Polygon())
    return np.array(out, dtype=object)


def nadir_gsd(v: View, ground: Ground) -> float:
    """Ground sample distance (m/px) at the image centre of a view."""
    centre = np.array([[v.intr.cx, v.intr.cy], [v.intr.cx + 1.0, v.intr.cy]])
    pts, ok = ground.intersect(v.position, pixel_rays(centre, v.intr, v.pose))
    if not ok.all():
        return math.nan
    return float(np.linalg.norm(pts[1, :2] - pts[0, :2]))


# -- the output grid ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Grid:
    """A north-up raster grid in ``EPSG:epsg``: top-left corner ``(x0, y0)``, square cells ``gsd``."""

    epsg: int
    x0: float
    y0: float
    gsd: float
    width: int
    height: int

    @classmethod
    def covering(cls, bounds: tuple[float, float, float, float], gsd: float, epsg: int, multiple: int = 1) -> Grid:
        """The grid of cell size ``gsd`` aligned on multiples of ``gsd`` that covers ``bounds``, its width
        and height rounded up to a ``multiple`` of cells (then each 2x overview halves it exactly)."""
        xmin, ymin, xmax, ymax = bounds
        x0, y0 = math.floor(xmin / gsd) * gsd, math.ceil(ymax / gsd) * gsd
        w, h = math.ceil((xmax - x0) / gsd), math.ceil((y0 - ymin) / gsd)
        w, h = -(-w // multiple) * multiple, -(-h // multiple) * multiple
        if w * h > 2**36:
            raise InputError(f"the map would be {w} x {h} pixels at {gsd} m; choose a coarser --gsd")
        return cls(epsg, x0, y0, gsd, w, h)

    @property
    def transform(self) -> Affine:
        return Affine(self.gsd, 0.0, self.x0, 0.0, -self.gsd, self.y0)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        return self.x0, self.y0 - self.height * self.gsd, self.x0 + self.width * self.gsd, self.y0

    def tiles(self, size: int) -> list[tuple[int, int, int, int]]:
        """Windows ``(col_off, row_off, width, height)`` of at most ``size`` pixels covering the grid."""
        return [(c, r, min(size, self.width - c), min(size, self.height - r))
                for r in range(0, self.height, size) for c in range(0, self.width, size)]  # fmt: skip

    def window_bounds(self, window: tuple[int, int, int, int]) -> tuple[float, float, float, float]:
        c, r, w, h = window
        return (self.x0 + c * self.gsd, self.y0 - (r + h) * self.gsd,
                self.x0 + (c + w) * self.gsd, self.y0 - r * self.gsd)  # fmt: skip
