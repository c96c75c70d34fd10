"""Photo positions files: where each photo was taken and where its camera pointed, one row per photo.

``skyscan geotag`` writes them; the map pipeline reads them in place of (or over) the photos' own
EXIF/XMP. One CSV format, read and written here only, columns :data:`POSITION_COLUMNS`:

* ``file``: the photo's file name (relative to its folder);
* ``time_utc``: ISO 8601 capture time in UTC (empty when unknown);
* ``lat, lon`` (WGS84 degrees), ``alt_msl`` (metres above mean sea level), ``alt_rel`` (metres above
  home / take-off);
* ``roll, pitch, yaw``: the vehicle's attitude (degrees; NED Z-Y-X, yaw clockwise from true north);
* ``camera_yaw, camera_pitch, camera_roll``: the camera orientation in the ODM / Pix4D ``Camera:``
  convention (pitch 0 = nadir, yaw = true heading of the image top), what the map pipeline uses;
* ``source`` (what the pose came from: ``CAMERA_FEEDBACK``, ``CAM``, ``mrk``, ``track+offset``...),
  ``event_index`` (the trigger event's number, -1 when none) and ``interpolated`` (1 when the pose
  was interpolated from the track rather than stamped by the vehicle at the shutter).

Empty cells are unknown values (NaN). Files are written atomically.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from skyscan.atomic import atomic_write_text
from skyscan.errors import InputError

__all__ = ["POSITION_COLUMNS", "PhotoPosition", "read_positions_csv", "write_positions_csv"]

POSITION_COLUMNS = (
    "file", "time_utc", "lat", "lon", "alt_msl", "alt_rel", "roll", "pitch", "yaw",
    "camera_yaw", "camera_pitch", "camera_roll", "source", "event_index", "interpolated",
)  # fmt: skip
_REQUIRED = ("file", "lat", "lon", "alt_msl")
_NAN = float("nan")


@dataclass(frozen=True)
class PhotoPosition:
    """The pose of one photo (see the module docstring for units and conventions)."""

    file: str
    lat: float
    lon: float
    alt_msl: float
    alt_rel: float = _NAN
    time: datetime | None = None
    roll: float = _NAN
    pitch: float = _NAN
    yaw: float = _NAN
    camera_yaw: float = _NAN
    camera_pitch: float = _NAN
    camera_roll: float = _NAN
    source: str = ""
    event_index: int = -1
    interpolated: bool = False

    @property
    def has_orientation(self) -> bool:
        return not any(math.isnan(v) for v in (self.camera_yaw, self.camera_pitch, self.camera_roll))


def _cell(v: float, digits: int) -> str:
    return "" if v is None or math.isnan(v) else f"{v:.{digits}f}"


def write_positions_csv(path, positions: Iterable[PhotoPosition]) -> Path:
    """Write ``positions`` to ``path`` (atomically); returns the path."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(POSITION_COLUMNS)
    for p in positions:
        t = p.time.astimezone(UTC).isoformat(timespec="microseconds") if p.time else ""
        w.writerow([p.file, t, _cell(p.lat, 9), _cell(p.lon, 9), _cell(p.alt_msl, 3), _cell(p.alt_rel, 3),
                    _cell(p.roll, 4), _cell(p.pitch, 4), _cell(p.yaw, 4), _cell(p.camera_yaw, 4),
                    _cell(p.camera_pitch, 4), _cell(p.camera_roll, 4), p.source, p.event_index,
                    int(p.interpolated)])  # fmt: skip
    atomic_write_text(path, buf.getvalue())
    return Path(path)


def _float(row: dict, key: str, where: str) -> float:
    text = (row.get(key) or "").strip()
    if not text:
        return _NAN
    try:
        return float(text)
    except ValueError:
        raise InputError(f"{where}: column {key!r} is not a number: {text!r}") from None


def read_positions_csv(path) -> dict[str, PhotoPosition]:
    """Positions by file name from a CSV written by :func:`write_positions_csv` (extra columns ignored).

    Raises :class:`InputError` naming the file and line for a missing column or a bad value.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read positions file {path}: {exc}") from None
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in _REQUIRED if c not in (reader.fieldnames or ())]
    if missing:
        raise InputError(f"{path}: positions file lacks column(s) {', '.join(missing)}; "
                         f"expected a header with {', '.join(POSITION_COLUMNS)}")  # fmt: skip
    out: dict[str, PhotoPosition] = {}
    for line, row in enumerate(reader, start=2):
        where = f"{path}:{line}"
        name = (row.get("file") or "").strip()
        if not name:
            raise InputError(f"{where}: empty file name")
        lat, lon = _float(row, "lat", where), _float(row, "lon", where)
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise InputError(f"{where}: lat/lon {lat}, {lon} are not WGS84 degrees")
        stamp = (row.get("time_utc") or "").strip()
        try:
            time = datetime.fromisoformat(stamp) if stamp else None
        except ValueError:
            raise InputError(f"{where}: time_utc {stamp!r} is not ISO 8601") from None
        if time is not None and time.tzinfo is None:
            time = time.replace(tzinfo=UTC)
        index = (row.get("event_index") or "").strip()
        out[name] = PhotoPosition(
            file=name, lat=lat, lon=lon, alt_msl=_float(row, "alt_msl", where),
            alt_rel=_float(row, "alt_rel", where), time=time, roll=_float(row, "roll", where),
            pitch=_float(row, "pitch", where), yaw=_float(row, "yaw", where),
            camera_yaw=_float(row, "camera_yaw", where), camera_pitch=_float(row, "camera_pitch", where),
            camera_roll=_float(row, "camera_roll", where), source=(row.get("source") or "").strip(),
            event_index=int(index) if index.lstrip("-").isdigit() else -1,
            interpolated=(row.get("interpolated") or "0").strip() in ("1", "true", "True"),
        )  # fmt: skip
    return out
