"""Fixtures: a real SITL process on loopback (TCP and UDP), shared by the tests of a module."""

from __future__ import annotations

import pytest

from sitl.process import SitlProcess

HOME = (-35.363261, 149.165230, 584.0, 0.0)


@pytest.fixture(scope="module")
def sitl(tmp_path_factory):
    """A SITL in real time (its protocol timers, like ArduPilot's, run on simulated time) listening on a
    free TCP and a free UDP port."""
    with SitlProcess(home=HOME, speedup=1, listen=["tcp:127.0.0.1:0", "udp:127.0.0.1:0"],
                     log_dir=tmp_path_factory.mktemp("sitl")) as proc:
        yield proc
