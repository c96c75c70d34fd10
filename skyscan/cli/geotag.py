"""``skyscan geotag PHOTOS_DIR --log FILE -o OUT_DIR``: tag photos with the pose the flight log gives them.

Exit status: 0 every photo was tagged; 1 some photos were tagged and others could not be (each is
listed with the reason); 2 bad input (no photos, unreadable log, no track and no events, no photo
could be placed, output folder = photo folder without ``--in-place``).
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from skyscan.cli.display import console
from skyscan.errors import InputError
from telemetry.geotag import GeotagOptions, GeotagResult, find_photos, geotag, write_geotags
from telemetry.logs import read_log
from telemetry.logs.flight import Flight

_METHODS = {
    "events": "matched to camera events by time",
    "order": "matched to camera events by order",
    "given-offset": "with the given clock offset",
    "photo-gps": "clock offset searched against the photos' own GPS",
    "track-shape": "clock offset searched against the track's shape",
}


def _summary(result: GeotagResult, written: list[Path], out_dir: Path) -> None:
    out = console()
    tab = Table(show_header=False, box=None, pad_edge=False)
    tab.add_row("photos", f"{len(result.positions)} of {result.n_photos} tagged")
    if result.n_events:
        tab.add_row("camera events", f"{result.n_events} ({len(result.unmatched_events)} without a photo)")
    tab.add_row("method", _METHODS.get(result.method, result.method))
    if result.offset_s is not None:
        drift = f", drift {result.drift_ppm:+.0f} ppm" if result.drift_ppm else ""
        tab.add_row("camera clock", f"{result.offset_s:+.3f} s to the log's clock{drift}")
    tab.add_row("confidence", f"{result.confidence:.2f}")
    if result.tolerance_s is not None:
        tab.add_row("match tolerance", f"{result.tolerance_s:.2f} s (median residual {result.residual or 0:.3f} s)")
    tab.add_row("written", f"{len(written) - 2} photos, positions.csv, positions.geojson -> {out_dir}")
    out.print(tab)
    for w in result.warnings:
        out.print(f"[yellow]warning:[/] {w}", markup=True)
    for u in result.unmatched_photos:
        out.print(f"[red]not tagged:[/] {u}", markup=True)
    for e in result.unmatched_events:
        out.print(f"unmatched {e}", markup=False)


def run_geotag(
    photos_dir: Path = typer.Argument(..., help="Folder with the photos (JPEG)."),
    log_file: Path = typer.Option(..., "--log", help="Flight log: .tlog, .bin, .ulg or .mrk."),
    out_dir: Path | None = typer.Option(None, "--output", "-o", help="Folder for the tagged copies and positions "
                                        "files (required unless --in-place)."),
    offset: float | None = typer.Option(None, "--offset", help="Camera clock offset in seconds (log time - photo "
                                        "time); skips the search."),
    ignore_events: bool = typer.Option(False, "--ignore-events", help="Use the track only, even if the log has "
                                       "camera events."),
    tolerance: float | None = typer.Option(None, "--tolerance", help="Seconds a photo may be from its event "
                                           "(default: from the event spacing)."),
    gimbal_pitch: float = typer.Option(-90.0, "--gimbal-pitch", help="Camera tilt, degrees (-90 = nadir)."),
    fixed_mount: bool = typer.Option(False, "--fixed-mount", help="Camera hard-mounted (follows the vehicle's "
                                     "roll and pitch), not on a stabilised gimbal."),
    in_place: bool = typer.Option(False, "--in-place", help="Overwrite the photos instead of writing copies."),
) -> None:
    """Geotag photos from a flight log: EXIF GPS + XMP orientation in copies, positions CSV/GeoJSON.

    Exit 0 when every photo was tagged, 1 when some could not be (listed with the reason), 2 on bad input.
    """
    if out_dir is None:
        if not in_place:
            raise InputError("give an output folder with -o OUT_DIR (or --in-place to overwrite the photos)")
        out_dir = photos_dir
    photos = find_photos(photos_dir)
    if not log_file.is_file():
        raise InputError(f"log file not found: {log_file}")
    flight = Flight.from_log(read_log(log_file))
    options = GeotagOptions(offset=offset, ignore_events=ignore_events, tolerance=tolerance,
                            gimbal_pitch=gimbal_pitch, fixed_mount=fixed_mount)  # fmt: skip
    result = geotag(photos, flight, options)
    if not result.positions:
        reasons = "; ".join(str(u) for u in result.unmatched_photos[:3])
        raise InputError(f"no photo could be geotagged from {log_file} ({reasons})")
    written = write_geotags(result, out_dir, in_place=in_place)
    _summary(result, written, out_dir)
    if not result.all_tagged:
        raise typer.Exit(code=1)
