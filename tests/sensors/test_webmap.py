"""sensors.webmap: the offline Leaflet page, checked as HTML and as the DOM a real browser builds."""

from __future__ import annotations

import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sensors.webmap import WebMap
from skyscan.errors import InputError
from tests.browser import chromium, render_dom  # noqa: F401 - chromium is a fixture

LAT0, LON0 = -35.3632, 149.1652


def _png(w: int = 32, h: int = 24) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), (200, 60, 40)).save(buf, "PNG")
    return buf.getvalue()


def _map_data(page: str) -> dict:
    m = re.search(r'<script id="skyscan-map-data" type="application/json">(.*?)</script>', page, re.S)
    assert m, "map data block missing"
    return json.loads(m.group(1))


class _Refs(HTMLParser):
    """src/href of every element, and the tags seen."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag, attrs):
        for k, v in attrs:
            if k in ("src", "href") and v is not None:
                self.refs.append((tag, k, v))


def _sample_map(n_points: int = 3000) -> WebMap:
    rng = np.random.default_rng(7)
    m = WebMap("Survey <north> & field")
    t = np.linspace(0, 1, 200)
    track = np.c_[LAT0 + 0.002 * t, LON0 + 0.003 * np.sin(3 * t)]
    track[100] = np.nan  # a gap: two parts
    m.add_polyline("Flown track", track, color="#1f77b4")
    m.add_polyline("Planned path", [(LAT0, LON0), (LAT0 + 0.002, LON0), (LAT0 + 0.002, LON0 + 0.003)],
                   color="#ff7f0e", dash="6 4")
    m.add_points("Photos", np.c_[LAT0 + 0.002 * rng.random(n_points), LON0 + 0.003 * rng.random(n_points)])
    m.add_points("Waypoints", [(LAT0, LON0), (LAT0 + 0.002, LON0)], popups=["WP 1 <b>", "WP 2"], color="#9467bd")
    footprint = {"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {"file": "IMG_0001.JPG"},
        "geometry": {"type": "Polygon", "coordinates": [[[LON0, LAT0], [LON0 + 0.001, LAT0], [LON0 + 0.001,
                                                                                              LAT0 + 0.001],
                                                         [LON0, LAT0]]]}}]}
    m.add_geojson("Footprints", footprint, popup_property="file")
    m.add_image("Map preview", _png(), ((LAT0, LON0), (LAT0 + 0.002, LON0 + 0.003)), opacity=0.6)
    m.add_html("<h2>Numbers</h2><p id='numbers'>42</p>")
    return m


def test_page_is_self_contained_and_escaped(tmp_path: Path):
    page = _sample_map().to_html()
    refs = _Refs()
    refs.feed(page)
    # Nothing is loaded from anywhere: no script/link/img reference at all except inline data: images.
    assert not [r for r in refs.refs if r[0] in ("script", "link", "img", "iframe") and not r[2].startswith("data:")]
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=[\"']?https?://", page)
    assert "unpkg.com" not in page and "tile.openstreetmap" not in page
    assert "<title>Survey &lt;north&gt; &amp; field</title>" in page
    data = _map_data(page)
    assert [layer["name"] for layer in data["layers"]] == ["Flown track", "Planned path", "Photos", "Waypoints",
                                                           "Footprints", "Map preview"]
    # the NaN row split the track into two parts of 100 and 99 points
    parts = data["layers"][0]["data"]["geometry"]["coordinates"]
    assert [len(p) for p in parts] == [100, 99]
    # thousands of points are one MultiPoint, not one feature (or one JS call) each
    assert data["layers"][2]["data"]["geometry"]["type"] == "MultiPoint"
    assert len(data["layers"][2]["data"]["geometry"]["coordinates"]) == 3000
    # bounds cover every layer
    (s, w), (n, e) = data["bounds"]
    assert s == pytest.approx(LAT0) and w == pytest.approx(LON0) and n > LAT0 + 0.0019 and e > LON0 + 0.0029


def test_layer_ids_are_unique_and_stable():
    m = WebMap("ids")
    a = m.add_points("Photos", [(LAT0, LON0)])
    b = m.add_points("Photos", [(LAT0, LON0)])
    c = m.add_polyline("Flight track (AUTO)", [(LAT0, LON0), (LAT0 + 1e-4, LON0)])
    assert (a, b, c) == ("photos", "photos-2", "flight-track-auto")
    assert m.layer_ids == [a, b, c]


def test_bad_input_is_an_input_error():
    m = WebMap("bad")
    with pytest.raises(InputError, match="latitude/longitude"):
        m.add_polyline("lonlat swapped", [(149.1, -35.3), (149.2, -35.3)])
    with pytest.raises(InputError, match="popups"):
        m.add_points("p", [(LAT0, LON0)], popups=["a", "b"])
    with pytest.raises(InputError, match="south"):
        m.add_image("img", _png(), ((LAT0 + 1, LON0), (LAT0, LON0 + 1)))
    with pytest.raises(InputError, match="GeoJSON"):
        m.add_geojson("g", {"type": "Point", "coordinates": [0, 0]})
    with pytest.raises(InputError, match="NaN"):
        m.add_geojson("g", {"type": "Feature", "properties": {"v": float("nan")}, "geometry": None})


def test_script_cannot_be_closed_by_layer_text(tmp_path: Path):
    m = WebMap("x")
    m.add_points("</script><script>alert(1)</script>", [(LAT0, LON0)], popups=["</script>"])
    page = m.to_html()
    assert page.count("</script>") == 3  # data block, leaflet, builder: nothing from the layer
    assert _map_data(page)["layers"][0]["name"] == "</script><script>alert(1)</script>"


def test_write_is_atomic_and_returns_path(tmp_path: Path):
    out = _sample_map(10).write(tmp_path / "sub" / "map.html")
    assert out.is_file() and out.read_text("utf-8").startswith("<!DOCTYPE html>")
    assert [p.name for p in out.parent.iterdir()] == ["map.html"]  # no temporary file left
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(InputError, match="cannot write"):
        _sample_map(10).write(blocker / "map.html")  # a file where a folder should be


def test_browser_builds_every_layer(tmp_path: Path, chromium):  # noqa: F811 - fixture
    path = _sample_map(3000).write(tmp_path / "map.html")
    dom = render_dom(path, browser=chromium)
    map_div = re.search(r'<div id="skyscan-map"[^>]*>', dom).group(0)
    assert "leaflet-container" in map_div and 'data-ready="1"' in map_div and 'data-layers="6"' in map_div
    # SVG paths per layer: the two track parts, one planned line, 3000 + 2 circle markers, one footprint
    count = {lid: len(re.findall(rf'<path class="skyscan-layer skyscan-layer-{lid}\b', dom))
             for lid in ("flown-track", "planned-path", "photos", "waypoints", "footprints")}
    assert count == {"flown-track": 1, "planned-path": 1, "photos": 3000, "waypoints": 2, "footprints": 1}
    img = re.search(r'<img[^>]*class="[^"]*leaflet-image-layer[^"]*"[^>]*>', dom)
    assert img and "skyscan-layer-map-preview" in img.group(0) and 'src="data:image/png;base64,' in img.group(0)
    names = re.findall(r'<span class="skyscan-layer-name" data-layer="([a-z0-9-]+)">', dom)  # not the JS source
    assert names == ["flown-track", "planned-path", "photos", "waypoints", "footprints", "map-preview"]
    assert "leaflet-control-scale" in dom
    assert '<p id="numbers">42</p>' in dom
    # no element of the built page points outside it
    refs = _Refs()
    refs.feed(dom)
    assert not [r for r in refs.refs if r[0] in ("script", "link", "img") and re.match(r"https?:", r[2])]
