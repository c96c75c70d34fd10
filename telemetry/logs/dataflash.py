"""ArduPilot DataFlash logs (``.bin``): self-describing binary records, read in bulk with numpy.

Every record is ``0xA3 0x95 <type id>`` and a packed little-endian payload. FMT records (type 128:
``Type B, Length B, Name 4s, Format 16s, Columns 64s``) define every other type: its name, total length
(header included), one format character per column, and the column names. FMTU/UNIT/MULT records add
units and multipliers. Layouts change between firmware versions (CAM/TRIG, GPS, ATT have had several),
so everything is decoded through the FMT found in the file, never through fixed offsets.

Reading, all vectorised: find every header, decode the FMT records, give each header its record length,
keep the records that chain into their neighbours and do not overlap (:mod:`.framing`; DataFlash has no
checksum, so a header is trusted when the record before ends where it starts and it ends where the next
one starts), then decode all records of one type through one numpy dtype.

Format characters: ``b B h H i I q Q`` integers, ``f d`` float/double, ``g`` half float, ``n N Z``
char[4/16/64], ``a`` int16[32], ``M`` flight mode (uint8), and the scaled ones, stored as float64 after
scaling as DFReader does: ``c C`` int16/uint16 / 100, ``e E`` int32/uint32 / 100, ``L`` int32 degrees * 1e7.

Time: ``time_boot`` is seconds since boot from ``TimeUS`` (or the older ``TimeMS``; old GPS records carry
boot time in ``T``), carried forward for records without a time field as DFReader does. ``time`` is UTC
when GPS records give the GPS week and time of week (``GWk``/``GMS``, older ``Week``/``TimeMS``): the
median offset between GPS time (minus the leap seconds of the day) and boot time; otherwise it is
``time_boot``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from skyscan.errors import LogFormatError

from .framing import is_member, lone_outliers, map_file, select_records
from .gpstime import gps_to_unix
from .tables import Log, Skipped, Table

__all__ = ["FORMAT_CHARS", "DFFormat", "parse_dataflash", "read_dataflash"]

HEAD1, HEAD2 = 0xA3, 0x95
FMT_TYPE, FMT_LENGTH = 0x80, 89
_CHUNK = 1 << 24
_TIME_TOLERANCE_S = 600.0  # consecutive records more than 10 minutes apart from both neighbours: damaged

# format char -> (numpy type, divisor applied when decoding or None)
FORMAT_CHARS: dict[str, tuple[str | tuple[str, tuple[int]], float | None]] = {
    "a": (("<i2", (32,)), None),
    "b": ("i1", None),
    "B": ("u1", None),
    "h": ("<i2", None),
    "H": ("<u2", None),
    "i": ("<i4", None),
    "I": ("<u4", None),
    "q": ("<i8", None),
    "Q": ("<u8", None),
    "f": ("<f4", None),
    "d": ("<f8", None),
    "g": ("<f2", None),
    "n": ("S4", None),
    "N": ("S16", None),
    "Z": ("S64", None),
    "M": ("u1", None),
    "c": ("<i2", 100.0),
    "C": ("<u2", 100.0),
    "e": ("<i4", 100.0),
    "E": ("<u4", 100.0),
    "L": ("<i4", 1e7),
}
_MULT_PREFIX = {1.0: "", 1e-1: "d", 1e-2: "c", 1e-3: "m", 1e-6: "u", 1e-9: "n"}
_FMT_DTYPE = np.dtype([("Type", "u1"), ("Length", "u1"), ("Name", "S4"), ("Format", "S16"), ("Columns", "S64")])


@dataclass(frozen=True)
class DFFormat:
    """One FMT definition: type id, name, record length (with the 3-byte header), format chars, columns."""

    type: int
    name: str
    length: int
    format: str
    columns: tuple[str, ...]

    @property
    def dtype(self) -> np.dtype:
        """Packed numpy dtype of the payload (after the 3-byte header)."""
        return np.dtype([(c, FORMAT_CHARS[f][0]) for c, f in zip(self.columns, self.format, strict=True)])


def read_dataflash(path: str | os.PathLike, types: Iterable[str] | None = None) -> Log:
    """Read an ArduPilot DataFlash ``.bin`` log into a :class:`Log` of per-message tables.

    ``types`` limits decoding to those message names (e.g. ``["GPS", "CAM"]``); counts cover all.
    Raises :class:`LogFormatError` when the file cannot be read or holds no usable record.
    """
    path = Path(path)
    buf = map_file(path)
    return parse_dataflash(buf, types=types, path=path)


def parse_dataflash(data: bytes | np.ndarray, types: Iterable[str] | None = None, path: Path | None = None) -> Log:
    """Decode DataFlash content held in memory (bytes or a uint8 array); see :func:`read_dataflash`."""
    buf = np.frombuffer(data, dtype=np.uint8) if isinstance(data, bytes | bytearray | memoryview) else data
    where = str(path) if path else "DataFlash data"
    n = int(buf.size)
    skipped = Skipped()

    heads = _headers(buf)
    tids = np.asarray(buf[np.minimum(heads + 2, max(n - 1, 0))]).astype(np.int64) if heads.size else heads
    formats = _formats(buf, heads[tids == FMT_TYPE], skipped)
    if len(formats) <= 1:  # FMT itself is always known; a log defines the rest
        raise LogFormatError(f"no DataFlash FMT records in {where}; is it an ArduPilot .bin log? "
                             "(text .log files and PX4 .ulg files are different formats)")

    length = np.zeros(256, dtype=np.int64)
    for f in formats.values():
        length[f.type] = f.length
    rec_len = length[tids]
    ends = heads + rec_len
    complete = (rec_len > 0) & (ends <= n)
    truncated = (rec_len > 0) & (ends > n)

    cs, ce = heads[complete], ends[complete]
    inl = is_member(cs, np.sort(ce)) | (cs == 0)
    outl = is_member(ce, cs) | (ce == n)
    prio = np.where(inl & outl, 0, np.where(inl | outl, 1, 2))
    keep = select_records(cs, ce, prio)
    acc_pos, acc_end = cs[keep], ce[keep]
    acc_type = tids[complete][keep]
    if acc_pos.size == 0:
        raise LogFormatError(f"no complete DataFlash records in {where}; the file is empty or damaged")

    _account(skipped, n, heads, tids, rec_len, truncated, acc_pos, acc_end)

    names = _unique_names(formats)
    counts: dict[str, int] = {}
    type_counts = np.bincount(acc_type, minlength=256)
    for tid in formats:
        if type_counts[tid]:
            counts[names[tid]] = int(type_counts[tid])

    time_boot = _boot_time(buf, formats, acc_pos, acc_type, skipped)
    wanted = set(names.values()) if types is None else ({types} if isinstance(types, str) else set(types))
    order = np.argsort(acc_type, kind="stable")  # file order within each type
    bounds = np.flatnonzero(np.diff(acc_type[order])) + 1
    groups = {int(acc_type[g[0]]): g for g in np.split(order, bounds) if g.size}

    raw_tables: dict[str, dict[str, np.ndarray]] = {}
    needed = wanted | {"GPS", "GPS2", "PARM", "MSG", "FMTU", "UNIT", "MULT"}
    for tid, grp in groups.items():
        fmt = formats[tid]
        if names[tid] in needed:
            cols = _decode_type(buf, fmt, acc_pos[grp])
            cols["time_boot"] = time_boot[grp]
            raw_tables[names[tid]] = cols

    offset = _utc_offset(raw_tables)
    units = _units(raw_tables, formats, names)
    tables: dict[str, Table] = {}
    for name, cols in raw_tables.items():
        if name not in wanted:
            continue
        cols["time"] = cols["time_boot"] + offset if offset is not None else cols["time_boot"].copy()
        u = dict(units.get(name, {}))
        u["time_boot"] = u["time"] = "s"
        tables[name] = Table(name, cols, u)

    info: dict[str, object] = {
        "params": _params(raw_tables.get("PARM")),
        "messages": [_text(v) for v in raw_tables["MSG"]["Message"].tolist()]
        if "MSG" in raw_tables and _textual(raw_tables["MSG"], "Message") else [],
        "formats": {names[t]: f for t, f in formats.items()},
        "bytes": n,
    }
    info["vehicle"] = _vehicle(info["messages"])
    return Log(path=path, format="dataflash", tables=tables, counts=dict(sorted(counts.items())),
               skipped=skipped, utc=offset is not None, info=info)


def _headers(buf: np.ndarray) -> np.ndarray:
    """Positions of every 0xA3 0x95 pair (scanned in chunks to bound temporary memory)."""
    n = buf.size
    found = []
    for off in range(0, max(n - 2, 0), _CHUNK):
        chunk = np.asarray(buf[off:min(off + _CHUNK + 1, n)])
        hit = (chunk[:-1] == HEAD1) & (chunk[1:] == HEAD2)
        found.append(np.flatnonzero(hit) + off)
    pos = np.concatenate(found) if found else np.zeros(0, np.int64)
    return pos[pos + 3 <= n].astype(np.int64)


def _text(raw: bytes) -> str:
    return raw.split(b"\x00", 1)[0].decode("ascii", "replace")


def _formats(buf: np.ndarray, fmt_pos: np.ndarray, skipped: Skipped) -> dict[int, DFFormat]:
    """Valid FMT definitions by type id; the first valid one of a type wins, later changes are reported."""
    formats: dict[int, DFFormat] = {
        FMT_TYPE: DFFormat(FMT_TYPE, "FMT", FMT_LENGTH, "BBnNZ", ("Type", "Length", "Name", "Format", "Columns"))}
    fmt_pos = fmt_pos[fmt_pos + FMT_LENGTH <= buf.size]
    if fmt_pos.size == 0:
        return formats
    recs = np.ascontiguousarray(sliding_window_view(buf, FMT_LENGTH - 3)[fmt_pos + 3]).view(_FMT_DTYPE)[:, 0]
    # One loop iteration per FMT record: a log has one per message type (tens to a few hundred).
    for tid, ln, name_b, fmt_b, cols_b in zip(recs["Type"].tolist(), recs["Length"].tolist(), recs["Name"].tolist(),
                                              recs["Format"].tolist(), recs["Columns"].tolist(), strict=True):
        name, fmt, cols = _text(name_b), _text(fmt_b), _text(cols_b)
        if not name.replace("_", "").isalnum() or not cols.isprintable():
            continue  # not a real FMT (a header pattern inside other data), or garbage
        odd = sorted({ch for ch in fmt if ch not in FORMAT_CHARS})
        if odd:
            note = f"{name}: unknown format character(s) {''.join(odd)!r}"
            if note not in skipped.bad_formats:
                skipped.bad_formats.append(note)  # a newer firmware's type: its records are skipped
            continue
        if tid == FMT_TYPE:
            continue  # FMT itself is fixed (it is how everything else is read); a redefinition is corruption
        columns = _column_names(cols, len(fmt))
        df = DFFormat(int(tid), name, int(ln), fmt, columns)
        if df.dtype.itemsize + 3 != df.length:
            if df.type not in formats:
                skipped.bad_formats.append(f"{name}: length {ln} does not match format {fmt!r}")
            continue
        if df.type in formats:
            if formats[df.type] != df and f"{name} redefined" not in skipped.bad_formats:
                skipped.bad_formats.append(f"{name} redefined")
            continue
        formats[df.type] = df
    return formats


def _column_names(cols: str, count: int) -> tuple[str, ...]:
    """Column names for ``count`` fields: unique, padded when the FMT lists too few."""
    names = [c.strip() for c in cols.split(",")] if cols else []
    names = (names + [f"field{i}" for i in range(len(names), count)])[:count]
    seen: dict[str, int] = {}
    out = []
    for c in names:
        c = c or "field"
        if c in ("time", "time_boot"):
            c += "_"
        k = seen.get(c, 0)
        seen[c] = k + 1
        out.append(c if k == 0 else f"{c}_{k + 1}")
    return tuple(out)


def _unique_names(formats: dict[int, DFFormat]) -> dict[int, str]:
    names: dict[int, str] = {}
    used: set[str] = set()
    for tid in sorted(formats):
        name = formats[tid].name
        names[tid] = name if name not in used else f"{name}#{tid}"
        used.add(names[tid])
    return names


def _account(skipped: Skipped, n: int, heads: np.ndarray, tids: np.ndarray, rec_len: np.ndarray,
             truncated: np.ndarray, acc_pos: np.ndarray, acc_end: np.ndarray) -> None:
    """Fill ``skipped``: headers of undefined types outside records, a truncated tail, garbage bytes."""
    j = np.searchsorted(acc_pos, heads, side="right") - 1
    inside = (j >= 0) & (acc_end[np.maximum(j, 0)] > heads)
    stray = ~inside & (rec_len == 0)
    ids, cnt = np.unique(tids[stray], return_counts=True)
    skipped.unknown_ids = {int(i): int(k) for i, k in zip(ids, cnt, strict=True)}
    last_end = int(acc_end[-1])
    tail = 0
    if last_end < n and (np.any(heads[truncated] == last_end) or n - last_end < 3):
        tail = n - last_end
    skipped.truncated_tail_bytes = tail
    skipped.garbage_bytes = n - int((acc_end - acc_pos).sum()) - tail


def _boot_time(buf: np.ndarray, formats: dict[int, DFFormat], pos: np.ndarray, tid: np.ndarray,
               skipped: Skipped) -> np.ndarray:
    """Seconds since boot for every record, carried forward to records without a time field.

    A record whose time is far from its timed neighbours (a damaged record; DataFlash has no checksum)
    is treated as untimed.
    """
    t = np.full(len(pos), np.nan)
    for typ, f in formats.items():
        col, scale = _time_field(f)
        if col is None:
            continue
        sel = np.flatnonzero(tid == typ)
        if sel.size == 0:
            continue
        # Only the time field's bytes are gathered: a few bytes per record, not the whole payload.
        start = 3 + f.dtype.fields[col][1]
        ftype = np.dtype(FORMAT_CHARS[f.format[f.columns.index(col)]][0])
        raw = sliding_window_view(buf, ftype.itemsize)[pos[sel] + start]
        t[sel] = np.ascontiguousarray(raw).view(ftype)[:, 0] * scale
    have = ~np.isnan(t)
    if not have.any():
        return t
    timed = np.flatnonzero(have)
    bad = timed[lone_outliers(t[timed], _TIME_TOLERANCE_S)]
    if bad.size:
        skipped.bad_timestamps = int(bad.size)
        t[bad] = np.nan
        have[bad] = False
    # forward fill: each record takes the time of the last timed record before it (the first timed one
    # for the records before any), as DFReader's clocks do.
    last = np.where(have, np.arange(len(t)), 0)
    np.maximum.accumulate(last, out=last)
    first = int(np.argmax(have))
    last[:first] = first
    return t[last]


def _time_field(f: DFFormat) -> tuple[str | None, float]:
    """The boot-time column of a type and its unit in seconds, or (None, 0) when it has none."""
    def integer(col: str) -> bool:
        return f.format[f.columns.index(col)] in "QIqiHh"

    if f.columns and f.columns[0] == "TimeUS" and integer("TimeUS"):
        return "TimeUS", 1e-6
    if f.name in ("GPS", "GPS2") and "T" in f.columns and integer("T"):
        return "T", 1e-3  # old GPS: TimeMS is GPS time of week, T is boot time
    if f.columns and f.columns[0] == "TimeMS" and integer("TimeMS"):
        return "TimeMS", 1e-3
    return None, 0.0


def _numeric(cols: dict[str, np.ndarray], *names: str) -> bool:
    """Whether all ``names`` exist as 1-D numeric columns (a damaged FMT may say otherwise)."""
    return all(n in cols and cols[n].ndim == 1 and cols[n].dtype.kind in "iuf" for n in names)


def _integer(cols: dict[str, np.ndarray], *names: str) -> bool:
    return _numeric(cols, *names) and all(cols[n].dtype.kind in "iu" for n in names)


def _textual(cols: dict[str, np.ndarray], *names: str) -> bool:
    return all(n in cols and cols[n].dtype.kind == "S" for n in names)


def _decode_type(buf: np.ndarray, fmt: DFFormat, pos: np.ndarray) -> dict[str, np.ndarray]:
    if fmt.length == 3:
        return {}  # a marker without fields (STRT): only its time
    raw = sliding_window_view(buf, fmt.length - 3)[pos + 3]
    rec = np.ascontiguousarray(raw).view(fmt.dtype)[:, 0]
    cols: dict[str, np.ndarray] = {}
    for name, ch in zip(fmt.columns, fmt.format, strict=True):
        div = FORMAT_CHARS[ch][1]
        cols[name] = rec[name] / div if div else np.ascontiguousarray(rec[name])
    return cols


def _utc_offset(tables: dict[str, dict[str, np.ndarray]]) -> float | None:
    """UTC minus boot time, from GPS records that know the GPS week (median, robust to a late fix)."""
    offsets = []
    for name in ("GPS", "GPS2"):
        g = tables.get(name)
        if g is None:
            continue
        if _numeric(g, "GWk", "GMS"):
            week, ms = g["GWk"], g["GMS"]
        elif _numeric(g, "Week", "TimeMS"):
            week, ms = g["Week"], g["TimeMS"]
        else:
            continue
        ok = (week > 0) & ~np.isnan(g["time_boot"])
        if ok.any():
            offsets.append(gps_to_unix(week[ok], ms[ok] / 1000.0) - g["time_boot"][ok])
    if not offsets:
        return None
    return float(np.median(np.concatenate(offsets)))


def _units(tables: dict[str, dict[str, np.ndarray]], formats: dict[int, DFFormat],
           names: dict[int, str]) -> dict[str, dict[str, str]]:
    """Units per table and column from FMTU + UNIT + MULT (prefixed by the multiplier as DFReader does)."""
    fmtu, unit, mult = tables.get("FMTU"), tables.get("UNIT"), tables.get("MULT")
    if (fmtu is None or unit is None or not _integer(fmtu, "FmtType") or not _textual(fmtu, "UnitIds", "MultIds")
            or not _integer(unit, "Id") or not _textual(unit, "Label")):
        return {}
    if mult is not None and not (_integer(mult, "Id") and _numeric(mult, "Mult")):
        mult = None
    labels = {chr(i % 256): _text(lb) for i, lb in zip(unit["Id"].tolist(), unit["Label"].tolist(), strict=True)}
    mults: dict[str, float] = {}
    if mult is not None:
        # Multipliers are logged as doubles cast from floats: round to 7 digits to recognise 1e-2 etc.
        mults = {chr(i % 256): float(f"{m:.7g}") for i, m in zip(mult["Id"].tolist(), mult["Mult"].tolist(),
                                                                   strict=True)}
    out: dict[str, dict[str, str]] = {}
    for tid, uids, mids in zip(fmtu["FmtType"].tolist(), fmtu["UnitIds"].tolist(), fmtu["MultIds"].tolist(),
                               strict=True):
        f = formats.get(int(tid))
        if f is None:
            continue
        uids, mids = _text(uids), _text(mids)
        u: dict[str, str] = {}
        for i, (col, ch) in enumerate(zip(f.columns, f.format, strict=True)):
            label = labels.get(uids[i], "") if i < len(uids) else ""
            if not label or label == "-":
                continue
            m = mults.get(mids[i]) if i < len(mids) else None
            if FORMAT_CHARS[ch][1] is None and m not in (None, 0.0, 1.0):
                label = _MULT_PREFIX[m] + label if m in _MULT_PREFIX else f"{m:g} {label}"
            u[col] = label
        out[names[int(tid)]] = u
    return out


def _params(parm: dict[str, np.ndarray] | None) -> dict[str, float]:
    if parm is None or not _textual(parm, "Name") or not _numeric(parm, "Value"):
        return {}
    return {_text(k): float(v) for k, v in zip(parm["Name"].tolist(), parm["Value"].tolist(), strict=True)}


def _vehicle(messages: list[str]) -> str:
    """Vehicle family from the firmware banner ('ArduCopter V3.3.3' -> 'copter'), as DFReader guesses it."""
    for text in messages:
        for key, kind in (("Copter", "copter"), ("Plane", "plane"), ("Rover", "rover"), ("Sub", "sub"),
                          ("Blimp", "blimp"), ("Antenna", "tracker")):
            if key in text:
                return kind
    return ""
