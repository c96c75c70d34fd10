"""The simulation without sockets: vehicle, autopilot, telemetry and logs advanced in fixed steps.

:class:`Simulator` is what the server drives and what unit tests use directly: ``step()`` advances one
physics step (1/``rate_hz`` s of simulated time), ``receive()`` hands it a MAVLink message from a
link, and ``out.drain()`` returns the frames to send. Two hooks connect the outside world: a camera
hook called with a :class:`~sitl.triggers.TriggerEvent` on every trigger, and a terrain function
(:data:`~sitl.terrain.TerrainFn`) giving the ground altitude under the vehicle.
"""

from __future__ import annotations

from collections.abc import Callable

from sitl.autopilot import Autopilot, AutopilotConfig
from sitl.clock import SimClock
from sitl.gcs import GcsHandler
from sitl.logs import FlightLogs
from sitl.options import SitlOptions
from sitl.outbox import Outbox
from sitl.params import Params
from sitl.streams import StreamSchedule, Telemetry
from sitl.terrain import FlatTerrain, TerrainFn
from sitl.triggers import TriggerEvent
from skyscan.errors import InputError

__all__ = ["CameraHook", "Simulator"]

#: Called on every camera trigger with the true pose (plug the simulated camera in here).
CameraHook = Callable[[TriggerEvent], None]


class Simulator:
    """One simulated vehicle and its MAVLink behaviour, advanced by :meth:`step`."""

    def __init__(self, options: SitlOptions, camera: CameraHook | None = None, terrain: TerrainFn | None = None,
                 logs: FlightLogs | None = None):
        self.options = options
        self.dt = 1.0 / options.rate_hz
        self.sysid = options.sysid
        self.camera = camera
        self.logs = logs
        self.clock = SimClock(options.boot_unix_s())
        overrides = {"SIM_SPEEDUP": options.speedup, "SIM_WIND_SPD": options.wind_speed,
                     "SIM_WIND_DIR": options.wind_from, "SYSID_THISMAV": options.sysid}
        params = Params()
        for name in options.params:
            if not params.knows(name):
                raise InputError(f"--param: unknown parameter {name!r}; run a PARAM_REQUEST_LIST to see the names")
        overrides.update(options.params)
        self.params = Params(overrides=overrides)
        self.out = Outbox(self.clock, options.sysid, 1, record=logs.record if logs is not None else None)
        config = AutopilotConfig(options.home_lat, options.home_lon, options.home_alt, options.home_heading,
                                 seed=options.seed, ekf_ready_after_s=options.ekf_ready_after_s,
                                 max_mission_items=options.max_mission_items)
        self.autopilot = Autopilot(config, self.params, self.clock, self.out,
                                   terrain or FlatTerrain(options.home_alt), self._triggered)
        self.telemetry = Telemetry(self.autopilot)
        self.streams = StreamSchedule()
        self.gcs = GcsHandler(self)
        self.autopilot.listeners_mission_current.append(self._mission_current_changed)
        self._next_pose = 0.0
        self._pose_period = 0.1
        self.trigger_count = 0

    @property
    def speedup(self) -> float:
        """The real-time multiple asked for (parameter SIM_SPEEDUP)."""
        return self.params["SIM_SPEEDUP"]

    def step(self) -> None:
        """Advance one physics step and queue whatever the vehicle sends during it."""
        ap = self.autopilot
        ap.step(self.dt)
        self.gcs.update()
        now_us = self.clock.boot_us
        for msgid in self.streams.due(now_us):
            self.out.send(self.telemetry.builders[msgid]())
        if ap.home_changed:
            ap.home_changed = False
            self.out.send(self.telemetry.home_position())
        if self.logs is not None and self.clock.t >= self._next_pose:
            self._next_pose += self._pose_period
            self._log_pose()

    def run_for(self, seconds: float) -> None:
        """Advance ``seconds`` of simulated time (in-process tests; frames accumulate in ``out``)."""
        for _ in range(round(seconds / self.dt)):
            self.step()

    def receive(self, link: int, msg) -> None:
        """Handle one MAVLink message received on ``link`` (recorded in the tlog first)."""
        if self.logs is not None:
            self.logs.record(self.clock.unix_us, bytes(msg.get_msgbuf()))
        self.gcs.handle(link, msg)

    def close(self) -> None:
        if self.logs is not None:
            self.logs.close()

    def _mission_current_changed(self) -> None:
        self.out.send(self.telemetry.mission_current())

    def _triggered(self, event: TriggerEvent, gps_error: tuple[float, float, float]) -> None:
        self.trigger_count += 1
        self.out.send(self.telemetry.camera_feedback(event, gps_error))
        if self.logs is not None:
            self.logs.trigger(event)
        if self.camera is not None:
            self.camera(event)

    def _log_pose(self) -> None:
        ap = self.autopilot
        v = ap.vehicle
        lat, lon, alt = ap.position()
        self.logs.pose(self.clock.t, self.clock.unix_us, lat, lon, alt, alt - ap.home.alt_amsl, v.roll, v.pitch, v.yaw,
                       v.vn, v.ve, v.vu, ap.mode.name, v.armed)
