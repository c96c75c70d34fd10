"""The map job: posed photos in, a georeferenced Cloud-Optimised GeoTIFF and its quality outputs out.

Stages (OpenDroneMap's shape, much lighter), each a set of Dask tasks where the work is per photo
or per tile:

1. **scan**: read each photo's metadata and screen it (no GPS, corrupt, far from the others, lens
   cap, blurred); the rest become :class:`~sensors.mosaic.geometry.View` objects in UTM.
2. **structure from motion** (:mod:`sensors.mosaic.sfm`, COLMAP): image pairs from the footprints
   and GPS neighbours (never all pairs), features, matching, mapping with GPS priors; the model is
   georeferenced by a robust similarity onto the GPS (or onto control points). Poses, focal length
   and lens distortion come from the images, not from attitude tags (which may lie); photos the
   engine cannot register are left out with the reason.
3. **surface**: a terrain model from the reconstruction's points (``dsm``: a surface model), or
   ``--dem`` with its vertical datum reconciled with the model's heights.
4. **footprints**: each view's ground footprint on that surface; the native GSD.
5. **ortho**: the output grid is cut into tiles; each tile is rendered from the views that see it
   and written into a tiled GeoTIFF as it arrives (memory: a few tiles), then copied once to a COG.
6. **outputs**: overlap-count raster, footprints + seam regions GeoJSON, accuracy against check
   points or SITL truth, ``map.json`` (the numbers) and ``report.html``.

Outputs appear in ``out_dir`` only when complete; the work folder (features, the tiled GeoTIFF)
is removed at the end.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import shapely

from skyscan.atomic import atomic_write_text
from skyscan.errors import InputError

from .cluster import gather_as_completed
from .geometry import Grid, Ground, View, footprints, nadir_gsd, views
from .ortho import render_tile
from .photos import scan_photos
from .rasters import TiledWriter, to_cog, write_small_geotiff

__all__ = ["MapOptions", "MapResult", "RenderedMap", "build_map", "render_map", "round_gsd", "surface_from_points"]

Progress = Callable[[str, int, int], None]
# The map's width and height are multiples of this (transparent cells added at the right and bottom):
# each of the COG's 2x overviews then averages exact blocks, which the consistency check reads as its
# coarser windows (consistency._read_map) instead of every full-resolution pixel.
GRID_MULTIPLE = 512


@dataclass(frozen=True)
class MapOptions:
    """What a map job may be told; every field has a sensible default."""

    gsd: float | None = None  # output cell size (m); default: the photos' median nadir GSD
    dem: Path | None = None  # terrain model (GeoTIFF, any CRS); default: from the reconstruction's points
    dsm: bool = False  # without --dem: project on a surface model (roofs, trees) instead of the terrain
    ground_alt: float | None = None  # plane height (m AMSL) for --no-match maps without take-off height
    positions: Path | None = None  # positions CSV (skyscan geotag) overriding the photos' EXIF/XMP
    camera: str | None = None  # catalogue camera when EXIF does not identify it
    control: Path | None = None  # check points (CSV or ODM gcp_list.txt)
    truth: Path | None = None  # SITL truth.csv: the true pose of each photo, for accuracy figures
    match: bool = True  # poses by structure from motion (else direct georeferencing from the tags only)
    tile_px: int = 2048
    feather_px: float = 24.0
    scheduler: str | None = None
    workers: int | None = None
    report: bool = True
    crop: bool = True  # without a DEM, stop the map where the reconstruction's points gave the ground


@dataclass
class MapResult:
    """What a map job produced and measured (also written as ``map.json``)."""

    out_dir: Path
    files: dict[str, str]
    photos_in: int
    photos_used: int
    skipped: list[dict[str, str]]
    epsg: int
    gsd_m: float
    width: int
    height: int
    bounds: tuple[float, float, float, float]
    covered_m2: float
    seconds: float
    stages: dict[str, float] = field(default_factory=dict)
    sfm: dict | None = None  # the structure-from-motion report (engine, registration, georeferencing)
    quality: dict | None = None  # the map's consistency measured on the map (sensors.mosaic.consistency)
    verdict: str = ""  # one line: is the map consistent, or what is wrong with it
    accuracy: dict | None = None
    truth_rmse_m: float | None = None
    truth_rmse_gsd: float | None = None

    def to_json(self) -> str:
        d = {"verdict": self.verdict, **asdict(self)}  # the verdict first: it is what a reader needs first
        d["out_dir"] = str(self.out_dir)
        return json.dumps(d, indent=2, default=_jsonable)


def _jsonable(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(type(o).__name__)


def _ground(photos, opts: MapOptions, epsg: int, vs: list[View], guess: bool = False) -> Ground:
    """The ground photos are projected on without structure from motion: ``--dem``, ``--ground-alt``
    or the take-off height. ``guess``: only a first guess to choose image pairs with (never refuses)."""
    xy = np.array([v.position[:2] for v in vs])
    reach = float(np.median([v.position[2] for v in vs]))  # generous: an oblique sees about its height away
    if opts.dem is not None:
        lo, hi = xy.min(axis=0), xy.max(axis=0)
        # The footprints are not known before the ground is: cover the photo positions plus a reach
        # of about one flying height around them (a nadir view sees less than that).
        z = Ground.from_dem(opts.dem, epsg, (lo[0], lo[1], hi[0], hi[1]), None)
        agl = reach - z.mean_height
        return Ground.from_dem(opts.dem, epsg, (lo[0] - agl, lo[1] - agl, hi[0] + agl, hi[1] + agl))
    if opts.ground_alt is not None:
        return Ground.plane(opts.ground_alt)
    take_off = np.array([p.alt_msl - p.alt_rel for p in photos], dtype=float)
    take_off = take_off[np.isfinite(take_off)]
    if not len(take_off) and guess:
        return Ground.plane(float(np.min([v.position[2] for v in vs])) - 80.0)  # a typical survey height
    if not len(take_off):
        raise InputError("the photos carry no height above take-off (DJI RelativeAltitude), so the ground "
                         "height is unknown: pass --dem DEM.tif or --ground-alt METRES")  # fmt: skip
    return Ground.plane(float(np.median(take_off)))


def _tile_views(grid: Grid, windows, polys: np.ndarray, vs: list[View]) -> list[list[View]]:
    """For each output tile, the views whose footprint meets it (an STRtree query, all tiles at once)."""
    boxes = shapely.box(*np.array([grid.window_bounds(w) for w in windows]).T)
    tree = shapely.STRtree(polys)
    tile_idx, view_idx = tree.query(boxes, predicate="intersects")
    out: list[list[View]] = [[] for _ in windows]
    for t, v in zip(tile_idx.tolist(), view_idx.tolist(), strict=True):
        out[t].append(vs[v])
    return out


def _coarse(grid: Grid, step: int) -> tuple[int, int, object]:
    """The node grid of all tiles: node j sits on output pixel j * step (its centre)."""
    from affine import Affine

    w, h = math.ceil(grid.width / step), math.ceil(grid.height / step)
    g = grid.gsd
    transform = Affine(g * step, 0, grid.x0 + 0.5 * g - 0.5 * step * g, 0, -g * step,
                       grid.y0 - 0.5 * g + 0.5 * step * g)  # fmt: skip
    return w, h, transform


def _place_coarse(dst: np.ndarray, values: np.ndarray, window: tuple[int, int, int, int], step: int) -> None:
    """Copy a tile's node values onto the global node grid (the tile's uniform nodes only)."""
    c, r, w, h = window
    kc, kr = len(range(0, w, step)), len(range(0, h, step))
    dst[r // step : r // step + kr, c // step : c // step + kc] = values[:kr, :kc]


@dataclass(frozen=True, eq=False)
class RenderedMap:
    """An orthomosaic written as a tiled GeoTIFF, with its grid and where each view shows."""

    grid: Grid
    union: object  # the covered area (shapely), footprints clipped to the crop region
    count: np.ndarray  # views seeing each node of the owner grid
    owner: np.ndarray  # view index shown at each node, -1 where none
    owner_transform: object  # affine transform of the owner grid
    used: set[int]
    unreadable: set[int]


def render_map(client, vs: list[View], polys, ground: Ground, gsd: float, photo_gsd: float, epsg: int, path: Path,
               *, region=None, tile_px: int = 2048, feather_px: float = 24.0, step: int = 16,
               progress: Progress | None = None) -> RenderedMap:  # fmt: skip
    """Render ``vs`` (footprints ``polys``) on ``ground`` at ``gsd`` into the tiled GeoTIFF ``path``, one
    Dask task per tile, written as tiles arrive (memory: a few tiles). ``region`` clips the map."""
    union = shapely.union_all(polys)
    if region is not None:
        union = shapely.intersection(union, region)
    grid = Grid.covering(union.bounds, gsd, epsg, multiple=GRID_MULTIPLE)
    windows = grid.tiles(tile_px)
    per_tile = _tile_views(grid, windows, polys, vs)
    ground_f = client.scatter(ground, broadcast=True, hash=False) if ground.dem is not None else ground
    todo = [(w, v) for w, v in zip(windows, per_tile, strict=True) if v]
    futures = [client.submit(render_tile, grid, w, v, ground_f, step=step, feather_px=feather_px,
                             photo_gsd=photo_gsd, region=region, pure=False) for w, v in todo]  # fmt: skip
    cw, ch, ctransform = _coarse(grid, step)
    count = np.zeros((ch, cw), np.uint8)
    owner = np.full((ch, cw), -1, np.int32)
    used: set[int] = set()
    unreadable: set[int] = set()
    with TiledWriter(path, grid.width, grid.height, grid.transform, grid.epsg) as writer:
        for tile in gather_as_completed(futures, "ortho", progress or _quiet):
            writer.write(tile.window, tile.rgba)
            _place_coarse(count, tile.count, tile.window, step)
            _place_coarse(owner, tile.owner, tile.window, step)
            used.update(tile.used)
            unreadable.update(tile.unreadable)
    return RenderedMap(grid, union, count, owner, ctransform, used, unreadable)


def build_map(photos_dir, out_dir, opts: MapOptions = MapOptions(), progress: Progress | None = None,
              client=None) -> MapResult:  # fmt: skip
    """Build the map of the photos in ``photos_dir`` into ``out_dir`` (see the module docstring).

    ``client``: a ``distributed.Client`` to run on (default: one made from ``opts.scheduler`` /
    ``opts.workers``). ``progress(stage, done, total)`` is called as tasks finish. Raises
    :class:`InputError` for unusable input (no usable photos, a DEM that does not cover them...).
    """
    from .cluster import dask_client

    photos_dir, out_dir = Path(photos_dir), Path(out_dir)
    if not photos_dir.is_dir():
        raise InputError(f"photo folder {photos_dir} does not exist or is not a folder")
    if client is None:
        with dask_client(opts.scheduler, opts.workers) as c:
            return _run(photos_dir, out_dir, opts, progress or _quiet, c)
    return _run(photos_dir, out_dir, opts, progress or _quiet, client)


def _quiet(stage: str, done: int, total: int) -> None:
    pass


def _run(photos_dir: Path, out_dir: Path, opts: MapOptions, progress: Progress, client) -> MapResult:
    work = Path(tempfile.mkdtemp(prefix=".skyscan-map-", dir=out_dir if out_dir.exists() else None))
    try:
        return _stages(photos_dir, out_dir, opts, progress, client, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _stages(photos_dir: Path, out_dir: Path, opts: MapOptions, progress: Progress, client, work: Path) -> MapResult:
    t_start = time.perf_counter()
    stages: dict[str, float] = {}

    def lap(name: str, t0: float) -> float:
        stages[name] = round(time.perf_counter() - t0, 3)
        return time.perf_counter()

    t = time.perf_counter()
    photo_set = scan_photos(photos_dir, positions=opts.positions, camera=opts.camera, client=client,
                            progress=lambda done, total: progress("scan", done, total))
    skipped = [{"file": s.path.name, "reason": s.reason} for s in photo_set.skipped]
    # scan_photos raises InputError (with the reasons counted) when no photo is usable.
    photos = list(photo_set.photos)
    epsg = photo_set.epsg
    vs = views(photos, epsg)
    t = lap("scan", t)

    sfm = None
    region = None
    if opts.match and len(vs) >= 2:
        # Poses, lens and ground from structure from motion; the GPS georeferences the model. The
        # first guess of the ground only chooses which photos to match.
        from .sfm import SfmOptions, reconstruct

        guess = _ground(photos, opts, epsg, vs, guess=True)
        rec = reconstruct(vs, footprints(vs, guess), work / "sfm", SfmOptions(), client=client, progress=progress,
                          gcps=_gcps(opts, vs, epsg))  # fmt: skip
        for k, why in sorted(rec.unregistered.items()):
            skipped.append({"file": vs[k].name, "reason": f"not registered by structure from motion: {why}"})
        photos = [photos[v.index] for v in rec.views]
        vs = [replace(v, index=i) for i, v in enumerate(rec.views)]
        sfm = rec.stats
        sfm["altitude"] = _altitude_source(photos, opts)
        if len(rec.points) or opts.dem is not None:
            ground, vs, region, sfm["ground"] = _surface(rec.points[rec.point_error_px < 2.0], vs, opts, epsg)
        else:  # registered by rotation only (photos from one spot): no tie points to model the ground on
            ground = _ground(photos, opts, epsg, vs)
            sfm["ground"] = {"source": "--ground-alt" if opts.ground_alt is not None else
                             "a plane at the take-off height (DJI RelativeAltitude)"}  # fmt: skip
        t = lap("structure from motion", t)
    else:
        ground = _ground(photos, opts, epsg, vs)

    polys = footprints(vs, ground)
    gsds = np.array([nadir_gsd(v, ground) for v in vs])
    keep = np.array([not p.is_empty for p in polys]) & np.isfinite(gsds)
    for i in np.nonzero(~keep)[0]:
        skipped.append({"file": vs[i].name, "reason": "its camera does not see the ground (check the orientation)"})
    photos = [p for p, k in zip(photos, keep, strict=True) if k]
    if not photos:
        raise InputError("no photo sees the ground: check the photos' orientation and the ground height")
    vs = [replace(v, index=i) for i, v in enumerate(v for v, k in zip(vs, keep, strict=True) if k)]
    polys, gsds = polys[keep], gsds[keep]
    photo_gsd = float(np.median(gsds))
    gsd = float(opts.gsd) if opts.gsd else round_gsd(photo_gsd)
    if gsd <= 0:
        raise InputError(f"--gsd must be positive, got {gsd}")
    t = lap("footprints", t)

    out_dir.mkdir(parents=True, exist_ok=True)
    r = render_map(client, vs, polys, ground, gsd, photo_gsd, epsg, work / "map.tif", region=region,
                   tile_px=opts.tile_px, feather_px=opts.feather_px, progress=progress)  # fmt: skip
    grid, union, count, owner, ctransform, used = r.grid, r.union, r.count, r.owner, r.owner_transform, r.used
    t = lap("ortho", t)
    for i in sorted(r.unreadable - used):
        skipped.append({"file": vs[i].name, "reason": "the image could not be decoded while rendering"})
    files = {"map": "map.tif", "overlap": "overlap.tif", "footprints": "footprints.geojson", "summary": "map.json"}
    progress("cog", 0, 1)
    to_cog(work / "map.tif", out_dir / files["map"])
    progress("cog", 1, 1)
    write_small_geotiff(out_dir / files["overlap"], count, ctransform, epsg, nodata=0)
    _write_geojson(out_dir / files["footprints"], vs, polys, owner, ctransform, epsg)
    t = lap("cog+outputs", t)

    result = MapResult(
        out_dir=out_dir, files=files, photos_in=len(photo_set.photos) + len(photo_set.skipped),
        photos_used=len(used), skipped=skipped, epsg=epsg, gsd_m=gsd, width=grid.width, height=grid.height,
        bounds=grid.bounds, covered_m2=float(union.area), seconds=0.0, stages=stages, sfm=sfm,
    )  # fmt: skip
    from .consistency import map_consistency

    # The map's own quality, measured on the map: does each photo's content land where the map shows it?
    result.quality = map_consistency(client, grid, vs, ground, out_dir / files["map"], owner, ctransform,
                                     progress=progress)  # fmt: skip
    result.verdict = _verdict(result)
    t = lap("consistency", t)
    _accuracy(result, photos, vs, ground, opts, owner, ctransform)
    t = lap("accuracy", t)
    result.seconds = round(time.perf_counter() - t_start, 3)
    if opts.report:
        from .report import write_report

        files["report"] = "report.html"
        write_report(out_dir / files["report"], result, photos, vs, polys)
    atomic_write_text(out_dir / files["summary"], result.to_json())
    return result


def _verdict(r: MapResult) -> str:
    """The map's first line: the consistency verdict, with the photos left out when some were."""
    q = r.quality or {}
    line = q.get("verdict", "")
    left = r.photos_in - r.photos_used
    if left:
        note = f"{left} of {r.photos_in} photos left out (see the skipped list)"
        line = f"{line}; {note}" if line.startswith("WARNING") else f"{line} ({note})"
    if r.sfm is None:
        line += " [poses from the photos' tags only: --no-match]"
    return line


def _gcps(opts: MapOptions, vs: list[View], epsg: int) -> list:
    """Control points marked ``gcp`` with image marks, as (grid xyz, [(view position, u, v)])."""
    if opts.control is None:
        return []
    from pyproj import Transformer

    from .control import read_control

    tr = Transformer.from_crs("EPSG:4326", f"EPSG:{epsg}", always_xy=True)
    by_name = {v.name: k for k, v in enumerate(vs)}
    out = []
    for cp in read_control(opts.control).gcps:
        marks = [(by_name[Path(o.image).name], o.x, o.y) for o in cp.observations if Path(o.image).name in by_name]
        if marks:
            x, y = tr.transform(cp.lon, cp.lat)
            out.append((np.array([x, y, cp.alt]), marks))
    return out


def _altitude_source(photos, opts: MapOptions) -> str:
    """Which altitude the camera heights (and so the model's heights) came from."""
    if opts.positions is not None:
        return "alt_msl of the positions file"
    return ("EXIF GPSAltitude (sign from GPSAltitudeRef; DJI's AbsoluteAltitude when absent): the receiver's "
            "height, often above the ellipsoid rather than sea level")  # fmt: skip


def _fit_to_dem(pts: np.ndarray, vs: list[View], ground: Ground) -> tuple[list[View], dict]:
    """Reconcile the model with a DEM: returns views whose heights and tilt agree with it.

    Two things make the model's ground differ from the DEM's. GPS heights are often ellipsoidal and
    DEMs orthometric (tens of metres apart): an offset. And a block georeferenced on the GPS of cameras
    flown at one height can lean by a fraction of a degree (the camera centres barely constrain the
    tilt), which slants its ground. So the height differences point - DEM follow ``a + b dx + c dy``;
    a robust fit (points on trees and roofs fall out) gives the correction: the block is turned about
    its centre to remove the slant and the cameras move by the offset. (A focal length that is off
    would scale the depths instead; it is kept from EXIF where the block cannot tell it, see sfm.py,
    and a scale fitted on a few metres of relief measured too noisy to correct it.)
    """
    import cv2

    if len(pts) < 20:
        return vs, {"note": "too few points to compare with the DEM"}
    z_dem = ground.height(pts[:, 0], pts[:, 1])
    ok = np.isfinite(z_dem)
    dz, xyz = pts[ok, 2] - z_dem[ok], pts[ok]
    cams = np.array([v.position for v in vs])
    centre = np.array([*cams[:, :2].mean(axis=0), np.median(cams[:, 2])])
    a_mat = np.column_stack([np.ones(len(dz)), xyz[:, :2] - centre[:2]])
    keep = np.ones(len(dz), bool)
    for _ in range(2):  # a fit, then a refit without the points far off it (canopy, roofs, mismatches)
        coef = np.linalg.lstsq(a_mat[keep], dz[keep], rcond=None)[0]
        r = dz - a_mat @ coef
        mad = float(np.median(np.abs(r - np.median(r)))) + 1e-3
        keep = np.abs(r - np.median(r)) < 3.0 * 1.4826 * mad
    offset, b, c = (float(x) for x in coef)
    # A small rotation w of the block about its centre changes heights by wx dy - wy dx: wy = b, wx = -c.
    w = np.array([-c, b, 0.0])
    tilt = float(np.degrees(np.linalg.norm(w)))
    # Below 5 m and a tenth of a degree the DEM (its own error, the canopy left in) and the model's depth
    # (run to run, the SITL model's ground sat 0 to 1.8 m below its exact DEM) cannot be told apart from a
    # datum offset: moving the cameras by 1.8 m made that map 11.6 GSD off instead of 1.9. Datum offsets
    # are tens of metres. Beyond 3 degrees it is not a lean of the block but a DEM of another place or a
    # bad model.
    if tilt > 3.0:
        w[:] = 0.0
    if abs(offset) <= 5.0:
        offset = 0.0
    rot, _ = cv2.Rodrigues(w.reshape(3, 1))
    out = [replace(v, position=centre + rot @ (v.position - centre) - np.array([0.0, 0.0, offset]),
                   rotation=rot @ v.rotation) for v in vs]  # fmt: skip
    removed = round(float(np.degrees(np.linalg.norm(w))), 3)
    return out, {"height_offset_m": round(offset, 2), "tilt_removed_deg": removed, "points_on_ground": int(keep.sum())}


def _surface(pts: np.ndarray, vs: list[View], opts: MapOptions, epsg: int):
    """The surface to project onto: ``--dem`` (its vertical datum reconciled with the model's), else a
    terrain (or with ``--dsm``, surface) model from the reconstruction's points. Returns
    ``(ground, views, crop region or None, report)``."""
    cams = np.array([v.position for v in vs])
    if opts.dem is not None:
        lo, hi = cams[:, :2].min(axis=0), cams[:, :2].max(axis=0)
        agl = float(np.median(cams[:, 2]) - np.median(pts[:, 2])) if len(pts) else 100.0
        ground = Ground.from_dem(opts.dem, epsg, (lo[0] - agl, lo[1] - agl, hi[0] + agl, hi[1] + agl))
        vs, fit = _fit_to_dem(pts, vs, ground)
        return ground, vs, None, {"source": f"DEM {Path(opts.dem).name}", **fit}
    ground, region, info = surface_from_points(pts, cams, dsm=opts.dsm, crop=opts.crop)
    return ground, vs, region, info


def surface_from_points(pts: np.ndarray, cams: np.ndarray, *, dsm: bool = False, crop: bool = True):
    """A terrain model (``dsm``: a surface model) from reconstruction points (N, 3) seen by cameras at
    ``cams`` (M, 3); returns ``(ground, crop region or None, report)``."""
    if len(pts) < 20:
        raise InputError(f"the reconstruction has only {len(pts)} points, too few to model the ground; "
                         "pass --dem DEM.tif")  # fmt: skip
    hull = shapely.convex_hull(shapely.multipoints(pts[:, :2]))
    # Cells sized to the point density: a few points per cell on average.
    cell = float(np.clip(2.5 * math.sqrt(max(hull.area, 1.0) / len(pts)), 1.0, 50.0))
    kind = "surface (DSM)" if dsm else "terrain (DTM)"
    b = shapely.union_all([hull, shapely.multipoints(cams[:, :2])]).buffer(max(cell, 0.5 * float(
        np.median(cams[:, 2]) - np.median(pts[:, 2])))).bounds  # fmt: skip
    ground = Ground.from_points(pts, b, cell=cell / 2 if dsm else cell, percentile=90.0 if dsm else 10.0,
                                min_points=2 if dsm else 3)  # fmt: skip
    region = None
    if crop:
        # Where no point reached (the outer edges, seen by one photo at a slant) the surface is
        # extrapolated and the map would be metres off: the map stops where it is known, plus the
        # ground under each camera (right even on an extrapolated surface, seen from straight above).
        region = shapely.convex_hull(shapely.multipoints(np.vstack([pts[:, :2], cams[:, :2]]))).buffer(cell)
    return ground, region, {"source": f"{kind} from {len(pts)} reconstruction points", "cell_m": round(cell, 2),
                            "height_range_m": [round(float(v), 2) for v in ground.dem.zrange]}


def round_gsd(g: float) -> float:
    """A round cell size close to ``g`` (2 significant figures): 0.0137 -> 0.014."""
    if not g > 0:
        raise InputError("cannot estimate the photos' GSD; pass --gsd")
    e = math.floor(math.log10(g)) - 1
    return round(g, -e)


def _write_geojson(path: Path, vs: list[View], polys, owner: np.ndarray, transform, epsg: int) -> None:
    """Footprints and seam regions (where each photo is the one shown), in WGS84."""
    from pyproj import Transformer
    from rasterio import features

    to_wgs = Transformer.from_crs(f"EPSG:{epsg}", "EPSG:4326", always_xy=True)
    feats = []
    for v, p in zip(vs, polys, strict=True):
        geom = shapely.transform(p, lambda xy: np.column_stack(to_wgs.transform(xy[:, 0], xy[:, 1])))
        feats.append({"type": "Feature", "geometry": shapely.geometry.mapping(geom),
                      "properties": {"kind": "footprint", "photo": v.name}})  # fmt: skip
    for geom, value in features.shapes(owner, mask=owner >= 0, transform=transform):
        g = shapely.geometry.shape(geom)
        g = shapely.transform(g, lambda xy: np.column_stack(to_wgs.transform(xy[:, 0], xy[:, 1])))
        feats.append({"type": "Feature", "geometry": shapely.geometry.mapping(g),
                      "properties": {"kind": "seam", "photo": vs[int(value)].name}})  # fmt: skip
    atomic_write_text(path, json.dumps({"type": "FeatureCollection", "features": feats}))


def _accuracy(result: MapResult, photos, vs: list[View], ground: Ground, opts: MapOptions, owner: np.ndarray,
              transform) -> None:  # fmt: skip
    if opts.control is not None:
        from .accuracy import check_point_error
        from .control import read_control

        used = bool(result.sfm) and result.sfm.get("georeference", {}).get("method") == "control points"
        acc = check_point_error(read_control(opts.control), vs, ground, result.epsg, used_gcps=used)
        if acc is not None:
            result.accuracy = acc
    if opts.truth is not None:
        from .accuracy import truth_error

        acc = truth_error(opts.truth, photos, vs, ground, result.epsg, owner, transform)
        result.accuracy = acc
        result.truth_rmse_m = acc["rmse_m"]
        result.truth_rmse_gsd = round(acc["rmse_m"] / result.gsd_m, 3)
