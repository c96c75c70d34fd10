"""Connection strings, opening links, and the clear errors for the common failures."""

from __future__ import annotations

import socket
import time

import pytest

from skyscan.errors import InputError, LinkError, LinkTimeout
from telemetry.link import Endpoint, connect, parse_endpoint


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("udpin:0.0.0.0:14550", Endpoint("udpin", "0.0.0.0", 14550)),
        ("udp:127.0.0.1:14550", Endpoint("udpin", "127.0.0.1", 14550)),
        ("udpout:10.0.0.2:14550", Endpoint("udpout", "10.0.0.2", 14550)),
        ("tcp:127.0.0.1:5760", Endpoint("tcp", "127.0.0.1", 5760)),
        ("tcpout:127.0.0.1:5760", Endpoint("tcp", "127.0.0.1", 5760)),
        ("tcpin:0.0.0.0:5760", Endpoint("tcpin", "0.0.0.0", 5760)),
        ("/dev/ttyUSB0,57600", Endpoint("serial", device="/dev/ttyUSB0", baud=57600)),
        ("serial:/dev/ttyACM0:115200", Endpoint("serial", device="/dev/ttyACM0", baud=115200)),
    ],
)
def test_parse_endpoint(url, expected):
    assert parse_endpoint(url) == expected


@pytest.mark.parametrize("url", ["", "14550", "http://x:1", "tcp:host", "udpin:host:0", "udpout:h:70000",
                                 "/usr/bin/evil.elf"])
def test_bad_connection_strings(url):
    with pytest.raises(InputError, match=r"udpin:0\.0\.0\.0:14550"):
        parse_endpoint(url)


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_port_in_use_is_a_clear_error():
    holder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    holder.bind(("127.0.0.1", 0))
    port = holder.getsockname()[1]
    try:
        with pytest.raises(LinkError, match=f"port {port} is already in use"):
            connect(f"udpin:127.0.0.1:{port}", timeout=0.5)
    finally:
        holder.close()


def test_no_heartbeat_times_out_quickly():
    port = _free_udp_port()
    t0 = time.monotonic()
    with pytest.raises(LinkTimeout, match="no heartbeat from a vehicle"):
        connect(f"udpout:127.0.0.1:{port}", timeout=1.0)
    assert time.monotonic() - t0 < 3.0


def test_tcp_refused_is_a_link_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound but not listening: the connection is refused
        with pytest.raises(LinkError, match="cannot open the connection"):
            connect(f"tcp:127.0.0.1:{port}", timeout=1.0)
