"""Flight monitor: the state of a flying mission, kept up to date from the vehicle's messages.

:class:`FlightState` folds HEARTBEAT, MISSION_CURRENT, MISSION_ITEM_REACHED, GLOBAL_POSITION_INT,
VFR_HUD, NAV_CONTROLLER_OUTPUT, SYS_STATUS/BATTERY_STATUS, CAMERA_FEEDBACK and STATUSTEXT into one
snapshot; :func:`monitor` reads the link until the vehicle has flown, landed and disarmed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from skyscan.errors import LinkTimeout
from telemetry.commands import mode_name
from telemetry.link import Link, mavlink

__all__ = ["FlightState", "monitor"]


@dataclass
class FlightState:
    """A snapshot of the flight. Distances in metres, speeds in m/s, battery in % and volts."""

    mode: str = "?"
    armed: bool = False
    was_armed: bool = False
    current: int = 0
    total: int = 0
    reached: list[int] = field(default_factory=list)
    wp_distance: float = math.nan
    lat: float = math.nan
    lon: float = math.nan
    alt_rel: float = math.nan
    ground_speed: float = math.nan
    battery_pct: float = math.nan
    battery_v: float = math.nan
    photos: int = 0
    warnings: list[str] = field(default_factory=list)
    messages: int = 0
    last_heard: float = field(default_factory=time.monotonic)

    @property
    def landed(self) -> bool:
        return self.was_armed and not self.armed

    def update(self, msg, link: Link) -> None:
        """Fold one vehicle message into the state."""
        self.messages += 1
        self.last_heard = time.monotonic()
        kind = msg.get_type()
        if kind == "HEARTBEAT":
            self.armed = bool(msg.base_mode & mavlink.MAV_MODE_FLAG_SAFETY_ARMED)
            self.was_armed |= self.armed
            self.mode = mode_name(link, msg.custom_mode)
        elif kind == "MISSION_CURRENT":
            self.current = msg.seq
            self.total = getattr(msg, "total", 0) or self.total
        elif kind == "MISSION_ITEM_REACHED":
            self.reached.append(msg.seq)
        elif kind == "GLOBAL_POSITION_INT":
            self.lat, self.lon, self.alt_rel = msg.lat / 1e7, msg.lon / 1e7, msg.relative_alt / 1000
        elif kind == "VFR_HUD":
            self.ground_speed = msg.groundspeed
        elif kind == "NAV_CONTROLLER_OUTPUT":
            self.wp_distance = float(msg.wp_dist)
        elif kind == "SYS_STATUS":
            self.battery_v = msg.voltage_battery / 1000 if msg.voltage_battery != 65535 else math.nan
            self.battery_pct = msg.battery_remaining if msg.battery_remaining >= 0 else math.nan
        elif kind == "BATTERY_STATUS" and msg.battery_remaining >= 0:
            self.battery_pct = msg.battery_remaining
        elif kind == "CAMERA_FEEDBACK":
            self.photos += 1
        elif kind == "STATUSTEXT" and msg.severity <= mavlink.MAV_SEVERITY_WARNING:
            self.warnings.append(msg.text)


def monitor(link: Link, state: FlightState | None = None, *, timeout: float = 3600.0, lost_after: float = 10.0,
            on_update: Callable[[FlightState], None] | None = None, every: float = 0.25) -> FlightState:
    """Follow the flight until the vehicle, having been armed, is disarmed again (landed).

    Calls ``on_update`` at most every ``every`` seconds. Raises LinkTimeout when nothing is heard
    for ``lost_after`` seconds or the flight outlasts ``timeout``.
    """
    state = state or FlightState()
    deadline = time.monotonic() + timeout
    next_beat = next_show = 0.0
    while not state.landed:
        now = time.monotonic()
        if now > deadline:
            raise LinkTimeout(f"the flight did not end within {timeout:g} s")
        if now - state.last_heard > lost_after:
            raise LinkTimeout(f"link lost: nothing heard from the vehicle for {lost_after:g} s "
                              f"(last position {state.lat:.6f}, {state.lon:.6f}, {state.alt_rel:.0f} m)")
        if now >= next_beat:
            link.heartbeat()
            next_beat = now + 1.0
        msg = link.poll(0.1)
        if msg is not None:
            state.update(msg, link)
        if on_update is not None and now >= next_show:
            on_update(state)
            next_show = now + every
    if on_update is not None:
        on_update(state)
    return state
