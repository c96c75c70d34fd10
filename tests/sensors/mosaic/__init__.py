"""Tests of the map pipeline (sensors/mosaic); shared builders of real JPEG/TIFF files with metadata."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np

from sensors.photo import PhotoMeta, write_jpeg

T0 = datetime(2024, 5, 4, 10, 0, 0, tzinfo=UTC)
HOME = (-1.3252, 52.952)  # lon, lat: the Nottingham survey area, UTM zone 30 N


def texture(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A photo-like RGB uint8 image: noise at several scales (detail everywhere, like aerial imagery)."""
    rng = np.random.default_rng(seed)
    acc = np.zeros((h, w), dtype=np.float32)
    for cell, weight in ((64, 1.0), (8, 0.7), (2, 0.8), (1, 0.2)):
        small = rng.standard_normal((max(2, h // cell), max(2, w // cell))).astype(np.float32)
        acc += weight * cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    acc = (acc - acc.mean()) / acc.std()
    grey = np.clip(120 + 40 * acc, 0, 255)
    return np.dstack([grey * 0.9, grey, grey * 0.8]).astype(np.uint8)


def dji_meta(lat: float, lon: float, *, i: int = 0, yaw: float = 90.0, **kw) -> PhotoMeta:
    """Metadata of a nadir DJI Mini 2 photo (EXIF model FC7303: catalogue ``mini2``)."""
    base = dict(make="DJI", model="FC7303", time=T0 + timedelta(seconds=2 * i), lat=lat, lon=lon,
                alt=200.0, rel_alt=100.0, focal_length_mm=4.49, focal_length_35mm=24.0,
                gimbal_pitch=-90.0, gimbal_roll=0.0, gimbal_yaw=yaw, flight_yaw=yaw,
                flight_pitch=0.0, flight_roll=0.0)  # fmt: skip
    base.update(kw)
    return PhotoMeta(**base)


def line_of_photos(folder: Path, n: int = 6, *, spacing_m: float = 25.0, size=(800, 600), heading: float = 90.0,
                   meta_kw: dict | None = None) -> list[Path]:
    """``n`` textured JPEGs along a straight line from HOME towards ``heading`` (degrees true)."""
    lon0, lat0 = HOME
    paths = []
    for i in range(n):
        d = i * spacing_m
        lat = lat0 + d * math.cos(math.radians(heading)) / 111_320.0
        lon = lon0 + d * math.sin(math.radians(heading)) / (111_320.0 * math.cos(math.radians(lat0)))
        meta = dji_meta(lat, lon, i=i, yaw=heading, **(meta_kw or {}))
        paths.append(write_jpeg(folder / f"IMG_{i + 1:04d}.JPG", texture(size[1], size[0], seed=i), meta))
    return paths
