"""Open any supported flight log: the format is recognised from the content, not only the file name.

* PX4 ULog: starts with ``ULog\\x01\\x12\\x35``;
* ArduPilot DataFlash: ``0xA3 0x95 0x80`` (an FMT record) at the start, or valid FMT records early on;
* DJI/Autel MRK: text lines ``index  time-of-week  [week] ... lat,Lat  lon,Lon ...``;
* tlog: MAVLink frames with valid checksums behind 8-byte timestamps.

A file that is none of these raises :class:`~skyscan.errors.LogFormatError` naming the formats accepted.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from skyscan.errors import LogFormatError

from .dataflash import FMT_TYPE, HEAD1, HEAD2, parse_dataflash, read_dataflash
from .mrk import looks_like_mrk, read_mrk
from .tables import Log
from .tlog import parse_tlog, read_tlog
from .ulog import ULOG_MAGIC, read_ulog

__all__ = ["FORMATS", "detect_format", "read_log"]

FORMATS = ("tlog", "dataflash", "ulog", "mrk")
_SNIFF = 1 << 16
_BY_SUFFIX = {".tlog": "tlog", ".bin": "dataflash", ".ulg": "ulog", ".mrk": "mrk"}


def detect_format(path: str | os.PathLike) -> str:
    """One of :data:`FORMATS` for the file at ``path``; LogFormatError when it is none of them."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            head = fh.read(_SNIFF)
    except OSError as exc:
        raise LogFormatError(f"cannot read {path}: {exc.strerror or exc}; check the path and permissions") from exc
    if not head:
        raise LogFormatError(f"{path} is empty; a flight log needs data (was the download interrupted?)")
    if head.startswith(ULOG_MAGIC):
        return "ulog"
    if head.startswith(bytes([HEAD1, HEAD2, FMT_TYPE])) or _valid_fmt_records(head) >= 3:
        return "dataflash"
    if looks_like_mrk(head):
        return "mrk"
    try:
        log = parse_tlog(head)
        if sum(log.counts.values()) >= 2 or path.suffix.lower() == ".tlog":
            return "tlog"
    except LogFormatError:
        pass
    raise LogFormatError(f"{path} is not a flight log skyscan can read; expected a MAVLink .tlog, an ArduPilot "
                         ".bin (DataFlash), a PX4 .ulg or a DJI/Autel .mrk file")


def _valid_fmt_records(head: bytes) -> int:
    """How many well-formed DataFlash FMT definitions the bytes hold (a log may start with garbage)."""
    try:
        log = parse_dataflash(np.frombuffer(head, dtype=np.uint8), types=["FMT"])
    except LogFormatError:
        return 0
    return len(log.info["formats"]) - 1  # minus FMT itself, which is always known


def read_log(path: str | os.PathLike, types: Iterable[str] | None = None) -> Log:
    """Read any supported log (format recognised from its content) into a :class:`Log`.

    ``types`` limits decoding to those message names (MAVLink names for tlogs, DataFlash names for
    .bin, topic names for .ulg); ignored for .mrk.
    """
    kind = detect_format(path)
    if kind == "tlog":
        return read_tlog(path, types=types)
    if kind == "dataflash":
        return read_dataflash(path, types=types)
    if kind == "ulog":
        return read_ulog(path, types=types)
    return read_mrk(path)
