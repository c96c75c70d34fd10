"""MAVLink message definitions read from the XML that pymavlink ships, as numpy dtypes for bulk decoding.

A MAVLink message is defined in XML (``common.xml``, ``ardupilotmega.xml``, ... which ``<include>`` each
other). On the wire its base fields are reordered by element size, largest first (a stable sort, so
fields of one size keep their order); fields after ``<extensions/>`` follow in declaration order and are
not reordered. MAVLink 2 senders drop trailing zero bytes of the payload, so a payload may be shorter
than the full length: it is padded back with zeros before decoding. ``CRC_EXTRA`` (the last byte fed
into the frame checksum) is computed from the message name and the base fields only.

:func:`load_dialect` parses a dialect once per process and returns a :class:`Dialect`: one
:class:`MessageDef` per message id with its packed little-endian numpy dtype.
"""

from __future__ import annotations

import importlib.util
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from skyscan.errors import LogFormatError

from .crc import crc_x25

__all__ = ["Dialect", "FieldDef", "MessageDef", "dialect_dir", "load_dialect"]

# MAVLink type name -> (numpy dtype, element size in bytes)
_TYPES: dict[str, tuple[str, int]] = {
    "char": ("S1", 1),
    "uint8_t": ("u1", 1),
    "int8_t": ("i1", 1),
    "uint16_t": ("<u2", 2),
    "int16_t": ("<i2", 2),
    "uint32_t": ("<u4", 4),
    "int32_t": ("<i4", 4),
    "float": ("<f4", 4),
    "uint64_t": ("<u8", 8),
    "int64_t": ("<i8", 8),
    "double": ("<f8", 8),
}


@dataclass(frozen=True)
class FieldDef:
    """One field of a message: MAVLink type, array length (0 = scalar), unit and whether it is an extension."""

    name: str
    type: str
    array_length: int
    units: str
    extension: bool

    @property
    def element_size(self) -> int:
        """Bytes of one element: what MAVLink sorts the wire order by."""
        return _TYPES[self.type][1]

    @property
    def size(self) -> int:
        """Bytes of the whole field on the wire."""
        return self.element_size * max(1, self.array_length)

    @property
    def numpy_type(self) -> str | tuple[str, tuple[int]]:
        """The field's numpy type: a scalar, a subarray, or ``S<n>`` bytes for char[n]."""
        base = _TYPES[self.type][0]
        if self.type == "char":
            # char[n] is a string: one bytes value per row (numpy drops the trailing NULs on access).
            return f"S{max(1, self.array_length)}"
        return (base, (self.array_length,)) if self.array_length else base


@dataclass(frozen=True)
class MessageDef:
    """A message as it travels on the wire: fields in wire order, lengths, CRC_EXTRA and its numpy dtype."""

    id: int
    name: str
    fields: tuple[FieldDef, ...]  # wire order: base fields sorted by element size, then extensions
    crc_extra: int
    base_length: int  # MAVLink 1 payload (no extensions)
    length: int  # full MAVLink 2 payload
    dtype: np.dtype

    @property
    def units(self) -> dict[str, str]:
        """Unit per field, as the XML gives it (``degE7``, ``mm``, ``cdeg``...)."""
        return {f.name: f.units for f in self.fields if f.units}


@dataclass(frozen=True)
class Dialect:
    """All messages of one dialect (with its includes), by id and by name."""

    name: str
    by_id: dict[int, MessageDef]
    by_name: dict[str, MessageDef]

    def crc_extra_table(self) -> tuple[np.ndarray, np.ndarray]:
        """(known, crc_extra) arrays indexed by message id for the ids below 2**16 (all defined ones)."""
        top = max(self.by_id) + 1
        known = np.zeros(top, dtype=bool)
        extra = np.zeros(top, dtype=np.uint8)
        for mid, m in self.by_id.items():
            known[mid] = True
            extra[mid] = m.crc_extra
        return known, extra


def dialect_dir() -> Path:
    """The folder of MAVLink 2 XML definitions inside the installed pymavlink (found without importing it)."""
    spec = importlib.util.find_spec("pymavlink")
    if spec is None or not spec.submodule_search_locations:
        raise LogFormatError("pymavlink is not installed, so the MAVLink message definitions are missing; "
                             "install the project's requirements (pip install -r requirements.lock)")
    return Path(next(iter(spec.submodule_search_locations))) / "dialects" / "v20"


def _parse_field(el: ET.Element, extension: bool) -> FieldDef:
    raw = el.get("type", "")
    base, _, rest = raw.partition("[")
    if base == "uint8_t_mavlink_version":  # HEARTBEAT.mavlink_version: a uint8_t on the wire and in CRC_EXTRA
        base = "uint8_t"
    if base not in _TYPES:
        raise LogFormatError(f"unknown MAVLink field type {raw!r} in the XML definitions; update pymavlink")
    length = int(rest.rstrip("]")) if rest else 0
    return FieldDef(el.get("name", ""), base, length, el.get("units", ""), extension)


def _message(el: ET.Element) -> MessageDef:
    base: list[FieldDef] = []
    ext: list[FieldDef] = []
    in_ext = False
    for child in el:
        if child.tag == "extensions":
            in_ext = True
        elif child.tag == "field":
            (ext if in_ext else base).append(_parse_field(child, in_ext))
    name = el.get("name", "")
    wire_base = sorted(base, key=lambda f: f.element_size, reverse=True)  # stable: ties keep XML order
    fields = (*wire_base, *ext)

    crc = crc_x25((name + " ").encode())
    for f in wire_base:
        crc = crc_x25(f"{f.type} {f.name} ".encode(), crc)
        if f.array_length:
            crc = crc_x25(bytes([f.array_length]), crc)
    dtype = np.dtype([(f.name, f.numpy_type) for f in fields])  # packed: no alignment padding
    return MessageDef(
        id=int(el.get("id", "-1")),
        name=name,
        fields=fields,
        crc_extra=(crc & 0xFF) ^ (crc >> 8),
        base_length=sum(f.size for f in wire_base),
        length=dtype.itemsize,
        dtype=dtype,
    )


def _collect(path: Path, seen: set[Path], out: dict[int, MessageDef]) -> None:
    if path in seen:
        return
    seen.add(path)
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as exc:
        raise LogFormatError(f"cannot read MAVLink definitions {path}: {exc}; reinstall pymavlink") from exc
    for inc in root.iter("include"):
        _collect(path.parent / (inc.text or "").strip(), seen, out)
    for el in root.iter("message"):
        msg = _message(el)
        out.setdefault(msg.id, msg)  # a dialect never redefines an included id; keep the first seen


@cache
def load_dialect(name: str = "ardupilotmega") -> Dialect:
    """Parse ``NAME.xml`` and everything it includes (cached: parsed once per process)."""
    path = dialect_dir() / f"{name}.xml"
    if not path.is_file():
        available = sorted(p.stem for p in dialect_dir().glob("*.xml"))
        raise LogFormatError(f"unknown MAVLink dialect {name!r}; use one of: {', '.join(available)}")
    by_id: dict[int, MessageDef] = {}
    _collect(path, set(), by_id)
    return Dialect(name, by_id, {m.name: m for m in by_id.values()})
