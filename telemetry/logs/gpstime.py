"""GPS time (week number and time of week) to UTC, for arrays.

GPS time started at 1980-01-06 00:00:00 UTC and has no leap seconds, so it runs ahead of UTC by the
leap seconds inserted since: 18 s since 2017-01-01 (ArduPilot's DFReader and most tools subtract a
constant 18; older Mission Planner code used 17). Logs from before 2017 were recorded when the offset
was smaller, so the offset is looked up by date here (IERS Bulletin C history); a future leap second
must be added to the table.
"""

from __future__ import annotations

import numpy as np

__all__ = ["GPS_EPOCH_UNIX", "gps_to_unix", "leap_seconds_at"]

GPS_EPOCH_UNIX = 315_964_800  # 1980-01-06T00:00:00Z in Unix seconds
SECONDS_PER_WEEK = 604_800

# (Unix time the offset took effect, GPS - UTC in seconds from then on)
_LEAPS = np.array([
    (362_793_600, 1),  # 1981-07-01
    (394_329_600, 2),  # 1982-07-01
    (425_865_600, 3),  # 1983-07-01
    (489_024_000, 4),  # 1985-07-01
    (567_993_600, 5),  # 1988-01-01
    (631_152_000, 6),  # 1990-01-01
    (662_688_000, 7),  # 1991-01-01
    (709_948_800, 8),  # 1992-07-01
    (741_484_800, 9),  # 1993-07-01
    (773_020_800, 10),  # 1994-07-01
    (820_454_400, 11),  # 1996-01-01
    (867_715_200, 12),  # 1997-07-01
    (915_148_800, 13),  # 1999-01-01
    (1_136_073_600, 14),  # 2006-01-01
    (1_230_768_000, 15),  # 2009-01-01
    (1_341_100_800, 16),  # 2012-07-01
    (1_435_708_800, 17),  # 2015-07-01
    (1_483_228_800, 18),  # 2017-01-01
], dtype=np.int64)


def leap_seconds_at(unix_seconds: np.ndarray | float) -> np.ndarray:
    """GPS - UTC (seconds) in force at the given Unix times."""
    idx = np.searchsorted(_LEAPS[:, 0], np.asarray(unix_seconds, dtype=np.float64), side="right") - 1
    return np.where(idx >= 0, _LEAPS[np.maximum(idx, 0), 1], 0)


def gps_to_unix(week: np.ndarray | int, seconds_of_week: np.ndarray | float) -> np.ndarray:
    """UTC as Unix seconds (float64) for GPS week numbers and seconds into the week."""
    gps = (GPS_EPOCH_UNIX + np.asarray(week, dtype=np.float64) * SECONDS_PER_WEEK
           + np.asarray(seconds_of_week, dtype=np.float64))
    # The table is indexed by UTC; near a leap second the GPS-side lookup is off by at most one second.
    return gps - leap_seconds_at(gps - 18)
