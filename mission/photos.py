"""Planned photos: where a plan's camera commands fire, and what each photo sees on the ground.

The mission items are walked the way an ArduPilot vehicle executes them: straight legs between
positional items; ``DO_SET_CAM_TRIGG_DIST`` (p1 = distance, 0 stops; p3 = 1 fires once now) fires
every ``distance`` metres flown; ``DO_DIGICAM_CONTROL`` (p5 = 1) and ``IMAGE_START_CAPTURE`` with a
count of 1 fire once where the vehicle is. A photo's heading is the yaw the last waypoint commands
(param 4) or else the direction of flight (for a shot taken at a standstill: of the leg that
follows it). Legs after ``NAV_RETURN_TO_LAUNCH``/``NAV_LAND`` take no
photos and ``DO_JUMP`` loops are not unrolled. The same rules drive the simulated camera.

Footprints are nadir rectangles over flat ground at the home level (or at the height given by a
terrain-frame altitude); terrain-aware footprints come with a DEM.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mission.commands import Cmd, Frame
from mission.frame import LocalFrame
from mission.plan import Plan
from sensors.camera import Camera, Orientation

__all__ = ["PlannedPhotos", "planned_photos"]


@dataclass(frozen=True)
class PlannedPhotos:
    """Planned photo positions in a local metric frame.

    ``x``, ``y`` in metres (``frame``), ``agl`` height above the ground in metres, ``heading`` the
    direction of flight in degrees clockwise from grid north.
    """

    frame: LocalFrame
    x: np.ndarray
    y: np.ndarray
    agl: np.ndarray
    heading: np.ndarray

    def __len__(self) -> int:
        return int(self.x.size)

    def lonlat(self) -> tuple[np.ndarray, np.ndarray]:
        return self.frame.to_lonlat(self.x, self.y)

    def footprints(self, camera: Camera, orientation: Orientation = Orientation.LANDSCAPE) -> np.ndarray:
        """Corners of each nadir footprint, shape (N, 4, 2), in local metres (counter-clockwise)."""
        across_pitch, along_pitch = camera._pitches(orientation)
        n_across, n_along = camera._pixels(orientation)
        f = camera.focal_length_mm
        half_across = 0.5 * self.agl * across_pitch * n_across / f
        half_along = 0.5 * self.agl * along_pitch * n_along / f
        h = np.radians(self.heading)
        # Unit vectors along track (heading) and across track (to the right of it).
        ux, uy = np.sin(h), np.cos(h)
        rx, ry = np.cos(h), -np.sin(h)
        signs = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], dtype=float)  # (across, along)
        sa = signs[None, :, 0] * half_across[:, None]
        sl = signs[None, :, 1] * half_along[:, None]
        cx = self.x[:, None] + sa * rx[:, None] + sl * ux[:, None]
        cy = self.y[:, None] + sa * ry[:, None] + sl * uy[:, None]
        # (right, along) is a right-handed basis, so this corner order is counter-clockwise.
        return np.stack([cx, cy], axis=-1)


def planned_photos(plan: Plan, frame: LocalFrame | None = None) -> PlannedPhotos:
    """Walk ``plan.items`` and return where its camera commands take photos."""
    positions = [it for it in plan.items if it.is_positional and (it.x or it.y)]
    if frame is None:
        if plan.home is not None:
            frame = LocalFrame.around(plan.home.lon, plan.home.lat)
        elif positions:
            frame = LocalFrame.around(positions[0].y, positions[0].x)
        else:
            frame = LocalFrame(32631)
    home_amsl = plan.home.alt_amsl if plan.home is not None else math.nan

    def agl_of(item) -> float:
        if item.frame in (Frame.GLOBAL, Frame.GLOBAL_INT):
            return item.z - home_amsl if math.isfinite(home_amsl) else math.nan
        return item.z  # relative to home (flat ground assumed) or terrain frame

    if plan.home is not None:
        px, py = (float(v) for v in frame.to_local(plan.home.lon, plan.home.lat))
    elif positions:
        px, py = (float(v) for v in frame.to_local(positions[0].y, positions[0].x))
    else:
        px, py = 0.0, 0.0
    pz = 0.0
    heading = 0.0
    spacing = 0.0  # active trigger distance, 0 = off
    since = 0.0  # metres flown since the last distance-triggered photo
    out_x: list[np.ndarray] = []
    out_y: list[np.ndarray] = []
    out_z: list[np.ndarray] = []
    out_h: list[np.ndarray] = []

    yaw = math.nan  # yaw commanded by the last waypoint (param 4), NaN = face the direction of flight
    pending: list[np.ndarray] = []  # single shots waiting for the heading of the next leg

    def shoot_here() -> None:
        out_x.append(np.array([px]))
        out_y.append(np.array([py]))
        out_z.append(np.array([pz]))
        out_h.append(np.array([yaw if math.isfinite(yaw) else heading]))
        if not math.isfinite(yaw):
            pending.append(out_h[-1])

    for item in plan.items:
        cmd = item.command
        if cmd in (Cmd.NAV_RETURN_TO_LAUNCH, Cmd.NAV_LAND):
            break
        if cmd == Cmd.NAV_TAKEOFF:
            pz = agl_of(item)
            continue
        if item.is_positional:
            tz = agl_of(item)
            if item.x or item.y:
                tx, ty = (float(v) for v in frame.to_local(item.y, item.x))
            else:
                tx, ty = px, py
            length = math.hypot(tx - px, ty - py)
            yaw = float(item.params[3]) % 360.0 if math.isfinite(item.params[3]) else math.nan
            if length > 1e-9:
                heading = math.degrees(math.atan2(tx - px, ty - py)) % 360.0
                for h in pending:  # a shot before a leg looks the way the vehicle is about to fly
                    h[:] = heading
                pending.clear()
                if spacing > 0:
                    # Photos at distances spacing - since, 2*spacing - since, ... along this leg.
                    first = spacing - since
                    s = np.arange(first, length + 1e-9, spacing)
                    if s.size:
                        t = s / length
                        out_x.append(px + t * (tx - px))
                        out_y.append(py + t * (ty - py))
                        out_z.append(pz + t * (tz - pz))
                        out_h.append(np.full(s.size, heading))
                        since = length - s[-1]
                    else:
                        since += length
            px, py, pz = tx, ty, tz
        elif cmd == Cmd.DO_SET_CAM_TRIGG_DIST:
            spacing = max(float(item.params[0]), 0.0)
            since = 0.0
            if spacing > 0 and item.params[2] == 1:
                shoot_here()
        elif (cmd == Cmd.DO_DIGICAM_CONTROL and item.x == 1) or (
            cmd == Cmd.IMAGE_START_CAPTURE and item.params[2] == 1
        ):
            shoot_here()

    def cat(parts: list[np.ndarray]) -> np.ndarray:
        return np.concatenate(parts) if parts else np.empty(0)

    return PlannedPhotos(frame, cat(out_x), cat(out_y), cat(out_z), cat(out_h))
