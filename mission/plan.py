"""Plan: the one model of a mission, from planner to file to vehicle.

A :class:`Plan` holds what the vehicle flies (ordered :class:`MissionItem` s, exactly as they go
over MAVLink), the planned home, the geofence and the rally points, plus what the planner knew
(:class:`PlanMeta`: camera, GSD, overlaps, altitude mode, the surveyed area) and what it measured
(:class:`PlanStats`). File formats read and write plans; the link uploads them; the SITL flies them.

The mission list never contains ArduPilot's "item 0 = home": formats and the link add it where the
protocol or file needs it, and strip it when reading.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from mission.commands import Cmd, Frame, is_positional

__all__ = [
    "Fence",
    "FenceCircle",
    "FencePolygon",
    "Home",
    "MissionItem",
    "Plan",
    "PlanMeta",
    "PlanStats",
    "RallyPoint",
]


@dataclass(frozen=True, slots=True)
class MissionItem:
    """One MAVLink mission item.

    ``x``/``y``/``z`` are latitude (deg), longitude (deg) and altitude (m, in ``frame``) for
    positional commands, and params 5-7 for the others (as MISSION_ITEM carries them). ``params``
    are params 1-4; NaN means "unset / keep current" (e.g. yaw of a waypoint).
    """

    command: int
    frame: int = Frame.GLOBAL_RELATIVE_ALT
    params: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    x: float = 0.0
    y: float = 0.0
    z: float = 0.0
    autocontinue: bool = True

    @property
    def is_positional(self) -> bool:
        return is_positional(self.command)

    @property
    def lat(self) -> float:
        return self.x

    @property
    def lon(self) -> float:
        return self.y

    @property
    def alt(self) -> float:
        return self.z

    @classmethod
    def waypoint(cls, lat: float, lon: float, alt: float, *, hold_s: float = 0.0, yaw_deg: float = math.nan,
                 frame: int = Frame.GLOBAL_RELATIVE_ALT) -> MissionItem:
        """A pass-through waypoint or, with ``hold_s``, a hover point; ``yaw_deg`` NaN = face the track."""
        return cls(Cmd.NAV_WAYPOINT, frame, (hold_s, 0.0, 0.0, yaw_deg), lat, lon, alt)

    @classmethod
    def takeoff(cls, alt: float, lat: float = 0.0, lon: float = 0.0,
                frame: int = Frame.GLOBAL_RELATIVE_ALT) -> MissionItem:
        """Climb to ``alt`` where the vehicle stands (lat/lon 0 = current position, as ArduPilot)."""
        return cls(Cmd.NAV_TAKEOFF, frame, (0.0, 0.0, 0.0, math.nan), lat, lon, alt)

    @classmethod
    def return_to_launch(cls) -> MissionItem:
        return cls(Cmd.NAV_RETURN_TO_LAUNCH, Frame.MISSION)

    @classmethod
    def change_speed(cls, ground_speed_m_s: float) -> MissionItem:
        """DO_CHANGE_SPEED: p1 = 1 (ground speed), p2 = speed, p3 = -1 (throttle unchanged)."""
        return cls(Cmd.DO_CHANGE_SPEED, Frame.MISSION, (1.0, ground_speed_m_s, -1.0, 0.0))

    @classmethod
    def trigger_distance(cls, distance_m: float, *, shoot_now: bool = True) -> MissionItem:
        """DO_SET_CAM_TRIGG_DIST: shoot every ``distance_m`` (0 stops); p3 = 1 fires once now."""
        return cls(Cmd.DO_SET_CAM_TRIGG_DIST, Frame.MISSION,
                   (distance_m, 0.0, 1.0 if shoot_now and distance_m > 0 else 0.0, 0.0))

    @classmethod
    def shoot(cls) -> MissionItem:
        """DO_DIGICAM_CONTROL with p5 = 1: take one photo now."""
        return cls(Cmd.DO_DIGICAM_CONTROL, Frame.MISSION, (0.0, 0.0, 0.0, 0.0), 1.0, 0.0, 0.0)


@dataclass(frozen=True, slots=True)
class Home:
    """Planned home / take-off point. ``alt_amsl`` may be NaN when unknown (vehicle sets it)."""

    lat: float
    lon: float
    alt_amsl: float = math.nan


@dataclass(frozen=True, slots=True)
class FencePolygon:
    """A geofence polygon as (lat, lon) vertices, not closed; inclusion = stay inside."""

    points: tuple[tuple[float, float], ...]
    inclusion: bool = True


@dataclass(frozen=True, slots=True)
class FenceCircle:
    center: tuple[float, float]
    radius_m: float
    inclusion: bool = True


@dataclass(slots=True)
class Fence:
    polygons: list[FencePolygon] = field(default_factory=list)
    circles: list[FenceCircle] = field(default_factory=list)
    return_point: tuple[float, float, float] | None = None

    def __bool__(self) -> bool:
        return bool(self.polygons or self.circles or self.return_point)


@dataclass(frozen=True, slots=True)
class RallyPoint:
    """A safe landing/loiter point; ``alt`` is relative to home."""

    lat: float
    lon: float
    alt: float


@dataclass(slots=True)
class PlanMeta:
    """What the planner knew. Readers fill what their format carries and leave the rest None.

    ``area`` and ``nofly`` are GeoJSON geometries in WGS84 lon/lat (the surveyed area and the
    no-fly zones), so a coverage check can run on a plan read back from a file.
    """

    pattern: str | None = None
    camera_id: str | None = None
    camera_name: str | None = None
    altitude_m: float | None = None
    altitude_mode: str = "relative"
    gsd_m: float | None = None
    front_overlap: float | None = None
    side_overlap: float | None = None
    orientation: str | None = None
    angle_deg: float | None = None
    speed_m_s: float | None = None
    trigger: str | None = None
    turnaround_m: float | None = None
    margin_m: tuple[float, float] | None = None
    area: dict | None = None
    nofly: dict | None = None


@dataclass(slots=True)
class PlanStats:
    """What the planner measured on its own plan."""

    distance_m: float = 0.0
    flight_time_s: float = 0.0
    photo_count: int = 0
    area_m2: float = 0.0
    gsd_across_m: float = math.nan
    gsd_along_m: float = math.nan
    lines: int = 0
    segments: int = 0
    turns: int = 0
    line_spacing_m: float = math.nan
    trigger_distance_m: float = math.nan
    planning_time_s: float = 0.0


@dataclass(slots=True)
class Plan:
    """A mission plan: items + home + fence + rally, with metadata and statistics."""

    items: list[MissionItem] = field(default_factory=list)
    home: Home | None = None
    fence: Fence = field(default_factory=Fence)
    rally: list[RallyPoint] = field(default_factory=list)
    meta: PlanMeta = field(default_factory=PlanMeta)
    stats: PlanStats | None = None
    warnings: list[str] = field(default_factory=list)

    def positional_items(self) -> list[MissionItem]:
        """The items with a position, in mission order."""
        return [it for it in self.items if it.is_positional]

    def with_items(self, items: list[MissionItem]) -> Plan:
        """A copy with other mission items (metadata kept, statistics dropped)."""
        return replace(self, items=list(items), stats=None)
