"""Small array helpers for tracks: great-circle distances, resampling values and angles, quaternions.

All functions take and return numpy arrays; angles are degrees unless the name says otherwise.
"""

from __future__ import annotations

import numpy as np

__all__ = ["EARTH_RADIUS_M", "haversine_m", "interp", "interp_angle_deg", "quat_to_euler_deg"]

EARTH_RADIUS_M = 6_371_008.8  # mean Earth radius (IUGG)


def haversine_m(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    """Great-circle distance in metres between points given in degrees."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi = p2 - p1
    dlmb = np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def _prepare(t_src: np.ndarray, v_src: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ok = np.isfinite(t_src) & np.isfinite(v_src)
    t, v = t_src[ok], v_src[ok].astype(np.float64)
    if t.size > 1 and np.any(np.diff(t) < 0):
        order = np.argsort(t, kind="stable")
        t, v = t[order], v[order]
    return t, v


def interp(t_src: np.ndarray, v_src: np.ndarray, t_dst: np.ndarray, max_gap: float = 1.0) -> np.ndarray:
    """Linear interpolation of ``v_src(t_src)`` at ``t_dst``; NaN more than ``max_gap`` s outside the data."""
    t, v = _prepare(np.asarray(t_src, np.float64), np.asarray(v_src))
    t_dst = np.asarray(t_dst, dtype=np.float64)
    if t.size == 0:
        return np.full(t_dst.shape, np.nan)
    out = np.interp(t_dst, t, v)
    out[(t_dst < t[0] - max_gap) | (t_dst > t[-1] + max_gap) | ~np.isfinite(t_dst)] = np.nan
    return out


def interp_angle_deg(t_src: np.ndarray, deg_src: np.ndarray, t_dst: np.ndarray, max_gap: float = 1.0,
                     wrap360: bool = False) -> np.ndarray:
    """Interpolate angles across the +-180 (or 0/360) seam; result in [-180, 180) or [0, 360)."""
    t, v = _prepare(np.asarray(t_src, np.float64), np.asarray(deg_src))
    unwrapped = np.degrees(np.unwrap(np.radians(v)))
    out = interp(t, unwrapped, t_dst, max_gap)
    return np.mod(out, 360.0) if wrap360 else np.mod(out + 180.0, 360.0) - 180.0


def quat_to_euler_deg(q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Roll, pitch, yaw (degrees, aerospace ZYX) from ``(n, 4)`` quaternions ``w, x, y, z``; yaw in [0, 360)."""
    q = np.asarray(q, dtype=np.float64)
    w, x, y, z = q[:, 0], q[:, 1], q[:, 2], q[:, 3]
    roll = np.arctan2(2 * (w * x + y * z), 1 - 2 * (x * x + y * y))
    pitch = np.arcsin(np.clip(2 * (w * y - z * x), -1.0, 1.0))
    yaw = np.arctan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))
    return np.degrees(roll), np.degrees(pitch), np.mod(np.degrees(yaw), 360.0)
