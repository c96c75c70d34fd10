"""Reading areas: GeoJSON in its forms, KML/KMZ, projection to UTM, and clear errors."""

from __future__ import annotations

import json
import zipfile

import pytest
import shapely
from shapely.geometry import mapping

from mission.area import read_area, read_polygons
from skyscan.errors import InputError
from tests.common import BIG_HOLE, FIELD, SQUARE, lonlat_polygon, write_geojson

KML = """<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document><Placemark><name>field</name><Polygon>
<outerBoundaryIs><LinearRing><coordinates>{outer}</coordinates></LinearRing></outerBoundaryIs>
<innerBoundaryIs><LinearRing><coordinates>{inner}</coordinates></LinearRing></innerBoundaryIs>
</Polygon></Placemark></Document></kml>"""


def _coords(poly, ring=None):
    ring = poly.exterior if ring is None else ring
    return " ".join(f"{x},{y},0" for x, y in ring.coords)


@pytest.fixture
def holed():
    return lonlat_polygon(FIELD, [BIG_HOLE])


def test_geojson_forms(tmp_path, holed):
    geom = mapping(holed)
    forms = {
        "polygon.geojson": geom,
        "feature.geojson": {"type": "Feature", "properties": {}, "geometry": geom},
        "collection.json": {"type": "FeatureCollection",
                            "features": [{"type": "Feature", "properties": {}, "geometry": geom}]},
        "multi.geojson": {"type": "MultiPolygon", "coordinates": [geom["coordinates"]]},
    }
    for name, doc in forms.items():
        (tmp_path / name).write_text(json.dumps(doc))
        poly = read_polygons(tmp_path / name)
        assert poly.equals_exact(holed, 1e-12), name
        assert len(poly.interiors) == 1


def test_area_is_planned_in_utm_with_holes(tmp_path, holed):
    area = read_area(write_geojson(tmp_path / "a.geojson", holed))
    assert area.frame.epsg == 32755  # Canberra: UTM 55 south
    assert area.area_m2 == pytest.approx(800 * 600 - 300 * 300, rel=1e-3)


def test_kml_and_kmz(tmp_path, holed):
    text = KML.format(outer=_coords(holed), inner=_coords(holed, holed.interiors[0]))
    (tmp_path / "a.kml").write_text(text)
    with zipfile.ZipFile(tmp_path / "a.kmz", "w") as zf:
        zf.writestr("doc.kml", text)
    for name in ("a.kml", "a.kmz"):
        assert read_polygons(tmp_path / name).equals_exact(holed, 1e-9)


def test_several_features_are_united_and_nofly_read(tmp_path):
    a = lonlat_polygon(SQUARE)
    b = lonlat_polygon([(600, 0), (900, 0), (900, 300), (600, 300)])
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": mapping(g)} for g in (a, b)]}
    (tmp_path / "two.geojson").write_text(json.dumps(doc))
    nofly = write_geojson(tmp_path / "nofly.geojson", lonlat_polygon([(100, 100), (150, 100), (150, 150)]))
    area = read_area(tmp_path / "two.geojson", [nofly])
    assert area.polygon.geom_type == "MultiPolygon"
    assert area.nofly.area == pytest.approx(50 * 50 / 2, rel=1e-3)


def test_crs_member_is_honoured(tmp_path, holed):
    area = read_area(write_geojson(tmp_path / "wgs.geojson", holed))
    utm = shapely.transform(area.polygon, lambda xy: xy)  # already in EPSG:32755
    doc = {"type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32755"}},
           "features": [{"type": "Feature", "properties": {}, "geometry": mapping(utm)}]}
    (tmp_path / "utm.geojson").write_text(json.dumps(doc))
    back = read_area(tmp_path / "utm.geojson")
    assert back.area_m2 == pytest.approx(area.area_m2, rel=1e-6)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ({"type": "Polygon", "coordinates": [[[149.0, -35.0], [149.01, -35.01], [149.01, -35.0], [149.0, -35.01],
                                              [149.0, -35.0]]]},
         r"polygon 1 is invalid: self-intersecting \(its edges cross\) at lon 149.005000, lat -35.005000"),
        ({"type": "Polygon", "coordinates": [[[512000, 6084000], [513000, 6084000], [513000, 6085000],
                                              [512000, 6084000]]]},
         "not longitude/latitude; the file looks projected"),
        ({"type": "FeatureCollection", "features": []}, "no polygon found"),
        ({"type": "LineString", "coordinates": [[149.0, -35.0], [149.1, -35.1]]}, "no polygon found"),
        ({"type": "Polygon", "coordinates": [[[149.0, -35.0], [149.1, -35.0], [149.2, -35.0], [149.0, -35.0]]]},
         "zero area|invalid"),
        ({"features": []}, "not GeoJSON"),
    ],
)
def test_bad_areas(tmp_path, content, match):
    path = tmp_path / "bad.geojson"
    path.write_text(json.dumps(content))
    with pytest.raises(InputError, match=match):
        read_area(path)


def test_bad_files(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_area(tmp_path / "missing.geojson")
    (tmp_path / "a.shp").write_text("x")
    with pytest.raises(InputError, match=r"unsupported area format \.shp"):
        read_area(tmp_path / "a.shp")
    (tmp_path / "broken.geojson").write_text('{"type": "Polygon", ')
    with pytest.raises(InputError, match=r"not valid JSON \(line 1"):
        read_area(tmp_path / "broken.geojson")
    (tmp_path / "broken.kmz").write_bytes(b"not a zip")
    with pytest.raises(InputError, match="not a valid KMZ"):
        read_area(tmp_path / "broken.kmz")


def test_nofly_covering_everything(tmp_path):
    sq = write_geojson(tmp_path / "sq.geojson", lonlat_polygon(SQUARE))
    big = write_geojson(tmp_path / "big.geojson", lonlat_polygon([(-10, -10), (500, -10), (500, 500), (-10, 500)]))
    with pytest.raises(InputError, match="no-fly zones cover the whole area"):
        read_area(sq, [big])


@pytest.mark.parametrize("rel", ["dronetm_agung-1/aoi.geojson", "dronetm_agung-2/aoi.geojson",
                                 "qgroundcontrol_unittest/PolygonAreaTest.kml"])
def test_real_areas(shared_data, rel):
    area = read_area(shared_data / "polygons" / rel)
    assert area.area_m2 > 1000
    assert area.frame.epsg in (32750, 32610)
