"""Flight logs the SITL writes: a telemetry log (.tlog) and a ground-truth file.

The ``.tlog`` is the standard format: each record is an 8-byte big-endian timestamp (microseconds,
here simulated UTC) followed by one raw MAVLink frame, for everything the SITL sent and received; any
MAVLink tool reads it (``mavutil.mavlink_connection("x.tlog")``).

The truth file is JSON lines: one ``{"kind": "trigger", ...}`` line per camera trigger (the true pose
the photo was taken from) and ``{"kind": "pose", ...}`` lines at a fixed simulated rate. Both files are
flushed at record boundaries, so a reader never sees half a record, even while the SITL is running.
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from sitl.triggers import TriggerEvent

__all__ = ["FlightLogs", "default_log_dir"]

_STAMP = struct.Struct(">Q")


def default_log_dir() -> Path:
    """Where logs go without --log-dir: ``sitl-logs`` under the current directory."""
    return Path.cwd() / "sitl-logs"


class FlightLogs:
    """The .tlog and truth writers of one SITL run (named after the boot time and process id)."""

    def __init__(self, directory: Path, boot_unix_s: float, name: str | None = None):
        directory.mkdir(parents=True, exist_ok=True)
        if name is None:
            stamp = datetime.fromtimestamp(boot_unix_s, tz=UTC).strftime("%Y%m%dT%H%M%SZ")
            name = f"sitl-{stamp}-{os.getpid()}"
        self.tlog_path = directory / f"{name}.tlog"
        self.truth_path = directory / f"{name}.truth.jsonl"
        self._tlog = open(self.tlog_path, "wb")  # noqa: SIM115 - closed in close()
        self._truth = open(self.truth_path, "w", encoding="utf-8", buffering=1)  # noqa: SIM115 - line-buffered
        self._closed = False

    def record(self, unix_us: int, frame: bytes) -> None:
        """Append one MAVLink frame (sent or received) stamped ``unix_us``."""
        self._tlog.write(_STAMP.pack(unix_us) + frame)

    def trigger(self, event: TriggerEvent) -> None:
        """A camera trigger with its true pose."""
        line = {"kind": "trigger", **asdict(event), "time_utc": event.time_utc.isoformat()}
        self._truth.write(json.dumps(line) + "\n")

    def pose(self, t: float, unix_us: int, lat: float, lon: float, alt_msl: float, alt_rel: float,
             roll: float, pitch: float, yaw: float, vn: float, ve: float, vu: float, mode: str, armed: bool) -> None:
        """One sample of the true track."""
        line = {"kind": "pose", "sim_time_s": round(t, 3), "time_unix_us": unix_us, "lat": round(lat, 8),
                "lon": round(lon, 8), "alt_msl": round(alt_msl, 3), "alt_rel": round(alt_rel, 3),
                "roll": round(roll, 2), "pitch": round(pitch, 2), "yaw": round(yaw, 2), "vn": round(vn, 3),
                "ve": round(ve, 3), "vu": round(vu, 3), "mode": mode, "armed": armed}
        self._truth.write(json.dumps(line) + "\n")

    def flush(self) -> None:
        """Push buffered tlog records to the file (called at record boundaries)."""
        if not self._closed:
            self._tlog.flush()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._tlog.close()
        self._truth.close()
