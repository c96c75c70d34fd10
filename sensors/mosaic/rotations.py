"""Photos taken from one spot (a panorama, a hover turning the gimbal): orientations from the overlaps.

Structure from motion needs parallax; photos taken within a few metres of each other have none, and
COLMAP's mapper finds no model. Their relative orientations are still measured by the images: for a
pure rotation the matched bearing vectors satisfy ``f_b = R_ba f_a``. Each verified pair gives ``R_ba``
(a RANSAC over two-match samples, Kabsch on the inliers); the pairs join the photos into groups along
their strongest links; each group is turned into the world by the one rotation that best agrees with
all its photos' attitude tags (so a lying tag is outvoted, and the disagreement is reported). Positions
stay the GPS ones: at a few metres' spread against hundreds of metres to the scene, that error is small.
COLMAP has no such mode (its mapper needs a two-view triangulation to start), hence our own.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .geometry import View

__all__ = ["kabsch", "register_rotations", "relative_rotation"]

MIN_INLIERS = 30


def kabsch(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rotation(s) ``R`` minimising ``sum |b - R a|^2`` over the last-but-one axis: ``a``, ``b`` (..., N, 3)."""
    h = np.swapaxes(a, -1, -2) @ b
    u, _, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(np.swapaxes(vt, -1, -2) @ np.swapaxes(u, -1, -2)))
    e = np.zeros(h.shape)
    e[..., 0, 0] = e[..., 1, 1] = 1.0
    e[..., 2, 2] = d
    return np.swapaxes(vt, -1, -2) @ e @ np.swapaxes(u, -1, -2)


def relative_rotation(fa: np.ndarray, fb: np.ndarray, max_angle: float, trials: int = 256,
                      seed: int = 1) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """``R_ba`` with ``fb ~ R_ba fa`` for unit bearings (N, 3) of matched points, robustly: the two-match
    hypothesis with most bearings within ``max_angle`` (radians), refitted on them. Returns (R, inliers)."""
    n = len(fa)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(trials, 2))
    idx = idx[idx[:, 0] != idx[:, 1]]
    rs = kabsch(fa[idx], fb[idx])  # (T, 3, 3)
    cos = np.einsum("nj,tij,ni->tn", fa, rs, fb)  # cos of the angle between R fa and fb
    inl = cos >= math.cos(max_angle)
    best = int(np.argmax(inl.sum(axis=1)))
    mask = inl[best]
    for _ in range(2):  # refit on the inliers, then take the inliers of the refit
        r = kabsch(fa[mask], fb[mask])
        mask = np.einsum("nj,ij,ni->n", fa, r, fb) >= math.cos(max_angle)
        if mask.sum() < 3:
            break
    return r, mask


def _bearings(v: View, uv: np.ndarray) -> np.ndarray:
    i = v.intr
    xn = i.undistort(np.column_stack([(uv[:, 0] - i.cx) / i.fx, (uv[:, 1] - i.cy) / i.fy]))
    f = np.column_stack([xn, np.ones(len(xn))])
    return f / np.linalg.norm(f, axis=1, keepdims=True)


def _angle_deg(r: np.ndarray) -> float:
    return math.degrees(math.acos(float(np.clip((np.trace(r) - 1) / 2, -1, 1))))


def register_rotations(vs: Sequence[View], db: Path, name_of, max_error_px: float = 4.0) -> dict:
    """Orientations of ``vs`` from the verified matches in COLMAP database ``db`` (``name_of(view)`` is a
    view's image name there). Returns ``{"rotations": {position in vs: world-from-camera}, "groups":
    [[positions]...], "pairs": [(a, b, inliers, residual px)], "tag_disagreement_deg": {position: deg}}``;
    photos in no group of two or more are left out."""
    import pycolmap

    pos = {name_of(v): k for k, v in enumerate(vs)}
    d = pycolmap.Database.open(db)
    try:
        id_pos = {im.image_id: pos[im.name] for im in d.read_all_images() if im.name in pos}
        keypoints = {k: np.asarray(d.read_keypoints(i))[:, :2] - 0.5 for i, k in id_pos.items()}  # COLMAP: +0.5
        ids, geoms = d.read_two_view_geometries()
    finally:
        d.close()
    edges = []
    for pid, g in zip(ids, geoms, strict=True):
        ia, ib = pycolmap.pair_id_to_image_pair(pid)
        m = np.asarray(g.inlier_matches)
        if ia not in id_pos or ib not in id_pos or len(m) < MIN_INLIERS:
            continue
        a, b = id_pos[ia], id_pos[ib]
        fa, fb = _bearings(vs[a], keypoints[a][m[:, 0]]), _bearings(vs[b], keypoints[b][m[:, 1]])
        tol = max_error_px / vs[a].intr.fx
        r, inl = relative_rotation(fa, fb, tol)
        if inl.sum() < MIN_INLIERS:
            continue
        resid = np.arccos(np.clip(np.einsum("nj,ij,ni->n", fa[inl], r, fb[inl]), -1, 1))
        edges.append((a, b, int(inl.sum()), float(np.sqrt(np.mean(resid**2)) * vs[a].intr.fx), r))
    # Groups along the strongest links (a maximum spanning forest: Kruskal on the inlier counts).
    parent = list(range(len(vs)))

    def root(k: int) -> int:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    tree: dict[int, list[tuple[int, np.ndarray]]] = {}
    for a, b, _, _, r in sorted(edges, key=lambda e: -e[2]):
        if root(a) != root(b):
            parent[root(a)] = root(b)
            tree.setdefault(a, []).append((b, r))  # r: cam_b from cam_a
            tree.setdefault(b, []).append((a, r.T))
    members: dict[int, list[int]] = {}
    for k in range(len(vs)):
        members.setdefault(root(k), []).append(k)
    rotations, groups, disagreement = {}, [], {}
    for group in (g for g in members.values() if len(g) >= 2):
        # Each photo's orientation in the frame of the group's first (cam_first from cam_k), then the one
        # world rotation that best fits every photo's tags: W = argmin sum |W G_k - T_k|.
        g_of = {group[0]: np.eye(3)}
        stack = [group[0]]
        while stack:
            a = stack.pop()
            for b, r_ba in tree.get(a, []):
                if b not in g_of:
                    g_of[b] = g_of[a] @ r_ba.T
                    stack.append(b)
        w = kabsch(np.stack([g_of[k] for k in group]).transpose(0, 2, 1).reshape(-1, 3),
                   np.stack([vs[k].rotation for k in group]).transpose(0, 2, 1).reshape(-1, 3))  # fmt: skip
        for k in group:
            rotations[k] = w @ g_of[k]
            disagreement[k] = round(_angle_deg(rotations[k].T @ vs[k].rotation), 2)
        groups.append(sorted(group))
    return {"rotations": rotations, "groups": sorted(groups, key=len, reverse=True),
            "pairs": [(a, b, n, round(px, 2)) for a, b, n, px, _ in edges], "tag_disagreement_deg": disagreement}
