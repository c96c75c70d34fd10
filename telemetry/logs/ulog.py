"""PX4 ULog files (``.ulg``) through pyulog, converted to the same table shape as the other readers.

pyulog already decodes each topic into a dict of numpy arrays, so this module only reshapes: one table
per topic instance (``vehicle_gps_position``, ``battery_status[1]`` for multi-instance topics), array
fields gathered into 2-D columns (``q[0]..q[3]`` -> ``q``), ``time_boot`` from the µs ``timestamp`` and
``time`` in UTC when a GPS topic carries ``time_utc_usec``. Logged text messages become the
``logging`` table (``level`` 0 = emergency ... 7 = debug, as syslog).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from skyscan.errors import LogFormatError

from .tables import Log, Skipped, Table

__all__ = ["ULOG_MAGIC", "read_ulog"]

ULOG_MAGIC = b"ULog\x01\x12\x35"
_ARRAY_FIELD = re.compile(r"^(.*)\[(\d+)\]$")
_GPS_TOPICS = ("vehicle_gps_position", "sensor_gps")


class _ReadBudgetExceeded(Exception):
    """pyulog kept reading far beyond what the file size allows: it is stuck on damaged data."""


class _BoundedFile:
    """A read-only file that allows a bounded number of reads.

    pyulog 1.3.0 loops forever on some truncated definition sections (after a corrupt message header it
    seeks back further than it read); a healthy parse needs at most about two reads per byte (its byte-wise
    resync), so a budget of four per byte cuts the loop without limiting real files.
    """

    def __init__(self, fh: io.BufferedReader, size: int) -> None:
        self._fh = fh
        self._budget = 4 * size + 10_000
        self._reads = 0

    def read(self, n: int = -1) -> bytes:
        self._reads += 1
        if self._reads > self._budget:
            raise _ReadBudgetExceeded
        return self._fh.read(n)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._fh.seek(offset, whence)

    def tell(self) -> int:
        return self._fh.tell()

    def close(self) -> None:
        self._fh.close()


def read_ulog(path: str | os.PathLike, types: Iterable[str] | None = None) -> Log:
    """Read a PX4 ``.ulg`` into a :class:`Log` (needs pyulog). ``types`` limits the topics decoded."""
    try:
        from pyulog import ULog
    except ImportError as exc:  # optional dependency: only .ulg files need it
        raise LogFormatError(f"reading {path} needs pyulog; install it with: pip install pyulog==1.3.0") from exc
    path = Path(path)
    names = None if types is None else ([types] if isinstance(types, str) else list(types))
    chatter = io.StringIO()  # pyulog prints its warnings; keep them for info["warnings"], off the console
    try:
        with path.open("rb") as fh:
            if fh.read(len(ULOG_MAGIC)) != ULOG_MAGIC:
                raise LogFormatError(f"{path} is not a PX4 ULog file (no 'ULog' header); "
                                     "use .tlog, .bin, .ulg or .mrk files")
            fh.seek(0)
            with contextlib.redirect_stdout(chatter):
                ulog = ULog(_BoundedFile(fh, path.stat().st_size), message_name_filter_list=names,
                            disable_str_exceptions=True)
    except LogFormatError:
        raise
    except OSError as exc:
        raise LogFormatError(f"cannot read {path}: {exc.strerror or exc}; check the path and permissions") from exc
    except _ReadBudgetExceeded as exc:
        raise LogFormatError(f"{path} is a damaged ULog file on which pyulog gets stuck (truncated or corrupt "
                             "header section); try PX4's ulog_info to see how much of it survives") from exc
    except Exception as exc:  # pyulog raises bare exceptions on damaged files
        raise LogFormatError(f"{path} is a damaged ULog file that pyulog cannot read ({exc}); "
                             "try PX4's ulog_info to see how much of it survives") from exc

    offset = _utc_offset(ulog)
    tables: dict[str, Table] = {}
    counts: dict[str, int] = {}
    for d in ulog.data_list:
        name = d.name if d.multi_id == 0 else f"{d.name}[{d.multi_id}]"
        cols = _columns(d.data)
        if "timestamp" in cols:
            cols["time_boot"] = cols["timestamp"] / 1e6
            cols["time"] = cols["time_boot"] + offset if offset is not None else cols["time_boot"].copy()
        tables[name] = Table(name, cols, {"timestamp": "us", "time_boot": "s", "time": "s"})
        counts[name] = len(tables[name])
    tables["logging"] = _logging(ulog, offset)
    counts["logging"] = len(tables["logging"])

    corrupt = bool(getattr(ulog, "file_corruption", False))
    info: dict[str, object] = {
        "params": dict(ulog.initial_parameters),
        "system": {k: v for k, v in ulog.msg_info_dict.items() if isinstance(v, str | int | float)},
        "dropouts": len(ulog.dropouts),
        "corrupted": corrupt,
        "vehicle": "px4",
        "warnings": chatter.getvalue().splitlines()[:50],
    }
    skipped = Skipped(bad_formats=["pyulog reported file corruption"] if corrupt else [])
    return Log(path=path, format="ulog", tables=tables, counts=dict(sorted(counts.items())), skipped=skipped,
               utc=offset is not None, info=info)


def _columns(data: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """pyulog's flat fields, with ``x[0]..x[n-1]`` stacked into one 2-D column ``x``."""
    arrays: dict[str, dict[int, np.ndarray]] = defaultdict(dict)
    cols: dict[str, np.ndarray] = {}
    for key, values in data.items():
        m = _ARRAY_FIELD.match(key)
        if m and "." not in m[1]:
            arrays[m[1]][int(m[2])] = values
        else:
            cols[key] = values
    for base, parts in arrays.items():
        if base in cols or sorted(parts) != list(range(len(parts))):
            cols.update({f"{base}[{i}]": v for i, v in parts.items()})  # gaps: keep them as pyulog named them
        else:
            cols[base] = np.column_stack([parts[i] for i in range(len(parts))])
    return cols


def _utc_offset(ulog) -> float | None:
    """UTC minus boot time in seconds, from a GPS topic's ``time_utc_usec`` (median over valid fixes)."""
    for d in ulog.data_list:
        if d.name in _GPS_TOPICS and "time_utc_usec" in d.data:
            utc = d.data["time_utc_usec"].astype(np.float64)
            ok = utc > 1e15  # zero (or boot-relative garbage) until the receiver knows the time
            if ok.any():
                return float(np.median(utc[ok] - d.data["timestamp"][ok].astype(np.float64)) / 1e6)
    return None


def _logging(ulog, offset: float | None) -> Table:
    msgs = list(ulog.logged_messages)
    ts = np.array([m.timestamp for m in msgs], dtype=np.float64)
    # pyulog gives the level as the ASCII digit's code ('0'..'7' -> 48..55) for old-style messages.
    level = np.array([m.log_level - 48 if m.log_level >= 48 else m.log_level for m in msgs], dtype=np.int16)
    text = np.array([m.message.encode("utf-8", "replace") for m in msgs], dtype=np.bytes_) if msgs else \
        np.zeros(0, dtype="S1")
    boot = ts / 1e6
    return Table("logging", {
        "timestamp": ts.astype(np.uint64), "level": level, "message": text,
        "time_boot": boot, "time": boot + offset if offset is not None else boot.copy(),
    }, {"time": "s", "time_boot": "s"})
