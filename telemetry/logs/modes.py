"""Flight-mode names and mode spans (which mode, from when to when) for every log format.

ArduPilot numbers its modes per vehicle family (Copter 3 = AUTO, Plane 10 = AUTO); the tables are
pymavlink's (``mavutil.mode_mapping_*``). PX4 encodes its mode in HEARTBEAT ``custom_mode`` (decoded by
pymavlink's ``interpret_px4_mode``) and logs ``vehicle_status.nav_state`` in ULog.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache

import numpy as np

__all__ = ["ModeSpan", "mode_names", "mode_spans", "px4_custom_mode_name", "px4_nav_state_name"]

# MAV_TYPE for the vehicle families named in ArduPilot firmware banners
_FAMILY_TYPE = {"copter": 2, "plane": 1, "rover": 10, "sub": 12, "tracker": 5, "blimp": 7}

# PX4 vehicle_status.nav_state (msg/VehicleStatus.msg)
_PX4_NAV_STATE = {
    0: "MANUAL", 1: "ALTCTL", 2: "POSCTL", 3: "AUTO_MISSION", 4: "AUTO_LOITER", 5: "AUTO_RTL",
    6: "POSITION_SLOW", 7: "FREE5", 8: "FREE4", 9: "FREE3", 10: "ACRO", 11: "FREE2", 12: "DESCEND",
    13: "TERMINATION", 14: "OFFBOARD", 15: "STAB", 16: "FREE1", 17: "AUTO_TAKEOFF", 18: "AUTO_LAND",
    19: "AUTO_FOLLOW_TARGET", 20: "AUTO_PRECLAND", 21: "ORBIT", 22: "AUTO_VTOL_TAKEOFF",
}


@dataclass(frozen=True)
class ModeSpan:
    """One stretch of flight in one mode (times on the log's clock)."""

    name: str
    start: float
    end: float

    @property
    def duration(self) -> float:
        """Seconds spent in the mode."""
        return self.end - self.start


@cache
def _mavutil():
    """pymavlink's mavutil, imported on first use (it takes ~0.3 s; reading a log does not need it)."""
    os.environ["MAVLINK20"] = "1"  # as telemetry.link: pymavlink reads it once, at import
    from pymavlink import mavutil

    return mavutil


def mode_names(family: str = "", mav_type: int | None = None) -> dict[int, str]:
    """ArduPilot mode number -> name for a vehicle family ('copter', 'plane', ...) or a MAV_TYPE."""
    if mav_type is None:
        mav_type = _FAMILY_TYPE.get(family)
    table = _mavutil().mode_mapping_bynumber(mav_type) if mav_type is not None else None
    return dict(table or {})


def px4_nav_state_name(state: int) -> str:
    """Name of a PX4 ``vehicle_status.nav_state`` value (ULog)."""
    return _PX4_NAV_STATE.get(int(state), f"NAV_STATE_{int(state)}")


def px4_custom_mode_name(custom_mode: int) -> str:
    """Name of a PX4 HEARTBEAT ``custom_mode`` (main mode << 16 | sub mode << 24)."""
    return _mavutil().interpret_px4_mode(0, int(custom_mode))


def mode_spans(times: np.ndarray, codes: np.ndarray, names: list[str] | dict[int, str], end_time: float
               ) -> list[ModeSpan]:
    """Spans where ``codes`` stays the same (one entry per change, not per message)."""
    times = np.asarray(times, dtype=np.float64)
    codes = np.asarray(codes)
    if codes.size == 0:
        return []
    change = np.flatnonzero(np.concatenate([[True], codes[1:] != codes[:-1]]))
    starts = times[change]
    ends = np.append(starts[1:], max(end_time, float(starts[-1])))
    out = []
    for i, s, e in zip(change.tolist(), starts.tolist(), ends.tolist(), strict=True):
        code = codes[i].item()
        label = names[i] if isinstance(names, list) else names.get(code, f"MODE_{code}")
        out.append(ModeSpan(label, s, e))
    return out
