"""`skyscan map`: exit 0 with a summary and the outputs; exit 2 with one line and nothing written on bad input.

The CLI makes its own local Dask cluster (``--workers``), so each run here starts real worker processes.
The photo set is the small SITL set the pipeline tests use (rendered once into the user cache).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine

from skyscan.cli.main import ExitStatus, main
from tests.sensors.mosaic.conftest import SET_PHOTOS, small_photoset

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def photoset() -> Path:
    return small_photoset()


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_map_command_writes_the_map_and_a_summary(photoset, tmp_path):
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "skyscan", "map", str(photoset), "-o", str(out), "--workers", "2", "--no-match",
           "--truth", str(photoset / "truth.csv")]  # fmt: skip
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "Traceback" not in res.stderr
    text = res.stdout
    assert f"{SET_PHOTOS} used of {SET_PHOTOS}, 0 skipped" in text
    assert "EPSG:32755" in text and str(out / "map.tif") in text and str(out / "report.html") in text
    assert "accuracy" in text and "GSD" in text and "photos/min" in text
    assert _listing(out) == ["footprints.geojson", "map.json", "map.tif", "overlap.tif", "report.html"]
    doc = json.loads((out / "map.json").read_text())
    assert doc["photos_used"] == SET_PHOTOS and doc["sfm"] is None  # --no-match
    assert f"{doc['width']} x {doc['height']} px" in text
    assert doc["truth_rmse_gsd"] <= 2.0


def _bad_only(photoset: Path, folder: Path) -> Path:
    """A folder whose photos are all unusable: a truncated JPEG and a black frame without GPS."""
    folder.mkdir()
    data = (photoset / "IMG_0001.JPG").read_bytes()
    (folder / "CUT_0001.JPG").write_bytes(data[: len(data) // 3])
    from PIL import Image

    Image.new("RGB", (640, 480)).save(folder / "BLACK_0002.JPG")
    return folder


def _far_dem(photoset: Path, path: Path) -> Path:
    """A DEM 5 km east of the photos (same UTM zone)."""
    import csv

    with open(photoset / "truth.csv", newline="") as f:
        row = next(csv.DictReader(f))
    x0, y1 = float(row["x"]) + 5000.0, float(row["y"]) + 100.0
    with rasterio.open(path, "w", driver="GTiff", width=40, height=40, count=1, dtype="float32",
                       crs=f"EPSG:{row['epsg']}", transform=Affine(5.0, 0, x0, 0, -5.0, y1)) as ds:  # fmt: skip
        ds.write(np.full((1, 40, 40), 100.0, np.float32))
    return path


@pytest.mark.parametrize("case", ["empty", "only-bad", "missing", "dem-elsewhere"])
def test_bad_input_exits_2_with_one_line_and_writes_nothing(case, photoset, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()  # an existing, empty output folder must stay empty
    extra: list = []
    if case == "empty":
        src = tmp_path / "empty"
        src.mkdir()
        want = "no photos found"
    elif case == "only-bad":
        src = _bad_only(photoset, tmp_path / "bad")
        want = "no usable photos"
    elif case == "missing":
        src = tmp_path / "nowhere"
        want = "does not exist"
    else:
        src = tmp_path / "photos"
        shutil.copytree(photoset, src)
        extra = ["--dem", _far_dem(photoset, tmp_path / "dem.tif")]
        want = "covers only"
    code, stdout, err = run(capsys, "map", src, "-o", out, "--workers", "1", *extra)
    assert code == ExitStatus.INPUT_ERROR, (stdout, err)
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert err.startswith("error:") and want in err, err
    assert _listing(out) == []  # no output, no temporary file, no work folder


def test_unreachable_scheduler_exits_2(photoset, tmp_path, capsys):
    """Nothing listens on port 9 here: the connection is refused and the command gives up."""
    out = tmp_path / "out"
    t0 = time.perf_counter()
    code, _, err = run(capsys, "map", photoset, "-o", out, "--scheduler", "tcp://127.0.0.1:9")
    elapsed = time.perf_counter() - t0
    print(f"unreachable scheduler: exit {code} after {elapsed:.1f} s")
    assert code == ExitStatus.INPUT_ERROR
    assert len(err.strip().splitlines()) == 1 and "cannot reach the Dask scheduler" in err, err
    # Refused connections are retried until the client's connect timeout (5 s in sensors/mosaic/cluster.py).
    assert elapsed < 10.0, elapsed
    assert not out.exists()
