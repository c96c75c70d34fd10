"""The map job: posed photos in, a georeferenced Cloud-Optimised GeoTIFF and its quality outputs out.

Stages (OpenDroneMap's shape, much lighter), each a set of Dask tasks where the work is per photo,
per pair or per tile:

1. **scan**: read each photo's metadata and screen it (no GPS, corrupt, far from the others, lens
   cap, blurred); the rest become :class:`~sensors.mosaic.geometry.View` objects in UTM.
2. **footprints**: each view's ground footprint on the DEM or the take-off plane; the native GSD.
3. **match** (optional): features per photo; pairs chosen by footprint overlap (a spatial index,
   never all pairs); matches guided by the poses.
4. **adjust**: a least-squares pose correction with GPS/attitude priors so seams line up;
   residuals before and after, in pixels and metres.
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
from dataclasses import asdict, dataclass, field
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

__all__ = ["MapOptions", "MapResult", "build_map"]

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class MapOptions:
    """What a map job may be told; every field has a sensible default."""

    gsd: float | None = None  # output cell size (m); default: the photos' median nadir GSD
    dem: Path | None = None  # terrain model (GeoTIFF, any CRS); default: plane at the take-off height
    ground_alt: float | None = None  # plane height (m AMSL) when photos carry no height above take-off
    positions: Path | None = None  # positions CSV (skyscan geotag) overriding the photos' EXIF/XMP
    camera: str | None = None  # catalogue camera when EXIF does not identify it
    control: Path | None = None  # check points (CSV or ODM gcp_list.txt)
    truth: Path | None = None  # SITL truth.csv: the true pose of each photo, for accuracy figures
    match: bool = True  # refine poses by image matching (else direct georeferencing only)
    tile_px: int = 2048
    feather_px: float = 24.0
    scheduler: str | None = None
    workers: int | None = None
    report: bool = True
    crop: bool = True  # without a DEM, stop the map where tie points gave the terrain


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
    adjustment: dict | None = None
    accuracy: dict | None = None
    truth_rmse_m: float | None = None
    truth_rmse_gsd: float | None = None

    def to_json(self) -> str:
        d = asdict(self)
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


def _ground(photos, opts: MapOptions, epsg: int, vs: list[View]) -> Ground:
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
    ground = _ground(photos, opts, epsg, vs)
    t = lap("scan", t)

    polys = footprints(vs, ground)
    gsds = np.array([nadir_gsd(v, ground) for v in vs])
    keep = np.array([not p.is_empty for p in polys]) & np.isfinite(gsds)
    for i in np.nonzero(~keep)[0]:
        skipped.append({"file": vs[i].name, "reason": "its camera does not see the ground (check the orientation)"})
    photos = [p for p, k in zip(photos, keep, strict=True) if k]
    if not photos:
        raise InputError("no photo sees the ground: check the photos' orientation and the ground height")
    vs = views(photos, epsg)
    polys, gsds = polys[keep], gsds[keep]
    photo_gsd = float(np.median(gsds))
    gsd = float(opts.gsd) if opts.gsd else _round_gsd(photo_gsd)
    if gsd <= 0:
        raise InputError(f"--gsd must be positive, got {gsd}")
    t = lap("footprints", t)

    adjustment = None
    region = None
    if opts.match and len(vs) >= 2:
        from .adjust import refine_views

        times = np.array([p.time.timestamp() if p.time else np.nan for p in photos])
        vs, adjustment, ties = refine_views(vs, polys, ground, client=client, progress=progress,
                                            times=times if np.isfinite(times).all() else None)
        if opts.dem is None and opts.ground_alt is None and len(ties) >= 50:
            # No terrain model given: the tie points' heights make one (a plane at the take-off height
            # is off by the terrain's relief, which shifts every off-nadir pixel).
            b = shapely.union_all(polys).bounds
            cell = max(4.0, 40 * photo_gsd)
            ground = Ground.from_points(ties, b, cell=cell)
            if opts.crop:
                # Where no tie point reached (the outer edges, seen by one photo at a slant) the terrain
                # is extrapolated and the map would be metres off: the map stops where it is known.
                # The ground under each camera stays in: seen from straight above, it is right even on
                # an extrapolated terrain, and a map that does not cover its own flight looks broken.
                nadir = np.array([v.position[:2] for v in vs])
                region = shapely.convex_hull(shapely.multipoints(np.vstack([ties[:, :2], nadir]))).buffer(cell)
            adjustment["ground"] = {"source": "tie points", "points": len(ties),
                                    "height_range_m": [round(float(v), 2) for v in ground.dem.zrange]}  # fmt: skip
        polys = footprints(vs, ground)
    t = lap("match+adjust", t)

    union = shapely.union_all(polys)
    if region is not None:
        union = shapely.intersection(union, region)
    grid = Grid.covering(union.bounds, gsd, epsg)
    windows = grid.tiles(opts.tile_px)
    per_tile = _tile_views(grid, windows, polys, vs)
    work = Path(tempfile.mkdtemp(prefix=".skyscan-map-", dir=out_dir if out_dir.exists() else None))
    step = 16
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        ground_f = client.scatter(ground, broadcast=True, hash=False) if ground.dem is not None else ground
        todo = [(w, v) for w, v in zip(windows, per_tile, strict=True) if v]
        futures = [client.submit(render_tile, grid, w, v, ground_f, step=step, feather_px=opts.feather_px,
                                 photo_gsd=photo_gsd, region=region, pure=False) for w, v in todo]  # fmt: skip
        cw, ch, ctransform = _coarse(grid, step)
        count = np.zeros((ch, cw), np.uint8)
        owner = np.full((ch, cw), -1, np.int32)
        used: set[int] = set()
        unreadable: set[int] = set()
        with TiledWriter(work / "map.tif", grid.width, grid.height, grid.transform, epsg) as writer:
            for tile in gather_as_completed(futures, "ortho", progress):
                writer.write(tile.window, tile.rgba)
                _place_coarse(count, tile.count, tile.window, step)
                _place_coarse(owner, tile.owner, tile.window, step)
                used.update(tile.used)
                unreadable.update(tile.unreadable)
        t = lap("ortho", t)
        for i in sorted(unreadable - used):
            skipped.append({"file": vs[i].name, "reason": "the image could not be decoded while rendering"})
        files = {"map": "map.tif", "overlap": "overlap.tif", "footprints": "footprints.geojson",
                 "summary": "map.json"}  # fmt: skip
        progress("cog", 0, 1)
        to_cog(work / "map.tif", out_dir / files["map"])
        progress("cog", 1, 1)
        write_small_geotiff(out_dir / files["overlap"], count, ctransform, epsg, nodata=0)
        _write_geojson(out_dir / files["footprints"], vs, polys, owner, ctransform, epsg)
        t = lap("cog+outputs", t)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    result = MapResult(
        out_dir=out_dir, files=files, photos_in=len(photo_set.photos) + len(photo_set.skipped),
        photos_used=len(used), skipped=skipped, epsg=epsg, gsd_m=gsd, width=grid.width, height=grid.height,
        bounds=grid.bounds, covered_m2=float(union.area), seconds=0.0, stages=stages, adjustment=adjustment,
    )  # fmt: skip
    _accuracy(result, photos, vs, ground, opts, owner, ctransform)
    t = lap("accuracy", t)
    result.seconds = round(time.perf_counter() - t_start, 3)
    if opts.report:
        from .report import write_report

        files["report"] = "report.html"
        write_report(out_dir / files["report"], result, photos, vs, polys)
    atomic_write_text(out_dir / files["summary"], result.to_json())
    return result


def _round_gsd(g: float) -> float:
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

        acc = check_point_error(read_control(opts.control), vs, ground, result.epsg)
        if acc is not None:
            result.accuracy = acc
    if opts.truth is not None:
        from .accuracy import truth_error

        acc = truth_error(opts.truth, photos, vs, ground, result.epsg, owner, transform)
        result.accuracy = acc
        result.truth_rmse_m = acc["rmse_m"]
        result.truth_rmse_gsd = round(acc["rmse_m"] / result.gsd_m, 3)
