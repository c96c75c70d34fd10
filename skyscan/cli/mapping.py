"""``skyscan map PHOTOS_DIR -o OUT_DIR``: a georeferenced orthomosaic (COG) and its report from posed photos.

A thin shell over :func:`sensors.mosaic.pipeline.build_map`: options in, a progress bar per stage
while the Dask tasks run, a summary table out. Exit status 0 with a map; 2 for bad input (no usable
photos, unreadable DEM, unreachable scheduler...). Skipped photos are listed, not fatal.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from sensors.mosaic.pipeline import MapOptions, MapResult, build_map
from skyscan.cli.display import console

_STAGES = {"scan": "reading photos", "features": "finding features", "matching": "matching pairs",
           "mapping": "structure from motion", "ortho": "rendering tiles", "cog": "writing the COG",
           "consistency": "checking the map"}  # fmt: skip


def _summary(r: MapResult) -> None:
    from sensors.mosaic.report import sfm_rows

    out = console()
    if r.verdict:
        out.print(r.verdict, style="bold yellow" if r.verdict.startswith("WARNING") else "bold green", markup=False)
    tab = Table(show_header=False, box=None, pad_edge=False)
    tab.add_row("map", f"{r.out_dir / r.files['map']}  ({r.width} x {r.height} px, {r.gsd_m * 100:.2f} cm/px, "
                       f"EPSG:{r.epsg})")
    tab.add_row("photos", f"{r.photos_used} used of {r.photos_in}, {len(r.skipped)} skipped")
    tab.add_row("area", f"{r.covered_m2 / 1e4:.2f} ha")
    if r.sfm:
        for k, v in sfm_rows(r.sfm, r.photos_used, r.photos_in)[1:5]:
            tab.add_row(k, v)
    if r.accuracy:
        tab.add_row("accuracy", f"RMSE {r.accuracy['rmse_m'] * 100:.1f} cm = {r.accuracy['rmse_m'] / r.gsd_m:.2f} GSD "
                                f"against {r.accuracy.get('reference', 'truth')}")
    tab.add_row("time", f"{r.seconds:.1f} s ({r.photos_used / max(r.seconds, 1e-9) * 60:.0f} photos/min)")
    if "report" in r.files:
        tab.add_row("report", str(r.out_dir / r.files["report"]))
    out.print(tab)
    for s in r.skipped:
        out.print(f"[yellow]skipped:[/] {s['file']}: {s['reason']}", markup=True)


def run_map(
    photos_dir: Path = typer.Argument(..., help="Folder of geotagged photos (JPEG; MicaSense TIFF bands)."),
    out_dir: Path = typer.Option(..., "--output", "-o", help="Folder for map.tif (COG), overlap.tif, "
                                 "footprints.geojson, report.html and map.json."),
    gsd: float | None = typer.Option(None, "--gsd", help="Output cell size in metres (default: the photos' GSD)."),
    dem: Path | None = typer.Option(None, "--dem", help="Terrain model GeoTIFF (any CRS) to project onto; "
                                    "default: a terrain model from the reconstruction."),
    dsm: bool = typer.Option(False, "--dsm", help="Project onto a surface model from the reconstruction "
                             "(roofs and trees stand up) instead of the terrain."),
    ground_alt: float | None = typer.Option(None, "--ground-alt", help="With --no-match: ground height (m) when "
                                            "the photos carry no height above take-off."),
    positions: Path | None = typer.Option(None, "--positions", help="Positions CSV from `skyscan geotag`, "
                                          "overriding the photos' own GPS/orientation."),
    camera: str | None = typer.Option(None, "--camera", help="Catalogue camera (see `skyscan cameras`) when "
                                      "EXIF does not identify it."),
    control: Path | None = typer.Option(None, "--control", help="Control points: CSV (name, lat, lon, alt, kind) "
                                        "or ODM gcp_list.txt with image marks; 'gcp' marks (3+) georeference the "
                                        "map, 'check' marks measure its error."),
    truth: Path | None = typer.Option(None, "--truth", help="SITL truth.csv: report the absolute accuracy "
                                      "against the true poses."),
    no_match: bool = typer.Option(False, "--no-match", help="Direct georeferencing only (a preview): poses from "
                                  "the photos' tags, no structure from motion."),
    scheduler: str | None = typer.Option(None, "--scheduler", help="Run on an existing Dask cluster "
                                         "(tcp://HOST:8786); it must see the same files."),
    workers: int | None = typer.Option(None, "--workers", help="Local worker processes (default: one per core)."),
    no_report: bool = typer.Option(False, "--no-report", help="Skip report.html."),
) -> None:
    """Build a georeferenced orthomosaic (Cloud-Optimised GeoTIFF) with an overlap raster and a report."""
    opts = MapOptions(gsd=gsd, dem=dem, dsm=dsm, ground_alt=ground_alt, positions=positions, camera=camera, truth=truth,
                      control=control, match=not no_match, scheduler=scheduler, workers=workers,
                      report=not no_report)  # fmt: skip
    out = console()
    with Progress(TextColumn("{task.description:<18}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=out, transient=not out.is_terminal) as bar:  # fmt: skip
        tasks: dict[str, int] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(_STAGES.get(stage, stage), total=total)
            bar.update(tasks[stage], completed=done, total=total)

        result = build_map(photos_dir, out_dir, opts, progress=progress)
    _summary(result)
