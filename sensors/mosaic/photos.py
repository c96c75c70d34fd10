"""Posed photos: the map pipeline's input. A folder of photos becomes a :class:`PhotoSet`.

A :class:`Photo` is one image file with everything the map needs to project it: where the camera
was (WGS84 + altitude above sea level), where it pointed (ODM / Pix4D ``Camera:`` angles, true
north), and its pinhole intrinsics at the file's own pixel size. Photos that cannot go into a map
become :class:`Skipped` entries with a reason fit for a report; the map is made from the rest.

The work is split so that memory never grows with the number of photos:

* :func:`list_photos` finds the image files (JPEG/TIFF, any case; one band per MicaSense capture);
* :func:`load_photo` is the per-photo task (a plain function: the pipeline runs it as one dask
  task per photo): metadata, intrinsics, orientation, a *reduced* decode that proves the file
  is whole and measures its quality (:mod:`sensors.mosaic.quality`); nothing decoded is kept;
* :func:`assemble` makes the set-level decisions on the small results: positions far from the
  others, blur relative to the set, the heading of photos without orientation, the UTM zone.

:func:`scan_photos` chains the three on one core::

    results = [load_photo(p, position=..., camera=cam) for p in list_photos(folder)]
    photo_set = assemble(results)        # what scan_photos(folder) returns

Where each value comes from, in order of precedence:

* **Position**: a positions CSV row for the file name (``skyscan geotag``), else EXIF GPS (with DJI's
  XMP ``AbsoluteAltitude`` when EXIF has no altitude). No latitude/longitude, or no altitude: skipped.
* **Orientation**: the positions row's ``camera_*`` angles (``"positions"``); DJI XMP
  (``"xmp-dji"``: flight yaw, 90 + gimbal pitch, gimbal roll or 0 when absent, as ODM reads them);
  ``Camera:Yaw/Pitch/Roll`` (``"xmp-camera"``); else nadir is assumed (``"assumed-nadir"``) with
  the yaw of the flight direction between the neighbouring photos (0 when there are none).
  DJI files whose three gimbal tags are all exactly 0 have no recorded gimbal (the DJI Mini 2
  firmware behind the real Nottingham set writes ``+0.00`` for all three on nadir photos; a real
  gimbal is never level, north and horizontal to 0.005 deg at once): they are assumed nadir,
  image top along ``FlightYawDegree``.
* **Intrinsics**: the ``camera`` argument; else a multispectral band's own calibration
  (``PerspectiveFocalLength``, ``PrincipalPoint``, focal-plane resolution: per lens, better than any
  catalogue row); else the catalogue camera matching the EXIF model (focal length from EXIF when
  it differs, e.g. a zoom); else EXIF focal length in 35 mm terms (diagonal) or focal length x
  focal-plane resolution. A file's pixel size may differ from the catalogue's: a resized photo
  scales both axes, a 16:9 photo from a 4:3 sensor is a crop (same pixel pitch).

Far positions: a photo is skipped when its distance from the set's median position exceeds
``max(5 km, 20 x the median nearest-neighbour spacing, 3 x the median distance from the median)``:
the first term keeps any ordinary survey whole, the second scales with sparse sets, the third
keeps a long corridor whole. Wrong hemispheres, (0, 0)-like fixes and photos from another flight
lie far beyond it. At least 3 photos are needed to judge.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import numpy as np

from sensors.camera import Camera
from sensors.catalog import get_camera
from sensors.mosaic.quality import Quality, assess, screen
from sensors.photo import PhotoMeta, read_photo_meta
from sensors.positions import PhotoPosition, read_positions_csv
from sensors.projection import (
    Attitude,
    CameraPose,
    Gimbal,
    Intrinsics,
    camera_rotation,
    grid_convergence_deg,
    odm_angles,
    rotation_from_odm,
)
from skyscan.errors import InputError

__all__ = [
    "IMAGE_SUFFIXES",
    "Photo",
    "PhotoSet",
    "Skipped",
    "assemble",
    "list_photos",
    "load_photo",
    "scan_photos",
    "utm_epsg",
]

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".tif", ".tiff"})
ORIENTATIONS = ("xmp-camera", "xmp-dji", "positions", "assumed-nadir")
NO_INTRINSICS = "no camera intrinsics: pass --camera NAME"

FAR_MIN_M = 5000.0
FAR_SPACINGS = 20.0
FAR_SPREADS = 3.0
_EARTH_RADIUS_M = 6371008.8
_DJI_MAKES = {"dji", "hasselblad"}
_BAND_STEM = re.compile(r"^(?P<capture>.+)_(?P<index>\d{1,2})$")
_DIAG_35MM = math.hypot(36.0, 24.0)
_NAN = float("nan")


# =================================================================================================
# The model
# =================================================================================================
@dataclass(frozen=True)
class Photo:
    """One posed photo: image path, pose and camera.

    ``time`` is the positions row's UTC time, else EXIF ``DateTimeOriginal`` (timezone-aware only
    when the file gives an offset: DJI writes local time without one), else the GPS UTC stamp.
    ``lat``/``lon`` WGS84 degrees, ``alt_msl`` metres above mean sea level, ``alt_rel`` metres
    above take-off (NaN when unknown). ``yaw``/``pitch``/``roll`` are degrees in the ODM / Pix4D
    ``Camera:`` convention (pitch 0 = nadir, yaw = true heading of the image top).
    ``intrinsics`` are at the file's pixel size; ``camera`` is the catalogue camera they came
    from (None when built from EXIF focal length or a band's calibration without a catalogue
    match). ``orientation`` says where the angles came from (:data:`ORIENTATIONS`), ``band`` is
    the multispectral band name (None for RGB), ``quality`` the measures of
    :func:`sensors.mosaic.quality.assess` (None when not measured): kept on the photo because
    :func:`assemble` judges blur against the whole set, after the per-photo tasks have run.
    """

    path: Path
    time: datetime | None
    lat: float
    lon: float
    alt_msl: float
    alt_rel: float
    yaw: float
    pitch: float
    roll: float
    intrinsics: Intrinsics
    camera: Camera | None
    orientation: str
    band: str | None = None
    quality: Quality | None = None

    def rotation(self, epsg: int) -> np.ndarray:
        """Rotation *world (UTM ``epsg``, ENU) <- camera (OpenCV)*, grid convergence applied."""
        return rotation_from_odm(self.yaw, self.pitch, self.roll, grid_convergence_deg(epsg, self.lon, self.lat))

    def pose(self, epsg: int, transformer=None) -> CameraPose:
        """The camera pose in the UTM grid ``epsg``: centre (x, y, alt_msl) and :meth:`rotation`.

        ``transformer`` is a pyproj ``Transformer`` WGS84 -> ``epsg`` with ``always_xy=True``
        (pass one to reuse it over many photos; None builds a cached one).
        """
        tr = transformer if transformer is not None else _to_grid(int(epsg))
        x, y = tr.transform(self.lon, self.lat)
        return CameraPose(np.array([x, y, self.alt_msl], dtype=float), self.rotation(epsg))


@dataclass(frozen=True)
class Skipped:
    """A file left out of the map and why (one short sentence, or several joined by '; ')."""

    path: Path
    reason: str


@dataclass(frozen=True)
class PhotoSet:
    """The usable photos of a folder, the skipped ones with reasons, and the UTM zone (EPSG code)
    of the photos' median position, the working grid of the map."""

    photos: tuple[Photo, ...]
    skipped: tuple[Skipped, ...]
    epsg: int

    def poses(self) -> list[CameraPose]:
        """Every photo's :meth:`Photo.pose` in :attr:`epsg`, in order."""
        tr = _to_grid(self.epsg)
        return [p.pose(self.epsg, tr) for p in self.photos]


@cache
def _to_grid(epsg: int):
    from pyproj import Transformer

    return Transformer.from_crs("EPSG:4326", f"EPSG:{epsg}", always_xy=True)


def utm_epsg(lon: float, lat: float) -> int:
    """EPSG code of the WGS84 UTM zone holding (lon, lat): 326xx north, 327xx south."""
    zone = math.floor((float(lon) + 180.0) / 6.0) % 60 + 1
    return (32600 if lat >= 0 else 32700) + zone


# =================================================================================================
# Listing
# =================================================================================================
def list_photos(folder, *, band: str = "Green") -> list[Path]:
    """The photo files of ``folder`` (not recursive), sorted by name.

    JPEG and TIFF files in any case are photos; everything else (``truth.csv``, logs, hidden
    temporary files) is ignored. Multispectral captures (MicaSense naming ``IMG_0001_1.tif`` ...
    ``IMG_0001_5.tif``: TIFFs sharing a stem before ``_<n>``) are reduced to one file each: the
    band whose XMP ``BandName`` is ``band`` (Green by default: every MicaSense, Parrot and DJI rig
    has it, and it carries the most texture of the visible bands), else the lowest ``<n>``.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"photo folder not found: {folder}")
    files = sorted(
        p for p in folder.iterdir()
        if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".") and p.is_file()
    )  # fmt: skip
    captures: dict[str, list[tuple[int, Path]]] = {}
    for p in files:
        m = _BAND_STEM.match(p.stem)
        if p.suffix.lower() in (".tif", ".tiff") and m:
            captures.setdefault(m.group("capture"), []).append((int(m.group("index")), p))
    drop: set[Path] = set()
    for members in captures.values():
        if len(members) < 2:
            continue
        members.sort()
        keep = next((p for _, p in members if _band_name(p) == band.lower()), members[0][1])
        drop.update(p for _, p in members if p != keep)
    return [p for p in files if p not in drop]


def _band_name(path: Path) -> str | None:
    try:
        name = read_photo_meta(path).band_name
    except InputError:
        return None
    return name.lower() if name else None


# =================================================================================================
# The per-photo task
# =================================================================================================
def load_photo(path, *, position: PhotoPosition | None = None, camera: str | Camera | None = None) -> Photo | Skipped:
    """Read one photo into a :class:`Photo`, or a :class:`Skipped` saying why it cannot be used.

    ``position`` (a positions CSV row) overrides the file's own position and orientation;
    ``camera`` (catalogue name or :class:`Camera`) overrides its intrinsics. The image is decoded
    reduced (never at full size) to prove it is whole and to measure its quality; an absolute
    quality failure (black, over-exposed, featureless, hopelessly blurred) skips it, relative blur
    is left to :func:`assemble`. Bad files never raise; an unknown ``camera`` name does.
    """
    path = Path(path)
    if isinstance(camera, str):
        camera = get_camera(camera)
    try:
        meta = read_photo_meta(path)
    except InputError as exc:
        return Skipped(path, f"unreadable image: {_why(exc, path)}")
    reasons: list[str] = []

    lat, lon, alt = _position(meta, position, reasons)
    intr, cam = _intrinsics(meta, camera, path)
    if intr is None:
        reasons.append(NO_INTRINSICS)
    try:
        quality: Quality | None = assess(path)
    except InputError as exc:
        quality = None
        reasons.append(_why(exc, path))
    else:
        if quality.reason:
            reasons.append(quality.reason)
    if reasons:
        return Skipped(path, "; ".join(reasons))

    yaw, pitch, roll, source = _orientation(meta, position)
    time = (position.time if position is not None and position.time else None) or meta.time or meta.gps_time
    alt_rel = position.alt_rel if position is not None and math.isfinite(position.alt_rel) else meta.rel_alt
    return Photo(
        path=path, time=time, lat=float(lat), lon=float(lon), alt_msl=float(alt),
        alt_rel=_NAN if alt_rel is None else float(alt_rel),
        yaw=yaw, pitch=pitch, roll=roll, intrinsics=intr, camera=cam, orientation=source,
        band=meta.band_name, quality=quality,
    )  # fmt: skip


def _why(exc: Exception, path: Path) -> str:
    """An error message without the leading path (the report lists the path beside it)."""
    text = str(exc)
    for prefix in (f"{path}: ", f"photo not found: {path}"):
        if text.startswith(prefix):
            return text[len(prefix) :] or "file not found"
    return text


def _position(meta: PhotoMeta, position: PhotoPosition | None, reasons: list[str]):
    """(lat, lon, alt_msl) from the positions row, else EXIF; appends reasons when unusable."""
    if position is not None and math.isfinite(position.lat) and math.isfinite(position.lon):
        alt = position.alt_msl if math.isfinite(position.alt_msl) else meta.alt
        if alt is None:
            reasons.append("no altitude (empty alt_msl in the positions file and no GPS altitude in the photo)")
        return position.lat, position.lon, alt
    if not meta.has_position:
        why = "; ".join(p for p in meta.problems if "altitude" not in p) or "no GPS data"
        reasons.append(f"no GPS position ({why})")
        return None, None, None
    if meta.alt is None:
        reasons.append("no altitude (no EXIF GPSAltitude or DJI AbsoluteAltitude)")
    return meta.lat, meta.lon, meta.alt


def _orientation(meta: PhotoMeta, position: PhotoPosition | None) -> tuple[float, float, float, str]:
    """(yaw, pitch, roll, source) in ODM degrees; yaw NaN when :func:`assemble` must fill it."""
    if position is not None and position.has_orientation:
        return position.camera_yaw % 360.0, position.camera_pitch, position.camera_roll, "positions"
    dji = (meta.make or "").lower() in _DJI_MAKES and meta.flight_yaw is not None and meta.gimbal_pitch is not None
    if dji and all(v == 0.0 for v in (meta.gimbal_pitch, meta.gimbal_roll, meta.gimbal_yaw)):
        return meta.flight_yaw % 360.0, 0.0, 0.0, "assumed-nadir"  # gimbal not recorded (module docstring)
    # Camera: tags next: they are the full camera rotation (Pix4D/ODM writers, skyscan geotag, the SITL).
    if None not in (meta.camera_yaw, meta.camera_pitch, meta.camera_roll):
        return meta.camera_yaw % 360.0, meta.camera_pitch, meta.camera_roll, "xmp-camera"  # type: ignore[operator]
    if dji:
        # DJI's gimbal angles are absolute (earth frame, GimbalYawDegree = where the camera points):
        # turned exactly into ODM angles. ODM itself takes FlightYaw + 90 + GimbalPitch, which is off
        # by the gimbal's yaw lag and ignores how pitch and roll compose (about a degree in practice).
        yaw = meta.gimbal_yaw if meta.gimbal_yaw is not None else meta.flight_yaw
        rot = camera_rotation(Attitude(), Gimbal(pitch=meta.gimbal_pitch, roll=meta.gimbal_roll or 0.0, yaw=yaw,
                                                 yaw_relative=False))  # fmt: skip
        y, p, r = odm_angles(rot)
        return y % 360.0, p, r, "xmp-dji"
    return _NAN, 0.0, 0.0, "assumed-nadir"


def _intrinsics(meta: PhotoMeta, camera: Camera | None, path: Path) -> tuple[Intrinsics | None, Camera | None]:
    """(intrinsics, catalogue camera) by the precedence in the module docstring."""
    w, h = meta.width or 0, meta.height or 0
    if w <= 0 or h <= 0:
        return None, None
    if camera is not None:
        return camera_intrinsics(camera, w, h), camera
    matched = _catalogue_match(meta)
    band = meta.band
    if band is not None and band.focal_length_mm and band.focal_plane_px_per_mm:
        f = band.focal_length_mm * band.focal_plane_px_per_mm
        pp = band.principal_point_mm
        cx, cy = ((pp[0] * band.focal_plane_px_per_mm, pp[1] * band.focal_plane_px_per_mm)
                  if pp and len(pp) >= 2 else ((w - 1) / 2.0, (h - 1) / 2.0))  # fmt: skip
        return Intrinsics(w, h, f, f, cx, cy), matched
    if matched is not None:
        f_exif = meta.focal_length_mm
        if f_exif and abs(f_exif - matched.focal_length_mm) > 0.05 * matched.focal_length_mm:
            matched = replace(matched, focal_length_mm=float(f_exif))  # a zoom, or another lens on the body
        return camera_intrinsics(matched, w, h), matched
    f_px = None
    if meta.focal_length_35mm:
        f_px = meta.focal_length_35mm / _DIAG_35MM * math.hypot(w, h)
    elif meta.focal_length_mm:
        per_mm = _focal_plane_px_per_mm(path)
        if per_mm:
            f_px = meta.focal_length_mm * per_mm
    if not f_px:
        return None, None
    return Intrinsics(w, h, f_px, f_px, (w - 1) / 2.0, (h - 1) / 2.0), None


def camera_intrinsics(camera: Camera, width: int, height: int) -> Intrinsics:
    """Intrinsics of a catalogue ``camera`` for a file of ``width`` x ``height`` pixels.

    The same aspect ratio as the sensor: a resized photo (:meth:`Intrinsics.from_camera`). Another
    aspect ratio (16:9 video-style stills from a 4:3 sensor): a crop that keeps the long side, so
    both axes scale with it. A portrait file from a landscape sensor swaps the axes.
    """
    long_px, short_px = max(width, height), min(width, height)
    ratio = camera.image_width_px / camera.image_height_px
    if width >= height and abs(long_px / short_px - ratio) <= 0.01 * ratio:
        return Intrinsics.from_camera(camera, (width, height))
    s = long_px / camera.image_width_px
    f_long = camera.focal_length_mm / camera.pixel_pitch_x_mm * s
    f_short = camera.focal_length_mm / camera.pixel_pitch_y_mm * s
    fx, fy = (f_long, f_short) if width >= height else (f_short, f_long)
    return Intrinsics(int(width), int(height), fx, fy, (width - 1) / 2.0, (height - 1) / 2.0)


def _catalogue_match(meta: PhotoMeta) -> Camera | None:
    for name in (meta.model, f"{meta.make or ''} {meta.model or ''}".strip()):
        if not name:
            continue
        try:
            return get_camera(name)
        except InputError:
            continue
    return None


def _focal_plane_px_per_mm(path: Path) -> float | None:
    """EXIF FocalPlaneXResolution in pixels per mm (None when absent or in unknown units)."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            ifd = im.getexif().get_ifd(0x8769)
            res, unit = ifd.get(0xA20E), ifd.get(0xA210, 2)
            value = float(res) if res is not None else 0.0
    except (OSError, ValueError, TypeError, ZeroDivisionError):
        return None
    per_mm = {2: 1 / 25.4, 3: 0.1, 4: 1.0}.get(int(unit or 2))
    return value * per_mm if per_mm and value > 0 and math.isfinite(value) else None


# =================================================================================================
# The set
# =================================================================================================
def assemble(results: Iterable[Photo | Skipped]) -> PhotoSet:
    """The :class:`PhotoSet` of per-photo results (:func:`load_photo`), after the set-level checks.

    Skips photos far from the others and photos blurred relative to the set
    (:func:`sensors.mosaic.quality.screen`), gives assumed-nadir photos the yaw of their flight
    direction, and picks the UTM zone of the median position. Raises
    :class:`~skyscan.errors.InputError` when no photo is usable, with the reasons counted.
    """
    results = list(results)
    photos = [r for r in results if isinstance(r, Photo)]
    skipped = [r for r in results if isinstance(r, Skipped)]

    far = _far_reasons(photos)
    blur = screen([p.quality for p in photos])
    kept: list[Photo] = []
    for p, f, b in zip(photos, far, blur, strict=True):
        why = [r for r in (f, b) if r]
        if why:
            skipped.append(Skipped(p.path, "; ".join(why)))
        else:
            kept.append(p)
    if not kept:
        if not skipped:
            raise InputError("no photos to map")
        first = "; ".join(f"{s.path.name}: {s.reason}" for s in skipped[:3])
        raise InputError(f"no usable photos: {len(skipped)} file(s) skipped ({_reason_counts(skipped)}), "
                         f"e.g. {first}")  # fmt: skip
    kept = _fill_headings(kept)
    lat = float(np.median([p.lat for p in kept]))
    lon = _median_lon(np.array([p.lon for p in kept]))
    return PhotoSet(tuple(kept), tuple(skipped), utm_epsg(lon, lat))


def scan_photos(
    folder,
    *,
    positions: Path | None = None,
    camera: str | Camera | None = None,
    client=None,
    progress: Callable[[int, int], None] | None = None,
) -> PhotoSet:
    """Every photo of ``folder`` as a :class:`PhotoSet` (:func:`list_photos` -> :func:`load_photo`
    -> :func:`assemble`).

    ``positions`` is a positions CSV (``skyscan geotag``) whose rows override the photos' own
    position and orientation by file name; ``camera`` a catalogue name or :class:`Camera` for
    every photo. ``client`` (a ``dask.distributed.Client``) runs :func:`load_photo` as one task
    per photo; None runs them here, one after the other. ``progress(done, total)`` is called as
    photos finish. Raises :class:`~skyscan.errors.InputError` for a missing folder, an unknown
    camera, a bad positions file, a folder without photos, or when no photo is usable.
    """
    folder = Path(folder)
    cam = get_camera(camera) if isinstance(camera, str) else camera
    rows = read_positions_csv(positions) if positions is not None else {}
    files = list_photos(folder)
    if not files:
        raise InputError(f"{folder}: no photos found (JPEG or TIFF files); point to the folder that holds them")
    todo = [(f, _lookup(rows, f, folder)) for f in files]
    report = progress or (lambda done, total: None)
    if client is None:
        results = []
        for f, pos in todo:
            results.append(load_photo(f, position=pos, camera=cam))
            report(len(results), len(todo))
    else:
        from distributed import as_completed

        futures = [client.submit(load_photo, f, position=pos, camera=cam, pure=False) for f, pos in todo]
        for done, _ in enumerate(as_completed(futures), start=1):
            report(done, len(todo))
        results = client.gather(futures)
    return assemble(results)


def _lookup(rows: dict[str, PhotoPosition], path: Path, folder: Path) -> PhotoPosition | None:
    if not rows:
        return None
    return rows.get(path.name) or rows.get(path.relative_to(folder).as_posix())


def _reason_counts(skipped: Sequence[Skipped]) -> str:
    counts: dict[str, int] = {}
    for s in skipped:
        key = s.reason.split(";")[0].split(":")[0].split("(")[0].strip()
        counts[key] = counts.get(key, 0) + 1
    return ", ".join(f"{n} x {k}" for k, n in sorted(counts.items(), key=lambda kv: -kv[1]))


def _median_lon(lon: np.ndarray) -> float:
    """Median longitude, unwrapped around the first one (a set across the antimeridian stays whole)."""
    ref = float(lon[0])
    return float((np.median((lon - ref + 180.0) % 360.0 - 180.0) + ref + 180.0) % 360.0 - 180.0)


def _local_metres(lat: np.ndarray, lon: np.ndarray, lat0: float, lon0: float) -> np.ndarray:
    """(N, 2) east/north metres from (lat0, lon0), equirectangular (fine for spacings of a survey)."""
    dlon = (lon - lon0 + 180.0) % 360.0 - 180.0
    east = np.radians(dlon) * _EARTH_RADIUS_M * math.cos(math.radians(lat0))
    north = np.radians(lat - lat0) * _EARTH_RADIUS_M
    return np.column_stack([east, north])


def _haversine_m(lat: np.ndarray, lon: np.ndarray, lat0: float, lon0: float) -> np.ndarray:
    p, p0 = np.radians(lat), math.radians(lat0)
    dl = np.radians(lon - lon0)
    a = np.sin((p - p0) / 2) ** 2 + math.cos(p0) * np.cos(p) * np.sin(dl / 2) ** 2
    return 2 * _EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def _far_reasons(photos: Sequence[Photo]) -> list[str | None]:
    """Per photo: why its position is too far from the others (see the module docstring), or None."""
    if len(photos) < 3:
        return [None] * len(photos)
    from scipy.spatial import cKDTree

    lat = np.array([p.lat for p in photos])
    lon = np.array([p.lon for p in photos])
    lat0, lon0 = float(np.median(lat)), _median_lon(lon)
    dist = _haversine_m(lat, lon, lat0, lon0)
    nn, _ = cKDTree(_local_metres(lat, lon, lat0, lon0)).query(_local_metres(lat, lon, lat0, lon0), k=2)
    spacing = float(np.median(nn[:, 1]))
    limit = max(FAR_MIN_M, FAR_SPACINGS * spacing, FAR_SPREADS * float(np.median(dist)))
    return [
        f"position {d / 1000:.1f} km from the median of the set (limit {limit / 1000:.1f} km): "
        "a wrong GPS fix or a photo of another flight" if d > limit else None
        for d in dist
    ]  # fmt: skip


def _time_key(p: Photo) -> tuple[float, str]:
    t = p.time
    if t is None:
        return (math.inf, p.path.name)
    return ((t if t.tzinfo else t.replace(tzinfo=UTC)).timestamp(), p.path.name)


def _fill_headings(photos: list[Photo]) -> list[Photo]:
    """Give assumed-nadir photos without a yaw the direction of flight between their neighbours
    in capture order (the image top of a forward-flying multirotor's nadir camera points along
    it), or 0 when the neighbours are less than a metre apart or absent."""
    todo = [i for i, p in enumerate(photos) if math.isnan(p.yaw)]
    if not todo:
        return photos
    order = sorted(range(len(photos)), key=lambda i: _time_key(photos[i]))
    rank = {i: k for k, i in enumerate(order)}
    lat = np.array([p.lat for p in photos])
    lon = np.array([p.lon for p in photos])
    xy = _local_metres(lat, lon, float(np.median(lat)), _median_lon(lon))
    out = list(photos)
    for i in todo:
        k = rank[i]
        a, b = order[max(k - 1, 0)], order[min(k + 1, len(order) - 1)]
        d = xy[b] - xy[a]
        yaw = math.degrees(math.atan2(d[0], d[1])) % 360.0 if math.hypot(*d) >= 1.0 else 0.0
        out[i] = replace(photos[i], yaw=yaw)
    return out
