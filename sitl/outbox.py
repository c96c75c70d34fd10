"""Outgoing MAVLink: packs messages once, records them in the tlog and queues them for the links.

Messages go either to every link (telemetry, STATUSTEXT, PARAM_VALUE after a set) or to the one link
a request came from (COMMAND_ACK, mission transfer messages), as ArduPilot answers on the requesting
channel. One sequence counter serves all links, so a link sees a gap in ``seq`` where another link got
a directed reply; GCSs count that as a lost packet only, and it saves packing every message per link.
"""

from __future__ import annotations

from collections.abc import Callable

from sitl.clock import SimClock
from sitl.mav import mavlink

__all__ = ["BROADCAST", "Outbox"]

BROADCAST = -1  # link id meaning "every link"


class Outbox:
    """Packs outgoing messages with the vehicle's ids and collects (link id, frame) pairs."""

    def __init__(self, clock: SimClock, sysid: int = 1, compid: int = 1,
                 record: Callable[[int, bytes], None] | None = None):
        self.mav = mavlink.MAVLink(None, srcSystem=sysid, srcComponent=compid)
        self.clock = clock
        self._record = record
        self.frames: list[tuple[int, bytes]] = []

    def send(self, msg, link: int = BROADCAST) -> None:
        """Queue ``msg`` for ``link`` (default: all links)."""
        frame = msg.pack(self.mav)
        self.frames.append((link, frame))
        if self._record is not None:
            self._record(self.clock.unix_us, frame)

    def statustext(self, text: str, severity: int = mavlink.MAV_SEVERITY_INFO) -> None:
        """A STATUSTEXT to every link (ArduPilot sends GCS text on all channels)."""
        self.send(self.mav.statustext_encode(severity, text.encode("ascii", "replace")[:50]))

    def drain(self) -> list[tuple[int, bytes]]:
        """Take every queued frame."""
        frames, self.frames = self.frames, []
        return frames
