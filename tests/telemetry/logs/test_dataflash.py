"""DataFlash reader: real ArduCopter logs against pymavlink's DFReader (the oracle), synthetic modern logs."""

from __future__ import annotations

import collections
import os
from pathlib import Path

import numpy as np
import pytest

os.environ["MAVLINK20"] = "1"
from pymavlink import DFReader

from skyscan.errors import LogFormatError
from telemetry.logs import read_dataflash
from telemetry.logs.dataflash import parse_dataflash
from telemetry.logs.gpstime import gps_to_unix
from tests.telemetry.logs.synth import BOOT_US0, GPS_MS0, GPS_WEEK, modern_bin

ORACLE_TYPES = ("GPS", "ATT", "MODE", "PARM", "CURR", "MSG", "IMU", "FMT", "CTUN", "RCOU")


def dfreader_messages(path: Path) -> dict[str, list]:
    reader = DFReader.DFReader_binary(str(path))
    out = collections.defaultdict(list)
    while (msg := reader.recv_msg()) is not None:
        out[msg.get_type()].append(msg)
    reader.close()
    return out


@pytest.fixture(scope="module")
def oracle(copter_bin) -> dict[str, list]:
    return dfreader_messages(copter_bin)


def _assert_table_equals(table, ref):
    assert len(table) == len(ref)
    for col in ref[0].get_fieldnames():
        ours, theirs = table[col], [getattr(m, col) for m in ref]
        if ours.dtype.kind == "S":
            assert [v.decode("utf-8", "replace") for v in ours.tolist()] == theirs, col
        else:
            # DFReader divides by 1/1e-7 = 9999999.999999998; ours by 1e7: equal to the last bit or two.
            assert np.allclose(ours, np.asarray(theirs, dtype=np.float64), rtol=1e-12, atol=0), col


def test_counts_equal_dfreader(copter_bin, oracle):
    log = read_dataflash(copter_bin)
    assert log.counts == {k: len(v) for k, v in sorted(oracle.items())}
    assert not log.skipped


@pytest.mark.parametrize("name", ORACLE_TYPES)
def test_values_equal_dfreader(copter_bin, oracle, name):
    _assert_table_equals(read_dataflash(copter_bin)[name], oracle[name])


def test_times_follow_dfreader_clock_and_are_utc(copter_bin, oracle):
    """Same relative timing as DFReader (TimeMS / GPS T / carried forward); UTC from GPS week + ms.

    The absolute offset differs on purpose: DFReader takes the first GPS fix and 18 leap seconds; we take the
    median over all fixes (the first fixes of these logs are 1.2-1.5 s off) and 17 leap seconds (July 2016).
    """
    log = read_dataflash(copter_bin)
    assert log.utc
    for name in ("GPS", "ATT", "MODE", "PARM"):
        d = log[name]["time"] - np.array([m._timestamp for m in oracle[name]])
        assert np.ptp(d) < 1e-6, name
    gps = log["GPS"]
    fixes = gps_to_unix(gps["Week"], gps["TimeMS"] / 1000.0)
    assert np.median(np.abs(gps["time"] - fixes)) < 0.05
    assert 1468440000 < gps["time"][0] < 1468450000  # 2016-07-13 20:00-23:00 UTC
    for name in ("GPS", "ATT", "IMU", "CURR"):
        assert np.all(np.diff(log[name]["time"]) >= 0), name


def test_multipliers_and_strings(copter_bin):
    log = read_dataflash(copter_bin)
    gps = log["GPS"]
    assert gps["Lat"].dtype == np.float64 and -20 < gps["Lat"].mean() < -19  # L: degrees, not 1e7
    assert log.info["vehicle"] == "copter"
    assert log.info["messages"][0].startswith("ArduCopter V3.2.1")
    assert 300 < len(log.info["params"]) <= 417


def test_types_filter(copter_bin):
    full = read_dataflash(copter_bin)
    part = read_dataflash(copter_bin, types=["CAM", "GPS"])
    assert set(part.tables) == {"GPS"}
    assert part.counts == full.counts
    assert part.utc


# --- synthetic modern log ----------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=[False, True], ids=["cam-new", "cam-old"])
def modern(request, tmp_path_factory) -> tuple[Path, bool]:
    path = tmp_path_factory.mktemp("df") / "modern.bin"
    path.write_bytes(modern_bin(old_cam=request.param))
    return path, request.param


def test_modern_log_equals_dfreader(modern):
    path, _ = modern
    log = read_dataflash(path)
    ref = dfreader_messages(path)
    assert log.counts == {k: len(v) for k, v in sorted(ref.items())}
    for name in ("GPS", "POS", "ATT", "CAM", "MODE", "BAT", "CMD", "PARM", "MSG"):
        _assert_table_equals(log[name], ref[name])
        if name != "CAM" or "TimeUS" in log[name]:
            assert np.allclose(log[name]["time"], [m._timestamp for m in ref[name]], atol=1e-6), name


def test_modern_log_time_and_units(modern):
    path, old_cam = modern
    log = read_dataflash(path)
    gps = log["GPS"]
    assert gps["time_boot"][0] == pytest.approx(BOOT_US0 / 1e6)
    assert gps["time"][0] == pytest.approx(gps_to_unix(GPS_WEEK, GPS_MS0 / 1000.0))
    assert log["POS"].units == {"TimeUS": "us", "Lat": "deg", "Lng": "deg", "Alt": "m", "RelHomeAlt": "m",
                                "RelOriginAlt": "m", "time_boot": "s", "time": "s"}
    cam = log["CAM"]
    if old_cam:
        assert "TimeUS" not in cam and cam["Roll"].tolist() == [1.5] * 5 and cam["Yaw"].tolist() == [45.0] * 5
    else:
        assert cam["R"].tolist() == [1.5] * 5 and cam["Img"].tolist() == [1, 2, 3, 4, 5]


def test_garbage_truncation_and_unknown_types():
    data = modern_bin()
    junk = bytes(np.random.default_rng(1).integers(0, 256, 333, dtype=np.uint8)).replace(b"\xa3\x95", b"\x00\x00")
    cut = data.index(b"\xa3\x95\x46", 5000)  # a GPS record in the middle
    unknown = bytes([0xA3, 0x95, 200]) + b"\x01" * 20  # a type without FMT
    damaged = data[:cut] + junk + unknown + data[cut:-5]
    log = parse_dataflash(damaged)
    ref = parse_dataflash(data)
    assert log.skipped.unknown_ids == {200: 1}
    assert log.skipped.garbage_bytes == 333 + 23
    assert log.skipped.truncated_tail_bytes > 0
    assert sum(log.counts.values()) == sum(ref.counts.values()) - 1  # only the truncated last record is lost
    assert np.array_equal(log["GPS"]["Lat"], ref["GPS"]["Lat"])


def test_not_a_dataflash_file(tmp_path):
    p = tmp_path / "x.bin"
    p.write_bytes(b"hello world" * 10)
    with pytest.raises(LogFormatError, match="no DataFlash FMT records"):
        read_dataflash(p)


def test_damaged_time_field_is_carried_forward():
    data = bytearray(modern_bin())
    at = data.index(b"\xa3\x95\x48", 6000)  # an ATT record: TimeUS follows the header
    data[at + 3 + 5] ^= 0x10  # TimeUS + ~1e12 us
    log = parse_dataflash(bytes(data))
    assert log.skipped.bad_timestamps == 1
    assert np.all(np.diff(log["ATT"]["time_boot"]) >= 0) and log["ATT"]["time_boot"].max() < 60
