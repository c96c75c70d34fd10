"""The MAVLink mission protocol, client side: upload, download, clear and verify missions, fences
and rally points (``mission_type`` 0/1/2), as mavlink.io specifies it and as ArduPilot behaves.

Upload: MISSION_COUNT, then answer every MISSION_REQUEST_INT *and* legacy MISSION_REQUEST (which
ArduPilot sends) with MISSION_ITEM_INT, until MISSION_ACK. Requests may repeat (the vehicle lost our
item) or go backwards; an error ACK for a bad sequence mid-transfer does not end the transfer (as
ArduPilot sends it), any other error ACK does and is reported with its MAV_MISSION_RESULT name and
the item it concerns. If nothing comes back, the last message is sent again; the transfer fails after
``timeout * (retries + 1)`` seconds of silence.

Resends are paced by the measured round-trip time, not a fixed 1.5 s (see :class:`_Pacer`): on a
lossy radio most of an upload's time is spent waiting to resend, and waiting no longer than the
link needs is what makes it fast. After a resend of item *k* that the vehicle NACKs as a duplicate,
item *k + 1* goes out at once (the vehicle's request for it was lost).

Download: MISSION_REQUEST_LIST, MISSION_COUNT, then MISSION_REQUEST_INT for each item with a window
of several requests in flight (lost items are re-requested after the paced wait), final ACK.

Verification downloads what the vehicle holds and compares it item by item the way it travels:
latitude/longitude as 1e-7 degree integers (+-1), altitude and params as float32.
"""

from __future__ import annotations

import math
import statistics
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mission.commands import Frame
from mission.plan import MissionItem
from skyscan.errors import LinkError, LinkTimeout
from telemetry.link import Link, mavlink

__all__ = [
    "MISSION_TYPES",
    "MissionTransferError",
    "TransferStats",
    "clear",
    "compare",
    "download",
    "set_current",
    "upload",
]

MISSION_TYPES = {
    "mission": mavlink.MAV_MISSION_TYPE_MISSION,
    "fence": mavlink.MAV_MISSION_TYPE_FENCE,
    "rally": mavlink.MAV_MISSION_TYPE_RALLY,
}
_TYPE_NAMES = {v: k for k, v in MISSION_TYPES.items()}
# Frames that differ only in whether lat/lon travel as ints: the same place to a vehicle.
_SAME_FRAME = {Frame.GLOBAL_INT: Frame.GLOBAL, Frame.GLOBAL_RELATIVE_ALT_INT: Frame.GLOBAL_RELATIVE_ALT,
               Frame.GLOBAL_TERRAIN_ALT_INT: Frame.GLOBAL_TERRAIN_ALT}

Progress = Callable[[int, int], None]


class MissionTransferError(LinkError):
    """A transfer the vehicle refused or that could not complete. ``result`` is the MAV_MISSION_RESULT
    (None for a timeout) and ``seq`` the item concerned (None when not about one item)."""

    def __init__(self, message: str, result: int | None = None, seq: int | None = None):
        super().__init__(message)
        self.result = result
        self.seq = seq


@dataclass
class TransferStats:
    """What a transfer cost: seconds, messages sent and received, resends."""

    seconds: float = 0.0
    sent: int = 0
    received: int = 0
    resends: int = 0


def result_name(result: int) -> str:
    entry = mavlink.enums["MAV_MISSION_RESULT"].get(result)
    return entry.name if entry else f"MAV_MISSION_RESULT {result}"


def _int_deg(value: float) -> int:
    return round(value * 1e7)


def _send_item(link: Link, seq: int, item: MissionItem, mission_type: int) -> None:
    p1, p2, p3, p4 = item.params
    # Global frames carry degrees * 1e7; MAV_FRAME_MISSION items carry params 5/6 as plain integers.
    positional = item.frame != Frame.MISSION
    x = _int_deg(item.x) if positional else round(item.x)
    y = _int_deg(item.y) if positional else round(item.y)
    link.mav.mission_item_int_send(
        link.target_system, link.target_component, seq, item.frame, item.command, 0, int(item.autocontinue),
        p1, p2, p3, p4, x, y, float(item.z), mission_type)


def _item_from_msg(msg) -> MissionItem:
    """A MissionItem from MISSION_ITEM_INT (ints) or legacy MISSION_ITEM (floats)."""
    if msg.get_type() == "MISSION_ITEM_INT":
        positional = msg.frame != Frame.MISSION
        x = msg.x / 1e7 if positional else float(msg.x)
        y = msg.y / 1e7 if positional else float(msg.y)
    else:
        x, y = float(msg.x), float(msg.y)
    return MissionItem(msg.command, msg.frame, (msg.param1, msg.param2, msg.param3, msg.param4), x, y,
                       float(msg.z), bool(msg.autocontinue))


def _is_for(msg, mission_type: int) -> bool:
    return getattr(msg, "mission_type", 0) == mission_type


def upload(link: Link, items: list[MissionItem], mission_type: int = mavlink.MAV_MISSION_TYPE_MISSION, *,
           timeout: float = 1.5, retries: int = 5, restarts: int = 2,
           progress: Progress | None = None) -> TransferStats:
    """Upload ``items`` (for ArduPilot missions, item 0 is the home placeholder) and wait for the ACK.

    When the vehicle gives up on a slow, lossy transfer (ACK OPERATION_CANCELLED after its own
    timeout, 8 s on ArduPilot) the upload starts again from the count, up to ``restarts`` times.
    Returns the transfer statistics; raises MissionTransferError on a refusal or when the vehicle
    stops answering (the caller should then re-read the vehicle's plan: never assume).
    """
    stats = TransferStats()
    for attempt in range(restarts + 1):
        try:
            return _upload_once(link, items, mission_type, timeout, retries, progress, stats)
        except MissionTransferError as exc:
            if exc.result != mavlink.MAV_MISSION_OPERATION_CANCELLED or attempt == restarts:
                raise
            stats.resends += 1
    raise AssertionError("unreachable")


class _Pacer:
    """When to resend: three times the median of the recent round-trip times (between ``floor`` and
    ``ceiling`` seconds), stretched on each consecutive miss.

    A fixed 1.5 s wait (the protocol's default) makes every lost datagram cost 1.5 s; measuring the
    link lets a fast link recover in tens of milliseconds while a slow radio still gets its 1.5 s.
    The median, not a mean: an answer that is really the vehicle's own retransmission (after its 1 s
    timer) looks like a 1 s round trip, and must not drag the estimate up.
    """

    def __init__(self, ceiling: float, floor: float = 0.05):
        self.ceiling, self.floor = ceiling, floor
        self.samples: deque[float] = deque(maxlen=31)
        self.misses = 0

    def sample(self, rtt: float) -> None:
        self.samples.append(rtt)
        self.misses = 0

    def wait(self) -> float:
        # Before the first sample a quarter of the ceiling; backoff is linear, not exponential: on a
        # radio a lost datagram is noise, not congestion, and waiting longer does not help it.
        base = self.ceiling / 4 if not self.samples else 3 * statistics.median(self.samples) + 0.02
        return min(self.ceiling, max(self.floor, base) * (1 + 0.5 * self.misses))


def _upload_once(link: Link, items: list[MissionItem], mission_type: int, timeout: float, retries: int,
                 progress: Progress | None, stats: TransferStats) -> TransferStats:
    t0 = time.monotonic()
    n = len(items)
    kind = _TYPE_NAMES.get(mission_type, str(mission_type))
    pacer = _Pacer(timeout)
    link.mav.mission_count_send(link.target_system, link.target_component, n, mission_type)
    stats.sent += 1
    last_sent: int | None = None  # seq of the last item sent, None = the COUNT
    sent_at = time.monotonic()
    resent = False  # whether the last thing we sent was a resend
    highest = -1
    heard = time.monotonic()
    stall = timeout * (retries + 1)  # give up after this long without a word from the vehicle
    while True:
        try:
            msg = link.recv(("MISSION_REQUEST_INT", "MISSION_REQUEST", "MISSION_ACK"),
                            where=lambda m: _is_for(m, mission_type), timeout=pacer.wait())
        except LinkTimeout:
            if time.monotonic() - heard > stall:
                where = "after the count" if last_sent is None else f"after item {last_sent} of {n}"
                raise MissionTransferError(
                    f"{kind} upload: the vehicle stopped answering {where} (nothing for {stall:g} s); "
                    "the link may be lost", None, last_sent) from None
            pacer.misses += 1
            stats.resends += 1
            stats.sent += 1
            resent = True
            if last_sent is None:
                link.mav.mission_count_send(link.target_system, link.target_component, n, mission_type)
            else:
                _send_item(link, last_sent, items[last_sent], mission_type)
            continue
        heard = time.monotonic()
        stats.received += 1
        if msg.get_type() == "MISSION_ACK":
            if msg.type == mavlink.MAV_MISSION_ACCEPTED:
                if n and highest < n - 1:
                    continue  # an ACCEPTED before every item was requested answers an earlier transfer
                stats.seconds = time.monotonic() - t0
                return stats
            if msg.type == mavlink.MAV_MISSION_INVALID_SEQUENCE:
                # ArduPilot NACKs an item it already has and carries on. After our resend of item k
                # this says its request for k + 1 was lost: send k + 1 rather than wait for its timer.
                pacer.misses = 0
                if resent and last_sent is not None and last_sent + 1 < n:
                    last_sent += 1
                    _send_item(link, last_sent, items[last_sent], mission_type)
                    stats.sent += 1
                    resent = False
                continue
            seq = last_sent
            about = f" at item {seq} ({_describe(items[seq])})" if seq is not None and seq < n else ""
            raise MissionTransferError(f"{kind} upload refused by the vehicle{about}: {result_name(msg.type)}",
                                       msg.type, seq)
        seq = msg.seq
        if not 0 <= seq < n:
            continue
        now = time.monotonic()
        in_order = seq == (0 if last_sent is None else last_sent + 1)
        if in_order and not resent:
            pacer.sample(now - sent_at)  # Karn: never time an answer to a resend
        else:
            pacer.misses = 0
        _send_item(link, seq, items[seq], mission_type)
        stats.sent += 1
        if seq <= highest:
            stats.resends += 1
        last_sent, sent_at, resent = seq, now, False
        highest = max(highest, seq)
        if progress:
            progress(highest + 1, n)


def _describe(item: MissionItem) -> str:
    entry = mavlink.enums["MAV_CMD"].get(item.command)
    return entry.name if entry else f"command {item.command}"


def download(link: Link, mission_type: int = mavlink.MAV_MISSION_TYPE_MISSION, *, timeout: float = 1.5,
             retries: int = 5, window: int = 8, progress: Progress | None = None,
             stats: TransferStats | None = None) -> list[MissionItem]:
    """Download the vehicle's ``mission_type`` plan (for ArduPilot missions item 0 is home).

    Up to ``window`` requests are in flight; a missing item is asked again after a wait measured on
    the link (between 50 ms and ``timeout``). The download fails only when nothing new arrives for
    ``timeout * (retries + 1)`` seconds.
    """
    stats = stats if stats is not None else TransferStats()
    t0 = time.monotonic()
    kind = _TYPE_NAMES.get(mission_type, str(mission_type))
    pacer = _Pacer(timeout)
    stall = timeout * (retries + 1)
    count = None
    while time.monotonic() - t0 < stall:
        link.mav.mission_request_list_send(link.target_system, link.target_component, mission_type)
        stats.sent += 1
        asked = time.monotonic()
        try:
            msg = link.recv("MISSION_COUNT", where=lambda m: _is_for(m, mission_type), timeout=pacer.wait())
        except LinkTimeout:
            stats.resends += 1
            pacer.misses += 1
            continue
        pacer.sample(time.monotonic() - asked)
        count = msg.count
        break
    if count is None:
        raise MissionTransferError(f"{kind} download: no MISSION_COUNT from the vehicle within {stall:g} s; "
                                   "the link may be lost")
    got: dict[int, MissionItem] = {}
    asked_at: dict[int, float] = {}
    asked_twice: set[int] = set()  # Karn: an answer to a repeated request says nothing about the RTT
    progress_at = time.monotonic()
    while len(got) < count:
        now = time.monotonic()
        if now - progress_at > stall:
            missing = next(s for s in range(count) if s not in got)
            raise MissionTransferError(f"{kind} download: item {missing} of {count} never arrived "
                                       f"(nothing new for {stall:g} s); the link may be lost", None, missing)
        wait = pacer.wait()
        for seq in [s for s in range(count) if s not in got][:window]:
            if seq in asked_at and now - asked_at[seq] < wait:
                continue
            if seq in asked_at:
                stats.resends += 1
                asked_twice.add(seq)
            link.mav.mission_request_int_send(link.target_system, link.target_component, seq, mission_type)
            stats.sent += 1
            asked_at[seq] = now
        try:
            msg = link.recv(("MISSION_ITEM_INT", "MISSION_ITEM", "MISSION_ACK"),
                            where=lambda m: _is_for(m, mission_type), timeout=wait)
        except LinkTimeout:
            pacer.misses = min(pacer.misses + 1, 4)
            continue
        stats.received += 1
        if msg.get_type() == "MISSION_ACK":
            if msg.type != mavlink.MAV_MISSION_ACCEPTED:
                raise MissionTransferError(f"{kind} download refused by the vehicle: {result_name(msg.type)}",
                                           msg.type)
            continue
        if 0 <= msg.seq < count and msg.seq not in got:
            got[msg.seq] = _item_from_msg(msg)
            if msg.seq not in asked_twice:
                pacer.sample(time.monotonic() - asked_at.get(msg.seq, now))
            progress_at = time.monotonic()
            if progress:
                progress(len(got), count)
    link.mav.mission_ack_send(link.target_system, link.target_component, mavlink.MAV_MISSION_ACCEPTED,
                              mission_type)
    stats.sent += 1
    stats.seconds = time.monotonic() - t0
    return [got[s] for s in range(count)]


def clear(link: Link, mission_type: int = mavlink.MAV_MISSION_TYPE_MISSION, *, timeout: float = 1.5,
          retries: int = 5) -> None:
    """Clear the vehicle's plan of ``mission_type`` (255 = all)."""
    for _attempt in range(retries + 1):
        link.mav.mission_clear_all_send(link.target_system, link.target_component, mission_type)
        try:
            msg = link.recv("MISSION_ACK", where=lambda m: _is_for(m, mission_type), timeout=timeout)
        except LinkTimeout:
            continue
        if msg.type != mavlink.MAV_MISSION_ACCEPTED:
            raise MissionTransferError(f"clear refused by the vehicle: {result_name(msg.type)}", msg.type)
        return
    raise MissionTransferError(f"clear: no answer from the vehicle after {retries + 1} tries")


def set_current(link: Link, seq: int, *, timeout: float = 1.5, retries: int = 3) -> None:
    """Make ``seq`` the current mission item (DO_SET_MISSION_CURRENT; MISSION_CURRENT confirms)."""
    for confirmation in range(retries + 1):
        link.mav.command_long_send(link.target_system, link.target_component,
                                   mavlink.MAV_CMD_DO_SET_MISSION_CURRENT, confirmation, seq, 0, 0, 0, 0, 0, 0)
        try:
            link.recv("MISSION_CURRENT", where=lambda m: m.seq == seq, timeout=timeout)
            return
        except LinkTimeout:
            continue
    raise MissionTransferError(f"set current item {seq}: the vehicle did not confirm", seq=seq)


def compare(sent: list[MissionItem], got: list[MissionItem], *, skip_first: bool = False) -> str | None:
    """The first difference between two item lists as the vehicle stores them, or None if equal.

    Lat/lon compare as 1e-7 degree integers within 1 (some stacks truncate), altitude and params
    as float32 (NaN equals NaN), frames modulo their ``_INT`` twin. ``skip_first`` ignores item 0
    (ArduPilot's home, which the vehicle overwrites).
    """
    if len(sent) != len(got):
        return f"the vehicle holds {len(got)} items, {len(sent)} were sent"
    for seq, (a, b) in enumerate(zip(sent, got, strict=True)):
        if skip_first and seq == 0:
            continue
        why = _item_difference(a, b)
        if why:
            return f"item {seq} ({_describe(a)}): {why}"
    return None


def _item_difference(a: MissionItem, b: MissionItem) -> str | None:
    if a.command != b.command:
        return f"command {a.command} sent, {b.command} stored"
    fa, fb = _SAME_FRAME.get(a.frame, a.frame), _SAME_FRAME.get(b.frame, b.frame)
    if fa != fb:
        return f"frame {a.frame} sent, {b.frame} stored"
    for k, (pa, pb) in enumerate(zip(a.params, b.params, strict=True), start=1):
        if not _same32(pa, pb):
            return f"param{k} {pa!r} sent, {pb!r} stored"
    positional = a.frame != Frame.MISSION
    for name, va, vb in (("latitude", a.x, b.x), ("longitude", a.y, b.y)):
        if positional and abs(_int_deg(va) - _int_deg(vb)) > 1:
            return f"{name} {va:.7f} sent, {vb:.7f} stored"
        if not positional and not _same32(va, vb):
            return f"param{5 if name == 'latitude' else 6} {va!r} sent, {vb!r} stored"
    if not _same32(a.z, b.z):
        return f"altitude {a.z!r} sent, {b.z!r} stored"
    if a.autocontinue != b.autocontinue:
        return "autocontinue differs"
    return None


def _same32(a: float, b: float) -> bool:
    fa, fb = np.float32(a), np.float32(b)
    if math.isnan(fa) or math.isnan(fb):
        return math.isnan(fa) and math.isnan(fb)
    return bool(fa == fb) or abs(float(fa) - float(fb)) <= 1e-6 * max(1.0, abs(float(fa)))
