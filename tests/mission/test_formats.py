"""Plan files: round trips through every format, QGC/Mission Planner layout, real files, bad input."""

from __future__ import annotations

import json
import math
import shutil
import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mission.commands import Cmd, Frame
from mission.formats import SUPPORTED_EXTENSIONS, read_plan, write_plan
from mission.formats import _common as common
from mission.formats.geojson import plan_from_geojson, plan_to_geojson
from mission.formats.kml import plan_from_kml, plan_to_kml
from mission.formats.qgc_plan import plan_from_qgc, plan_to_qgc
from mission.plan import Fence, FenceCircle, FencePolygon, Home, MissionItem, Plan, PlanMeta, PlanStats, RallyPoint
from sensors.camera import Camera
from skyscan.errors import InputError

CATALOG_JSON = Path(__file__).resolve().parents[2] / "sensors" / "catalog" / "cameras.json"
QGC_DEFAULT = Camera(id="qgc-default", name="QGC default", sensor_width_mm=6.17, sensor_height_mm=4.55,
                     image_width_px=4000, image_height_px=3000, focal_length_mm=4.5)

#: What each format keeps: NaN params, fence and rally, metadata and statistics.
KEEPS_NAN = {".plan", ".kml", ".kmz", ".geojson", ".json"}
KEEPS_FENCE_RALLY = KEEPS_NAN
KEEPS_META = KEEPS_NAN
ALL_EXTENSIONS = (".plan", ".waypoints", ".txt", ".kml", ".kmz", ".geojson", ".json")


def catalogue_camera_id() -> str | None:
    """"qgc-default" when the catalogue has it, else None."""
    try:
        return common.get_camera("qgc-default").id
    except (InputError, FileNotFoundError):
        return None


def sample_plan(camera_id: str | None = None) -> Plan:
    """A hand-built survey-like plan touching every part of the model."""
    items = [
        MissionItem.takeoff(30.0),
        MissionItem.change_speed(7.5),
        MissionItem.waypoint(47.63100012345678, -122.08600043219876, 60.0),
        MissionItem.trigger_distance(25.3),
        MissionItem.waypoint(47.6320001, -122.0860001, 60.25),
        MissionItem.waypoint(47.6320001, -122.0840001, 60.0, hold_s=2.5),
        MissionItem.trigger_distance(0.0),
        MissionItem.waypoint(47.6325, -122.0845, 95.125, frame=Frame.GLOBAL),
        MissionItem(Cmd.NAV_WAYPOINT, Frame.GLOBAL_TERRAIN_ALT, (0.0, 2.0, 0.0, math.nan), 47.633, -122.085, 40.0),
        MissionItem(Cmd.CONDITION_YAW, Frame.MISSION, (90.0, 10.0, 1.0, 0.0), 0.0, 0.0, 0.0, autocontinue=False),
        MissionItem.return_to_launch(),
    ]
    fence = Fence(
        polygons=[FencePolygon(((47.629, -122.089), (47.629, -122.081), (47.636, -122.081), (47.636, -122.089))),
                  FencePolygon(((47.6322, -122.0852), (47.6324, -122.0852), (47.6324, -122.0850)), inclusion=False)],
        circles=[FenceCircle((47.6305, -122.0864), 900.5)],
        return_point=(47.6306, -122.0865, 40.0),
    )
    meta = PlanMeta(pattern="lawnmower", camera_id=camera_id, altitude_m=60.0, front_overlap=0.75,
                    side_overlap=0.7, orientation="landscape", angle_deg=12.5, speed_m_s=7.5, trigger="distance",
                    margin_m=(5.0, 10.0),
                    area={"type": "Polygon", "coordinates": [[[-122.087, 47.630], [-122.083, 47.630],
                                                              [-122.083, 47.634], [-122.087, 47.630]]]},
                    nofly={"type": "MultiPolygon", "coordinates": [[[[-122.0852, 47.6322], [-122.0850, 47.6322],
                                                                     [-122.0850, 47.6324], [-122.0852, 47.6322]]]]})
    stats = PlanStats(distance_m=1234.5, flight_time_s=300.0, photo_count=42, area_m2=9000.0, lines=3)
    return Plan(items=items, home=Home(47.6305111, -122.0863806, 9.26), fence=fence,
                rally=[RallyPoint(47.6301, -122.0861, 30.0), RallyPoint(47.6341, -122.0822, 45.5)],
                meta=meta, stats=stats)


def same_float(a: float, b: float, tol: float = 0.0) -> bool:
    return (math.isnan(a) and math.isnan(b)) or abs(a - b) <= tol


def assert_items_equal(got: list[MissionItem], want: list[MissionItem], *, nan_as_zero: bool = False) -> None:
    assert len(got) == len(want)
    for n, (g, w) in enumerate(zip(got, want, strict=True), start=1):
        where = f"item {n}: {g} != {w}"
        assert (g.command, g.frame, g.autocontinue) == (w.command, w.frame, w.autocontinue), where
        for gp, wp in zip(g.params, w.params, strict=True):
            assert same_float(gp, 0.0 if nan_as_zero and math.isnan(wp) else wp, 1e-9), where
        assert same_float(g.x, w.x, 1e-7) and same_float(g.y, w.y, 1e-7), where
        assert same_float(g.z, w.z, 1e-3), where


def assert_fence_rally_equal(got: Plan, want: Plan) -> None:
    assert got.fence.polygons == want.fence.polygons
    assert got.fence.circles == want.fence.circles
    assert got.fence.return_point == want.fence.return_point
    assert got.rally == want.rally


def assert_stats_equal(got: PlanStats | None, want: PlanStats | None) -> None:
    assert (got is None) == (want is None)
    if got is not None and want is not None:
        for name in PlanStats.__dataclass_fields__:
            assert same_float(getattr(got, name), getattr(want, name)), name


# -- round trips --------------------------------------------------------------------------------
def test_every_extension_is_covered():
    assert set(SUPPORTED_EXTENSIONS) == set(ALL_EXTENSIONS)


@pytest.mark.parametrize("ext", ALL_EXTENSIONS)
def test_round_trip(tmp_path, ext):
    plan = sample_plan(catalogue_camera_id())
    path = tmp_path / f"mission{ext}"
    write_plan(plan, path)
    back = read_plan(path)

    assert_items_equal(back.items, plan.items, nan_as_zero=ext not in KEEPS_NAN)
    assert back.home == plan.home
    if ext in KEEPS_FENCE_RALLY:
        assert_fence_rally_equal(back, plan)
    else:
        assert not back.fence and back.rally == []
    if ext in KEEPS_META:
        assert back.meta == plan.meta
        assert_stats_equal(back.stats, plan.stats)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left behind


@pytest.mark.parametrize("ext", [".plan", ".geojson", ".kml"])
def test_round_trip_keeps_unknown_home_and_nan_stats(tmp_path, ext):
    plan = sample_plan()
    plan.home = None
    plan.stats = PlanStats()  # NaN GSDs, spacing, trigger distance
    write_plan(plan, tmp_path / f"m{ext}")
    back = read_plan(tmp_path / f"m{ext}")
    assert back.home is None
    assert_stats_equal(back.stats, plan.stats)


@pytest.mark.parametrize("ext", [".plan", ".geojson", ".kml", ".waypoints"])
def test_round_trip_home_without_altitude(tmp_path, ext):
    plan = sample_plan()
    plan.home = Home(47.6305111, -122.0863806)
    write_plan(plan, tmp_path / f"m{ext}")
    home = read_plan(tmp_path / f"m{ext}").home
    assert (home.lat, home.lon) == (plan.home.lat, plan.home.lon)
    if ext == ".waypoints":
        assert home.alt_amsl == 0.0  # the format needs a number
    else:
        assert math.isnan(home.alt_amsl)


def test_json_extension_reads_qgc_plans_too(tmp_path):
    plan = sample_plan()
    write_plan(plan, tmp_path / "m.plan")
    shutil.copy(tmp_path / "m.plan", tmp_path / "m.json")
    assert_items_equal(read_plan(tmp_path / "m.json").items, plan.items)


def test_write_replaces_existing_file(tmp_path):
    path = tmp_path / "m.plan"
    path.write_text("old")
    write_plan(sample_plan(), path)
    assert json.loads(path.read_text())["fileType"] == "Plan"


item_strategy = st.builds(
    MissionItem,
    command=st.sampled_from([int(c) for c in Cmd]),
    frame=st.sampled_from([int(f) for f in Frame]),
    params=st.tuples(*[st.floats(allow_infinity=False, width=32)] * 4),
    x=st.floats(-90, 90),
    y=st.floats(-180, 180),
    z=st.floats(-500, 10000, allow_nan=False),
    autocontinue=st.booleans(),
)


@settings(max_examples=40, deadline=None)
@given(st.lists(item_strategy, max_size=8))
def test_any_items_survive_plan_geojson_and_kml(items):
    # The stored generated items of a plan are read as they are: no AltitudeMode rewriting applies.
    plan = Plan(items=items, home=Home(1.0, 2.0, 3.0))
    from_qgc = plan_from_qgc(json.loads(json.dumps(plan_to_qgc(plan), allow_nan=False)), "mem.plan")
    from_geojson = plan_from_geojson(json.loads(json.dumps(plan_to_geojson(plan), allow_nan=False)), "mem")
    from_kml = plan_from_kml(plan_to_kml(plan), "mem.kml")
    for back in (from_qgc, from_geojson, from_kml):
        got = back.items
        if back is from_qgc:  # DO_JUMP targets are renumbered through doJumpId: identity here
            assert [g.command for g in got] == [i.command for i in items]
        assert_items_equal(got, items)


# -- file layout --------------------------------------------------------------------------------
def test_plan_has_the_keys_and_types_qgroundcontrol_requires(tmp_path):
    plan = sample_plan()
    write_plan(plan, tmp_path / "m.plan")

    def no_nan(name):
        raise AssertionError(f"{name} in a .plan file")

    doc = json.loads((tmp_path / "m.plan").read_text(), parse_constant=no_nan)
    assert (doc["fileType"], doc["version"], doc["groundStation"]) == ("Plan", 1, "skyscan")
    mission = doc["mission"]
    assert (mission["version"], mission["firmwareType"], mission["vehicleType"]) == (2, 3, 2)
    assert mission["cruiseSpeed"] == mission["hoverSpeed"] == 7.5
    assert mission["globalPlanAltitudeMode"] == 0  # mixed: relative, AMSL and terrain items
    assert mission["plannedHomePosition"] == [47.6305111, -122.0863806, 9.26]
    assert len(mission["items"]) == len(plan.items)
    for n, (obj, item) in enumerate(zip(mission["items"], plan.items, strict=True), start=1):
        assert obj["type"] == "SimpleItem"
        assert isinstance(obj["command"], int) and isinstance(obj["frame"], int)
        assert isinstance(obj["autoContinue"], bool) and obj["doJumpId"] == n
        assert len(obj["params"]) == 7
        assert all(v is None or isinstance(v, int | float) for v in obj["params"])
        if item.is_positional:
            assert obj["AltitudeMode"] == {Frame.GLOBAL_RELATIVE_ALT: 1, Frame.GLOBAL: 2,
                                           Frame.GLOBAL_TERRAIN_ALT: 4}[item.frame]
            assert obj["Altitude"] == item.z and obj["AMSLAltAboveTerrain"] is None
        else:
            assert "AltitudeMode" not in obj
    assert mission["items"][2]["params"][3] is None  # NaN yaw
    fence = doc["geoFence"]
    assert fence["version"] == 2
    assert fence["polygons"][0] == {"version": 1, "inclusion": True,
                                    "polygon": [[47.629, -122.089], [47.629, -122.081], [47.636, -122.081],
                                                [47.636, -122.089]]}
    assert fence["circles"] == [{"version": 1, "inclusion": True,
                                 "circle": {"center": [47.6305, -122.0864], "radius": 900.5}}]
    assert doc["rallyPoints"] == {"version": 2, "points": [[47.6301, -122.0861, 30.0], [47.6341, -122.0822, 45.5]]}
    assert doc["skyscan"]["meta"]["pattern"] == "lawnmower"


def test_plan_global_altitude_mode_relative(tmp_path):
    plan = Plan(items=[MissionItem.takeoff(20), MissionItem.waypoint(1.0, 2.0, 30.0)])
    assert plan_to_qgc(plan)["mission"]["globalPlanAltitudeMode"] == 1


def test_waypoints_text_has_home_as_item_0(tmp_path):
    plan = sample_plan()
    write_plan(plan, tmp_path / "m.waypoints")
    lines = (tmp_path / "m.waypoints").read_text().splitlines()
    assert lines[0] == "QGC WPL 110"
    assert lines[1].split("\t") == ["0", "1", "0", "16", "0", "0", "0", "0", "47.63051110", "-122.08638060",
                                    "9.26", "1"]
    assert len(lines) == 2 + len(plan.items)
    rows = [line.split("\t") for line in lines[1:]]
    assert all(len(r) == 12 for r in rows)
    assert [int(r[0]) for r in rows] == list(range(len(plan.items) + 1))
    assert rows[3][4:12] == ["0", "0", "0", "0", "47.63100012", "-122.08600043", "60", "1"]  # NaN yaw -> 0
    assert rows[10][11] == "0"  # autocontinue off


def test_waypoints_without_home_use_first_position(tmp_path):
    plan = sample_plan()
    plan.home = None
    write_plan(plan, tmp_path / "m.waypoints")
    row0 = (tmp_path / "m.waypoints").read_text().splitlines()[1].split("\t")
    assert row0[:4] == ["0", "1", "0", "16"] and row0[8:11] == ["47.63100012", "-122.08600043", "0"]
    assert read_plan(tmp_path / "m.waypoints").home == Home(47.63100012, -122.08600043, 0.0)


def test_waypoints_reader_accepts_crlf_spaces_blank_lines_and_wpl_100(tmp_path):
    text = ("QGC WPL 100\r\n\r\n# a comment\r\n0 1 0 16 0 0 0 0 47.5 -122.25 12.5 1\r\n"
            "1  0  3  22  0 0 0 nan 0 0 30 1\r\n2\t0\t3\t16\t0\t0\t0\t0\t47.51\t-122.26\t40\t1\r\n")
    path = tmp_path / "m.waypoints"
    path.write_bytes(text.encode())
    plan = read_plan(path)
    assert plan.home == Home(47.5, -122.25, 12.5)
    assert [it.command for it in plan.items] == [22, 16]
    assert math.isnan(plan.items[0].params[3])


def test_kmz_is_a_zip_with_doc_kml(tmp_path):
    write_plan(sample_plan(), tmp_path / "m.kmz")
    with zipfile.ZipFile(tmp_path / "m.kmz") as zf:
        assert zf.namelist() == ["doc.kml"]
        root = ET.fromstring(zf.read("doc.kml"))
    assert root.tag == "{http://www.opengis.net/kml/2.2}kml"
    folders = [f.findtext("{http://www.opengis.net/kml/2.2}name")
               for f in root.iter("{http://www.opengis.net/kml/2.2}Folder")]
    assert folders == ["Area", "Flight path", "Mission items", "Photo footprints", "Fence", "Rally"]


def test_kml_escapes_text(tmp_path):
    plan = sample_plan()
    plan.meta.camera_name = 'Cam <"R&D"> \u00e9'
    write_plan(plan, tmp_path / "m.kml")
    assert read_plan(tmp_path / "m.kml").meta.camera_name == plan.meta.camera_name


def test_kml_flight_path_altitude_modes(tmp_path):
    write_plan(sample_plan(), tmp_path / "m.kml")
    ns = "{http://www.opengis.net/kml/2.2}"
    root = ET.parse(tmp_path / "m.kml").getroot()
    modes = [ls.findtext(f"{ns}altitudeMode") for ls in root.iter(f"{ns}LineString")]
    assert modes == ["relativeToGround"]  # the single absolute item makes no line of its own
    points = {pm.findtext(f"{ns}name"): pm.find(f"{ns}Point") for pm in root.iter(f"{ns}Placemark")}
    assert points["8 NAV_WAYPOINT"].findtext(f"{ns}altitudeMode") == "absolute"
    assert points["2 DO_CHANGE_SPEED"] is None


def test_geojson_is_rfc7946(tmp_path):
    write_plan(sample_plan(), tmp_path / "m.geojson")
    doc = json.loads((tmp_path / "m.geojson").read_text())
    assert doc["type"] == "FeatureCollection"
    kinds = [f["properties"]["kind"] for f in doc["features"]]
    assert {"area", "nofly", "path", "home", "item", "fence", "rally"} <= set(kinds)
    home = next(f for f in doc["features"] if f["properties"]["kind"] == "home")
    assert home["geometry"]["coordinates"] == [-122.0863806, 47.6305111, 9.26]  # lon, lat, alt
    items = [f for f in doc["features"] if f["properties"]["kind"] == "item"]
    assert items[1]["geometry"] is None and items[1]["properties"]["command"] == Cmd.DO_CHANGE_SPEED
    assert items[2]["properties"]["params"] == [0.0, 0.0, 0.0, None]
    circle = next(f for f in doc["features"] if f["properties"].get("fence") == "circle")
    assert circle["geometry"]["type"] == "Point" and circle["properties"]["radius_m"] == 900.5


# -- footprints ---------------------------------------------------------------------------------
def _footprint_counts(tmp_path: Path, plan: Plan) -> tuple[int, int]:
    write_plan(plan, tmp_path / "m.kml")
    write_plan(plan, tmp_path / "m.geojson")
    ns = "{http://www.opengis.net/kml/2.2}"
    root = ET.parse(tmp_path / "m.kml").getroot()
    folder = next(f for f in root.iter(f"{ns}Folder") if f.findtext(f"{ns}name") == "Photo footprints")
    in_kml = len(list(folder.iter(f"{ns}Polygon")))
    doc = json.loads((tmp_path / "m.geojson").read_text())
    in_geojson = sum(f["properties"]["kind"] == "footprint" for f in doc["features"])
    return in_kml, in_geojson


def test_footprints_written_for_a_known_camera(tmp_path, monkeypatch):
    monkeypatch.setattr(common, "get_camera", lambda name: QGC_DEFAULT)
    in_kml, in_geojson = _footprint_counts(tmp_path, sample_plan("qgc-default"))
    assert in_kml == in_geojson > 5
    doc = json.loads((tmp_path / "m.geojson").read_text())
    ring = next(f for f in doc["features"] if f["properties"]["kind"] == "footprint")["geometry"]["coordinates"][0]
    assert len(ring) == 5 and ring[0] == ring[-1]
    assert all(-122.1 < lon < -122.07 and 47.62 < lat < 47.64 for lon, lat in ring)


def test_no_footprints_for_an_unknown_camera(tmp_path, monkeypatch):
    def unknown(name):
        raise InputError(f"unknown camera {name!r}")

    monkeypatch.setattr(common, "get_camera", unknown)
    assert _footprint_counts(tmp_path, sample_plan("no-such-camera")) == (0, 0)


@pytest.mark.skipif(not CATALOG_JSON.exists(), reason="camera catalogue sensors/catalog/cameras.json not there yet")
def test_footprints_with_a_catalogue_camera(tmp_path):
    from sensors.catalog import load_catalog

    camera_id = next(iter(load_catalog()))
    in_kml, in_geojson = _footprint_counts(tmp_path, sample_plan(camera_id))
    assert in_kml == in_geojson > 0


# -- real files ---------------------------------------------------------------------------------
def test_real_qgc_terrain_plan(shared_data):
    plan = read_plan(shared_data / "missions/qgroundcontrol_unittest/TerrainTest-ArduCopter.plan")
    assert len(plan.items) == 11
    assert plan.home == Home(47.6305111, -122.0863806, 9.26)
    assert math.isnan(plan.items[0].params[3])  # null yaw of the takeoff
    assert (plan.items[3].frame, plan.items[3].z) == (Frame.GLOBAL, 159.26)
    calc = plan.items[5]  # AltitudeMode 3 with no AMSL value
    assert (calc.frame, calc.z) == (Frame.GLOBAL_TERRAIN_ALT, 80.0)
    assert len(plan.warnings) == 1 and "mission item 6" in plan.warnings[0] and "80 m" in plan.warnings[0]
    assert (plan.items[7].frame, plan.items[7].z) == (Frame.GLOBAL_TERRAIN_ALT, 50.0)
    assert plan.meta.speed_m_s == 5


def test_real_mission_planner_waypoints_with_crlf(shared_data):
    plan = read_plan(shared_data / "missions/qgroundcontrol_unittest/MissionPlanner.waypoints")
    assert plan.home == Home(47.660459, -122.103167, 5.21)
    assert len(plan.items) == 5 and all(it.frame == Frame.GLOBAL_RELATIVE_ALT for it in plan.items)


@pytest.mark.parametrize("site", ["cmac", "springvalley", "springvalleybottom"])
def test_real_mavproxy_missions_fences_and_rally(shared_data, site):
    folder = shared_data / "missions/mavproxy_fieldcheck"
    for direction in ("cw", "ccw"):
        mission = read_plan(folder / f"{site}-foamy-mission-{direction}.txt")
        assert mission.home is not None and mission.home.alt_amsl > 500
        assert mission.items[0].command == Cmd.NAV_TAKEOFF and mission.items[-1].command == Cmd.NAV_LAND
        jump = next(it for it in mission.items if it.command == Cmd.DO_JUMP)
        assert jump.params[:2] == (2.0, -1.0)
    fence = read_plan(folder / f"{site}-foamy-fence.txt")
    assert fence.items == [] and len(fence.fence.polygons) == 1
    assert len(fence.fence.polygons[0].points) == 4 and fence.fence.return_point is not None
    rally = read_plan(folder / f"{site}-foamy-rally.txt")
    assert len(rally.rally) == 1 and rally.items == []


def test_real_mavproxy_fence_values(shared_data):
    fence = read_plan(shared_data / "missions/mavproxy_fieldcheck/cmac-foamy-fence.txt").fence
    assert fence.return_point == (-35.363720, 149.163651, 0.0)
    assert fence.polygons[0].points[0] == (-35.358795, 149.164734)
    rally = read_plan(shared_data / "missions/mavproxy_fieldcheck/cmac-foamy-rally.txt").rally
    assert rally == [RallyPoint(-35.363160, 149.164101, 60.0)]


def test_real_dji_planned_path_kmz(shared_data):
    plan = read_plan(shared_data / "survey_photos/dji_mini2_nottingham_rdslauder/PreCoordinates.kmz")
    assert len(plan.items) > 1000
    assert all(it.command == Cmd.NAV_WAYPOINT and it.frame == Frame.GLOBAL for it in plan.items)
    assert all(52.9 < it.x < 53.0 and -1.34 < it.y < -1.31 for it in plan.items)
    assert plan.warnings and "no skyscan mission data" in plan.warnings[0]


@pytest.mark.parametrize("ext", ALL_EXTENSIONS)
def test_real_plan_survives_every_format(shared_data, tmp_path, ext):
    plan = read_plan(shared_data / "missions/qgroundcontrol_unittest/TerrainTest-ArduCopter.plan")
    write_plan(plan, tmp_path / f"m{ext}")
    back = read_plan(tmp_path / f"m{ext}")
    assert_items_equal(back.items, plan.items, nan_as_zero=ext not in KEEPS_NAN)
    assert back.home == plan.home


# -- QGC complex items --------------------------------------------------------------------------
def _simple(command, params, jump_id, frame=3):
    return {"type": "SimpleItem", "command": command, "frame": frame, "params": params, "autoContinue": True,
            "doJumpId": jump_id}


def _qgc_doc(items):
    return {"fileType": "Plan", "version": 1, "groundStation": "QGroundControl",
            "mission": {"version": 2, "items": items, "plannedHomePosition": [1.0, 2.0, 3.0]}}


def test_qgc_survey_items_are_read_from_stored_items():
    survey = {"type": "ComplexItem", "complexItemType": "survey", "version": 5,
              "TransectStyleComplexItem": {"version": 2, "Items": [
                  _simple(206, [25, 0, 1, 0, 0, 0, 0], 2, frame=2),
                  _simple(16, [0, 0, 0, None, 1.001, 2.001, 50], 3),
                  _simple(16, [0, 0, 0, None, 1.002, 2.001, 50], 4),
                  _simple(206, [0, 0, 0, 0, 0, 0, 0], 5, frame=2)]}}
    doc = _qgc_doc([_simple(22, [0, 0, 0, None, 0, 0, 30], 10), survey,
                    _simple(16, [0, 0, 0, None, 1.003, 2.0, 50], 20), _simple(177, [20, 2, 0, 0, 0, 0, 0], 30, 2)])
    plan = plan_from_qgc(doc, "survey.plan")
    assert [it.command for it in plan.items] == [22, 206, 16, 16, 206, 16, 177]
    assert plan.items[-1].params[:2] == (6.0, 2.0)  # DO_JUMP to doJumpId 20 = sequence number 6


@pytest.mark.parametrize("kind", ["survey", "CorridorScan"])
def test_qgc_complex_item_without_stored_items(kind):
    doc = _qgc_doc([{"type": "ComplexItem", "complexItemType": kind, "version": 3}])
    with pytest.raises(InputError, match=rf"complex item 1 \({kind}\) has no stored items; open and save it "
                                         r"in QGroundControl 4 or later"):
        plan_from_qgc(doc, "old.plan")


def test_qgc_structure_scan_is_refused_with_advice():
    doc = _qgc_doc([{"type": "ComplexItem", "complexItemType": "StructureScan", "version": 3}])
    with pytest.raises(InputError, match=r"old.plan: mission item 1: complex item 1 is a structure scan"):
        plan_from_qgc(doc, "old.plan")


def test_qgc_calc_above_terrain_with_amsl_value_is_absolute():
    item = {**_simple(16, [0, 0, 0, None, 1.0, 2.0, None], 1, frame=0),
            "AltitudeMode": 3, "Altitude": 80, "AMSLAltAboveTerrain": 132.5}
    plan = plan_from_qgc(_qgc_doc([item]), "t.plan")
    assert (plan.items[0].frame, plan.items[0].z) == (Frame.GLOBAL, 132.5) and plan.warnings == []


# -- bad input ----------------------------------------------------------------------------------
def test_broken_json(tmp_path):
    path = tmp_path / "broken.plan"
    path.write_text('{\n  "fileType": "Plan",\n  "version": 1,\n  oops\n}\n')
    with pytest.raises(InputError, match=r"broken.plan: broken JSON at line 4, column 3"):
        read_plan(path)


def test_wrong_file_type(tmp_path):
    path = tmp_path / "fence.plan"
    path.write_text(json.dumps({"fileType": "GeoFence", "version": 1}))
    with pytest.raises(InputError, match=r"fileType is 'GeoFence', not 'Plan'.*QGroundControl"):
        read_plan(path)


def test_wrong_plan_version(tmp_path):
    path = tmp_path / "m.plan"
    path.write_text(json.dumps({"fileType": "Plan", "version": 7, "mission": {"items": []}}))
    with pytest.raises(InputError, match=r"plan version 7 is not supported \(expected 1\)"):
        read_plan(path)


def test_bad_qgc_item(tmp_path):
    doc = _qgc_doc([_simple(16, [0, 0, 0], 1)])
    with pytest.raises(InputError, match=r"x.plan: mission item 1: 'params' must hold 7 values, found 3"):
        plan_from_qgc(doc, "x.plan")


def test_waypoints_line_with_five_columns(tmp_path):
    path = tmp_path / "bad.waypoints"
    path.write_text("QGC WPL 110\n0\t1\t0\t16\t0\t0\t0\t0\t1\t2\t3\t1\n1\t0\t3\t16\t0\n")
    with pytest.raises(InputError, match=r"bad.waypoints: line 3: expected 12 columns .* found 5"):
        read_plan(path)


def test_waypoints_bad_number_and_header(tmp_path):
    path = tmp_path / "bad.waypoints"
    path.write_text("QGC WPL 110\n0\t1\t0\t16\t0\t0\t0\t0\t1\t2\t3\t1\n1\t0\t3\t16\t0\t0\t0\t0\tabc\t2\t3\t1\n")
    with pytest.raises(InputError, match=r"line 3: X must be a number, got 'abc'"):
        read_plan(path)
    path.write_text("1\t0\t3\t16\n")
    with pytest.raises(InputError, match=r"line 1: expected the header 'QGC WPL 110'"):
        read_plan(path)


def test_unknown_txt_content(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello world\n")
    with pytest.raises(InputError, match=r"not a mission text file .* first line is 'hello world'"):
        read_plan(path)


@pytest.mark.parametrize("action", ["read", "write"])
def test_unknown_extension(tmp_path, action):
    path = tmp_path / "mission.csv"
    with pytest.raises(InputError, match=r"unknown plan file extension '\.csv'; use one of \.plan, \.waypoints"):
        read_plan(path) if action == "read" else write_plan(sample_plan(), path)


@pytest.mark.parametrize("ext", ALL_EXTENSIONS)
def test_missing_file(tmp_path, ext):
    path = tmp_path / f"nowhere{ext}"
    with pytest.raises(InputError, match=rf"{path}: no such file"):
        read_plan(path)


def test_broken_kml_and_kmz(tmp_path):
    (tmp_path / "a.kml").write_text("<kml><Document>\n<Placemark></Document></kml>")
    with pytest.raises(InputError, match=r"a.kml: broken KML \(XML error at line 2"):
        read_plan(tmp_path / "a.kml")
    (tmp_path / "b.kmz").write_text("<kml/>")
    with pytest.raises(InputError, match=r"b.kmz: not a KMZ \(not a zip file\)"):
        read_plan(tmp_path / "b.kmz")
    (tmp_path / "c.kml").write_text('<kml xmlns="http://www.opengis.net/kml/2.2"><Document/></kml>')
    with pytest.raises(InputError, match=r"no skyscan mission data and no LineString"):
        read_plan(tmp_path / "c.kml")


def test_geojson_that_is_not_a_plan(tmp_path):
    (tmp_path / "a.geojson").write_text(json.dumps({"type": "Feature", "geometry": None, "properties": {}}))
    with pytest.raises(InputError, match=r"not a GeoJSON FeatureCollection"):
        read_plan(tmp_path / "a.geojson")


# -- failed writes leave nothing behind ---------------------------------------------------------
@pytest.mark.parametrize("ext", [".plan", ".geojson", ".json", ".kml", ".kmz"])
def test_unserialisable_plan_leaves_no_file(tmp_path, ext):
    plan = sample_plan()
    plan.meta.area = {"type": "Polygon", "coordinates": object()}
    with pytest.raises(TypeError):
        write_plan(plan, tmp_path / f"m{ext}")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("ext", ALL_EXTENSIONS)
def test_failure_mid_write_keeps_the_old_file(tmp_path, monkeypatch, ext):
    path = tmp_path / f"m{ext}"
    old = sample_plan()
    old.items = old.items[:2]
    write_plan(old, path)
    before = path.read_bytes()

    def half_then_fail(self, data):
        with open(self, "wb") as fh:
            fh.write(data[: len(data) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", half_then_fail)
    def zip_fails(self, name, data, *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(zipfile.ZipFile, "writestr", zip_fails)
    with pytest.raises(InputError, match=rf"{path.name}: cannot write the plan \(No space left on device\)"):
        write_plan(sample_plan(), path)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file
    assert path.read_bytes() == before
