"""SimCamera: the simulated vehicle's camera. Each trigger becomes a photo file with full metadata.

The SITL vehicle calls :meth:`SimCamera.on_trigger` with a :class:`TriggerEvent` (the exact pose
at the shutter); the call returns at once with the path the photo *will* have, and the photo is
rendered (``sitl.render``) and written (``sensors.photo``) in worker processes, so rendering never
slows the flight. :meth:`SimCamera.close` waits for every photo. Every trigger also lands in
``truth.csv`` (rewritten atomically at most once a second, and at close): the pose each photo was rendered from,
in WGS84, in the world's UTM frame, and as ODM angles, for accuracy tests of the map pipeline.

Files: ``IMG_0001.JPG``, ``IMG_0002.JPG``... for an RGB camera; ``IMG_0001_1.tif`` ...
``IMG_0001_5.tif`` (one 16-bit TIFF per band, MicaSense naming) for a multispectral rig.

Gimbal angles are in the earth frame, as a stabilised gimbal holds them: pitch -90 = nadir, roll 0
= level, ``gimbal_yaw`` the compass heading the camera looks along (DJI's ``GimbalYawDegree``);
``SimCamera(gimbal_yaw_relative=True)`` reads it relative to the vehicle heading instead.
``on_trigger`` takes the vehicle's :class:`sitl.triggers.TriggerEvent`.

Plugging it into a vehicle::

    world = World.generate(lon, lat, seed=1)          # or World.from_geotiffs(...)
    with SimCamera(world, "mavic3e", "out/photos", workers=2) as cam:
        vehicle.on_camera_trigger = cam.on_trigger    # called with TriggerEvent(...)
        vehicle.fly()
    # leaving the block waits for the last photo

or ``python -m sitl --plugin sitl.camera:plugin`` (:func:`plugin`).
"""

from __future__ import annotations

import concurrent.futures as cf
import csv
import io
import math
import multiprocessing
import time
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import numpy as np

from sensors.camera import Camera
from sensors.catalog import get_camera
from sensors.photo import BandMeta, PhotoMeta, write_band_tiff, write_jpeg
from sensors.projection import Attitude, CameraPose, Gimbal, dji_gimbal_angles, grid_convergence_deg, odm_angles
from sitl.render import Effects, VehiclePose, render, render_bands
from sitl.triggers import TriggerEvent
from sitl.world import World, WorldSpec
from skyscan.atomic import atomic_write_text
from skyscan.errors import InputError

__all__ = ["SimCamera", "exif_make_model", "plugin", "render_event"]


def exif_make_model(camera: Camera) -> tuple[str, str]:
    """EXIF (Make, Model) for a catalogue camera: maker from its name, model from an EXIF-style
    alias (``FC7303``, ``M3E``, ``RedEdge-P``), so :func:`sensors.catalog.get_camera` finds it again."""
    make = camera.name.split()[0] if camera.name else "skyscan"
    if make.lower() in ("qgroundcontrol", "generic", "custom"):
        make = "skyscan"
    compact = [a for a in camera.aliases if " " not in a]
    model = compact[0] if compact else (camera.name[len(make) :].strip() or camera.id)
    return make, model


@lru_cache(maxsize=2)
def _world(spec: WorldSpec) -> World:
    """The world of ``spec``, opened once per process (memory-mapped, read-only)."""
    return spec.open()


@dataclass(frozen=True)
class _Job:
    spec: WorldSpec
    camera: Camera
    event: TriggerEvent
    path: Path
    size: tuple[int, int] | None
    effects: Effects
    gimbal: Gimbal
    velocity: tuple[float, float, float]
    quality: int


def _event_pose(world: World, event: TriggerEvent, velocity) -> VehiclePose:
    x, y = world.lonlat_to_xy(event.lon, event.lat)
    return VehiclePose(float(x), float(y), event.alt_msl, event.roll, event.pitch, event.yaw, tuple(velocity))


def _true_rotation(event: TriggerEvent, gimbal: Gimbal) -> np.ndarray:
    """Camera rotation relative to *true* north (metadata angles are geographic, not grid)."""
    att = Attitude(roll=event.roll, pitch=event.pitch, yaw=event.yaw)
    return CameraPose.from_angles((0.0, 0.0, 0.0), att, gimbal).rotation


def _photo_meta(job: _Job, exposure: float) -> PhotoMeta:
    ev, cam = job.event, job.camera
    make, model = exif_make_model(cam)
    rot = _true_rotation(ev, job.gimbal)
    gy, gp, gr = dji_gimbal_angles(rot)
    cy, cp, cr = odm_angles(rot)
    crop = math.hypot(36.0, 24.0) / math.hypot(cam.sensor_width_mm, cam.sensor_height_mm)
    return PhotoMeta(
        make=make, model=model, time=ev.time_utc,
        lat=ev.lat, lon=ev.lon, alt=ev.alt_msl, rel_alt=ev.alt_rel,
        focal_length_mm=cam.focal_length_mm, focal_length_35mm=round(cam.focal_length_mm * crop),
        exposure_s=cam.shutter_s * exposure, iso=100.0, fnumber=2.8,
        gimbal_pitch=gp, gimbal_roll=gr, gimbal_yaw=gy,
        flight_pitch=ev.pitch, flight_roll=ev.roll, flight_yaw=((ev.yaw + 180.0) % 360.0) - 180.0,
        camera_yaw=cy, camera_pitch=cp, camera_roll=cr, software="skyscan sitl",
    )  # fmt: skip


def render_event(job: _Job) -> list[Path]:
    """Render and write the photo(s) of one trigger (runs in a worker process)."""
    world = _world(job.spec)
    pose = _event_pose(world, job.event, job.velocity)
    if job.camera.bands:
        bands = render_bands(world, job.camera, pose, job.gimbal, job.size, effects=job.effects)
        base = _photo_meta(job, 1.0)
        capture = f"skyscan-{job.event.index:06d}-{job.event.time_unix_us // 1000:d}"
        paths = []
        for i, b in enumerate(bands, start=1):
            r = b.radiometry
            w = b.image.shape[1]
            px_per_mm = w / job.camera.sensor_width_mm
            band = BandMeta(
                name=r.band.name, center_nm=r.band.center_nm, fwhm_nm=r.band.bandwidth_nm, rig_index=r.rig_index,
                capture_id=capture, black_level=float(r.black_level), radiometric_calibration=r.radiometric_calibration,
                vignetting_center=r.vignetting_center, vignetting_polynomial=r.vignetting_poly,
                rig_relatives=r.rig_relatives, rig_translations=r.rig_translation, irradiance=r.irradiance,
                principal_point_mm=(r.principal_point_px[0] / px_per_mm, r.principal_point_px[1] / px_per_mm),
                focal_length_mm=r.focal_px / px_per_mm, focal_plane_px_per_mm=px_per_mm,
            )  # fmt: skip
            meta = replace(base, exposure_s=r.exposure_s, iso=100.0 * r.gain, band=band)
            path = job.path.with_name(f"{job.path.stem}_{i}.tif")
            paths.append(write_band_tiff(path, b.image, meta))
        return paths
    result = render(world, job.camera, pose, job.gimbal, job.size, effects=job.effects)
    write_jpeg(job.path, result.image, _photo_meta(job, result.exposure), quality=job.quality)
    return [job.path]


_TRUTH_COLUMNS = (
    "index", "file", "time_utc", "unix_time", "lat", "lon", "alt_msl", "alt_rel", "epsg", "x", "y", "z",
    "roll", "pitch", "yaw", "gimbal_pitch", "gimbal_roll", "gimbal_yaw", "gimbal_yaw_abs",
    "odm_yaw", "odm_pitch", "odm_roll", "grid_convergence", "vx", "vy", "vz",
)  # fmt: skip


class SimCamera:
    """A camera on the simulated vehicle that renders and writes a photo on every trigger.

    ``world`` is a :class:`World` (its spec is reopened in each worker) or a :class:`WorldSpec`;
    ``camera`` a :class:`Camera` or catalogue name. ``size`` renders smaller photos (width, height)
    for fast CI flights (the EXIF focal length stays valid: the field of view is kept). ``workers``
    is the number of renderer processes (0 renders in the caller at :meth:`close`, for debugging);
    ``effects`` the camera effects. Motion blur uses the velocity between consecutive triggers.
    """

    def __init__(
        self,
        world: World | WorldSpec,
        camera: Camera | str,
        out_dir,
        *,
        size: tuple[int, int] | None = None,
        workers: int = 1,
        effects: Effects = Effects(),  # noqa: B008 - frozen value
        gimbal_yaw_relative: bool = False,
        stabilised: bool = True,
        jpeg_quality: int = 92,
    ):
        self.world = world if isinstance(world, World) else world.open()
        self.spec = self.world.spec
        self.camera = camera if isinstance(camera, Camera) else get_camera(camera)
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        if size is not None and (size[0] <= 0 or size[1] <= 0):
            raise InputError(f"photo size must be positive, got {size!r}")
        self.size = size
        self.effects = effects
        self.yaw_relative = gimbal_yaw_relative
        self.stabilised = stabilised
        self.quality = int(jpeg_quality)
        self.truth_path = self.out_dir / "truth.csv"
        self._rows: list[dict] = []
        self._futures: list[cf.Future] = []
        self._deferred: list[_Job] = []
        self._last: tuple[TriggerEvent, np.ndarray] | None = None
        self._truth_written = 0.0  # monotonic time of the last truth.csv rewrite
        self.terrain = self.world.terrain_function()  # the SITL's terrain hook: (lat, lon) -> m AMSL
        self._pool = (
            cf.ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
            if workers > 0
            else None
        )  # spawn: forking a process that runs a MAVLink server's threads is not safe

    # -- the hook -------------------------------------------------------------------------------
    def on_trigger(self, event) -> Path:
        """Queue the photo of ``event``; returns its path (of band 1 for a rig) without waiting."""
        gimbal = Gimbal(pitch=event.gimbal_pitch, roll=event.gimbal_roll, yaw=event.gimbal_yaw,
                        yaw_relative=self.yaw_relative, stabilised=self.stabilised)  # fmt: skip
        pose = _event_pose(self.world, event, (0.0, 0.0, 0.0))
        here = np.array([pose.x, pose.y, pose.z])
        velocity = (0.0, 0.0, 0.0)
        if self._last is not None:
            prev, where = self._last
            dt = (event.time_unix_us - prev.time_unix_us) / 1e6
            if 0 < dt <= 5.0:  # consecutive shots on a line: the mean velocity between them
                velocity = tuple(float(v) for v in (here - where) / dt)
        self._last = (event, here)
        number = event.index if event.index > 0 else len(self._rows) + 1
        path = self.out_dir / f"IMG_{number:04d}.JPG"
        job = _Job(self.spec, self.camera, event, path, self.size, self.effects, gimbal, velocity, self.quality)
        if self._pool is not None:
            self._futures.append(self._pool.submit(render_event, job))
        else:
            self._deferred.append(job)
        self._record_truth(job, pose)
        return path if not self.camera.bands else path.with_name(f"{path.stem}_1.tif")

    def _record_truth(self, job: _Job, pose: VehiclePose) -> None:
        """Append the trigger's exact pose; ``truth.csv`` follows at most once a second."""
        ev = job.event
        rot = _true_rotation(ev, job.gimbal)
        oy, op, orr = odm_angles(rot)
        gy = dji_gimbal_angles(rot)[0]
        conv = grid_convergence_deg(self.world.epsg, ev.lon, ev.lat)
        name = job.path.name if not self.camera.bands else f"{job.path.stem}_*.tif"
        t = ev.time_utc.isoformat(timespec="microseconds")
        self._rows.append({
            "index": ev.index, "file": name, "time_utc": t, "unix_time": f"{ev.time_unix_us / 1e6:.6f}",
            "lat": f"{ev.lat:.9f}", "lon": f"{ev.lon:.9f}",
            "alt_msl": f"{ev.alt_msl:.4f}", "alt_rel": f"{ev.alt_rel:.4f}",
            "epsg": self.world.epsg, "x": f"{pose.x:.4f}", "y": f"{pose.y:.4f}", "z": f"{pose.z:.4f}",
            "roll": f"{ev.roll:.5f}", "pitch": f"{ev.pitch:.5f}", "yaw": f"{ev.yaw:.5f}",
            "gimbal_pitch": f"{ev.gimbal_pitch:.5f}", "gimbal_roll": f"{ev.gimbal_roll:.5f}",
            "gimbal_yaw": f"{ev.gimbal_yaw:.5f}", "gimbal_yaw_abs": f"{gy:.5f}",
            "odm_yaw": f"{oy:.5f}", "odm_pitch": f"{op:.5f}", "odm_roll": f"{orr:.5f}",
            "grid_convergence": f"{conv:.6f}", "vx": f"{job.velocity[0]:.4f}", "vy": f"{job.velocity[1]:.4f}",
            "vz": f"{job.velocity[2]:.4f}",
        })  # fmt: skip
        if time.monotonic() - self._truth_written >= 1.0:
            self._write_truth()

    def _write_truth(self) -> None:
        """Rewrite ``truth.csv`` atomically with every trigger so far."""
        self._truth_written = time.monotonic()
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=_TRUTH_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self._rows)
        atomic_write_text(self.truth_path, buf.getvalue())

    # -- lifecycle ------------------------------------------------------------------------------
    @property
    def pending(self) -> int:
        """Photos queued but not written yet."""
        return sum(not f.done() for f in self._futures) + len(self._deferred)

    def close(self, timeout: float | None = None) -> list[Path]:
        """Wait for every photo (render deferred ones now); returns all written paths in order.

        Raises the first worker error (a bug, with its traceback) after the others finish.
        """
        self._write_truth()
        paths: list[Path] = []
        error: BaseException | None = None
        for fut in self._futures:
            try:
                paths.extend(fut.result(timeout=timeout))
            except Exception as exc:  # collected, re-raised below
                error = error or exc
        for job in self._deferred:
            paths.extend(render_event(job))
        self._deferred.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        if error is not None:
            raise error
        return paths

    def __enter__(self) -> SimCamera:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def plugin(options) -> SimCamera:
    """``python -m sitl --plugin sitl.camera:plugin``: a camera over the procedural world at home.

    Reads from the SITL options: ``home_lat``/``home_lon``/``home_alt`` (the world's ground at home
    is the home altitude), ``seed``, ``log_dir`` (photos go to ``LOG_DIR/photos``, else ``./photos``)
    and, when present, ``world`` (a folder with ``ortho.tif`` and ``dem.tif``), ``camera`` (a
    catalogue name, default ``mavic3e``) and ``photo_size`` ((width, height) for fast CI flights).
    The returned camera also gives the simulator its terrain (``terrain(lat, lon)``).
    """
    world_dir = getattr(options, "world", None)
    if world_dir:
        world = World.from_geotiffs(Path(world_dir) / "ortho.tif", Path(world_dir) / "dem.tif")
    else:
        world = World.generate(options.home_lon, options.home_lat, seed=options.seed, ground_alt_m=options.home_alt,
                               extent_m=getattr(options, "world_extent_m", 1500.0))
    log_dir = getattr(options, "log_dir", None)
    out = Path(log_dir) / "photos" if log_dir else Path("photos")
    return SimCamera(world, getattr(options, "camera", None) or "mavic3e", out,
                     size=getattr(options, "photo_size", None), workers=2)  # fmt: skip
