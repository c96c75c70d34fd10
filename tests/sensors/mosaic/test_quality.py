"""Photo quality: lens cap, exposure, featureless and blurred frames, truncated files; real faulty photos."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from sensors.mosaic.quality import SHARPNESS_FLOOR, Quality, assess, decode_gray, measure, screen
from sensors.photo import BandMeta, write_band_tiff, write_jpeg
from skyscan.errors import InputError

from . import dji_meta, texture

FAULTY = "survey_photos/dronetm_agung1_faulty_images"
GOOD = ("survey_photos/dji_mini2_nottingham_rdslauder", "survey_photos/webodm_fixtures")


def _jpeg(path, rgb, **kw):
    return write_jpeg(path, rgb, dji_meta(52.95, -1.32, **kw), quality=95)


def test_a_black_frame_is_a_lens_cap(tmp_path):
    rng = np.random.default_rng(1)
    black = np.clip(rng.normal(2, 1, (600, 800, 3)), 0, 255).astype(np.uint8)  # sensor noise under a cap
    q = assess(_jpeg(tmp_path / "cap.jpg", black))
    assert q.reason is not None and q.reason.startswith("black frame")
    assert q.mean < 0.02


def test_over_exposed_and_featureless_frames(tmp_path):
    white = np.full((600, 800, 3), 255, np.uint8)
    white[:100] = texture(100, 800)  # a little detail does not save a blown-out frame
    assert assess(_jpeg(tmp_path / "white.jpg", white)).reason.startswith("over-exposed")
    fog = np.full((600, 800, 3), 128, np.uint8) + np.random.default_rng(2).integers(0, 3, (600, 800, 3), np.uint8)
    assert assess(_jpeg(tmp_path / "fog.jpg", fog)).reason.startswith("featureless")


def test_a_textured_photo_passes(tmp_path):
    q = assess(_jpeg(tmp_path / "ok.jpg", texture(600, 800)))
    assert q.reason is None
    assert q.sharpness > 5 * SHARPNESS_FLOOR
    assert q.size == (800, 600)


def test_large_jpegs_decode_reduced(tmp_path):
    """A 4000 x 3000 JPEG decodes at 1/4 scale through libjpeg (never at full size)."""
    big = cv2.resize(texture(750, 1000), (4000, 3000), interpolation=cv2.INTER_NEAREST)
    path = _jpeg(tmp_path / "big.jpg", big)
    gray = decode_gray(path)
    assert gray.shape == (750, 1000)
    assert gray.dtype == np.float32 and gray.min() >= 0.0 and gray.max() <= 1.0


@pytest.mark.parametrize("keep", [0.95, 0.5, 0.05])
def test_a_truncated_jpeg_is_refused(tmp_path, keep):
    path = _jpeg(tmp_path / "whole.jpg", texture(600, 800))
    data = path.read_bytes()
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(data[: int(len(data) * keep)])
    with Image.open(cut) as im:  # the header is fine: a header check would pass it
        im.verify()
    with pytest.raises(InputError, match="truncated"):
        assess(cut)


def test_a_file_that_is_no_image_is_refused(tmp_path):
    bad = tmp_path / "notes.jpg"
    bad.write_text("not a photo")
    with pytest.raises(InputError, match="unreadable image"):
        assess(bad)
    with pytest.raises(InputError, match="not found"):
        assess(tmp_path / "missing.jpg")


def test_blur_is_judged_against_the_set(tmp_path):
    photos = [_jpeg(tmp_path / f"p{i}.jpg", texture(600, 800, seed=i), i=i) for i in range(6)]
    soft = cv2.GaussianBlur(texture(600, 800, seed=9), (0, 0), 0.7)
    photos.append(_jpeg(tmp_path / "soft.jpg", soft))
    qualities = [assess(p) for p in photos]
    assert qualities[-1].reason is None  # not hopeless on its own: only the set can tell
    verdicts = screen(qualities)
    assert verdicts[:-1] == [None] * 6
    assert verdicts[-1] is not None and "below the median" in verdicts[-1]
    # too few photos for a median: no relative verdict
    assert screen(qualities[-3:]) == [None, None, None]
    # absolute reasons pass through, unmeasured entries stay None
    cap = Quality(0.01, 0.001, 0.0, 1.0, (8, 8), "black frame")
    assert screen([*qualities[:6], cap, None])[-2:] == ["black frame", None]
    with pytest.raises(InputError, match="blur_ratio"):
        screen(qualities, blur_ratio=1.5)


def test_measure_on_arrays():
    flat = np.full((300, 400), 0.5, np.float32)
    assert measure(flat).reason.startswith("featureless")
    tiny = measure(np.zeros((2, 2), np.float32))
    assert tiny.reason.startswith("black frame")


def test_sixteen_bit_bands_skip_the_absolute_blur_floor(tmp_path):
    """Raw multispectral bands are smooth: only the set decides whether they are blurred."""
    g = texture(480, 640)[..., 1].astype(np.float32)
    band = (cv2.GaussianBlur(g, (0, 0), 2.0) * 200 + 4000).astype(np.uint16)
    meta = dji_meta(52.95, -1.32, make="MicaSense", model="RedEdge-M", band=BandMeta(name="Green"))
    q = assess(write_band_tiff(tmp_path / "IMG_0001_2.tif", band, meta))
    assert q.sharpness < SHARPNESS_FLOOR
    assert q.reason is None
    assert q.size == (640, 480)


# -- real photos ----------------------------------------------------------------------------------
def test_real_faulty_photos_are_flagged_and_good_ones_are_not(shared_data):
    """DroneTM's deliberately damaged frames (2 lens caps, 1 blurred) against the good sibling
    sets: the fractions flagged, faulty and good, with each set screened on its own."""
    faulty = sorted((shared_data / FAULTY).glob("*.JPG"))
    assert len(faulty) == 3
    verdicts = screen([assess(p) for p in faulty])
    assert all(verdicts), verdicts
    caps = [v for p, v in zip(faulty, verdicts, strict=True) if "LENS_CAP" in p.name]
    assert all(v.startswith("black frame") for v in caps)
    blurred = next(v for p, v in zip(faulty, verdicts, strict=True) if "POOR_SHARPNESS" in p.name)
    assert blurred.startswith("blurred")
    good_flagged = good_total = 0
    for folder in GOOD:
        photos = sorted(p for p in (shared_data / folder).iterdir() if p.suffix.lower() == ".jpg")
        good = screen([assess(p) for p in photos])
        good_total += len(good)
        good_flagged += sum(v is not None for v in good)
    assert good_total == 18
    assert good_flagged / good_total == 0.0
    assert sum(map(bool, verdicts)) / len(faulty) == 1.0


def test_a_blurred_copy_of_a_real_photo_stands_out_in_its_set(shared_data, tmp_path):
    """Gaussian blur of 2 px at full size: above the absolute floor, far below the set's median."""
    folder = shared_data / GOOD[0]
    photos = sorted(folder.glob("*.JPG"))
    with Image.open(photos[0]) as im:
        exif = im.info.get("exif")
        rgb = np.asarray(im.convert("RGB"))
    soft = tmp_path / "DJI_0753_soft.JPG"
    Image.fromarray(cv2.GaussianBlur(rgb, (0, 0), 2.0)).save(soft, quality=92, exif=exif)
    del rgb
    q = assess(soft)
    assert q.reason is None
    verdicts = screen([*(assess(p) for p in photos), q])
    assert verdicts[:-1] == [None] * len(photos)
    assert verdicts[-1] is not None and "below the median" in verdicts[-1]
