"""PX4 ULog (through pyulog) and DJI/Autel MRK readers."""

from __future__ import annotations

import signal
import struct

import numpy as np
import pytest
from pyulog import ULog

from skyscan.errors import LogFormatError
from telemetry.logs import camera_events, read_mrk, read_ulog, summary, track
from telemetry.logs.mrk import parse_mrk
from telemetry.logs.ulog import ULOG_MAGIC


def test_ulog_tables_equal_pyulog(px4_ulogs):
    for path in px4_ulogs:
        log = read_ulog(path)
        ref = ULog(str(path))
        for d in ref.data_list:
            name = d.name if d.multi_id == 0 else f"{d.name}[{d.multi_id}]"
            table = log[name]
            assert len(table) == len(d.data["timestamp"])
            for key, values in d.data.items():
                if key.endswith("]") and key.split("[")[0] in table:  # arrays gathered into 2-D columns
                    base, idx = key[:-1].split("[")
                    assert np.array_equal(table[base][:, int(idx)], values, equal_nan=True), f"{name}.{key}"
                else:
                    assert np.array_equal(table[key], values, equal_nan=values.dtype.kind == "f"), f"{name}.{key}"
            assert np.all(np.diff(table["time"]) >= 0), name


def test_ulog_utc_from_gps(px4_ulogs):
    no_gps, with_gps = (read_ulog(p) for p in px4_ulogs)
    assert not no_gps.utc
    assert with_gps.utc
    gps = with_gps["vehicle_gps_position"]
    assert np.allclose(gps["time"], gps["time_utc_usec"] / 1e6, atol=0.05)  # 2021-04-21
    trk = track(with_gps)
    assert len(trk) == 32 and np.all(np.abs(trk["lat"] - 63.417) < 0.01)
    assert np.isfinite(trk["yaw"]).all()
    s = summary(with_gps)
    assert s.modes and s.modes[0].name == "MANUAL"
    assert [n.text for n in s.notices] == []  # all INFO level
    assert summary(no_gps).notices[0].severity == "ERROR"


def test_ulog_type_filter_and_errors(px4_ulogs, tmp_path):
    log = read_ulog(px4_ulogs[1], types=["vehicle_gps_position"])
    assert set(log.tables) == {"vehicle_gps_position", "logging"}
    bad = tmp_path / "bad.ulg"
    bad.write_bytes(b"not a ulog")
    with pytest.raises(LogFormatError, match="not a PX4 ULog"):
        read_ulog(bad)


def test_mrk_real_file(autel_mrk):
    log = read_mrk(autel_mrk)
    m = log["mrk"]
    assert len(m) == 176 and m["index"].tolist() == list(range(2, 178))
    assert np.all(np.abs(m["lat"] - 47.6435) < 0.01) and np.all(np.abs(m["lon"] - 16.476) < 0.01)
    assert np.all((m["alt_ellipsoid"] > 500) & (m["alt_ellipsoid"] < 530))
    assert np.all(m["rtk_flag"] == 50) and np.all(m["std_v"] < 0.05)
    assert np.all(np.diff(m["time"]) > 0)
    assert log.utc and 1653472000 < m["time"][0] < 1653490000  # 2022-05-25, GPS week 2211
    assert not log.skipped
    ev = camera_events(log)
    assert len(ev) == 176 and not ev["interpolated"].any()
    assert summary(log).camera_events == 176


def test_mrk_variants_and_bad_lines():
    text = ("7\t100.5\t[2211]\t  -3,N\t 2,E\t 75,V\t47.1,Lat\t16.2,Lon\t500.0,Ellh\t0.01, 0.02, 0.03\t16,Q\n"
            "garbage line\n"
            "8  101.0  [2211]  16.3,Lon  47.2,Lat  501.5,Ellh  50,Q\n")
    log = parse_mrk(text)
    m = log["mrk"]
    assert m["index"].tolist() == [7, 8]
    assert m["lat"].tolist() == [47.1, 47.2] and m["lon"].tolist() == [16.2, 16.3]
    assert m["offset_n"][0] == pytest.approx(-0.003) and np.isnan(m["offset_n"][1])
    assert m["std_e"][0] == 0.02 and m["rtk_flag"].tolist() == [16, 50]
    assert log.skipped.garbage_bytes == len("garbage line\n")
    with pytest.raises(LogFormatError, match="no shutter events"):
        parse_mrk("nothing here\n")


def _stuck_ulog() -> bytes:
    """A ULog whose definitions end in a corrupt header larger than the rest of the file.

    pyulog 1.3.0 then seeks back further than it read and loops forever; read_ulog must stop it.
    """
    def info(i: int) -> bytes:
        key = f"uint8_t k{i:05d}".encode()
        data = bytes([len(key)]) + key + b"\x01"
        return struct.pack("<HB", len(data), ord("I")) + data

    head = ULOG_MAGIC + b"\x01" + struct.pack("<Q", 0)
    return head + b"".join(info(i) for i in range(1500)) + struct.pack("<HB", 20000, 0) + b"\x00" * 5


def test_ulog_on_which_pyulog_loops_forever_is_reported(tmp_path):
    path = tmp_path / "stuck.ulg"
    path.write_bytes(_stuck_ulog())

    def hang(*_):
        raise AssertionError("read_ulog hung on a damaged file")

    old = signal.signal(signal.SIGALRM, hang)
    signal.alarm(30)  # fail, never hang the test run
    try:
        with pytest.raises(LogFormatError, match="gets stuck"):
            read_ulog(path)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
