"""What a plain `pip install skyscan` brings: every runtime import the README's features need is declared in
pyproject.toml (the lock file pins versions; it does not replace the declaration)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _declared() -> set[str]:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return {re.split(r"[<>=!~\[; ]", d, maxsplit=1)[0].lower() for d in deps}


@pytest.mark.parametrize("dist, why", [
    ("pyserial", "serial links: --connect /dev/ttyUSB0,57600 (pymavlink imports serial only for them)"),
    ("pymavlink", "every MAVLink command"),
    ("pycolmap", "skyscan map: structure from motion"),
    ("rasterio", "GeoTIFF maps and DEMs"),
])  # fmt: skip
def test_runtime_dependency_is_declared_in_pyproject(dist, why):
    assert dist in _declared(), f"{dist} ({why}) is missing from pyproject.toml's dependencies"


def test_serial_connection_string_opens_a_real_serial_port_driver():
    """pymavlink's serial path needs pyserial: opening a pty through it must get past the import."""
    import os
    import pty

    from pymavlink import mavutil

    master, slave = pty.openpty()
    try:
        conn = mavutil.mavlink_connection(f"{os.ttyname(slave)},57600")
        assert conn.port.baudrate == 57600
        conn.close()
    finally:
        os.close(master)
        os.close(slave)
