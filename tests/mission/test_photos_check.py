"""Planned photos from camera commands, and the coverage count raster."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio

from mission.check import coverage
from mission.commands import Cmd
from mission.photos import planned_photos
from mission.plan import Home, MissionItem, Plan
from sensors.camera import Camera
from tests.common import FRAME, X0, Y0, area_from_m, latlon_of

CAM = Camera(id="t", name="test", sensor_width_mm=6.0, sensor_height_mm=4.0, image_width_px=3000,
             image_height_px=2000, focal_length_mm=6.0)


def _plan(items) -> Plan:
    lat, lon = latlon_of((0, 0))
    return Plan(items=items, home=Home(lat, lon, 500.0))


def _wp(x, y, z=50.0):
    lat, lon = latlon_of((x, y))
    return MissionItem.waypoint(lat, lon, z)


def test_trigger_distance_fires_at_entry_and_every_d():
    plan = _plan([MissionItem.takeoff(50), _wp(0, 0), MissionItem.trigger_distance(10), _wp(0, 100),
                  MissionItem.trigger_distance(0), _wp(100, 100), MissionItem.return_to_launch()])
    ph = planned_photos(plan, FRAME)
    assert len(ph) == 11
    assert np.allclose(ph.y - Y0, np.arange(0, 101, 10), atol=0.01)
    assert np.allclose(ph.heading, 0.0) and np.allclose(ph.agl, 50)


def test_distance_carries_over_corners_and_stops_at_rtl():
    plan = _plan([_wp(0, 0), MissionItem.trigger_distance(30, shoot_now=False), _wp(0, 50), _wp(50, 50),
                  MissionItem.return_to_launch(), _wp(500, 500)])
    ph = planned_photos(plan, FRAME)
    # 30 m along the first leg, then 60 m = 10 m into the second leg, 90 m = 40 m into it.
    assert np.allclose(np.c_[ph.x - X0, ph.y - Y0], [[0, 30], [10, 50], [40, 50]], atol=0.01)


def test_single_shots_and_amsl_altitude():
    lat, lon = latlon_of((10, 10))
    amsl = MissionItem(Cmd.NAV_WAYPOINT, 0, (0, 0, 0, 0), lat, lon, 560.0)
    plan = _plan([amsl, MissionItem.shoot(), MissionItem(Cmd.IMAGE_START_CAPTURE, 2, (0, 0, 1, 0))])
    ph = planned_photos(plan, FRAME)
    assert len(ph) == 2 and np.allclose(ph.agl, 60.0)


def test_footprint_geometry():
    plan = _plan([_wp(0, 0), MissionItem.trigger_distance(10), _wp(100, 0)])  # flying east
    fp = planned_photos(plan, FRAME).footprints(CAM)
    # 50 m AGL, 6 mm lens: 6 mm sensor -> 50 m across track (north-south here), 4 mm -> 33.3 m along.
    span = fp[0].max(axis=0) - fp[0].min(axis=0)
    assert span == pytest.approx([33.333, 50.0], abs=1e-3)


def test_coverage_counts_and_geotiff(tmp_path):
    area = area_from_m([(0, 0), (20, 0), (20, 20), (0, 20)])
    plan = _plan([_wp(10, -30), MissionItem.trigger_distance(5), _wp(10, 50)])
    ph = planned_photos(plan, area.frame)
    rep = coverage(area, ph, CAM, promised=6)
    # Footprints 50 m across x 33.3 m along, every 5 m: the 20 m square sees 6-7 of them.
    assert rep.min_count >= 6 and rep.percent_promised == 100.0
    assert rep.percent_at_least(8) == 0.0
    rep.write_geotiff(tmp_path / "c.tif")
    with rasterio.open(tmp_path / "c.tif") as ds:
        assert ds.crs.to_epsg() == area.frame.epsg
        data = ds.read(1, masked=True)
        assert data.min() >= 6
