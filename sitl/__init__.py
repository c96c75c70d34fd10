"""skyscan's SITL: a simulated ArduCopter that speaks MAVLink on real sockets, in simulated time.

Start one as a real process (``python -m sitl`` / ``skyscan sitl``), or from Python::

    from sitl import SitlProcess
    with SitlProcess(home=(-35.3632, 149.1652, 584), speedup=50, log_dir=tmp) as s:
        url = s.connection_string()          # 'tcp:127.0.0.1:PORT'

In-process (unit tests, plugins): :class:`Simulator` with a camera hook (called with a
:class:`TriggerEvent` on every trigger) and a terrain function ``(lat, lon) -> ground AMSL``.

Modules: ``vehicle`` (kinematics, attitude, wind, GPS noise), ``battery``, ``nav`` (manoeuvres),
``autopilot`` (modes, arming, commands, failsafes), ``mission_runner`` (AUTO), ``mission_protocol``
and ``items`` (plan transfer), ``fence``, ``params``, ``streams`` (telemetry), ``gcs`` (incoming
MAVLink), ``triggers`` (camera), ``logs``, ``simulator``, ``server`` (sockets, pacing), ``process``.

The names below are imported on first use, so ``import sitl.world`` (or any light module) does not
load pymavlink.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sitl.options import Endpoint, SitlOptions
    from sitl.process import SitlProcess
    from sitl.simulator import CameraHook, Simulator
    from sitl.terrain import FlatTerrain, TerrainFn
    from sitl.triggers import TriggerEvent

__all__ = [
    "CameraHook",
    "Endpoint",
    "FlatTerrain",
    "Simulator",
    "SitlOptions",
    "SitlProcess",
    "TerrainFn",
    "TriggerEvent",
]

_HOME = {
    "Endpoint": "sitl.options", "SitlOptions": "sitl.options", "SitlProcess": "sitl.process",
    "CameraHook": "sitl.simulator", "Simulator": "sitl.simulator", "FlatTerrain": "sitl.terrain",
    "TerrainFn": "sitl.terrain", "TriggerEvent": "sitl.triggers",
}


def __getattr__(name: str):
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module 'sitl' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
