"""Put a :class:`~mission.plan.Plan` on a vehicle and read it back: mission, fence and rally.

Upload sends the three plans, then downloads each and compares it item by item: the result is
"verified" or names the first difference. When a transfer fails part-way, the vehicle's plan is
re-read and reported, never assumed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from mission.commands import Cmd, Frame
from mission.plan import Home, MissionItem, Plan
from mission.plan_items import fence_to_items, rally_to_items, split_fence_rally
from skyscan.errors import LinkError
from telemetry.link import Link
from telemetry.mission_protocol import (
    MISSION_TYPES,
    MissionTransferError,
    Progress,
    TransferStats,
    compare,
    download,
    upload,
)

__all__ = ["UploadReport", "download_plan", "mission_items", "upload_plan"]


@dataclass
class UploadReport:
    """What an upload did: per plan type, the items sent, the transfer statistics and the verification."""

    counts: dict[str, int] = field(default_factory=dict)
    stats: dict[str, TransferStats] = field(default_factory=dict)
    verified: bool = False
    difference: str | None = None

    @property
    def seconds(self) -> float:
        return sum(s.seconds for s in self.stats.values())


def mission_items(link: Link, plan: Plan) -> list[MissionItem]:
    """The mission as the vehicle stores it: ArduPilot wants item 0 = home (a placeholder it overwrites)."""
    if link.vehicle is not None and not link.vehicle.is_ardupilot:
        return list(plan.items)
    home = plan.home or Home(0.0, 0.0)
    alt = home.alt_amsl if math.isfinite(home.alt_amsl) else 0.0
    return [MissionItem(Cmd.NAV_WAYPOINT, Frame.GLOBAL, (0, 0, 0, 0), home.lat, home.lon, alt), *plan.items]


def _plans(link: Link, plan: Plan) -> dict[str, list[MissionItem]]:
    return {"mission": mission_items(link, plan), "fence": fence_to_items(plan.fence),
            "rally": rally_to_items(plan.rally)}


def upload_plan(link: Link, plan: Plan, *, verify: bool = True, timeout: float = 1.5, retries: int = 5,
                progress: Callable[[str, int, int], None] | None = None) -> UploadReport:
    """Upload mission, fence and rally; with ``verify``, read each back and compare.

    Raises MissionTransferError (a LinkError) when the vehicle refuses an item or stops answering;
    its message then says what the vehicle holds now, as re-read from it.
    """
    report = UploadReport()
    skip_home = link.vehicle is None or link.vehicle.is_ardupilot
    for kind, items in _plans(link, plan).items():
        mtype = MISSION_TYPES[kind]
        if kind != "mission" and not items:
            continue  # no fence / rally in the plan: leave the vehicle's as they are
        report.counts[kind] = len(items)
        cb: Progress | None = (lambda done, total, k=kind: progress(k, done, total)) if progress else None
        try:
            report.stats[kind] = upload(link, items, mtype, timeout=timeout, retries=retries, progress=cb)
        except MissionTransferError as exc:
            # Never assume what the vehicle holds after a failure: read it back. Silence at the very
            # end may only be a lost final ACK, and then the vehicle's copy is the one we sent.
            got = _reread(link, mtype)
            if exc.result is None and got is not None and \
                    compare(items, got, skip_first=kind == "mission" and skip_home) is None:
                report.stats[kind] = TransferStats(seconds=float("nan"))
                continue
            holds = (f"the vehicle's {kind} could not be read back: treat it as unknown and upload again"
                     if got is None else f"the vehicle now holds a {kind} of {len(got)} items (re-read from it)")
            raise MissionTransferError(f"{exc}; {holds}", exc.result, exc.seq) from None
        if verify:
            got = download(link, mtype, timeout=timeout, retries=retries)
            diff = compare(items, got, skip_first=kind == "mission" and skip_home)
            if diff:
                report.difference = f"{kind}: {diff}"
                return report
    report.verified = verify
    return report


def _reread(link: Link, mtype: int) -> list[MissionItem] | None:
    try:
        return download(link, mtype, timeout=2.0, retries=3)
    except LinkError:
        return None


def download_plan(link: Link, *, timeout: float = 1.5, retries: int = 5) -> Plan:
    """The vehicle's mission, fence and rally as a Plan (ArduPilot's item 0 becomes the home)."""
    items = download(link, MISSION_TYPES["mission"], timeout=timeout, retries=retries)
    home = None
    if (link.vehicle is None or link.vehicle.is_ardupilot) and items:
        h = items.pop(0)
        home = Home(h.x, h.y, h.z)
    extra = []
    for kind in ("fence", "rally"):
        extra += download(link, MISSION_TYPES[kind], timeout=timeout, retries=retries)
    _, fence, rally = split_fence_rally(extra, f"vehicle {link.target_system}")
    return Plan(items=items, home=home, fence=fence, rally=rally)
