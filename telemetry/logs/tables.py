"""Columnar tables: what every log reader returns, whatever the log format.

A :class:`Table` holds one message type (``GLOBAL_POSITION_INT``, ``GPS``, ``vehicle_attitude``,
``mrk``...) as equal-length numpy arrays, one per field; array fields are 2-D, text fields are numpy
bytes (``S``) columns. Every table has a ``time`` column in its log's one clock: UTC seconds since the
Unix epoch when :attr:`Log.utc` is true (tlogs always; .bin and .ulg when the log has GPS time), else
seconds since boot. A :class:`Log` is the tables of one file plus message counts, what was skipped and
why (:class:`Skipped`), and format metadata (parameters, versions).

Values are stored as the log stores them (MAVLink ``degE7`` integers stay integers); :meth:`Table.scaled`
converts a field with a known unit to degrees, metres, m/s, volts or amperes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["UNIT_SCALES", "Log", "Skipped", "Table"]

# unit as written in MAVLink XML / DataFlash UNIT messages -> (factor to the base unit, base unit)
UNIT_SCALES: dict[str, tuple[float, str]] = {
    "degE7": (1e-7, "deg"),
    "degE5": (1e-5, "deg"),
    "cdeg": (0.01, "deg"),
    "cdeg/s": (0.01, "deg/s"),
    "rad": (180.0 / np.pi, "deg"),
    "rad/s": (180.0 / np.pi, "deg/s"),
    "mm": (1e-3, "m"),
    "cm": (0.01, "m"),
    "dm": (0.1, "m"),
    "mm/s": (1e-3, "m/s"),
    "cm/s": (0.01, "m/s"),
    "dm/s": (0.1, "m/s"),
    "mV": (1e-3, "V"),
    "cV": (0.01, "V"),
    "mA": (1e-3, "A"),
    "cA": (0.01, "A"),
    "dA": (0.1, "A"),
    "us": (1e-6, "s"),
    "ms": (1e-3, "s"),
    "cs": (0.01, "s"),
    "ds": (0.1, "s"),
    "hPa": (100.0, "Pa"),
    "cPa": (0.01, "Pa"),
    "cdegC": (0.01, "degC"),
}


@dataclass(frozen=True, eq=False)
class Table:
    """One message type as columns: ``table["lat"]`` is a numpy array with one value per message."""

    name: str
    columns: Mapping[str, np.ndarray]
    units: Mapping[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        for col in self.columns.values():
            return len(col)
        return 0

    def __getitem__(self, key: str) -> np.ndarray:
        try:
            return self.columns[key]
        except KeyError:
            raise KeyError(f"{self.name} has no field {key!r}; fields: {', '.join(self.columns)}") from None

    def __contains__(self, key: object) -> bool:
        return key in self.columns

    def __iter__(self) -> Iterator[str]:
        return iter(self.columns)

    def __repr__(self) -> str:
        return f"Table({self.name!r}, {len(self)} rows, fields={list(self.columns)})"

    @property
    def fields(self) -> list[str]:
        """Column names, in order."""
        return list(self.columns)

    def get(self, key: str, default: np.ndarray | None = None) -> np.ndarray | None:
        """Column ``key``, or ``default`` when the table has no such field."""
        return self.columns.get(key, default)

    def take(self, index: np.ndarray | slice) -> Table:
        """The rows selected by a boolean mask, an index array or a slice, as a new table."""
        return Table(self.name, {k: v[index] for k, v in self.columns.items()}, self.units)

    def scaled(self, key: str) -> np.ndarray:
        """Field ``key`` as float64 in its base unit (degE7 -> deg, mm -> m, cm/s -> m/s, mV -> V, ...)."""
        factor, _ = UNIT_SCALES.get(self.units.get(key, ""), (1.0, ""))
        return self[key].astype(np.float64) * factor

    def text(self, key: str) -> list[str]:
        """A bytes column decoded to Python strings (UTF-8, undecodable bytes replaced)."""
        return [v.decode("utf-8", "replace").rstrip("\x00") for v in self[key].tolist()]


@dataclass
class Skipped:
    """What a reader could not use, so a damaged log is reported rather than silently shortened."""

    garbage_bytes: int = 0  # bytes between frames that form no valid frame
    bad_crc: int = 0  # frames where one was expected whose checksum failed
    unknown_ids: dict[int, int] = field(default_factory=dict)  # message id -> frames without a definition
    truncated_tail_bytes: int = 0  # an incomplete last frame
    bad_timestamps: int = 0  # records kept whose time was far off both neighbours (replaced by theirs)
    bad_formats: list[str] = field(default_factory=list)  # DataFlash FMT entries that could not be used

    @property
    def unknown(self) -> int:
        """Number of frames skipped for an unknown message id."""
        return sum(self.unknown_ids.values())

    def __bool__(self) -> bool:
        return bool(self.garbage_bytes or self.bad_crc or self.unknown_ids or self.truncated_tail_bytes
                    or self.bad_formats or self.bad_timestamps)

    def describe(self) -> str:
        """One line for people: 'nothing skipped' or the list of what was skipped."""
        parts = []
        if self.garbage_bytes:
            parts.append(f"{self.garbage_bytes} garbage bytes")
        if self.bad_crc:
            parts.append(f"{self.bad_crc} frames with a bad checksum")
        if self.unknown_ids:
            ids = ", ".join(str(i) for i in sorted(self.unknown_ids)[:10])
            parts.append(f"{self.unknown} frames of unknown message ids ({ids})")
        if self.truncated_tail_bytes:
            parts.append(f"a truncated last frame ({self.truncated_tail_bytes} bytes)")
        if self.bad_timestamps:
            parts.append(f"{self.bad_timestamps} damaged timestamps (replaced by their neighbours')")
        if self.bad_formats:
            parts.append(f"{len(self.bad_formats)} unusable FMT definitions ({', '.join(self.bad_formats[:5])})")
        return "; ".join(parts) if parts else "nothing skipped"


@dataclass(eq=False)
class Log:
    """The decoded content of one flight log: tables by message type, counts, what was skipped."""

    path: Path | None
    format: str  # "tlog" | "dataflash" | "ulog" | "mrk"
    tables: dict[str, Table]
    counts: dict[str, int]  # messages found per type (also for types left undecoded by a types= filter)
    skipped: Skipped = field(default_factory=Skipped)
    utc: bool = False  # True: every "time" column is UTC seconds since 1970; False: seconds since boot
    info: dict[str, object] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Table:
        try:
            return self.tables[name]
        except KeyError:
            have = ", ".join(sorted(self.tables)) or "none"
            raise KeyError(f"{self.path or 'log'} has no decoded {name!r} messages; decoded: {have}") from None

    def __contains__(self, name: object) -> bool:
        return name in self.tables

    def get(self, name: str) -> Table | None:
        """Table ``name``, or None when the log has no (decoded) message of that type."""
        return self.tables.get(name)

    def __repr__(self) -> str:
        return (f"Log({str(self.path)!r}, {self.format}, {sum(self.counts.values())} messages, "
                f"{len(self.tables)} tables, utc={self.utc}, skipped: {self.skipped.describe()})")
