"""SITL start-up options and the parsers for the strings users type (--home, --listen, --wind, ...).

Each parser raises :class:`~skyscan.errors.InputError` naming the option and a valid example, so both
``python -m sitl`` and ``skyscan sitl`` report a typo in one line and exit 2.
"""

from __future__ import annotations

import ipaddress
import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from skyscan.errors import InputError

__all__ = ["Endpoint", "SitlOptions", "parse_endpoint", "parse_home", "parse_param", "parse_size", "parse_udp_out",
           "parse_wind"]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where the SITL talks MAVLink: ``tcp`` (listen, any number of clients), ``udp`` (bind, answer every
    peer that sent a packet) or ``udpout`` (send to a fixed address)."""

    scheme: str
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.scheme}:{self.host}:{self.port}"

    def offset(self, instance: int) -> Endpoint:
        """ArduPilot's -I N: every non-zero port moves up by 10 * N."""
        return self if self.port == 0 else replace(self, port=self.port + 10 * instance)


@dataclass(slots=True)
class SitlOptions:
    """Everything a SITL run needs; defaults match ``python -m sitl`` without options."""

    home_lat: float = -35.363261  # ArduPilot's CMAC field
    home_lon: float = 149.165230
    home_alt: float = 584.0
    home_heading: float = 353.0
    listen: list[Endpoint] = field(default_factory=lambda: [Endpoint("tcp", "127.0.0.1", 5760)])
    udp_out: list[Endpoint] = field(default_factory=list)
    speedup: float = 1.0
    wind_speed: float = 0.0
    wind_from: float = 0.0
    seed: int = 0
    instance: int = 0
    log_dir: Path | None = None
    rate_hz: float = 100.0
    legacy_mission_requests: bool = True
    max_mission_items: int = 718
    sysid: int = 1
    params: dict[str, float] = field(default_factory=dict)
    start_time: float | None = None  # simulated UTC of boot, Unix seconds (default: now)
    ekf_ready_after_s: float = 5.0
    plugins: list[str] = field(default_factory=list)
    status_every_s: float = 30.0
    # Read by the simulated-camera plugin (sitl/camera.py), which --world/--camera switch on.
    world: Path | None = None
    camera: str | None = None
    photo_size: tuple[int, int] | None = None
    world_extent_m: float = 1500.0  # side of the procedural world around home (smaller = faster to build)

    def endpoints(self) -> list[Endpoint]:
        """All endpoints with the -I offset applied."""
        return [e.offset(self.instance) for e in [*self.listen, *self.udp_out]]

    def boot_unix_s(self) -> float:
        return float(int(time.time())) if self.start_time is None else self.start_time

    def check(self) -> None:
        """Range checks of the numeric options (InputError on the first problem)."""
        if not (self.speedup > 0 and math.isfinite(self.speedup)):
            raise InputError(f"--speedup: must be a positive number, got {self.speedup}")
        if not 10 <= self.rate_hz <= 1000:
            raise InputError(f"--rate: physics rate must be 10-1000 Hz, got {self.rate_hz}")
        if not 0 <= self.instance <= 100:
            raise InputError(f"-I: instance must be 0-100, got {self.instance}")
        if not 1 <= self.sysid <= 255:
            raise InputError(f"--sysid: must be 1-255, got {self.sysid}")
        if not 1 <= self.max_mission_items <= 65535:
            raise InputError(f"--max-items: must be 1-65535, got {self.max_mission_items}")
        for ep in self.endpoints():
            if ep.port > 65535:
                raise InputError(f"-I {self.instance}: moves {ep.scheme} port past 65535 ({ep.port})")
        from sitl.params import PARAM_SPECS  # imports pymavlink: only when checking

        known = {spec.name for spec in PARAM_SPECS}
        for name in self.params:
            if name not in known:
                raise InputError(f"--param: unknown parameter {name!r}; e.g. WPNAV_SPEED=800 (see PARAM_REQUEST_LIST)")
        if not self.listen and not self.udp_out:
            raise InputError("--listen: give at least one endpoint, e.g. --listen tcp:127.0.0.1:5760")


def parse_home(text: str) -> tuple[float, float, float, float]:
    """'LAT,LON[,ALT[,HEADING]]' -> (lat, lon, alt AMSL m, heading deg)."""
    parts = [p.strip() for p in text.split(",")]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if not 2 <= len(values) <= 4 or not all(math.isfinite(v) for v in values):
        raise InputError(f"--home: cannot read {text!r}; write LAT,LON[,ALT,HEADING], e.g. -35.3632,149.1652,584,353")
    lat, lon = values[0], values[1]
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise InputError(f"--home: {text!r} is not a latitude,longitude pair (latitude first)")
    alt = values[2] if len(values) > 2 else 0.0
    heading = values[3] % 360.0 if len(values) > 3 else 0.0
    return lat, lon, alt, heading


def _host_port(text: str, rest: str, option: str, example: str) -> tuple[str, int]:
    host, sep, port_s = rest.rpartition(":")
    if not sep or not host:
        raise InputError(f"{option}: cannot read {text!r}; write e.g. {example}")
    try:
        port = int(port_s)
    except ValueError:
        raise InputError(f"{option}: port {port_s!r} in {text!r} is not a number; e.g. {example}") from None
    if not 0 <= port <= 65535:
        raise InputError(f"{option}: port {port} in {text!r} is out of range 0-65535")
    host = host.strip("[]")
    if host != "localhost":
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise InputError(f"{option}: {host!r} in {text!r} is not an IP address; e.g. {example}") from None
    return host, port


def parse_endpoint(text: str) -> Endpoint:
    """'tcp:HOST:PORT' or 'udp:HOST:PORT' (port 0 = any free port)."""
    scheme, sep, rest = text.partition(":")
    scheme = scheme.lower()
    if not sep or scheme not in ("tcp", "udp"):
        raise InputError(f"--listen: cannot read {text!r}; use tcp:HOST:PORT or udp:HOST:PORT, e.g. tcp:127.0.0.1:5760")
    host, port = _host_port(text, rest, "--listen", "tcp:127.0.0.1:5760")
    return Endpoint(scheme, host, port)


def parse_udp_out(text: str) -> Endpoint:
    """'HOST:PORT' (or 'udp:HOST:PORT') for --udp-out."""
    rest = text.split(":", 1)[1] if text.lower().startswith("udp:") else text
    host, port = _host_port(text, rest, "--udp-out", "127.0.0.1:14550")
    if port == 0:
        raise InputError(f"--udp-out: {text!r} needs a real port to send to, e.g. 127.0.0.1:14550")
    return Endpoint("udpout", host, port)


def parse_wind(text: str) -> tuple[float, float]:
    """'SPEED@FROM' (m/s, degrees the wind comes from) -> (speed, from_deg); '0' = calm."""
    speed_s, _, dir_s = text.partition("@")
    try:
        speed = float(speed_s)
        direction = float(dir_s) if dir_s else 0.0
    except ValueError:
        raise InputError(f"--wind: cannot read {text!r}; write SPEED@FROM_DEGREES, e.g. 5@270 (5 m/s from the west)")\
            from None
    if not (0 <= speed < 100 and math.isfinite(direction)):
        raise InputError(f"--wind: speed must be 0-100 m/s, got {text!r}")
    return speed, direction % 360.0


def parse_size(text: str) -> tuple[int, int]:
    """'WIDTHxHEIGHT' in pixels for --photo-size."""
    w, sep, h = text.lower().partition("x")
    if not sep or not w.strip().isdigit() or not h.strip().isdigit() or int(w) < 8 or int(h) < 8:
        raise InputError(f"--photo-size: cannot read {text!r}; write WIDTHxHEIGHT in pixels, e.g. 640x480")
    return int(w), int(h)


def parse_param(text: str) -> tuple[str, float]:
    """'NAME=VALUE' for --param."""
    name, sep, value = text.partition("=")
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not sep or not name.strip() or not math.isfinite(number):
        raise InputError(f"--param: cannot read {text!r}; write NAME=VALUE, e.g. WPNAV_SPEED=800")
    return name.strip().upper(), number
