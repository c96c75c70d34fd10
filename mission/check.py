"""Coverage check: how many photos see each point of the area, and how much gets what was promised.

The planned photo footprints (:mod:`mission.photos`) are counted on a raster over the area; the
report gives the share of the area seen by at least the number of photos the overlaps promise
(:func:`mission.survey.promised_count`), by at least one, and the full histogram. The count raster
can be written as a GeoTIFF for GIS.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import rasterio
from affine import Affine
from rasterio.features import rasterize

from mission.area import Area
from mission.photos import PlannedPhotos
from sensors.camera import Camera, Orientation
from skyscan.atomic import atomic_path

__all__ = ["CoverageReport", "coverage"]


@dataclass
class CoverageReport:
    """Photo counts over the area. Percentages are of the area (holes excluded)."""

    promised: int
    percent_promised: float
    percent_seen: float
    min_count: int
    median_count: float
    cell_m: float
    counts: np.ndarray  # (rows, cols) uint16, north up
    inside: np.ndarray  # (rows, cols) bool: cell centre inside the area
    transform: rasterio.Affine
    epsg: int

    def percent_at_least(self, n: int) -> float:
        total = int(self.inside.sum())
        return 100.0 * int((self.counts[self.inside] >= n).sum()) / total if total else 0.0

    def write_geotiff(self, path) -> None:
        """The count raster as a single-band uint16 GeoTIFF (0 outside the area = nodata 65535)."""
        data = np.where(self.inside, self.counts, 65535).astype(np.uint16)
        with atomic_path(path) as tmp, rasterio.open(
            tmp, "w", driver="GTiff", width=data.shape[1], height=data.shape[0], count=1,
            dtype="uint16", crs=f"EPSG:{self.epsg}", transform=self.transform, nodata=65535,
            compress="deflate", tiled=data.shape[0] >= 256 and data.shape[1] >= 256,
        ) as dst:
            dst.write(data, 1)


def coverage(area: Area, photos: PlannedPhotos, camera: Camera, promised: int,
             orientation: Orientation = Orientation.LANDSCAPE, max_cells: int = 2_000_000) -> CoverageReport:
    """Count the footprints of ``photos`` over ``area`` on a raster of at most ``max_cells`` cells."""
    if photos.frame.epsg != area.frame.epsg:
        raise ValueError("photos and area must share a frame")
    x0, y0, x1, y1 = area.polygon.bounds
    cell = max(math.sqrt((x1 - x0) * (y1 - y0) / max_cells), 0.05)
    cols, rows = max(1, math.ceil((x1 - x0) / cell)), max(1, math.ceil((y1 - y0) / cell))
    transform = Affine(cell, 0.0, x0, 0.0, -cell, y1)
    inside = rasterize([(area.polygon, 1)], out_shape=(rows, cols), transform=transform, fill=0,
                       dtype="uint8").astype(bool)
    counts = np.zeros((rows, cols), dtype=np.uint16)
    if len(photos):
        corners = photos.footprints(camera, orientation)
        _count_quads(counts, corners, x0, y1, cell)
    vals = counts[inside]
    total = vals.size
    return CoverageReport(
        promised=promised,
        percent_promised=100.0 * int((vals >= promised).sum()) / total if total else 0.0,
        percent_seen=100.0 * int((vals >= 1).sum()) / total if total else 0.0,
        min_count=int(vals.min()) if total else 0,
        median_count=float(np.median(vals)) if total else 0.0,
        cell_m=cell, counts=counts, inside=inside, transform=transform, epsg=area.frame.epsg,
    )


def _count_quads(counts: np.ndarray, corners: np.ndarray, x0: float, y_top: float, cell: float) -> None:
    """Add 1 to every cell whose centre lies in each convex counter-clockwise quad (N, 4, 2)."""
    rows, cols = counts.shape
    lo = corners.min(axis=1)
    hi = corners.max(axis=1)
    c0 = np.clip(np.floor((lo[:, 0] - x0) / cell).astype(int), 0, cols)
    c1 = np.clip(np.ceil((hi[:, 0] - x0) / cell).astype(int), 0, cols)
    r0 = np.clip(np.floor((y_top - hi[:, 1]) / cell).astype(int), 0, rows)
    r1 = np.clip(np.ceil((y_top - lo[:, 1]) / cell).astype(int), 0, rows)
    edges = np.roll(corners, -1, axis=1) - corners  # (N, 4, 2)
    for i in np.nonzero((c1 > c0) & (r1 > r0))[0]:
        xs = x0 + (np.arange(c0[i], c1[i]) + 0.5) * cell
        ys = y_top - (np.arange(r0[i], r1[i]) + 0.5) * cell
        inside = np.ones((ys.size, xs.size), dtype=bool)
        for k in range(4):  # left of every counter-clockwise edge
            ex, ey = edges[i, k]
            px, py = corners[i, k]
            inside &= (ex * (ys[:, None] - py) - ey * (xs[None, :] - px)) >= 0
        counts[r0[i]:r1[i], c0[i]:c1[i]] += inside
