"""``skyscan demo``: the main job on bundled data, needing nothing from outside.

For now it plans a survey of the bundled sample field (concave, with a pond and a no-fly house),
writes every plan format, and checks the photo coverage; later stages (SITL flight, photos, map)
extend it.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import typer

from mission.area import read_area
from mission.check import coverage
from mission.formats import write_plan
from mission.photos import planned_photos
from mission.survey import SurveySpec, plan_survey, promised_count
from sensors.catalog import get_camera
from skyscan.cli.display import console
from skyscan.cli.plan import print_summary


def run_demo(
    output: Path = typer.Option(Path("demo-out"), "--output", "-o", help="Folder for everything the demo writes."),
) -> None:
    """Plan a survey over the bundled sample field and write every format (the main job)."""
    screen = console()
    samples = resources.files("mission.samples")
    with resources.as_file(samples / "sample_field.geojson") as field, \
            resources.as_file(samples / "sample_nofly.geojson") as house:
        area = read_area(field, [house])
    camera = get_camera("mavic3e")
    spec = SurveySpec(gsd_m=0.02, front_overlap=0.8, side_overlap=0.7)
    screen.print(f"[bold]1. plan[/]: {area.name} ({area.area_m2 / 1e4:.1f} ha, a pond and a no-fly house), "
                 f"{camera.name}, 2.0 cm/px, 80/70 overlap")
    plan = plan_survey(area, camera, spec)
    report = coverage(area, planned_photos(plan, area.frame), camera, promised_count(0.8, 0.7))
    outputs = [output / f"survey{ext}" for ext in (".plan", ".waypoints", ".kml", ".geojson")]
    for out in outputs:
        write_plan(plan, out)
    report.write_geotiff(output / "coverage.tif")
    print_summary(plan, camera, report, [*outputs, output / "coverage.tif"])
    screen.print(f"[bold green]done[/]: open {outputs[0]} in QGroundControl or {outputs[2]} in Google Earth")
