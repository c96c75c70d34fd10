"""Parsers for values pilots type: lengths with units, overlaps, angles, coordinates.

Each raises :class:`~skyscan.errors.InputError` naming the option and an accepted example, so the
CLI reports a typo in one line.
"""

from __future__ import annotations

import re

from skyscan.errors import InputError

_LENGTH_UNITS = {"m": 1.0, "cm": 0.01, "mm": 0.001, "ft": 0.3048, "km": 1000.0}


def parse_length(text: str, option: str, default_unit: str = "m") -> float:
    """'2.5cm', '0.025 m', '80', '262ft' -> metres; a bare number is in ``default_unit``."""
    m = re.fullmatch(r"\s*([-+]?\d+(?:\.\d*)?|\.\d+)\s*([a-zA-Z]*)\s*(?:/px)?\s*", text)
    if not m:
        raise InputError(f"{option}: cannot read {text!r}; write a number with a unit, e.g. 2.5cm or 80m")
    unit = (m[2] or default_unit).lower()
    if unit not in _LENGTH_UNITS:
        raise InputError(f"{option}: unknown unit {m[2]!r} in {text!r}; use one of {', '.join(_LENGTH_UNITS)}")
    value = float(m[1]) * _LENGTH_UNITS[unit]
    if value <= 0:
        raise InputError(f"{option}: must be positive, got {text!r}")
    return value


def parse_overlap(text: str) -> tuple[float, float]:
    """'80/70' (front/side, percent), '75' (both) or '0.8/0.7' -> fractions."""
    parts = text.replace("%", "").split("/")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) == 1:
        values *= 2
    if len(values) != 2:
        raise InputError(f"--overlap: cannot read {text!r}; write front/side in percent, e.g. 80/70")
    fracs = [v / 100 if v > 1 else v for v in values]
    for label, v in zip(("front", "side"), fracs, strict=True):
        if not 0 <= v <= 0.95:
            raise InputError(f"--overlap: {label} overlap {v * 100:g} % is out of range; use 0-95 %, e.g. 80/70")
    return fracs[0], fracs[1]


def parse_angle(text: str) -> float | None:
    """'auto' -> None (automatic), else degrees."""
    if text.strip().lower() == "auto":
        return None
    try:
        return float(text.rstrip("°"))
    except ValueError:
        raise InputError(f"--angle: cannot read {text!r}; write 'auto' or degrees, e.g. 35") from None


def parse_latlon(text: str, option: str) -> tuple[float, float]:
    """'LAT,LON' -> (lat, lon) in degrees, range-checked."""
    try:
        lat, lon = (float(v) for v in text.split(","))
    except ValueError:
        raise InputError(f"{option}: cannot read {text!r}; write LAT,LON in degrees, e.g. -35.3632,149.1652") from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise InputError(f"{option}: {text!r} is not a latitude,longitude pair (latitude first)")
    return lat, lon


def parse_duration(text: str, option: str) -> float:
    """'25', '25min', '1500s', '1/1000' (a shutter) -> seconds; bare numbers are minutes."""
    t = text.strip().lower()
    if "/" in t:
        num, den = t.split("/", 1)
        try:
            return float(num) / float(den.rstrip("s"))
        except (ValueError, ZeroDivisionError):
            raise InputError(f"{option}: cannot read {text!r}; e.g. 1/1000") from None
    m = re.fullmatch(r"(\d+(?:\.\d*)?)\s*(s|sec|min|m|h)?", t)
    if not m:
        raise InputError(f"{option}: cannot read {text!r}; e.g. 25min or 1500s")
    scale = {"s": 1, "sec": 1, "min": 60, "m": 60, "h": 3600, None: 60}[m[2]]
    return float(m[1]) * scale
