"""``skyscan plan ...``: plan a survey and check a plan's photo coverage."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import typer
from rich.table import Table
from shapely.geometry import shape

from mission.area import Area, read_area
from mission.check import CoverageReport, coverage
from mission.formats import SUPPORTED_EXTENSIONS, read_plan, write_plan
from mission.photos import planned_photos
from mission.plan import Plan
from mission.survey import SurveySpec, plan_survey, promised_count
from sensors.camera import Camera, Orientation
from sensors.catalog import get_camera
from skyscan.cli.display import console
from skyscan.cli.options import parse_angle, parse_duration, parse_latlon, parse_length, parse_overlap
from skyscan.errors import InputError

app = typer.Typer(help="Plan surveys and check plans.", no_args_is_help=True)


@app.command("survey")
def survey(
    area: Path = typer.Argument(..., help="Area to survey: GeoJSON, KML or KMZ polygon(s); holes are not imaged."),
    camera: str = typer.Option(..., "--camera", "-c", help="Catalogue id or model name (see 'skyscan cameras')."),
    output: list[Path] = typer.Option(..., "--output", "-o",
                                      help="Output file(s); the format follows the extension: "
                                           ".plan .waypoints .kml .kmz .geojson"),
    gsd: str | None = typer.Option(None, "--gsd", help="Target ground sample distance, e.g. 2.5cm (bare number = cm)."),
    alt: str | None = typer.Option(None, "--alt", help="Flight height above ground, e.g. 80 or 80m or 260ft."),
    overlap: str = typer.Option("80/70", "--overlap", help="Front/side overlap in percent."),
    angle: str = typer.Option("auto", "--angle", help="Transect bearing in degrees from north, or 'auto'."),
    crosshatch: bool = typer.Option(False, "--crosshatch", help="Fly a second grid at +90 degrees."),
    nofly: list[Path] = typer.Option([], "--nofly", help="No-fly zone polygons (repeatable); never entered."),
    home: str | None = typer.Option(None, "--home", help="Take-off point LAT,LON (default: the first waypoint)."),
    entry: str = typer.Option("auto", "--entry", help="Start corner: auto, nw, ne, sw or se."),
    turnaround: float = typer.Option(10.0, "--turnaround", help="Straight run-in/run-out at each line end, m."),
    trigger: str = typer.Option("distance", "--trigger", help="'distance' (DO_SET_CAM_TRIGG_DIST) or 'hover'."),
    speed: float | None = typer.Option(None, "--speed", help="Survey speed m/s (capped by camera interval and blur)."),
    margin: str | None = typer.Option(None, "--margin",
                                      help="Max distance lines may run outside the area (default: what the "
                                           "overlap needs at the edges; 0 = stay inside)."),
    portrait: bool = typer.Option(False, "--portrait", help="Long side of the sensor along track."),
    shutter: str | None = typer.Option(None, "--shutter", help="Exposure time for the blur limit, e.g. 1/1000."),
    max_alt: float = typer.Option(120.0, "--max-alt", help="Altitude limit above ground, m."),
    max_items: int = typer.Option(700, "--max-items", help="Vehicle mission item limit (home included)."),
    max_flight_time: str | None = typer.Option(None, "--max-flight-time",
                                               help="Battery limit, e.g. 25min; longer plans are refused."),
    nofly_clearance: float = typer.Option(10.0, "--nofly-clearance", help="Distance kept from no-fly zones, m."),
    fence_margin: float | None = typer.Option(50.0, "--fence-margin",
                                              help="Inclusion geofence this far around the flight, m."),
    no_fence: bool = typer.Option(False, "--no-fence", help="Write no inclusion geofence."),
) -> None:
    """Plan a nadir survey grid over AREA and write it in every format asked for."""
    for out in output:
        if out.suffix.lower() not in SUPPORTED_EXTENSIONS:
            raise InputError(f"{out}: unknown output format {out.suffix or '(none)'}; "
                             f"use one of {', '.join(SUPPORTED_EXTENSIONS)}")
    cam = get_camera(camera)
    if shutter is not None:
        cam = dataclasses.replace(cam, shutter_s=parse_duration(shutter, "--shutter"))
    if (gsd is None) == (alt is None):
        raise InputError("give exactly one of --gsd (e.g. 2.5cm) and --alt (e.g. 80m)")
    front, side = parse_overlap(overlap)
    spec = SurveySpec(
        altitude_m=parse_length(alt, "--alt") if alt else None,
        gsd_m=parse_length(gsd, "--gsd", default_unit="cm") if gsd else None,
        front_overlap=front, side_overlap=side, angle_deg=parse_angle(angle), crosshatch=crosshatch,
        orientation=Orientation.PORTRAIT if portrait else Orientation.LANDSCAPE, entry=entry.lower(),
        turnaround_m=turnaround, trigger=trigger.lower(), speed_m_s=speed,
        margin_m=parse_length(margin, "--margin") if margin not in (None, "0") else (0.0 if margin == "0" else None),
        nofly_clearance_m=nofly_clearance, home=parse_latlon(home, "--home") if home else None,
        fence_margin_m=None if no_fence else fence_margin, max_items=max_items, max_altitude_m=max_alt,
        max_flight_time_s=parse_duration(max_flight_time, "--max-flight-time") if max_flight_time else None,
    )
    region = read_area(area, nofly)
    plan = plan_survey(region, cam, spec)
    report = coverage(region, planned_photos(plan, region.frame), cam,
                      promised_count(front, side, 2 if crosshatch else 1), spec.orientation)
    for out in output:
        write_plan(plan, out)
        if plan.fence and out.suffix.lower() in (".waypoints", ".txt"):
            plan.warnings.append(f"{out.name}: the Mission Planner format holds no geofence; "
                                 "write a .plan as well to keep it")
    print_summary(plan, cam, report, output)


def print_summary(plan: Plan, cam: Camera, report: CoverageReport | None, outputs: list[Path]) -> None:
    """The plan's figures as a table on stdout."""
    m, s = plan.meta, plan.stats
    t = Table(title=f"skyscan survey: {m.pattern}, {cam.name}", show_header=False)
    t.add_column(style="bold")
    t.add_column()
    rows = [
        ("area", f"{s.area_m2 / 1e4:.2f} ha"),
        ("altitude", f"{m.altitude_m:.1f} m above home"),
        ("GSD across / along", f"{s.gsd_across_m * 100:.2f} / {s.gsd_along_m * 100:.2f} cm/px"),
        ("overlap front / side", f"{m.front_overlap:.0%} / {m.side_overlap:.0%}"),
        ("line spacing / trigger distance", f"{s.line_spacing_m:.1f} m / {s.trigger_distance_m:.1f} m"),
        ("transect bearing", f"{m.angle_deg:.1f} deg"),
        ("speed", f"{m.speed_m_s:.1f} m/s"),
        ("lines / segments / turns", f"{s.lines} / {s.segments} / {s.turns}"),
        ("photos", f"{s.photo_count}"),
        ("distance", f"{s.distance_m / 1000:.2f} km"),
        ("estimated flight time", f"{s.flight_time_s / 60:.1f} min"),
        ("mission items", f"{len(plan.items) + 1} (home included)"),
        ("geofence", f"{sum(p.inclusion for p in plan.fence.polygons)} inclusion, "
                     f"{sum(not p.inclusion for p in plan.fence.polygons)} exclusion polygon(s)"),
        ("planning time", f"{s.planning_time_s:.2f} s"),
    ]
    if report is not None:
        rows.append((f"coverage (>= {report.promised} photos)",
                     f"{report.percent_promised:.2f} % of the area (seen at all: {report.percent_seen:.2f} %)"))
    for out in outputs:
        rows.append(("written", str(out)))
    for k, v in rows:
        t.add_row(k, v)
    out = console()
    out.print(t)
    for w in plan.warnings:
        out.print(f"[yellow]warning:[/] {w}")


@app.command("check")
def check(
    plan_file: Path = typer.Argument(..., help="Plan to check (.plan, .waypoints, .kml, .kmz, .geojson)."),
    area: Path | None = typer.Option(None, "--area", help="Area to check against (default: the one in the plan)."),
    nofly: list[Path] = typer.Option([], "--nofly", help="No-fly zones, with --area."),
    camera: str | None = typer.Option(None, "--camera", "-c", help="Camera (default: the one in the plan)."),
    overlap: str | None = typer.Option(None, "--overlap", help="Promised overlap (default: the plan's)."),
    raster: Path | None = typer.Option(None, "--raster", help="Write the photo-count raster as GeoTIFF."),
    require: float | None = typer.Option(None, "--require",
                                         help="Exit 1 unless this % of the area gets the promised count."),
) -> None:
    """Count the planned photos over the area and report how much gets the promised overlap."""
    plan = read_plan(plan_file)
    meta = plan.meta
    cam_name = camera or meta.camera_id
    if not cam_name:
        raise InputError(f"{plan_file}: the plan names no camera; pass --camera")
    cam = get_camera(cam_name)
    if area is not None:
        region = read_area(area, nofly)
    elif meta.area:
        nofly_zones = shape(meta.nofly) if meta.nofly else None
        region = Area.from_lonlat(shape(meta.area), nofly_zones, name="the plan's survey area")
    else:
        raise InputError(f"{plan_file}: the plan carries no survey area; pass --area FILE")
    if overlap is not None:
        front, side = parse_overlap(overlap)
    elif meta.front_overlap is not None and meta.side_overlap is not None:
        front, side = meta.front_overlap, meta.side_overlap
    else:
        raise InputError(f"{plan_file}: the plan records no overlap; pass --overlap, e.g. 80/70")
    orientation = Orientation(meta.orientation or "landscape")
    photos = planned_photos(plan, region.frame)
    if len(photos) == 0:
        raise InputError(f"{plan_file}: the plan takes no photos (no camera trigger commands)")
    report = coverage(region, photos, cam, promised_count(front, side, 2 if meta.pattern == "crosshatch" else 1),
                      orientation)
    if raster is not None:
        report.write_geotiff(raster)
    t = Table(title=f"coverage of {region.name} by {plan_file.name}", show_header=False)
    t.add_column(style="bold")
    t.add_column()
    for k, v in (
        ("photos", str(len(photos))),
        ("area", f"{region.area_m2 / 1e4:.2f} ha (cells of {report.cell_m:.2f} m)"),
        (f"seen by >= {report.promised} photos (promised)", f"{report.percent_promised:.2f} %"),
        ("seen by >= 1 photo", f"{report.percent_seen:.2f} %"),
        ("photos per point: min / median", f"{report.min_count} / {report.median_count:g}"),
    ):
        t.add_row(k, v)
    if raster is not None:
        t.add_row("count raster", str(raster))
    console().print(t)
    if require is not None and report.percent_promised < require:
        console(stderr=True).print(f"coverage {report.percent_promised:.2f} % is below the required {require:g} %")
        raise typer.Exit(code=1)
