"""tlog reader: real SITL log against pymavlink's mavutil (the oracle), and synthetic damaged logs."""

from __future__ import annotations

import collections
import os
from pathlib import Path

import numpy as np
import pytest

os.environ["MAVLINK20"] = "1"
from pymavlink import mavutil

from skyscan.errors import InputError, LogFormatError
from telemetry.logs import parse_tlog, read_tlog
from tests.telemetry.logs import synth
from tests.telemetry.logs.synth import T0_US, decoded_with_pymavlink, survey_tlog

ORACLE_TYPES = ("GLOBAL_POSITION_INT", "ATTITUDE", "HEARTBEAT", "PARAM_VALUE", "STATUSTEXT", "MISSION_ITEM",
                "GPS_RAW_INT", "SYS_STATUS", "RC_CHANNELS", "SERVO_OUTPUT_RAW")


@pytest.fixture(scope="module")
def mavutil_messages(vtol_tlog: Path) -> dict[str, list]:
    conn = mavutil.mavlink_connection(str(vtol_tlog), dialect="ardupilotmega")
    out = collections.defaultdict(list)
    while (msg := conn.recv_match()) is not None:
        out[msg.get_type()].append(msg)
    conn.close()
    return out


def _same(ours: np.ndarray, theirs: list) -> bool:
    if ours.dtype.kind == "S":
        return [v.decode("utf-8", "replace") for v in ours.tolist()] == [str(t).split("\x00")[0] for t in theirs]
    return np.array_equal(ours, np.asarray(theirs, dtype=ours.dtype), equal_nan=ours.dtype.kind == "f")


def test_counts_equal_mavutil(vtol_tlog, mavutil_messages):
    log = read_tlog(vtol_tlog)
    assert log.counts == {k: len(v) for k, v in sorted(mavutil_messages.items())}
    assert sum(log.counts.values()) == 23894
    assert not log.skipped


@pytest.mark.parametrize("name", ORACLE_TYPES)
def test_field_values_equal_mavutil(vtol_tlog, mavutil_messages, name):
    table = read_tlog(vtol_tlog)[name]
    ref = mavutil_messages[name]
    assert len(table) == len(ref)
    for field in ref[0].get_fieldnames():
        assert _same(table[field], [getattr(m, field) for m in ref]), f"{name}.{field}"
    assert np.allclose(table["time"], [m._timestamp for m in ref], rtol=0, atol=1e-6)
    assert table["sysid"].tolist() == [m.get_srcSystem() for m in ref]
    assert table["compid"].tolist() == [m.get_srcComponent() for m in ref]


def test_times_are_utc_and_monotonic(vtol_tlog):
    log = read_tlog(vtol_tlog)
    assert log.utc
    t = log["GLOBAL_POSITION_INT"]["time"]
    assert np.all(np.diff(t) >= 0)
    assert 1533737000 < t[0] < 1533738000  # 2018-08-08, when the SITL flight was recorded


def test_types_filter_decodes_only_those_and_still_counts_all(vtol_tlog):
    full = read_tlog(vtol_tlog)
    part = read_tlog(vtol_tlog, types=["GLOBAL_POSITION_INT", "STATUSTEXT"])
    assert set(part.tables) == {"GLOBAL_POSITION_INT", "STATUSTEXT"}
    assert part.counts == full.counts
    assert np.array_equal(part["GLOBAL_POSITION_INT"]["lat"], full["GLOBAL_POSITION_INT"]["lat"])
    with pytest.raises(InputError, match="GLOBAL_POSITION_INT"):
        read_tlog(vtol_tlog, types=["global_position_int"])


def test_scaled_helper_uses_xml_units(vtol_tlog):
    g = read_tlog(vtol_tlog, types=["GLOBAL_POSITION_INT"])["GLOBAL_POSITION_INT"]
    assert g.units["lat"] == "degE7"
    assert np.allclose(g.scaled("lat"), g["lat"] / 1e7)
    assert np.allclose(g.scaled("relative_alt"), g["relative_alt"] / 1e3)


# --- synthetic logs --------------------------------------------------------------------------------------


def test_mixed_v1_v2_signed_frames_equal_pymavlink():
    data = survey_tlog(60, v1_every=3, signed=True)
    ref = decoded_with_pymavlink(data)
    log = parse_tlog(data)
    assert sum(log.counts.values()) == len(ref)
    assert log.info["frames"]["mavlink1"] > 0 and log.info["frames"]["signed"] > 0
    gpi = [(ts, m) for ts, m in ref if m.get_type() == "GLOBAL_POSITION_INT"]
    t = log["GLOBAL_POSITION_INT"]
    assert t["lat"].tolist() == [m.lat for _, m in gpi]
    assert t["hdg"].tolist() == [m.hdg for _, m in gpi]
    assert t["time_us"].tolist() == [ts for ts, _ in gpi]
    assert not log.skipped


def test_mavlink2_truncated_payloads_are_padded_with_zeros():
    """MAVLink 2 drops trailing zero bytes: SYS_STATUS ends in zeros, so its frames are short."""
    data = survey_tlog(30)
    log = parse_tlog(data)
    ss = log["SYS_STATUS"]
    assert ss["errors_count4"].tolist() == [0] * 30
    assert ss["voltage_battery"][0] == 16000
    assert log["STATUSTEXT"].text("text") == ["Warning: low battery"]  # char[50], mostly trailing zeros
    assert log["STATUSTEXT"]["id"].tolist() == [0]


def test_char_and_array_fields():
    enc = synth.mav()
    msg = synth.mavlink.MAVLink_camera_image_captured_message(
        1000, T0_US, 1, -353632621, 1491652374, 584000, 20000, [1.0, 0.0, 0.0, 0.0], 7, 1, b"/DCIM/IMG_0007.JPG")
    param = synth.mavlink.MAVLink_param_value_message(b"CAM_TRIGG_DIST", 25.0, 9, 900, 12)
    data = b"".join([synth.record(T0_US, synth.frame(enc, msg)), synth.record(T0_US + 1, synth.frame(enc, param)),
                     synth.record(T0_US + 2, synth.frame(enc, param, v1=True))])
    log = parse_tlog(data)
    t = log["CAMERA_IMAGE_CAPTURED"]
    assert t["q"].shape == (1, 4) and t["q"][0].tolist() == [1.0, 0.0, 0.0, 0.0]
    assert t["file_url"].tolist() == [b"/DCIM/IMG_0007.JPG"]
    assert t["image_index"].tolist() == [7]
    p = log["PARAM_VALUE"]
    assert p.text("param_id") == ["CAM_TRIGG_DIST"] * 2
    assert p["param_value"].tolist() == [25.0, 25.0] and p["param_index"].tolist() == [12, 12]


def test_garbage_between_frames_is_skipped_and_counted():
    data = survey_tlog(20)
    junk = bytes(np.random.default_rng(3).integers(0, 256, 777, dtype=np.uint8))
    at = _record_starts(data)[30]
    log = parse_tlog(data[:at] + junk + data[at:])
    assert log.counts == parse_tlog(data).counts
    assert log.skipped.garbage_bytes == 777


def test_bad_crc_frame_is_dropped_and_counted():
    data = bytearray(survey_tlog(20))
    ref = parse_tlog(bytes(data))
    # corrupt one payload byte of the 5th record (GLOBAL_POSITION_INT payload starts after ts + 10-byte header)
    starts = _record_starts(bytes(data))
    data[starts[4] + 8 + 10 + 3] ^= 0xFF
    log = parse_tlog(bytes(data))
    assert sum(log.counts.values()) == sum(ref.counts.values()) - 1
    assert log.skipped.bad_crc == 1


def test_unknown_message_ids_are_skipped_and_counted():
    data = bytearray(survey_tlog(10))
    starts = _record_starts(bytes(data))
    # An id no dialect defines, in a well-formed frame: the reader cannot check its CRC, so it skips it.
    unknown = bytes([0xFD, 3, 0, 0, 0, 1, 1]) + (424242).to_bytes(3, "little") + b"abc" + b"\x00\x00"
    rec = (T0_US).to_bytes(8, "big") + unknown
    data[starts[3]:starts[3]] = rec + rec
    log = parse_tlog(bytes(data))
    assert log.skipped.unknown_ids == {424242: 2}
    assert log.skipped.garbage_bytes == 0
    assert log.counts == parse_tlog(survey_tlog(10)).counts


def test_file_ending_mid_frame():
    data = survey_tlog(10)
    log = parse_tlog(data[:-7])
    full = parse_tlog(data)
    assert sum(log.counts.values()) == sum(full.counts.values()) - 1
    assert log.skipped.truncated_tail_bytes > 0
    assert log.skipped.garbage_bytes == 0


def test_empty_and_foreign_files_raise_log_format_error(tmp_path):
    empty = tmp_path / "empty.tlog"
    empty.write_bytes(b"")
    with pytest.raises(LogFormatError, match="no MAVLink frames"):
        read_tlog(empty)
    noise = tmp_path / "noise.tlog"
    noise.write_bytes(bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8)))
    with pytest.raises(LogFormatError, match=r"is it a \.tlog"):
        read_tlog(noise)
    with pytest.raises(LogFormatError, match="cannot read"):
        read_tlog(tmp_path / "missing.tlog")


def _record_starts(data: bytes) -> list[int]:
    starts, pos = [], 0
    while pos < len(data):
        starts.append(pos)
        magic, plen = data[pos + 8], data[pos + 9]
        pos += 8 + (10 + plen + 2 + (13 if data[pos + 10] & 1 else 0) if magic == 0xFD else 6 + plen + 2)
    return starts


def test_damaged_timestamp_is_replaced_and_counted():
    data = bytearray(survey_tlog(20))
    starts = _record_starts(bytes(data))
    data[starts[10] + 1] ^= 0x40  # the timestamp is outside the CRC: the frame stays valid, its time jumps years
    log = parse_tlog(bytes(data))
    assert log.skipped.bad_timestamps == 1
    t = log["ATTITUDE"]["time"]
    assert np.all(np.diff(t) >= 0) and t[-1] - t[0] < 5
