"""Command-line arguments of ``python -m sitl``, turned into :class:`~sitl.options.SitlOptions`.

``skyscan sitl`` (skyscan/cli/sitl.py) declares the same options with typer; both hand the raw strings
to :func:`build_options`, so the two commands accept exactly the same values.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sitl.options import SitlOptions, parse_endpoint, parse_home, parse_param, parse_size, parse_udp_out, parse_wind
from skyscan.errors import InputError

__all__ = ["CAMERA_PLUGIN", "build_options", "parser"]

CAMERA_PLUGIN = "sitl.camera:plugin"  # the simulated camera (renders photos of the world on each trigger)


def build_options(*, home: str | None, listen: list[str], udp_out: list[str], speedup: float, wind: str | None,
                  seed: int, log_dir: Path | None, instance: int, mission_request: str = "legacy",
                  max_items: int = 718, sysid: int = 1, rate: float = 100.0, params: list[str] | None = None,
                  start_time: float | None = None, ekf_delay: float = 5.0, plugins: list[str] | None = None,
                  status_every: float = 30.0, world: Path | None = None, camera: str | None = None,
                  photo_size: str | None = None, world_extent: float = 1500.0) -> SitlOptions:
    """Parse and check every option; InputError names the first bad one."""
    opts = SitlOptions()
    if home is not None:
        opts.home_lat, opts.home_lon, opts.home_alt, opts.home_heading = parse_home(home)
    if listen:
        opts.listen = [parse_endpoint(t) for t in listen]
    opts.udp_out = [parse_udp_out(t) for t in udp_out]
    opts.speedup = speedup
    if wind is not None:
        opts.wind_speed, opts.wind_from = parse_wind(wind)
    opts.seed = seed
    opts.log_dir = log_dir
    opts.instance = instance
    if mission_request not in ("legacy", "int"):
        raise InputError(f"--mission-request: use 'legacy' (MISSION_REQUEST, as ArduPilot) or 'int', "
                         f"got {mission_request!r}")
    opts.legacy_mission_requests = mission_request == "legacy"
    opts.max_mission_items = max_items
    opts.sysid = sysid
    opts.rate_hz = rate
    opts.params = dict(parse_param(p) for p in params or [])
    opts.start_time = start_time
    if not 0 <= ekf_delay <= 600:
        raise InputError(f"--ekf-delay: must be 0-600 s, got {ekf_delay}")
    opts.ekf_ready_after_s = ekf_delay
    opts.plugins = list(plugins or [])
    opts.world = world
    opts.camera = camera
    opts.photo_size = parse_size(photo_size) if photo_size else None
    opts.world_extent_m = world_extent
    if (world is not None or camera or photo_size) and not opts.plugins:
        opts.plugins = [CAMERA_PLUGIN]  # a world or a camera means: fly with the simulated camera
    opts.status_every_s = max(status_every, 0.5)
    opts.check()
    return opts


def parser() -> argparse.ArgumentParser:
    """The argparse parser of ``python -m sitl``."""
    p = argparse.ArgumentParser(prog="python -m sitl", description="skyscan's simulated ArduCopter (SITL).")
    p.add_argument("--home", help="LAT,LON[,ALT,HEADING] of the take-off point (default: ArduPilot's CMAC).")
    p.add_argument("--listen", action="append", default=[],
                   help="tcp:HOST:PORT or udp:HOST:PORT to serve (repeatable; port 0 = any free port). "
                        "Default tcp:127.0.0.1:5760.")
    p.add_argument("--udp-out", action="append", default=[], help="HOST:PORT to send MAVLink to (repeatable).")
    p.add_argument("--speedup", type=float, default=1.0, help="Simulated seconds per wall-clock second.")
    p.add_argument("--wind", help="SPEED@FROM, m/s and the direction it comes from, e.g. 5@270.")
    p.add_argument("--seed", type=int, default=0, help="Seed of gusts and GPS noise.")
    p.add_argument("--log-dir", type=Path, help="Folder for the .tlog and truth files (default ./sitl-logs).")
    p.add_argument("-I", "--instance", type=int, default=0, help="Instance N: adds 10*N to every non-zero port.")
    p.add_argument("--mission-request", default="legacy", choices=["legacy", "int"],
                   help="How uploads are requested: legacy MISSION_REQUEST (ArduPilot) or MISSION_REQUEST_INT.")
    p.add_argument("--max-items", type=int, default=718, help="Mission item limit, home included.")
    p.add_argument("--sysid", type=int, default=1, help="MAVLink system id.")
    p.add_argument("--rate", type=float, default=100.0, help="Physics rate, Hz of simulated time.")
    p.add_argument("--param", action="append", default=[], help="NAME=VALUE parameter at boot (repeatable).")
    p.add_argument("--start-time", type=float, help="Simulated UTC at boot, Unix seconds (default: now).")
    p.add_argument("--ekf-delay", type=float, default=5.0, help="Seconds from boot until the EKF uses GPS.")
    p.add_argument("--plugin", action="append", default=[],
                   help="MODULE:FACTORY giving a camera hook and/or terrain (repeatable).")
    p.add_argument("--world", type=Path, help="Folder with ortho.tif and dem.tif (default: a procedural world); "
                                              "turns the simulated camera on.")
    p.add_argument("--camera", help="Catalogue camera of the simulated camera (turns it on).")
    p.add_argument("--photo-size", help="WIDTHxHEIGHT of rendered photos (smaller = faster), e.g. 640x480.")
    p.add_argument("--world-extent", type=float, default=1500.0,
                   help="Side in metres of the procedural world around home (smaller builds faster).")
    p.add_argument("--status-every", type=float, default=30.0, help="Seconds between status lines on stderr.")
    return p
