"""Area: the ground to survey, and the no-fly zones around it, read from GeoJSON or KML/KMZ.

An :class:`Area` holds, in a local metric frame (UTM), the polygon(s) to image and the no-fly zones.
Holes in the area are ground that need not be imaged: the vehicle may overfly them. No-fly zones
are never entered. Files are WGS84 lon/lat (GeoJSON as RFC 7946; an old-style ``crs`` member naming
another CRS is honoured and reprojected); KML is always WGS84.
"""

from __future__ import annotations

import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np
import shapely
from pyproj import CRS, Transformer
from shapely.geometry import MultiPolygon, Polygon, mapping, shape

from mission.frame import LocalFrame
from skyscan.errors import InputError

__all__ = ["Area", "clean_polygons", "read_area", "read_polygons"]

_WGS84_NAMES = {"crs84", "epsg4326", "wgs84", "ogc13crs84", "urnogcdefcrsogc13crs84", "urnogcdefcrsepsg4326"}


@dataclass(frozen=True)
class Area:
    """Ground to survey and no-fly zones, in metres in ``frame``.

    ``polygon`` is a Polygon or MultiPolygon (holes = need not be imaged); ``nofly`` a possibly
    empty (Multi)Polygon. ``name`` says where the area came from, for messages.
    """

    frame: LocalFrame
    polygon: Polygon | MultiPolygon
    nofly: Polygon | MultiPolygon
    name: str = "area"

    @classmethod
    def from_lonlat(cls, polygon_lonlat, nofly_lonlat=None, name: str = "area") -> Area:
        """Project WGS84 lon/lat geometries into the UTM zone of the area's centre."""
        centre = polygon_lonlat.centroid
        frame = LocalFrame.around(centre.x, centre.y)
        poly = _project(polygon_lonlat, frame)
        nofly = _project(nofly_lonlat, frame) if nofly_lonlat is not None else MultiPolygon()
        nofly = shapely.make_valid(nofly) if not nofly.is_valid else nofly
        if poly.area <= 0:
            raise InputError(f"{name}: the area is empty (zero size); draw a polygon with a real extent")
        if not nofly.is_empty and shapely.difference(poly, nofly).area < 1e-6 * poly.area:
            raise InputError(f"{name}: the no-fly zones cover the whole area; nothing is left to survey")
        return cls(frame, poly, nofly, name)

    @property
    def area_m2(self) -> float:
        return float(self.polygon.area)

    def to_lonlat(self, geom):
        """A local geometry back in WGS84 lon/lat."""
        return shapely.transform(geom, lambda xy: np.column_stack(self.frame.to_lonlat(xy[:, 0], xy[:, 1])))

    def geojson(self) -> tuple[dict, dict | None]:
        """(area, no-fly) as GeoJSON geometry dicts in lon/lat, for plan metadata."""
        nofly = None if self.nofly.is_empty else mapping(self.to_lonlat(self.nofly))
        return mapping(self.to_lonlat(self.polygon)), nofly


def _project(geom, frame: LocalFrame):
    return clean_polygons(shapely.transform(geom, lambda xy: np.column_stack(frame.to_local(xy[:, 0], xy[:, 1]))))


def clean_polygons(geom, grid_m: float = 0.001):
    """``geom`` snapped to a millimetre grid and made valid, keeping only its polygons.

    Projection and rotation can turn a valid but nearly degenerate ring (a hairline spike drawn by
    a mouse slip) into an invalid one that set operations reject; snapping removes such slivers
    and changes nothing else.
    """
    snapped = shapely.set_precision(geom, grid_m)
    polys = [g for g in shapely.get_parts(snapped) if g.geom_type == "Polygon" and not g.is_empty]
    if not polys:
        return MultiPolygon()
    return polys[0] if len(polys) == 1 else MultiPolygon(polys)


def read_area(path: str | Path, nofly: list[str | Path] | None = None) -> Area:
    """Read the area to survey from ``path`` and optional no-fly zones from other files."""
    poly = read_polygons(path)
    nf = None
    if nofly:
        nf = shapely.union_all([read_polygons(p) for p in nofly])
    return Area.from_lonlat(poly, nf, name=Path(path).name)


def read_polygons(path: str | Path) -> Polygon | MultiPolygon:
    """All polygons of a GeoJSON, KML or KMZ file, unioned, in WGS84 lon/lat, validated."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in (".geojson", ".json"):
        polys = _geojson_polygons(path)
    elif suffix == ".kml":
        polys = _kml_polygons(path.read_bytes(), path)
    elif suffix == ".kmz":
        polys = _kml_polygons(_kmz_document(path), path)
    else:
        raise InputError(f"{path}: unsupported area format {suffix or '(none)'}; use .geojson, .json, .kml or .kmz")
    if not polys:
        raise InputError(f"{path}: no polygon found; the area must be drawn as a polygon (not a line or points)")
    for i, p in enumerate(polys, 1):
        _validate(p, path, i)
    return shapely.union_all(polys) if len(polys) > 1 else polys[0]


def _validate(poly: Polygon, path: Path, index: int) -> None:
    coords = shapely.get_coordinates(poly)
    if coords.size == 0 or poly.is_empty:
        raise InputError(f"{path}: polygon {index} is empty")
    if np.any(np.abs(coords[:, 0]) > 180) or np.any(np.abs(coords[:, 1]) > 90):
        x, y = coords[np.argmax(np.abs(coords).sum(axis=1))]
        raise InputError(
            f"{path}: polygon {index} has coordinates like ({x:.6g}, {y:.6g}) that are not longitude/latitude; "
            "the file looks projected: reproject it to WGS84 (EPSG:4326) or declare its CRS"
        )
    if not poly.is_valid:
        reason = shapely.is_valid_reason(poly)
        where = re.search(r"\[([-\d.e]+) ([-\d.e]+)\]", reason)
        loc = f" at lon {float(where[1]):.6f}, lat {float(where[2]):.6f}" if where else ""
        what = reason.split("[")[0].strip().lower()
        if "self-intersection" in what or "ring self-intersection" in what:
            what = "self-intersecting (its edges cross)"
        raise InputError(
            f"{path}: polygon {index} is invalid: {what}{loc}; redraw it so that edges do not cross "
            "and holes lie inside the outer ring"
        )
    if poly.area <= 0:
        raise InputError(f"{path}: polygon {index} has zero area")


# -- GeoJSON ----------------------------------------------------------------------------------
def _geojson_polygons(path: Path) -> list[Polygon]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a text file; expected GeoJSON") from None
    if not isinstance(doc, dict) or "type" not in doc:
        raise InputError(f"{path}: not GeoJSON (no 'type' member at the top level)")
    transform = _crs_transform(doc.get("crs"), path)
    geoms = []

    def visit(obj, where: str) -> None:
        kind = obj.get("type") if isinstance(obj, dict) else None
        if kind == "FeatureCollection":
            for i, feat in enumerate(obj.get("features") or [], 1):
                visit(feat, f"feature {i}")
        elif kind == "Feature":
            if obj.get("geometry") is not None:
                visit(obj["geometry"], where)
        elif kind == "GeometryCollection":
            for g in obj.get("geometries") or []:
                visit(g, where)
        elif kind in ("Polygon", "MultiPolygon"):
            try:
                geom = shape(obj)
            except Exception as exc:  # shapely raises several types for malformed rings
                raise InputError(f"{path}: {where}: malformed {kind} coordinates ({exc})") from None
            geoms.extend(geom.geoms if isinstance(geom, MultiPolygon) else [geom])
        elif kind is None:
            raise InputError(f"{path}: {where}: expected a GeoJSON object with a 'type'")

    visit(doc, "top level")
    if transform is not None:
        geoms = [shapely.transform(g, transform) for g in geoms]
    return [shapely.force_2d(g) for g in geoms]


def _crs_transform(crs_member, path: Path):
    """A coordinate function for an old-style GeoJSON ``crs`` member, or None for WGS84."""
    if not crs_member:
        return None
    name = (crs_member.get("properties") or {}).get("name", "") if isinstance(crs_member, dict) else ""
    if re.sub(r"[^a-z0-9]", "", name.lower()) in _WGS84_NAMES:
        return None
    try:
        crs = CRS.from_user_input(name)
    except Exception:
        raise InputError(f"{path}: unknown CRS {name!r} in the 'crs' member; use WGS84 lon/lat (EPSG:4326)") from None
    tr = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    return lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1]))


# -- KML / KMZ --------------------------------------------------------------------------------
def _kmz_document(path: Path) -> bytes:
    try:
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if n.lower().endswith(".kml")]
            if not names:
                raise InputError(f"{path}: the KMZ archive holds no .kml document")
            main = "doc.kml" if "doc.kml" in names else sorted(names, key=lambda n: (n.count("/"), n))[0]
            return zf.read(main)
    except zipfile.BadZipFile:
        raise InputError(f"{path}: not a valid KMZ (zip) file") from None


def _kml_polygons(data: bytes, path: Path) -> list[Polygon]:
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise InputError(f"{path}: not valid KML/XML ({exc})") from None
    polys = []
    for el in root.iter():
        if _local(el.tag) != "Polygon":
            continue
        outer, inners = None, []
        for child in el:
            tag = _local(child.tag)
            if tag in ("outerBoundaryIs", "innerBoundaryIs"):
                ring = _kml_ring(child, path)
                if tag == "outerBoundaryIs":
                    outer = ring
                else:
                    inners.append(ring)
        if outer is None:
            raise InputError(f"{path}: a KML Polygon has no outerBoundaryIs ring")
        polys.append(Polygon(outer, inners))
    return polys


def _kml_ring(boundary: ET.Element, path: Path) -> list[tuple[float, float]]:
    for el in boundary.iter():
        if _local(el.tag) == "coordinates":
            pts = []
            for token in (el.text or "").split():
                parts = token.split(",")
                try:
                    pts.append((float(parts[0]), float(parts[1])))
                except (ValueError, IndexError):
                    raise InputError(f"{path}: bad KML coordinate {token!r}; expected lon,lat[,alt]") from None
            if len(pts) < 3:
                raise InputError(f"{path}: a KML ring has fewer than 3 points")
            return pts
    raise InputError(f"{path}: a KML ring has no <coordinates>")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]
