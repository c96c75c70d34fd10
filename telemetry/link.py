"""Link: one MAVLink connection to one vehicle, opened from a connection string pilots already know.

Connection strings (parsed, never guessed; anything else is an error naming these):

* ``udpin:HOST:PORT``   listen for the vehicle on UDP (GCS side of a telemetry radio / SITL ``--out``;
  ``udp:`` is taken as ``udpin:``, as MAVProxy does)
* ``udpout:HOST:PORT``  send to a vehicle listening on UDP
* ``tcp:HOST:PORT``     connect to a TCP server (ArduPilot SITL is ``tcp:127.0.0.1:5760``; ``tcpout:`` too)
* ``tcpin:HOST:PORT``   accept one TCP connection
* ``serial:DEVICE[:BAUD]`` or ``DEVICE,BAUD`` (e.g. ``/dev/ttyUSB0,57600``) for a serial radio

MAVLink 2 is always used (MAVLink 1 cannot carry ``mission_type``, so fences and rally points would
fail). A link can sign its outgoing messages with a 32-byte key. Every wait takes a timeout and
raises :class:`~skyscan.errors.LinkTimeout`; message filters are callables. Everything received is
recorded to a ``.tlog`` when asked.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import struct
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

os.environ["MAVLINK20"] = "1"  # pymavlink reads this once, at import: MAVLink 2 everywhere
from pymavlink import mavutil
from pymavlink.dialects.v20 import ardupilotmega as mavlink

from skyscan.errors import InputError, LinkError, LinkTimeout

__all__ = ["Endpoint", "Link", "VehicleInfo", "connect", "mavlink", "mavutil", "parse_endpoint"]

SCHEMES = ("udpin", "udpout", "tcp", "tcpin", "serial")
GCS_SYSTEM, GCS_COMPONENT = 255, 190  # MAV_COMP_ID_MISSIONPLANNER, as ground stations use

Predicate = Callable[[object], bool]


@dataclass(frozen=True)
class Endpoint:
    """A parsed connection string."""

    scheme: str
    host: str = ""
    port: int = 0
    device: str = ""
    baud: int = 57600

    def mavutil_device(self) -> str:
        if self.scheme == "serial":
            return self.device
        return f"{self.scheme}:{self.host}:{self.port}"

    def __str__(self) -> str:
        if self.scheme == "serial":
            return f"serial:{self.device}:{self.baud}"
        return f"{self.scheme}:{self.host}:{self.port}"


def parse_endpoint(url: str) -> Endpoint:
    """Parse a connection string (see the module docstring); raise InputError when it does not parse."""
    text = url.strip()
    hint = ("use udpin:0.0.0.0:14550, udpout:HOST:PORT, tcp:HOST:5760, tcpin:HOST:PORT, "
            "serial:/dev/ttyUSB0:57600 or /dev/ttyUSB0,57600")
    m = re.fullmatch(r"(/dev/[^,\s]+|COM\d+),(\d+)", text)
    if m:
        return Endpoint("serial", device=m[1], baud=int(m[2]))
    scheme, _, rest = text.partition(":")
    scheme = scheme.lower()
    scheme = {"tcpout": "tcp", "udp": "udpin"}.get(scheme, scheme)  # aliases MAVProxy users type
    if scheme not in SCHEMES or not rest:
        raise InputError(f"connection string {url!r} not understood; {hint}")
    if scheme == "serial":
        dev, _, baud = rest.rpartition(":") if re.search(r":\d+$", rest) else (rest, "", "")
        return Endpoint("serial", device=dev or rest, baud=int(baud) if baud else 57600)
    host, _, port = rest.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InputError(f"connection string {url!r}: expected {scheme}:HOST:PORT with a port 1-65535; {hint}")
    return Endpoint(scheme, host=host, port=int(port))


@dataclass
class VehicleInfo:
    """What the vehicle's heartbeat says about it."""

    system: int
    component: int
    autopilot: int
    vehicle_type: int

    @property
    def is_ardupilot(self) -> bool:
        return self.autopilot == mavlink.MAV_AUTOPILOT_ARDUPILOTMEGA

    @property
    def autopilot_name(self) -> str:
        return {mavlink.MAV_AUTOPILOT_ARDUPILOTMEGA: "ArduPilot", mavlink.MAV_AUTOPILOT_PX4: "PX4"}.get(
            self.autopilot, f"autopilot {self.autopilot}")

    @property
    def type_name(self) -> str:
        entry = mavlink.enums["MAV_TYPE"].get(self.vehicle_type)
        return entry.name.removeprefix("MAV_TYPE_").lower() if entry else str(self.vehicle_type)


@dataclass
class Link:
    """A MAVLink connection to one vehicle. Use :func:`connect` to open one; close it (or use ``with``)."""

    conn: mavutil.mavfile
    endpoint: Endpoint
    vehicle: VehicleInfo | None = None
    statustext: list[tuple[float, int, str]] = field(default_factory=list)
    _tlog: object = None
    _tlog_tmp: Path | None = None
    _tlog_path: Path | None = None
    listeners: list[Callable[[object], None]] = field(default_factory=list)

    # -- lifecycle ------------------------------------------------------------------------------
    def __enter__(self) -> Link:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection and finish the tlog (renamed into place only now: never half a file)."""
        try:
            self.conn.close()
        finally:
            if self._tlog is not None:
                self._tlog.close()
                os.replace(self._tlog_tmp, self._tlog_path)
                self._tlog = None

    def record(self, path: str | os.PathLike) -> None:
        """Record every message received from now on to a ``.tlog`` at ``path``."""
        self._tlog_path = Path(path)
        self._tlog_path.parent.mkdir(parents=True, exist_ok=True)
        self._tlog_tmp = self._tlog_path.with_name(f".{self._tlog_path.name}.part")
        self._tlog = open(self._tlog_tmp, "wb")  # noqa: SIM115 - closed in close()

    # -- ids ------------------------------------------------------------------------------------
    @property
    def target_system(self) -> int:
        return self.vehicle.system if self.vehicle else 1

    @property
    def target_component(self) -> int:
        return self.vehicle.component if self.vehicle else 1

    @property
    def mav(self) -> mavlink.MAVLink:
        """The pymavlink encoder: ``link.mav.mission_count_send(...)``."""
        return self.conn.mav

    # -- receiving ------------------------------------------------------------------------------
    def _handle(self, msg) -> None:
        if self._tlog is not None:
            self._tlog.write(struct.pack(">Q", int(time.time() * 1e6)) + msg.get_msgbuf())
        if msg.get_type() == "STATUSTEXT":
            self.statustext.append((time.monotonic(), msg.severity, msg.text))
        for fn in self.listeners:
            fn(msg)

    def poll(self, timeout: float = 0.0):
        """The next message from the vehicle (or None after ``timeout`` seconds)."""
        msg = self.conn.recv_match(blocking=timeout > 0, timeout=timeout if timeout > 0 else None)
        if msg is None or msg.get_type() == "BAD_DATA":
            return None
        self._handle(msg)
        if self.vehicle is not None and msg.get_srcSystem() != self.vehicle.system:
            return None  # another system on the link (a second GCS, a gimbal) is not our vehicle
        return msg

    def recv(self, types: str | Iterable[str] | None = None, where: Predicate | None = None,
             timeout: float = 3.0, what: str | None = None):
        """The next vehicle message of ``types`` that satisfies ``where``; LinkTimeout after ``timeout`` s."""
        wanted = {types} if isinstance(types, str) else set(types) if types is not None else None
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise LinkTimeout(f"no {what or ', '.join(sorted(wanted or ['message']))} from the vehicle "
                                  f"within {timeout:g} s on {self.endpoint}")
            msg = self.poll(min(remaining, 0.5))
            if msg is None:
                continue
            if wanted is not None and msg.get_type() not in wanted:
                continue
            if where is None or where(msg):
                return msg

    def drain(self, seconds: float = 0.0) -> None:
        """Read and dispatch everything that arrives within ``seconds``."""
        deadline = time.monotonic() + seconds
        while True:
            remaining = deadline - time.monotonic()
            if self.poll(max(0.0, min(remaining, 0.1))) is None and remaining <= 0:
                return

    # -- sending --------------------------------------------------------------------------------
    def heartbeat(self) -> None:
        """Send a GCS heartbeat (vehicles use it to detect a lost ground station)."""
        self.mav.heartbeat_send(mavlink.MAV_TYPE_GCS, mavlink.MAV_AUTOPILOT_INVALID, 0, 0, 0)

    def wait_heartbeat(self, timeout: float = 10.0) -> VehicleInfo:
        """Wait for a vehicle's heartbeat (ignoring other ground stations) and target that vehicle."""
        deadline = time.monotonic() + timeout
        next_beat = 0.0
        while time.monotonic() < deadline:
            if time.monotonic() >= next_beat:  # udpout/tcp vehicles only talk once they hear us
                with contextlib.suppress(OSError):  # a udpin link cannot send before it hears anyone
                    self.heartbeat()
                next_beat = time.monotonic() + 1.0
            msg = self.poll(0.2)
            if msg is None or msg.get_type() != "HEARTBEAT":
                continue
            if msg.type in (mavlink.MAV_TYPE_GCS, mavlink.MAV_TYPE_ONBOARD_CONTROLLER) or \
                    msg.autopilot == mavlink.MAV_AUTOPILOT_INVALID:
                continue
            self.vehicle = VehicleInfo(msg.get_srcSystem(), msg.get_srcComponent(), msg.autopilot, msg.type)
            self.conn.target_system = self.vehicle.system
            self.conn.target_component = self.vehicle.component
            return self.vehicle
        raise LinkTimeout(f"no heartbeat from a vehicle on {self.endpoint} within {timeout:g} s; check the "
                          "connection string, that the vehicle is powered, and the baud rate or port")


def _signing_key(key_file: str | os.PathLike) -> bytes:
    """A 32-byte signing key: the raw file if it holds exactly 32 bytes, else SHA-256 of its text
    (MAVProxy's ``signing setup PASSPHRASE`` convention)."""
    data = Path(key_file).read_bytes()
    return data if len(data) == 32 else hashlib.sha256(data.strip()).digest()


def connect(url: str, *, timeout: float = 10.0, wait: bool = True, signing_key: str | os.PathLike | None = None,
            tlog: str | os.PathLike | None = None, source_system: int = GCS_SYSTEM,
            source_component: int = GCS_COMPONENT) -> Link:
    """Open ``url`` and (with ``wait``) wait for the vehicle's heartbeat.

    Raises InputError for a connection string that does not parse, LinkError when the port cannot
    be opened (e.g. in use by another program), LinkTimeout when no vehicle answers.
    """
    ep = parse_endpoint(url)
    try:
        conn = mavutil.mavlink_connection(ep.mavutil_device(), baud=ep.baud, source_system=source_system,
                                          source_component=source_component, dialect="ardupilotmega",
                                          autoreconnect=False)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise LinkError(f"{ep}: port {ep.port} is already in use by another program (a ground station "
                            "or another skyscan?); close it or choose another port") from None
        raise LinkError(f"{ep}: cannot open the connection ({exc.strerror or exc})") from None
    except Exception as exc:  # pymavlink raises bare Exceptions for serial and TCP failures
        raise LinkError(f"{ep}: cannot open the connection ({exc})") from None
    if conn.WIRE_PROTOCOL_VERSION != "2.0":
        conn.close()
        raise LinkError("pymavlink was imported in MAVLink 1 mode before skyscan; set MAVLINK20=1")
    link = Link(conn, ep)
    if signing_key is not None:
        conn.setup_signing(_signing_key(signing_key), sign_outgoing=True)
    if tlog is not None:
        link.record(tlog)
    if wait:
        try:
            link.wait_heartbeat(timeout)
        except LinkTimeout:
            link.close()
            raise
    return link
