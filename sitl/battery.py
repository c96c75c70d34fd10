"""The simulated battery: a LiPo pack whose voltage sags with the current and falls as it empties.

The current follows the flight: idle electronics when disarmed, spinning props when armed on the
ground, and in the air a hover current scaled by thrust^1.5 (momentum theory) plus a climb term. The
remaining capacity is BATT_CAPACITY minus the consumed mAh, which is what ArduPilot's current-sensing
monitor reports.
"""

from __future__ import annotations

import bisect

__all__ = ["Battery"]

# Open-circuit voltage of one LiPo cell against state of charge.
_SOC = (0.0, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0)
_OCV = (3.0, 3.4, 3.55, 3.65, 3.75, 3.85, 3.98, 4.2)

IDLE_A = 0.3  # electronics only
ARMED_A = 2.0  # props spinning on the ground
HOVER_A = 14.0  # hover at thrust = weight
CLIMB_A_PER_MS = 3.0  # extra current per m/s of climb
CELL_OHM = 0.015  # internal resistance per cell


def _ocv_per_cell(soc: float) -> float:
    soc = max(0.0, min(1.0, soc))
    i = bisect.bisect_right(_SOC, soc) - 1
    if i >= len(_SOC) - 1:
        return _OCV[-1]
    f = (soc - _SOC[i]) / (_SOC[i + 1] - _SOC[i])
    return _OCV[i] + f * (_OCV[i + 1] - _OCV[i])


class Battery:
    """Pack state: ``voltage`` (V), ``current`` (A), ``consumed_mah`` and capacity."""

    __slots__ = ("_cells", "capacity_mah", "consumed_mah", "current", "full_voltage", "voltage")

    def __init__(self, capacity_mah: float = 5200.0, full_voltage: float = 12.6):
        self.capacity_mah = capacity_mah
        self.full_voltage = full_voltage
        self._cells = max(1, round(full_voltage / 4.2))
        self.consumed_mah = 0.0
        self.current = 0.0
        self.voltage = full_voltage

    @property
    def remaining_mah(self) -> float:
        return self.capacity_mah - self.consumed_mah

    @property
    def remaining_pct(self) -> int:
        """Remaining capacity, 0-100 %."""
        if self.capacity_mah <= 0:
            return 0
        return max(0, min(100, round(100.0 * self.remaining_mah / self.capacity_mah)))

    @property
    def cells(self) -> int:
        return self._cells

    @staticmethod
    def load(armed: bool, airborne: bool, thrust: float, climb: float) -> float:
        """Current drawn (A) in a flight state; ``thrust`` is thrust/weight, ``climb`` m/s up."""
        if not armed:
            return IDLE_A
        if not airborne:
            return ARMED_A
        return HOVER_A * max(thrust, 0.3) ** 1.5 + CLIMB_A_PER_MS * max(climb, 0.0)

    def step(self, dt: float, current: float) -> None:
        """Draw ``current`` amps for ``dt`` seconds."""
        self.current = current
        self.consumed_mah += current * dt / 3.6
        soc = self.remaining_mah / self.capacity_mah if self.capacity_mah > 0 else 0.0
        ocv = _ocv_per_cell(soc) * self.full_voltage / 4.2
        self.voltage = max(0.0, ocv - current * CELL_OHM * self._cells)
