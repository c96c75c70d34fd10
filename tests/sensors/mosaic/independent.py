"""An independent accuracy check of an orthomosaic made from real drone photos.

The map pipeline computes its own camera poses; a test that re-used them would only check that the
map agrees with itself. This module builds a *second*, separately configured reconstruction of the same
photos with COLMAP (SIFT at 2000 px, exhaustive matching, incremental mapping without position priors),
georeferences it with COLMAP's own similarity alignment to the photos' EXIF GPS positions, and then asks,
for every photo, where its *content* landed in the map:

1. :func:`independent_reconstruction` -- the COLMAP model: per photo the camera (SIMPLE_RADIAL, COLMAP
   pixel convention, pixel centres at +0.5), rotation and centre in UTM; the 3-D points in UTM. Cached
   under ``$XDG_CACHE_HOME/skyscan/tests/`` keyed by the photos' bytes and the configuration.
2. :class:`Dtm` -- the model's ground: per 5 m cell a low percentile of the point heights, interpolated.
3. :func:`content_offsets` -- SIFT matches between each (downscaled) photo and the map window the model
   says it looks at, filtered by a RANSAC homography. For every inlier, the map gives a position
   (the matched map pixel) and the model gives another (the photo pixel's ray meeting the DTM); the
   horizontal distance between the two is the offset. A second RANSAC on the outliers finds content
   that appears twice ("doubled").

Conventions: UTM metres, x east, y north, z the EXIF GPS altitude frame; camera frame x right,
y down, z forward; rotations are world <- camera.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import cv2
import numpy as np

__all__ = [
    "Cluster",
    "Dtm",
    "IndependentCamera",
    "IndependentImage",
    "IndependentModel",
    "OffsetSummary",
    "PhotoOffset",
    "cache_dir",
    "content_offsets",
    "exif_gps",
    "format_offsets",
    "independent_reconstruction",
    "list_jpegs",
    "render_model_map",
    "shifted_copy",
    "summarize",
]

SEED = 7
# Everything that changes the reconstruction: part of the cache key, so an edit here redoes it.
CONFIG = {
    "version": 1,
    "max_image_size": 2000,
    "camera_model": "SIMPLE_RADIAL",
    "camera_mode": "SINGLE",
    "num_threads": 2,
    "matcher": "exhaustive",
    "use_prior_position": False,
    "align_max_error_m": 3.0,
    "seed": SEED,
}


# -- photos and their EXIF positions --------------------------------------------------------------
def list_jpegs(photos_dir: Path) -> list[str]:
    """Names of the JPEG photos in ``photos_dir`` (sorted; other files, e.g. a KMZ, are ignored)."""
    return sorted(p.name for p in Path(photos_dir).iterdir() if p.suffix.lower() in (".jpg", ".jpeg"))


def _degrees(dms) -> float:
    d, m, s = (float(v) for v in dms)
    return d + m / 60.0 + s / 3600.0


def exif_gps(path: Path) -> tuple[float, float, float]:
    """``(lat, lon, alt)`` of a photo from its EXIF GPS IFD (``GPSAltitude``, metres, sign from its ref)."""
    from PIL import Image

    with Image.open(path) as im:
        gps = im.getexif().get_ifd(0x8825)
    lat = _degrees(gps[2]) * (-1.0 if str(gps.get(1, "N")).upper().startswith("S") else 1.0)
    lon = _degrees(gps[4]) * (-1.0 if str(gps.get(3, "E")).upper().startswith("W") else 1.0)
    ref = gps.get(5, 0)
    below = (ref[:1] == b"\x01") if isinstance(ref, bytes) else ref == 1
    return lat, lon, float(gps[6]) * (-1.0 if below else 1.0)


def _utm_epsg(lon: float, lat: float) -> int:
    zone = int((lon + 180.0) // 6.0) % 60 + 1
    return (32600 if lat >= 0 else 32700) + zone


# -- the cache --------------------------------------------------------------------------------------
def cache_dir() -> Path:
    """Where independent models are cached: ``$XDG_CACHE_HOME/skyscan/tests`` (the tests' photo sets' home)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "skyscan" / "tests"


def _photo_set_key(photos_dir: Path, names: Iterable[str]) -> str:
    """A digest of the configuration and of every photo's name and bytes (a changed photo redoes the model)."""
    h = hashlib.sha256(json.dumps(CONFIG, sort_keys=True).encode())
    for name in names:
        h.update(name.encode())
        with open(Path(photos_dir) / name, "rb") as f:
            h.update(hashlib.file_digest(f, "sha256").digest())
    return h.hexdigest()[:16]


# -- the model ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class IndependentCamera:
    """A COLMAP SIMPLE_RADIAL camera: ``u = f * x * (1 + k r^2) + cx`` with pixel centres at +0.5."""

    width: int
    height: int
    f: float
    cx: float
    cy: float
    k: float

    def normalised(self, uv: np.ndarray, iterations: int = 10) -> np.ndarray:
        """Undistorted normalised coordinates (N, 2) of COLMAP pixel coordinates ``uv`` (N, 2)."""
        xd = (np.asarray(uv, dtype=float).reshape(-1, 2) - [self.cx, self.cy]) / self.f
        x = xd.copy()
        for _ in range(iterations):  # x (1 + k |x|^2) = xd, by fixed point (k is small)
            x = xd / (1.0 + self.k * np.sum(x * x, axis=1, keepdims=True))
        return x

    def pixels(self, xn: np.ndarray) -> np.ndarray:
        """COLMAP pixel coordinates of undistorted normalised coordinates ``xn`` (N, 2)."""
        r2 = np.sum(xn * xn, axis=1, keepdims=True)
        return xn * (1.0 + self.k * r2) * self.f + [self.cx, self.cy]


@dataclass(frozen=True, eq=False)
class IndependentImage:
    """One photo of the independent model: its camera, rotation (world <- camera) and centre (UTM)."""

    name: str
    camera: IndependentCamera
    rotation: np.ndarray
    centre: np.ndarray

    def rays(self, uv: np.ndarray) -> np.ndarray:
        """World rays (N, 3), not normalised, through COLMAP pixel coordinates ``uv``."""
        xn = self.camera.normalised(uv)
        return np.column_stack([xn, np.ones(len(xn))]) @ self.rotation.T

    def project(self, pts: np.ndarray) -> np.ndarray:
        """COLMAP pixel coordinates (N, 2) of world points (N, 3) (NaN behind the camera)."""
        d = (np.asarray(pts, dtype=float).reshape(-1, 3) - self.centre) @ self.rotation
        with np.errstate(divide="ignore", invalid="ignore"):
            xn = d[:, :2] / np.where(d[:, 2] > 0, d[:, 2], np.nan)[:, None]
        return self.camera.pixels(xn)


@dataclass(frozen=True, eq=False)
class Dtm:
    """A north-up height grid: ``z[row, col]`` at cell centres ``(x0 + (col + .5) cell, y0 - (row + .5) cell)``."""

    z: np.ndarray
    x0: float
    y0: float
    cell: float

    @classmethod
    def from_points(cls, pts: np.ndarray, cell: float = 5.0, percentile: float = 10.0, min_points: int = 3,
                    margin: float = 150.0) -> Dtm:  # fmt: skip
        """Per ``cell`` the ``percentile`` of the heights of its points (cells with ``min_points`` or more),
        interpolated linearly between cell centres and filled with the nearest value elsewhere, over the
        points' extent plus ``margin`` metres."""
        from scipy.interpolate import griddata

        xmin, ymin = pts[:, :2].min(axis=0) - margin
        xmax, ymax = pts[:, :2].max(axis=0) + margin
        ncol, nrow = math.ceil((xmax - xmin) / cell), math.ceil((ymax - ymin) / cell)
        col = ((pts[:, 0] - xmin) // cell).astype(np.int64)
        row = ((ymax - pts[:, 1]) // cell).astype(np.int64)
        key = row * ncol + col
        order = np.lexsort((pts[:, 2], key))
        key, z = key[order], pts[order, 2]
        starts = np.r_[0, np.flatnonzero(np.diff(key)) + 1]
        counts = np.diff(np.r_[starts, len(key)])
        ok = counts >= min_points
        low = z[starts[ok] + np.floor((counts[ok] - 1) * percentile / 100.0).astype(np.int64)]
        k = key[starts[ok]]
        centres = np.column_stack([xmin + (k % ncol + 0.5) * cell, ymax - (k // ncol + 0.5) * cell])
        gx, gy = np.meshgrid(xmin + (np.arange(ncol) + 0.5) * cell, ymax - (np.arange(nrow) + 0.5) * cell)
        grid = griddata(centres, low, (gx, gy), method="linear")
        near = griddata(centres, low, (gx, gy), method="nearest")
        return cls(np.where(np.isfinite(grid), grid, near), float(xmin), float(ymax), cell)

    def height(self, x, y) -> np.ndarray:
        """Bilinear heights at (x, y) (any shape); edge values continue outside the grid."""
        from scipy.ndimage import map_coordinates

        x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        col = (x - self.x0) / self.cell - 0.5
        row = (self.y0 - y) / self.cell - 0.5
        return map_coordinates(self.z, [row.ravel(), col.ravel()], order=1, mode="nearest").reshape(x.shape)

    def intersect(self, origin: np.ndarray, rays: np.ndarray, iterations: int = 12) -> np.ndarray:
        """Where rays (N, 3) from ``origin`` (3,) meet the ground (N, 3): fixed point on the height."""
        z = np.full(len(rays), float(np.median(self.z)))
        for _ in range(iterations):
            t = (z - origin[2]) / rays[:, 2]
            pts = origin + t[:, None] * rays
            z = self.height(pts[:, 0], pts[:, 1])
        t = (z - origin[2]) / rays[:, 2]
        return origin + t[:, None] * rays

    @property
    def transform(self):
        from affine import Affine

        return Affine(self.cell, 0.0, self.x0, 0.0, -self.cell, self.y0)


@dataclass(frozen=True, eq=False)
class IndependentModel:
    """The independent reconstruction in UTM (``epsg``): images by name, 3-D points, and how it was made.

    ``points`` (N, 3) with ``point_errors`` (reprojection, px) and ``track_lengths``; ``gps`` the EXIF
    positions in UTM the model was aligned to; ``stats`` sizes, residuals and timings (s).
    """

    epsg: int
    images: dict[str, IndependentImage]
    points: np.ndarray
    point_errors: np.ndarray
    track_lengths: np.ndarray
    gps: dict[str, np.ndarray]
    stats: dict = field(default_factory=dict)

    @cached_property
    def dtm(self) -> Dtm:
        """The ground under the photos: well-observed points (error < 2 px, seen 3+ times) within 300 m."""
        good = (self.point_errors < 2.0) & (self.track_lengths >= 3)
        centres = np.array([im.centre for im in self.images.values()])
        lo, hi = centres[:, :2].min(axis=0) - 300.0, centres[:, :2].max(axis=0) + 300.0
        good &= np.all((self.points[:, :2] >= lo) & (self.points[:, :2] <= hi), axis=1)
        zc = np.median(self.points[good, 2])
        good &= np.abs(self.points[:, 2] - zc) < 60.0
        return Dtm.from_points(self.points[good])

    def ground(self, name: str, uv: np.ndarray) -> np.ndarray:
        """Ground points (N, 3) seen by photo ``name`` at COLMAP pixel coordinates ``uv`` (N, 2)."""
        im = self.images[name]
        return self.dtm.intersect(im.centre, im.rays(uv))

    def pixel_size(self, name: str, scale: float = 1.0) -> float:
        """Ground size (m) of ``scale`` photo pixels at the centre of photo ``name``."""
        c = self.images[name].camera
        g = self.ground(name, np.array([[c.cx, c.cy], [c.cx + scale, c.cy]]))
        return float(np.linalg.norm(g[1, :2] - g[0, :2]))

    @property
    def native_gsd(self) -> float:
        """The photos' median ground sample distance (m) at their centres."""
        return float(np.median([self.pixel_size(n) for n in self.images]))

    def footprint(self, name: str, per_side: int = 9) -> np.ndarray:
        """Ground points (M, 3) under a grid of ``per_side`` x ``per_side`` pixels spanning photo ``name``."""
        cam = self.images[name].camera
        u, v = np.meshgrid(np.linspace(0, cam.width, per_side), np.linspace(0, cam.height, per_side))
        return self.ground(name, np.column_stack([u.ravel(), v.ravel()]))


def _save(path: Path, model: IndependentModel) -> None:
    from skyscan.atomic import atomic_path

    names = sorted(model.images)
    cams = [model.images[n].camera for n in names]
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(
            f,
            names=np.array(names),
            cameras=np.array([[c.width, c.height, c.f, c.cx, c.cy, c.k] for c in cams]),
            rotations=np.array([model.images[n].rotation for n in names]),
            centres=np.array([model.images[n].centre for n in names]),
            gps=np.array([model.gps[n] for n in names]),
            points=model.points,
            point_errors=model.point_errors,
            track_lengths=model.track_lengths,
            meta=np.array(json.dumps({"epsg": model.epsg, "stats": model.stats})),
        )


def _load(path: Path) -> IndependentModel:
    with np.load(path) as z:
        names = [str(n) for n in z["names"]]
        meta = json.loads(str(z["meta"]))
        images = {}
        for i, n in enumerate(names):
            w, h, f, cx, cy, k = z["cameras"][i]
            cam = IndependentCamera(int(w), int(h), float(f), float(cx), float(cy), float(k))
            images[n] = IndependentImage(n, cam, z["rotations"][i], z["centres"][i])
        return IndependentModel(meta["epsg"], images, z["points"], z["point_errors"], z["track_lengths"],
                                {n: z["gps"][i] for i, n in enumerate(names)}, meta["stats"])  # fmt: skip


def independent_reconstruction(photos_dir: Path, work_dir: Path, cache: Path | None = None) -> IndependentModel:
    """The independent COLMAP model of the JPEGs in ``photos_dir``, georeferenced to their EXIF GPS.

    COLMAP works in ``work_dir / "independent-colmap"`` (database, sparse models). The result is cached
    as a small ``.npz`` in ``cache`` (default :func:`cache_dir`) under a key of the configuration and the
    photos' bytes; a cached model is returned without running COLMAP. Raises ``RuntimeError`` when the
    mapping or the alignment fails.
    """
    photos_dir = Path(photos_dir)
    names = list_jpegs(photos_dir)
    t0 = time.perf_counter()
    target = (cache or cache_dir()) / f"independent-{_photo_set_key(photos_dir, names)}.npz"
    if target.exists():
        model = _load(target)
        print(f"independent model: loaded from {target} in {time.perf_counter() - t0:.2f} s")
        return model
    model = _reconstruct(photos_dir, names, Path(work_dir))
    _save(target, model)
    print(f"independent model: {model.stats['seconds']} -> {target}")
    return model


def _reconstruct(photos_dir: Path, names: list[str], work_dir: Path) -> IndependentModel:
    import pycolmap
    from pyproj import Transformer

    seconds: dict[str, float] = {}
    t = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal t
        now = time.perf_counter()
        seconds[stage] = round(now - t, 1)
        t = now
        print(f"independent model: {stage} {seconds[stage]} s", flush=True)

    pycolmap.set_random_seed(SEED)
    work_dir = work_dir / "independent-colmap"  # ours alone: a previous attempt's files are removed
    if work_dir.exists():
        shutil.rmtree(work_dir)
    (work_dir / "sparse").mkdir(parents=True)
    db = work_dir / "database.db"
    threads = CONFIG["num_threads"]

    reader = pycolmap.ImageReaderOptions()
    reader.camera_model = CONFIG["camera_model"]
    extraction = pycolmap.FeatureExtractionOptions()
    extraction.max_image_size = CONFIG["max_image_size"]
    extraction.num_threads = threads
    extraction.use_gpu = False
    pycolmap.extract_features(db, photos_dir, image_names=names, camera_mode=pycolmap.CameraMode.SINGLE,
                              reader_options=reader, extraction_options=extraction,
                              device=pycolmap.Device.cpu)  # fmt: skip
    lap("features")

    matching = pycolmap.FeatureMatchingOptions()
    matching.num_threads = threads
    matching.use_gpu = False
    verification = pycolmap.TwoViewGeometryOptions()
    verification.ransac.random_seed = SEED
    pycolmap.match_exhaustive(db, matching_options=matching, verification_options=verification,
                              device=pycolmap.Device.cpu)  # fmt: skip
    lap("matching")

    opts = pycolmap.IncrementalPipelineOptions()
    opts.num_threads = threads
    opts.random_seed = SEED
    opts.use_prior_position = False
    models = pycolmap.incremental_mapping(db, photos_dir, work_dir / "sparse", opts)
    if not models:
        raise RuntimeError("COLMAP registered no model")
    rec = max(models.values(), key=lambda r: r.num_reg_images())
    lap("mapping")

    # Georeference: a similarity to the EXIF GPS positions in UTM (a local origin keeps numbers small).
    lla = {n: exif_gps(photos_dir / n) for n in names}
    epsg = _utm_epsg(float(np.median([v[1] for v in lla.values()])), float(np.median([v[0] for v in lla.values()])))
    tr = Transformer.from_crs("EPSG:4326", f"EPSG:{epsg}", always_xy=True)
    gps = {n: np.array([*tr.transform(lon, lat), alt]) for n, (lat, lon, alt) in lla.items()}
    origin = np.round(np.mean(list(gps.values()), axis=0))
    reg = {rec.image(i).name: rec.image(i) for i in rec.reg_image_ids()}
    common = [n for n in names if n in reg]
    ransac = pycolmap.RANSACOptions()
    ransac.max_error = CONFIG["align_max_error_m"]
    ransac.random_seed = SEED
    sim = pycolmap.align_reconstruction_to_locations(rec, common, np.array([gps[n] - origin for n in common]),
                                                     min_common_images=3, ransac_options=ransac)  # fmt: skip
    if sim is None:
        raise RuntimeError("COLMAP could not align the model to the GPS positions")
    rec.transform(sim)
    lap("alignment")

    images = {}
    for n in common:
        im = rec.find_image_with_name(n)
        cam = im.camera
        f, cx, cy, k = (float(p) for p in cam.params)
        cam_from_world = im.cam_from_world()
        rotation = np.asarray(cam_from_world.rotation.matrix()).T
        images[n] = IndependentImage(n, IndependentCamera(int(cam.width), int(cam.height), f, cx, cy, k),
                                     rotation, np.asarray(im.projection_center()) + origin)  # fmt: skip
    pts = rec.points3D
    xyz = np.array([p.xyz for p in pts.values()]) + origin
    errors = np.array([p.error for p in pts.values()])
    tracks = np.array([p.track.length() for p in pts.values()])
    resid = np.array([images[n].centre - gps[n] for n in common])
    stats = {
        "images": len(names),
        "registered": len(common),
        "models": len(models),
        "points": len(xyz),
        "mean_reprojection_px": round(float(rec.compute_mean_reprojection_error()), 3),
        "scale": round(float(sim.scale), 5),
        "gps_rms_xy_m": round(float(np.sqrt(np.mean(np.sum(resid[:, :2] ** 2, axis=1)))), 2),
        "gps_rms_z_m": round(float(np.sqrt(np.mean(resid[:, 2] ** 2))), 2),
        "gps_max_xy_m": round(float(np.max(np.linalg.norm(resid[:, :2], axis=1))), 2),
        "camera": {"f": round(f, 1), "cx": round(cx, 1), "cy": round(cy, 1), "k": round(k, 5)},
        "seconds": seconds,
    }
    return IndependentModel(epsg, images, xyz, errors, tracks, {n: gps[n] for n in common}, stats)


# -- where each photo's content lands in the map ---------------------------------------------------
@dataclass(frozen=True)
class Cluster:
    """One set of matches consistent with one homography: how far (m) the map puts them from the model.

    ``dx, dy`` the median offset vector (map minus model, east and north), ``median_m`` the median of
    the offsets' lengths, ``extent`` the fraction of the photo's width x height the inliers span.
    """

    inliers: int
    dx: float
    dy: float
    median_m: float
    p90_m: float
    extent: float


@dataclass(frozen=True)
class PhotoOffset:
    """Where one photo's content lands in the map, against where the independent model puts it.

    The first cluster (the most inliers) gives ``inliers``, ``median_m`` and ``dx, dy``; ``doubled``
    says another cluster of at least ``min_second`` inliers sits more than ``separation_m`` from it
    (the photo's content appears twice), ``doubled_m`` the largest such distance.
    """

    name: str
    matches: int  # ratio-test matches
    map_res_m: float  # resolution the map window was read at
    clusters: tuple[Cluster, ...] = ()
    doubled: bool = False
    doubled_m: float = math.nan
    note: str = ""

    @property
    def inliers(self) -> int:
        return self.clusters[0].inliers if self.clusters else 0

    @property
    def median_m(self) -> float:
        return self.clusters[0].median_m if self.clusters else math.nan

    @property
    def dx(self) -> float:
        return self.clusters[0].dx if self.clusters else math.nan

    @property
    def dy(self) -> float:
        return self.clusters[0].dy if self.clusters else math.nan


@dataclass(frozen=True)
class OffsetSummary:
    """The offsets of a whole map: over the photos with matches, the median and the largest of their
    median offsets, the median offset vector; the doubled photos and those without matches."""

    photos: int
    median_m: float
    max_m: float
    dx: float
    dy: float
    doubled: tuple[str, ...]
    unmatched: tuple[str, ...]


def _read_gray(path: Path, side: int) -> np.ndarray:
    """The photo in grey, its long side ``side`` px (area resampling, via a half-size JPEG decode)."""
    img = cv2.imread(str(path), cv2.IMREAD_REDUCED_GRAYSCALE_2)
    if img is None:
        raise OSError(f"cannot decode {path}")
    h, w = img.shape
    s = side / max(h, w)
    return cv2.resize(img, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA) if s < 1 else img


def _map_window(ds, bounds: tuple[float, float, float, float], res: float):
    """The map's pixels inside ``bounds`` (map CRS) at about ``res`` m: (gray, mask, affine of the read), or
    None when the map does not overlap ``bounds``."""
    from affine import Affine
    from rasterio.enums import Resampling
    from rasterio.errors import WindowError
    from rasterio.windows import Window, from_bounds

    win = from_bounds(*bounds, transform=ds.transform).round_offsets().round_lengths()
    try:
        win = win.intersection(Window(0, 0, ds.width, ds.height))
    except WindowError:  # the map does not reach the photo's surroundings at all
        return None
    factor = max(res / abs(ds.res[0]), 1.0)
    shape = (max(1, round(win.height / factor)), max(1, round(win.width / factor)))
    rgba = ds.read([1, 2, 3, 4], window=win, out_shape=(4, *shape), resampling=Resampling.average)
    corner = ds.transform @ Affine.translation(win.col_off, win.row_off)
    transform = corner @ Affine.scale(win.width / shape[1], win.height / shape[0])
    gray = cv2.cvtColor(np.ascontiguousarray(rgba[:3].transpose(1, 2, 0)), cv2.COLOR_RGB2GRAY)
    mask = cv2.erode((rgba[3] == 255).astype(np.uint8) * 255, np.ones((5, 5), np.uint8))
    return gray, mask, transform


def _sift(gray: np.ndarray, n: int, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """SIFT keypoint positions (N, 2) (OpenCV pixels, centres at integers) and descriptors."""
    kps, desc = cv2.SIFT_create(nfeatures=n, enable_precise_upscale=True).detectAndCompute(gray, mask)
    return np.array([k.pt for k in kps], dtype=float).reshape(-1, 2), desc


def _ratio_matches(da: np.ndarray, db: np.ndarray, ratio: float) -> np.ndarray:
    """Index pairs (M, 2) of ``da`` -> ``db`` matches passing Lowe's ratio test (brute force, L2)."""
    knn = cv2.BFMatcher(cv2.NORM_L2).knnMatch(da, db, k=2)
    pairs = [(m[0].queryIdx, m[0].trainIdx) for m in knn if len(m) == 2 and m[0].distance < ratio * m[1].distance]
    return np.array(pairs, dtype=np.int64).reshape(-1, 2)


def _cluster(offsets: np.ndarray, uv: np.ndarray, camera: IndependentCamera) -> Cluster:
    lengths = np.linalg.norm(offsets, axis=1)
    span = (np.ptp(uv[:, 0]) / camera.width) * (np.ptp(uv[:, 1]) / camera.height)
    return Cluster(len(offsets), float(np.median(offsets[:, 0])), float(np.median(offsets[:, 1])),
                   float(np.median(lengths)), float(np.percentile(lengths, 90)), round(float(span), 3))  # fmt: skip


def content_offsets(map_tif: Path, photos_dir: Path, model: IndependentModel, *, side: int = 1600,
                    margin_m: float = 80.0, ratio: float = 0.8, ransac_m: float = 2.5, min_inliers: int = 12,
                    min_second: int = 20, separation_m: float = 3.0, max_clusters: int = 3,
                    photo_features: int = 5000, map_features: int = 12000,
                    names: Iterable[str] | None = None) -> dict[str, PhotoOffset]:  # fmt: skip
    """For every photo of ``photos_dir``, where its content lands in ``map_tif`` against ``model``.

    Each photo (long side ``side`` px) is matched with SIFT to the map window around its footprint in the
    model (plus ``margin_m``), read at about the photo's ground resolution (never finer than the map)
    with the alpha band as mask. Ratio-test matches go through a RANSAC homography (undistorted photo
    pixels -> map pixels, threshold ``ransac_m`` metres, loose for the roofs); its inliers form the
    first cluster; RANSAC on the remaining matches finds up to ``max_clusters - 1`` more (each kept with
    ``min_inliers`` or more). A match's offset is the horizontal vector from the photo pixel's position in
    the model (its ray meeting the model's DTM) to the matched map pixel. A photo is ``doubled`` when a
    later cluster of ``min_second`` or more inliers has a median offset more than ``separation_m`` from the
    first's: its content is in the map twice. Photos missing from the model or without ``min_inliers``
    inliers get no clusters (and a ``note``). ``names`` restricts the check to some photos (default: every
    JPEG of ``photos_dir``).
    """
    import rasterio
    from pyproj import Transformer

    cv2.setRNGSeed(SEED)
    out: dict[str, PhotoOffset] = {}
    t0 = time.perf_counter()
    with rasterio.open(map_tif) as ds:
        map_epsg = ds.crs.to_epsg()
        to_map = None
        if map_epsg != model.epsg:
            to_map = Transformer.from_crs(f"EPSG:{model.epsg}", ds.crs, always_xy=True)
        from_map = Transformer.from_crs(ds.crs, f"EPSG:{model.epsg}", always_xy=True) if to_map else None
        for name in list_jpegs(photos_dir) if names is None else list(names):
            if name not in model.images:
                out[name] = PhotoOffset(name, 0, math.nan, note="not in the independent model")
                continue
            im = model.images[name]
            cam = im.camera
            gray = _read_gray(Path(photos_dir) / name, side)
            scale = np.array([cam.width / gray.shape[1], cam.height / gray.shape[0]])
            res = max(model.pixel_size(name, float(scale[0])), abs(ds.res[0]))
            fp = model.footprint(name)[:, :2]
            if to_map is not None:
                fp = np.column_stack(to_map.transform(fp[:, 0], fp[:, 1]))
            bounds = (*(fp.min(axis=0) - margin_m), *(fp.max(axis=0) + margin_m))
            window = _map_window(ds, bounds, res)
            if window is None or not window[1].any():
                out[name] = PhotoOffset(name, 0, res, note="map empty around the photo")
                continue
            mgray, mask, transform = window
            p_xy, p_desc = _sift(gray, photo_features)
            m_xy, m_desc = _sift(mgray, map_features, mask)
            if p_desc is None or m_desc is None or len(m_xy) < 2:
                out[name] = PhotoOffset(name, 0, res, note="no features")
                continue
            pairs = _ratio_matches(p_desc, m_desc, ratio)
            uv = (p_xy[pairs[:, 0]] + 0.5) * scale  # COLMAP pixels of the full-size photo
            ideal = cam.normalised(uv) * cam.f  # undistorted, so that a plane maps by a homography
            dst = m_xy[pairs[:, 1]]
            xy = np.column_stack(transform @ (dst[:, 0] + 0.5, dst[:, 1] + 0.5))
            if from_map is not None:
                xy = np.column_stack(from_map.transform(xy[:, 0], xy[:, 1]))
            offsets = xy - model.ground(name, uv)[:, :2]
            clusters: list[Cluster] = []
            left = np.ones(len(pairs), bool)
            thr = ransac_m / abs(transform.a)
            while len(clusters) < max_clusters and left.sum() >= max(min_inliers, 4):
                idx = np.flatnonzero(left)
                _, inl = cv2.findHomography(ideal[idx], dst[idx], cv2.RANSAC, thr, maxIters=10000, confidence=0.9995)
                if inl is None or inl.sum() < min_inliers:
                    break
                sel = idx[inl.ravel().astype(bool)]
                clusters.append(_cluster(offsets[sel], uv[sel], cam))
                left[sel] = False
            apart = [math.hypot(c.dx - clusters[0].dx, c.dy - clusters[0].dy) for c in clusters[1:]
                     if c.inliers >= min_second]  # fmt: skip
            far = [d for d in apart if d > separation_m]
            out[name] = PhotoOffset(name, len(pairs), res, tuple(clusters), bool(far), max(far, default=math.nan),
                                    "" if clusters else "too few inliers")  # fmt: skip
    print(f"content offsets: {len(out)} photos in {time.perf_counter() - t0:.1f} s")
    return out


def summarize(offsets: dict[str, PhotoOffset]) -> OffsetSummary:
    """The map's figures over its photos (see :class:`OffsetSummary`)."""
    ok = [o for o in offsets.values() if o.clusters]
    med = np.array([o.median_m for o in ok])
    return OffsetSummary(
        photos=len(offsets),
        median_m=float(np.median(med)) if ok else math.nan,
        max_m=float(med.max()) if ok else math.nan,
        dx=float(np.median([o.dx for o in ok])) if ok else math.nan,
        dy=float(np.median([o.dy for o in ok])) if ok else math.nan,
        doubled=tuple(o.name for o in offsets.values() if o.doubled),
        unmatched=tuple(o.name for o in offsets.values() if not o.clusters),
    )


def format_offsets(offsets: dict[str, PhotoOffset]) -> str:
    """A per-photo table: matches, inliers, median offset and vector, the other clusters, and the summary."""
    lines = [f"{'photo':<14}{'matches':>8}{'inliers':>8}{'median m':>10}{'p90 m':>8}{'dx m':>8}{'dy m':>8}  "
             "other clusters (inliers: dx, dy m)"]  # fmt: skip
    for o in offsets.values():
        c = o.clusters[0] if o.clusters else None
        other = "; ".join(f"{k.inliers}: {k.dx:+.1f}, {k.dy:+.1f}" for k in o.clusters[1:])
        flag = f"  DOUBLED {o.doubled_m:.1f} m" if o.doubled else ""
        if c is None:
            lines.append(f"{o.name:<14}{o.matches:>8}{0:>8}{'-':>10}{'-':>8}{'-':>8}{'-':>8}  {o.note}")
        else:
            lines.append(f"{o.name:<14}{o.matches:>8}{c.inliers:>8}{c.median_m:>10.2f}{c.p90_m:>8.2f}{c.dx:>+8.2f}"
                         f"{c.dy:>+8.2f}  {other}{flag}")  # fmt: skip
    s = summarize(offsets)
    lines.append(f"median {s.median_m:.2f} m, max {s.max_m:.2f} m, vector ({s.dx:+.2f}, {s.dy:+.2f}) m; "
                 f"doubled {list(s.doubled)}; unmatched {list(s.unmatched)}")  # fmt: skip
    return "\n".join(lines)


# -- maps to check the check -------------------------------------------------------------------------
def shifted_copy(src: Path, dst: Path, dx: float, dy: float) -> Path:
    """A GeoTIFF copy of ``src`` whose georeference is moved by ``(dx, dy)`` metres (pixels unchanged)."""
    import rasterio
    from affine import Affine

    with rasterio.open(src) as s:
        moved = Affine.translation(dx, dy) @ s.transform
        profile = s.profile | {"driver": "GTiff", "tiled": True, "blockxsize": 512, "blockysize": 512,
                               "compress": "deflate", "transform": moved}  # fmt: skip
        with rasterio.open(dst, "w", **profile) as d:
            for _, win in s.block_windows(1):
                d.write(s.read(window=win), window=win)
            d.colorinterp = s.colorinterp
    return Path(dst)


def render_model_map(model: IndependentModel, photos_dir: Path, out_tif: Path, gsd: float) -> Path:
    """An RGBA GeoTIFF of the photos orthorectified with the independent model's own poses onto its DTM.

    Uses the pipeline's renderer (:func:`sensors.mosaic.ortho.render_tile`), only with the model's
    poses, intrinsics (converted to OpenCV pixel centres) and ground: checked against the same model,
    it must show offsets near zero (the harness's self-consistency).
    """
    import rasterio
    from rasterio.enums import ColorInterp

    from sensors.mosaic.geometry import Grid, Ground, View
    from sensors.mosaic.ortho import render_tile
    from sensors.projection import Heightfield, Intrinsics

    names = sorted(model.images)
    vs = []
    for i, n in enumerate(names):
        im = model.images[n]
        c = im.camera
        intr = Intrinsics(c.width, c.height, c.f, c.f, c.cx - 0.5, c.cy - 0.5, k1=c.k)
        vs.append(View(i, Path(photos_dir) / n, intr, np.asarray(im.centre, float), np.asarray(im.rotation, float)))
    dtm = model.dtm
    ground = Ground(dem=Heightfield.from_transform(dtm.z.astype(np.float32), dtm.transform))
    fps = np.vstack([model.footprint(n)[:, :2] for n in names])
    grid = Grid.covering((*fps.min(axis=0), *fps.max(axis=0)), gsd, model.epsg)
    rgba = np.zeros((grid.height, grid.width, 4), np.uint8)
    for window in grid.tiles(2048):
        c0, r0, w, h = window
        rgba[r0 : r0 + h, c0 : c0 + w] = render_tile(grid, window, vs, ground, photo_gsd=model.native_gsd).rgba
    out_tif = Path(out_tif)
    with rasterio.open(out_tif, "w", driver="GTiff", width=grid.width, height=grid.height, count=4, dtype="uint8",
                       crs=f"EPSG:{model.epsg}", transform=grid.transform, photometric="RGB", tiled=True,
                       blockxsize=512, blockysize=512, compress="deflate") as ds:  # fmt: skip
        ds.write(rgba.transpose(2, 0, 1))
        ds.colorinterp = [ColorInterp.red, ColorInterp.green, ColorInterp.blue, ColorInterp.alpha]
    return out_tif
