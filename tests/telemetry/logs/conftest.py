"""Fixtures for the log-reader tests: the real logs of the shared data set (skipped when absent)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def flight_logs(shared_data: Path) -> Path:
    """../shared/data/flight_logs (skips when the shared data set is not installed)."""
    path = shared_data / "flight_logs"
    if not path.is_dir():
        pytest.skip(f"flight logs not found at {path}")
    return path


@pytest.fixture(scope="session")
def vtol_tlog(flight_logs: Path) -> Path:
    """ArduPlane SITL VTOL flight, 2018 (MAVLink 1 frames, 23 894 messages of 41 types)."""
    return flight_logs / "ardupilot_sitl_uavlogviewer" / "vtol.tlog"


@pytest.fixture(scope="session", params=["16-07-13_17-52-16.bin", "16-07-13_18-04-04.bin"])
def copter_bin(request, flight_logs: Path) -> Path:
    """Two ArduCopter 3.2.1 DataFlash logs (old TimeMS layout), Belo Horizonte, 2016-07-13."""
    return flight_logs / "ardupilot_bin_h3ct0r_px4tools" / request.param


@pytest.fixture(scope="session")
def autel_mrk(flight_logs: Path) -> Path:
    """Autel EVO II RTK shutter events: 176 photos near 47.64 N 16.48 E, 2022-05-25."""
    return flight_logs / "autel_evo2_rtk_mrk_helenenschacht" / "101FTASK_Timestamp.mrk"


@pytest.fixture(scope="session")
def px4_ulogs(flight_logs: Path) -> list[Path]:
    """PX4 ULog samples from pyulog: sample.ulg (no GPS) and sample_log_small.ulg (GPS, 2021-04-21)."""
    return [flight_logs / "px4_ulog_pyulog" / "sample.ulg", flight_logs / "px4_ulog_pyulog" / "sample_log_small.ulg"]
