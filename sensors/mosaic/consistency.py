"""The map's own consistency, measured on the map: where each photo's content lands against what the map shows.

Tie-point residuals say how well the adjustment fitted its own matches; they do not see a photo the
matcher missed, a wrong terrain model, or a blend that shows a road twice. This module measures the
finished map instead. For each photo *i*:

1. photo *i* alone is orthorectified (:func:`sensors.mosaic.ortho.render_tile` with ``[view]``) onto a
   window of the map grid covering its footprint plus a margin (tens of metres: a bad map is that far
   off), at a resolution that keeps the window within ``max_px`` (a power-of-two multiple of the map's
   cell, never finer);
2. the same window of the final map (``map.tif``, RGBA) is read and averaged to that resolution
   (block means of whole map cells, so the two rasters share their pixel grid exactly);
3. where the map shows *other* photos (the owner grid, see :mod:`sensors.mosaic.pipeline`, is not *i*;
   where *i* is shown the offset is trivially 0, and a feather band around that part is left out,
   since the blend there still carries *i*'s own pixels), SIFT features of both rasters are matched
   (ratio test) and the displacement of the matches is reduced to its dominant translation by an
   exhaustive one-point consensus (RANSAC for a translation, without the sampling): the median
   displacement of the inliers is the photo's offset, in metres;
4. per neighbour *j* (matches whose map keypoint lies where *j* is shown) the same consensus gives the
   seam misregistration between *i* and *j*;
5. a **doubled** photo is one whose content shows in the map at two places more than 3 map GSD apart
   (a road drawn twice where two photos disagree): a second consensus on the outliers of the first,
   or a neighbour's part whose own consensus lies that far from the dominant one. The two must also
   be clear of each other's inlier band (2 x 1.5 window pixels), so at a coarse working resolution
   only larger doublings are called. A second copy shifted along the baseline between the two cameras
   by what a plausible height above the ground model explains is named as that: parallax of trees or
   roofs (the map's ground is a terrain model), not a misregistration (:func:`_relief_height`).

Offsets are signed as ``(dx_m, dy_m)`` east/north: the map shows the photo's content that far from
where the photo's own pose puts it. A window is at most ``max_px`` pixels on its longer side; the
cost is two SIFT passes over it (measured: 1-2 s of CPU per photo at 1000 x 900 px, 0.5-1 s at 512 px).

:func:`map_consistency` runs one Dask task per photo and summarises: photos measured, median and max
offset (m and map GSD), the worst photos, doubled photos, seams per pair, and a verdict line; 3 map
GSD is the threshold of a visible defect.

Feature matching rather than phase correlation: the compared area is a ragged, partial region
(the parts of the footprint other photos own), lighting differs between photos, and shifts may be tens
of metres, where a correlation peak over a masked window is unreliable.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .geometry import Grid, Ground, View, footprints, nadir_gsd
from .ortho import render_tile

__all__ = ["PhotoOffset", "map_consistency", "photo_offset", "summarise"]

THRESHOLD_GSD = 3.0  # a misregistration larger than this (map GSD) is a visible defect
_MIN_INLIERS = 8  # matches agreeing on one translation for a photo's offset (or a second copy)
_MIN_NEIGHBOUR_INLIERS = 6  # the same, on the part one neighbour owns
_MIN_COMPARE_PX = 256  # compared pixels below which nothing is attempted
_N_FEATURES = 6000
_RATIO = 0.8
_CONTRAST = 0.02  # SIFT contrast threshold: below OpenCV's 0.04, for weak texture (grass, tarmac)
_TOL = 1.5  # window pixels: matches within this of a translation agree with it (SIFT locates to a few tenths)


@dataclass(frozen=True)
class PhotoOffset:
    """How far one photo's content lands from where the map shows it (measured where other photos are shown)."""

    name: str
    offset_m: float | None  # magnitude of the shift (m) between the photo's ortho and the map; None: not measurable
    dx_m: float | None  # shift east (m): the map shows the photo's content this far east of where the photo puts it
    dy_m: float | None  # shift north (m)
    overlap_px: int  # window pixels compared (both valid, shown by another photo)
    neighbours: dict[str, float]  # owner photo name -> offset (m) on the part it owns
    score: float  # inlier ratio of the dominant translation (0 when not measured)
    inliers: int = 0  # matches agreeing with the offset
    matches: int = 0  # ratio-test matches tried
    doubled_m: float | None = None  # distance (m) between the two copies when the content shows twice
    doubled_in: tuple[str, ...] = ()  # the photos that show the second copy
    relief_m: float | None = None  # when the doubling is parallax: the height (m) of what stands above the ground
    window_gsd: float = 0.0  # cell (m) of the compared rasters
    seconds: float = 0.0


def _empty(name: str, overlap_px: int = 0, window_gsd: float = 0.0, t0: float | None = None) -> PhotoOffset:
    secs = round(time.perf_counter() - t0, 3) if t0 is not None else 0.0
    return PhotoOffset(name, None, None, None, int(overlap_px), {}, 0.0, window_gsd=window_gsd, seconds=secs)


# -- rasters --------------------------------------------------------------------------------------
def _window(grid: Grid, bounds: tuple[float, float, float, float], base_gsd: float,
            max_px: int) -> tuple[int, int, int, Grid] | None:  # fmt: skip
    """The map pixels ``(col_off, row_off, k)`` and the window grid (cell ``k`` map cells) covering ``bounds``.

    ``k`` is a power of two (a factor of the map's overviews, see :func:`_read_map`) and the window
    starts on a multiple of ``k`` map pixels, so each window cell is a whole block of map cells.
    """
    g = grid.gsd
    xmin, ymin, xmax, ymax = bounds
    c0 = max(0, math.floor((xmin - grid.x0) / g))
    c1 = min(grid.width, math.ceil((xmax - grid.x0) / g))
    r0 = max(0, math.floor((grid.y0 - ymax) / g))
    r1 = min(grid.height, math.ceil((grid.y0 - ymin) / g))
    if c1 <= c0 or r1 <= r0:
        return None
    need = max(1, round(base_gsd / g), math.ceil(max(c1 - c0, r1 - r0) / max_px))
    k = 1 << (need - 1).bit_length()
    c0, r0 = c0 // k * k, r0 // k * k
    w, h = (c1 - c0) // k, (r1 - r0) // k
    if min(w, h) < 16:
        return None
    return c0, r0, k, Grid(grid.epsg, grid.x0 + c0 * g, grid.y0 - r0 * g, k * g, w, h)


def _read_map(map_path: Path, c0: int, r0: int, k: int, w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    """RGB (h, w, 3) and full-coverage mask of the map's pixels ``[r0, r0 + h k) x [c0, c0 + w k)``, k x k averaged.

    The map's own overview of factor ``k`` holds exactly these block means when the map's width and
    height are multiples of ``k`` (the pipeline pads its grid so: :data:`sensors.mosaic.pipeline.GRID_MULTIPLE`)
    and ``c0``, ``r0`` too: then it is read as is (1/k^2 of the pixels; measured at k = 8 on 12 MP photos,
    0.9 s of the check's 2.1 s per photo went into reading and averaging full-resolution pixels).
    Otherwise the block means are taken here, over full-resolution strips (memory: a strip): GDAL's
    resampled reads of an overview whose cells are not exactly ``k`` map cells were measured 0.3 of a
    window pixel off (a bias of 0.5 map GSD at k = 2).
    """
    import rasterio
    from rasterio.windows import Window

    with rasterio.open(map_path) as ds:
        if k > 1 and ds.width % k == 0 and ds.height % k == 0 and c0 % k == 0 and r0 % k == 0:
            factors = ds.overviews(1)
            if k in factors:
                with rasterio.open(map_path, overview_level=factors.index(k)) as ov:
                    return _rgb_alpha(ov, Window(c0 // k, r0 // k, w, h))
        rgb = np.zeros((h, w, 3), np.uint8)
        full = np.zeros((h, w), bool)
        rows = max(1, (1 << 22) // (w * k * k))  # output rows per strip: 4 M full-resolution pixels (16 MB)
        for s0 in range(0, h, rows):
            n = min(rows, h - s0)
            srgb, salpha = _rgb_alpha(ds, Window(c0, r0 + s0 * k, w * k, n * k), raw=True)
            data = np.concatenate([np.moveaxis(srgb, -1, 0), salpha[None]])
            blocks = data.reshape(4, n, k, w, k).mean(axis=(2, 4), dtype=np.float32)
            rgb[s0 : s0 + n] = np.moveaxis(blocks[:3] + 0.5, 0, -1).astype(np.uint8)
            full[s0 : s0 + n] = blocks[3] >= 254.5
    return rgb, full


def _rgb_alpha(ds, win, raw: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """RGB (h, w, 3) of a window and its coverage: alpha >= 254.5 (or the alpha itself when ``raw``).
    The map is RGBA, or a JPEG COG: RGB and an internal mask."""
    if ds.count >= 4:
        data = ds.read([1, 2, 3, 4], window=win)
    else:
        data = np.concatenate([ds.read([1, 2, 3], window=win), ds.read_masks(1, window=win)[None]])
    rgb = np.ascontiguousarray(np.moveaxis(data[:3], 0, -1))
    return rgb, (data[3] if raw else data[3] >= 254.5)


def _owner_on(wgrid: Grid, owner: np.ndarray, transform) -> np.ndarray:
    """The owner grid sampled (nearest) at the window's pixel centres; -1 outside it."""
    xs = wgrid.x0 + (np.arange(wgrid.width) + 0.5) * wgrid.gsd
    ys = wgrid.y0 - (np.arange(wgrid.height) + 0.5) * wgrid.gsd
    cols = np.floor((xs - transform.c) / transform.a).astype(np.int64)
    rows = np.floor((ys - transform.f) / transform.e).astype(np.int64)
    cin = (cols >= 0) & (cols < owner.shape[1])
    rin = (rows >= 0) & (rows < owner.shape[0])
    out = owner[np.ix_(np.clip(rows, 0, owner.shape[0] - 1), np.clip(cols, 0, owner.shape[1] - 1))].astype(np.int32)
    out[~rin, :] = -1
    out[:, ~cin] = -1
    return out


def _grey(rgb: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Grayscale for matching: invalid pixels filled with the valid median (no hard edge to lock onto)."""
    g = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    if valid.any():
        g = np.where(valid, g, np.uint8(np.median(g[valid])))
    return np.ascontiguousarray(g, dtype=np.uint8)


def _erode(mask: np.ndarray, px: float) -> np.ndarray:
    """Pixels of ``mask`` at least ``px`` pixels away from its outside."""
    if px <= 0 or not mask.any():
        return mask
    dist = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 3)
    return dist > px


def _features(img: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    sift = cv2.SIFT_create(nfeatures=_N_FEATURES, enable_precise_upscale=True, contrastThreshold=_CONTRAST)
    kps, desc = sift.detectAndCompute(img, mask.astype(np.uint8) * 255)
    if desc is None or not kps:
        return np.zeros((0, 2), np.float64), None
    return np.array([k.pt for k in kps], np.float64), desc


def _match(da: np.ndarray, db: np.ndarray) -> np.ndarray:
    """Ratio-test matches ``(ia, ib)`` between two SIFT descriptor sets."""
    if len(da) < 2 or len(db) < 2:
        return np.zeros((0, 2), np.int64)
    knn = cv2.BFMatcher(cv2.NORM_L2).knnMatch(da, db, k=2)
    pairs = [(m[0].queryIdx, m[0].trainIdx) for m in knn if len(m) == 2 and m[0].distance < _RATIO * m[1].distance]
    return np.array(pairs, np.int64).reshape(-1, 2)


# -- consensus ------------------------------------------------------------------------------------
def _consensus(d: np.ndarray, tol: float, max_candidates: int = 600) -> tuple[np.ndarray, np.ndarray]:
    """The dominant translation of displacement vectors ``d`` (n, 2): ``(centre (2,), inlier mask (n,))``.

    Every displacement (or an even subset of ``max_candidates``) is a one-point hypothesis; the one
    with most displacements within ``tol`` wins, and its centre is refined as the median of its
    inliers (three times). Deterministic.
    """
    n = len(d)
    if n == 0:
        return np.zeros(2), np.zeros(0, bool)
    cand = d[np.linspace(0, n - 1, min(n, max_candidates)).astype(np.int64)]
    support = (np.linalg.norm(cand[:, None, :] - d[None, :, :], axis=2) < tol).sum(axis=1)
    centre = cand[int(np.argmax(support))]
    inl = np.linalg.norm(d - centre, axis=1) < tol
    for _ in range(3):
        centre = np.median(d[inl], axis=0)
        new = np.linalg.norm(d - centre, axis=1) < tol
        if not new.any() or (new == inl).all():
            break
        inl = new
    return centre, inl


# -- one photo ------------------------------------------------------------------------------------
def _name(names: Sequence[str], j) -> str:
    j = int(j)
    return str(names[j]) if 0 <= j < len(names) and names[j] else f"#{j}"


def photo_offset(
    grid: Grid,
    view: View,
    ground: Ground,
    map_path: Path,
    owner: np.ndarray,
    owner_transform,
    names: Sequence[str],
    *,
    gsd: float | None = None,
    max_px: int = 1024,
    margin_m: float | None = None,
    feather_px: float = 24.0,
    centres: np.ndarray | None = None,
) -> PhotoOffset:
    """The offset between ``view``'s own ortho and the map ``map_path`` where the map shows other photos.

    ``grid``: the map's grid (``map_path`` is written on it); ``owner``/``owner_transform``: the map's
    owner grid (view index per node, -1 where none) and its affine transform; ``names[k]`` is the
    name of the view of index ``k``. ``gsd``: the working cell (m), default the coarser of the map's
    cell and the photo's native GSD; it becomes the nearest power-of-two multiple of the map's cell
    (never finer than the map), coarsened further so the window stays within ``max_px`` pixels.
    ``map_path`` must be readable where this runs (a Dask worker: a shared filesystem, as the photos).
    ``margin_m`` (default: a quarter of the
    footprint's longer side, at least 20 m) is how far the map is searched around the footprint;
    ``feather_px`` (map pixels) the blend band next to the photo's own part, left out. ``centres[k]``: the
    camera centre of the view of index ``k`` (tells a doubling by relief from a misregistration). Returns a
    :class:`PhotoOffset` whose ``offset_m`` is None when not measurable (no other photo shown in its
    footprint, no texture, too few consistent matches).
    """
    t0 = time.perf_counter()
    name = view.name
    poly = footprints([view], ground)[0]
    if poly.is_empty:
        return _empty(name, t0=t0)
    fx0, fy0, fx1, fy1 = poly.bounds
    margin = margin_m if margin_m is not None else max(20.0, 0.25 * max(fx1 - fx0, fy1 - fy0))
    native = nadir_gsd(view, ground)
    base = max(grid.gsd, gsd or 0.0, native if gsd is None and math.isfinite(native) else 0.0)
    win = _window(grid, (fx0 - margin, fy0 - margin, fx1 + margin, fy1 + margin), base, max_px)
    if win is None:
        return _empty(name, t0=t0)
    c0, r0, k, wgrid = win
    w, h, wg = wgrid.width, wgrid.height, wgrid.gsd

    own = _owner_on(wgrid, owner, owner_transform)
    # Others' part, minus the feather band along the photo's own part (its pixels are blended in there).
    others = (own >= 0) & (own != view.index) & _erode(own != view.index, feather_px / k)
    if not others.any():
        return _empty(name, window_gsd=wg, t0=t0)
    tile = render_tile(wgrid, (0, 0, w, h), [view], ground, step=16,
                       photo_gsd=native if math.isfinite(native) else None)  # fmt: skip
    valid_i = _erode(tile.rgba[..., 3] == 255, 3)
    rgb_m, valid_m = _read_map(Path(map_path), c0, r0, k, w, h)
    valid_m = _erode(valid_m, 3)
    mask_i = valid_i & valid_m & others
    mask_m = valid_m & others
    overlap = int(mask_i.sum())
    if overlap < _MIN_COMPARE_PX:
        return _empty(name, overlap, wg, t0)

    xy_i, desc_i = _features(_grey(tile.rgba[..., :3], valid_i), mask_i)
    xy_m, desc_m = _features(_grey(rgb_m, valid_m), mask_m)
    if desc_i is None or desc_m is None:
        return _empty(name, overlap, wg, t0)
    pairs = _match(desc_i, desc_m)
    if len(pairs) < _MIN_INLIERS:
        return _empty(name, overlap, wg, t0)
    a, b = xy_i[pairs[:, 0]], xy_m[pairs[:, 1]]
    d = b - a  # window pixels: x right (east), y down (south)
    bi = np.clip(np.round(b).astype(np.int64), 0, [w - 1, h - 1])
    at = own[bi[:, 1], bi[:, 0]]  # who the map shows at each match's map keypoint
    tol = _TOL

    centre, inl = _consensus(d, tol)
    n_in = int(inl.sum())
    if n_in < _MIN_INLIERS:
        return _empty(name, overlap, wg, t0)

    # Per neighbour: the same consensus on the matches that land in its part (a seam's misregistration).
    clear = max(THRESHOLD_GSD * grid.gsd, 2 * tol * wg)  # a second copy: clear of the first's band, and visible
    neighbours: dict[str, float] = {}
    apart: dict[str, float] = {}  # neighbours whose part shows the content elsewhere than the rest does
    apart_vec: dict[int, np.ndarray] = {}  # their consensus shifts (window pixels), to tell relief by
    for j in np.unique(at[at >= 0]):
        sel = at == j
        if sel.sum() < _MIN_NEIGHBOUR_INLIERS:
            continue
        cj, ij = _consensus(d[sel], tol)
        if ij.sum() >= _MIN_NEIGHBOUR_INLIERS:
            neighbours[_name(names, j)] = round(float(np.hypot(*cj)) * wg, 4)
            sep = float(np.hypot(*(cj - centre))) * wg
            if sep > clear:
                apart[_name(names, j)] = sep
                apart_vec[int(j)] = cj

    # Doubled: a second consistent cluster among the outliers (wherever it lies), or a neighbour's part
    # that consistently shows the content elsewhere than the dominant offset.
    doubled_m, doubled_in, second_at = None, (), {}
    out = ~inl
    if out.sum() >= _MIN_INLIERS:
        c2, i2 = _consensus(d[out], tol)
        sep = float(np.hypot(*(c2 - centre))) * wg
        if i2.sum() >= max(_MIN_INLIERS, 0.02 * n_in) and sep > clear:
            doubled_m = round(sep, 4)
            js, counts = np.unique(at[out][i2], return_counts=True)
            second_at = {int(j): c2 for j, c in zip(js, counts, strict=True) if j >= 0 and c >= 0.2 * i2.sum()}
            doubled_in = tuple(_name(names, j) for j in second_at)
    if doubled_m is None and apart:
        doubled_m = round(float(np.median(list(apart.values()))), 4)
        doubled_in = tuple(apart)
        second_at = apart_vec
    relief_m = None
    if doubled_m is not None and centres is not None:
        relief_m = _relief_height(view, ground, centres, {j: (c - centre) * [wg, -wg] for j, c in second_at.items()})

    dx, dy = float(centre[0]) * wg, -float(centre[1]) * wg
    return PhotoOffset(
        name=name, offset_m=round(math.hypot(dx, dy), 4), dx_m=round(dx, 4), dy_m=round(dy, 4), overlap_px=overlap,
        neighbours=neighbours, score=round(n_in / len(d), 3), inliers=n_in, matches=len(d), doubled_m=doubled_m,
        doubled_in=doubled_in, relief_m=relief_m, window_gsd=wg, seconds=round(time.perf_counter() - t0, 3),
    )  # fmt: skip


def _relief_height(view: View, ground: Ground, centres: np.ndarray, shifts: dict[int, np.ndarray]) -> float | None:
    """The height above the ground model that explains every second copy as parallax, or None.

    A point standing ``h`` above the surface the map is projected on is drawn by cameras ``i`` and ``j``
    (``H`` above that surface) at places ``h / (H - h) (C_i - C_j)`` apart: along their baseline. A second
    copy shifted along the baseline (within 25 deg) by a height between 0.5 m and half the flying height
    is relief (trees, roofs; ``--dsm`` projects onto a surface model, which lowers it: on the DJI set from
    2 m apart, 9-10 m high, to 1 m, 4-5 m); anything else is a misregistration.
    """
    hs = []
    z0 = float(ground.height(np.array([view.position[0]]), np.array([view.position[1]]))[0])
    big_h = float(view.position[2]) - z0
    for j, s in shifts.items():
        if not (0 <= j < len(centres)) or not np.all(np.isfinite(centres[j])):
            return None
        b = (view.position[:2] - centres[j][:2]).astype(float)
        nb, ns = float(np.hypot(*b)), float(np.hypot(*s))
        if nb < 1e-6 or ns < 1e-9 or float(b @ s) / (nb * ns) < math.cos(math.radians(25)):
            return None
        hs.append(ns * big_h / (nb + ns))
    if not hs or not all(0.5 <= h <= 0.5 * big_h for h in hs):
        return None
    return round(float(np.median(hs)), 2)


# -- the whole map --------------------------------------------------------------------------------
def _quiet(stage: str, done: int, total: int) -> None:
    pass


def map_consistency(client, grid: Grid, vs: Sequence[View], ground: Ground, map_path, owner: np.ndarray,
                    owner_transform, *, progress: Callable[[str, int, int], None] | None = None,
                    gsd: float | None = None, max_px: int = 1024) -> dict:  # fmt: skip
    """Measure every view's :func:`photo_offset` (one Dask task each on ``client``) and :func:`summarise`.

    ``progress(stage, done, total)`` is called with stage ``"consistency"`` as tasks finish.
    """
    from .cluster import gather_as_completed

    t0 = time.perf_counter()
    size = max((v.index for v in vs), default=-1) + 1
    names = [""] * size
    centres = np.full((size, 3), np.nan)
    for v in vs:
        names[v.index] = v.name
        centres[v.index] = v.position
    ground_f = client.scatter(ground, broadcast=True, hash=False) if ground.dem is not None else ground
    owner_f = client.scatter(owner, broadcast=True, hash=False)
    futures = [client.submit(photo_offset, grid, v, ground_f, Path(map_path), owner_f, owner_transform, names,
                             gsd=gsd, max_px=max_px, centres=centres, pure=False) for v in vs]  # fmt: skip
    results = list(gather_as_completed(futures, "consistency", progress or _quiet))
    order = {v.name: k for k, v in enumerate(vs)}
    results.sort(key=lambda r: order.get(r.name, len(order)))
    summary = summarise(results, grid.gsd)
    summary["seconds"] = round(time.perf_counter() - t0, 3)
    return summary


def _r(x: float, nd: int = 3) -> float:
    return round(float(x), nd)


def summarise(offsets: Sequence[PhotoOffset], map_gsd: float, threshold_gsd: float = THRESHOLD_GSD) -> dict:
    """The map-level figures of per-photo offsets (JSON-ready): see the module docstring.

    Keys: ``photos``, ``measured``, ``unmeasured`` (names), ``median_m``/``max_m``/``median_gsd``/
    ``max_gsd``, ``worst`` (up to 5), ``off`` (photos beyond ``threshold_gsd``), ``doubled``, ``seams``
    (per pair: the mean of the two directions where both were measured), ``consistent`` (bool or None
    when nothing was measurable), ``verdict`` (one line), ``per_photo``, ``seconds_per_photo``.
    """
    limit = threshold_gsd * map_gsd
    measured = [o for o in offsets if o.offset_m is not None]
    out: dict = {"photos": len(offsets), "measured": len(measured), "gsd_m": map_gsd, "threshold_gsd": threshold_gsd,
                 "unmeasured": [o.name for o in offsets if o.offset_m is None]}  # fmt: skip
    off = np.array([o.offset_m for o in measured], float)
    if len(off):
        out.update(median_m=_r(np.median(off)), max_m=_r(off.max()), median_gsd=_r(np.median(off) / map_gsd, 2),
                   max_gsd=_r(off.max() / map_gsd, 2))  # fmt: skip
    else:
        out.update(median_m=None, max_m=None, median_gsd=None, max_gsd=None)
    ranked = sorted(measured, key=lambda o: -o.offset_m)
    out["worst"] = [{"photo": o.name, "offset_m": _r(o.offset_m), "offset_gsd": _r(o.offset_m / map_gsd, 2)}
                    for o in ranked[:5]]  # fmt: skip
    bad = [o for o in ranked if o.offset_m > limit]
    out["off"] = [{"photo": o.name, "offset_m": _r(o.offset_m), "dx_m": _r(o.dx_m), "dy_m": _r(o.dy_m)} for o in bad]
    doubled = [o for o in offsets if o.doubled_m is not None]
    out["doubled"] = [{"photo": o.name, "separation_m": _r(o.doubled_m), "in": list(o.doubled_in),
                       "relief_m": o.relief_m} for o in doubled]  # fmt: skip

    pairs: dict[tuple[str, str], list[float]] = {}
    for o in offsets:
        for j, m in o.neighbours.items():
            pairs.setdefault(tuple(sorted((o.name, j))), []).append(m)
    seam = {p: float(np.mean(v)) for p, v in pairs.items()}
    sv = np.array(list(seam.values()), float)
    worst_pairs = sorted(seam.items(), key=lambda kv: -kv[1])
    out["seams"] = {"pairs": len(seam), "median_m": _r(np.median(sv)) if len(sv) else None,
                    "max_m": _r(sv.max()) if len(sv) else None,
                    "median_gsd": _r(np.median(sv) / map_gsd, 2) if len(sv) else None,
                    "max_gsd": _r(sv.max() / map_gsd, 2) if len(sv) else None,
                    "worst": [{"pair": list(p), "offset_m": _r(m)} for p, m in worst_pairs[:5]]}  # fmt: skip

    warnings = []
    if bad:
        listed = ", ".join(f"{o.name} {o.offset_m:.1f} m" for o in bad[:5]) + (", ..." if len(bad) > 5 else "")
        warnings.append(f"{len(bad)} photo{'s' if len(bad) > 1 else ''} off by more than {threshold_gsd:g} GSD "
                        f"({listed})")  # fmt: skip
    flagged = {o.name for o in bad}
    shown = [o for o in doubled if o.name not in flagged]  # a photo already off: its warning says more
    for relief in (False, True):  # misregistrations first; then parallax of what stands above the ground model
        groups: dict[str, list[PhotoOffset]] = {}
        for o in shown:
            if (o.relief_m is not None) == relief:
                # Grouped by where the second copy shows: one bad photo is seen doubled from all its neighbours.
                groups.setdefault("/".join(o.doubled_in) + "'s part" if o.doubled_in else o.name, []).append(o)
        if not groups:
            continue
        listed = ", ".join(f"in {g} ({np.median([o.doubled_m for o in v]):.1f} m apart"
                           + (f", {np.median([o.relief_m for o in v]):.0f} m high" if relief else "")
                           + f", seen from {len(v)} photo{'s' if len(v) > 1 else ''})"
                           for g, v in sorted(groups.items(), key=lambda kv: -len(kv[1])))  # fmt: skip
        warnings.append(f"features standing above the ground model (trees, roofs) drawn twice by parallax {listed}"
                        if relief else f"doubled features {listed}")  # fmt: skip
    seams_bad = [(p, m) for p, m in worst_pairs if m > limit and not (set(p) & flagged)]
    if seams_bad:
        listed = ", ".join(f"{a}|{b} {m:.1f} m" for (a, b), m in seams_bad[:5])
        warnings.append(f"{len(seams_bad)} seam{'s' if len(seams_bad) > 1 else ''} misregistered by more than "
                        f"{threshold_gsd:g} GSD ({listed})")  # fmt: skip
    if not measured:
        out["consistent"] = None
        out["verdict"] = "map consistency not measurable: no photo's footprint shows another photo with texture"
    elif warnings:
        out["consistent"] = False
        out["verdict"] = "WARNING: " + "; ".join(warnings)
    else:
        out["consistent"] = True
        unmeasured = len(offsets) - len(measured)
        out["verdict"] = (f"map consistent: median {out['median_gsd']:.2f} GSD, max {out['max_gsd']:.2f} GSD "
                          f"over {len(measured)} photos" + (f" ({unmeasured} not measurable)" if unmeasured else ""))
    secs = [o.seconds for o in offsets]
    out["seconds_per_photo"] = _r(np.mean(secs)) if secs else None
    out["per_photo"] = [{"photo": o.name, "offset_m": o.offset_m, "dx_m": o.dx_m, "dy_m": o.dy_m,
                         "offset_gsd": _r(o.offset_m / map_gsd, 2) if o.offset_m is not None else None,
                         "overlap_px": o.overlap_px, "inliers": o.inliers, "matches": o.matches, "score": o.score,
                         "neighbours": o.neighbours, "doubled_m": o.doubled_m, "doubled_in": list(o.doubled_in),
                         "relief_m": o.relief_m, "window_gsd": o.window_gsd,
                         "seconds": o.seconds} for o in offsets]  # fmt: skip
    return out
