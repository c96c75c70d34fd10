"""``skyscan sitl``: run the simulated ArduCopter (the same program as ``python -m sitl``)."""

from __future__ import annotations

from pathlib import Path

import typer

from sitl.cli_args import build_options
from sitl.server import run_sitl


def run(
    home: str | None = typer.Option(None, "--home", help="LAT,LON[,ALT,HEADING] of the take-off point "
                                                          "(default: ArduPilot's CMAC field)."),
    listen: list[str] = typer.Option([], "--listen", help="tcp:HOST:PORT or udp:HOST:PORT to serve (repeatable; "
                                                          "port 0 = any free port). Default tcp:127.0.0.1:5760."),
    udp_out: list[str] = typer.Option([], "--udp-out", help="HOST:PORT to send MAVLink to (repeatable)."),
    speedup: float = typer.Option(1.0, "--speedup", help="Simulated seconds per wall-clock second."),
    wind: str | None = typer.Option(None, "--wind", help="SPEED@FROM in m/s and degrees, e.g. 5@270."),
    seed: int = typer.Option(0, "--seed", help="Seed of gusts and GPS noise."),
    log_dir: Path | None = typer.Option(None, "--log-dir", help="Folder for the .tlog and truth files "
                                                                 "(default ./sitl-logs)."),
    instance: int = typer.Option(0, "-I", "--instance", help="Instance N: adds 10*N to every non-zero port."),
    mission_request: str = typer.Option("legacy", "--mission-request",
                                        help="Upload requests: 'legacy' MISSION_REQUEST (ArduPilot) or 'int'."),
    max_items: int = typer.Option(718, "--max-items", help="Mission item limit, home included."),
    sysid: int = typer.Option(1, "--sysid", help="MAVLink system id."),
    param: list[str] = typer.Option([], "--param", help="NAME=VALUE parameter at boot (repeatable)."),
    start_time: float | None = typer.Option(None, "--start-time", help="Simulated UTC at boot, Unix seconds."),
    ekf_delay: float = typer.Option(5.0, "--ekf-delay", help="Seconds from boot until the EKF uses GPS."),
    plugin: list[str] = typer.Option([], "--plugin", help="MODULE:FACTORY giving a camera hook and/or terrain."),
    world: Path | None = typer.Option(None, "--world", help="Folder with ortho.tif and dem.tif (default: a "
                                                             "procedural world); turns the simulated camera on."),
    camera: str | None = typer.Option(None, "--camera", help="Catalogue camera of the simulated camera."),
    photo_size: str | None = typer.Option(None, "--photo-size", help="WIDTHxHEIGHT of rendered photos, e.g. 640x480."),
    world_extent: float = typer.Option(1500.0, "--world-extent", help="Side of the procedural world around home, m."),
) -> None:
    """Run a simulated ArduCopter on real sockets until Ctrl-C / SIGTERM."""
    options = build_options(home=home, listen=listen, udp_out=udp_out, speedup=speedup, wind=wind, seed=seed,
                            log_dir=log_dir, instance=instance, mission_request=mission_request,
                            max_items=max_items, sysid=sysid, params=param, start_time=start_time,
                            ekf_delay=ekf_delay, plugins=plugin, world=world, camera=camera, photo_size=photo_size,
                            world_extent=world_extent)
    raise typer.Exit(run_sitl(options))
