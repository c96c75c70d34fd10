"""Fixtures for interop tests against real MAVLink peers nobody here wrote (MAVProxy, MAVSDK).

Everything is a real process on real loopback sockets on free ports: skyscan's SITL
(:class:`~sitl.process.SitlProcess`, ports chosen by the system), the peer under test, and a skyscan
:class:`~telemetry.link.Link` over the SITL's TCP port that checks what the vehicle holds or does.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from mission.commands import Cmd, Frame
from mission.plan import Fence, FencePolygon, Home, MissionItem, Plan
from sitl.process import SitlProcess
from telemetry.link import Link, connect

HOME = (-35.363261, 149.165230, 584.0, 0.0)  # ArduPilot's CMAC, as the other SITL tests use
#: Simulated seconds per wall second for the flights: the short mission takes ~45 s of simulated time
#: (most of it the 0.5 m/s final descent); the transfers that precede it run on a clean loopback link.
FLIGHT_SPEEDUP = 5.0


def _sitl(log_dir, speedup: float) -> SitlProcess:
    return SitlProcess(home=HOME, speedup=speedup, listen=["tcp:127.0.0.1:0", "udp:127.0.0.1:0"], log_dir=log_dir)


@pytest.fixture(scope="module")
def sitl(tmp_path_factory) -> Iterator[SitlProcess]:
    """A SITL in real time (its protocol timers run on simulated time, like ArduPilot's) on a free TCP
    and a free UDP port, shared by the transfer tests of a module."""
    with _sitl(tmp_path_factory.mktemp("sitl"), 1.0) as proc:
        yield proc


@pytest.fixture
def flight_sitl(tmp_path) -> Iterator[SitlProcess]:
    """A fresh SITL per flight (landed, disarmed, STABILIZE), at :data:`FLIGHT_SPEEDUP`."""
    with _sitl(tmp_path / "sitl", FLIGHT_SPEEDUP) as proc:
        yield proc


@pytest.fixture
def clean_link(sitl) -> Iterator[Link]:
    """skyscan's link to the shared SITL over TCP (no loss): the referee of what the vehicle holds."""
    with connect(sitl.connection_string("tcp"), timeout=10) as link:
        yield link


def survey_plan(n: int, *, seed: int = 0, fence: bool = True) -> Plan:
    """A survey-like plan of ``n`` mission items: take-off, lawnmower waypoints at full 1e-7 degree
    resolution (so truncation and rounding show), camera distance triggers on and off, single shots,
    a speed change, RTL; with ``fence`` an inclusion polygon, an exclusion polygon and a return point."""
    rng = random.Random(seed)
    lat0, lon0 = HOME[0], HOME[1]
    items = [MissionItem.takeoff(40.0), MissionItem.change_speed(8.5)]
    k = 0
    while len(items) < n - 1:
        row, col = divmod(k, 12)
        col = col if row % 2 == 0 else 11 - col
        lat = round(lat0 + 0.00025 * row + rng.randint(-99, 99) * 1e-7, 7)
        lon = round(lon0 + 0.0003 * col + rng.randint(-99, 99) * 1e-7, 7)
        items.append(MissionItem.waypoint(lat, lon, 40.0 + 0.25 * (k % 9), hold_s=2.0 if k % 17 == 0 else 0.0))
        if k % 12 == 0:
            items.append(MissionItem.trigger_distance(12.5))
        elif k % 12 == 11:
            items.append(MissionItem.trigger_distance(0.0))
        elif k % 7 == 3:
            items.append(MissionItem.shoot())
        k += 1
    items = [*items[: n - 1], MissionItem.return_to_launch()]
    plan = Plan(items=items, home=Home(*HOME[:3]))
    if fence:
        d = 0.01
        plan.fence = Fence(
            polygons=[FencePolygon(((lat0 - d, lon0 - d), (lat0 - d, lon0 + d), (lat0 + d, lon0 + d),
                                    (lat0 + d, lon0 - d))),
                      FencePolygon(((lat0 - 0.004, lon0 + 0.004), (lat0 - 0.003, lon0 + 0.004),
                                    (lat0 - 0.003, lon0 + 0.005)), inclusion=False)],
            return_point=(lat0 + 0.0001234, lon0 - 0.0001234, 30.0))
    return plan


def short_flight_plan() -> Plan:
    """A mission a test can fly in seconds: take off to 10 m, two waypoints 20 m apart with a camera
    trigger between them, land at a third point (ArduCopter disarms after landing)."""
    lat0, lon0 = HOME[0], HOME[1]
    dlat, dlon = 20 / 111_320, 20 / (111_320 * math.cos(math.radians(lat0)))
    items = [
        MissionItem.takeoff(10.0),
        MissionItem.waypoint(lat0 + dlat, lon0, 10.0),
        MissionItem.trigger_distance(5.0),
        MissionItem.waypoint(lat0 + dlat, lon0 + dlon, 10.0),
        MissionItem.trigger_distance(0.0),
        MissionItem(Cmd.NAV_LAND, Frame.GLOBAL_RELATIVE_ALT, (0.0, 0.0, 0.0, math.nan), lat0, lon0 + dlon, 0.0),
    ]
    return Plan(items=items, home=Home(*HOME[:3]))


def nav_seqs(plan: Plan) -> list[int]:
    """Vehicle sequence numbers (home = 0) of the navigation items: those the vehicle reports reached."""
    nav = {Cmd.NAV_TAKEOFF, Cmd.NAV_WAYPOINT, Cmd.NAV_LAND, Cmd.NAV_RETURN_TO_LAUNCH}
    return [seq for seq, it in enumerate(plan.items, start=1) if it.command in nav]


@dataclass
class FlightRecord:
    """What a :class:`FlightWatcher` saw: reached items in order, arming, landing, status texts."""

    reached: list[int] = field(default_factory=list)
    was_armed: bool = False
    armed: bool = False
    max_rel_alt: float = 0.0
    rel_alt: float = math.nan
    modes: list[int] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)


class FlightWatcher:
    """Watches the vehicle over a skyscan link in a background thread (the only user of the link)."""

    def __init__(self, link: Link):
        self.link = link
        self.record = FlightRecord()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="flight-watcher", daemon=True)

    def __enter__(self) -> FlightWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5.0)

    def _run(self) -> None:
        rec, next_beat = self.record, 0.0
        while not self._stop.is_set():
            if time.monotonic() >= next_beat:
                self.link.heartbeat()
                next_beat = time.monotonic() + 1.0
            msg = self.link.poll(0.1)
            if msg is None:
                continue
            kind = msg.get_type()
            with self._lock:
                if kind == "MISSION_ITEM_REACHED":
                    rec.reached.append(msg.seq)
                elif kind == "HEARTBEAT":
                    rec.armed = bool(msg.base_mode & 128)
                    rec.was_armed |= rec.armed
                    if not rec.modes or rec.modes[-1] != msg.custom_mode:
                        rec.modes.append(msg.custom_mode)
                elif kind == "GLOBAL_POSITION_INT":
                    rec.rel_alt = msg.relative_alt / 1000.0
                    rec.max_rel_alt = max(rec.max_rel_alt, rec.rel_alt)
                elif kind == "STATUSTEXT":
                    rec.texts.append(msg.text)

    def wait_landed(self, last_seq: int, timeout: float) -> FlightRecord:
        """Wait until ``last_seq`` was reached and the vehicle is down and disarmed after having flown;
        returns the record either way (the caller asserts on it)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                r = self.record
                if last_seq in r.reached and r.was_armed and not r.armed and r.max_rel_alt > 1.0 \
                        and abs(r.rel_alt) < 0.5:
                    break
            time.sleep(0.1)
        with self._lock:
            return FlightRecord(list(self.record.reached), self.record.was_armed, self.record.armed,
                                self.record.max_rel_alt, self.record.rel_alt, list(self.record.modes),
                                list(self.record.texts))
