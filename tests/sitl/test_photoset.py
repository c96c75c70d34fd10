"""Photo sets rendered from a planned survey: count, files, EXIF against truth.csv, poses, cache."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

from sensors.catalog import get_camera
from sensors.photo import read_photo_meta
from sensors.projection import grid_convergence_deg
from sitl.photoset import PARAMS_FILE, plan_layout, render_survey, trigger_events
from skyscan.errors import InputError

SIZE = (160, 120)  # tiny photos: the geometry and metadata are what is tested here


@pytest.fixture(scope="module")
def world_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("worlds")


@pytest.fixture(scope="module")
def photoset(tmp_path_factory, world_cache):
    out = tmp_path_factory.mktemp("set") / "photos"
    return render_survey(out, n_photos=8, size=SIZE, altitude_m=60.0, workers=1, world_cache_dir=world_cache)


def _truth(folder) -> list[dict]:
    with (folder / "truth.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_the_set_has_the_asked_count_with_photos_and_truth(photoset):
    record = json.loads((photoset / PARAMS_FILE).read_text())
    photos = sorted(photoset.glob("IMG_*.JPG"))
    rows = _truth(photoset)
    assert abs(len(photos) - 8) <= 0.8
    assert record["photos"] == len(photos) == len(rows)
    assert [p.name for p in photos] == [r["file"] for r in rows] == [f"IMG_{i:04d}.JPG" for i in range(1, 9)]
    assert record["lines"] >= 2  # a real grid, not one strip
    assert record["render_s_per_photo"] > 0


def test_exif_positions_and_angles_equal_the_truth(photoset):
    for row in _truth(photoset):
        meta = read_photo_meta(photoset / row["file"])
        assert (meta.width, meta.height) == SIZE
        # EXIF GPS rationals hold 1e-7 degree-ish precision: far below a centimetre.
        assert meta.lat == pytest.approx(float(row["lat"]), abs=2e-8)
        assert meta.lon == pytest.approx(float(row["lon"]), abs=2e-8)
        assert meta.alt == pytest.approx(float(row["alt_msl"]), abs=0.01)
        assert meta.rel_alt == pytest.approx(float(row["alt_rel"]), abs=0.01)
        assert meta.gimbal_pitch == pytest.approx(float(row["gimbal_pitch"]), abs=0.01)
        assert not meta.problems


def test_poses_follow_the_survey(photoset):
    rows = _truth(photoset)
    t = np.array([float(r["unix_time"]) for r in rows])
    x, y = (np.array([float(r[k]) for r in rows]) for k in ("x", "y"))
    yaw = np.array([float(r["yaw"]) for r in rows])
    assert np.all(np.diff(t) > 0)
    # Along a line the photos are a trigger distance apart in distance / speed seconds; the yaw is
    # the flight direction (true heading) within the crab noise.
    record = json.loads((photoset / PARAMS_FILE).read_text())
    step = np.hypot(np.diff(x), np.diff(y))
    grid_bearing = np.degrees(np.arctan2(np.diff(x), np.diff(y))) % 360
    same_line = np.abs((np.diff(yaw) + 180) % 360 - 180) < 5
    assert same_line.sum() >= 4
    np.testing.assert_allclose(np.diff(t)[same_line], step[same_line] / record["speed_m_s"], atol=1e-5)
    conv = float(rows[0]["grid_convergence"])
    true_bearing = (grid_bearing - conv) % 360
    err = np.abs((true_bearing[same_line] - yaw[:-1][same_line] + 180) % 360 - 180)
    assert err.max() < 1.6
    for key, lim in (("roll", 2.0), ("pitch", 2.0), ("gimbal_roll", 1.0)):
        vals = np.array([float(r[key]) for r in rows])
        assert np.abs(vals).max() <= lim and np.ptp(vals) > 0
    agl = np.array([float(r["alt_rel"]) for r in rows])
    assert np.abs(agl - 60.0).max() <= 1.0 and np.ptp(agl) > 0


def test_a_finished_set_is_reused_and_a_different_request_redone(photoset, world_cache):
    before = {p.name: p.stat().st_mtime_ns for p in photoset.iterdir()}
    again = render_survey(photoset, n_photos=8, size=SIZE, altitude_m=60.0, workers=1, world_cache_dir=world_cache)
    assert again == photoset
    assert {p.name: p.stat().st_mtime_ns for p in photoset.iterdir()} == before
    # A missing photo makes the set unfinished: it is rendered again.
    (photoset / "IMG_0003.JPG").unlink()
    render_survey(photoset, n_photos=8, size=SIZE, altitude_m=60.0, workers=0, world_cache_dir=world_cache)
    assert (photoset / "IMG_0003.JPG").is_file()
    assert (photoset / "IMG_0001.JPG").stat().st_mtime_ns != before["IMG_0001.JPG"]


def test_trigger_events_are_reproducible_and_seeded():
    cam = get_camera("mavic3e")
    layout = plan_layout(50, cam, altitude_m=80.0, front=0.75, side=0.65, angle_deg=30.0)
    assert abs(len(layout.photos) - 50) <= 5
    a = trigger_events(layout, 100.0, seed=1)
    b = trigger_events(layout, 100.0, seed=1)
    c = trigger_events(layout, 100.0, seed=2)
    assert a == b and a != c
    assert [e.index for e in a] == list(range(1, len(a) + 1))
    lon, lat = layout.photos.lonlat()
    conv = grid_convergence_deg(layout.photos.frame.epsg, float(lon.mean()), float(lat.mean()))
    # Lines at grid bearing 30 (or back at 210): the yaw is that bearing as a true heading.
    yaw = np.array([e.yaw for e in a])
    off = np.minimum(np.abs((yaw - (30 - conv) + 180) % 360 - 180), np.abs((yaw - (210 - conv) + 180) % 360 - 180))
    assert off.max() < 1.6
    assert all(math.isclose(e.alt_msl - e.alt_rel, 100.0) for e in a)


def test_an_unreachable_count_is_an_input_error():
    with pytest.raises(InputError, match="photos"):
        plan_layout(1, get_camera("mavic3e"), altitude_m=80.0, front=0.75, side=0.65)
    with pytest.raises(InputError, match="multispectral"):
        render_survey("unused", n_photos=10, camera="rededge-p")
