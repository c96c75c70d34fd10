"""The mission protocol (upload, download, clear) for one plan type, with ArduPilot's behaviour.

One :class:`PlanTransfer` serves each of mission, fence and rally. It follows ArduPilot's
``MissionItemProtocol``: the vehicle requests items in order (with the legacy MISSION_REQUEST by
default, as ArduPilot does), re-requests the expected item after 1000 ms without an answer, answers an
out-of-order item with a non-final MISSION_ACK INVALID_SEQUENCE and keeps waiting for the expected
one, cancels after 8000 ms of silence (ACK OPERATION_CANCELLED), lets the uploading GCS restart with a
new MISSION_COUNT and DENIES a second uploader and any download while an upload runs.

Unlike ArduPilot, which overwrites its stored mission item by item (a failed upload leaves old and new
items mixed), the plan here is replaced only when the whole upload is accepted: skyscan's SITL models
the behaviour a safe vehicle should have, and the link's tests check that nothing half-uploaded is
ever flown.
"""

from __future__ import annotations

from typing import Protocol

from sitl.clock import SimClock
from sitl.items import StoredItem, validate_item
from sitl.mav import MissionResult, MissionType, mavlink
from sitl.outbox import Outbox

__all__ = ["PlanHost", "PlanTransfer"]

REREQUEST_MS = 1000  # ArduPilot: 1000 ms + stream slowdown
UPLOAD_TIMEOUT_MS = 8000  # ArduPilot's upload_timeout_ms


class PlanHost(Protocol):
    """What the transfer needs from the vehicle: the stored items and the right to replace them."""

    def plan_items(self, mission_type: int) -> list[StoredItem]:
        """Items as downloaded (for the mission: item 0 = the vehicle's home)."""
        ...

    def commit_plan(self, mission_type: int, items: list[StoredItem]) -> MissionResult:
        """Replace the stored plan with ``items`` (all of them, item 0 included for the mission)."""
        ...

    def clear_plan(self, mission_type: int) -> bool:
        """Clear the stored plan; False when the vehicle refuses (mission running in AUTO)."""
        ...


class PlanTransfer:
    """Upload/download state of one plan type."""

    def __init__(self, mission_type: MissionType, host: PlanHost, out: Outbox, clock: SimClock, max_items: int,
                 legacy_requests: bool = True):
        self.mission_type = int(mission_type)
        self.host = host
        self.out = out
        self.clock = clock
        self.max_items = max_items
        self.legacy_requests = legacy_requests
        self.receiving = False
        self._link = 0
        self._dest = (0, 0)
        self._count = 0
        self._next = 0
        self._buffer: list[StoredItem] = []
        self._last_rx_ms = 0
        self._last_request_ms = 0
        self._warned_float = False

    # -- upload ---------------------------------------------------------------------------------
    def handle_count(self, link: int, src: tuple[int, int], count: int) -> None:
        """MISSION_COUNT: start (or, from the same GCS, restart) an upload of ``count`` items."""
        if self.receiving and src != self._dest:
            self._ack(link, src, MissionResult.DENIED)
            return
        self.receiving = False
        if count > self.max_items:
            self._ack(link, src, MissionResult.NO_SPACE)
            self.out.statustext(f"Only {self.max_items} items are supported", mavlink.MAV_SEVERITY_WARNING)
            return
        if count == 0:
            self._ack(link, src, self.host.commit_plan(self.mission_type, []))
            return
        self.receiving = True
        self._link = link
        self._dest = src
        self._count = count
        self._next = 0
        self._buffer = []
        self._warned_float = False
        now = self.clock.boot_ms
        self._last_rx_ms = now
        self._request(now)

    def handle_item(self, link: int, src: tuple[int, int], seq: int, item: StoredItem, legacy: bool) -> None:
        """MISSION_ITEM_INT (``legacy`` False) or MISSION_ITEM during an upload."""
        if not self.receiving:
            return  # a late duplicate after the upload ended: nothing to do
        if seq != self._next:
            self._ack(link, src, MissionResult.INVALID_SEQUENCE)  # not final: the upload goes on
            return
        if src != self._dest:
            self._ack(link, src, MissionResult.DENIED)
            return
        if legacy and not self._warned_float:
            self._warned_float = True
            self.out.statustext("got MISSION_ITEM; GCS should send MISSION_ITEM_INT", mavlink.MAV_SEVERITY_WARNING)
        # Item 0 of a mission is the home placeholder: stored as sent, never checked or flown.
        if not (self.mission_type == MissionType.MISSION and seq == 0):
            result = validate_item(self.mission_type, item)
            if result != MissionResult.ACCEPTED:
                self.receiving = False
                self._ack(link, src, result)
                return
        self._buffer.append(item)
        self._next += 1
        now = self.clock.boot_ms
        self._last_rx_ms = now
        if self._next >= self._count:
            self.receiving = False
            items, self._buffer = self._buffer, []
            self._ack(link, src, self.host.commit_plan(self.mission_type, items))
            return
        self._request(now)

    def update(self) -> None:
        """Re-request or cancel a stalled upload (called every physics step)."""
        if not self.receiving:
            return
        now = self.clock.boot_ms
        if now - self._last_rx_ms > UPLOAD_TIMEOUT_MS:
            self.receiving = False
            self._buffer = []
            self._ack(self._link, self._dest, MissionResult.OPERATION_CANCELLED)
        elif now - self._last_request_ms > REREQUEST_MS:
            self._request(now)

    def cancel_link(self, link: int) -> None:
        """The uploading link went away: drop the upload (the stored plan is untouched)."""
        if self.receiving and self._link == link:
            self.receiving = False
            self._buffer = []

    def _request(self, now_ms: int) -> None:
        self._last_request_ms = now_ms
        sysid, compid = self._dest
        mav = self.out.mav
        if self.legacy_requests:
            msg = mav.mission_request_encode(sysid, compid, self._next, self.mission_type)
        else:
            msg = mav.mission_request_int_encode(sysid, compid, self._next, self.mission_type)
        self.out.send(msg, self._link)

    # -- download and clear -----------------------------------------------------------------------
    def handle_request_list(self, link: int, src: tuple[int, int]) -> None:
        """MISSION_REQUEST_LIST: answer with MISSION_COUNT (DENIED during an upload)."""
        if self.receiving:
            self._ack(link, src, MissionResult.DENIED)
            return
        count = len(self.host.plan_items(self.mission_type))
        self.out.send(self.out.mav.mission_count_encode(src[0], src[1], count, self.mission_type), link)

    def handle_request(self, link: int, src: tuple[int, int], seq: int, as_int: bool) -> None:
        """MISSION_REQUEST_INT (``as_int``) or MISSION_REQUEST: send the item."""
        if self.receiving:
            self._ack(link, src, MissionResult.DENIED)
            return
        items = self.host.plan_items(self.mission_type)
        if not 0 <= seq < len(items):
            self._ack(link, src, MissionResult.INVALID_SEQUENCE)
            return
        it = items[seq]
        mav = self.out.mav
        if as_int:
            msg = mav.mission_item_int_encode(src[0], src[1], seq, it.frame, it.command, 0, it.autocontinue,
                                              it.p1, it.p2, it.p3, it.p4, it.x, it.y, it.z, self.mission_type)
        else:
            x, y = it.float_xy()
            msg = mav.mission_item_encode(src[0], src[1], seq, it.frame, it.command, 0, it.autocontinue,
                                          it.p1, it.p2, it.p3, it.p4, x, y, it.z, self.mission_type)
        self.out.send(msg, link)

    def handle_clear(self, link: int, src: tuple[int, int]) -> None:
        """MISSION_CLEAR_ALL for this type: ACCEPTED, or ERROR during an upload or when refused."""
        ok = not self.receiving and self.host.clear_plan(self.mission_type)
        self._ack(link, src, MissionResult.ACCEPTED if ok else MissionResult.ERROR)

    def _ack(self, link: int, src: tuple[int, int], result: MissionResult) -> None:
        self.out.send(self.out.mav.mission_ack_encode(src[0], src[1], int(result), self.mission_type), link)
