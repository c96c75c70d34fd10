"""DJI / Autel RTK shutter-event files (``.mrk``): one text line per photo, read into a trigger table.

Each line is tab separated: photo index, GPS time of week in seconds, ``[week]``, the antenna-to-camera
offsets in millimetres (``dN,N``, ``dE,E``, ``dV,V``), ``lat,Lat``, ``lon,Lon``, ellipsoidal height
``h,Ellh``, three standard deviations in metres (north, east, vertical), and the solution quality
``q,Q`` (50 = RTK fixed, 34 = float, 16 = single). Fields are recognised by their suffix, not by their
position, so variants that drop or reorder columns still parse; lines that do not parse are counted
as skipped. Times become UTC via the GPS week (leap seconds of the day, see :mod:`.gpstime`).

Heights are ellipsoidal (WGS84), not above mean sea level: they are kept as ``alt_ellipsoid``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from skyscan.errors import LogFormatError

from .gpstime import gps_to_unix
from .tables import Log, Skipped, Table

__all__ = ["looks_like_mrk", "parse_mrk", "read_mrk"]

_LINE = re.compile(r"^\s*(\d+)\s+(\d+(?:\.\d*)?)\s+\[(\d+)\]")
_NUM = r"[-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?"
_TAGGED = re.compile(rf"({_NUM})\s*,\s*(N|E|V|Lat|Lon|Ellh|Q)\b")
_TRIPLE = re.compile(rf"(?:^|\t)\s*({_NUM})\s*,\s*({_NUM})\s*,\s*({_NUM})\s*(?=\t|$)")
_TAGS = {"N": "offset_n", "E": "offset_e", "V": "offset_v", "Lat": "lat", "Lon": "lon", "Ellh": "alt_ellipsoid",
         "Q": "rtk_flag"}


def looks_like_mrk(head: bytes) -> bool:
    """Whether the first bytes of a file look like an MRK event list."""
    try:
        text = head.decode("ascii")
    except UnicodeDecodeError:
        return False
    lines = [ln for ln in text.splitlines()[:5] if ln.strip()]
    return bool(lines) and all(_LINE.match(ln) for ln in lines[:-1] or lines) and ",Lat" in text


def read_mrk(path: str | os.PathLike) -> Log:
    """Read an ``.mrk`` file into a :class:`Log` with one table, ``mrk`` (one row per shutter event)."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8", "replace")
    except OSError as exc:
        raise LogFormatError(f"cannot read {path}: {exc.strerror or exc}; check the path and permissions") from exc
    return parse_mrk(text, path)


def parse_mrk(text: str, path: Path | None = None) -> Log:
    """Parse MRK text; see :func:`read_mrk`."""
    rows: list[dict[str, float]] = []
    bad_bytes = 0
    # Text lines: a few hundred per flight, one regex pass each.
    for line in text.splitlines():
        if not line.strip():
            continue
        row = _parse_line(line)
        if row is None:
            bad_bytes += len(line) + 1
        else:
            rows.append(row)
    where = str(path) if path else "MRK text"
    if not rows:
        raise LogFormatError(f"no shutter events found in {where}; expected lines like "
                             "'1<TAB>296288.24<TAB>[2211]<TAB>...<TAB>47.64,Lat<TAB>16.47,Lon<TAB>513.0,Ellh...'")
    keys = ("index", "gps_week", "gps_tow", "offset_n", "offset_e", "offset_v", "lat", "lon", "alt_ellipsoid",
            "std_n", "std_e", "std_v", "rtk_flag")
    cols = {k: np.array([r.get(k, np.nan) for r in rows], dtype=np.float64) for k in keys}
    cols["index"] = cols["index"].astype(np.int64)
    cols["gps_week"] = cols["gps_week"].astype(np.int64)
    cols["rtk_flag"] = np.nan_to_num(cols["rtk_flag"], nan=0).astype(np.int64)
    for k in ("offset_n", "offset_e", "offset_v"):
        cols[k] = cols[k] / 1000.0  # millimetres in the file
    cols["time"] = gps_to_unix(cols["gps_week"], cols["gps_tow"])
    units = {"time": "s", "gps_tow": "s", "lat": "deg", "lon": "deg", "alt_ellipsoid": "m", "offset_n": "m",
             "offset_e": "m", "offset_v": "m", "std_n": "m", "std_e": "m", "std_v": "m"}
    table = Table("mrk", cols, units)
    return Log(path=path, format="mrk", tables={"mrk": table}, counts={"mrk": len(table)},
               skipped=Skipped(garbage_bytes=bad_bytes), utc=True, info={})


def _parse_line(line: str) -> dict[str, float] | None:
    m = _LINE.match(line)
    if m is None:
        return None
    row: dict[str, float] = {"index": float(m[1]), "gps_tow": float(m[2]), "gps_week": float(m[3])}
    rest = line[m.end():]
    for value, tag in _TAGGED.findall(rest):
        row[_TAGS[tag]] = float(value)
    triple = _TRIPLE.search(rest)
    if triple:
        row["std_n"], row["std_e"], row["std_v"] = (float(v) for v in triple.groups())
    if "lat" not in row or "lon" not in row or not (-90 <= row["lat"] <= 90 and -180 <= row["lon"] <= 180):
        return None
    return row
