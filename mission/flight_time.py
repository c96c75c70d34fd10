"""Flight-time estimate for a multicopter flying straight legs between waypoints.

Each leg is flown with a trapezoidal speed profile (ArduCopter's WPNAV_ACCEL, default 2.5 m/s^2):
the vehicle accelerates from the speed it may carry through the previous corner, cruises, and
brakes for the next corner. The speed through a corner falls with the turn angle (full speed when
straight on, a stop at 90 degrees or more), as ArduCopter's waypoint navigation does without splines.
Climbs and descents are limited by their own rates (WPNAV_SPEED_UP/DN).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["VehicleLimits", "leg_times", "path_time"]


@dataclass(frozen=True)
class VehicleLimits:
    """Multicopter limits used by the estimate (ArduCopter defaults)."""

    cruise_m_s: float = 10.0  # WPNAV_SPEED 1000 cm/s
    accel_m_s2: float = 2.5  # WPNAV_ACCEL 250 cm/s/s
    climb_m_s: float = 2.5  # WPNAV_SPEED_UP
    descent_m_s: float = 1.5  # WPNAV_SPEED_DN
    land_m_s: float = 0.5  # LAND_SPEED, final 10 m


def leg_times(length: np.ndarray, v_in: np.ndarray, v_out: np.ndarray, v_max: float, accel: float) -> np.ndarray:
    """Time to fly each leg of ``length`` entering at ``v_in`` and leaving at ``v_out`` (vectorised)."""
    length = np.asarray(length, dtype=float)
    v_in = np.minimum(np.asarray(v_in, dtype=float), v_max)
    v_out = np.minimum(np.asarray(v_out, dtype=float), v_max)
    d_acc = (v_max**2 - v_in**2) / (2 * accel)
    d_dec = (v_max**2 - v_out**2) / (2 * accel)
    cruise = length - d_acc - d_dec
    t_full = (v_max - v_in) / accel + (v_max - v_out) / accel + np.maximum(cruise, 0) / v_max
    # Too short to reach cruise speed: peak speed from v^2 = v_in^2 + 2 a x = v_out^2 + 2 a (L - x).
    v_peak = np.sqrt(np.maximum((2 * accel * length + v_in**2 + v_out**2) / 2, 0))
    v_peak = np.maximum(v_peak, np.maximum(v_in, v_out))
    t_short = (v_peak - v_in) / accel + (v_peak - v_out) / accel
    return np.where(cruise >= 0, t_full, t_short)


def path_time(xy: np.ndarray, speed: float | np.ndarray, limits: VehicleLimits = VehicleLimits(),
              stop_at: np.ndarray | None = None) -> float:
    """Seconds to fly the horizontal polyline ``xy`` (N, 2) from a standstill to a standstill.

    ``speed`` is the cruise speed (scalar, or one per leg); ``stop_at`` marks vertices where the
    vehicle must stop (e.g. hover-and-capture points).
    """
    xy = np.asarray(xy, dtype=float)
    if len(xy) < 2:
        return 0.0
    seg = np.diff(xy, axis=0)
    length = np.hypot(seg[:, 0], seg[:, 1])
    keep = length > 1e-6
    seg, length = seg[keep], length[keep]
    speeds = np.broadcast_to(np.asarray(speed, dtype=float), keep.shape)[keep]
    if length.size == 0:
        return 0.0
    unit = seg / length[:, None]
    cos_turn = np.clip(np.sum(unit[:-1] * unit[1:], axis=1), -1, 1)
    corner = np.minimum(speeds[:-1], speeds[1:]) * np.clip(cos_turn, 0, 1) ** 2
    if stop_at is not None:
        interior = np.asarray(stop_at, dtype=bool)[1:-1][keep[1:]] if len(stop_at) == len(xy) else None
        if interior is not None and interior.size == corner.size:
            corner = np.where(interior, 0.0, corner)
    v_in = np.concatenate([[0.0], corner])
    v_out = np.concatenate([corner, [0.0]])
    # Per-leg cruise speed: compute legs grouped by speed (usually one or two distinct values).
    total = 0.0
    for v in np.unique(speeds):
        m = speeds == v
        total += float(leg_times(length[m], v_in[m], v_out[m], float(v), limits.accel_m_s2).sum())
    return total
