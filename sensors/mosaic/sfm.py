"""Structure from motion through COLMAP (pycolmap): photos + GPS priors in, registered poses + points out.

This is the map pipeline's one door to the SfM engine (ARCHITECTURE: swap the engine or split the block
into sub-models without touching the other stages). What COLMAP does: SIFT features, matching with
geometric verification, incremental mapping with bundle adjustment (GPS position priors in a local
Cartesian frame, robust loss; the lens, focal length and radial distortion, refined per camera where
the views can tell it: see :func:`map_model`), and over ``split_at`` photos its hierarchical mapper
(overlapping sub-models, merged). What we do around it: the image pairs (from the footprints and the
GPS neighbours: never all pairs), one COLMAP
camera per physical camera with its focal length from EXIF / the catalogue as the prior, a robust
similarity of the model onto the GPS positions (one photo with a bad fix must not bend the map),
control points, the reasons a photo was not registered, and photos taken from one spot (no parallax:
:mod:`~sensors.mosaic.rotations`).

Coordinates: the model is solved in ``grid - origin`` (UTM metres minus the photos' mean position:
float64 keeps millimetres either way, but COLMAP's thresholds and Ceres' scaling behave best near
the origin) and handed back in the UTM grid as :class:`~sensors.mosaic.geometry.View` objects with
the refined intrinsics.

COLMAP's pixel convention puts the centre of the top-left pixel at (0.5, 0.5); ours (OpenCV's) at
(0, 0): principal points differ by half a pixel, handled here and nowhere else.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import shapely

from sensors.projection import Intrinsics
from skyscan.errors import InputError

from .geometry import View

__all__ = ["SfmOptions", "SfmResult", "align_similarity", "image_pairs", "intrinsics_from_colmap", "overlapping_pairs",
           "reconstruct"]

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class SfmOptions:
    """How hard the engine works; the defaults were measured on the real DJI set and SITL sets."""

    max_image_px: int = 1600  # features on the photo scaled to this long side (COLMAP scales keypoints back)
    max_features: int = 4000
    neighbours: int = 10  # image pairs per photo: footprint overlaps and nearest GPS positions
    camera_model: str = "RADIAL"  # f, cx, cy, k1, k2: enough for drone lenses, stable on small sets
    gps_sigma_m: float = 3.0  # prior on each camera centre (horizontal); vertical twice that
    refine_lens: bool | None = None  # focal length and distortion; None: only where the views tell them (map_model)
    # SIFT's first octave. COLMAP's default, -1, doubles the photo before the pyramid: 4x the time and 2.5x
    # the keypoints (10,000 a 1024 x 768 photo, whatever max_features says), for the finest features. Measured
    # with 0: DJI features 51 s -> 19 s, 0.53 -> 0.64 m from the independent model; SITL 640 x 480 features and
    # matching 18 s -> 3 s, 0.72 -> 0.84 GSD from the truth.
    first_octave: int = 0
    threads: int = 0  # features and matching (0: every core; the same result whatever the number)
    mapper_threads: int = 1  # 1 gives the same model every run (more threads did not: 1.8-8.8 GSD)
    split_at: int = 500  # larger sets: overlapping sub-models of this many photos, mapped side by side, merged
    split_overlap: int = 50  # photos shared by neighbouring sub-models (what the merge aligns them on)
    seed: int = 1


@dataclass
class SfmResult:
    """Registered views (grid frame, refined intrinsics), the tie points and what happened."""

    views: list[View]  # registered views only, each keeping its input index
    unregistered: dict[int, str]  # input index -> why it is not in the model
    points: np.ndarray  # (N, 3) tie points in the grid frame
    point_error_px: np.ndarray  # (N,) mean reprojection error of each point
    stats: dict = field(default_factory=dict)


def _image_name(v: View) -> str:
    return f"{v.index:05d}_{v.path.name}"


def _camera_groups(vs: Sequence[View]) -> list[list[View]]:
    """Views grouped by physical camera (same image size and focal length prior)."""
    groups: dict[tuple, list[View]] = {}
    for v in vs:
        i = v.intr
        groups.setdefault((i.width, i.height, round(i.fx, 0), round(i.fy, 0)), []).append(v)
    return list(groups.values())


def _colmap_params(intr: Intrinsics, model: str, sx: float = 1.0, sy: float = 1.0) -> str:
    """COLMAP camera parameters of ``intr``, for the photo scaled by ``sx`` x ``sy``."""
    fx, fy = intr.fx * sx, intr.fy * sy
    f = 0.5 * (fx + fy)
    cx, cy = (intr.cx + 0.5) * sx, (intr.cy + 0.5) * sy
    if model == "SIMPLE_PINHOLE":
        return f"{f},{cx},{cy}"
    if model == "SIMPLE_RADIAL":
        return f"{f},{cx},{cy},{intr.k1}"
    if model == "RADIAL":
        return f"{f},{cx},{cy},{intr.k1},{intr.k2}"
    if model == "OPENCV":
        return f"{fx},{fy},{cx},{cy},{intr.k1},{intr.k2},{intr.p1},{intr.p2}"
    raise ValueError(f"unsupported camera model {model}")


def intrinsics_from_colmap(camera) -> Intrinsics:
    """Our :class:`Intrinsics` from a pycolmap camera (pixel centres shifted back by half a pixel)."""
    m, p = camera.model_name, np.asarray(camera.params, dtype=float)
    w, h = int(camera.width), int(camera.height)
    if m == "SIMPLE_RADIAL":
        return Intrinsics(w, h, p[0], p[0], p[1] - 0.5, p[2] - 0.5, k1=p[3])
    if m == "RADIAL":
        return Intrinsics(w, h, p[0], p[0], p[1] - 0.5, p[2] - 0.5, k1=p[3], k2=p[4])
    if m == "OPENCV":
        return Intrinsics(w, h, p[0], p[1], p[2] - 0.5, p[3] - 0.5, k1=p[4], k2=p[5], p1=p[6], p2=p[7])
    if m in ("SIMPLE_PINHOLE", "PINHOLE"):
        fx, fy = (p[0], p[0]) if m == "SIMPLE_PINHOLE" else (p[0], p[1])
        return Intrinsics(w, h, fx, fy, p[-2] - 0.5, p[-1] - 0.5)
    raise ValueError(f"unsupported camera model {m}")


def overlapping_pairs(polys, neighbours: int = 8, min_overlap: float = 0.15) -> list[tuple[int, int, float]]:
    """Overlapping pairs ``(i, j, overlap)`` with i < j: each photo keeps its ``neighbours`` largest overlaps
    (an STRtree query over the footprints, never all pairs)."""
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


def image_pairs(vs: Sequence[View], polys, neighbours: int) -> list[tuple[int, int]]:
    """Pairs (positions in ``vs``) worth matching: the largest footprint overlaps of each photo, plus its
    nearest GPS neighbours (footprints computed from attitude tags that lie can miss a true overlap)."""
    from scipy.spatial import cKDTree

    if len(vs) <= 2 * neighbours + 1:  # a small set: all pairs cost no more than the neighbours would
        return [(i, j) for i in range(len(vs)) for j in range(i + 1, len(vs))]
    pairs = {(i, j) for i, j, _ in overlapping_pairs(polys, neighbours, min_overlap=0.05)}
    xy = np.array([v.position[:2] for v in vs])
    k = min(len(vs), neighbours // 2 + 1)
    if k > 1:
        _, idx = cKDTree(xy).query(xy, k=k)
        for i, row in enumerate(idx):
            pairs.update((min(i, int(j)), max(i, int(j))) for j in row[1:])
    return sorted(pairs)


def align_similarity(src: np.ndarray, dst: np.ndarray, threshold: float,
                     weights: np.ndarray | None = None) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """A robust similarity ``dst ~ s R src + t``: LO-RANSAC (COLMAP's) for the inliers within ``threshold``
    metres, then a (weighted) Umeyama fit on them. Returns ``(s, R, t, inlier mask)``."""
    import pycolmap

    inl = np.ones(len(src), bool)
    if len(src) >= 4:
        opts = pycolmap.RANSACOptions(max_error=threshold, random_seed=1, min_inlier_ratio=0.3)
        found = pycolmap.estimate_sim3d_robust(src, dst, opts)
        if found is not None:
            m = np.asarray(found["tgt_from_src"].matrix())
            pred = src @ m[:, :3].T + m[:, 3]
            inl = np.linalg.norm(pred - dst, axis=1) <= threshold
            if inl.sum() < 3:
                inl[:] = True
    s, r, t = _umeyama(src[inl], dst[inl], None if weights is None else weights[inl])
    return s, r, t, inl


def _umeyama(src: np.ndarray, dst: np.ndarray, w: np.ndarray | None) -> tuple[float, np.ndarray, np.ndarray]:
    """Least-squares similarity (Umeyama 1991), optionally weighted."""
    w = np.ones(len(src)) if w is None else np.asarray(w, float)
    w = w / w.sum()
    ms, md = w @ src, w @ dst
    a, b = src - ms, dst - md
    cov = (b * w[:, None]).T @ a
    u, d, vt = np.linalg.svd(cov)
    e = np.eye(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        e[2, 2] = -1
    r = u @ e @ vt
    var = float(w @ (a**2).sum(axis=1))
    s = float(np.trace(np.diag(d) @ e) / var) if var > 0 else 1.0
    return s, r, md - s * r @ ms


# -- the engine, stage by stage (each a plain function: the pipeline runs them as Dask tasks) -------
def _scaled_size(w: int, h: int, max_px: int) -> tuple[int, int]:
    """The size COLMAP scales a ``w`` x ``h`` photo to for features (its own rule: truncated)."""
    if max(w, h) <= max_px:
        return w, h
    scale = max_px / max(w, h)
    return int(w * scale), int(h * scale)


def _write_scaled(v: View, dst: Path, size: tuple[int, int]) -> bool:
    """The photo as a greyscale PGM of ``size`` at ``dst``, decoded at 1/2, 1/4 or 1/8 straight from the
    JPEG's DCT where that is still larger; False when OpenCV cannot read it whole (no features then)."""
    import cv2

    w, h = v.intr.width, v.intr.height
    r = 1
    while r < 8 and w // (2 * r) >= size[0] and h // (2 * r) >= size[1]:
        r *= 2
    flag = {1: cv2.IMREAD_GRAYSCALE, 2: cv2.IMREAD_REDUCED_GRAYSCALE_2, 4: cv2.IMREAD_REDUCED_GRAYSCALE_4,
            8: cv2.IMREAD_REDUCED_GRAYSCALE_8}[r]  # fmt: skip
    img = cv2.imread(str(v.path), flag | cv2.IMREAD_IGNORE_ORIENTATION)  # COLMAP ignores EXIF orientation too
    if img is None or img.shape[1] * r < w - r or img.shape[0] * r < h - r:
        return False
    ok, buf = cv2.imencode(".pgm", cv2.resize(img, size, interpolation=cv2.INTER_AREA))
    if ok:
        dst.write_bytes(buf.tobytes())
    return bool(ok)


_BATCH = 64  # photos scaled and extracted at a time: the scaled copies on disk stay a batch


def extract(vs: Sequence[View], work: Path, opts: SfmOptions) -> dict:
    """Features of every view into ``work/colmap.db``, one COLMAP camera per physical camera.

    COLMAP decodes each photo whole before scaling it to ``opts.max_image_px`` (0.42 s a 12 MP
    JPEG, most of the extraction's time). Here each photo is decoded at a reduced size straight from
    the JPEG (0.09 s), scaled, and handed to COLMAP as a small greyscale file under the photo's name;
    the keypoints are then scaled back to the photo's pixels and the camera set to its full size,
    as COLMAP does itself when it scales (FeatureKeypoint::Rescale). A photo OpenCV cannot decode
    gets no features (and is reported unregistered for that reason).
    """
    from concurrent.futures import ThreadPoolExecutor

    import pycolmap

    pycolmap.logging.minloglevel = 2
    images = work / "images"
    images.mkdir(parents=True, exist_ok=True)
    db = work / "colmap.db"
    eo = pycolmap.FeatureExtractionOptions(max_image_size=opts.max_image_px, num_threads=_threads(opts),
                                           use_gpu=False)  # fmt: skip
    eo.sift.max_num_features = opts.max_features
    eo.sift.first_octave = opts.first_octave
    t = time.perf_counter()
    with ThreadPoolExecutor(_threads(opts)) as pool:  # OpenCV decodes and scales without the GIL
        for group in _camera_groups(vs):
            intr = group[0].intr
            size = _scaled_size(intr.width, intr.height, opts.max_image_px)
            sx, sy = size[0] / intr.width, size[1] / intr.height
            ro = pycolmap.ImageReaderOptions(camera_model=opts.camera_model,
                                             camera_params=_colmap_params(intr, opts.camera_model, sx, sy))
            camera_id = None
            for b in range(0, len(group), _BATCH):
                batch = group[b : b + _BATCH]
                paths = [images / _image_name(v) for v in batch]
                ok = list(pool.map(_write_scaled, batch, paths, [size] * len(batch)))
                names = [p.name for p, good in zip(paths, ok, strict=True) if good]
                if names:
                    if camera_id is not None:
                        ro.existing_camera_id = camera_id
                    pycolmap.extract_features(db, images, image_names=names, camera_mode=pycolmap.CameraMode.SINGLE,
                                              reader_options=ro, extraction_options=eo,
                                              device=pycolmap.Device.cpu)  # fmt: skip
                    camera_id = _rescale_keypoints(db, names, 1 / sx, 1 / sy)
                for v, path in zip(batch, paths, strict=True):  # the photo itself from now on
                    path.unlink(missing_ok=True)
                    path.symlink_to(Path(v.path).resolve())
            if camera_id is not None:  # the camera at the photos' full size
                d = pycolmap.Database.open(db)
                try:
                    cam = d.read_camera(camera_id)
                    cam.width, cam.height = intr.width, intr.height
                    cam.params = [float(x) for x in _colmap_params(intr, opts.camera_model).split(",")]
                    d.update_camera(cam)
                finally:
                    d.close()
    d = pycolmap.Database.open(db)
    try:
        counts = {im.name: d.num_keypoints_for_image(im.image_id) for im in d.read_all_images()}
    finally:
        d.close()
    return {"seconds": round(time.perf_counter() - t, 2), "features": counts}


def _rescale_keypoints(db: Path, names: list[str], fx: float, fy: float) -> int | None:
    """Scale the keypoints of ``names`` by ``fx``, ``fy`` (COLMAP's rule: x, y and the affine shape);
    return their camera id."""
    import pycolmap

    d = pycolmap.Database.open(db)
    try:
        camera_id = None
        for name in names:
            im = d.read_image_with_name(name)
            if im is None:
                continue
            camera_id = im.camera_id
            kp = np.array(d.read_keypoints(im.image_id), dtype=np.float32)
            if len(kp):
                kp[:, [0, 2, 4]] *= fx  # x, a11, a21
                kp[:, [1, 3, 5]] *= fy  # y, a12, a22
                d.update_keypoints(im.image_id, kp)
        return camera_id
    finally:
        d.close()


def match(vs: Sequence[View], pairs: Sequence[tuple[int, int]], origin: np.ndarray, work: Path,
          opts: SfmOptions) -> dict:  # fmt: skip
    """GPS priors (local Cartesian, replacing COLMAP's EXIF ones) and verified matches of ``pairs``."""
    import pycolmap

    pycolmap.logging.minloglevel = 2
    db = work / "colmap.db"
    d = pycolmap.Database.open(db)
    try:
        by_name = {im.name: im for im in d.read_all_images()}
        d.clear_pose_priors()
        cov = np.diag([opts.gps_sigma_m**2, opts.gps_sigma_m**2, (2 * opts.gps_sigma_m) ** 2])
        for v in vs:
            im = by_name.get(_image_name(v))
            if im is not None:
                d.write_pose_prior(pycolmap.PosePrior(corr_data_id=im.data_id, position=v.position - origin,
                                                      position_covariance=cov,
                                                      coordinate_system=pycolmap.PosePriorCoordinateSystem.CARTESIAN))
    finally:
        d.close()
    names = [_image_name(v) for v in vs]
    pair_file = work / "pairs.txt"
    pair_file.write_text("".join(f"{names[i]} {names[j]}\n" for i, j in pairs if names[i] in by_name
                                 and names[j] in by_name))  # fmt: skip
    t = time.perf_counter()
    pycolmap.match_image_pairs(db, matching_options=pycolmap.FeatureMatchingOptions(num_threads=_threads(opts),
                                                                                    use_gpu=False),
                               pairing_options=pycolmap.ImportedPairingOptions(match_list_path=pair_file),
                               verification_options=_verification(opts), device=pycolmap.Device.cpu)  # fmt: skip
    d = pycolmap.Database.open(db)
    try:
        ids, geoms = d.read_two_view_geometries()
        verified = {}
        id_name = {im.image_id: im.name for im in d.read_all_images()}
        for pid, g in zip(ids, geoms, strict=True):
            a, b = pycolmap.pair_id_to_image_pair(pid)
            verified[(id_name[a], id_name[b])] = len(g.inlier_matches)
    finally:
        d.close()
    return {"seconds": round(time.perf_counter() - t, 2), "pairs": len(pairs), "verified": verified}


def _verification(opts: SfmOptions):
    """Two-view verification with a fixed RANSAC seed: each pair is then verified the same whichever
    thread takes it (COLMAP's default seeds per thread, so two threads gave other inlier counts each run)."""
    import pycolmap

    vo = pycolmap.TwoViewGeometryOptions()
    vo.ransac.random_seed = opts.seed
    return vo


def map_model(work: Path, opts: SfmOptions) -> dict:
    """Incremental mapping with the position priors; the models, largest first, as plain arrays.

    Over ``opts.split_at`` photos, COLMAP's hierarchical mapper: the view graph cut into overlapping
    clusters of at most that many photos, each mapped on its own (one per core), merged on the shared
    photos and adjusted once more as one block with the priors (OpenDroneMap's split-merge, inside the
    engine): the mapper's cost grows faster than the photo count, a cluster's does not.

    The lens (focal length, distortion) stays at the EXIF / catalogue value on a level nadir block.
    There the focal trades off exactly against the depth of the scene (a focal 3 % long and a ground 3 %
    deeper reproject the same), and the radial distortion against a dome: on exact SITL photos (no
    distortion) COLMAP found k1 = -0.012 and bent the block into a bowl, every camera tilted outwards by
    up to 1.0 deg at the edges (8.7 GSD on the map) with the centres still on the GPS; kept at the
    prior, 0.03 deg (0.07 with features from octave 0). Where the model shows the views see depth
    (tilted, or at several heights: :func:`_sees_depth`), a final adjustment refines focal length and
    distortion together (the real DJI set, tilted 17 deg: 0.64 m from the independent model; mapping it
    a second time with the distortion refined throughout gave 0.84 m).
    """
    import pycolmap

    pycolmap.logging.minloglevel = 3  # "failed to create any sparse model" is ours to explain
    d = pycolmap.Database.open(work / "colmap.db")
    try:
        split = d.num_images() > opts.split_at
    finally:
        d.close()
    t = time.perf_counter()
    recs = _map(work, opts, split, refine=bool(opts.refine_lens))
    lens = "refined" if opts.refine_lens else "kept from EXIF / the catalogue: a level nadir block cannot tell it"
    for rec in recs.values():
        if opts.refine_lens is None and _sees_depth(rec):
            ba = pycolmap.BundleAdjustmentOptions(refine_focal_length=True, refine_extra_params=True,
                                                  print_summary=False)  # fmt: skip
            ba.ceres.solver_options.num_threads = opts.mapper_threads
            pycolmap.bundle_adjustment(rec, ba)  # the similarity onto the GPS follows anyway
            lens = "refined: the views see depth (tilted or at several heights)"
    models = sorted(recs.values(), key=lambda r: -r.num_reg_images())
    return {"seconds": round(time.perf_counter() - t, 2), "models": [_model_arrays(r) for r in models],
            "lens": lens, "split": split}


def _map(work: Path, opts: SfmOptions, split: bool, *, refine: bool) -> dict:
    """One run of COLMAP's mapper (hierarchical when ``split``) into ``work/sparse``."""
    import pycolmap

    pycolmap.set_random_seed(opts.seed)
    out = work / "sparse"
    out.mkdir(exist_ok=True)
    # COLMAP keeps models of 10 photos or more by default: a small set (an inspection, a test) is one.
    # Point colours (COLMAP decodes every photo again for them: 24 s of 88 on 50 12 MP photos) are not used.
    po = pycolmap.IncrementalPipelineOptions(num_threads=opts.mapper_threads, use_prior_position=True,
                                             use_robust_loss_on_prior_position=True, random_seed=opts.seed,
                                             min_model_size=3, ba_refine_focal_length=refine,
                                             ba_refine_extra_params=refine, extract_colors=False)  # fmt: skip
    po.mapper.abs_pose_refine_focal_length = refine
    po.mapper.abs_pose_refine_extra_params = refine
    if not split:
        return pycolmap.incremental_mapping(work / "colmap.db", work / "images", out, po)
    ho = pycolmap.HierarchicalPipelineOptions(image_path=str(work / "images"), num_threads=opts.mapper_threads,
                                              num_workers=_threads(opts))  # fmt: skip
    ho.clustering_options.leaf_max_num_images = opts.split_at
    ho.clustering_options.image_overlap = opts.split_overlap
    ho.incremental_options = po
    recs = pycolmap.hierarchical_mapping(work / "colmap.db", work / "images", out, ho)
    for rec in recs.values():  # the merge only aligned the sub-models: adjust them as one block
        _adjust_with_priors(rec, work / "colmap.db", opts)
    return recs


def _adjust_with_priors(rec, db: Path, opts: SfmOptions) -> None:
    """One bundle adjustment of a whole merged model with the GPS position priors (robust), lens fixed."""
    import pycolmap

    d = pycolmap.Database.open(db)
    try:
        priors = d.read_all_pose_priors()
    finally:
        d.close()
    cfg = pycolmap.BundleAdjustmentConfig()
    for image_id in rec.reg_image_ids():
        cfg.add_image(image_id)
    for camera_id in rec.cameras:
        cfg.set_constant_cam_intrinsics(camera_id)
    ba = pycolmap.BundleAdjustmentOptions(refine_focal_length=False, refine_extra_params=False, print_summary=False)
    ba.ceres.solver_options.num_threads = opts.mapper_threads
    po = pycolmap.PosePriorBundleAdjustmentOptions()
    po.ceres.prior_position_loss_function_type = pycolmap.LossFunctionType.CAUCHY
    pycolmap.create_pose_prior_bundle_adjuster(ba, po, cfg, priors, rec).solve()


def _sees_depth(rec) -> bool:
    """Whether a model's views tell the focal length from the depth: cameras tilted (median over 10 deg or
    a 10 deg spread) or flown at heights that differ by over 20 % of their height above the points."""
    ims = [im for im in rec.images.values() if im.has_pose]
    if len(ims) < 3 or rec.num_points3D() < 50:
        return False
    tilt = np.array([math.degrees(math.acos(float(np.clip(-im.cam_from_world().rotation.matrix()[2, 2], -1, 1))))
                     for im in ims])  # fmt: skip
    z = np.array([im.projection_center()[2] for im in ims])
    ground = float(np.median([p.xyz[2] for p in rec.points3D.values()]))
    # The model's "up" is the GPS frame's only after the similarity; it is close to it already (priors).
    agl = abs(float(np.median(z)) - ground)
    return bool(np.median(tilt) > 10 or np.ptp(np.percentile(tilt, [10, 90])) > 10 or np.ptp(z) > 0.2 * agl)


def _model_arrays(rec) -> dict:
    """A pycolmap reconstruction as picklable arrays: per image its camera, rotation and centre."""
    cams = {cid: intrinsics_from_colmap(c) for cid, c in rec.cameras.items()}
    images = {}
    for im in rec.images.values():
        if not im.has_pose:
            continue
        r_cw = np.asarray(im.cam_from_world().rotation.matrix())
        images[im.name] = (cams[im.camera_id], r_cw.T, np.asarray(im.projection_center()), im.num_points3D)
    pts = rec.points3D
    xyz = np.array([p.xyz for p in pts.values()], dtype=float).reshape(-1, 3)
    err = np.array([p.error for p in pts.values()], dtype=float)
    track = np.array([p.track.length() for p in pts.values()], dtype=int)
    return {"images": images, "points": xyz, "errors": err, "track": track,
            "reprojection_px": float(rec.compute_mean_reprojection_error())}  # fmt: skip


def _threads(opts: SfmOptions) -> int:
    return opts.threads or os.cpu_count() or 1


# -- the whole thing -----------------------------------------------------------------------------
def reconstruct(vs: Sequence[View], polys, work: Path, opts: SfmOptions = SfmOptions(), *, client=None,
                progress: Progress | None = None, gcps: Sequence | None = None) -> SfmResult:  # fmt: skip
    """Register ``vs`` (GPS positions as priors) and return them posed in the grid frame.

    ``client`` runs each engine stage as one Dask task (COLMAP's own threads inside; a remote worker
    must see ``work``); None runs them here. ``gcps``: control points in the grid frame as
    ``(xyz (3,), [(view position in vs, u, v), ...])``; three or more seen in two registered photos
    georeference the model instead of the GPS (which then only checks it).
    """
    progress = progress or (lambda *a: None)
    work.mkdir(parents=True, exist_ok=True)
    origin = np.array([v.position for v in vs]).mean(axis=0)
    origin[2] = 0.0
    pairs = image_pairs(vs, polys, opts.neighbours)

    def run(stage: str, fn, *args):
        progress(stage, 0, 1)
        out = client.submit(fn, *args, pure=False).result() if client is not None else fn(*args)
        progress(stage, 1, 1)
        return out

    ext = run("features", extract, list(vs), work, opts)
    mat = run("matching", match, list(vs), pairs, origin, work, opts)
    mod = run("mapping", map_model, work, opts)
    spread = float(np.ptp(np.array([v.position for v in vs]), axis=0).max())
    if not mod["models"] and spread < 5.0:
        return _from_one_spot(vs, work, spread, {"pairs": len(pairs), "seconds": {
            "features": ext["seconds"], "matching": mat["seconds"], "mapping": mod["seconds"]}})  # fmt: skip
    if not mod["models"]:
        raise InputError(f"structure from motion found no model: of {len(pairs)} photo pairs "
                         f"{sum(n >= 15 for n in mat['verified'].values())} share enough features; the photos "
                         "may not overlap, or be featureless (water, snow) or blurred")  # fmt: skip
    main = mod["models"][0]
    stats = {"engine": _engine(), "camera_model": opts.camera_model, "max_image_px": opts.max_image_px,
             "pairs": len(pairs), "pairs_verified": sum(n >= 15 for n in mat["verified"].values()),
             "seconds": {"features": ext["seconds"], "matching": mat["seconds"], "mapping": mod["seconds"]},
             "models": [len(m["images"]) for m in mod["models"]], "lens": mod["lens"],
             "split": f"sub-models of up to {opts.split_at} photos, merged" if mod["split"] else "one model",
             "reprojection_px": round(main["reprojection_px"], 3), "points": len(main["points"])}  # fmt: skip
    name_to_pos = {_image_name(v): k for k, v in enumerate(vs)}
    reg = {name_to_pos[n]: val for n, val in main["images"].items()}
    unregistered = _why_unregistered(vs, reg, mod["models"][1:], mat["verified"], ext["features"])
    stats.update(photos=len(vs), registered=len(reg))
    if len(reg) < 2:
        raise InputError(f"structure from motion registered only {len(reg)} photo(s) of {len(vs)}; "
                         + "; ".join(f"{vs[k].name}: {w}" for k, w in list(unregistered.items())[:3]))  # fmt: skip

    # Georeference: the model (solved near the GPS frame already) mapped onto the GPS by a robust similarity.
    ks = sorted(reg)
    centres = np.array([reg[k][2] for k in ks])
    gps = np.array([vs[k].position - origin for k in ks])
    s, r, t, inl = align_similarity(centres, gps, threshold=max(3 * opts.gps_sigma_m, 5.0))
    georef = {"method": "gps", "photos": len(ks), "gps_outliers": [vs[k].name for k, ok in zip(ks, inl, strict=True)
                                                                    if not ok]}  # fmt: skip
    ctrl = _control_points(gcps or (), reg, s, r, t)
    if ctrl is not None:
        model_pts, grid_pts = ctrl
        s, r, t, _ = align_similarity(model_pts, grid_pts - origin, threshold=1.0)
        georef.update(method="control points", control_points=len(model_pts))
    fitted = centres @ (s * r).T + t
    d = fitted - gps
    dh = np.linalg.norm(d[:, :2], axis=1)
    fit = {"median": round(float(np.median(dh)), 3), "max": round(float(dh.max()), 3),
           "vertical_median": round(float(np.median(np.abs(d[:, 2]))), 3)}
    georef.update(scale=round(s, 6), gps_fit_m=fit)
    stats["georeference"] = georef
    views_out = []
    for k, c in zip(ks, fitted, strict=True):
        intr, rot, _, _ = reg[k]
        views_out.append(replace(vs[k], intr=intr, position=c + origin, rotation=r @ rot))
    pts = main["points"] @ (s * r).T + t + origin
    tilt = [math.degrees(math.acos(float(np.clip(-v.rotation[2, 2], -1, 1)))) for v in views_out]
    stats["tilt_deg"] = {"median": round(float(np.median(tilt)), 2), "max": round(float(np.max(tilt)), 2)}
    stats["intrinsics"] = _intrinsics_report(vs, views_out)
    return SfmResult(views_out, unregistered, pts, main["errors"], stats)


def _from_one_spot(vs: Sequence[View], work: Path, spread: float, stats: dict) -> SfmResult:
    """Photos from one spot (no parallax, no model): orientations from the overlaps (rotations.py),
    positions from the GPS, no tie points (the ground then comes from --dem, --ground-alt or take-off)."""
    from .rotations import register_rotations

    reg = register_rotations(vs, work / "colmap.db", _image_name)
    if not reg["rotations"]:
        raise InputError(f"structure from motion found no model: the photos were all taken from one spot (within "
                         f"{spread:.1f} m), so they show no parallax to triangulate, and no two of them overlap "
                         "enough to measure their turn; map them from their tags with --no-match")  # fmt: skip
    out = [replace(v, rotation=reg["rotations"][k]) for k, v in enumerate(vs) if k in reg["rotations"]]
    unregistered = {k: "shares too few features with any other photo (no overlap, or a different scene)"
                    for k in range(len(vs)) if k not in reg["rotations"]}  # fmt: skip
    dis = np.array(list(reg["tag_disagreement_deg"].values()))
    tilt = [math.degrees(math.acos(float(np.clip(-v.rotation[2, 2], -1, 1)))) for v in out]
    stats.update(engine=_engine(), photos=len(vs), registered=len(out), models=[len(g) for g in reg["groups"]],
                 registration=f"rotation only: the photos were taken within {spread:.1f} m of each other (no "
                              "parallax to triangulate): orientations from their overlaps, positions from GPS",
                 pairs_verified=len(reg["pairs"]),
                 rotation_residual_px=round(float(np.median([p[3] for p in reg["pairs"]])), 3),
                 tag_disagreement_deg={"median": round(float(np.median(dis)), 2), "max": round(float(dis.max()), 2)},
                 georeference={"method": "GPS positions; orientation from the attitude tags, averaged over each "
                                         "group of overlapping photos", "photos": len(out)},
                 tilt_deg={"median": round(float(np.median(tilt)), 2), "max": round(float(np.max(tilt)), 2)},
                 points=0, lens="kept from EXIF / the catalogue")  # fmt: skip
    return SfmResult(out, unregistered, np.zeros((0, 3)), np.zeros(0), stats)


def _engine() -> str:
    import pycolmap

    return f"COLMAP {pycolmap.COLMAP_version} (pycolmap {pycolmap.__version__})"


def _why_unregistered(vs, reg: dict, others: list[dict], verified: dict, features: dict) -> dict[int, str]:
    out = {}
    side = {}
    for m in others:
        for n in m["images"]:
            side[n] = len(m["images"])
    reg_names = {_image_name(vs[k]) for k in reg}
    for k, v in enumerate(vs):
        if k in reg:
            continue
        n = _image_name(v)
        links = [c for (a, b), c in verified.items() if n in (a, b) and c >= 15 and ({a, b} - {n}) <= reg_names]
        if n not in features:
            out[k] = "the image could not be decoded"
        elif features[n] < 100:
            out[k] = f"too few features ({features[n]}): featureless, blurred or over-exposed"
        elif n in side:
            out[k] = (f"matched only within a separate group of {side[n]} photos, not joined to the main block "
                      "(too little overlap between the groups)")  # fmt: skip
        elif not links:
            out[k] = "shares too few features with any registered photo (no overlap, or a different scene)"
        else:
            out[k] = f"the mapper could not place it ({max(links)} matches to its best registered neighbour)"
    return out


def _control_points(gcps, reg: dict, s, r, t) -> tuple[np.ndarray, np.ndarray] | None:
    """GCPs triangulated in the model frame from their image marks (>= 2 registered photos each)."""
    model, grid = [], []
    for xyz, marks in gcps:
        rays = []
        for k, u, v in marks:
            if k not in reg:
                continue
            intr, rot, c, _ = reg[k]
            xd = np.array([[(u - intr.cx) / intr.fx, (v - intr.cy) / intr.fy]])
            xn = intr.undistort(xd)[0]
            d = rot @ np.array([xn[0], xn[1], 1.0])
            rays.append((c, d / np.linalg.norm(d)))
        if len(rays) < 2:
            continue
        a = np.zeros((3, 3))
        b = np.zeros(3)
        for c, d in rays:  # least-squares point closest to all rays
            p = np.eye(3) - np.outer(d, d)
            a += p
            b += p @ c
        model.append(np.linalg.solve(a, b))
        grid.append(np.asarray(xyz, float))
    if len(model) < 3:
        return None
    return np.array(model), np.array(grid)


def _intrinsics_report(vs, out: list[View]) -> list[dict]:
    seen = {}
    for v in out:
        i = v.intr
        key = (i.width, i.height, round(i.fx, 3), round(i.k1, 6))
        if key in seen:
            continue
        prior = vs[v.index].intr if v.index < len(vs) and vs[v.index].index == v.index else None
        seen[key] = {"size": [i.width, i.height], "focal_px": round(i.fx, 1), "k1": round(i.k1, 5),
                     "k2": round(i.k2, 5), "principal_point": [round(i.cx, 1), round(i.cy, 1)],
                     "focal_prior_px": round(prior.fx, 1) if prior is not None else None}  # fmt: skip
    return list(seen.values())
