"""``skyscan log summary | export | report``: what a flight log says, its track as GIS files, an HTML report."""

from __future__ import annotations

from pathlib import Path

import typer

from mission.formats import read_plan
from skyscan.cli.display import console
from telemetry.logs import ExportFormat, export, read_log, summary
from telemetry.report import flight_report

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


@app.command("report")
def report_cmd(
    log_file: Path = typer.Argument(..., help="Flight log: .tlog, .bin, .ulg or .mrk."),
    output: Path = typer.Option(..., "--output", "-o", help="HTML file to write."),
    plan_file: Path | None = typer.Option(None, "--plan", help="The plan that was flown (.plan, .waypoints, ...)."),
) -> None:
    """HTML flight report: map of track, plan and triggers; altitude, speed and battery plots; cross-track error."""
    plan = read_plan(plan_file) if plan_file is not None else None  # read first: a bad plan fails fast
    report = flight_report(read_log(log_file), plan)
    path = report.write(output)
    ct = report.cross_track
    if ct is not None:
        console().print(f"cross-track error: mean {ct.mean_m:.2f} m, RMS {ct.rms_m:.2f} m, 95% {ct.p95_m:.2f} m, "
                        f"max {ct.max_m:.2f} m over {ct.samples} samples", markup=False)
    console().print(f"wrote {path}", markup=False)
