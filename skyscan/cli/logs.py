"""``skyscan log summary | export``: what a flight log says, and its track as GIS files."""

from __future__ import annotations

from pathlib import Path

import typer

from skyscan.cli.display import console
from telemetry.logs import ExportFormat, export, read_log, summary

app = typer.Typer(help="Read flight logs (.tlog, DataFlash .bin, PX4 .ulg, .mrk).", no_args_is_help=True)


@app.command("summary")
def summary_cmd(
    log_file: Path = typer.Argument(..., help="Flight log: .tlog, .bin, .ulg or .mrk."),
) -> None:
    """Duration, distance, altitude, battery, modes, mission items, camera events, warnings."""
    console().print(summary(read_log(log_file)).to_text(), markup=False)


@app.command("export")
def export_cmd(
    log_file: Path = typer.Argument(..., help="Flight log: .tlog, .bin, .ulg or .mrk."),
    output: Path = typer.Option(..., "--output", "-o", help="File to write."),
    fmt: ExportFormat | None = typer.Option(None, "--format", help="geojson, kml, gpx or csv (default: from -o)."),
) -> None:
    """Write the flown track and the camera trigger points as GeoJSON, KML, GPX or CSV."""
    path = export(read_log(log_file), output, fmt)
    console().print(f"wrote {path}")
