"""Terrain: the ground height the simulated vehicle flies over and lands on.

A terrain is any callable ``(lat, lon) -> ground altitude AMSL in metres``. The default is flat at the
home altitude; a world with a DEM (``sitl/world.py``) plugs its own height function in through
:class:`~sitl.simulator.Simulator` (``terrain=``). The simulator calls it a few times per physics step,
so a DEM lookup should be a cheap scalar function (e.g. bilinear in a numpy array held in memory).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["FlatTerrain", "TerrainFn"]

#: (latitude deg, longitude deg) -> ground altitude above mean sea level, m.
TerrainFn = Callable[[float, float], float]


@dataclass(frozen=True, slots=True)
class FlatTerrain:
    """Ground at the same altitude everywhere."""

    alt_amsl: float

    def __call__(self, lat: float, lon: float) -> float:
        return self.alt_amsl
