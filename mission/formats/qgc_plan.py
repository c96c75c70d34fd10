"""QGroundControl ``.plan`` files (JSON, ``fileType`` "Plan", version 1): mission, geofence, rally.

Written for ArduPilot multicopters (``firmwareType`` 3, ``vehicleType`` 2) with one ``SimpleItem`` per
mission item. skyscan's own metadata and statistics go under a top-level ``"skyscan"`` key, which
QGroundControl ignores (and drops when it saves the file again).

Reading also takes QGroundControl's complex items (survey, corridor scan): their generated items are
stored in ``TransectStyleComplexItem.Items`` (QGC ``TransectStyleComplexItem::_save``), and
``DO_JUMP`` targets, which QGC stores as ``doJumpId``, are turned back into sequence numbers.
"""

from __future__ import annotations

import math
import os
from dataclasses import replace
from typing import Any

from mission.commands import Cmd, Frame
from mission.formats._common import (
    ABSOLUTE_FRAMES,
    SKYSCAN_BLOCK_VERSION,
    TERRAIN_FRAMES,
    as_bool,
    as_float,
    as_int,
    dump_json,
    home_or_first_position,
    load_json,
    meta_from_dict,
    meta_to_dict,
    nan_to_none,
    read_text,
    stats_from_dict,
    stats_to_dict,
)
from mission.plan import Fence, FenceCircle, FencePolygon, Home, MissionItem, Plan, RallyPoint
from skyscan.atomic import atomic_write_text
from skyscan.errors import InputError

__all__ = ["plan_from_qgc", "plan_to_qgc", "read_qgc_plan", "write_qgc_plan"]

# QGroundControl's AltMode (QGroundControlQmlGlobal.h) as stored in "AltitudeMode".
ALT_MIXED, ALT_RELATIVE, ALT_ABSOLUTE, ALT_CALC_ABOVE_TERRAIN, ALT_TERRAIN_FRAME = 0, 1, 2, 3, 4
FIRMWARE_ARDUPILOT = 3
VEHICLE_FIXED_WING, VEHICLE_QUADROTOR = 1, 2
DEFAULT_SPEED_M_S = 5.0


# -- writing ------------------------------------------------------------------------------------
def _altitude_mode(frame: int) -> int:
    if frame in ABSOLUTE_FRAMES:
        return ALT_ABSOLUTE
    if frame in TERRAIN_FRAMES:
        return ALT_TERRAIN_FRAME
    return ALT_RELATIVE


def _global_altitude_mode(plan: Plan) -> int:
    modes = {_altitude_mode(it.frame) for it in plan.items if it.is_positional}
    if len(modes) == 1:
        return modes.pop()
    if modes:
        return ALT_MIXED
    by_name = {"absolute": ALT_ABSOLUTE, "amsl": ALT_ABSOLUTE, "terrain": ALT_TERRAIN_FRAME}
    return by_name.get(plan.meta.altitude_mode, ALT_RELATIVE)


def _simple_item(item: MissionItem, seq: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": "SimpleItem",
        "command": int(item.command),
        "frame": int(item.frame),
        "params": [nan_to_none(float(v)) for v in (*item.params, item.x, item.y, item.z)],
        "autoContinue": bool(item.autocontinue),
        "doJumpId": seq,
    }
    if item.is_positional:
        out["AltitudeMode"] = _altitude_mode(item.frame)
        out["Altitude"] = nan_to_none(float(item.z))
        out["AMSLAltAboveTerrain"] = None
    return out


def plan_to_qgc(plan: Plan) -> dict[str, Any]:
    """The ``.plan`` JSON document for ``plan`` (NaN already replaced by None)."""
    speed = plan.meta.speed_m_s or DEFAULT_SPEED_M_S
    geofence: dict[str, Any] = {
        "version": 2,
        "polygons": [{"version": 1, "inclusion": p.inclusion,
                      "polygon": [[lat, lon] for lat, lon in p.points]} for p in plan.fence.polygons],
        "circles": [{"version": 1, "inclusion": c.inclusion,
                     "circle": {"center": [c.center[0], c.center[1]], "radius": c.radius_m}}
                    for c in plan.fence.circles],
    }
    if plan.fence.return_point is not None:
        geofence["breachReturn"] = [nan_to_none(float(v)) for v in plan.fence.return_point]
    return {
        "fileType": "Plan",
        "version": 1,
        "groundStation": "skyscan",
        "mission": {
            "version": 2,
            "firmwareType": FIRMWARE_ARDUPILOT,
            "vehicleType": VEHICLE_QUADROTOR,
            "cruiseSpeed": speed,
            "hoverSpeed": speed,
            "globalPlanAltitudeMode": _global_altitude_mode(plan),
            # QGC needs numbers here: unknown parts are written as 0 and flagged in "skyscan".
            "plannedHomePosition": list(home_or_first_position(plan)),
            "items": [_simple_item(it, i + 1) for i, it in enumerate(plan.items)],
        },
        "geoFence": geofence,
        "rallyPoints": {"version": 2, "points": [[r.lat, r.lon, r.alt] for r in plan.rally]},
        "skyscan": {
            "version": SKYSCAN_BLOCK_VERSION,
            "home_known": plan.home is not None,
            "home_altitude_known": plan.home is not None and math.isfinite(plan.home.alt_amsl),
            "meta": meta_to_dict(plan.meta),
            "stats": stats_to_dict(plan.stats),
        },
    }


def write_qgc_plan(plan: Plan, path: str | os.PathLike) -> None:
    """Write ``plan`` as a QGroundControl ``.plan`` file (atomically)."""
    atomic_write_text(path, dump_json(plan_to_qgc(plan)))


# -- reading ------------------------------------------------------------------------------------
def _expect(obj: Any, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if not isinstance(obj, dict) or key not in obj:
        raise InputError(f"{where}: missing key {key!r}; is the file complete?")
    value = obj[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise InputError(f"{where}: {key!r} must be {names}, got {value!r}")
    return value


def _read_simple(obj: Any, where: str, warnings: list[str]) -> MissionItem:
    """One SimpleItem; QGC's "calculated above terrain" items without an AMSL value become terrain-frame."""
    if not isinstance(obj, dict):
        raise InputError(f"{where}: must be an object, got {obj!r}")
    params = _expect(obj, "params", list, where)
    if len(params) != 7:
        raise InputError(f"{where}: 'params' must hold 7 values, found {len(params)}")
    p = [as_float(v, f"param{i + 1}", where) for i, v in enumerate(params)]
    frame = as_int(_expect(obj, "frame", (int, float), where), "frame", where)
    command = as_int(_expect(obj, "command", (int, float), where), "command", where)
    autocontinue = as_bool(obj.get("autoContinue", True), "autoContinue", where)
    if obj.get("AltitudeMode") == ALT_CALC_ABOVE_TERRAIN and params[6] is None:
        amsl = obj.get("AMSLAltAboveTerrain")
        if isinstance(amsl, int | float) and not isinstance(amsl, bool):
            frame, p[6] = Frame.GLOBAL, float(amsl)
        else:
            alt = as_float(obj.get("Altitude"), "Altitude", where, null_ok=False)
            frame, p[6] = Frame.GLOBAL_TERRAIN_ALT, alt
            warnings.append(
                f"{where}: QGroundControl 'calculated above terrain' altitude without a stored AMSL value; "
                f"loaded as a terrain-frame (frame 10) item at {alt:g} m above terrain"
            )
    return MissionItem(command, frame, (p[0], p[1], p[2], p[3]), p[4], p[5], p[6], autocontinue)


def _complex_items(obj: dict, where: str, n: int) -> list[Any]:
    kind = obj.get("complexItemType")
    inner = obj.get("TransectStyleComplexItem")
    stored = inner.get("Items") if isinstance(inner, dict) else None
    if isinstance(stored, list):
        return stored
    if kind == "StructureScan":
        raise InputError(f"{where}: complex item {n} is a structure scan, whose items QGroundControl does "
                         "not store; replace it with waypoints or a survey in QGroundControl and save again")
    raise InputError(f"{where}: complex item {n} ({kind or 'unknown type'}) has no stored items; "
                     "open and save it in QGroundControl 4 or later")


def _read_items(mission: dict, source: str, warnings: list[str]) -> list[MissionItem]:
    raw = _expect(mission, "items", list, f"{source}: mission")
    items: list[MissionItem] = []
    jump_ids: dict[int, int] = {}  # doJumpId -> sequence number (home = 0)
    for n, obj in enumerate(raw, start=1):
        where = f"{source}: mission item {n}"
        kind = obj.get("type") if isinstance(obj, dict) else None
        if kind == "SimpleItem":
            if isinstance(obj.get("doJumpId"), int):
                jump_ids[obj["doJumpId"]] = len(items) + 1
            items.append(_read_simple(obj, where, warnings))
        elif kind == "ComplexItem":
            items += [_read_simple(o, f"{where}, generated item {k}", warnings)
                      for k, o in enumerate(_complex_items(obj, where, n), start=1)]
        else:
            raise InputError(f"{where}: unknown item type {kind!r} (expected 'SimpleItem' or 'ComplexItem')")
    return [_renumber_jump(it, jump_ids) for it in items]


def _renumber_jump(item: MissionItem, jump_ids: dict[int, int]) -> MissionItem:
    """QGC's DO_JUMP p1 names a doJumpId; on the wire it is a sequence number."""
    target = item.params[0]
    if item.command == Cmd.DO_JUMP and target.is_integer() and int(target) in jump_ids:
        return replace(item, params=(float(jump_ids[int(target)]), *item.params[1:]))
    return item


def _read_fence(doc: dict, source: str) -> Fence:
    fence = Fence()
    geo = doc.get("geoFence")
    if not isinstance(geo, dict):
        return fence
    where = f"{source}: geoFence"
    for n, poly in enumerate(geo.get("polygons") or [], start=1):
        pts = _expect(poly, "polygon", list, f"{where} polygon {n}")
        points = tuple((as_float(p[0], "latitude", f"{where} polygon {n}", null_ok=False),
                        as_float(p[1], "longitude", f"{where} polygon {n}", null_ok=False))
                       for p in pts if isinstance(p, list) and len(p) >= 2)
        if len(points) != len(pts) or len(points) < 3:
            raise InputError(f"{where} polygon {n}: needs at least 3 [lat, lon] vertices")
        fence.polygons.append(FencePolygon(points, bool(poly.get("inclusion", True))))
    for n, circ in enumerate(geo.get("circles") or [], start=1):
        c = _expect(circ, "circle", dict, f"{where} circle {n}")
        center = _expect(c, "center", list, f"{where} circle {n}")
        if len(center) < 2:
            raise InputError(f"{where} circle {n}: center must be [lat, lon]")
        radius = as_float(c.get("radius"), "radius", f"{where} circle {n}", null_ok=False)
        fence.circles.append(FenceCircle((as_float(center[0], "latitude", where, null_ok=False),
                                          as_float(center[1], "longitude", where, null_ok=False)),
                                         radius, bool(circ.get("inclusion", True))))
    ret = geo.get("breachReturn")
    if isinstance(ret, list) and len(ret) >= 2:
        alt = as_float(ret[2], "altitude", f"{where} breachReturn") if len(ret) > 2 else 0.0
        fence.return_point = (as_float(ret[0], "latitude", where, null_ok=False),
                              as_float(ret[1], "longitude", where, null_ok=False), alt)
    return fence


def _read_rally(doc: dict, source: str) -> list[RallyPoint]:
    rally = doc.get("rallyPoints")
    points = rally.get("points") if isinstance(rally, dict) else None
    out = []
    for n, p in enumerate(points or [], start=1):
        where = f"{source}: rally point {n}"
        if not isinstance(p, list) or len(p) < 3:
            raise InputError(f"{where}: must be [lat, lon, alt], got {p!r}")
        lat, lon, alt = (as_float(v, k, where, null_ok=False)
                         for v, k in zip(p[:3], ("lat", "lon", "alt"), strict=True))
        out.append(RallyPoint(lat, lon, alt))
    return out


def plan_from_qgc(doc: Any, source: str | os.PathLike) -> Plan:
    """The :class:`Plan` in a parsed ``.plan`` document; ``source`` names it in error messages."""
    source = str(source)
    if not isinstance(doc, dict):
        raise InputError(f"{source}: not a QGroundControl plan (the JSON is not an object)")
    if doc.get("fileType") != "Plan":
        raise InputError(f"{source}: fileType is {doc.get('fileType')!r}, not 'Plan'; this is not a "
                         "QGroundControl .plan file (save the mission as a Plan in QGroundControl)")
    if doc.get("version") != 1:
        raise InputError(f"{source}: plan version {doc.get('version')!r} is not supported (expected 1); "
                         "save the plan again with QGroundControl 3.3 or later")
    mission = _expect(doc, "mission", dict, source)
    warnings: list[str] = []
    items = _read_items(mission, source, warnings)

    block = doc.get("skyscan") if isinstance(doc.get("skyscan"), dict) else {}
    home_pos = mission.get("plannedHomePosition")
    home = None
    if isinstance(home_pos, list) and len(home_pos) >= 2 and block.get("home_known", True):
        where = f"{source}: plannedHomePosition"
        alt = as_float(home_pos[2], "altitude", where) if len(home_pos) > 2 else math.nan
        if not block.get("home_altitude_known", True):
            alt = math.nan
        home = Home(as_float(home_pos[0], "latitude", where, null_ok=False),
                    as_float(home_pos[1], "longitude", where, null_ok=False), alt)

    plan = Plan(items=items, home=home, fence=_read_fence(doc, source), rally=_read_rally(doc, source),
                warnings=warnings)
    if "meta" in block:
        plan.meta = meta_from_dict(block["meta"], f"{source}: skyscan.meta")
    else:  # a file from QGroundControl: keep its planned speed
        speed = mission.get("cruiseSpeed" if mission.get("vehicleType") == VEHICLE_FIXED_WING else "hoverSpeed")
        if isinstance(speed, int | float) and not isinstance(speed, bool):
            plan.meta.speed_m_s = float(speed)
    plan.stats = stats_from_dict(block.get("stats"), f"{source}: skyscan.stats")
    return plan


def read_qgc_plan(path: str | os.PathLike) -> Plan:
    """Read a QGroundControl ``.plan`` file."""
    return plan_from_qgc(load_json(read_text(path), path), path)
