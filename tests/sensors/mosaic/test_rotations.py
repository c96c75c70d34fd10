"""Photos from one spot (sensors.mosaic.rotations): orientations from the overlaps, no parallax needed.

The maths on exact bearings with outliers; then the real oblique DJI Mini 2 set of Cerro Macuil (seven
photos taken within 0.8 m of each other, gimbal pitched +15, 0, -55 and -90 degrees), which COLMAP's
mapper cannot start on: registered by rotation, each photo's orientation checked against its own
gimbal tags (XMP GimbalPitchDegree, which the registration only uses to turn each group as a whole).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from sensors.mosaic.geometry import footprints, views
from sensors.mosaic.photos import scan_photos
from sensors.mosaic.rotations import kabsch, relative_rotation
from sensors.mosaic.sfm import reconstruct


def _random_rotation(rng) -> np.ndarray:
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    return q * np.sign(np.linalg.det(q))


def _angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    return math.degrees(math.acos(float(np.clip((np.trace(a.T @ b) - 1) / 2, -1, 1))))


def test_kabsch_recovers_a_rotation_and_never_a_reflection():
    rng = np.random.default_rng(5)
    r = _random_rotation(rng)
    a = rng.normal(size=(50, 3))
    assert np.abs(kabsch(a, a @ r.T) - r).max() < 1e-9
    assert np.linalg.det(kabsch(a, -a)) == pytest.approx(1.0)  # the best proper rotation, not the mirror


def test_relative_rotation_ignores_outliers():
    rng = np.random.default_rng(7)
    r = _random_rotation(rng)
    fa = rng.normal(size=(400, 3))
    fa /= np.linalg.norm(fa, axis=1, keepdims=True)
    fb = fa @ r.T + rng.normal(0, 2e-4, fa.shape)  # ~0.6 px noise at a 3000 px focal length
    bad = rng.random(400) < 0.4
    fb[bad] = rng.normal(size=(bad.sum(), 3))
    fb /= np.linalg.norm(fb, axis=1, keepdims=True)
    r2, inl = relative_rotation(fa, fb, max_angle=4 / 3000)
    assert _angle_deg(r2, r) < 0.02
    assert not inl[bad].any() and inl[~bad].mean() > 0.95


@pytest.mark.slow
def test_real_oblique_photos_from_one_spot_register(shared_data, tmp_path):
    folder = shared_data / "oblique" / "dji_mini2_cerro_macuil"
    if not folder.is_dir():
        pytest.skip(f"{folder} not found")
    ps = scan_photos(folder)
    vs = views(list(ps.photos), ps.epsg)
    from sensors.mosaic.pipeline import MapOptions, _ground

    rec = reconstruct(vs, footprints(vs, _ground(list(ps.photos), MapOptions(), ps.epsg, vs, guess=True)),
                      tmp_path)  # fmt: skip
    s = rec.stats
    print({k: s[k] for k in ("registration", "models", "rotation_residual_px", "tag_disagreement_deg", "tilt_deg")})
    names = {v.name for v in rec.views}
    # Measured: 6 of 6 (DJI_0001, blurred, is left out by the scan), groups of 4 and 2, overlaps agreeing to
    # 2.4 px (median pair), the tags 1.9 deg (median) and 4.9 deg (worst) from the images' orientation.
    assert len(rec.views) == len(vs) >= 6 and not rec.unregistered, rec.unregistered
    assert sorted(s["models"]) == [2, 4] and "rotation only" in s["registration"]
    assert s["rotation_residual_px"] < 4.0 and s["tag_disagreement_deg"]["max"] < 6.0
    tilt = {v.name: math.degrees(math.acos(-v.rotation[2, 2])) for v in rec.views}
    assert tilt["Aerea3.JPG"] < 3.0  # the nadir photo (gimbal -89.9)
    assert abs(tilt["Area2.JPG"] - 35.2) < 4.0  # gimbal -54.8: 35.2 deg from the vertical
    assert abs(tilt["Aerea1.JPG"] - 104.9) < 4.0 and "DJI_0001.JPG" not in names
