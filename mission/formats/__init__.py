"""Plan files: write a :class:`~mission.plan.Plan` in, and read it back from, the formats of other tools.

The format follows the file extension:

========================  =====================================================================
``.plan``                 QGroundControl plan (mission, fence, rally, skyscan metadata)
``.waypoints``            Mission Planner / ArduPilot ``QGC WPL 110`` (mission and home only)
``.txt``                  written as ``QGC WPL 110``; read by content: a waypoint file, or a
                          MAVProxy fence file (``lat lon`` lines) or rally file (``RALLY`` lines)
``.kml`` / ``.kmz``       KML 2.2 (KMZ = zip with ``doc.kml``), for Google Earth and GIS
``.geojson`` / ``.json``  GeoJSON FeatureCollection; ``.json`` is read by content (GeoJSON or .plan)
========================  =====================================================================

Every writer writes a temporary file and renames it when complete; every reader raises
:class:`~skyscan.errors.InputError` saying what is wrong, where, and what to do.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from mission.formats import geojson, kml, mavproxy, qgc_plan, waypoints
from mission.formats._common import load_json, read_text
from mission.plan import Plan
from skyscan.errors import InputError

__all__ = ["SUPPORTED_EXTENSIONS", "read_plan", "write_plan"]


def _read_txt(path: str | os.PathLike) -> Plan:
    text = read_text(path)
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    if first.startswith("QGC WPL"):
        return waypoints.parse_waypoints(text, path)
    if first.upper().startswith("RALLY"):
        return mavproxy.parse_rally(text, path)
    if mavproxy.looks_like_fence(text):
        return mavproxy.parse_fence(text, path)
    raise InputError(f"{path}: not a mission text file skyscan knows (expected a 'QGC WPL 110' waypoint "
                     "file, a MAVProxy fence file of 'lat lon' lines or a rally file of 'RALLY ...' lines); "
                     f"first line is {first[:40]!r}")


def _read_json(path: str | os.PathLike) -> Plan:
    doc = load_json(read_text(path), path)
    if isinstance(doc, dict) and "fileType" in doc:
        return qgc_plan.plan_from_qgc(doc, path)
    return geojson.plan_from_geojson(doc, path)


_WRITERS: dict[str, Callable[[Plan, str | os.PathLike], None]] = {
    ".plan": qgc_plan.write_qgc_plan,
    ".waypoints": waypoints.write_waypoints,
    ".txt": waypoints.write_waypoints,
    ".kml": kml.write_kml,
    ".kmz": kml.write_kmz,
    ".geojson": geojson.write_geojson,
    ".json": geojson.write_geojson,
}
_READERS: dict[str, Callable[[str | os.PathLike], Plan]] = {
    ".plan": qgc_plan.read_qgc_plan,
    ".waypoints": waypoints.read_waypoints,
    ".txt": _read_txt,
    ".kml": kml.read_kml,
    ".kmz": kml.read_kmz,
    ".geojson": geojson.read_geojson,
    ".json": _read_json,
}

#: File extensions :func:`read_plan` and :func:`write_plan` understand.
SUPPORTED_EXTENSIONS: tuple[str, ...] = tuple(_WRITERS)


def _format_of(path: str | os.PathLike) -> str:
    ext = Path(path).suffix.lower()
    if ext not in _WRITERS:
        raise InputError(f"{path}: unknown plan file extension {ext or '(none)'!r}; "
                         f"use one of {', '.join(SUPPORTED_EXTENSIONS)}")
    return ext


def write_plan(plan: Plan, path: str | os.PathLike) -> None:
    """Write ``plan`` to ``path`` in the format named by its extension (atomically).

    A file that cannot be written (no permission, disk full) is an InputError; any previous file
    at ``path`` is then left as it was.
    """
    writer = _WRITERS[_format_of(path)]
    try:
        writer(plan, path)
    except OSError as exc:
        raise InputError(f"{path}: cannot write the plan ({exc.strerror or exc}); check that the folder "
                         "is writable and the disk has space") from exc


def read_plan(path: str | os.PathLike) -> Plan:
    """Read the plan in ``path``, in the format named by its extension (``.txt``/``.json`` by content)."""
    return _READERS[_format_of(path)](path)
