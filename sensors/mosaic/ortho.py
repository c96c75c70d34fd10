"""Orthorectify and blend one output tile from the views that see it.

The inverse method (REFERENCES §9): every output cell is a ground point ``(x, y, ground(x, y))``;
projecting it into a view gives the photo pixel to sample. Exact projection runs on a coarse node
grid (every ``step`` output pixels) and is interpolated separably to full resolution (the mapping is
smooth, so this costs nothing in accuracy and saves the per-pixel trigonometry); ``cv2.remap`` then
samples the photo.

Blending is a *soft nearest-nadir* choice: at every node each view gets an off-axis angle ``a`` (the
angle between its optical axis and the ray to the point). The most nadir view wins, and the weights
``exp(-(a - a_min) / tau)`` fall off over a feather band of ``feather_px`` output pixels either side
of the seam, where two views' angles cross. A view also fades out over the outer 3 % of its frame,
so no photo edge shows as a hard line. Views whose weight stays negligible over the whole tile are not
even decoded: a tile reads only the photos that contribute to it, which bounds its memory whatever the
number of photos.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from sensors.projection import project_points

from .geometry import Grid, Ground, View

__all__ = ["TileResult", "render_tile"]

_EPS = 1e-3  # weights below this fraction of a node's total are dropped
_STRIP = 256  # output rows per pass when a view is remapped into a tile


@dataclass(frozen=True, eq=False)
class TileResult:
    """One rendered tile: ``rgba`` (h, w, 4) uint8; ``count`` and ``owner`` on the node grid."""

    window: tuple[int, int, int, int]
    rgba: np.ndarray
    count: np.ndarray  # views seeing each node
    owner: np.ndarray  # view index with the largest weight at each node, -1 where none
    step: int
    used: tuple[int, ...]  # view indices that contributed
    unreadable: tuple[int, ...] = ()  # view indices whose image could not be decoded


def _nodes(n: int, step: int) -> np.ndarray:
    """Node pixel positions 0, step, ..., always ending on the last pixel."""
    return np.unique(np.r_[np.arange(0, n, step), n - 1]).astype(np.float64)


def _interp_axis(nodes: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """For pixels 0..n-1: the left node index and the fraction towards the next node."""
    px = np.arange(n, dtype=np.float64)
    i = np.clip(np.searchsorted(nodes, px, side="right") - 1, 0, max(len(nodes) - 2, 0))
    if len(nodes) < 2:
        return i, np.zeros(n)
    f = (px - nodes[i]) / (nodes[i + 1] - nodes[i])
    return i, f


def _upsample(m: np.ndarray, rows: tuple[np.ndarray, np.ndarray], cols: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Separable linear interpolation of a node grid ``m`` (kr, kc, ...) to full resolution (float32)."""
    ci, cf = cols
    ri, rf = rows
    lo, hi = int(ri.min()), int(min(ri.max() + 2, m.shape[0]))  # only the node rows these pixels use
    m = m[lo:hi]
    ri = ri - lo
    ci1 = np.minimum(ci + 1, m.shape[1] - 1)
    ri1 = np.minimum(ri + 1, m.shape[0] - 1)
    cf = cf.reshape((1, -1) + (1,) * (m.ndim - 2))
    a = m[:, ci] * (1 - cf) + m[:, ci1] * cf  # (kr, w, ...)
    rf = rf.reshape((-1, 1) + (1,) * (m.ndim - 2))
    return (a[ri] * (1 - rf) + a[ri1] * rf).astype(np.float32)


def _read(view: View, reduce: int) -> np.ndarray | None:
    flags = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4,
             8: cv2.IMREAD_REDUCED_COLOR_8}[reduce]  # fmt: skip
    return cv2.imread(str(view.path), flags)


def render_tile(
    grid: Grid,
    window: tuple[int, int, int, int],
    vs: Sequence[View],
    ground: Ground,
    *,
    step: int = 16,
    feather_px: float = 24.0,
    photo_gsd: float | None = None,
    gains: dict[int, np.ndarray] | None = None,
    region=None,
) -> TileResult:
    """Render the output ``window`` of ``grid`` from the candidate views ``vs`` (all may be tried).

    ``photo_gsd`` (m/px of the photos at nadir) lets the tile decode photos at 1/2, 1/4 or 1/8 size
    when the output is that much coarser. ``region`` (a shapely polygon in the grid frame) clips
    the output: pixels outside it stay transparent. ``gains`` maps a view index to per-channel multipliers
    (BGR) from the colour balance.
    """
    c_off, r_off, w, h = window
    nc, nr = _nodes(w, step), _nodes(h, step)
    gx = grid.x0 + (c_off + nc + 0.5) * grid.gsd
    gy = grid.y0 - (r_off + nr + 0.5) * grid.gsd
    X, Y = np.meshgrid(gx, gy)
    Z = ground.height(X, Y)
    pts = np.column_stack([X.ravel(), Y.ravel(), Z.ravel()])
    shape = X.shape

    uvs, angles, fades = [], [], []
    for v in vs:
        uv, vis = project_points(pts, v.intr, v.pose)
        d = (pts - v.position) @ v.rotation
        a = np.arctan2(np.hypot(d[:, 0], d[:, 1]), d[:, 2])
        edge = np.minimum.reduce([uv[:, 0] + 0.5, v.intr.width - 0.5 - uv[:, 0],
                                  uv[:, 1] + 0.5, v.intr.height - 0.5 - uv[:, 1]])  # fmt: skip
        fade = np.clip(edge / (0.03 * min(v.intr.width, v.intr.height)), 0.0, 1.0)
        fade[~vis | ~np.isfinite(fade)] = 0.0
        uvs.append(uv.reshape((*shape, 2)))
        angles.append(np.where(fade > 0, a, np.inf).reshape(shape))
        fades.append(fade.reshape(shape))
    count = np.zeros(shape, np.uint8)
    owner = np.full(shape, -1, np.int32)
    rgba = np.zeros((h, w, 4), np.uint8)
    if not vs:
        return TileResult(window, rgba, count, owner, step, ())

    A = np.stack(angles)  # (n, kr, kc)
    F = np.stack(fades)
    count = np.minimum((F > 0).sum(axis=0), 255).astype(np.uint8)
    a_min = A.min(axis=0)
    dist = np.array([max(v.position[2] - ground.mean_height, 1.0) for v in vs])
    tau = feather_px * grid.gsd / np.median(dist)  # radians of off-axis angle across the feather band
    with np.errstate(invalid="ignore"):
        W = np.where(np.isfinite(A), np.exp(-(A - a_min) / tau), 0.0) * F
    total = W.sum(axis=0)
    norm = np.divide(W, total, out=np.zeros_like(W), where=total > 0)
    W[norm < _EPS] = 0.0
    seen = total > 0
    owner[seen] = np.array([vs[i].index for i in range(len(vs))])[np.argmax(W, axis=0)[seen]]

    rows, cols = _interp_axis(nr, h), _interp_axis(nc, w)
    acc = np.zeros((h, w, 3), np.float32)
    wsum = np.zeros((h, w), np.float32)
    used, unreadable = [], []
    for k, v in enumerate(vs):
        active = W[k] > 0
        if not active.any():
            continue
        # The sub-rectangle of the tile where this view contributes (one node of slack each side).
        rr, cc = np.nonzero(active)
        r0, r1 = nr[max(rr.min() - 1, 0)], nr[min(rr.max() + 1, len(nr) - 1)]
        c0, c1 = nc[max(cc.min() - 1, 0)], nc[min(cc.max() + 1, len(nc) - 1)]
        r0, r1, c0, c1 = int(r0), int(r1) + 1, int(c0), int(c1) + 1
        reduce = 1
        if photo_gsd:
            while reduce < 8 and photo_gsd * reduce * 2 <= grid.gsd * 1.01:
                reduce *= 2
        img = _read(v, reduce)
        if img is None:
            unreadable.append(v.index)
            continue
        hh, ww = img.shape[:2]
        sub_cols = (cols[0][c0:c1], cols[1][c0:c1])
        nodes = np.dstack([uvs[k], W[k]])
        # Row strips bound the full-resolution temporaries (maps, samples) to a few MB whatever the
        # tile size, so a worker's memory is the tile's accumulators plus one decoded photo.
        for s0 in range(r0, r1, _STRIP):
            s1 = min(s0 + _STRIP, r1)
            m = _upsample(nodes, (rows[0][s0:s1], rows[1][s0:s1]), sub_cols)
            mu = (m[..., 0] + 0.5) / reduce - 0.5
            mv = (m[..., 1] + 0.5) / reduce - 0.5
            wt = m[..., 2]
            wt *= (mu >= -0.5) & (mu <= ww - 0.5) & (mv >= -0.5) & (mv <= hh - 0.5)
            sample = cv2.remap(img, mu, mv, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
            if gains is not None and v.index in gains:
                sample *= gains[v.index]
            sample *= wt[..., None]
            acc[s0:s1, c0:c1] += sample
            wsum[s0:s1, c0:c1] += wt
        used.append(v.index)
    ok = wsum > 1e-6
    if region is not None:
        from affine import Affine
        from rasterio.features import geometry_mask

        x0, _, _, y1 = grid.window_bounds(window)
        ok &= ~geometry_mask([region], (h, w), Affine(grid.gsd, 0.0, x0, 0.0, -grid.gsd, y1))
    out = np.zeros((h, w, 3), np.float32)
    np.divide(acc, wsum[..., None], out=out, where=ok[..., None])
    rgba[..., :3] = np.clip(out[..., ::-1] + 0.5, 0, 255).astype(np.uint8)  # BGR -> RGB
    rgba[..., 3] = np.where(ok, 255, 0)
    return TileResult(window, rgba, count, owner, step, tuple(used), tuple(unreadable))
