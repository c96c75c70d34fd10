"""KML 2.2 and KMZ plans: to look at in Google Earth or a GIS, and to read back without loss.

The Document holds the home Placemark and the folders "Area", "Flight path", "Mission items",
"Photo footprints", "Fence" and "Rally". Placemarks that carry plan data have an ``ExtendedData``
field ``skyscan`` naming what they are (``item``, ``home``, ``fence-polygon``, ``fence-circle``,
``fence-return``, ``rally``) and their values as exact decimal text (``nan`` for NaN): a mission item
has ``seq`` (MAVLink sequence, home = 0), ``command``, ``frame``, ``param1``..``param4``, ``x``,
``y``, ``z`` and ``autocontinue``. Metadata and statistics are JSON in the Document's ExtendedData.

A KML from elsewhere (no skyscan data) is read as its LineString flight path: one ``NAV_WAYPOINT``
per vertex, altitude absolute (frame 0) for ``altitudeMode`` absolute, else relative to home.
A KMZ is a zip holding ``doc.kml``.
"""

from __future__ import annotations

import io
import json
import math
import os
import zipfile
from typing import Any
from xml.etree import ElementTree as ET

from mission.commands import Frame
from mission.formats._common import (
    ABSOLUTE_FRAMES,
    SKYSCAN_BLOCK_VERSION,
    as_bool,
    as_float,
    circle_ring,
    command_name,
    fmt_float,
    footprint_rings,
    has_position,
    item_from_record,
    item_record,
    load_json,
    meta_from_dict,
    meta_to_dict,
    open_ring,
    read_bytes,
    sorted_by_seq,
    stats_from_dict,
    stats_to_dict,
)
from mission.plan import FenceCircle, FencePolygon, Home, MissionItem, Plan, RallyPoint
from skyscan.atomic import atomic_path, atomic_write_bytes
from skyscan.errors import InputError

__all__ = ["plan_from_kml", "plan_to_kml", "read_kml", "read_kmz", "write_kml", "write_kmz"]

KML_NS = "http://www.opengis.net/kml/2.2"
# Style id: (line colour, fill colour or None for no fill), as KML's aabbggrr.
_STYLES = {"path": ("ff00a5ff", None), "footprint": ("ff00ffff", "3300ffff"),
           "fence": ("ff0000ff", "220000ff"), "area": ("ffff0000", "22ff0000")}


# -- writing ------------------------------------------------------------------------------------
def _el(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    child = ET.SubElement(parent, f"{{{KML_NS}}}{tag}")
    if text is not None:
        child.text = text
    return child


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return fmt_float(value)
    return str(value)


def _coords(points: list[tuple[float, ...]]) -> str:
    return " ".join(",".join(fmt_float(v) for v in p) for p in points)


def _placemark(folder: ET.Element, name: str, data: dict[str, Any] | None = None,
               style: str | None = None) -> ET.Element:
    pm = _el(folder, "Placemark")
    _el(pm, "name", name)
    if style:
        _el(pm, "styleUrl", f"#{style}")
    if data:
        ext = _el(pm, "ExtendedData")
        for key, value in data.items():
            _el(_data_el(ext, key), "value", _text(value))
    return pm


def _data_el(ext: ET.Element, name: str) -> ET.Element:
    d = _el(ext, "Data")
    d.set("name", name)
    return d


def _point(parent: ET.Element, lon: float, lat: float, alt: float, mode: str) -> None:
    pt = _el(parent, "Point")
    _el(pt, "altitudeMode", mode)
    _el(pt, "coordinates", _coords([(lon, lat, alt) if math.isfinite(alt) else (lon, lat)]))


def _polygon(parent: ET.Element, rings: list[list[tuple[float, ...]]]) -> None:
    """A clamped Polygon from open rings (outer first, then holes)."""
    poly = _el(parent, "Polygon")
    _el(poly, "altitudeMode", "clampToGround")
    for i, ring in enumerate(rings):
        boundary = _el(poly, "outerBoundaryIs" if i == 0 else "innerBoundaryIs")
        _el(_el(boundary, "LinearRing"), "coordinates", _coords([*ring, ring[0]]))


def _geojson_geometry(parent: ET.Element, geom: dict) -> None:
    """KML for a GeoJSON geometry (lon/lat), for display of the area and no-fly zones."""
    kind, coords = geom.get("type"), geom.get("coordinates")
    if kind == "Polygon":
        _polygon(parent, [open_ring([tuple(p) for p in ring]) for ring in coords])
    elif kind == "Point":
        _point(parent, coords[0], coords[1], math.nan, "clampToGround")
    elif kind == "LineString":
        line = _el(parent, "LineString")
        _el(line, "altitudeMode", "clampToGround")
        _el(line, "coordinates", _coords([tuple(p) for p in coords]))
    elif kind in ("MultiPolygon", "MultiLineString", "MultiPoint", "GeometryCollection"):
        multi = _el(parent, "MultiGeometry")
        parts = geom.get("geometries") if kind == "GeometryCollection" else [
            {"type": kind.removeprefix("Multi"), "coordinates": c} for c in coords]
        for part in parts:
            _geojson_geometry(multi, part)


def _path_runs(plan: Plan) -> list[tuple[str, list[tuple[float, float, float]]]]:
    """The positions flown, split where the altitude reference changes: (altitudeMode, points)."""
    runs: list[tuple[str, list[tuple[float, float, float]]]] = []
    for it in plan.items:
        if not has_position(it):
            continue
        mode = "absolute" if it.frame in ABSOLUTE_FRAMES else "relativeToGround"
        if not runs or runs[-1][0] != mode:
            runs.append((mode, []))
        runs[-1][1].append((it.y, it.x, it.z))
    return [(mode, pts) for mode, pts in runs if len(pts) >= 2]


def _styles(doc: ET.Element) -> None:
    for sid, (line, fill) in _STYLES.items():
        style = _el(doc, "Style")
        style.set("id", sid)
        _el(_el(style, "LineStyle"), "color", line)
        poly = _el(style, "PolyStyle")
        _el(poly, "color", fill or "00000000")
        if fill is None:
            _el(poly, "fill", "0")


def _folder(doc: ET.Element, name: str) -> ET.Element:
    folder = _el(doc, "Folder")
    _el(folder, "name", name)
    return folder


def _folders(doc: ET.Element, plan: Plan) -> None:
    """The six folders, in the order a viewer lists them."""
    area = _folder(doc, "Area")
    for kind, label in (("area", "Survey area"), ("nofly", "No-fly zones")):
        geom = getattr(plan.meta, kind)
        if geom:
            _geojson_geometry(_placemark(area, label, style="area"), geom)

    path = _folder(doc, "Flight path")
    for mode, pts in _path_runs(plan):
        line = _el(_placemark(path, f"Flight path ({mode})", style="path"), "LineString")
        _el(line, "altitudeMode", mode)
        _el(line, "coordinates", _coords(pts))

    items = _folder(doc, "Mission items")
    for seq, it in enumerate(plan.items, start=1):
        data = {"skyscan": "item", **item_record(it, seq)}
        pm = _placemark(items, f"{seq} {command_name(it.command)}", data)
        if has_position(it):
            _point(pm, it.y, it.x, it.z, "absolute" if it.frame in ABSOLUTE_FRAMES else "relativeToGround")

    photos = _folder(doc, "Photo footprints")
    for i, ring in enumerate(footprint_rings(plan)):
        _polygon(_placemark(photos, f"Photo {i}", style="footprint"), [ring])

    fence = _folder(doc, "Fence")
    for n, poly in enumerate(plan.fence.polygons, start=1):
        data = {"skyscan": "fence-polygon", "inclusion": poly.inclusion}
        ring = [(lon, lat) for lat, lon in poly.points]
        _polygon(_placemark(fence, f"Fence polygon {n}", data, "fence"), [ring])
    for n, c in enumerate(plan.fence.circles, start=1):
        data = {"skyscan": "fence-circle", "lat": c.center[0], "lon": c.center[1], "radius_m": c.radius_m,
                "inclusion": c.inclusion}
        _polygon(_placemark(fence, f"Fence circle {n}", data, "fence"), [circle_ring(*c.center, c.radius_m)])
    if plan.fence.return_point is not None:
        lat, lon, alt = plan.fence.return_point
        data = {"skyscan": "fence-return", "lat": lat, "lon": lon, "alt": alt}
        pm = _placemark(fence, "Fence return point", data)
        _point(pm, lon, lat, alt, "relativeToGround")

    rally = _folder(doc, "Rally")
    for n, r in enumerate(plan.rally, start=1):
        pm = _placemark(rally, f"Rally {n}", {"skyscan": "rally", "lat": r.lat, "lon": r.lon, "alt": r.alt})
        _point(pm, r.lon, r.lat, r.alt, "relativeToGround")


def plan_to_kml(plan: Plan) -> bytes:
    """The KML document of ``plan`` as UTF-8 bytes."""
    ET.register_namespace("", KML_NS)
    root = ET.Element(f"{{{KML_NS}}}kml")
    doc = _el(root, "Document")
    _el(doc, "name", "skyscan plan")
    ext = _el(doc, "ExtendedData")
    _el(_data_el(ext, "skyscan-version"), "value", str(SKYSCAN_BLOCK_VERSION))
    _el(_data_el(ext, "skyscan-meta"), "value", json.dumps(meta_to_dict(plan.meta), allow_nan=False))
    _el(_data_el(ext, "skyscan-stats"), "value", json.dumps(stats_to_dict(plan.stats), allow_nan=False))
    _styles(doc)
    if plan.home is not None:
        h = plan.home
        pm = _placemark(doc, "Home", {"skyscan": "home", "lat": h.lat, "lon": h.lon, "alt_amsl": h.alt_amsl})
        _point(pm, h.lon, h.lat, h.alt_amsl, "absolute" if math.isfinite(h.alt_amsl) else "clampToGround")
    _folders(doc, plan)
    ET.indent(root)
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True)


def write_kml(plan: Plan, path: str | os.PathLike) -> None:
    """Write ``plan`` as a KML file (atomically)."""
    atomic_write_bytes(path, plan_to_kml(plan))


def write_kmz(plan: Plan, path: str | os.PathLike) -> None:
    """Write ``plan`` as a KMZ file: a zip holding ``doc.kml`` (atomically)."""
    data = plan_to_kml(plan)
    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("doc.kml", data)


# -- reading ------------------------------------------------------------------------------------
def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _child(el: ET.Element, name: str) -> ET.Element | None:
    return next((c for c in el if _local(c.tag) == name), None)


def _descendants(el: ET.Element, name: str) -> list[ET.Element]:
    return [c for c in el.iter() if _local(c.tag) == name]


def _ext_data(el: ET.Element) -> dict[str, str]:
    ext = _child(el, "ExtendedData")
    out = {}
    for d in ext if ext is not None else ():
        if _local(d.tag) == "Data" and d.get("name"):
            value = _child(d, "value")
            out[d.get("name", "")] = (value.text or "").strip() if value is not None else ""
    return out


def _parse_coords(text: str | None, where: str) -> list[tuple[float, ...]]:
    points = []
    for token in (text or "").split():
        parts = token.split(",")
        if not 2 <= len(parts) <= 3:
            raise InputError(f"{where}: bad coordinate {token[:40]!r} (expected lon,lat[,alt])")
        points.append(tuple(as_float(p, "coordinate", where, null_ok=False) for p in parts))
    return points


def _read_skyscan(plan: Plan, pm: ET.Element, data: dict[str, str], where: str,
                  items: list[tuple[int, MissionItem]]) -> None:
    kind = data["skyscan"]
    num = {k: v for k, v in data.items() if k != "skyscan"}

    def f(key: str) -> float:
        return as_float(num.get(key), key, where, null_ok=False)

    if kind == "item":
        items.append((int(f("seq")), item_from_record(num, where)))
    elif kind == "home":
        plan.home = Home(f("lat"), f("lon"), f("alt_amsl"))
    elif kind == "rally":
        plan.rally.append(RallyPoint(f("lat"), f("lon"), f("alt")))
    elif kind == "fence-return":
        plan.fence.return_point = (f("lat"), f("lon"), f("alt"))
    elif kind == "fence-circle":
        plan.fence.circles.append(FenceCircle((f("lat"), f("lon")), f("radius_m"),
                                              as_bool(num.get("inclusion", True), "inclusion", where)))
    elif kind == "fence-polygon":
        rings = _descendants(pm, "outerBoundaryIs")
        coords = _descendants(rings[0], "coordinates") if rings else []
        ring = open_ring([(p[1], p[0]) for p in _parse_coords(coords[0].text if coords else None, where)])
        if len(ring) < 3:
            raise InputError(f"{where}: a fence polygon needs at least 3 vertices")
        plan.fence.polygons.append(FencePolygon(tuple(ring), as_bool(num.get("inclusion", True), "inclusion",
                                                                     where)))


def _path_as_waypoints(root: ET.Element, source: str) -> list[MissionItem]:
    """NAV_WAYPOINTs along every LineString (repeated vertices dropped)."""
    items: list[MissionItem] = []
    for line in _descendants(root, "LineString"):
        mode_el = _child(line, "altitudeMode")
        frame = Frame.GLOBAL if mode_el is not None and (mode_el.text or "").strip() == "absolute" \
            else Frame.GLOBAL_RELATIVE_ALT
        coords = _child(line, "coordinates")
        last = None
        for p in _parse_coords(coords.text if coords is not None else None, f"{source}: LineString"):
            if p != last:
                items.append(MissionItem.waypoint(p[1], p[0], p[2] if len(p) > 2 else 0.0, frame=frame))
            last = p
    return items


def plan_from_kml(data: bytes, source: str | os.PathLike) -> Plan:
    """The :class:`Plan` in KML bytes; ``source`` names the file in error messages."""
    source = str(source)
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        line, col = exc.position
        raise InputError(f"{source}: broken KML (XML error at line {line}, column {col + 1}); "
                         "repair the file or export it again") from None
    if _local(root.tag) != "kml":
        raise InputError(f"{source}: not a KML document (root element <{_local(root.tag)}>, expected <kml>)")
    plan = Plan()
    document = _child(root, "Document")
    doc_data = _ext_data(document) if document is not None else {}
    if "skyscan-meta" in doc_data:
        where = f"{source}: skyscan-meta"
        plan.meta = meta_from_dict(load_json(doc_data["skyscan-meta"], where), where)
        where = f"{source}: skyscan-stats"
        plan.stats = stats_from_dict(load_json(doc_data.get("skyscan-stats") or "null", where), where)
    items: list[tuple[int, MissionItem]] = []
    found = False
    for n, pm in enumerate(_descendants(root, "Placemark"), start=1):
        data_fields = _ext_data(pm)
        if "skyscan" in data_fields:
            found = True
            name = _child(pm, "name")
            label = f"placemark {n}" + (f" ({name.text.strip()})" if name is not None and name.text else "")
            _read_skyscan(plan, pm, data_fields, f"{source}: {label}", items)
    if found or "skyscan-meta" in doc_data:
        plan.items = sorted_by_seq(items, source)
        return plan
    plan.items = _path_as_waypoints(root, source)
    if not plan.items:
        raise InputError(f"{source}: no skyscan mission data and no LineString flight path found; "
                         "nothing to read as a mission")
    frame = "above mean sea level" if plan.items[0].frame == Frame.GLOBAL else "relative to home"
    plan.warnings.append(f"{source}: no skyscan mission data; read the flight path as {len(plan.items)} "
                         f"NAV_WAYPOINT items ({frame}); camera commands are not in the file")
    return plan


def read_kml(path: str | os.PathLike) -> Plan:
    """Read a KML file."""
    data = read_bytes(path)
    if data.startswith(b"PK"):
        raise InputError(f"{path}: this is a zip file (a KMZ?), not KML; rename it to .kmz")
    return plan_from_kml(data, path)


def read_kmz(path: str | os.PathLike) -> Plan:
    """Read a KMZ file (``doc.kml``, or else the first ``.kml`` in the zip)."""
    data = read_bytes(path)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = [n for n in zf.namelist() if n.lower().endswith(".kml")]
            if not names:
                raise InputError(f"{path}: the KMZ holds no .kml document; is it a KMZ from another tool "
                                 "(e.g. a DJI WPML mission)?")
            name = "doc.kml" if "doc.kml" in names else min(names, key=lambda n: (n.count("/"), n))
            return plan_from_kml(zf.read(name), f"{path}:{name}")
    except zipfile.BadZipFile:
        raise InputError(f"{path}: not a KMZ (not a zip file); if it is plain KML, rename it to .kml"
                         ) from None
