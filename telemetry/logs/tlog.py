"""Telemetry logs (``.tlog``): the MAVLink stream a ground station received, read in bulk with numpy.

A tlog has no header: it is a sequence of records, each an 8-byte big-endian microsecond timestamp
(Unix epoch, when the ground station received it) followed by one raw MAVLink frame: MAVLink 1
(magic 0xFE, 6-byte header) or MAVLink 2 (magic 0xFD, 10-byte header, plus a 13-byte signature when
``incompat_flags & 1``), then the payload and a 2-byte CRC.

Reading, all vectorised:

1. every 0xFD/0xFE byte is a candidate frame start; its header gives the frame length;
2. candidates of known message types get their CRC checked (with the message's CRC_EXTRA), all frames
   of one length at once (:mod:`.crc`);
3. valid frames that do not overlap are kept (:mod:`.framing`); frames without a checkable CRC
   (unknown ids, or types left out by ``types=``) are kept only when their lengths chain exactly into
   the surrounding valid frames;
4. payloads of one message type are padded to full length (MAVLink 2 truncates trailing zeros) and
   viewed through the message's numpy dtype (:mod:`.mavlink_defs`).

Each table gets ``time_us`` (the tlog timestamp), ``time`` (UTC seconds), ``sysid``, ``compid`` and
``packet_seq`` (the frame sequence number) besides the message fields. A message field that collides
with one of these names gets a trailing underscore (``UTM_GLOBAL_POSITION.time`` -> ``time_``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from skyscan.errors import InputError, LogFormatError

from .crc import crc_accumulate_byte, crc_rows
from .framing import chain_to_anchors, is_member, lone_outliers, map_file, select_records
from .mavlink_defs import Dialect, MessageDef, load_dialect
from .tables import Log, Skipped, Table

__all__ = ["parse_tlog", "read_tlog"]

TS_BYTES = 8
MAGIC_V1, MAGIC_V2 = 0xFE, 0xFD
SIGNATURE_BYTES = 13
EXTRA_COLUMNS = ("time_us", "time", "sysid", "compid", "packet_seq")
_CHUNK = 1 << 24  # scan for magic bytes in 16 MiB pieces to keep temporaries small
_TS_SLACK_US = 86_400 * 10**6  # unverified records must carry a timestamp within a day of the verified ones


def read_tlog(path: str | os.PathLike, types: Iterable[str] | None = None, dialect: str = "ardupilotmega") -> Log:
    """Read a ``.tlog`` into a :class:`Log` of per-message tables (time base: UTC).

    ``types`` limits decoding (and CRC checking) to those message names, e.g.
    ``["GLOBAL_POSITION_INT", "CAMERA_FEEDBACK"]``; the counts still cover every message found.
    Raises :class:`LogFormatError` when the file cannot be read or holds no MAVLink frame at all, and
    :class:`InputError` for a message name the dialect does not define.
    """
    path = Path(path)
    buf = map_file(path)
    return parse_tlog(buf, types=types, dialect=dialect, path=path)


def parse_tlog(data: bytes | np.ndarray, types: Iterable[str] | None = None, dialect: str = "ardupilotmega",
               path: Path | None = None) -> Log:
    """Decode tlog content held in memory (bytes or a uint8 array); see :func:`read_tlog`."""
    buf = np.frombuffer(data, dtype=np.uint8) if isinstance(data, bytes | bytearray | memoryview) else data
    where = str(path) if path else "tlog data"
    defs = load_dialect(dialect)
    wanted = _wanted_ids(defs, types)
    n = int(buf.size)

    frames = _candidates(buf)
    c = frames["pos"]
    rec_start, rec_end = c - TS_BYTES, c + frames["flen"]
    complete = frames["sane"] & (rec_end <= n)
    truncated = frames["sane"] & (rec_end > n)

    known_tab, extra_tab = defs.crc_extra_table()
    mid = frames["msgid"]
    known = np.zeros(len(c), dtype=bool)
    small = mid < len(known_tab)
    known[small] = known_tab[mid[small]]
    verify = complete & known & (wanted[np.minimum(mid, len(wanted) - 1)] & small)

    vidx = np.flatnonzero(verify)
    crc_ok_v = _check_crc(buf, c[vidx], frames["hdr"][vidx], frames["plen"][vidx], extra_tab[mid[vidx]])
    good = vidx[crc_ok_v]
    failed = vidx[~crc_ok_v]

    # 1) frames with a valid CRC: those that chain into a neighbour first (they are surely real).
    gs, ge = rec_start[good], rec_end[good]
    linked = is_member(ge, gs) | (ge == n) | is_member(gs, np.sort(ge)) | (gs == 0)
    anchors = good[select_records(gs, ge, np.where(linked, 0, 1))]

    # 2) frames nothing can verify: accept them when their lengths chain from anchor to anchor.
    unv = np.flatnonzero(complete & ~verify)
    if anchors.size and unv.size:
        ts = _timestamps(buf, rec_start[unv])
        a_ts = _timestamps(buf, rec_start[anchors])
        plausible = (ts >= a_ts.min() - _TS_SLACK_US) & (ts <= a_ts.max() + _TS_SLACK_US)
        unv = unv[plausible]
    tail_starts = rec_start[truncated]
    chained = unv[chain_to_anchors(rec_start[unv], rec_end[unv], rec_start[anchors], n, tail_starts)]

    if chained.size:
        allidx = np.concatenate([anchors, chained])
        order = np.argsort(rec_start[allidx], kind="stable")
        allidx = allidx[order]
        prio = np.concatenate([np.zeros(len(anchors), np.int8), np.ones(len(chained), np.int8)])[order]
        accepted = allidx[select_records(rec_start[allidx], rec_end[allidx], prio)]
    else:
        accepted = anchors

    skipped = _account(n, rec_start, rec_end, accepted, failed, truncated, known, mid)
    if accepted.size == 0:
        raise LogFormatError(f"no MAVLink frames found in {where} ({n} bytes); is it a .tlog "
                             "(8-byte timestamp + MAVLink frame records)? Try opening it in a ground station")

    times = _repaired_times(buf, rec_start[accepted], skipped)
    tables, counts = _decode(buf, frames, accepted, times, defs, wanted, known)
    v2 = frames["hdr"][accepted] == 10
    info: dict[str, object] = {
        "dialect": dialect,
        "frames": {"mavlink1": int((~v2).sum()), "mavlink2": int(v2.sum()),
                   "signed": int(frames["signed"][accepted].sum())},
        "bytes": n,
    }
    return Log(path=path, format="tlog", tables=tables, counts=counts, skipped=skipped, utc=True, info=info)


def _wanted_ids(defs: Dialect, types: Iterable[str] | None) -> np.ndarray:
    top = max(defs.by_id) + 1
    if types is None:
        return np.ones(top, dtype=bool)
    wanted = np.zeros(top, dtype=bool)
    names = [types] if isinstance(types, str) else list(types)
    unknown = [t for t in names if t not in defs.by_name]
    if unknown:
        raise InputError(f"unknown MAVLink message name(s) {', '.join(unknown)} in types=; "
                             f"names are upper case as in the MAVLink XML, e.g. GLOBAL_POSITION_INT")
    for t in names:
        wanted[defs.by_name[t].id] = True
    return wanted


def _gather(buf: np.ndarray, pos: np.ndarray, width: int) -> np.ndarray:
    """``(len(pos), width)`` bytes starting at each position, zero past the end of the buffer."""
    n = buf.size
    if n >= width and (len(pos) == 0 or pos.max() <= n - width):
        return sliding_window_view(buf, width)[pos]  # the usual case: one gather, no padding
    out = np.zeros((len(pos), width), dtype=np.uint8)
    if n >= width:
        inside = pos <= n - width
        out[inside] = sliding_window_view(buf, width)[pos[inside]]
    else:
        inside = np.zeros(len(pos), dtype=bool)
    for i in np.flatnonzero(~inside).tolist():  # at most `width` rows, at the very end
        piece = np.asarray(buf[pos[i]:])
        out[i, :len(piece)] = piece
    return out


def _candidates(buf: np.ndarray) -> dict[str, np.ndarray]:
    """Every position holding a MAVLink magic byte (with room for a timestamp before it), and its header."""
    n = buf.size
    found = []
    for off in range(0, n, _CHUNK):
        chunk = np.asarray(buf[off:off + _CHUNK])
        # 0xFD -> 0, 0xFE -> 1 after the wrapping subtraction: one comparison finds both magics.
        found.append(np.flatnonzero((chunk - np.uint8(MAGIC_V2)) <= 1) + off)
    pos = np.concatenate(found) if found else np.zeros(0, np.int64)
    pos = pos[pos >= TS_BYTES].astype(np.int64)
    h = _gather(buf, pos, 10)
    v2 = h[:, 0] == MAGIC_V2
    plen = h[:, 1].astype(np.int16)
    incompat = np.where(v2, h[:, 2], 0)
    signed = v2 & ((incompat & 1) == 1)
    hdr = np.where(v2, 10, 6).astype(np.int16)
    msgid = np.where(v2, h[:, 7].astype(np.int32) | (h[:, 8].astype(np.int32) << 8)
                     | (h[:, 9].astype(np.int32) << 16), h[:, 5])
    return {
        "pos": pos,
        "hdr": hdr,
        "plen": plen,
        "msgid": msgid,
        "signed": signed,
        "seq": np.where(v2, h[:, 4], h[:, 2]).astype(np.uint8),
        "sysid": np.where(v2, h[:, 5], h[:, 3]).astype(np.uint8),
        "compid": np.where(v2, h[:, 6], h[:, 4]).astype(np.uint8),
        "flen": (hdr + plen + 2 + SIGNATURE_BYTES * signed).astype(np.int16),
        # Only the signing flag is defined in incompat_flags; anything else is not a frame we can read.
        "sane": (incompat & 0xFE) == 0,
    }


def _check_crc(buf: np.ndarray, pos: np.ndarray, hdr: np.ndarray, plen: np.ndarray, extra: np.ndarray) -> np.ndarray:
    """CRC verdict per frame; frames are grouped by checked length so each group is one matrix."""
    ok = np.zeros(len(pos), dtype=bool)
    length = (hdr - 1 + plen).astype(np.uint16)  # header after the magic byte, and the payload
    order = np.argsort(length, kind="stable")  # 16-bit keys: numpy uses a radix sort
    bounds = np.flatnonzero(np.diff(length[order])) + 1
    for grp in np.split(order, bounds):
        if grp.size == 0:
            continue
        width = int(length[grp[0]])
        rows = sliding_window_view(buf, width)[pos[grp] + 1]
        crc = crc_accumulate_byte(crc_rows(rows), extra[grp])
        at = pos[grp] + 1 + width
        stored = np.asarray(buf[at]).astype(np.uint16) | (np.asarray(buf[at + 1]).astype(np.uint16) << 8)
        ok[grp] = crc == stored
    return ok


def _timestamps(buf: np.ndarray, rec_start: np.ndarray) -> np.ndarray:
    return _gather(buf, rec_start, TS_BYTES).view(">u8")[:, 0].astype(np.int64)


def _repaired_times(buf: np.ndarray, rec_start: np.ndarray, skipped: Skipped) -> np.ndarray:
    """Timestamps (µs) of the accepted records in file order, isolated damaged ones replaced by the previous one."""
    ts = _timestamps(buf, rec_start)
    bad = lone_outliers(ts.astype(np.float64), _TS_SLACK_US / 24)  # an hour away from both neighbours
    if bad.any():
        skipped.bad_timestamps = int(bad.sum())
        idx = np.where(bad, 0, np.arange(len(ts)))
        np.maximum.accumulate(idx, out=idx)
        first_good = int(np.argmax(~bad))
        idx[:first_good] = first_good
        ts = ts[idx]
    return ts


def _account(n: int, rec_start: np.ndarray, rec_end: np.ndarray, accepted: np.ndarray, failed: np.ndarray,
             truncated: np.ndarray, known: np.ndarray, mid: np.ndarray) -> Skipped:
    """Count what was not decoded: bad CRCs where a frame was due, unknown ids, a truncated tail, garbage."""
    acc_end = rec_end[accepted]
    due = np.sort(np.concatenate([acc_end, [0]]))
    bad_crc = int(is_member(rec_start[failed], due).sum())
    last_end = int(acc_end.max()) if accepted.size else 0
    tail = 0
    if last_end < n:
        truncated_here = np.any(rec_start[truncated] == last_end)
        if truncated_here or n - last_end < TS_BYTES + 10:
            tail = n - last_end
    unknown = accepted[~known[accepted]]
    ids, cnt = np.unique(mid[unknown], return_counts=True)
    used = int((rec_end[accepted] - rec_start[accepted]).sum())
    return Skipped(garbage_bytes=n - used - tail, bad_crc=bad_crc,
                   unknown_ids={int(i): int(k) for i, k in zip(ids, cnt, strict=True)}, truncated_tail_bytes=tail)


def _decode(buf: np.ndarray, frames: dict[str, np.ndarray], accepted: np.ndarray, times: np.ndarray, defs: Dialect,
            wanted: np.ndarray, known: np.ndarray) -> tuple[dict[str, Table], dict[str, int]]:
    """One table per message type: all payloads of a type decoded together through its dtype."""
    keep = known[accepted]
    rec, rec_times = accepted[keep], times[keep]
    mids = frames["msgid"][rec]
    # stable: file order within a type; 16-bit keys (all common ids) sort by radix
    order = np.argsort(mids.astype(np.uint16) if mids.size and mids.max() < 65536 else mids, kind="stable")
    rec, mids, rec_times = rec[order], mids[order], rec_times[order]
    bounds = np.flatnonzero(np.diff(mids)) + 1
    counts: dict[str, int] = {}
    tables: dict[str, Table] = {}
    for grp, grp_times in zip(np.split(rec, bounds), np.split(rec_times, bounds), strict=True):
        if grp.size == 0:
            continue
        md = defs.by_id[int(frames["msgid"][grp[0]])]
        counts[md.name] = int(grp.size)
        if not wanted[md.id]:
            continue
        tables[md.name] = _decode_type(buf, frames, grp, grp_times, md)
    return tables, dict(sorted(counts.items()))


def _decode_type(buf: np.ndarray, frames: dict[str, np.ndarray], grp: np.ndarray, time_us: np.ndarray,
                 md: MessageDef) -> Table:
    payload_at = frames["pos"][grp] + frames["hdr"][grp]
    plen = frames["plen"][grp]
    full = md.length
    if np.all(plen == full):
        raw = sliding_window_view(buf, full)[payload_at]
    else:
        # MAVLink 2 drops trailing zero bytes and MAVLink 1 carries no extensions: pad with zeros.
        raw = np.zeros((grp.size, full), dtype=np.uint8)
        for width in np.unique(plen).tolist():
            rows = np.flatnonzero(plen == width)
            w = min(width, full)
            if w:
                raw[rows, :w] = sliding_window_view(buf, w)[payload_at[rows]]
    records = np.ascontiguousarray(raw).view(md.dtype)[:, 0]
    cols: dict[str, np.ndarray] = {
        "time_us": time_us,
        "time": time_us / 1e6,
        "sysid": frames["sysid"][grp],
        "compid": frames["compid"][grp],
        "packet_seq": frames["seq"][grp],
    }
    units = {}
    for f in md.fields:
        name = f.name + "_" if f.name in EXTRA_COLUMNS else f.name
        cols[name] = np.ascontiguousarray(records[f.name])
        if f.units:
            units[name] = f.units
    units["time_us"], units["time"] = "us", "s"
    return Table(md.name, cols, units)
