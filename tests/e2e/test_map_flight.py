"""End to end: fly a small survey on the real SITL process with the simulated camera, then map its photos.

Plan (mission/) -> fly at speedup 25 (sitl/, telemetry/) -> photos with EXIF GPS/XMP as the vehicle
stamped them, and truth.csv with the true poses -> ``build_map`` on a 2-worker LocalCluster -> the map's
georeference error against the true poses must be within 2 GSD (RMSE).
"""

from __future__ import annotations

import json

import pytest
import rasterio

from mission.survey import SurveySpec, plan_survey
from sensors.catalog import get_camera
from sensors.mosaic.cluster import dask_client
from sensors.mosaic.pipeline import MapOptions, build_map
from sitl.process import SitlProcess
from telemetry.fly import fly
from telemetry.link import connect
from tests.common import area_from_m, latlon_of

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def flight_map(tmp_path_factory):
    """Fly a 50 x 30 m survey at 40 m (about 20 photos, 800 x 600) and map it once; (result, photo count)."""
    tmp = tmp_path_factory.mktemp("map_flight")
    area = area_from_m([(0, 0), (50, 0), (50, 30), (0, 30)])
    spec = SurveySpec(altitude_m=40, front_overlap=0.75, side_overlap=0.65, home=latlon_of((-15, -15)),
                      fence_margin_m=60)  # fmt: skip
    plan = plan_survey(area, get_camera("mavic3e"), spec)
    args = ["--camera", "mavic3e", "--photo-size", "800x600", "--world-extent", "300",
            "--param", "BATT_CAPACITY=20000"]  # fmt: skip
    with (SitlProcess(home=(plan.home.lat, plan.home.lon, 584.0, 0.0), speedup=25, log_dir=tmp / "sitl",
                      args=args, startup_timeout=60, stop_timeout=300) as sitl,
          connect(sitl.connection_string(), timeout=20) as link):  # fmt: skip
        state = fly(link, plan, timeout=900)
    photos = tmp / "sitl" / "photos"
    n = len(list(photos.glob("IMG_*.JPG")))
    assert state.landed and n == state.photos >= 8
    with dask_client(workers=2) as client:
        result = build_map(photos, tmp / "map", MapOptions(truth=photos / "truth.csv"), client=client)
    print(f"\n{n} photos, {result.photos_used} used: truth RMSE {result.truth_rmse_m} m = {result.truth_rmse_gsd} GSD "
          f"at {result.gsd_m} m; accuracy {json.dumps(result.accuracy)}; sfm {json.dumps(result.sfm)[:1200]}; "
          f"skipped {result.skipped}; {result.seconds:.1f} s")  # fmt: skip
    return result, n


def test_sitl_flight_photos_make_a_map(flight_map):
    result, n = flight_map
    assert result.photos_in == n
    # Every photo is used or listed with a reason (this flight's photos at the end of the first line came
    # out motion-blurred and were skipped as relatively blurred when measured).
    assert result.photos_used + len(result.skipped) == n and result.photos_used >= 0.75 * n, result.skipped
    assert all(s["reason"] for s in result.skipped)
    assert 0.5 * result.photos_used <= result.accuracy["photos"] <= result.photos_used  # photos that show in the map
    with rasterio.open(result.out_dir / "map.tif") as ds:
        assert ds.crs.to_epsg() == result.epsg and ds.read(4).mean() > 0.4 * 255
    assert json.loads((result.out_dir / "map.json").read_text())["truth_rmse_gsd"] == result.truth_rmse_gsd


def test_sitl_flight_map_within_two_gsd(flight_map):
    result, _ = flight_map
    assert result.truth_rmse_gsd <= 2.0, (result.truth_rmse_m, result.accuracy)
