"""Photo quality: is a frame worth putting in a map? Lens cap, over-exposure, no texture, blur.

Every measure is taken on a *reduced* grayscale decode (:func:`decode_gray`, long side about
:data:`WORK_SIDE` pixels): JPEGs decode straight at 1/2, 1/4 or 1/8 scale through libjpeg's DCT
scaling (Pillow ``draft``), so a 20 MP photo costs about 10-30 ms and a few MB, never the full image.
The decode also proves the file is whole: a truncated or corrupt JPEG fails here with an
:class:`~skyscan.errors.InputError`, which header-only checks (``Image.verify``) miss.

Why 1000 px and not 500: blur is a loss of fine detail, and every halving of the working size
hides half of it. On the real DroneTM ``_POOR_SHARPNESS`` frame the sharpness below is 61 at
1000 px against about 2000 for sharp DJI survey photos (33x apart), but 504 against about 1400
(under 3x) at 500 px.

Two kinds of verdict:

* :func:`assess` (one photo, absolute): a black frame (lens cap, no exposure), an over-exposed
  one, a featureless one (fog, a blank wall: no contrast to match), or one so blurred that no
  detail survives at all (sharpness under :data:`SHARPNESS_FLOOR`, 8-bit photos only). These
  hold for any scene.
* :func:`screen` (the whole set, relative): how sharp a photo *should* be depends on the scene
  and the camera, so blur is judged against the set's own median: a photo less than
  ``blur_ratio`` (default 1/4) of the median sharpness of its set is blurred.

Sharpness is the 90th percentile over an 8 x 8 grid of tiles of the variance of the Laplacian
(grey levels 0-255, squared): the sharpest part of the frame counts, so a photo that is half sky,
water or a smooth field still scores on its textured half, while motion and focus blur lower
every tile.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from skyscan.errors import InputError

__all__ = ["SHARPNESS_FLOOR", "WORK_SIDE", "Quality", "assess", "decode_gray", "measure", "screen"]

WORK_SIDE = 1000
"""Long side (pixels) of the reduced image every measure is taken on."""

SHARPNESS_FLOOR = 200.0
"""Absolute blur floor for 8-bit photos: sharp real and simulated survey photos score 1400-9000 at
1000 px (the Nottingham DJI set, Cerro Macuil obliques, SITL renders), the real ``_POOR_SHARPNESS``
frame 76. Raw 16-bit multispectral bands score 120-1200 when sharp, so the floor skips them."""

# Absolute thresholds on a 0-1 grey scale; chosen from real frames (lens-cap frames: mean 0.005-0.008,
# contrast 0.003-0.006; survey photos: mean 0.37-0.52, contrast 0.11-0.23).
_BLACK_MEAN, _BLACK_CONTRAST = 0.06, 0.03
_SATURATED_LEVEL, _SATURATED_FRACTION = 0.98, 0.5
_FEATURELESS_CONTRAST = 0.02
_TILES = 8


@dataclass(frozen=True)
class Quality:
    """Image measures of one photo on its reduced grayscale decode.

    ``mean`` and ``contrast`` (standard deviation) are on a 0-1 grey scale, ``saturated`` the
    fraction of pixels at 98 % of full scale or more, ``sharpness`` the tiled Laplacian variance
    described in the module docstring, ``size`` the (width, height) measured. ``reason`` says why
    the photo is unusable on its own (None when nothing is wrong); :func:`screen` adds the
    verdicts that need the whole set.
    """

    mean: float
    contrast: float
    saturated: float
    sharpness: float
    size: tuple[int, int]
    reason: str | None = None


def decode_gray(path, side: int = WORK_SIDE) -> np.ndarray:
    """The image at ``path`` as float32 grey levels 0-1, long side reduced to about ``side`` px.

    JPEGs decode at a reduced DCT scale (never the full image); other formats (TIFF) decode
    fully and are then reduced. 16-bit images are scaled by 65535. Raises
    :class:`~skyscan.errors.InputError` when the file is missing, not an image, truncated or corrupt.
    """
    return _decode(path, side)[0]


def _decode(path, side: int) -> tuple[np.ndarray, bool]:
    """(grey 0-1, whether the file holds raw linear data: 16-bit or wider, as multispectral bands)."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    try:
        with Image.open(path) as im:
            w, h = im.size
            if w <= 0 or h <= 0:
                raise InputError(f"{path}: image has no pixels ({w} x {h})")
            scale = min(1.0, side / max(w, h))
            if im.format in ("JPEG", "MPO"):  # DJI JPEGs open as MPO (a JPEG with a preview)
                # draft() picks the largest DCT reduction that still gives at least this size.
                im.draft("L", (max(1, int(w * scale)), max(1, int(h * scale))))
            im.load()  # decodes every scan: truncation and broken data streams fail here
            raw = im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")
            if raw:
                full = 65535.0 if im.mode.startswith("I;16") else None
                arr = np.asarray(im, dtype=np.float32)
                if full is None:  # 32-bit int or float images: scale by their own range
                    full = max(float(arr.max()), 1.0)
                arr = arr / full
            else:
                arr = np.asarray(im.convert("L"), dtype=np.float32) / 255.0
    except InputError:
        raise
    except FileNotFoundError:
        raise InputError(f"photo not found: {path}") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise InputError(f"{path}: corrupt, truncated or unreadable image ({exc})") from None
    if arr.ndim != 2:  # a multi-channel mode that did not convert (should not happen): average channels
        arr = arr.reshape(arr.shape[0], arr.shape[1], -1).mean(axis=2)
    if max(arr.shape) > side * 1.05:
        f = side / max(arr.shape)
        new = (max(1, round(arr.shape[1] * f)), max(1, round(arr.shape[0] * f)))
        arr = cv2.resize(arr, new, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(arr, dtype=np.float32), raw


def _sharpness(gray: np.ndarray) -> float:
    """90th percentile of the per-tile variance of the Laplacian, in (0-255 grey levels)^2."""
    h, w = gray.shape
    if h < 3 or w < 3:
        return math.nan
    lap = cv2.Laplacian(gray * 255.0, cv2.CV_32F, ksize=1)
    n = _TILES if min(h, w) >= 4 * _TILES else 1
    th, tw = h // n, w // n
    tiles = lap[: th * n, : tw * n].reshape(n, th, n, tw).var(axis=(1, 3), dtype=np.float64)
    return float(np.percentile(tiles, 90))


def measure(gray: np.ndarray, *, blur_floor: float | None = SHARPNESS_FLOOR) -> Quality:
    """The :class:`Quality` of a grayscale image (0-1 floats), with its absolute verdict.

    ``blur_floor`` None turns the absolute blur verdict off (raw multispectral bands: linear,
    lower-resolution data is smoother than a camera JPEG, so only :func:`screen` judges their blur).
    """
    g = np.asarray(gray, dtype=np.float32)
    mean, contrast = float(g.mean()), float(g.std())
    saturated = float(np.count_nonzero(g >= _SATURATED_LEVEL)) / g.size
    sharpness = _sharpness(g)
    if mean < _BLACK_MEAN and contrast < _BLACK_CONTRAST:
        reason = f"black frame (lens cap on or no exposure): mean brightness {mean:.1%}"
    elif saturated > _SATURATED_FRACTION:
        reason = f"over-exposed: {saturated:.0%} of the pixels are saturated"
    elif contrast < _FEATURELESS_CONTRAST:
        reason = f"featureless frame (contrast {contrast:.1%}): nothing to match"
    elif blur_floor is not None and sharpness < blur_floor:
        reason = f"blurred: sharpness {sharpness:.0f} is below the floor of a usable photo ({blur_floor:.0f})"
    else:
        reason = None
    return Quality(mean, contrast, saturated, sharpness, (int(g.shape[1]), int(g.shape[0])), reason)


def assess(path) -> Quality:
    """Decode ``path`` reduced (:func:`decode_gray`) and measure it (:func:`measure`).

    The absolute blur floor applies to 8-bit photos only (see :func:`measure`). Raises
    :class:`~skyscan.errors.InputError` when the image cannot be decoded.
    """
    gray, raw = _decode(path, WORK_SIDE)
    return measure(gray, blur_floor=None if raw else SHARPNESS_FLOOR)


def screen(qualities: Sequence[Quality | None], *, blur_ratio: float = 0.25, min_photos: int = 5) -> list[str | None]:
    """Set-level verdicts, one per entry: the absolute ``reason``, else relative blur, else None.

    A photo is blurred when its sharpness is under ``blur_ratio`` times the median sharpness of
    the photos that passed :func:`assess`. With fewer than ``min_photos`` such photos there is
    no reliable median and only the absolute verdicts apply. ``None`` entries (not measured)
    stay None.
    """
    if not 0 < blur_ratio < 1:
        raise InputError(f"blur_ratio must be between 0 and 1, got {blur_ratio!r}")
    sharp = np.array([q.sharpness for q in qualities if q is not None and q.reason is None], dtype=float)
    sharp = sharp[np.isfinite(sharp)]
    median = float(np.median(sharp)) if sharp.size >= min_photos else math.nan
    out: list[str | None] = []
    for q in qualities:
        if q is None:
            out.append(None)
        elif q.reason is not None:
            out.append(q.reason)
        elif math.isfinite(median) and q.sharpness < blur_ratio * median:
            out.append(f"blurred: sharpness {q.sharpness:.0f} is {median / max(q.sharpness, 1e-9):.1f} x below "
                       f"the median {median:.0f} of this set")  # fmt: skip
        else:
            out.append(None)
    return out
