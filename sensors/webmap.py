"""Offline web maps: one self-contained HTML page with a Leaflet map of the caller's own layers.

A :class:`WebMap` collects named layers (polylines, point sets, GeoJSON, a georeferenced image) and
HTML sections, and :meth:`WebMap.to_html` writes a page that needs no network: Leaflet 1.9.4 (vendored
in ``sensors/assets/leaflet``) and every layer's data are inlined, and there are no base tiles (the
layers are the content). Each layer appears in a layer switcher and is built by a few lines of
JavaScript from one JSON block, so thousands of points stay one GeoJSON layer, not thousands of calls.

Stable names for tests and styling: the map is ``<div id="skyscan-map">``; every vector path and image
of a layer carries the classes ``skyscan-layer`` and ``skyscan-layer-<id>`` (``id`` as returned by the
``add_*`` methods); the layer data is ``<script id="skyscan-map-data" type="application/json">``; when the
map is built the script sets ``data-ready="1"`` and ``data-layers="<n>"`` on the map element.

Example::

    m = WebMap("Flight 12")
    m.add_polyline("Track", [(lat, lon), ...], color="#1f77b4")
    m.add_points("Photos", [(lat, lon), ...], popups=["IMG_0001.JPG", ...])
    m.write("report.html")
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np

from skyscan.atomic import atomic_write_text
from skyscan.errors import InputError

__all__ = ["WebMap", "data_uri", "img_tag"]

_COORD_DIGITS = 7  # 1e-7 deg is about 1 cm: finer digits only make the page larger


@cache
def _leaflet() -> tuple[str, str]:
    """(leaflet.js, leaflet.css) text from the package data."""
    base = resources.files("sensors.assets").joinpath("leaflet")
    return base.joinpath("leaflet.js").read_text("utf-8"), base.joinpath("leaflet.css").read_text("utf-8")


def data_uri(data: bytes, mime: str = "image/png") -> str:
    """``data:`` URI of ``data`` (base64), for images embedded in a page."""
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def img_tag(png: bytes, alt: str, css_class: str = "skyscan-figure", mime: str = "image/png") -> str:
    """An ``<img>`` element showing ``png`` inline (``alt`` is escaped)."""
    return f'<img class="{html.escape(css_class)}" alt="{html.escape(alt)}" src="{data_uri(png, mime)}">'


def _script_json(obj: object) -> str:
    """JSON safe inside a <script> element: no '<' can close it early (JSON allows the \\u escape)."""
    return json.dumps(obj, separators=(",", ":"), allow_nan=False).replace("<", "\\u003c")


def _latlon_array(latlons: Iterable[Sequence[float]] | np.ndarray, what: str) -> np.ndarray:
    a = np.asarray(latlons, dtype=np.float64)
    if a.size == 0:
        return np.zeros((0, 2))
    if a.ndim != 2 or a.shape[1] < 2:
        raise InputError(f"{what}: expected (lat, lon) pairs, got an array of shape {a.shape}")
    a = a[:, :2]
    bad = np.isfinite(a).all(axis=1) & ((np.abs(a[:, 0]) > 90) | (np.abs(a[:, 1]) > 180))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"{what}: point {i} ({a[i, 0]}, {a[i, 1]}) is not a latitude/longitude; pass (lat, lon) "
                         "in degrees")
    return a


def _runs(ok: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) of each run of True in ``ok``."""
    edges = np.diff(np.concatenate([[0], ok.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(), strict=True))


def _lonlat_lists(a: np.ndarray) -> list[list[float]]:
    """GeoJSON [lon, lat] positions, rounded."""
    return np.round(a[:, ::-1], _COORD_DIGITS).tolist()


@dataclass
class _Bounds:
    south: float = math.inf
    west: float = math.inf
    north: float = -math.inf
    east: float = -math.inf

    def add(self, lat: np.ndarray, lon: np.ndarray) -> None:
        ok = np.isfinite(lat) & np.isfinite(lon)
        if ok.any():
            self.south, self.north = min(self.south, float(lat[ok].min())), max(self.north, float(lat[ok].max()))
            self.west, self.east = min(self.west, float(lon[ok].min())), max(self.east, float(lon[ok].max()))

    def as_list(self) -> list[list[float]] | None:
        if not math.isfinite(self.south):
            return None
        return [[self.south, self.west], [self.north, self.east]]


def _geojson_positions(geom: dict) -> Iterable[Sequence[float]]:
    """Every position of a GeoJSON geometry (for the page bounds)."""
    kind, coords = geom.get("type"), geom.get("coordinates")
    if kind == "GeometryCollection":
        for g in geom.get("geometries", []):
            yield from _geojson_positions(g)
        return
    depth = {"Point": 0, "MultiPoint": 1, "LineString": 1, "MultiLineString": 2, "Polygon": 2,
             "MultiPolygon": 3}.get(kind)
    if depth is None or coords is None:
        return
    stack = [(coords, depth)]
    while stack:
        c, d = stack.pop()
        if d == 0:
            yield c
        else:
            stack.extend((x, d - 1) for x in c)


@dataclass
class WebMap:
    """A page with one Leaflet map of named layers, a layer switcher, a scale bar and HTML sections."""

    title: str
    map_height: str = "70vh"
    _layers: list[dict] = field(default_factory=list, repr=False)
    _sections: list[str] = field(default_factory=list, repr=False)
    _bounds: _Bounds = field(default_factory=_Bounds, repr=False)
    _fit: list[list[float]] | None = field(default=None, repr=False)

    # --- layers -----------------------------------------------------------------------------------

    def _new_id(self, name: str) -> str:
        base = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "layer"
        taken = {layer["id"] for layer in self._layers}
        lid, n = base, 2
        while lid in taken:
            lid, n = f"{base}-{n}", n + 1
        return lid

    def _add(self, name: str, kind: str, show: bool, **spec: object) -> str:
        lid = self._new_id(name)
        self._layers.append({"id": lid, "name": name, "kind": kind, "show": show, **spec})
        return lid

    def add_polyline(self, name: str, latlons: Iterable[Sequence[float]] | np.ndarray, *, color: str = "#1f77b4",
                     weight: float = 3.0, opacity: float = 1.0, dash: str | None = None, show: bool = True) -> str:
        """A line through (lat, lon) points; NaN rows split it into parts (e.g. gaps in a track).

        ``dash`` is an SVG dash pattern such as ``"6 4"``. Returns the layer id.
        """
        a = _latlon_array(latlons, f"layer {name!r}")
        ok = np.isfinite(a).all(axis=1)
        parts = [_lonlat_lists(a[s:e]) for s, e in _runs(ok) if e - s >= 2]
        self._bounds.add(a[:, 0], a[:, 1])
        geom = {"type": "MultiLineString", "coordinates": parts}
        style = {"color": color, "weight": weight, "opacity": opacity, "dashArray": dash, "fill": False}
        return self._add(name, "geojson", show, data={"type": "Feature", "properties": {}, "geometry": geom},
                         style=style, color=color)

    def add_points(self, name: str, latlons: Iterable[Sequence[float]] | np.ndarray, *,
                   popups: Sequence[str] | None = None, color: str = "#d62728", radius: float = 4.0,
                   show: bool = True) -> str:
        """Circle markers at (lat, lon) points, one GeoJSON layer; ``popups`` are plain text, one per point.

        Points with NaN coordinates are left out. Returns the layer id.
        """
        a = _latlon_array(latlons, f"layer {name!r}")
        if popups is not None and len(popups) != len(a):
            raise InputError(f"layer {name!r}: {len(popups)} popups for {len(a)} points; give one per point")
        ok = np.flatnonzero(np.isfinite(a).all(axis=1))
        coords = _lonlat_lists(a[ok])
        if popups is None:  # one MultiPoint feature: the smallest page and the fastest build
            data: dict = {"type": "Feature", "properties": {},
                          "geometry": {"type": "MultiPoint", "coordinates": coords}}
        else:
            data = {"type": "FeatureCollection", "features": [
                {"type": "Feature", "properties": {"popup": str(popups[i])},
                 "geometry": {"type": "Point", "coordinates": c}} for i, c in zip(ok.tolist(), coords, strict=True)]}
        self._bounds.add(a[:, 0], a[:, 1])
        style = {"color": color, "fillColor": color, "weight": 1, "opacity": 1.0, "fillOpacity": 0.8}
        return self._add(name, "geojson", show, data=data, style=style, radius=radius,
                         popup_property="popup" if popups is not None else None, color=color)

    def add_geojson(self, name: str, geojson: dict, *, color: str = "#2ca02c", weight: float = 2.0,
                    fill_opacity: float = 0.2, radius: float = 4.0, popup_property: str | None = None,
                    show: bool = True) -> str:
        """A GeoJSON Feature or FeatureCollection in WGS84 lon/lat (e.g. photo footprints).

        Points become circle markers of ``radius``; ``popup_property`` names a property shown (as text)
        when a feature is clicked. Returns the layer id.
        """
        if not isinstance(geojson, dict) or geojson.get("type") not in ("Feature", "FeatureCollection"):
            raise InputError(f"layer {name!r}: expected a GeoJSON Feature or FeatureCollection (a dict)")
        feats = geojson["features"] if geojson["type"] == "FeatureCollection" else [geojson]
        for f in feats:
            pos = np.asarray(list(_geojson_positions((f or {}).get("geometry") or {})), dtype=np.float64)
            if pos.size:
                self._bounds.add(pos[:, 1], pos[:, 0])
        style = {"color": color, "fillColor": color, "weight": weight, "opacity": 1.0, "fillOpacity": fill_opacity}
        try:  # a copy, so later changes by the caller do not reach the page; NaN is not JSON
            data = json.loads(json.dumps(geojson, allow_nan=False))
        except (TypeError, ValueError) as exc:
            raise InputError(f"layer {name!r}: the GeoJSON cannot be written as JSON ({exc}); "
                             "drop NaN coordinates and non-JSON values") from exc
        return self._add(name, "geojson", show, data=data, style=style, radius=radius,
                         popup_property=popup_property, color=color)

    def add_image(self, name: str, image: bytes, bounds_latlon: Sequence[Sequence[float]], *, opacity: float = 0.8,
                  mime: str = "image/png", show: bool = True) -> str:
        """An image stretched over ``((south, west), (north, east))`` (a map preview). Returns the layer id.

        Leaflet draws it in Web Mercator between these corners, so pass an image resampled to that
        projection (or accept the small distortion of a lat/lon grid over a survey-sized area).
        """
        (s, w), (n, e) = (tuple(map(float, p)) for p in bounds_latlon)
        if not (-90 <= s < n <= 90 and -180 <= w < e <= 180):
            raise InputError(f"layer {name!r}: image bounds {bounds_latlon} are not ((south, west), (north, east)) "
                             "in degrees with south < north and west < east")
        self._bounds.add(np.array([s, n]), np.array([w, e]))
        return self._add(name, "image", show, url=data_uri(image, mime), bounds=[[s, w], [n, e]], opacity=opacity)

    def add_html(self, section_html: str) -> None:
        """Raw HTML shown below the map, in order (the caller escapes any text it inserts)."""
        self._sections.append(section_html)

    def fit_bounds(self, south: float, west: float, north: float, east: float) -> None:
        """Open the map on this box instead of the box around all layers."""
        self._fit = [[float(south), float(west)], [float(north), float(east)]]

    @property
    def layer_ids(self) -> list[str]:
        """Ids of the layers, in the order added."""
        return [layer["id"] for layer in self._layers]

    # --- output -----------------------------------------------------------------------------------

    def to_html(self) -> str:
        """The complete page (Leaflet and all data inline; nothing is fetched when it opens)."""
        js, css = _leaflet()
        data = {"layers": self._layers, "bounds": self._fit or self._bounds.as_list()}
        title = html.escape(self.title)
        return "\n".join([
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{title}</title>",
            f"<style>\n{css}\n</style>",
            f"<style>\n{_PAGE_CSS.replace('@MAP_HEIGHT@', self.map_height)}\n</style>",
            "</head><body>",
            f'<h1 class="skyscan-title">{title}</h1>',
            '<div id="skyscan-map"></div>',
            *(f'<section class="skyscan-section">\n{s}\n</section>' for s in self._sections),
            f'<script id="skyscan-map-data" type="application/json">{_script_json(data)}</script>',
            f"<script>\n{js}\n</script>",
            f"<script>\n{_BUILD_JS}\n</script>",
            "</body></html>",
            "",
        ])

    def write(self, path: str | os.PathLike) -> Path:
        """Write the page to ``path`` atomically; returns the path (InputError when it cannot be written)."""
        try:
            atomic_write_text(path, self.to_html())
        except OSError as exc:
            raise InputError(f"{path}: cannot write the page ({exc.strerror or exc}); check that the folder is "
                             "writable and the disk has space") from exc
        return Path(path)


_PAGE_CSS = """
body { font-family: system-ui, sans-serif; margin: 1rem 2rem; color: #222; }
h1.skyscan-title { font-size: 1.4rem; margin: 0 0 0.6rem; }
#skyscan-map { height: @MAP_HEIGHT@; min-height: 300px; border: 1px solid #999; background: #eef0f2; }
.skyscan-section { margin-top: 1.2rem; }
.skyscan-section table { border-collapse: collapse; }
.skyscan-section td, .skyscan-section th { border: 1px solid #ccc; padding: 0.2rem 0.6rem; text-align: left; }
.skyscan-section td.num { text-align: right; font-variant-numeric: tabular-nums; }
img.skyscan-figure { max-width: 100%; display: block; margin: 0.5rem 0; }
.skyscan-swatch { display: inline-block; width: 0.8em; height: 0.8em; margin-right: 0.3em; border-radius: 2px; }
.skyscan-note { color: #8a5a00; }
"""

# Builds the map from the JSON block; kept free of data so the page size is the data's size.
_BUILD_JS = r"""
(function () {
  var el = document.getElementById("skyscan-map");
  var spec = JSON.parse(document.getElementById("skyscan-map-data").textContent);
  var map = L.map(el, {preferCanvas: false, zoomSnap: 0.25});
  var control = L.control.layers(null, null, {collapsed: false}).addTo(map);
  L.control.scale({imperial: false}).addTo(map);
  var ENT = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"};
  function esc(s) { return String(s).replace(/[&<>"']/g, function (c) { return ENT[c]; }); }
  function label(layer) {
    var swatch = layer.color ? '<span class="skyscan-swatch" style="background:' + esc(layer.color) + '"></span>' : "";
    return '<span class="skyscan-layer-name" data-layer="' + esc(layer.id) + '">' + swatch + esc(layer.name) +
      "</span>";
  }
  spec.layers.forEach(function (layer) {
    var cls = "skyscan-layer skyscan-layer-" + layer.id, lyr;
    if (layer.kind === "image") {
      lyr = L.imageOverlay(layer.url, layer.bounds, {opacity: layer.opacity, className: cls});
    } else {
      var style = Object.assign({}, layer.style, {className: cls});
      lyr = L.geoJSON(layer.data, {
        style: function () { return style; },
        pointToLayer: function (f, latlng) {
          return L.circleMarker(latlng, Object.assign({radius: layer.radius || 4}, style));
        },
        onEachFeature: function (f, l) {
          var p = layer.popup_property && f.properties ? f.properties[layer.popup_property] : null;
          if (p !== null && p !== undefined) { l.bindPopup(esc(String(p))); }
        }
      });
    }
    if (layer.show) { lyr.addTo(map); }
    control.addOverlay(lyr, label(layer));
  });
  if (spec.bounds) {
    var b = L.latLngBounds(spec.bounds);
    if (b.getNorth() === b.getSouth() && b.getEast() === b.getWest()) { map.setView(b.getCenter(), 17); }
    else { map.fitBounds(b, {padding: [20, 20]}); }
  } else {
    map.setView([0, 0], 2);
  }
  el.setAttribute("data-layers", String(spec.layers.length));
  el.setAttribute("data-ready", "1");
})();
"""
