"""Ground control / check points: CSV and ODM gcp_list.txt, real surveyed files, errors with file:line."""

from __future__ import annotations

import pytest
from pyproj import Transformer

from sensors.mosaic.control import ControlPoints, ImageObservation, read_control, read_control_csv, read_gcp_list
from skyscan.errors import InputError

HELENENSCHACHT = "flight_logs/autel_evo2_rtk_mrk_helenenschacht"


def _write(tmp_path, text: str, name: str = "points.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_with_kinds(tmp_path):
    path = _write(tmp_path, "name,lat,lon,alt,kind\nA,52.95,-1.325,60.5,gcp\nB,52.951,-1.326,61.0,check\n"
                            "C,52.952,-1.327,59.25,\n")  # fmt: skip
    cp = read_control(path)
    assert isinstance(cp, ControlPoints) and len(cp) == 3 and cp.crs == "EPSG:4326"
    a, b, c = cp.points
    assert (a.name, a.lat, a.lon, a.alt, a.kind, a.observations) == ("A", 52.95, -1.325, 60.5, "gcp", ())
    assert b.kind == "check" and c.kind == "gcp"  # empty kind: a control point
    assert [p.name for p in cp.gcps] == ["A", "C"] and [p.name for p in cp.checks] == ["B"]
    assert read_control_csv(path) == cp


def test_csv_column_synonyms_order_and_delimiters(tmp_path):
    path = _write(tmp_path, "# surveyed 2024-05-04\nType;Elevation;Longitude;Latitude;Label\n"
                            "Checkpoint;100.0;10.5;45.25;P1\nControl;101.5;10.6;45.3;P2\n")  # fmt: skip
    cp = read_control(path)
    assert [(p.name, p.lon, p.lat, p.alt, p.kind) for p in cp.points] == [
        ("P1", 10.5, 45.25, 100.0, "check"), ("P2", 10.6, 45.3, 101.5, "gcp")]
    tab = _write(tmp_path, "name\tlat\tlon\talt\nX\t1.5\t2.5\t3.5\n", "t.txt")
    assert read_control(tab).points[0].lat == 1.5


def test_odm_gcp_list_in_utm_groups_observations_by_name(tmp_path):
    tr = Transformer.from_crs("EPSG:4326", "EPSG:32633", always_xy=True)
    (e1, n1), (e2, n2) = tr.transform(15.1, 48.2), tr.transform(15.101, 48.2005)
    text = (f"WGS84 UTM 33N\n"
            f"{e1:.3f} {n1:.3f} 310.5 1200.5 800.25 IMG_0001.JPG gcp-a\n"
            f"{e2:.3f} {n2:.3f} 312.0 100 200 IMG_0001.JPG gcp-b\n"
            f"# a comment line\n\n"
            f"{e1:.3f} {n1:.3f} 310.5 1000 900 IMG_0002.JPG gcp-a  # trailing comment\n")  # fmt: skip
    cp = read_control(_write(tmp_path, text, "gcp_list.txt"))
    assert cp.crs == "WGS84 UTM 33N"
    a, b = cp.points
    assert (a.name, a.kind) == ("gcp-a", "gcp")
    assert (a.lon, a.lat, a.alt) == (pytest.approx(15.1, abs=1e-7), pytest.approx(48.2, abs=1e-7), 310.5)
    assert a.observations == (ImageObservation("IMG_0001.JPG", 1200.5, 800.25),
                              ImageObservation("IMG_0002.JPG", 1000, 900))
    assert (b.lon, b.lat) == (pytest.approx(15.101, abs=1e-7), pytest.approx(48.2005, abs=1e-7))


def test_odm_gcp_list_crs_spellings(tmp_path):
    for crs in ("EPSG:4326", "WGS84", "+proj=longlat +datum=WGS84 +no_defs"):
        cp = read_gcp_list(_write(tmp_path, f"{crs}\n16.5 47.6 460.0 10 20 a.jpg\n", "g.txt"))
        assert (cp.points[0].lon, cp.points[0].lat) == (pytest.approx(16.5), pytest.approx(47.6))
        assert cp.points[0].name == "gcp1"


@pytest.mark.parametrize(("text", "message"), [
    ("name,lat,lon\nA,1,2\n", r"points.csv:1: control points CSV lacks column\(s\) alt"),
    ("name,lat,lon,alt\nA,1,2,3\nB,north,2,3\n", r"points.csv:3: lat is not a number: 'north'"),
    ("name,lat,lon,alt\nA,91,2,3\n", r"points.csv:2: lat/lon 91.0, 2.0 are not WGS84 degrees"),
    ("name,lat,lon,alt,kind\nA,1,2,3,tie\n", r"points.csv:2: kind 'tie' is not one of gcp, check"),
    ("name,lat,lon,alt\nA,1,2,3\nA,1,2,3\n", r"points.csv:3: point 'A' is listed twice \(first on line 2\)"),
    ("name,lat,lon,alt\nA,1,2\n", r"points.csv:2: expected 4 columns, found 3"),
    ("name,lat,lon,alt\n", r"points.csv: no control points"),
    ("\n\n", r"points.csv: the control points file is empty"),
    ("EPSG:999999\n1 2 3 4 5 a.jpg\n", r"points.csv:1: unknown coordinate system 'EPSG:999999'"),
    ("WGS84 UTM 61N\n1 2 3 4 5 a.jpg\n", r"points.csv:1: UTM zone 61 is not 1-60"),
    ("EPSG:4326\n\n16.5 47.6 460 10\n", r"points.csv:3: expected 'geo_x geo_y geo_z im_x im_y image_name"),
    ("EPSG:4326\n16.5 47.6 high 10 20 a.jpg\n", r"points.csv:2: geo_z is not a number: 'high'"),
    ("EPSG:4326\n16.5 47.6 460 -10 20 a.jpg\n", r"points.csv:2: image coordinates -10.0, 20.0 are negative"),
    ("EPSG:4326\n16.5 47.6 460 10 20 a.jpg P\n16.6 47.6 460 10 20 b.jpg P\n",
     r"points.csv:3: point 'P' has other coordinates than on .*points.csv:2"),
    ("EPSG:4326\n# only comments\n", r"points.csv: no control points after the coordinate system line"),
])  # fmt: skip
def test_errors_name_the_file_and_line(tmp_path, text, message):
    with pytest.raises(InputError, match=message):
        read_control(_write(tmp_path, text))


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="control points file not found"):
        read_control(tmp_path / "nope.csv")


# -- real files -----------------------------------------------------------------------------------
def test_real_emlid_survey_csv_and_its_odm_gcp_list_agree(shared_data):
    """Helenenschacht: the same five surveyed marks as a ';' CSV and as an ODM gcp_list (EPSG:4326)."""
    csv_points = read_control(shared_data / HELENENSCHACHT / "latlon-easting_northing.csv")
    odm = read_control(shared_data / HELENENSCHACHT / "gcp_list.txt")
    assert [p.name for p in csv_points.points] == ["1", "2", "3", "4", "5"]
    assert [p.name for p in odm.points] == ["1", "2", "3", "4", "5"]
    for a, b in zip(csv_points.points, odm.points, strict=True):
        assert (a.lon, a.lat, a.alt) == (b.lon, b.lat, b.alt)
        assert b.observations and all(o.image.startswith("MAX_") for o in b.observations)
    assert odm.points[0].observations[0] == ImageObservation("MAX_0029.JPG", 2501.095418408543, 2452.0052112575277)
    assert sum(len(p.observations) for p in odm.points) == sum(
        1 for ln in (shared_data / HELENENSCHACHT / "gcp_list.txt").read_text().splitlines()[1:] if ln.strip())


def test_real_webodm_gcp_file_with_a_proj_string(shared_data):
    """WebODM's fixture: UTM 15N as a proj string, unnamed marks grouped by their coordinates."""
    cp = read_control(shared_data / "survey_photos/webodm_fixtures/gcp.txt")
    assert cp.crs.startswith("+proj=utm +zone=15")
    assert [len(p.observations) for p in cp.points] == [2, 1, 2]
    lon, lat = Transformer.from_crs("EPSG:32615", "EPSG:4326", always_xy=True).transform(576529.22, 5188003.22)
    assert (cp.points[0].lon, cp.points[0].lat) == (pytest.approx(lon, abs=1e-9), pytest.approx(lat, abs=1e-9))
    assert [o.image for o in cp.points[2].observations] == ["tiny_drone_image_2.jpg", "missing_image.jpg"]
