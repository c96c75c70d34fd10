"""Camera triggers: when the simulated autopilot fires the camera, and what each trigger records.

Three sources fire the camera, as in ArduPilot's AP_Camera: a distance trigger
(DO_SET_CAM_TRIGG_DIST / CAM_TRIGG_DIST: every ``distance`` metres flown), a time-lapse
(IMAGE_START_CAPTURE / DO_SET_CAM_TRIGG_INTERVAL: every ``interval`` seconds, optionally a fixed
count) and single shots (DO_DIGICAM_CONTROL, DO_SET_CAM_TRIGG_DIST p3 = 1). Distance and time
triggers are located *inside* a physics step (as a fraction of it), so the photos fall exactly on
multiples of the distance along the flown path, whatever the step length.

The distance is the horizontal path length flown since the last distance trigger, the rule skyscan's
planner (mission/photos.py) uses. ArduPilot measures the straight-line distance from the last trigger
position instead; the two agree along a straight survey line.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = ["CameraTriggers", "TriggerEvent"]


@dataclass(frozen=True, slots=True)
class TriggerEvent:
    """One camera trigger with the true pose at that instant.

    ``roll``/``pitch``/``yaw`` are the vehicle's attitude (deg; yaw 0-360 clockwise from true north).
    The gimbal angles are in the earth frame, as a stabilised gimbal holds them: ``gimbal_pitch``
    -90 = nadir, 0 = horizon; ``gimbal_roll`` 0 = level; ``gimbal_yaw`` the compass heading the camera
    looks along (0-360). ``source`` says what fired it: "distance", "interval" or "single".
    """

    index: int  # img_idx, counting from 1
    sim_time_s: float  # seconds since SITL boot
    time_unix_us: int  # simulated UTC
    lat: float
    lon: float
    alt_msl: float
    alt_rel: float  # above home
    roll: float
    pitch: float
    yaw: float
    gimbal_pitch: float
    gimbal_roll: float
    gimbal_yaw: float
    source: str

    @property
    def time_utc(self) -> datetime:
        """The simulated UTC time of the trigger."""
        return datetime.fromtimestamp(self.time_unix_us / 1e6, tz=UTC)


class CameraTriggers:
    """Distance and time-lapse trigger state; reports where in a step the camera fires."""

    __slots__ = ("_interval_next", "_since_m", "count", "distance_m", "interval_remaining", "interval_s")

    def __init__(self) -> None:
        self.distance_m = 0.0
        self._since_m = 0.0
        self.interval_s = 0.0
        self.interval_remaining: int | None = None  # None = no limit
        self._interval_next = math.inf
        self.count = 0  # images taken so far

    def set_distance(self, distance_m: float) -> None:
        """Fire every ``distance_m`` metres from here on (0 stops)."""
        self.distance_m = max(0.0, distance_m)
        self._since_m = 0.0

    def start_interval(self, interval_s: float, count: int, now: float) -> bool:
        """Time-lapse from ``now``: first photo immediately, then every ``interval_s`` (count 0 = no limit).

        Returns False (nothing started) for a non-positive interval with a count other than 1.
        """
        if count == 1:
            interval_s = max(interval_s, 1.0)
        elif interval_s <= 0:
            return False
        self.interval_s = interval_s
        self.interval_remaining = count if count > 0 else None
        self._interval_next = now
        return True

    def stop_interval(self) -> None:
        self.interval_s = 0.0
        self.interval_remaining = None
        self._interval_next = math.inf

    def due(self, path0: float, path1: float, t0: float, t1: float, distance_enabled: bool) -> list[tuple[float, str]]:
        """Triggers inside the step from (``path0``, ``t0``) to (``path1``, ``t1``), as (fraction, source).

        Fractions are in (0, 1] and sorted; the caller interpolates the pose at each.
        """
        out: list[tuple[float, str]] = []
        if self.distance_m > 0.0 and distance_enabled:
            seg = path1 - path0
            if seg > 0.0:
                need = self.distance_m - self._since_m
                if need <= seg:
                    s = need
                    while s <= seg + 1e-12:
                        out.append((max(s / seg, 1e-9), "distance"))
                        last = s
                        s += self.distance_m
                    self._since_m = seg - last
                else:
                    self._since_m += seg
        if self._interval_next <= t1:
            span = t1 - t0
            while self._interval_next <= t1 and self.interval_s > 0.0:
                frac = (self._interval_next - t0) / span if span > 0 else 1.0
                out.append((min(1.0, max(frac, 1e-9)), "interval"))
                self._interval_next += self.interval_s
                if self.interval_remaining is not None:
                    self.interval_remaining -= 1
                    if self.interval_remaining <= 0:
                        self.stop_interval()
                        break
            out.sort()
        return out
