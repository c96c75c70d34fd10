"""The map job's HTML report: the map on an interactive web map with the flight, and its numbers.

One self-contained page (:class:`sensors.webmap.WebMap`, Leaflet inline, works offline): the map
preview (from the COG's overviews, resampled to Web Mercator so Leaflet places it exactly), the
overlap classes (2 red, 3 yellow, 4 light green, 5+ green, as photogrammetry reports colour them),
the flight track through the photo positions, footprints and seam regions; below it the GSD,
coverage, skipped photos with their reasons, structure-from-motion figures, the map's consistency and absolute accuracy.
"""

from __future__ import annotations

import html
import io
import json
from pathlib import Path

import numpy as np

from sensors.webmap import WebMap

__all__ = ["write_report"]

_OVERLAP_COLOURS = {1: (150, 150, 150), 2: (214, 39, 40), 3: (255, 215, 0), 4: (144, 238, 144), 5: (44, 160, 44)}


def _png(rgba: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, "PNG", optimize=False, compress_level=6)
    return buf.getvalue()


def _mercator_preview(path: Path, max_px: int = 1600, resampling=None):
    """The raster at ``path`` resampled to Web Mercator (<= max_px a side): (array bands-first, lat/lon bounds)."""
    import rasterio
    from rasterio.warp import Resampling, calculate_default_transform, reproject, transform_bounds

    # Read from the smallest overview that still has about twice the preview's pixels: warping the
    # full-resolution map into a small preview would pull the whole map into memory at once.
    level = None
    with rasterio.open(path) as src:
        need = max(src.width, src.height) / (2 * max_px)
        levels = [i for i, f in enumerate(src.overviews(1)) if f <= need]
        level = levels[-1] if levels else None
    with rasterio.open(path, overview_level=level) if level is not None else rasterio.open(path) as src:
        tr, w, h = calculate_default_transform(src.crs, "EPSG:3857", src.width, src.height, *src.bounds)
        f = max(w, h) / max_px
        if f > 1:
            w, h = max(1, round(w / f)), max(1, round(h / f))
            tr = tr @ type(tr).scale(f, f)
        out = np.zeros((src.count, h, w), src.dtypes[0])
        reproject(rasterio.band(src, list(range(1, src.count + 1))), out, dst_transform=tr, dst_crs="EPSG:3857",
                  resampling=resampling or Resampling.average, src_nodata=src.nodata, dst_nodata=0)  # fmt: skip
        west, south, east, north = transform_bounds("EPSG:3857", "EPSG:4326", tr.c, tr.f + h * tr.e, tr.c + w * tr.a,
                                                    tr.f)  # fmt: skip
    return out, ((south, west), (north, east))


def _table(rows: list[tuple[str, str]], css: str = "skyscan-table") -> str:
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
    return f'<table class="{css}">{body}</table>'


def sfm_rows(sfm: dict, photos_used: int, photos_in: int) -> list[tuple[str, str]]:
    """The structure-from-motion report as (label, text) rows (HTML report and CLI summary)."""
    g = sfm.get("georeference", {})
    fit = g.get("gps_fit_m", {})
    models = sfm.get("models", [])
    where = f"{len(models)} groups ({', '.join(map(str, models))} photos)" if len(models) > 1 else "one model"
    rows = [("engine", f"{sfm.get('engine', '')}, {sfm.get('camera_model', '')} camera, features at "
                       f"{sfm.get('max_image_px', '')} px"),
            ("registered", f"{sfm.get('registered', photos_used)} of {sfm.get('photos', photos_in)} photos in "
                           f"{where if 'registration' in sfm else 'one model'} ({sfm.get('pairs_verified', 0)} of "
                           f"{sfm.get('pairs', 0)} pairs verified)")]  # fmt: skip
    if "registration" in sfm:  # photos from one spot: rotations only
        dis = sfm["tag_disagreement_deg"]
        rows += [("registration", f"{sfm['registration']}; overlaps agree within {sfm['rotation_residual_px']:.2f} px "
                                  f"(median pair)"),
                 ("georeferencing", f"{g.get('method', '')}; the tags differ from the images' orientation by "
                                    f"{dis['median']:.1f} deg (median), {dis['max']:.1f} deg (max)")]  # fmt: skip
    else:
        rows += [("tie points", f"{sfm.get('points', 0)}, mean reprojection error "
                                f"{sfm.get('reprojection_px', 0):.2f} px"),
                 ("georeferencing", f"{g.get('method', '')}: camera centres within {fit.get('median', 0):.2f} m "
                                    f"(median), {fit.get('max', 0):.2f} m (max) of the GPS"
                                    + (f"; GPS outliers left out: {', '.join(g['gps_outliers'])}"
                                       if g.get("gps_outliers") else ""))]  # fmt: skip
    if sfm.get("split", "one model") != "one model":
        rows.append(("split-merge", sfm["split"]))
    if "tilt_deg" in sfm:
        tilt = sfm["tilt_deg"]
        rows.append(("camera tilt from vertical", f"median {tilt['median']:.1f} deg, max {tilt['max']:.1f} deg "
                                                  "(from the images)"))  # fmt: skip
    for c in sfm.get("intrinsics", []):
        rows.append((f"lens {c['size'][0]} x {c['size'][1]}", f"focal {c['focal_px']:.1f} px (prior "
                     f"{c['focal_prior_px']}), k1 {c['k1']:+.4f}, k2 {c['k2']:+.4f}; "
                     f"{sfm.get('lens', '')}"))  # fmt: skip
    if "ground" in sfm:
        rows.append(("projected onto", sfm["ground"]["source"]))
    if "altitude" in sfm:
        rows.append(("camera heights", sfm["altitude"]))
    return rows


def quality_rows(q: dict) -> list[tuple[str, str]]:
    """The map's own consistency figures (:mod:`sensors.mosaic.consistency`) as rows."""
    rows = [("verdict", q.get("verdict", ""))]
    for k, v in q.items():
        if k != "verdict" and isinstance(v, int | float | str):
            rows.append((k.replace("_", " "), f"{v:.3f}" if isinstance(v, float) else str(v)))
    return rows


def write_report(path, result, photos, vs, polys) -> Path:
    """Write ``report.html`` for a finished map job (``result``: :class:`~sensors.mosaic.pipeline.MapResult`)."""
    from rasterio.warp import Resampling

    out_dir = Path(result.out_dir)
    m = WebMap(f"skyscan map: {out_dir.name}")
    preview, bounds = _mercator_preview(out_dir / result.files["map"])
    m.add_image("Map", _png(np.moveaxis(preview, 0, -1)), bounds, opacity=1.0)
    counts, cbounds = _mercator_preview(out_dir / result.files["overlap"], resampling=Resampling.nearest)
    c = counts[0]
    rgba = np.zeros((*c.shape, 4), np.uint8)
    for k, colour in _OVERLAP_COLOURS.items():
        sel = (c >= k) if k == 5 else (c == k)
        rgba[sel] = (*colour, 160)
    m.add_image("Overlap (photos per point)", _png(rgba), cbounds, opacity=0.7, show=False)
    order = np.argsort([p.time.timestamp() if p.time else i for i, p in enumerate(photos)])
    lat = np.array([photos[i].lat for i in order])
    lon = np.array([photos[i].lon for i in order])
    m.add_polyline("Flight (photo to photo)", np.column_stack([lat, lon]), color="#1f77b4", weight=2)
    m.add_points("Photo positions", np.column_stack([lat, lon]), popups=[Path(photos[i].path).name for i in order],
                 color="#d62728", radius=3)
    geo = json.loads((out_dir / result.files["footprints"]).read_text())
    foot, seams = ({"type": "FeatureCollection", "features": [f for f in geo["features"]
                                                              if f["properties"]["kind"] == kind]}
                   for kind in ("footprint", "seam"))  # fmt: skip
    m.add_geojson("Footprints", foot, color="#ff7f0e", weight=1, fill_opacity=0.0, popup_property="photo", show=False)
    m.add_geojson("Seam regions", seams, color="#9467bd", weight=1, fill_opacity=0.0, popup_property="photo",
                  show=False)
    m.fit_bounds(bounds[0][0], bounds[0][1], bounds[1][0], bounds[1][1])

    valid = c[c > 0]
    hist = [(f"{k}{'+' if k == 5 else ''} photos", f"{np.mean(valid >= k if k == 5 else valid == k) * 100:.1f} %")
            for k in _OVERLAP_COLOURS] if len(valid) else []  # fmt: skip
    summary = [
        ("photos", f"{result.photos_used} used of {result.photos_in}"),
        ("output", f"{result.width} x {result.height} px at {result.gsd_m * 100:.2f} cm/px, EPSG:{result.epsg}"),
        ("area covered", f"{result.covered_m2 / 1e4:.2f} ha"),
        ("time", f"{result.seconds:.1f} s (" + ", ".join(f"{k} {v:.1f} s" for k, v in result.stages.items()) + ")"),
    ]
    if result.verdict:
        m.add_html(f'<p class="skyscan-verdict"><b>{html.escape(result.verdict)}</b></p>')
    m.add_html("<h2>Summary</h2>" + _table(summary))
    m.add_html("<h2>Overlap (share of the mapped area seen by)</h2>" + _table(hist))
    if result.quality:
        m.add_html("<h2>Map consistency (measured on the map)</h2>" + _table(quality_rows(result.quality)))
    if result.sfm:
        m.add_html("<h2>Structure from motion</h2>" + _table(sfm_rows(result.sfm, result.photos_used,
                                                                       result.photos_in)))
    if result.accuracy:
        a = result.accuracy
        m.add_html("<h2>Absolute accuracy</h2>" + _table([
            ("reference", str(a.get("reference", ""))),
            ("RMSE", f"{a['rmse_m']:.3f} m = {a['rmse_m'] / result.gsd_m:.2f} GSD "
                     f"(x {a['rmse_x_m']:.3f} m, y {a['rmse_y_m']:.3f} m)"),
            ("max", f"{a['max_m']:.3f} m"), ("sampled", f"{a['points']} points in {a['photos']} photos")]))
    if result.skipped:
        m.add_html("<h2>Skipped photos</h2>" + _table([(s["file"], s["reason"]) for s in result.skipped]))
    return m.write(path)
