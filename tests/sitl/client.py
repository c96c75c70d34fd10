"""A minimal ground station for the SITL tests, written directly on pymavlink (not skyscan's link).

Every wait takes a timeout and fails the test with a message instead of returning None.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

os.environ["MAVLINK20"] = "1"  # before pymavlink: MAVLink 1 cannot carry mission_type

from pymavlink import mavutil
from pymavlink.dialects.v20 import ardupilotmega as mavlink

GCS_SYSID, GCS_COMPID = 255, 190


@dataclass(frozen=True)
class Item:
    """A mission item as a test writes it (x/y in degrees for located commands)."""

    command: int
    frame: int = 3
    params: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    x: float = 0.0
    y: float = 0.0
    z: float = 0.0


LOCATED = {16, 17, 18, 19, 20, 21, 22, 31, 82, 179, 189, 195, 201, 5000, 5001, 5002, 5003, 5004, 5100}


def item_int_xy(it: Item) -> tuple[int, int]:
    if it.command in LOCATED:
        return round(it.x * 1e7), round(it.y * 1e7)
    return int(it.x), int(it.y)


@dataclass
class Gcs:
    """A connection plus everything it has received, so no message is lost between waits."""

    conn: object
    seen: list = field(default_factory=list)

    @classmethod
    def connect(cls, url: str, sysid: int = GCS_SYSID, compid: int = GCS_COMPID, timeout: float = 10.0) -> Gcs:
        conn = mavutil.mavlink_connection(url, source_system=sysid, source_component=compid, dialect="ardupilotmega",
                                          autoreconnect=False)
        gcs = cls(conn)
        if url.startswith("udpout:"):
            conn.mav.heartbeat_send(6, 8, 0, 0, 0)  # a UDP vehicle answers only peers it has heard
        gcs.wait("HEARTBEAT", timeout=timeout)
        return gcs

    @property
    def mav(self):
        return self.conn.mav

    def close(self) -> None:
        self.conn.close()

    def recv(self, timeout: float):
        msg = self.conn.recv_match(blocking=True, timeout=timeout)
        if msg is not None and msg.get_type() != "BAD_DATA":
            self.seen.append(msg)
            return msg
        return None

    def wait(self, kinds: str | Iterable[str], cond: Callable[[object], bool] | None = None, timeout: float = 10.0):
        """The next message of one of ``kinds`` satisfying ``cond``; AssertionError after ``timeout`` s."""
        kinds = {kinds} if isinstance(kinds, str) else set(kinds)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = self.recv(max(0.01, deadline - time.monotonic()))
            if msg is not None and msg.get_type() in kinds and (cond is None or cond(msg)):
                return msg
        raise AssertionError(f"no {sorted(kinds)} within {timeout} s")

    def drain(self, seconds: float) -> list:
        """Everything received during ``seconds``."""
        out = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            msg = self.recv(max(0.01, deadline - time.monotonic()))
            if msg is not None:
                out.append(msg)
        return out

    def statustexts(self) -> list[str]:
        return [m.text for m in self.seen if m.get_type() == "STATUSTEXT"]

    # -- commands --------------------------------------------------------------------------
    def command(self, cmd: int, *params: float, timeout: float = 5.0) -> int:
        """COMMAND_LONG; returns the COMMAND_ACK result."""
        p = list(params) + [0.0] * (7 - len(params))
        self.mav.command_long_send(1, 1, cmd, 0, *p)
        return self.wait("COMMAND_ACK", lambda m: m.command == cmd, timeout).result

    def set_mode(self, mode: int) -> int:
        return self.command(mavlink.MAV_CMD_DO_SET_MODE, 1, mode)

    def arm(self, force: bool = False) -> int:
        return self.command(mavlink.MAV_CMD_COMPONENT_ARM_DISARM, 1, 21196 if force else 0)

    def arm_when_ready(self, timeout: float = 20.0) -> None:
        """Retry arming until the EKF is ready (pre-arm checks pass)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.arm() == 0:
                return
            time.sleep(0.05)
        raise AssertionError("could not arm: " + "; ".join(self.statustexts()[-3:]))

    def set_param(self, name: str, value: float, timeout: float = 5.0):
        self.mav.param_set_send(1, 1, name.encode(), value, mavlink.MAV_PARAM_TYPE_REAL32)
        return self.wait("PARAM_VALUE", lambda m: m.param_id == name, timeout)

    # -- mission protocol ------------------------------------------------------------------
    def upload(self, items: list[Item], mission_type: int = 0, timeout: float = 10.0,
               answer: Callable[[int, int], bool] | None = None, use_float: bool = False):
        """Upload ``items`` (for missions item 0 = home placeholder included by the caller).

        Answers every MISSION_REQUEST(_INT) with the requested item (``answer(seq, nth_request)`` False
        skips one). Returns (final MISSION_ACK, list of requested seqs, non-final ACK results).
        """
        self.mav.mission_count_send(1, 1, len(items), mission_type)
        requested: list[int] = []
        nacks: list[int] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = self.recv(0.5)
            if msg is None:
                continue
            kind = msg.get_type()
            if kind in ("MISSION_REQUEST", "MISSION_REQUEST_INT") and msg.mission_type == mission_type:
                seq = msg.seq
                requested.append(seq)
                if answer is not None and not answer(seq, requested.count(seq)):
                    continue
                self.send_item(seq, items[seq], mission_type, use_float)
            elif kind == "MISSION_ACK" and msg.mission_type == mission_type:
                if msg.type == mavlink.MAV_MISSION_INVALID_SEQUENCE:
                    nacks.append(msg.type)
                    continue
                return msg, requested, nacks
        raise AssertionError(f"upload of {len(items)} items did not finish; requests {requested[-10:]}")

    def send_item(self, seq: int, it: Item, mission_type: int = 0, use_float: bool = False) -> None:
        p1, p2, p3, p4 = it.params
        if use_float:
            self.mav.mission_item_send(1, 1, seq, it.frame, it.command, 0, 1, p1, p2, p3, p4, it.x, it.y, it.z,
                                       mission_type)
        else:
            x, y = item_int_xy(it)
            self.mav.mission_item_int_send(1, 1, seq, it.frame, it.command, 0, 1, p1, p2, p3, p4, x, y, it.z,
                                           mission_type)

    def download(self, mission_type: int = 0, timeout: float = 10.0, use_int: bool = True) -> list:
        """MISSION_REQUEST_LIST, then every item; sends the final ACK. Returns the ITEM(_INT) messages."""
        self.mav.mission_request_list_send(1, 1, mission_type)
        count = self.wait("MISSION_COUNT", lambda m: m.mission_type == mission_type, timeout).count
        out = []
        for seq in range(count):
            if use_int:
                self.mav.mission_request_int_send(1, 1, seq, mission_type)
                kind = "MISSION_ITEM_INT"
            else:
                self.mav.mission_request_send(1, 1, seq, mission_type)
                kind = "MISSION_ITEM"
            out.append(self.wait(kind, lambda m, s=seq: m.seq == s and m.mission_type == mission_type, timeout))
        self.mav.mission_ack_send(1, 1, mavlink.MAV_MISSION_ACCEPTED, mission_type)
        return out


def home_placeholder() -> Item:
    return Item(16, 0, (0, 0, 0, 0), 0, 0, 0)


def survey_items(home: tuple[float, float], legs: list[tuple[float, float]], alt: float = 30.0,
                 trigger_m: float = 20.0) -> list[Item]:
    """home placeholder + takeoff + waypoints (n, e metres from home) with distance triggering + RTL."""
    from sitl.geo import FlatEarth

    fe = FlatEarth(*home)
    out = [home_placeholder(), Item(22, 3, (0, 0, 0, math.nan), 0, 0, alt)]
    for i, (n, e) in enumerate(legs):
        lat, lon = fe.to_latlon(n, e)
        out.append(Item(16, 3, (0, 0, 0, math.nan), lat, lon, alt))
        if i == 0:
            out.append(Item(206, 2, (trigger_m, 0, 1, 0)))
    out.append(Item(206, 2, (0, 0, 0, 0)))
    out.append(Item(20, 2))
    return out
