"""Refine the photos' poses so that seams line up: features, guided pair matching, least squares.

1. **Features** (one task per photo): SIFT on a reduced grayscale decode (long side <= 1280 px, 2500 features),
   saved to the work folder (``.npz``), so memory does not grow with the number of photos.
2. **Pairs**: an STRtree over the footprints picks pairs that overlap by >= 15 % of the smaller
   footprint, at most ``neighbours`` per photo (the largest overlaps): never all pairs.
3. **Matching** (one task per pair): ratio-test matches, gated by the poses (both keypoints must
   project to within ``gate_m`` of each other on the ground), then RANSAC on a similarity between the
   two ground projections (flat-ground model: a few GSD of tolerance). Up to 64 well-spread inliers
   per pair are kept as tie points.
4. **Adjustment**: unknowns per photo are a position correction (m) and a small rotation (rad);
   residuals are the ground distances between the two rays of each tie point (divided by a 1-pixel
   ground sigma) plus priors: GPS sigma ``sigma_xy`` / ``sigma_z`` on the positions and
   ``sigma_att_deg`` on the attitude (which keeps a nadir block from drifting into a common tilt,
   REFERENCES §9). Solved with ``scipy.optimize.least_squares`` (sparse Jacobian, soft-L1 loss
   against leftover outliers). The model is 2.5D: each tie point keeps the ground height under its
   first projection, which is exact on a plane and close on a DEM.

:func:`refine_views` returns the corrected views and a report: pairs tried/matched, tie points,
RMS residual before and after (metres and output pixels), along-strip and across-strip seams, and the
corrections applied.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import shapely

from sensors.projection import pixel_rays

from .geometry import Ground, View, nadir_gsd

__all__ = ["extract_features", "match_pair", "pick_pairs", "refine_views"]

_MAX_SIDE = 1280
_TIES_PER_PAIR = 64


def extract_features(view: View, out: Path, n_features: int = 2500) -> tuple[Path | None, int]:
    """SIFT keypoints (full-resolution pixel coordinates) and uint8 descriptors of one photo, to ``out``."""
    long_side = max(view.intr.width, view.intr.height)
    reduce = 1
    while reduce < 8 and long_side / (reduce * 2) >= _MAX_SIDE:
        reduce *= 2
    flag = {1: cv2.IMREAD_GRAYSCALE, 2: cv2.IMREAD_REDUCED_GRAYSCALE_2, 4: cv2.IMREAD_REDUCED_GRAYSCALE_4,
            8: cv2.IMREAD_REDUCED_GRAYSCALE_8}[reduce]  # fmt: skip
    img = cv2.imread(str(view.path), flag)
    if img is None:
        return None, 0
    scale = view.intr.width / img.shape[1]
    if max(img.shape) > _MAX_SIDE:
        f = _MAX_SIDE / max(img.shape)
        img = cv2.resize(img, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
        scale = view.intr.width / img.shape[1]
    # Precise upscale: without it OpenCV's SIFT reports keypoints half a pixel off (its first octave
    # is upsampled by 2 with a shift), a bias that flips sign between strips flown in opposite
    # directions and so bends the adjusted block.
    sift = cv2.SIFT_create(nfeatures=n_features, enable_precise_upscale=True)
    kps, desc = sift.detectAndCompute(img, None)
    if desc is None or not kps:
        np.savez(out, xy=np.zeros((0, 2), np.float32), desc=np.zeros((0, 128), np.uint8))
        return out, 0
    xy = (np.array([k.pt for k in kps], np.float32) + 0.5) * scale - 0.5
    np.savez(out, xy=xy, desc=np.clip(desc, 0, 255).astype(np.uint8))
    return out, len(kps)


def pick_pairs(polys, neighbours: int = 8, min_overlap: float = 0.15) -> list[tuple[int, int, float]]:
    """Overlapping pairs ``(i, j, overlap)`` with i < j: each photo keeps its ``neighbours`` largest overlaps."""
    polys = np.asarray(polys, dtype=object)
    tree = shapely.STRtree(polys)
    a, b = tree.query(polys, predicate="intersects")
    m = a < b
    a, b = a[m], b[m]
    if not len(a):
        return []
    inter = shapely.area(shapely.intersection(polys[a], polys[b]))
    frac = inter / np.minimum(shapely.area(polys[a]), shapely.area(polys[b]))
    ok = frac >= min_overlap
    a, b, frac = a[ok], b[ok], frac[ok]
    keep = np.zeros(len(a), bool)
    for side in (a, b):  # each photo's best overlaps, from either end of the pair
        order = np.lexsort((-frac, side))
        first = np.r_[0, np.nonzero(np.diff(side[order]))[0] + 1]
        rank = np.arange(len(order)) - np.repeat(first, np.diff(np.r_[first, len(order)]))
        keep[order[rank < neighbours]] = True
    return [(int(i), int(j), float(f)) for i, j, f in zip(a[keep], b[keep], frac[keep], strict=True)]


def _ground_points(v: View, uv: np.ndarray, ground: Ground) -> tuple[np.ndarray, np.ndarray]:
    return ground.intersect(v.position, pixel_rays(uv, v.intr, v.pose))


def _inside(v: View, pts: np.ndarray, gate_m: float, gsd: float) -> np.ndarray:
    """Whether ground points project into view ``v`` (with a margin of the gate, in pixels)."""
    from sensors.projection import project_points

    uv, vis = project_points(pts, v.intr, v.pose)
    m = gate_m / max(gsd, 1e-6)
    with np.errstate(invalid="ignore"):
        return vis & (uv[:, 0] > -m) & (uv[:, 0] < v.intr.width + m) & (uv[:, 1] > -m) & (uv[:, 1] < v.intr.height + m)


def match_pair(va: View, vb: View, fa: Path, fb: Path, ground: Ground, gsd: float,
               gate_m: float = 25.0) -> tuple[int, int, np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """Tie points between two views: ``(i, j, uv_a (k, 2), uv_b (k, 2), z (k,))`` (k may be 0).

    ``z`` is the ground height under each tie point (from ``va``'s projection)."""
    empty = (va.index, vb.index, np.zeros((0, 2)), np.zeros((0, 2)), np.zeros(0))
    da, db = np.load(fa), np.load(fb)
    xa, xb = da["xy"].astype(float), db["xy"].astype(float)
    if len(xa) < 8 or len(xb) < 8:
        return empty
    # Only keypoints that may be in the other photo (projected there through the ground, with a
    # gate-sized margin) take part: matching costs the product of the two counts.
    ga_all, oka_all = _ground_points(va, xa, ground)
    gb_all, okb_all = _ground_points(vb, xb, ground)
    sel_a = np.nonzero(oka_all & _inside(vb, ga_all, gate_m, gsd))[0]
    sel_b = np.nonzero(okb_all & _inside(va, gb_all, gate_m, gsd))[0]
    if len(sel_a) < 8 or len(sel_b) < 8:
        return empty
    cv2.setRNGSeed(va.index * 100003 + vb.index)  # the same photos give the same ties (RANSAC draws)
    flann = cv2.FlannBasedMatcher({"algorithm": 1, "trees": 4}, {"checks": 48})
    knn = flann.knnMatch(da["desc"][sel_a].astype(np.float32), db["desc"][sel_b].astype(np.float32), k=2)
    pairs = np.array([(sel_a[m[0].queryIdx], sel_b[m[0].trainIdx]) for m in knn
                      if len(m) == 2 and m[0].distance < 0.8 * m[1].distance])  # fmt: skip
    if len(pairs) < 8:
        return empty
    ua, ub = xa[pairs[:, 0]], xb[pairs[:, 1]]
    ga, oka, gb, okb = ga_all[pairs[:, 0]], oka_all[pairs[:, 0]], gb_all[pairs[:, 1]], okb_all[pairs[:, 1]]
    ok = oka & okb & (np.linalg.norm(ga[:, :2] - gb[:, :2], axis=1) < gate_m)
    if ok.sum() < 8:
        return empty
    ua, ub, ga, gb = ua[ok], ub[ok], ga[ok], gb[ok]
    _, inl = cv2.estimateAffinePartial2D(ga[:, :2].astype(np.float32), gb[:, :2].astype(np.float32),
                                         method=cv2.RANSAC, ransacReprojThreshold=max(3 * gsd, 0.05),
                                         maxIters=2000, confidence=0.999)  # fmt: skip
    if inl is None or inl.sum() < 8:
        return empty
    inl = inl.ravel().astype(bool)
    ua, ub, z = ua[inl], ub[inl], ga[inl, 2]
    if len(ua) > _TIES_PER_PAIR:  # well spread: one per cell of a coarse grid over image A, then the rest
        cell = (ua // (np.array([va.intr.width, va.intr.height]) / 8)).astype(int)
        _, first = np.unique(cell[:, 0] * 100 + cell[:, 1], return_index=True)
        rest = np.setdiff1d(np.arange(len(ua)), first)
        rng = np.random.default_rng(va.index * 100003 + vb.index)
        pick = np.r_[first, rng.permutation(rest)][:_TIES_PER_PAIR]
        ua, ub, z = ua[pick], ub[pick], z[pick]
    return va.index, vb.index, ua, ub, z


# -- the adjustment -------------------------------------------------------------------------------
def _skew(v: np.ndarray) -> np.ndarray:
    """Cross-product matrices (k, 3, 3) of vectors (k, 3): skew(a) @ b = a x b."""
    s = np.zeros((len(v), 3, 3))
    s[:, 0, 1], s[:, 0, 2], s[:, 1, 2] = -v[:, 2], v[:, 1], -v[:, 0]
    s[:, 1, 0], s[:, 2, 0], s[:, 2, 1] = v[:, 2], -v[:, 1], v[:, 0]
    return s


def _rodrigues_batch(w: np.ndarray) -> np.ndarray:
    """Rotation matrices (n, 3, 3) of rotation vectors (n, 3)."""
    theta = np.linalg.norm(w, axis=1)
    k = np.divide(w, theta[:, None], out=np.zeros_like(w), where=theta[:, None] > 1e-15)
    K = np.zeros((len(w), 3, 3))
    K[:, 0, 1], K[:, 0, 2], K[:, 1, 2] = -k[:, 2], k[:, 1], -k[:, 0]
    K[:, 1, 0], K[:, 2, 0], K[:, 2, 1] = k[:, 2], -k[:, 1], k[:, 0]
    s, c = np.sin(theta)[:, None, None], np.cos(theta)[:, None, None]
    return np.eye(3)[None] + s * K + (1 - c) * (K @ K)


class _Problem:
    """Tie-point reprojection residuals of all pairs at once.

    Unknowns: 6 per view (position correction in metres, rotation vector in radians) and 1 per tie
    point, its height: the point lies on the ray of its pixel in view A at that height, and the
    residual is its reprojection in view B minus the observed pixel there (in B's pixels). Heights
    as unknowns let relief (terrain, roofs, trees) show as parallax instead of bending the poses, and
    reprojection residuals cannot be reduced by flying the cameras onto the ground.
    """

    def __init__(self, vs: list[View], ties):
        self.vs = vs
        self.n = len(vs)
        ia, ib, ra, ub, z = [], [], [], [], []
        for i, j, ua, uvb, zz in ties:
            ia.append(np.full(len(ua), i))
            ib.append(np.full(len(uvb), j))
            ra.append(self._cam_rays(vs[i], ua))
            ub.append(uvb)
            z.append(zz)
        self.ia, self.ib = np.concatenate(ia), np.concatenate(ib)
        self.ra, self.ub, self.z0 = np.concatenate(ra), np.concatenate(ub), np.concatenate(z)
        self.k = len(self.ia)
        self.c0 = np.array([v.position for v in vs])
        self.r0 = np.array([v.rotation for v in vs])
        intr = [v.intr for v in vs]
        self.f = np.array([[i.fx, i.fy] for i in intr])
        self.c = np.array([[i.cx, i.cy] for i in intr])
        self.distorted = [i for i, v in enumerate(intr) if v.has_distortion]

    @staticmethod
    def _cam_rays(v: View, uv: np.ndarray) -> np.ndarray:
        """Undistorted camera-frame rays (k, 3) of pixels (the rotation is applied per evaluation)."""
        xd = np.column_stack([(uv[:, 0] - v.intr.cx) / v.intr.fx, (uv[:, 1] - v.intr.cy) / v.intr.fy])
        xn = v.intr.undistort(xd)
        return np.column_stack([xn, np.ones(len(xn))])

    def split(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return x[: 6 * self.n].reshape(self.n, 6), x[6 * self.n :]

    def points(self, x: np.ndarray) -> np.ndarray:
        """(k, 3) tie points: on A's ray at their current heights."""
        corr, dz = self.split(x)
        rot = _rodrigues_batch(corr[:, 3:]) @ self.r0
        d = np.einsum("kij,kj->ki", rot[self.ia], self.ra)
        c = self.c0[self.ia] + corr[self.ia, :3]
        t = (self.z0 + dz - c[:, 2]) / d[:, 2]
        return c + t[:, None] * d

    def residuals(self, x: np.ndarray) -> np.ndarray:
        """(k, 2) reprojection errors in view B (pixels)."""
        corr, _ = self.split(x)
        rot = _rodrigues_batch(corr[:, 3:]) @ self.r0
        p = self.points(x) - (self.c0[self.ib] + corr[self.ib, :3])
        q = np.einsum("kji,kj->ki", rot[self.ib], p)  # R^T (X - C)
        xn = q[:, :2] / q[:, 2:3]
        for i in self.distorted:  # rare for mapping cameras; per view, vectorised within it
            m = self.ib == i
            xn[m] = self.vs[i].intr.distort(xn[m])
        uv = xn * self.f[self.ib] + self.c[self.ib]
        return uv - self.ub

    def jacobian(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """d residuals / d (A's 6, B's 6, height) per tie: arrays (k, 2, 6), (k, 2, 6), (k, 2, 1).

        Analytic, for the pinhole part (lens distortion is left out of the derivatives only: it
        changes them by the distortion's slope, a percent or so, and the solver iterates anyway).
        Rotations are perturbed on the left, ``R <- exp([w]x) R``, linearised at the current value
        (corrections are small).
        """
        corr, dz = self.split(x)
        rot = _rodrigues_batch(corr[:, 3:]) @ self.r0
        ra, rb = rot[self.ia], rot[self.ib]
        d = np.einsum("kij,kj->ki", ra, self.ra)
        ca = self.c0[self.ia] + corr[self.ia, :3]
        t = (self.z0 + dz - ca[:, 2]) / d[:, 2]
        X = ca + t[:, None] * d
        p = X - (self.c0[self.ib] + corr[self.ib, :3])
        rbt = np.transpose(rb, (0, 2, 1))
        q = np.einsum("kij,kj->ki", rbt, p)
        f = self.f[self.ib]
        P = np.zeros((self.k, 2, 3))
        P[:, 0, 0] = f[:, 0] / q[:, 2]
        P[:, 0, 2] = -f[:, 0] * q[:, 0] / q[:, 2] ** 2
        P[:, 1, 1] = f[:, 1] / q[:, 2]
        P[:, 1, 2] = -f[:, 1] * q[:, 1] / q[:, 2] ** 2
        PR = P @ rbt  # d uv / d X
        # X = C_A + t d, t = (z - C_Az) / d_z
        proj = np.eye(3)[None] - np.einsum("ki,j->kij", d, np.array([0.0, 0.0, 1.0])) / d[:, 2, None, None]
        dX_dC = proj
        dX_dw = t[:, None, None] * proj @ -_skew(d)
        ja = np.concatenate([PR @ dX_dC, PR @ dX_dw], axis=2)
        jb = np.concatenate([-PR, P @ rbt @ _skew(p)], axis=2)
        jz = PR @ (d / d[:, 2:3])[:, :, None]
        return ja, jb, jz


def _solve(prob: _Problem, sigma_px: float, sigma_xy: float, sigma_z: float, sigma_att: float,
           iterations: int = 20, huber: float = 3.0) -> np.ndarray:  # fmt: skip
    """Levenberg-Marquardt on the normal equations (sparse direct solve), Huber-weighted tie points.

    The normal matrix is small and very sparse (6 per view + 1 per tie point, each tie point
    coupling two views), so a direct sparse solve per iteration takes milliseconds where a general
    solver with an iterative inner loop takes minutes.
    """
    from scipy.sparse import csr_matrix, diags
    from scipy.sparse.linalg import spsolve

    n, k = prob.n, prob.k
    prior_sigma = np.tile([sigma_xy, sigma_xy, sigma_z] + [sigma_att] * 3, n)
    rows = np.repeat(np.arange(2 * k), 13)
    tie = np.arange(2 * k) // 2
    cols = np.concatenate([6 * prob.ia[tie, None] + np.arange(6), 6 * prob.ib[tie, None] + np.arange(6),
                           (6 * n + tie)[:, None]], axis=1).ravel()  # fmt: skip
    rows = np.r_[rows, 2 * k + np.arange(6 * n)].astype(np.int32)
    cols = np.r_[cols, np.arange(6 * n)].astype(np.int32)
    shape = (2 * k + 6 * n, 6 * n + k)

    def residual(x):
        return np.concatenate([(prob.residuals(x) / sigma_px).ravel(), x[: 6 * n] / prior_sigma])

    def weights_cost(r):
        e = np.hypot(r[0 : 2 * k : 2], r[1 : 2 * k : 2])
        w = np.where(e <= huber, 1.0, huber / np.maximum(e, 1e-12))
        rho = np.where(e <= huber, e**2, 2 * huber * e - huber**2)
        return np.r_[np.repeat(w, 2), np.ones(6 * n)], float(rho.sum() + np.sum(r[2 * k :] ** 2))

    x = np.zeros(6 * n + k)
    r = residual(x)
    w, cost = weights_cost(r)
    lam = 1e-4
    for _ in range(iterations):
        ja, jb, jz = prob.jacobian(x)
        vals = np.concatenate([ja, jb, jz], axis=2).reshape(2 * k, 13) / sigma_px
        J = csr_matrix((np.r_[vals.ravel(), 1.0 / prior_sigma], (rows, cols)), shape=shape)
        # Normal equations split into poses (p) and tie heights (z). Each height touches only its own
        # two rows, so its block V is diagonal and is eliminated exactly (Schur complement): the
        # solve is 6 x views square whatever the number of tie points.
        Jp, Jz = J[:, : 6 * n], J[:, 6 * n :]
        JpW = Jp.T.multiply(w).tocsr()
        U = (JpW @ Jp).tocsr()
        Wm = (JpW @ Jz).tocsr()
        V = np.asarray(Jz.multiply(Jz).T @ w).ravel()
        gp = JpW @ r
        gz = np.asarray(Jz.T @ (w * r)).ravel()
        du = U.diagonal()
        while True:
            Vd = V * (1 + lam) + 1e-12
            S = U + diags(lam * np.maximum(du, 1e-9)) - Wm @ diags(1.0 / Vd) @ Wm.T
            dp = spsolve(S.tocsc(), -(gp - Wm @ (gz / Vd)))
            dz = -(gz + Wm.T @ dp) / Vd
            x_new = x + np.r_[dp, dz]
            r_new = residual(x_new)
            w_new, cost_new = weights_cost(r_new)
            if np.isfinite(cost_new) and cost_new <= cost:
                break
            lam *= 10
            if lam > 1e8:
                return x
        converged = cost - cost_new < 1e-6 * cost
        x, r, w, cost = x_new, r_new, w_new, cost_new
        lam = max(lam / 10, 1e-7)
        if converged:
            break
    return x


def _solve_rejecting_pairs(vs: list[View], ties, sigma_px: float, sigma_xy: float, sigma_z: float,
                           sigma_att: float, rounds: int = 3):  # fmt: skip
    """Solve, then drop whole pairs whose tie points still disagree, and solve again.

    Repetitive texture (crop rows, roofs of one estate) can give a pair a set of matches that agree
    with each other, so RANSAC keeps them, but place the two photos metres apart. Per tie point
    the robust loss limits such a pair's pull; as a block it still drags photos (metres, degrees).
    Such a pair stands out after a solve: its median residual is many times the typical pair's.
    Returns ``(problem, solution, rejected pairs)``.
    """
    rejected: list[tuple[int, int]] = []
    for _ in range(rounds):
        prob = _Problem(vs, ties)
        x = _solve(prob, sigma_px, sigma_xy, sigma_z, sigma_att)
        r = np.linalg.norm(prob.residuals(x), axis=1)
        pair = prob.ia * len(vs) + prob.ib
        keys, inv = np.unique(pair, return_inverse=True)
        med = np.array([np.median(r[inv == k]) for k in range(len(keys))])
        # Good pairs agree to a fraction of a pixel; a pair a few pixels off is a wrong one.
        limit = max(0.5 * sigma_px, 8.0 * float(np.median(med)))
        bad = {(int(k // len(vs)), int(k % len(vs))) for k in keys[med > limit]}
        if not bad or len(ties) - len(bad) < max(1, len(vs) // 4):
            break
        rejected.extend(sorted(bad))
        ties = [t for t in ties if (t[0], t[1]) not in bad]
    return prob, x, rejected


def _stats(d: np.ndarray, gsd: float) -> dict:
    """RMS/median/95th of reprojection residuals ``d`` (k, 2) in photo pixels, also in metres (x GSD)."""
    r = np.linalg.norm(d, axis=1)
    if not len(r):
        return {"points": 0}
    rms = float(np.sqrt(np.mean(r**2)))
    return {"points": len(r), "rms_px": round(rms, 2), "rms_m": round(rms * gsd, 4),
            "median_px": round(float(np.median(r)), 2), "p95_px": round(float(np.percentile(r, 95)), 2)}  # fmt: skip


def refine_views(
    vs: list[View],
    polys,
    ground: Ground,
    *,
    client,
    progress: Callable[[str, int, int], None] | None = None,
    times: np.ndarray | None = None,
    sigma_xy: float = 3.0,
    sigma_z: float = 5.0,
    sigma_att_deg: float = 2.0,
    neighbours: int = 8,
) -> tuple[list[View], dict, np.ndarray]:
    """Corrected views, the adjustment report (see the module docstring) and the tie points (k, 3).

    ``times`` (seconds, one per view) lets the report split seams into along-strip pairs (photos
    taken one after the other) and across-strip pairs (a long gap between them).
    """
    from .cluster import gather_as_completed

    progress = progress or (lambda *a: None)
    gsd = float(np.median([nadir_gsd(v, ground) for v in vs]))
    work = Path(tempfile.mkdtemp(prefix=".skyscan-features-"))
    try:
        t0 = time.perf_counter()
        futs = [client.submit(extract_features, v, work / f"{v.index}.npz", pure=False) for v in vs]
        feats: dict[int, Path] = {}
        counts = {}
        for v, (path, n) in zip(vs, (f.result() for f in futs), strict=True):
            if path is not None:
                feats[v.index], counts[v.index] = path, n
        progress("features", len(vs), len(vs))
        t1 = time.perf_counter()
        pairs = [(i, j, f) for i, j, f in pick_pairs(polys, neighbours) if i in feats and j in feats]
        ground_f = client.scatter(ground, broadcast=True, hash=False) if ground.dem is not None else ground
        mfuts = [client.submit(match_pair, vs[i], vs[j], feats[i], feats[j], ground_f, gsd, pure=False)
                 for i, j, _ in pairs]  # fmt: skip
        ties = [t for t in gather_as_completed(mfuts, "match", progress) if len(t[2])]
        t2 = time.perf_counter()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report = {"pairs_tried": len(pairs), "pairs_matched": len(ties), "features_median": int(np.median(
        list(counts.values()))) if counts else 0, "sigma_xy_m": sigma_xy, "sigma_z_m": sigma_z,
        "sigma_attitude_deg": sigma_att_deg}  # fmt: skip
    if len(ties) < max(1, len(vs) // 4):
        report["applied"] = False
        report["why_not"] = f"only {len(ties)} of {len(pairs)} overlapping pairs matched"
        return vs, report, np.zeros((0, 3))
    # One feature pixel (features come from a reduced decode) is the measurement sigma.
    sigma_px = max(1.0, float(np.median([v.intr.width for v in vs])) / _MAX_SIDE)
    prob, x, rejected = _solve_rejecting_pairs(vs, ties, sigma_px, sigma_xy, sigma_z, np.radians(sigma_att_deg))
    report["seconds"] = {"features": round(t1 - t0, 2), "match": round(t2 - t1, 2),
                         "solve": round(time.perf_counter() - t2, 2)}
    before = prob.residuals(np.zeros_like(x))
    after = prob.residuals(x)
    report["applied"] = True
    report["pairs_rejected"] = [f"{vs[i].name}-{vs[j].name}" for i, j in rejected]
    report["before"] = _stats(before, gsd)
    report["after"] = _stats(after, gsd)
    if times is not None and len(times) == len(vs):
        gap = np.abs(times[prob.ia] - times[prob.ib])
        steps = np.diff(np.sort(times))
        across = gap > 3 * float(np.median(steps[steps > 0])) if (steps > 0).any() else np.zeros(len(gap), bool)
        report["along_strip"] = {"before": _stats(before[~across], gsd), "after": _stats(after[~across], gsd)}
        report["across_strip"] = {"before": _stats(before[across], gsd), "after": _stats(after[across], gsd)}
    corr = x[: 6 * len(vs)].reshape(len(vs), 6)
    report["correction_median_m"] = round(float(np.median(np.linalg.norm(corr[:, :3], axis=1))), 3)
    report["correction_max_m"] = round(float(np.max(np.linalg.norm(corr[:, :3], axis=1))), 3)
    report["rotation_median_deg"] = round(float(np.degrees(np.median(np.linalg.norm(corr[:, 3:], axis=1)))), 3)
    points = prob.points(x)[np.linalg.norm(after, axis=1) < 3 * sigma_px]  # outliers have no place in a surface
    return [v.corrected(c) for v, c in zip(vs, corr, strict=True)], report, points
