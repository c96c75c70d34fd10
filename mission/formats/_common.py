"""Helpers shared by the plan file formats: reading input, numbers, metadata, items and footprints.

Every reader turns a problem with its input into :class:`~skyscan.errors.InputError` naming the file
and the place in it; every writer goes through :mod:`skyscan.atomic`.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from mission.commands import Cmd, Frame
from mission.photos import planned_photos
from mission.plan import MissionItem, Plan, PlanMeta, PlanStats
from sensors.camera import Camera, Orientation
from sensors.catalog import get_camera
from skyscan.errors import InputError

#: Frames whose altitude is above mean sea level (everything else is above home or terrain).
ABSOLUTE_FRAMES = frozenset({Frame.GLOBAL, Frame.GLOBAL_INT})
RELATIVE_FRAMES = frozenset({Frame.GLOBAL_RELATIVE_ALT, Frame.GLOBAL_RELATIVE_ALT_INT})
TERRAIN_FRAMES = frozenset({Frame.GLOBAL_TERRAIN_ALT, Frame.GLOBAL_TERRAIN_ALT_INT})

#: Version of skyscan's own block ("skyscan" key / ExtendedData) in the files it writes.
SKYSCAN_BLOCK_VERSION = 1


# -- input --------------------------------------------------------------------------------------
def read_bytes(path: str | os.PathLike) -> bytes:
    """The content of ``path``; a missing or unreadable file is an InputError naming it."""
    p = Path(path)
    try:
        return p.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{p}: no such file; check the path and the file name") from None
    except IsADirectoryError:
        raise InputError(f"{p}: is a folder, not a plan file; give the path of a file") from None
    except OSError as exc:
        raise InputError(f"{p}: cannot read the file ({exc.strerror}); check its permissions") from None


def decode_text(data: bytes, source: str | os.PathLike) -> str:
    """UTF-8 text (a BOM is dropped); anything else is an InputError."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{source}: not a text file (byte {exc.start} is not UTF-8); "
                         "is this the right file?") from None


def read_text(path: str | os.PathLike) -> str:
    """The text of ``path`` (UTF-8, BOM tolerated)."""
    return decode_text(read_bytes(path), path)


def load_json(text: str, source: str | os.PathLike) -> Any:
    """Parse JSON text; a syntax error is an InputError with its line and column."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{source}: broken JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}; "
                         "repair the file or save it again from the program that wrote it") from None


def dump_json(doc: Any) -> str:
    """Strict JSON text (no NaN: callers replace it by null first), ending with a newline."""
    return json.dumps(doc, indent=2, allow_nan=False) + "\n"


# -- numbers ------------------------------------------------------------------------------------
def nan_to_none(value: float) -> float | None:
    """JSON has no NaN: write None (null) instead; infinities are kept for json to reject."""
    return None if isinstance(value, float) and math.isnan(value) else value


def none_to_nan(value: Any) -> Any:
    """JSON null back to NaN; other values unchanged."""
    return math.nan if value is None else value


def jsonable(obj: Any) -> Any:
    """A copy of ``obj`` with tuples as lists and NaN floats as None (so that strict JSON accepts it)."""
    if isinstance(obj, dict):
        return {k: jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    return nan_to_none(obj)


def fmt_float(value: float) -> str:
    """Shortest text that reads back as exactly ``value`` ("30" rather than "30.0"; "nan" for NaN)."""
    value = float(value)
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def as_float(value: Any, what: str, where: str, *, null_ok: bool = True) -> float:
    """``value`` as a float (None -> NaN when ``null_ok``), else an InputError at ``where``."""
    if value is None and null_ok:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InputError(f"{where}: {what} must be a number, got {value!r}")
    try:
        return float(value)
    except ValueError:
        raise InputError(f"{where}: {what} must be a number, got {value!r}") from None


def as_int(value: Any, what: str, where: str) -> int:
    """``value`` as an integer (3, 3.0 or "3"), else an InputError at ``where``."""
    number = as_float(value, what, where, null_ok=False)
    if not number.is_integer():
        raise InputError(f"{where}: {what} must be a whole number, got {value!r}")
    return int(number)


def as_bool(value: Any, what: str, where: str) -> bool:
    """``value`` as a bool (true/false, 1/0, "true"/"false"/"1"/"0")."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "1.0", "true"):
        return True
    if text in ("0", "0.0", "false"):
        return False
    raise InputError(f"{where}: {what} must be true/false or 1/0, got {value!r}")


# -- mission items ------------------------------------------------------------------------------
def command_name(command: int) -> str:
    """``NAV_WAYPOINT`` for 16, or the number for commands skyscan does not name."""
    try:
        return Cmd(command).name
    except ValueError:
        return str(command)


def has_position(item: MissionItem) -> bool:
    """True for positional items with a real position (lat/lon 0 means "where the vehicle is")."""
    return item.is_positional and bool(item.x or item.y) and math.isfinite(item.x) and math.isfinite(item.y)


def home_or_first_position(plan: Plan) -> tuple[float, float, float]:
    """(lat, lon, alt AMSL) for formats that need a home: the home (unknown altitude as 0), else the
    first position flown at altitude 0, else 0, 0, 0."""
    if plan.home is not None:
        alt = plan.home.alt_amsl
        return plan.home.lat, plan.home.lon, alt if math.isfinite(alt) else 0.0
    first = next((it for it in plan.items if has_position(it)), None)
    return (first.x, first.y, 0.0) if first is not None else (0.0, 0.0, 0.0)


def item_record(item: MissionItem, seq: int) -> dict[str, Any]:
    """Every field of ``item`` by name, with ``seq`` its MAVLink sequence number (home = 0)."""
    p1, p2, p3, p4 = item.params
    return {"seq": seq, "command": int(item.command), "frame": int(item.frame),
            "param1": p1, "param2": p2, "param3": p3, "param4": p4,
            "x": item.x, "y": item.y, "z": item.z, "autocontinue": bool(item.autocontinue)}


def item_from_record(rec: dict[str, Any], where: str) -> MissionItem:
    """The item described by an :func:`item_record`-shaped mapping (values may be text or numbers)."""
    missing = [k for k in ("command", "frame", "x", "y", "z") if k not in rec]
    if missing:
        raise InputError(f"{where}: missing {', '.join(missing)}; the item cannot be restored")
    params = tuple(as_float(rec.get(f"param{i}"), f"param{i}", where) for i in range(1, 5))
    return MissionItem(
        command=as_int(rec["command"], "command", where),
        frame=as_int(rec["frame"], "frame", where),
        params=params,  # type: ignore[arg-type]
        x=as_float(rec["x"], "x", where),
        y=as_float(rec["y"], "y", where),
        z=as_float(rec["z"], "z", where),
        autocontinue=as_bool(rec.get("autocontinue", True), "autocontinue", where),
    )


def sorted_by_seq(records: list[tuple[int, MissionItem]], source: str | os.PathLike) -> list[MissionItem]:
    """Items ordered by sequence number; a repeated number is an InputError."""
    records = sorted(records, key=lambda r: r[0])
    seqs = [s for s, _ in records]
    dupes = sorted({s for s in seqs if seqs.count(s) > 1})
    if dupes:
        raise InputError(f"{source}: mission item number(s) {dupes} appear more than once; "
                         "remove the duplicates")
    return [it for _, it in records]


# -- metadata and statistics --------------------------------------------------------------------
def meta_to_dict(meta: PlanMeta, *, geometry: bool = True) -> dict[str, Any]:
    """:class:`PlanMeta` as JSON-ready data (``geometry=False`` leaves out area and no-fly zones)."""
    data = jsonable(asdict(meta))
    if not geometry:
        data.pop("area", None)
        data.pop("nofly", None)
    return data


def meta_from_dict(data: Any, where: str) -> PlanMeta:
    """The :class:`PlanMeta` in ``data``; unknown keys (from newer versions) are ignored."""
    if not isinstance(data, dict):
        raise InputError(f"{where}: metadata must be an object, got {type(data).__name__}")
    known = {f.name for f in fields(PlanMeta)}
    values = {k: v for k, v in data.items() if k in known}
    if isinstance(values.get("margin_m"), list):
        values["margin_m"] = tuple(values["margin_m"])
    if values.get("altitude_mode") is None:
        values.pop("altitude_mode", None)
    return PlanMeta(**values)


def stats_to_dict(stats: PlanStats | None) -> dict[str, Any] | None:
    """:class:`PlanStats` as JSON-ready data (NaN as None), or None."""
    return None if stats is None else jsonable(asdict(stats))


def stats_from_dict(data: Any, where: str) -> PlanStats | None:
    """The :class:`PlanStats` in ``data`` (null numbers back to NaN), or None."""
    if data is None:
        return None
    if not isinstance(data, dict):
        raise InputError(f"{where}: statistics must be an object, got {type(data).__name__}")
    known = {f.name for f in fields(PlanStats)}
    return PlanStats(**{k: none_to_nan(v) for k, v in data.items() if k in known})


# -- what the camera sees -----------------------------------------------------------------------
def plan_camera(plan: Plan) -> Camera | None:
    """The catalogue camera of ``plan.meta.camera_id``, or None when unset or not in the catalogue."""
    if not plan.meta.camera_id:
        return None
    try:
        return get_camera(plan.meta.camera_id)
    except (InputError, FileNotFoundError):  # unknown camera, or no catalogue installed
        return None


def footprint_rings(plan: Plan) -> list[list[tuple[float, float]]]:
    """Ground footprints of the planned photos as open (lon, lat) rings; [] without a known camera."""
    camera = plan_camera(plan)
    if camera is None:
        return []
    photos = planned_photos(plan)
    if not len(photos):
        return []
    try:
        orientation = Orientation(plan.meta.orientation or Orientation.LANDSCAPE)
    except ValueError:
        orientation = Orientation.LANDSCAPE
    corners = photos.footprints(camera, orientation)
    lon, lat = photos.frame.to_lonlat(corners[..., 0], corners[..., 1])
    rings = []
    for ring_lon, ring_lat in zip(lon, lat, strict=True):
        if all(math.isfinite(v) for v in (*ring_lon, *ring_lat)):  # NaN when the height is unknown
            rings.append([(float(a), float(b)) for a, b in zip(ring_lon, ring_lat, strict=True)])
    return rings


def circle_ring(lat: float, lon: float, radius_m: float, n: int = 64) -> list[tuple[float, float]]:
    """An open (lon, lat) ring approximating a circle, for display only (spherical Earth)."""
    r_lat = math.degrees(radius_m / 6_371_008.8)
    r_lon = r_lat / max(math.cos(math.radians(lat)), 1e-9)
    return [(lon + r_lon * math.sin(a), lat + r_lat * math.cos(a))
            for a in (2 * math.pi * k / n for k in range(n))]


def open_ring(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """``points`` without a closing vertex that repeats the first one."""
    if len(points) > 1 and points[0] == points[-1]:
        return points[:-1]
    return points
