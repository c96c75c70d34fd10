"""GeoJSON (RFC 7946) plans: a FeatureCollection to look at in any GIS, that skyscan reads back.

Coordinates are ``[lon, lat]`` or ``[lon, lat, alt]``. Every feature has a ``kind`` property:

* ``item``: one per mission item; ``Point`` for items with a position, ``null`` geometry otherwise;
  properties ``seq`` (MAVLink sequence, home = 0), ``command``, ``frame``, ``params`` (4, NaN as
  null), ``x``, ``y``, ``z``, ``autocontinue``. The reader restores the items from these properties.
* ``path`` (LineString of the positions flown), ``footprint`` (Polygon per planned photo, property
  ``photo``), ``home`` (property ``alt_amsl``), ``fence`` (property ``fence``: ``polygon``,
  ``circle`` as a Point with ``radius_m``, or ``return``), ``rally``, ``area`` and ``nofly``.

Plan metadata and statistics are kept in the foreign member ``"skyscan"`` of the collection.
"""

from __future__ import annotations

import math
import os
from typing import Any

from mission.formats._common import (
    SKYSCAN_BLOCK_VERSION,
    as_bool,
    as_float,
    as_int,
    dump_json,
    footprint_rings,
    has_position,
    item_from_record,
    jsonable,
    load_json,
    meta_from_dict,
    meta_to_dict,
    open_ring,
    read_text,
    sorted_by_seq,
    stats_from_dict,
    stats_to_dict,
)
from mission.plan import Fence, FenceCircle, FencePolygon, Home, MissionItem, Plan, RallyPoint
from skyscan.atomic import atomic_write_text
from skyscan.errors import InputError

__all__ = ["plan_from_geojson", "plan_to_geojson", "read_geojson", "write_geojson"]


def _feature(kind: str, geometry: dict | None, **props: Any) -> dict[str, Any]:
    return {"type": "Feature", "geometry": geometry, "properties": {"kind": kind, **props}}


def _point(lat: float, lon: float, alt: float | None = None) -> dict[str, Any]:
    coords = [lon, lat] if alt is None or not math.isfinite(alt) else [lon, lat, alt]
    return {"type": "Point", "coordinates": coords}


def _polygon(ring: list[tuple[float, float]]) -> dict[str, Any]:
    """A Polygon from an open (lon, lat) ring (closed here, counter-clockwise as RFC 7946 asks)."""
    area2 = sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(ring, ring[1:] + ring[:1], strict=True))
    ring = ring if area2 >= 0 else ring[::-1]
    return {"type": "Polygon", "coordinates": [[list(p) for p in [*ring, ring[0]]]]}


def _item_feature(item: MissionItem, seq: int) -> dict[str, Any]:
    geometry = _point(item.x, item.y, item.z) if has_position(item) else None
    return _feature("item", geometry, seq=seq, command=int(item.command), frame=int(item.frame),
                    params=list(item.params), x=item.x, y=item.y, z=item.z,
                    autocontinue=bool(item.autocontinue))


def _fence_features(fence: Fence) -> list[dict[str, Any]]:
    out = []
    for poly in fence.polygons:
        # Vertex order matters to the vehicle: keep it, do not rewind.
        ring = [[lon, lat] for lat, lon in [*poly.points, poly.points[0]]]
        out.append(_feature("fence", {"type": "Polygon", "coordinates": [ring]},
                            fence="polygon", inclusion=poly.inclusion))
    for circle in fence.circles:
        out.append(_feature("fence", _point(*circle.center), fence="circle", radius_m=circle.radius_m,
                            inclusion=circle.inclusion))
    if fence.return_point is not None:
        lat, lon, alt = fence.return_point
        out.append(_feature("fence", _point(lat, lon, alt), fence="return", alt=alt))
    return out


def plan_to_geojson(plan: Plan) -> dict[str, Any]:
    """The FeatureCollection for ``plan`` (NaN already replaced by null)."""
    features: list[dict[str, Any]] = []
    for kind in ("area", "nofly"):
        geometry = getattr(plan.meta, kind)
        if geometry:
            features.append(_feature(kind, geometry))
    path = [[it.y, it.x, it.z] for it in plan.items if has_position(it)]
    if len(path) >= 2:
        features.append(_feature("path", {"type": "LineString", "coordinates": path}))
    rings = footprint_rings(plan)
    features += [_feature("footprint", _polygon(ring), photo=i) for i, ring in enumerate(rings)]
    if plan.home is not None:
        features.append(_feature("home", _point(plan.home.lat, plan.home.lon, plan.home.alt_amsl),
                                 alt_amsl=plan.home.alt_amsl))
    features += [_item_feature(it, seq) for seq, it in enumerate(plan.items, start=1)]
    features += _fence_features(plan.fence)
    features += [_feature("rally", _point(r.lat, r.lon, r.alt), alt=r.alt) for r in plan.rally]
    return jsonable({
        "type": "FeatureCollection",
        "skyscan": {"version": SKYSCAN_BLOCK_VERSION, "meta": meta_to_dict(plan.meta, geometry=False),
                    "stats": stats_to_dict(plan.stats)},
        "features": features,
    })


def write_geojson(plan: Plan, path: str | os.PathLike) -> None:
    """Write ``plan`` as a GeoJSON FeatureCollection (atomically)."""
    atomic_write_text(path, dump_json(plan_to_geojson(plan)))


def _lonlat(feature: dict, where: str) -> tuple[float, float, float]:
    """(lat, lon, alt) of a Point feature (alt NaN when absent)."""
    geometry = feature.get("geometry")
    coords = geometry.get("coordinates") if isinstance(geometry, dict) else None
    if not isinstance(coords, list) or geometry.get("type") != "Point" or len(coords) < 2:
        raise InputError(f"{where}: needs a Point geometry with [lon, lat] coordinates")
    alt = as_float(coords[2], "altitude", where) if len(coords) > 2 else math.nan
    return (as_float(coords[1], "latitude", where, null_ok=False),
            as_float(coords[0], "longitude", where, null_ok=False), alt)


def _read_feature(plan: Plan, feature: dict, props: dict, where: str,
                  items: list[tuple[int, MissionItem]]) -> None:
    kind = props.get("kind")
    if kind == "item":
        params = props.get("params")
        if not isinstance(params, list) or len(params) != 4:
            raise InputError(f"{where}: 'params' must be a list of 4 numbers (null for unset)")
        rec = {**props, **{f"param{i + 1}": v for i, v in enumerate(params)}}
        seq = as_int(props.get("seq"), "seq", where)
        items.append((seq, item_from_record(rec, where)))
    elif kind == "home":
        lat, lon, alt = _lonlat(feature, where)
        plan.home = Home(lat, lon, as_float(props.get("alt_amsl", alt), "alt_amsl", where))
    elif kind == "rally":
        lat, lon, alt = _lonlat(feature, where)
        plan.rally.append(RallyPoint(lat, lon, as_float(props.get("alt", alt), "alt", where)))
    elif kind == "fence":
        _read_fence_feature(plan.fence, feature, props, where)
    elif kind in ("area", "nofly"):
        setattr(plan.meta, kind, feature.get("geometry"))


def _read_fence_feature(fence: Fence, feature: dict, props: dict, where: str) -> None:
    shape = props.get("fence")
    inclusion = as_bool(props.get("inclusion", True), "inclusion", where)
    if shape == "polygon":
        geometry = feature.get("geometry") or {}
        rings = geometry.get("coordinates") if geometry.get("type") == "Polygon" else None
        if not rings or not isinstance(rings[0], list) or len(rings[0]) < 4:
            raise InputError(f"{where}: a fence polygon needs a Polygon geometry with at least 3 vertices")
        ring = open_ring([(as_float(p[1], "latitude", where, null_ok=False),
                           as_float(p[0], "longitude", where, null_ok=False)) for p in rings[0]])
        fence.polygons.append(FencePolygon(tuple(ring), inclusion))
    elif shape == "circle":
        lat, lon, _ = _lonlat(feature, where)
        fence.circles.append(FenceCircle((lat, lon), as_float(props.get("radius_m"), "radius_m", where,
                                                              null_ok=False), inclusion))
    elif shape == "return":
        lat, lon, alt = _lonlat(feature, where)
        fence.return_point = (lat, lon, as_float(props.get("alt", alt), "alt", where))
    else:
        raise InputError(f"{where}: unknown fence shape {shape!r} (expected polygon, circle or return)")


def plan_from_geojson(doc: Any, source: str | os.PathLike) -> Plan:
    """The :class:`Plan` in a parsed GeoJSON document written by skyscan."""
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection" \
            or not isinstance(doc.get("features"), list):
        raise InputError(f"{source}: not a GeoJSON FeatureCollection; "
                         "skyscan reads the GeoJSON plans it writes")
    plan = Plan()
    block = doc.get("skyscan") if isinstance(doc.get("skyscan"), dict) else {}
    if "meta" in block:
        plan.meta = meta_from_dict(block["meta"], f"{source}: skyscan.meta")
    plan.stats = stats_from_dict(block.get("stats"), f"{source}: skyscan.stats")
    items: list[tuple[int, MissionItem]] = []
    for n, feature in enumerate(doc["features"], start=1):
        props = feature.get("properties") if isinstance(feature, dict) else None
        if isinstance(props, dict):
            _read_feature(plan, feature, props, f"{source}: feature {n}", items)
    if not items and not plan.fence and not plan.rally and not block:
        raise InputError(f"{source}: no mission items, fence or rally features (properties.kind 'item', "
                         "'fence', 'rally'); skyscan reads the GeoJSON plans it writes")
    plan.items = sorted_by_seq(items, source)
    return plan


def read_geojson(path: str | os.PathLike) -> Plan:
    """Read a GeoJSON plan written by :func:`write_geojson`."""
    return plan_from_geojson(load_json(read_text(path), path), path)
