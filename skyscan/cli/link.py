"""``skyscan upload | download | fly``: put a plan on a vehicle, read it back, fly it."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.live import Live
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn
from rich.table import Table

from mission.formats import SUPPORTED_EXTENSIONS, read_plan, write_plan
from skyscan.cli.display import console
from skyscan.errors import InputError
from telemetry import commands
from telemetry.fly import start_mission, upload_verified
from telemetry.link import Link, connect
from telemetry.monitor import FlightState, monitor
from telemetry.plan_transfer import UploadReport, download_plan

CONNECT_HELP = ("Connection string: udpin:0.0.0.0:14550, udpout:HOST:PORT, tcp:HOST:5760, tcpin:HOST:PORT, "
                "/dev/ttyUSB0,57600")


def _open(connect_str: str, heartbeat_timeout: float, signing_key: Path | None, tlog: Path | None) -> Link:
    link = connect(connect_str, timeout=heartbeat_timeout, signing_key=signing_key, tlog=tlog)
    v = link.vehicle
    console().print(f"connected to {v.autopilot_name} {v.type_name} (system {v.system}) on {link.endpoint}")
    return link


def _upload_with_progress(link: Link, plan) -> UploadReport:
    with Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                  console=console(), transient=True) as bar:
        tasks: dict[str, int] = {}

        def progress(kind: str, done: int, total: int) -> None:
            if kind not in tasks:
                tasks[kind] = bar.add_task(f"upload {kind}", total=total)
            bar.update(tasks[kind], completed=done)

        return upload_verified(link, plan, progress)


def _report_upload(report: UploadReport) -> None:
    parts = [f"{kind} {report.counts[kind]} items" for kind in report.counts]
    console().print(f"[green]verified[/]: the vehicle holds the plan ({', '.join(parts)}; "
                    f"{report.seconds:.1f} s)")


def upload(
    plan_file: Path = typer.Argument(..., help="Plan to upload (.plan, .waypoints, .kml, .geojson)."),
    connect_str: str = typer.Option("udpin:0.0.0.0:14550", "--connect", help=CONNECT_HELP),
    heartbeat_timeout: float = typer.Option(10.0, "--timeout", help="Seconds to wait for the vehicle."),
    signing_key: Path | None = typer.Option(None, "--signing-key", help="MAVLink 2 signing key file."),
) -> None:
    """Upload mission, fence and rally points, then read them back and verify item by item."""
    plan = read_plan(plan_file)
    with _open(connect_str, heartbeat_timeout, signing_key, None) as link:
        _report_upload(_upload_with_progress(link, plan))


def download(
    output: Path = typer.Option(..., "--output", "-o", help=f"File to write ({' '.join(SUPPORTED_EXTENSIONS)})."),
    connect_str: str = typer.Option("udpin:0.0.0.0:14550", "--connect", help=CONNECT_HELP),
    heartbeat_timeout: float = typer.Option(10.0, "--timeout", help="Seconds to wait for the vehicle."),
    signing_key: Path | None = typer.Option(None, "--signing-key", help="MAVLink 2 signing key file."),
) -> None:
    """Download the vehicle's mission, fence and rally points into a plan file."""
    if output.suffix.lower() not in SUPPORTED_EXTENSIONS:
        raise InputError(f"{output}: unknown output format {output.suffix or '(none)'}; "
                         f"use one of {', '.join(SUPPORTED_EXTENSIONS)}")
    with _open(connect_str, heartbeat_timeout, signing_key, None) as link:
        plan = download_plan(link)
    write_plan(plan, output)
    console().print(f"downloaded {len(plan.items)} mission items, {len(plan.fence.polygons)} fence polygons, "
                    f"{len(plan.rally)} rally points -> {output}")


def status_table(s: FlightState) -> Table:
    """The live flight display: mode, item, altitude, speed, battery, photos, last warning."""
    t = Table(show_header=False, box=None)
    t.add_column(style="bold")
    t.add_column()
    rows = [
        ("mode", f"{s.mode} ({'armed' if s.armed else 'disarmed'})"),
        ("item", f"{s.current} / {s.total}" + (f", {s.wp_distance:.0f} m to go" if s.wp_distance == s.wp_distance
                                                else "")),
        ("altitude", f"{s.alt_rel:.1f} m above home"),
        ("ground speed", f"{s.ground_speed:.1f} m/s"),
        ("battery", f"{s.battery_pct:.0f} % ({s.battery_v:.2f} V)"),
        ("photos", str(s.photos)),
    ]
    if s.warnings:
        rows.append(("warning", s.warnings[-1]))
    for k, v in rows:
        t.add_row(k, v)
    return t


def fly(
    plan_file: Path = typer.Argument(..., help="Plan to fly."),
    connect_str: str = typer.Option("udpin:0.0.0.0:14550", "--connect", help=CONNECT_HELP),
    heartbeat_timeout: float = typer.Option(10.0, "--timeout", help="Seconds to wait for the vehicle."),
    signing_key: Path | None = typer.Option(None, "--signing-key", help="MAVLink 2 signing key file."),
    tlog: Path | None = typer.Option(None, "--tlog", help="Where to record the flight (default flight-TIME.tlog)."),
    yes: bool = typer.Option(False, "--yes", help="On Ctrl-C send RTL without asking."),
) -> None:
    """Upload and verify PLAN, arm, take off, start the mission and follow it until landed and disarmed.

    Ctrl-C asks before sending RTL.
    """
    plan = read_plan(plan_file)
    tlog = tlog or Path(time.strftime("flight-%Y%m%d-%H%M%S.tlog"))
    out = console()
    with _open(connect_str, heartbeat_timeout, signing_key, tlog) as link:
        _report_upload(_upload_with_progress(link, plan))
        start_mission(link)
        out.print("mission started")
        state = FlightState(total=len(plan.items) + 1)
        while True:
            try:
                with Live(status_table(state), console=out, refresh_per_second=4, transient=False) as live:
                    monitor(link, state, on_update=lambda s: live.update(status_table(s)))
                break
            except KeyboardInterrupt:
                if yes or typer.confirm("Send RTL (return to launch) now?", default=True):
                    commands.rtl(link)
                    out.print("[yellow]RTL sent[/]")
                else:
                    out.print("continuing the mission")
    out.print(f"[green]landed[/]: {len(state.reached)} items reached, {state.photos} photos; flight log {tlog}")
