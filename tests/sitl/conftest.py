"""Fixtures for the SITL tests: a running SITL process on free ports, and a connected ground station."""

from __future__ import annotations

import pytest

from sitl.process import SitlProcess
from tests.sitl.client import Gcs

HOME = (-35.363261, 149.165230, 584.0, 0.0)


@pytest.fixture
def sitl_factory(tmp_path):
    """Start SITL processes (``factory(speedup=..., args=[...])``); all are stopped at the end."""
    started: list[SitlProcess] = []

    def factory(speedup: float = 1.0, args: list[str] | None = None, listen: list[str] | None = None,
                home=HOME) -> SitlProcess:
        proc = SitlProcess(home=home, speedup=speedup, listen=listen, log_dir=tmp_path / f"logs{len(started)}",
                           args=args).start()
        started.append(proc)
        return proc

    yield factory
    for proc in started:
        proc.stop()


@pytest.fixture
def gcs_factory():
    """Connect ground stations (``factory(url)``); all are closed at the end."""
    conns: list[Gcs] = []

    def factory(url: str, **kw) -> Gcs:
        gcs = Gcs.connect(url, **kw)
        conns.append(gcs)
        return gcs

    yield factory
    for gcs in conns:
        gcs.close()
