"""The MAVLink frame checksum (CRC-16/MCRF4XX, "X.25" in MAVLink's docs), computed for many frames at once.

MAVLink checks each frame with CRC-16/MCRF4XX (reflected polynomial 0x8408, initial value 0xFFFF, no
final xor) over the header bytes after the magic byte and the payload, followed by one ``CRC_EXTRA``
byte that depends on the message definition. Computing that per frame in Python is what makes
pure-Python parsers slow; here every frame of one length is a row of a matrix and the CRC walks the
columns, two bytes per step through a 65536-entry table, so the Python loop runs per column, not per
frame.
"""

from __future__ import annotations

from functools import cache

import numpy as np

__all__ = ["crc_accumulate_byte", "crc_rows", "crc_x25"]

_POLY = 0x8408  # 0x1021 bit-reversed


@cache
def _table8() -> np.ndarray:
    """T8[i]: the register after feeding byte i into a zero register (one step of the reflected CRC)."""
    c = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        c = np.where(c & 1, (c >> 1) ^ _POLY, c >> 1)
    return c.astype(np.uint16)


@cache
def _table16() -> np.ndarray:
    """T16[v]: the register after two byte steps, a function of (register ^ little-endian data word) only.

    For a 16-bit reflected CRC both register bytes are shifted out by two data bytes, so
    ``crc' = T16[crc ^ (b0 | b1 << 8)]``: one xor and one table look-up per two bytes.
    """
    t8 = _table8().astype(np.uint32)
    r = np.arange(65536, dtype=np.uint32)
    for _ in range(2):
        r = (r >> 8) ^ t8[r & 0xFF]
    return r.astype(np.uint16)


def crc_rows(rows: np.ndarray, crc: np.ndarray | None = None) -> np.ndarray:
    """CRC of every row of a ``(k, L)`` uint8 matrix, continuing from ``crc`` (default 0xFFFF each).

    Returns a ``(k,)`` uint16 array. The loop runs over the ``L`` columns (two at a time), never over rows.
    """
    rows = np.asarray(rows, dtype=np.uint8)
    k, length = rows.shape
    out = np.full(k, 0xFFFF, dtype=np.uint16) if crc is None else np.asarray(crc, dtype=np.uint16).copy()
    if k == 0 or length == 0:
        return out
    t16 = _table16()
    even = length & ~1
    if even:
        # Column-major words so each step reads one contiguous vector.
        words = np.ascontiguousarray(rows[:, :even]).view("<u2").T.copy()
        for w in words:
            np.bitwise_xor(out, w, out=out)
            out = t16[out]
    if length & 1:
        out = crc_accumulate_byte(out, rows[:, -1])
    return out


def crc_accumulate_byte(crc: np.ndarray, byte: np.ndarray | int) -> np.ndarray:
    """Feed one byte (per row, or the same for all) into each CRC register of ``crc``."""
    crc = np.asarray(crc, dtype=np.uint16)
    t8 = _table8()
    idx = (crc ^ np.asarray(byte, dtype=np.uint16)) & 0xFF
    return (crc >> 8) ^ t8[idx]


def crc_x25(data: bytes, crc: int = 0xFFFF) -> int:
    """CRC-16/MCRF4XX of one byte string (reference implementation for tests and small inputs)."""
    for b in data:
        tmp = b ^ (crc & 0xFF)
        tmp = (tmp ^ (tmp << 4)) & 0xFF
        crc = ((crc >> 8) ^ (tmp << 8) ^ (tmp << 3) ^ (tmp >> 4)) & 0xFFFF
    return crc
