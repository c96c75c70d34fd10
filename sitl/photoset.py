"""Photo sets without flying: plan a survey, pose its photos as the vehicle would, render them.

:func:`render_survey` is what benchmarks and accuracy tests of the map pipeline use when they need
a realistic photo set of a given size but not a flight: it plans a nadir survey
(:func:`mission.survey.plan_survey`) over a rectangle sized so that about ``n_photos`` photos
result, turns each planned photo (:func:`mission.photos.planned_photos`) into the
:class:`~sitl.triggers.TriggerEvent` a SITL flight would have produced there, and renders them with
:class:`~sitl.camera.SimCamera` over a procedural :class:`~sitl.world.World` large enough for the
survey. The output folder then holds ``IMG_0001.JPG``... with full EXIF GPS and XMP, and
``truth.csv`` (the exact poses), exactly as after a SITL flight.

The poses are what a flying copter gives: time stamps advance at the plan's survey speed (plus a
few seconds per turn), yaw follows the line (a true heading, so the UTM grid convergence is taken
out), the vehicle's roll and pitch wander within +-2 degrees, the stabilised gimbal hangs up to
about a degree off nadir and the height above home varies by a few decimetres. Every random value
comes from ``seed``, so a set is reproducible.

A finished set is recorded in ``photoset.json`` (the request, the photo count, the render time);
calling again with the same request returns at once. Cost: a 12 MP photo (``mavic3e`` at 4000 x
3000) took 2-3 s of wall time per photo on 2 workers on a shared 2-core machine, so 200 photos take
about 10 minutes the first time.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from shapely.geometry import Polygon

from mission.area import Area
from mission.commands import Cmd
from mission.frame import LocalFrame
from mission.photos import PlannedPhotos, planned_photos
from mission.plan import Plan
from mission.survey import SurveySpec, plan_survey
from sensors.camera import Camera
from sensors.catalog import get_camera
from sensors.projection import grid_convergence_deg
from sitl.camera import SimCamera
from sitl.render import Effects
from sitl.triggers import TriggerEvent
from sitl.world import World
from skyscan.atomic import atomic_write_text
from skyscan.errors import InputError

__all__ = ["DEFAULT_HOME", "SurveyLayout", "plan_layout", "render_survey", "trigger_events"]

DEFAULT_HOME = (149.1650, -35.3630)  # lon, lat: open country near Canberra, as in the tests
PARAMS_FILE = "photoset.json"
_FORMAT = 2  # bump when the poses or the rendering of a set change, so old caches are redone
_START = datetime(2026, 5, 1, 1, 0, 0, tzinfo=UTC)  # 11:00 local in Canberra: a fixed, sunny start
_TAKEOFF_S = 60.0  # seconds from boot to the first photo (take-off and the transit to the first line)
_TURN_S = 8.0  # extra seconds a line change takes over the straight distance (braking, turning)


@dataclass(frozen=True)
class SurveyLayout:
    """A planned survey sized for a photo count: the plan, its photos and the rectangle's size."""

    plan: Plan
    photos: PlannedPhotos
    width_m: float
    height_m: float
    speed_m_s: float


def _rectangle(home: tuple[float, float], width: float, height: float, bearing_deg: float) -> Area:
    """A rectangle centred on home, ``height`` long along ``bearing_deg`` (grid) and ``width`` across."""
    frame = LocalFrame.around(*home)
    hx, hy = (float(v) for v in frame.to_local(*home))
    b = math.radians(bearing_deg)
    across = np.array([-0.5, 0.5, 0.5, -0.5]) * width
    along = np.array([-0.5, -0.5, 0.5, 0.5]) * height
    xs = hx + across * math.cos(b) + along * math.sin(b)
    ys = hy - across * math.sin(b) + along * math.cos(b)
    lon, lat = frame.to_lonlat(xs, ys)
    return Area.from_lonlat(Polygon(np.column_stack([lon, lat])), name=f"{width:.0f} x {height:.0f} m rectangle")


def _survey_speed(plan: Plan) -> float:
    """The speed the plan flies its lines at (its DO_CHANGE_SPEED), else its mean speed."""
    for item in plan.items:
        if item.command == Cmd.DO_CHANGE_SPEED and item.params[1] > 0:
            return float(item.params[1])
    st = plan.stats
    if st is not None and st.flight_time_s > 0:
        return st.distance_m / st.flight_time_s
    return 5.0


def plan_layout(
    n_photos: int,
    camera: Camera,
    *,
    altitude_m: float,
    front: float,
    side: float,
    angle_deg: float = 0.0,
    home: tuple[float, float] = DEFAULT_HOME,
) -> SurveyLayout:
    """Plan a survey of a rectangle centred on ``home`` (lon, lat) that takes about ``n_photos`` photos.

    The lines run along ``angle_deg`` (a grid bearing). The photo count is a step function of the
    rectangle's size (whole lines times whole trigger distances), so for a few line counts near a
    square's the width is bisected to give that many lines and then the length to give the photo
    count; the nearest plan wins. Raises InputError when none lands within 10 % of ``n_photos``.
    """
    if n_photos < 2:
        raise InputError(f"a photo set needs at least 2 photos, got n_photos={n_photos}")
    spec = SurveySpec(altitude_m=altitude_m, front_overlap=front, side_overlap=side, angle_deg=angle_deg)
    geo = camera.survey_geometry(altitude_m, front, side)
    d, s = geo.trigger_distance_m, geo.line_spacing_m
    best: tuple[int, float, float, Plan] | None = None

    def plan_of(width: float, height: float) -> Plan | None:
        try:
            return plan_survey(_rectangle(home, width, height, angle_deg), camera, spec)
        except InputError:  # too small for a single line
            return None

    def bisect(lo: float, hi: float, measure, target: int) -> float | None:
        """A value in [lo, hi] where the nondecreasing step function ``measure`` hits ``target``."""
        for _ in range(24):
            mid = 0.5 * (lo + hi)
            got = measure(mid)
            if got == target:
                return mid
            lo, hi = (mid, hi) if got < target else (lo, mid)
        return None

    # A square area has about sqrt(n d / s) lines; try line counts near that (at least 2 when the
    # set can be a grid) for which whole lines of equal length can give n photos.
    ideal = math.sqrt(n_photos * d / s)
    counts = [m for m in range(1, n_photos + 1) if abs(m * round(n_photos / m) - n_photos) <= 0.1 * n_photos]
    counts.sort(key=lambda m: (m == 1 and n_photos >= 4, abs(math.log(m / ideal))))
    for m in counts[:6]:
        probe = (n_photos / m + 2) * d  # a length that surely holds a line's photos

        def lines(w: float, h: float = probe) -> int:
            plan = plan_of(w, h)
            return plan.stats.lines if plan is not None else 0

        width = bisect(0.01, (m + 2) * s, lines, m)
        if width is None:
            continue

        def photos(h: float, w: float = width) -> int:
            nonlocal best
            plan = plan_of(w, h)
            got = len(planned_photos(plan)) if plan is not None else 0
            if plan is not None and (best is None or abs(got - n_photos) < abs(best[0] - n_photos)):
                best = (got, w, h, plan)
            return got

        if bisect(0.01, (n_photos / m + 2) * d, photos, n_photos) is not None:
            break
    got, w, h, plan = best if best is not None else (0, 0.0, 0.0, None)
    if plan is None or abs(got - n_photos) > 0.1 * n_photos:
        raise InputError(
            f"no rectangular survey at {altitude_m} m with {front:.0%}/{side:.0%} overlap takes about "
            f"{n_photos} photos (nearest: {got}); ask for more photos or a lower altitude"
        )
    return SurveyLayout(plan, planned_photos(plan), w, h, _survey_speed(plan))


def trigger_events(
    layout: SurveyLayout, home_alt_m: float, *, seed: int = 1, epsg: int | None = None
) -> list[TriggerEvent]:
    """The camera triggers a copter flying ``layout`` would record, one per planned photo, in order.

    ``home_alt_m`` is the take-off point's altitude AMSL (the planned heights are relative to it);
    ``epsg`` the projected frame the planned headings are in (default: the photos' frame).
    """
    ph = layout.photos
    n = len(ph)
    rng = np.random.default_rng(seed)
    lon, lat = ph.lonlat()
    # Planned headings are grid bearings; an autopilot's yaw is a true heading.
    conv = grid_convergence_deg(epsg or ph.frame.epsg, float(lon.mean()), float(lat.mean()))
    heading = (ph.heading - conv) % 360.0
    # Time: straight distance between photos at the survey speed, plus a turn at each line change.
    step = np.hypot(np.diff(ph.x), np.diff(ph.y))
    turn = np.abs(((np.diff(ph.heading) + 180.0) % 360.0) - 180.0) > 1.0
    dt = step / layout.speed_m_s + np.where(turn, _TURN_S, 0.0)
    t = _TAKEOFF_S + np.concatenate([[0.0], np.cumsum(dt)])
    # Small, realistic pose noise: the vehicle wanders within +-2 deg (pitched nose-down a little
    # while cruising), crabs a few tenths of a degree, the stabilised gimbal hangs slightly off nadir.
    roll = np.clip(rng.normal(0.0, 0.8, n), -2.0, 2.0)
    pitch = np.clip(rng.normal(-1.0, 0.6, n), -2.0, 2.0)
    yaw = (heading + np.clip(rng.normal(0.0, 0.5, n), -1.5, 1.5)) % 360.0
    tilt = np.minimum(np.abs(rng.normal(0.0, 0.5, n)), 1.5)
    gimbal_roll = np.clip(rng.normal(0.0, 0.3, n), -1.0, 1.0)
    alt_rel = ph.agl + np.clip(rng.normal(0.0, 0.3, n), -1.0, 1.0)
    boot_us = int(_START.timestamp() * 1e6)
    return [
        TriggerEvent(
            index=i + 1, sim_time_s=float(t[i]), time_unix_us=boot_us + round(t[i] * 1e6),
            lat=float(lat[i]), lon=float(lon[i]), alt_msl=float(home_alt_m + alt_rel[i]), alt_rel=float(alt_rel[i]),
            roll=float(roll[i]), pitch=float(pitch[i]), yaw=float(yaw[i]),
            gimbal_pitch=float(-90.0 + tilt[i]), gimbal_roll=float(gimbal_roll[i]), gimbal_yaw=float(yaw[i]),
            source="distance",
        )
        for i in range(n)
    ]


def _world_extent(layout: SurveyLayout, camera: Camera, home: tuple[float, float], altitude_m: float) -> float:
    """Side of the square world (centred on home) that every photo's view lies inside."""
    ph = layout.photos
    hx, hy = (float(v) for v in ph.frame.to_local(*home))
    reach = float(np.max(np.maximum(np.abs(ph.x - hx), np.abs(ph.y - hy))))
    geo = camera.survey_geometry(altitude_m, 0.0, 0.0)
    half_diag = 0.5 * math.hypot(geo.footprint_across_m, geo.footprint_along_m)
    # 30 % on the footprint: tilt, terrain below home and the height noise widen the view.
    extent = 2.0 * (reach + 1.3 * half_diag) + 40.0
    return float(max(100.0, 50.0 * math.ceil(extent / 50.0)))


def _complete(out: Path, request: dict) -> bool:
    """True when ``out`` holds a finished set rendered for ``request``."""
    try:
        done = json.loads((out / PARAMS_FILE).read_text())
    except (OSError, ValueError):
        return False
    if done.get("request") != request or not (out / "truth.csv").is_file():
        return False
    return all((out / f"IMG_{i:04d}.JPG").is_file() for i in range(1, int(done.get("photos", 0)) + 1))


def _clear(out: Path) -> None:
    """Remove a previous or unfinished set (only the files a set consists of)."""
    for p in [*out.glob("IMG_*.JPG"), out / "truth.csv", out / PARAMS_FILE]:
        p.unlink(missing_ok=True)


def render_survey(
    out_dir,
    *,
    n_photos: int,
    camera: str | Camera = "mavic3e",
    size: tuple[int, int] | None = None,
    altitude_m: float = 80.0,
    front: float = 0.75,
    side: float = 0.65,
    angle_deg: float = 0.0,
    seed: int = 1,
    workers: int = 2,
    home: tuple[float, float] = DEFAULT_HOME,
    ground_alt_m: float = 100.0,
    jpeg_quality: int = 92,
    effects: Effects = Effects(),  # noqa: B008 - frozen value
    world_cache_dir=None,
) -> Path:
    """Render the photos of a survey of about ``n_photos`` photos into ``out_dir``; return ``out_dir``.

    ``camera`` is a catalogue name or :class:`Camera`; ``size`` (width, height) renders smaller or
    larger than the camera's native size (the field of view is kept); ``altitude_m`` is the height
    above home, ``front``/``side`` the overlaps, ``angle_deg`` the line bearing, ``home`` (lon, lat)
    the centre of the survey and of the world, ``seed`` the world's and the poses' seed, ``workers``
    the renderer processes. The world is cached under ``world_cache_dir`` (default: the user cache).

    Writes ``IMG_0001.JPG``... (EXIF GPS + XMP), ``truth.csv`` and ``photoset.json`` (the request,
    the count and the render time). If ``out_dir`` already holds a finished set for the same
    request it is returned at once; an unfinished or different one is replaced.
    """
    cam = camera if isinstance(camera, Camera) else get_camera(camera)
    if cam.bands:
        raise InputError(f"{cam.id} is a multispectral rig; render_survey makes RGB sets, pick an RGB camera")
    if size is not None:
        size = (int(size[0]), int(size[1]))
    out = Path(out_dir)
    request = {
        "format": _FORMAT, "n_photos": int(n_photos), "camera": cam.id, "size": list(size) if size else None,
        "altitude_m": float(altitude_m), "front": float(front), "side": float(side), "angle_deg": float(angle_deg),
        "seed": int(seed), "home": [float(home[0]), float(home[1])], "ground_alt_m": float(ground_alt_m),
        "jpeg_quality": int(jpeg_quality), "effects": repr(effects),
    }  # fmt: skip
    if _complete(out, request):
        return out
    out.mkdir(parents=True, exist_ok=True)
    _clear(out)

    t0 = time.perf_counter()
    layout = plan_layout(n_photos, cam, altitude_m=altitude_m, front=front, side=side, angle_deg=angle_deg, home=home)
    extent = _world_extent(layout, cam, home, altitude_m)
    world = World.generate(home[0], home[1], seed=seed, extent_m=extent, ground_alt_m=ground_alt_m,
                           cache_dir=world_cache_dir)  # fmt: skip
    t_world = time.perf_counter() - t0
    # The plan's heights are relative to take-off at home, whose ground is the world's at home.
    events = trigger_events(layout, world.home_altitude, seed=seed, epsg=world.epsg)
    t1 = time.perf_counter()
    with SimCamera(world, cam, out, size=size, workers=workers, effects=effects, jpeg_quality=jpeg_quality) as sim:
        for ev in events:
            sim.on_trigger(ev)
    render_s = time.perf_counter() - t1
    w, h = size or (cam.image_width_px, cam.image_height_px)
    record = {
        "request": request, "photos": len(events), "width_px": w, "height_px": h,
        "area_m": [round(layout.width_m, 2), round(layout.height_m, 2)], "lines": layout.plan.stats.lines,
        "speed_m_s": layout.speed_m_s, "world_extent_m": extent, "world_s": round(t_world, 3),
        "render_s": round(render_s, 3), "render_s_per_photo": round(render_s / len(events), 4), "workers": workers,
    }  # fmt: skip
    # Written last: its presence (with every photo) is what marks the set finished.
    atomic_write_text(out / PARAMS_FILE, json.dumps(record, indent=2) + "\n")
    return out
