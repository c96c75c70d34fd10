"""Simulated time: seconds since boot, and the UTC it corresponds to.

Every message and log record is stamped from this clock, never from the wall clock, so a flight run
at 50x real time looks exactly like one run at 1x.
"""

from __future__ import annotations

__all__ = ["SimClock"]


class SimClock:
    """Boot-relative simulated time with a fixed UTC epoch for boot."""

    __slots__ = ("epoch_unix_us", "t")

    def __init__(self, epoch_unix_s: float):
        self.epoch_unix_us = round(epoch_unix_s * 1e6)
        self.t = 0.0  # seconds since boot

    @property
    def boot_ms(self) -> int:
        """time_boot_ms of MAVLink messages."""
        return int(self.t * 1000.0)

    @property
    def boot_us(self) -> int:
        return int(self.t * 1e6)

    @property
    def unix_us(self) -> int:
        """Simulated UTC, microseconds since 1970 (time_unix_usec, tlog timestamps)."""
        return self.epoch_unix_us + int(self.t * 1e6)

    def unix_us_at(self, t: float) -> int:
        """Simulated UTC of the simulated time ``t`` (seconds since boot)."""
        return self.epoch_unix_us + int(t * 1e6)
