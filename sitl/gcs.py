"""Incoming MAVLink: what the vehicle does with each message a ground station sends.

The dispatcher mirrors ArduPilot's GCS_MAVLINK handlers: parameters (list, read, set), commands
(COMMAND_LONG/COMMAND_INT answered with COMMAND_ACK), SET_MODE, the mission protocol for mission,
fence and rally, MISSION_SET_CURRENT and GUIDED position targets. Messages addressed to another
system are ignored.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from sitl.items import LOCATION_COMMANDS, StoredItem
from sitl.mav import MavResult, MissionType, mavlink
from sitl.mission_protocol import PlanTransfer
from sitl.outbox import BROADCAST

if TYPE_CHECKING:
    from sitl.simulator import Simulator

__all__ = ["GcsHandler"]

M = mavlink
_TARGETED_TYPES = frozenset({
    "PARAM_REQUEST_LIST", "PARAM_REQUEST_READ", "PARAM_SET", "COMMAND_LONG", "COMMAND_INT", "MISSION_COUNT",
    "MISSION_ITEM", "MISSION_ITEM_INT", "MISSION_REQUEST", "MISSION_REQUEST_INT", "MISSION_REQUEST_LIST",
    "MISSION_CLEAR_ALL", "MISSION_SET_CURRENT", "MISSION_ACK", "SET_POSITION_TARGET_GLOBAL_INT",
})


class GcsHandler:
    """Dispatches received messages to the parameters, the autopilot and the plan transfers."""

    def __init__(self, sim: Simulator):
        self.sim = sim
        ap = sim.autopilot
        cfg = ap.config
        self.transfers = {
            MissionType.MISSION: PlanTransfer(MissionType.MISSION, ap, sim.out, sim.clock, cfg.max_mission_items,
                                              sim.options.legacy_mission_requests),
            MissionType.FENCE: PlanTransfer(MissionType.FENCE, ap, sim.out, sim.clock, cfg.max_fence_items,
                                            sim.options.legacy_mission_requests),
            MissionType.RALLY: PlanTransfer(MissionType.RALLY, ap, sim.out, sim.clock, cfg.max_rally_items,
                                            sim.options.legacy_mission_requests),
        }
        self._pending_params: list[str] = []
        self._param_link = BROADCAST

    # -- entry point -------------------------------------------------------------------------
    def handle(self, link: int, msg) -> None:
        """Act on one received message from ``link``."""
        kind = msg.get_type()
        if kind in _TARGETED_TYPES and getattr(msg, "target_system", 0) not in (0, self.sim.sysid):
            return
        handler = getattr(self, "_on_" + kind.lower(), None)
        if handler is not None:
            handler(link, msg, (msg.get_srcSystem(), msg.get_srcComponent()))

    def update(self) -> None:
        """Per-step work: plan-transfer timers and the parameter stream."""
        for transfer in self.transfers.values():
            transfer.update()
        if self._pending_params:
            batch, self._pending_params = self._pending_params[:40], self._pending_params[40:]
            for name in batch:
                self._send_param(name, self._param_link)

    def link_closed(self, link: int) -> None:
        for transfer in self.transfers.values():
            transfer.cancel_link(link)

    # -- parameters --------------------------------------------------------------------------
    def _send_param(self, name: str, link: int) -> None:
        params = self.sim.params
        value, ptype, index = params.entry(name)
        self.sim.out.send(self.sim.out.mav.param_value_encode(name.encode(), value, ptype, len(params), index), link)

    def _on_param_request_list(self, link, msg, src) -> None:
        # Streamed over the next steps, like ArduPilot (a few per loop), to the requesting link.
        self._pending_params = self.sim.params.names()
        self._param_link = link

    def _on_param_request_read(self, link, msg, src) -> None:
        params = self.sim.params
        name = _param_name(msg.param_id)
        if msg.param_index >= 0:
            name = params.name_at(msg.param_index)
        if name is None or not params.knows(name):
            return  # ArduPilot stays silent for unknown names
        self._send_param(name, link)

    def _on_param_set(self, link, msg, src) -> None:
        params = self.sim.params
        name = _param_name(msg.param_id)
        if not params.knows(name) or not math.isfinite(msg.param_value):
            return  # unknown names are dropped silently (GCS_Param.cpp)
        params.set(name, msg.param_value)  # read-only ones keep their value, and the echo shows it
        value, ptype, _ = params.entry(name)
        # The echo goes to every GCS, with index 65535 (-1) as ArduPilot sends it.
        self.sim.out.send(self.sim.out.mav.param_value_encode(name.encode(), value, ptype, len(params), 65535))

    # -- commands and modes -------------------------------------------------------------------
    def _on_command_long(self, link, msg, src) -> None:
        p = (msg.param1, msg.param2, msg.param3, msg.param4, msg.param5, msg.param6, msg.param7)
        self._command(link, src, msg.command, p, M.MAV_FRAME_GLOBAL_RELATIVE_ALT)

    def _on_command_int(self, link, msg, src) -> None:
        if msg.command in LOCATION_COMMANDS:
            p5, p6 = msg.x * 1e-7, msg.y * 1e-7
        else:
            p5, p6 = float(msg.x), float(msg.y)
        p = (msg.param1, msg.param2, msg.param3, msg.param4, p5, p6, msg.z)
        self._command(link, src, msg.command, p, msg.frame)

    def _command(self, link: int, src: tuple[int, int], cmd: int, p: tuple[float, ...], frame: int) -> None:
        sim = self.sim
        after = None
        if cmd == M.MAV_CMD_REQUEST_MESSAGE:
            reply = sim.telemetry.build(int(p[0]))
            result = MavResult.ACCEPTED if reply is not None else MavResult.FAILED
            after = reply
        elif cmd == M.MAV_CMD_GET_HOME_POSITION:
            result, after = MavResult.ACCEPTED, sim.telemetry.home_position()
        elif cmd == M.MAV_CMD_REQUEST_AUTOPILOT_CAPABILITIES:
            result, after = MavResult.ACCEPTED, sim.telemetry.autopilot_version()
        elif cmd == M.MAV_CMD_SET_MESSAGE_INTERVAL:
            msgid = int(p[0])
            if msgid not in sim.telemetry.builders:
                result = MavResult.FAILED
            else:
                sim.streams.set_interval(msgid, p[1])
                result = MavResult.ACCEPTED
        elif cmd == M.MAV_CMD_GET_MESSAGE_INTERVAL:
            msgid = int(p[0])
            result = MavResult.ACCEPTED
            after = sim.out.mav.message_interval_encode(msgid, sim.streams.interval_us(msgid) or -1)
        else:
            result = sim.autopilot.command(cmd, p, frame)
        sim.out.send(sim.out.mav.command_ack_encode(cmd, int(result), 0, 0, src[0], src[1]), link)
        if after is not None:
            sim.out.send(after, link)

    def _on_set_mode(self, link, msg, src) -> None:
        if msg.target_system == self.sim.sysid and msg.base_mode & M.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED:
            self.sim.autopilot.set_mode(msg.custom_mode)

    def _on_set_position_target_global_int(self, link, msg, src) -> None:
        if msg.type_mask & 0b111:  # only position targets are simulated
            return
        frame = {M.MAV_FRAME_GLOBAL_INT: 0, M.MAV_FRAME_GLOBAL_RELATIVE_ALT_INT: 3,
                 M.MAV_FRAME_GLOBAL_TERRAIN_ALT_INT: 10}.get(msg.coordinate_frame, 3)
        self.sim.autopilot.guided_goto(msg.lat_int * 1e-7, msg.lon_int * 1e-7, msg.alt, frame)

    # -- mission protocol -------------------------------------------------------------------------
    def _transfer(self, link: int, msg, src) -> PlanTransfer | None:
        mtype = getattr(msg, "mission_type", 0)
        transfer = self.transfers.get(mtype)
        if transfer is None:
            out = self.sim.out
            out.send(out.mav.mission_ack_encode(src[0], src[1], M.MAV_MISSION_UNSUPPORTED, mtype), link)
        return transfer

    def _on_mission_count(self, link, msg, src) -> None:
        if (t := self._transfer(link, msg, src)) is not None:
            t.handle_count(link, src, msg.count)

    def _on_mission_item_int(self, link, msg, src) -> None:
        if (t := self._transfer(link, msg, src)) is not None:
            t.handle_item(link, src, msg.seq, StoredItem.from_int_msg(msg), legacy=False)

    def _on_mission_item(self, link, msg, src) -> None:
        if (t := self._transfer(link, msg, src)) is not None:
            t.handle_item(link, src, msg.seq, StoredItem.from_float_msg(msg), legacy=True)

    def _on_mission_request_list(self, link, msg, src) -> None:
        if (t := self._transfer(link, msg, src)) is not None:
            t.handle_request_list(link, src)

    def _on_mission_request_int(self, link, msg, src) -> None:
        if (t := self._transfer(link, msg, src)) is not None:
            t.handle_request(link, src, msg.seq, as_int=True)

    def _on_mission_request(self, link, msg, src) -> None:
        if (t := self._transfer(link, msg, src)) is not None:
            t.handle_request(link, src, msg.seq, as_int=False)

    def _on_mission_clear_all(self, link, msg, src) -> None:
        mtype = getattr(msg, "mission_type", 0)
        if mtype == MissionType.ALL:
            ap = self.sim.autopilot
            ok = not any(t.receiving for t in self.transfers.values()) and ap.clear_plan(MissionType.ALL)
            result = M.MAV_MISSION_ACCEPTED if ok else M.MAV_MISSION_ERROR
            self.sim.out.send(self.sim.out.mav.mission_ack_encode(src[0], src[1], result, mtype), link)
        elif (t := self._transfer(link, msg, src)) is not None:
            t.handle_clear(link, src)

    def _on_mission_set_current(self, link, msg, src) -> None:
        # The legacy message has no ACK: success shows as MISSION_CURRENT, failure as STATUSTEXT.
        if not self.sim.autopilot.runner.set_current(msg.seq):
            self.sim.out.statustext("Mission: invalid seq", M.MAV_SEVERITY_WARNING)


def _param_name(raw) -> str:
    if isinstance(raw, bytes):
        raw = raw.decode("ascii", "replace")
    return raw.split("\x00", 1)[0].strip()
