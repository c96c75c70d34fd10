"""Fly a plan end to end: upload and verify, arm, start, follow the flight to landing."""

from __future__ import annotations

from collections.abc import Callable

from mission.plan import Plan
from skyscan.errors import LinkError
from telemetry import commands
from telemetry.link import Link
from telemetry.monitor import FlightState, monitor
from telemetry.plan_transfer import UploadReport, upload_plan

__all__ = ["fly", "start_mission", "upload_verified"]


def upload_verified(link: Link, plan: Plan, progress: Callable[[str, int, int], None] | None = None,
                    timeout: float = 1.5) -> UploadReport:
    """Upload mission, fence and rally and verify them; raise LinkError unless the vehicle holds the plan."""
    report = upload_plan(link, plan, verify=True, timeout=timeout, progress=progress)
    if not report.verified:
        raise LinkError(f"the vehicle does not hold the plan as sent: {report.difference}; it was not flown")
    return report


def start_mission(link: Link, ready_timeout: float = 60.0) -> None:
    """GUIDED, arm (both waiting out the checks that fail while GPS/EKF settle), MISSION_START:
    ArduCopter then switches to AUTO and takes off."""
    commands.set_mode(link, "GUIDED", ready_timeout=ready_timeout)
    commands.arm(link, timeout=ready_timeout)
    commands.mission_start(link)


def fly(link: Link, plan: Plan, *, on_update: Callable[[FlightState], None] | None = None,
        progress: Callable[[str, int, int], None] | None = None, timeout: float = 7200.0) -> FlightState:
    """Upload and verify ``plan``, start it and follow the flight until landed and disarmed."""
    upload_verified(link, plan, progress)
    state = FlightState(total=len(plan.items) + 1)
    start_mission(link)
    return monitor(link, state, timeout=timeout, on_update=on_update)
