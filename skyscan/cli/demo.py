"""``skyscan demo``: the main job on bundled data, needing nothing from outside.

1. **Plan** a survey of the bundled sample field (concave, with a pond and a no-fly house) and
   write every plan format plus the planned coverage raster.
2. **Fly** it: start skyscan's SITL with its simulated camera over a procedural world, upload and
   verify the plan over MAVLink, arm, fly at speedup and follow the flight to landing.
3. **Check** what was flown: photos, their footprints' coverage of the field, and the flight
   report (track over the plan, altitude, battery, cross-track error).
4. **Geotag** the photos from the flight log's camera events (as after a real flight whose camera
   has no GPS of its own).
5. **Map** them: an orthomosaic (Cloud-Optimised GeoTIFF) with its overlap raster, footprints and
   an HTML report, its accuracy measured against the simulator's true poses.
"""

from __future__ import annotations

import csv
from importlib import resources
from pathlib import Path

import numpy as np
import typer
from rich.live import Live

from mission.area import Area, read_area
from mission.check import coverage
from mission.formats import write_plan
from mission.photos import PlannedPhotos, planned_photos
from mission.plan import Plan
from mission.survey import SurveySpec, plan_survey, promised_count
from sensors.camera import Camera
from sensors.catalog import get_camera
from sitl.process import SitlProcess
from skyscan.cli.display import console
from skyscan.cli.link import status_table
from skyscan.cli.mapping import run_map
from skyscan.cli.plan import print_summary
from telemetry.fly import start_mission, upload_verified
from telemetry.geotag import find_photos, geotag, write_geotags
from telemetry.link import connect
from telemetry.logs import read_log
from telemetry.logs.flight import Flight
from telemetry.monitor import FlightState, monitor
from telemetry.report import flight_report

FRONT, SIDE, GSD = 0.8, 0.7, 0.025
HOME_ALT_M = 584.0  # AMSL of the sample field's take-off point (the SITL's world is built around it)


def run_demo(
    output: Path = typer.Option(Path("demo-out"), "--output", "-o", help="Folder for everything the demo writes."),
    fly: bool = typer.Option(True, "--fly/--no-fly", help="Fly the plan on the SITL (or only plan)."),
    speedup: float = typer.Option(40.0, "--speedup", help="Simulated seconds per second of the demo flight."),
    photo_size: str = typer.Option("1024x768", "--photo-size", help="Size of the simulated photos (WxH)."),
) -> None:
    """The main job: plan a survey of the bundled sample field, fly it on the SITL, check the photos."""
    screen = console()
    samples = resources.files("mission.samples")
    with resources.as_file(samples / "sample_field.geojson") as field, \
            resources.as_file(samples / "sample_nofly.geojson") as house:
        area = read_area(field, [house])
    camera = get_camera("mavic3e")
    screen.print(f"[bold]1. plan[/]: {area.name} ({area.area_m2 / 1e4:.1f} ha, a pond and a no-fly house), "
                 f"{camera.name}, {GSD * 100:g} cm/px, {FRONT:.0%}/{SIDE:.0%} overlap")
    plan = plan_survey(area, camera, SurveySpec(gsd_m=GSD, front_overlap=FRONT, side_overlap=SIDE))
    report = coverage(area, planned_photos(plan, area.frame), camera, promised_count(FRONT, SIDE))
    outputs = [output / f"survey{ext}" for ext in (".plan", ".waypoints", ".kml", ".geojson")]
    for out in outputs:
        write_plan(plan, out)
    report.write_geotiff(output / "coverage-planned.tif")
    print_summary(plan, camera, report, [*outputs, output / "coverage-planned.tif"])
    if not fly:
        return
    _fly(plan, area, camera, output, speedup, photo_size)


def _fly(plan: Plan, area: Area, camera: Camera, output: Path, speedup: float, photo_size: str) -> None:
    screen = console()
    screen.print(f"[bold]2. fly[/]: skyscan SITL at {speedup:g}x with a simulated {camera.name} "
                 "(building the procedural world on first run takes a few seconds)")
    # A large pack so the 23-minute demo survey ends with its mission, not with the battery failsafe.
    args = ["--camera", camera.id, "--photo-size", photo_size, "--world-extent", "1200",
            "--param", "BATT_CAPACITY=9000"]
    sitl_dir = output / "sitl"
    with SitlProcess(home=(plan.home.lat, plan.home.lon, HOME_ALT_M, 0.0), speedup=speedup, log_dir=sitl_dir,
                     args=args, startup_timeout=300, stop_timeout=1800) as sitl:
        with connect(sitl.connection_string(), timeout=30, tlog=output / "flight.tlog") as link:
            up = upload_verified(link, plan)
            screen.print(f"uploaded and verified: {up.counts.get('mission', 0)} mission items, "
                         f"{up.counts.get('fence', 0)} fence items")
            start_mission(link)
            state = FlightState(total=len(plan.items) + 1)
            with Live(status_table(state), console=screen, refresh_per_second=4) as live:
                monitor(link, state, timeout=3600, on_update=lambda s: live.update(status_table(s)))
        screen.print(f"landed: {len(state.reached)} items reached, {state.photos} photos; "
                     "waiting for the camera to finish writing")
    photos_dir = sitl_dir / "photos"
    flown = _flown_photos(photos_dir / "truth.csv", area)
    flown_report = coverage(area, flown, camera, promised_count(FRONT, SIDE))
    flown_report.write_geotiff(output / "coverage-flown.tif")
    n_jpg = len(list(photos_dir.glob("IMG_*.JPG")))
    screen.print(f"[bold]3. check[/]: {n_jpg} photos in {photos_dir}; the flown footprints give "
                 f"{flown_report.percent_promised:.2f} % of the field >= {flown_report.promised} photos "
                 f"(planned: {len(planned_photos(plan, area.frame))} photos)")
    report_path = flight_report(read_log(output / "flight.tlog"), plan).write(output / "flight-report.html")
    screen.print(f"flight report: {report_path}")
    _map(output, photos_dir)


def _map(output: Path, photos_dir: Path) -> None:
    screen = console()
    flight = Flight.from_log(read_log(output / "flight.tlog"))
    result = geotag(find_photos(photos_dir), flight)
    write_geotags(result, output / "tagged")
    screen.print(f"[bold]4. geotag[/]: {len(result.positions)} of {result.n_photos} photos tagged from "
                 f"{result.n_events} camera events in the flight log -> {output / 'tagged'}")
    screen.print("[bold]5. map[/]: orthomosaic of the tagged photos (structure from motion with COLMAP, "
                 "terrain from its points, tiles) on a local Dask cluster")
    run_map(output / "tagged", out_dir=output / "map", gsd=None, dem=None, dsm=False, ground_alt=None,
            positions=None, camera=None, control=None, truth=photos_dir / "truth.csv", no_match=False, scheduler=None,
            workers=None, no_report=False)  # fmt: skip
    screen.print(f"[bold green]done[/]: open {output / 'map' / 'report.html'} (the map) and "
                 f"{output / 'flight-report.html'} (the flight); the map itself is {output / 'map' / 'map.tif'}")


def _flown_photos(truth_csv: Path, area: Area) -> PlannedPhotos:
    """The photos actually taken (true poses from the simulated camera) as footprint sources."""
    with open(truth_csv, newline="") as f:
        rows = list(csv.DictReader(f))
    lat = np.array([float(r["lat"]) for r in rows])
    lon = np.array([float(r["lon"]) for r in rows])
    x, y = area.frame.to_local(lon, lat)
    return PlannedPhotos(area.frame, np.asarray(x), np.asarray(y), np.array([float(r["alt_rel"]) for r in rows]),
                         np.array([float(r["yaw"]) for r in rows]))
