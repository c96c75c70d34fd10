"""Ground control and check points: surveyed marks on the ground, read from the two usual files.

A :class:`ControlPoint` is a named mark with its WGS84 position and height, its ``kind`` (``"gcp"``
to constrain the map, ``"check"`` to measure its accuracy) and, when the file says so, the pixels
where it appears in photos (:class:`ImageObservation`). :func:`read_control` reads either format:

* **CSV** with a header naming at least ``name, lat, lon, alt`` and optionally ``kind``
  (``gcp``/``check``; default ``gcp``). Column names are matched in any case, with the usual
  synonyms (``latitude``, ``longitude``, ``elevation``/``height``/``z``, ``label``/``id``,
  ``type``); the delimiter may be ``,``, ``;`` or a tab (surveyors' exports, such as Emlid's
  ``Name;Easting;Northing;Elevation;Longitude;Latitude``, use ``;``).
* **ODM** ``gcp_list.txt``: the first line is the coordinate system (``EPSG:4326``,
  ``WGS84 UTM 32N``, ``WGS84`` or a proj string), then one line per observation
  ``geo_x geo_y geo_z im_x im_y image_name [gcp_name]`` (whitespace separated; ``#`` comments).
  Lines of one mark share ``gcp_name``; without one, lines with the same coordinates are one mark.
  The format has no kind: marks named ``check...`` or ``chk...`` are check points, the rest GCPs.
  Projected coordinates are converted to WGS84; heights are kept as written (the file's datum).

Every error names the file and line and says what is expected.
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass
from pathlib import Path

from skyscan.errors import InputError

__all__ = ["ControlPoint", "ControlPoints", "ImageObservation", "read_control", "read_control_csv", "read_gcp_list"]

KINDS = ("gcp", "check")
_COLUMNS = {
    "name": ("name", "label", "id", "point", "gcp_name", "gcp"),
    "lat": ("lat", "latitude"),
    "lon": ("lon", "lng", "long", "longitude"),
    "alt": ("alt", "altitude", "elevation", "ele", "height", "z", "alt_msl"),
    "kind": ("kind", "type", "role"),
}
_KIND_WORDS = {"gcp": "gcp", "control": "gcp", "gcps": "gcp", "check": "check", "checkpoint": "check",
               "check_point": "check", "cp": "check"}  # fmt: skip
# ODM's gcp_list.txt has no kind column: a point whose name starts with one of these is a check point.
_CHECK_PREFIXES = ("check", "chk")
_UTM_NAME = re.compile(r"^WGS\s*-?84\s+UTM\s+(\d{1,2})\s*([NS])$", re.IGNORECASE)


@dataclass(frozen=True)
class ImageObservation:
    """Where a mark appears in one photo: ``image`` file name, pixel column ``x`` and row ``y``."""

    image: str
    x: float
    y: float


@dataclass(frozen=True)
class ControlPoint:
    """A surveyed mark: WGS84 ``lon``/``lat`` degrees, ``alt`` metres (the file's datum), ``kind``
    ``"gcp"`` or ``"check"``, and its image observations (empty for a CSV)."""

    name: str
    lon: float
    lat: float
    alt: float
    kind: str = "gcp"
    observations: tuple[ImageObservation, ...] = ()


@dataclass(frozen=True)
class ControlPoints:
    """The marks of one file, with the file and the coordinate system it was written in."""

    points: tuple[ControlPoint, ...]
    source: Path
    crs: str = "EPSG:4326"

    @property
    def gcps(self) -> tuple[ControlPoint, ...]:
        return tuple(p for p in self.points if p.kind == "gcp")

    @property
    def checks(self) -> tuple[ControlPoint, ...]:
        return tuple(p for p in self.points if p.kind == "check")

    def __len__(self) -> int:
        return len(self.points)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"control points file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read control points file {path}: {exc}") from None


def read_control(path) -> ControlPoints:
    """Read a control points file in either format (module docstring), told apart by content:
    a first line that is a coordinate system means ODM ``gcp_list.txt``, anything else a CSV."""
    path = Path(path)
    text = _read_text(path)
    first = next((ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")), "")
    if not first:
        raise InputError(f"{path}: the control points file is empty")
    if _looks_like_crs(first):
        return _parse_gcp_list(path, text)
    return _parse_csv(path, text)


def _looks_like_crs(line: str) -> bool:
    s = line.strip()
    return bool(re.match(r"^(EPSG:\d+|\+proj=|WGS\s*-?84\b)", s, re.IGNORECASE))


# -- CSV ------------------------------------------------------------------------------------------
def read_control_csv(path) -> ControlPoints:
    """Read a control points CSV (``name, lat, lon, alt [, kind]``; see the module docstring)."""
    path = Path(path)
    return _parse_csv(path, _read_text(path))


def _parse_csv(path: Path, text: str) -> ControlPoints:
    lines = text.splitlines()
    header_line = next((ln for ln in lines if ln.strip() and not ln.lstrip().startswith("#")), "")
    delimiter = max((",", ";", "\t"), key=header_line.count)
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header: list[str] | None = None
    index: dict[str, int] = {}
    points: list[ControlPoint] = []
    seen: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row) or row[0].lstrip().startswith("#"):
            continue
        if header is None:
            header = [c.strip().lower() for c in row]
            for key, names in _COLUMNS.items():
                found = next((header.index(n) for n in names if n in header), None)
                if found is not None:
                    index[key] = found
            missing = [k for k in ("name", "lat", "lon", "alt") if k not in index]
            if missing:
                raise InputError(f"{path}:{line}: control points CSV lacks column(s) {', '.join(missing)}; "
                                 "expected a header such as name,lat,lon,alt,kind")  # fmt: skip
            continue
        where = f"{path}:{line}"
        if len(row) <= max(index.values()):
            raise InputError(f"{where}: expected {len(header)} columns, found {len(row)}")
        name = row[index["name"]].strip()
        if not name:
            raise InputError(f"{where}: empty point name")
        if name in seen:
            raise InputError(f"{where}: point {name!r} is listed twice (first on line {seen[name]})")
        seen[name] = line
        lat, lon, alt = (_number(row[index[k]], k, where) for k in ("lat", "lon", "alt"))
        _check_lonlat(lon, lat, where)
        kind = _kind(row[index["kind"]], where) if "kind" in index else "gcp"
        points.append(ControlPoint(name, lon, lat, alt, kind))
    if not points:
        raise InputError(f"{path}: no control points (a header and at least one row are needed)")
    return ControlPoints(tuple(points), path, "EPSG:4326")


def _number(text: str, what: str, where: str) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        raise InputError(f"{where}: {what} is not a number: {text.strip()!r}") from None
    if not math.isfinite(value):
        raise InputError(f"{where}: {what} is not a finite number: {text.strip()!r}")
    return value


def _check_lonlat(lon: float, lat: float, where: str) -> None:
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise InputError(f"{where}: lat/lon {lat}, {lon} are not WGS84 degrees (latitude -90..90, longitude -180..180)")


def _kind(text: str, where: str) -> str:
    word = text.strip().lower().replace(" ", "_").replace("-", "_")
    if not word:
        return "gcp"
    if word not in _KIND_WORDS:
        raise InputError(f"{where}: kind {text.strip()!r} is not one of gcp, check")
    return _KIND_WORDS[word]


# -- ODM gcp_list.txt -----------------------------------------------------------------------------
def read_gcp_list(path) -> ControlPoints:
    """Read an ODM ``gcp_list.txt`` (see the module docstring); every mark is a ``"gcp"``."""
    path = Path(path)
    return _parse_gcp_list(path, _read_text(path))


def _crs(text: str, where: str):
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    s = text.strip()
    m = _UTM_NAME.match(s)
    if m:
        zone = int(m.group(1))
        if not 1 <= zone <= 60:
            raise InputError(f"{where}: UTM zone {zone} is not 1-60")
        s = f"EPSG:{(32600 if m.group(2).upper() == 'N' else 32700) + zone}"
    elif re.fullmatch(r"WGS\s*-?84", s, re.IGNORECASE):
        s = "EPSG:4326"
    try:
        return CRS.from_user_input(s)
    except CRSError:
        raise InputError(f"{where}: unknown coordinate system {text.strip()!r}; the first line must be "
                         "EPSG:xxxx, WGS84 UTM <zone><N|S>, WGS84 or a proj string") from None  # fmt: skip


def _parse_gcp_list(path: Path, text: str) -> ControlPoints:
    lines = text.splitlines()
    body_start = None
    crs = None
    crs_text = ""
    for i, raw in enumerate(lines, start=1):
        if raw.strip() and not raw.lstrip().startswith("#"):
            crs_text = raw.strip()
            crs = _crs(crs_text, f"{path}:{i}")
            body_start = i
            break
    if crs is None or body_start is None:
        raise InputError(f"{path}: the control points file is empty")
    rows: list[tuple[str | None, float, float, float, ImageObservation, str]] = []
    for i in range(body_start + 1, len(lines) + 1):
        raw = lines[i - 1].split("#", 1)[0].strip()
        if not raw:
            continue
        where = f"{path}:{i}"
        parts = raw.split()
        if len(parts) < 6:
            raise InputError(f"{where}: expected 'geo_x geo_y geo_z im_x im_y image_name [gcp_name]', "
                             f"found {len(parts)} field(s)")  # fmt: skip
        gx, gy, gz = (_number(parts[k], n, where) for k, n in enumerate(("geo_x", "geo_y", "geo_z")))
        ix, iy = _number(parts[3], "im_x", where), _number(parts[4], "im_y", where)
        if ix < 0 or iy < 0:
            raise InputError(f"{where}: image coordinates {ix}, {iy} are negative (pixels from the top-left)")
        rows.append((parts[6] if len(parts) > 6 else None, gx, gy, gz, ImageObservation(parts[5], ix, iy), where))
    if not rows:
        raise InputError(f"{path}: no control points after the coordinate system line")
    lon, lat = _to_wgs84(crs, [r[1] for r in rows], [r[2] for r in rows])
    groups: dict[object, dict] = {}
    for (name, gx, gy, gz, obs, where), lo, la in zip(rows, lon, lat, strict=True):
        _check_lonlat(lo, la, where)
        key = name if name is not None else (gx, gy, gz)
        g = groups.get(key)
        if g is None:
            groups[key] = {"name": name, "lon": lo, "lat": la, "alt": gz, "obs": [obs], "where": where}
            continue
        if name is not None and max(abs(lo - g["lon"]) * 111e3 * math.cos(math.radians(la)),
                                    abs(la - g["lat"]) * 111e3, abs(gz - g["alt"])) > 0.01:  # fmt: skip
            raise InputError(f"{where}: point {name!r} has other coordinates than on {g['where']}")
        g["obs"].append(obs)
    points = []
    for n, g in enumerate(groups.values(), start=1):
        name = g["name"] or f"gcp{n}"
        kind = "check" if name.lower().startswith(_CHECK_PREFIXES) else "gcp"
        points.append(ControlPoint(name, g["lon"], g["lat"], g["alt"], kind, tuple(g["obs"])))
    return ControlPoints(tuple(points), path, crs_text)


def _to_wgs84(crs, xs: list[float], ys: list[float]) -> tuple[list[float], list[float]]:
    from pyproj import CRS, Transformer

    if crs.equals(CRS.from_epsg(4326), ignore_axis_order=True):
        return list(xs), list(ys)  # ODM writes lon lat (x y) for EPSG:4326
    tr = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    lon, lat = tr.transform(xs, ys)
    return [float(v) for v in lon], [float(v) for v in lat]
