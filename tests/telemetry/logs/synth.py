"""Synthetic logs for the log-reader tests: tlogs encoded with pymavlink, DataFlash written with struct.

Named builders, like the sample catalogue in tests/common.py: each returns bytes and says what it holds.
"""

from __future__ import annotations

import os
import struct

os.environ["MAVLINK20"] = "1"
from pymavlink.dialects.v20 import ardupilotmega as mavlink

T0_US = 1_700_000_000_000_000  # 2023-11-14T22:13:20Z
LAT0, LON0 = -35.3632621, 149.1652374  # ArduPilot SITL home (Canberra)
SIGNING_KEY = bytes(range(32))


def mav(sysid: int = 1, compid: int = 1, signed: bool = False) -> mavlink.MAVLink:
    """A pymavlink encoder; ``signed`` makes it append MAVLink 2 signatures."""
    m = mavlink.MAVLink(None, srcSystem=sysid, srcComponent=compid)
    if signed:
        m.signing.secret_key = SIGNING_KEY
        m.signing.sign_outgoing = True
        m.signing.link_id = 1
        m.signing.timestamp = 1
    return m


def record(ts_us: int, frame: bytes) -> bytes:
    """One tlog record: big-endian µs timestamp + the frame."""
    return struct.pack(">Q", ts_us) + frame


def frame(enc: mavlink.MAVLink, msg: mavlink.MAVLink_message, v1: bool = False) -> bytes:
    data = msg.pack(enc, force_mavlink1=v1)
    enc.seq = (enc.seq + 1) % 256
    return data


def flight_messages(i: int) -> list[mavlink.MAVLink_message]:
    """The messages of step ``i`` of a short survey flight (5 Hz), moving north-east and climbing."""
    lat = round((LAT0 + i * 1e-5) * 1e7)
    lon = round((LON0 + i * 1e-5) * 1e7)
    msgs = [
        mavlink.MAVLink_global_position_int_message(1000 * i, lat, lon, 584_000 + 100 * i, 100 * i, 300, 400, -10,
                                                    4500),
        mavlink.MAVLink_attitude_message(1000 * i, 0.01 * (i % 7), -0.02, 0.785 + 0.001 * i, 0.0, 0.0, 0.0),
        mavlink.MAVLink_sys_status_message(0, 0, 0, 500, 16000 - 10 * i, 1500, 90 - i // 10, 0, 0, 0, 0, 0, 0),
    ]
    if i % 5 == 0:
        msgs.append(mavlink.MAVLink_heartbeat_message(2, 3, 217, 3 if i >= 10 else 4, 4, 3))
    if i % 10 == 5:
        k = i // 10
        msgs.append(mavlink.MAVLink_camera_feedback_message(T0_US + i * 200_000, 0, 0, k + 1, lat, lon,
                                                            584.0 + 0.1 * i, 0.1 * i, 1.5, -2.5, 45.0, 0.0, 0, k + 1))
    if i == 20:
        msgs.append(mavlink.MAVLink_mission_item_reached_message(1))
        msgs.append(mavlink.MAVLink_statustext_message(4, b"Warning: low battery", 0, 0))
    return msgs


def survey_tlog(steps: int = 60, v1_every: int = 0, signed: bool = False, gcs: bool = True) -> bytes:
    """A tlog of ``steps`` flight steps; every ``v1_every``-th message as MAVLink 1; a GCS heartbeat too."""
    enc, gcs_enc = mav(1, 1, signed=signed), mav(255, 190)
    out = bytearray()
    n = 0
    for i in range(steps):
        ts = T0_US + i * 200_000
        for msg in flight_messages(i):
            n += 1
            out += record(ts, frame(enc, msg, v1=bool(v1_every) and n % v1_every == 0))
            ts += 1000
        if gcs and i % 5 == 0:
            out += record(ts, frame(gcs_enc, mavlink.MAVLink_heartbeat_message(6, 8, 0, 0, 0, 3)))
    return bytes(out)


def decoded_with_pymavlink(data: bytes) -> list[tuple[int, mavlink.MAVLink_message]]:
    """(timestamp µs, message) for every record, decoded by pymavlink one frame at a time (the oracle)."""
    dec = mavlink.MAVLink(None)
    dec.robust_parsing = True
    dec.signing.secret_key = SIGNING_KEY
    dec.signing.allow_unsigned_callback = lambda *_: True
    out = []
    pos = 0
    while pos + 8 < len(data):
        ts = struct.unpack(">Q", data[pos:pos + 8])[0]
        magic, plen = data[pos + 8], data[pos + 9]
        flen = 10 + plen + 2 + (13 if data[pos + 10] & 1 else 0) if magic == 0xFD else 6 + plen + 2
        msgs = dec.parse_buffer(data[pos + 8:pos + 8 + flen]) or []
        out += [(ts, m) for m in msgs if m.get_type() != "BAD_DATA"]
        pos += 8 + flen
    return out


# --- DataFlash -------------------------------------------------------------------------------------------

_STRUCT = {"b": "b", "B": "B", "h": "h", "H": "H", "i": "i", "I": "I", "q": "q", "Q": "Q", "f": "f", "d": "d",
           "n": "4s", "N": "16s", "Z": "64s", "M": "B", "c": "h", "C": "H", "e": "i", "E": "I", "L": "i"}


class DataFlashWriter:
    """Writes FMT records and messages; ``write(name, *values)`` takes raw (unscaled) values."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.types: dict[str, tuple[int, str]] = {}
        self._fmt(0x80, "FMT", "BBnNZ", "Type,Length,Name,Format,Columns")

    def _fmt(self, tid: int, name: str, fmt: str, cols: str) -> None:
        length = 3 + struct.calcsize("<" + "".join(_STRUCT[c] for c in fmt))
        self.types[name] = (tid, fmt)
        body = struct.pack("<BB4s16s64s", tid, length, name.encode(), fmt.encode(), cols.encode())
        self.buf += bytes([0xA3, 0x95, 0x80]) + body

    def define(self, tid: int, name: str, fmt: str, cols: str) -> None:
        self._fmt(tid, name, fmt, cols)

    def write(self, name: str, *values) -> None:
        tid, fmt = self.types[name]
        vals = [v.encode() if isinstance(v, str) else v for v in values]
        self.buf += bytes([0xA3, 0x95, tid]) + struct.pack("<" + "".join(_STRUCT[c] for c in fmt), *vals)


GPS_WEEK, GPS_MS0 = 2288, 86_400_000  # 2023-11-13 + 1 day
BOOT_US0 = 30_000_000


def modern_bin(events: int = 5, old_cam: bool = False) -> bytes:
    """An ArduCopter-4-style log: TimeUS everywhere, GPS with GWk/GMS, POS, ATT, CAM+TRIG, FMTU units.

    ``old_cam`` writes CAM in the oldest layout (``IHLLeeccC``: no TimeUS, centidegree angles).
    """
    w = DataFlashWriter()
    w.define(64, "UNIT", "QbZ", "TimeUS,Id,Label")
    w.define(65, "MULT", "Qbd", "TimeUS,Id,Mult")
    w.define(66, "FMTU", "QBNN", "TimeUS,FmtType,UnitIds,MultIds")
    w.define(70, "GPS", "QBBIHBcLLeffffB", "TimeUS,I,Status,GMS,GWk,NSats,HDop,Lat,Lng,Alt,Spd,GCrs,VZ,Yaw,U")
    w.define(71, "POS", "QLLfff", "TimeUS,Lat,Lng,Alt,RelHomeAlt,RelOriginAlt")
    w.define(72, "ATT", "QccccCCCC", "TimeUS,DesRoll,Roll,DesPitch,Pitch,DesYaw,Yaw,ErrRP,ErrYaw")
    if old_cam:
        w.define(73, "CAM", "IHLLeeccC", "GPSTime,GPSWeek,Lat,Lng,Alt,RelAlt,Roll,Pitch,Yaw")
    else:
        w.define(73, "CAM", "QBHIHLLeeefff", "TimeUS,I,Img,GPSTime,GPSWeek,Lat,Lng,Alt,RelAlt,GPSAlt,R,P,Y")
    w.define(74, "TRIG", "QBHIHLLeeefff", "TimeUS,I,Img,GPSTime,GPSWeek,Lat,Lng,Alt,RelAlt,GPSAlt,R,P,Y")
    w.define(75, "MODE", "QMBB", "TimeUS,Mode,ModeNum,Rsn")
    w.define(76, "MSG", "QZ", "TimeUS,Message")
    w.define(77, "BAT", "QBfffcf", "TimeUS,Inst,Volt,VoltR,Curr,Temp,CurrTot")
    w.define(78, "CMD", "QHHHffffLLfB", "TimeUS,CTot,CNum,CId,Prm1,Prm2,Prm3,Prm4,Lat,Lng,Alt,Frame")
    w.define(79, "PARM", "QNf", "TimeUS,Name,Value")
    w.write("UNIT", 0, ord("s"), "s")
    w.write("UNIT", 0, ord("d"), "deg")
    w.write("UNIT", 0, ord("m"), "m")
    w.write("UNIT", 0, ord("-"), "")
    w.write("MULT", 0, ord("F"), 1e-6)
    w.write("MULT", 0, ord("-"), 0.0)
    w.write("MULT", 0, ord("?"), 1.0)
    w.write("FMTU", 0, 71, "sddmmm", "FGG???")
    w.write("MSG", BOOT_US0, "ArduCopter V4.5.0 (abcdef12)")
    w.write("PARM", BOOT_US0, "CAM_TRIGG_DIST", 25.0)
    w.write("MODE", BOOT_US0, 5, 5, 0)
    for i in range(100):
        t_us = BOOT_US0 + i * 200_000
        lat = round((LAT0 + i * 1e-5) * 1e7)
        lon = round((LON0 + i * 1e-5) * 1e7)
        w.write("GPS", t_us, 0, 6, GPS_MS0 + i * 200, GPS_WEEK, 20, 70, lat, lon, 58400 + 10 * i, 5.0, 45.0, 0.5, 0, 1)
        w.write("POS", t_us + 1000, lat, lon, 584.0 + 0.1 * i, 0.1 * i, 0.1 * i)
        w.write("ATT", t_us + 2000, 0, 150, 0, -250, 0, 4500 + i, 0, 0)
        w.write("BAT", t_us + 3000, 0, 16.0 - 0.01 * i, 16.1, 10.0, 2500, 5.0 * i)
        if i == 10:
            w.write("MODE", t_us, 3, 3, 2)
            w.write("CMD", t_us, 5, 1, 16, 0, 0, 0, 0, lat, lon, 20.0, 3)
        if i % 10 == 5 and i // 10 < events:
            k = i // 10
            gms = GPS_MS0 + i * 200 + 50  # taken 50 ms after the GPS record
            if old_cam:
                w.write("CAM", gms, GPS_WEEK, lat, lon, 58400 + 10 * i, 10 * i, 150, -250, 4500)
            else:
                w.write("TRIG", t_us + 40_000, 0, k + 1, gms - 10, GPS_WEEK, lat, lon, 58400 + 10 * i, 10 * i,
                        58400, 1.5, -2.5, 45.0)
                w.write("CAM", t_us + 50_000, 0, k + 1, gms, GPS_WEEK, lat, lon, 58400 + 10 * i, 10 * i, 58400,
                        1.5, -2.5, 45.0)
    w.write("MODE", BOOT_US0 + 100 * 200_000, 6, 6, 2)
    return bytes(w.buf)
