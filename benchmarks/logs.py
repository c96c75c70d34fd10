"""Benchmark: skyscan's log readers against pymavlink on a >= 100 MB tlog and the real DataFlash logs.

Inputs (nothing is downloaded):

* a tlog of >= 100 MB built in a temporary folder by repeating the real SITL tlog
  (``../shared/data/flight_logs/ardupilot_sitl_uavlogviewer/vtol.tlog``; a synthetic pymavlink stream
  when the shared data is absent) with its timestamps shifted so time keeps running forward;
* the real ArduCopter ``.bin`` logs of the shared data set.

Readers, each in a fresh subprocess (so peak memory is its own; ``peak MB`` is the process's maximum
RSS, ``+MB`` the growth over the RSS after imports):

* tlog: ``read_tlog`` (all messages decoded into tables) vs pymavlink ``mavutil.mavlink_connection(path)``
  + ``recv_match()`` until None; with a 2-type filter, ``read_tlog(types=...)`` vs ``recv_match(type=...)``;
* bin: ``read_dataflash`` vs ``DFReader_binary`` + ``recv_msg()`` until None (constructor, which
  indexes the file, included).

pymavlink needs minutes for 100 MB, so by default it reads a prefix of the big tlog (cut at a record
boundary; skyscan reads the same prefix for a like-for-like row) and the full-file ratio uses its
per-message rate from that prefix, labelled as such. ``SKYSCAN_BENCH_FULL=1`` runs pymavlink on the
whole file. skyscan's times are the best of 3 runs in one process; pymavlink's a single run.
"""

from __future__ import annotations

import json
import math
import os
import struct
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "flight_logs"
TLOG = SHARED / "ardupilot_sitl_uavlogviewer" / "vtol.tlog"
BINS = sorted((SHARED / "ardupilot_bin_h3ct0r_px4tools").glob("*.bin"))
TARGET_BYTES = 100 * 1024 * 1024
PREFIX_BYTES = 20 * 1024 * 1024
FILTER = ["GLOBAL_POSITION_INT", "CAMERA_FEEDBACK"]

# One measurement in a fresh interpreter: prints JSON with seconds, messages and memory.
_CHILD = r"""
import json, os, resource, sys, time
os.environ["MAVLINK20"] = "1"
kind, path, types = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])

def rss_mb():
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024

if kind.startswith("skyscan"):
    from telemetry.logs import read_dataflash, read_tlog
    from telemetry.logs.mavlink_defs import load_dialect
    load_dialect()  # parsed once per process: not part of reading a file
    read = read_tlog if kind == "skyscan-tlog" else read_dataflash
    base = rss_mb()
    best = None
    for _ in range(3):
        t0 = time.perf_counter()
        log = read(path, types=types)
        dt = time.perf_counter() - t0
        best = dt if best is None else min(best, dt)
        n = sum(log.counts[t] for t in types if t in log.counts) if types else sum(log.counts.values())
        del log
else:
    from pymavlink import DFReader, mavutil
    base = rss_mb()
    t0 = time.perf_counter()
    n = 0
    if kind == "pymavlink-tlog":
        conn = mavutil.mavlink_connection(path, dialect="ardupilotmega")
        while conn.recv_match(type=types or None) is not None:
            n += 1
    else:
        reader = DFReader.DFReader_binary(path)
        while reader.recv_msg() is not None:
            n += 1
    best = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": best, "messages": n, "base_mb": base, "peak_mb": peak}))
"""


@dataclass
class Result:
    input: str
    reader: str
    mbytes: float
    messages: int
    seconds: float
    base_mb: float
    peak_mb: float

    @property
    def rate(self) -> float:
        return self.messages / self.seconds


def _measure(kind: str, path: Path, label: str, types: list[str] | None = None) -> Result:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    out = subprocess.run([sys.executable, "-c", _CHILD, kind, str(path), json.dumps(types or [])],
                         capture_output=True, text=True, env=env, check=True)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    reader = kind.split("-")[0] + (" types=2" if types else "")
    return Result(label, reader, path.stat().st_size / 1e6, r["messages"], r["seconds"], r["base_mb"], r["peak_mb"])


def _records(data: bytes) -> np.ndarray:
    """Start offsets of the tlog records of a clean log (a plain walk: only used to build the input)."""
    starts, pos = [], 0
    while pos + 10 <= len(data):
        starts.append(pos)
        magic, plen = data[pos + 8], data[pos + 9]
        pos += 8 + (10 + plen + 2 + (13 if data[pos + 10] & 1 else 0) if magic == 0xFD else 6 + plen + 2)
    return np.array(starts if pos == len(data) else starts[:-1], dtype=np.int64)


def _synthetic_base() -> bytes:
    """About 1 MB of a pymavlink-encoded flight, for machines without the shared data."""
    os.environ["MAVLINK20"] = "1"
    from pymavlink.dialects.v20 import ardupilotmega as mavlink

    enc = mavlink.MAVLink(None, srcSystem=1, srcComponent=1)
    out = bytearray()
    t0 = 1_700_000_000_000_000
    for i in range(6000):
        for msg in (mavlink.MAVLink_global_position_int_message(i * 100, -353632621 + i, 1491652374 + i, 584000,
                                                                 i, 300, 400, 0, 4500),
                    mavlink.MAVLink_attitude_message(i * 100, 0.01, -0.02, 0.785, 0.0, 0.0, 0.0),
                    mavlink.MAVLink_vfr_hud_message(12.0, 11.5, 45, 50, 584.0, 0.1),
                    mavlink.MAVLink_sys_status_message(0, 0, 0, 500, 16000, 1500, 90, 0, 0, 0, 0, 0, 0)):
            out += struct.pack(">Q", t0 + i * 100_000) + msg.pack(enc)
            enc.seq = (enc.seq + 1) % 256
    return bytes(out)


def build_big_tlog(folder: Path) -> tuple[Path, Path, str]:
    """The >= 100 MB tlog and a ~20 MB prefix of it (cut at a record boundary), and a description."""
    base = TLOG.read_bytes() if TLOG.is_file() else _synthetic_base()
    source = TLOG.name if TLOG.is_file() else "synthetic"
    starts = _records(base)
    base = base[:int(starts[-1]) + (len(base) - int(starts[-1]))]
    ts_idx = starts[:, None] + np.arange(8)
    stamps = np.frombuffer(base, np.uint8)[ts_idx].copy().view(">u8")[:, 0].astype(np.int64)
    span = int(stamps.max() - stamps.min()) + 1_000_000
    copies = math.ceil(TARGET_BYTES / len(base))
    big = folder / "big.tlog"
    with big.open("wb") as fh:
        for k in range(copies):
            chunk = np.frombuffer(base, np.uint8).copy()
            chunk[ts_idx] = (stamps + k * span).astype(">u8").view(np.uint8).reshape(-1, 8)
            fh.write(chunk.tobytes())
    # prefix: whole copies, then whole records, up to PREFIX_BYTES
    whole = PREFIX_BYTES // len(base)
    rest = starts[starts <= PREFIX_BYTES - whole * len(base)]
    cut = whole * len(base) + int(rest[-1])
    prefix = folder / "prefix.tlog"
    with big.open("rb") as src, prefix.open("wb") as dst:
        dst.write(src.read(cut))
    return big, prefix, f"{copies} x {source} ({len(base) / 1e6:.2f} MB)"


def _row(r: Result, ratio: str) -> str:
    return (f"{r.input:22} {r.reader:18} {r.mbytes:8.1f} {r.messages:10d} {r.seconds:8.3f} {r.rate / 1e3:9.1f} "
            f"{r.mbytes / r.seconds:7.1f} {r.peak_mb:8.0f} {r.peak_mb - r.base_mb:7.0f}  {ratio}")


def main() -> int:
    full = os.environ.get("SKYSCAN_BENCH_FULL") == "1"
    header = (f"{'input':22} {'reader':18} {'MB':>8} {'messages':>10} {'seconds':>8} {'k msg/s':>9} {'MB/s':>7} "
              f"{'peak MB':>8} {'+MB':>7}  ratio (skyscan msg/s / pymavlink msg/s)")
    with tempfile.TemporaryDirectory(prefix="skyscan-bench-logs-") as tmp:
        big, prefix, desc = build_big_tlog(Path(tmp))
        print(f"tlog: {desc} -> {big.stat().st_size / 1e6:.1f} MB; prefix {prefix.stat().st_size / 1e6:.1f} MB")
        print(header)
        print("-" * len(header))

        sky_p = _measure("skyscan-tlog", prefix, "tlog prefix")
        py_p = _measure("pymavlink-tlog", prefix, "tlog prefix")
        print(_row(py_p, ""))
        print(_row(sky_p, f"x{sky_p.rate / py_p.rate:.1f}"))
        sky_f = _measure("skyscan-tlog", big, "tlog full")
        if full:
            py_f = _measure("pymavlink-tlog", big, "tlog full")
            print(_row(py_f, ""))
            print(_row(sky_f, f"x{sky_f.rate / py_f.rate:.1f}"))
        else:
            print(_row(sky_f, f"x{sky_f.rate / py_p.rate:.1f} (vs pymavlink's rate on the prefix)"))
        py_t = _measure("pymavlink-tlog", prefix, "tlog prefix", FILTER)
        sky_t = _measure("skyscan-tlog", prefix, "tlog prefix", FILTER)
        print(_row(py_t, ""))
        print(_row(sky_t, f"x{sky_t.seconds and py_t.seconds / sky_t.seconds:.1f} (time ratio, same matches)"))

    for path in BINS:
        py_b = _measure("pymavlink-bin", path, path.name)
        sky_b = _measure("skyscan-bin", path, path.name)
        py_b.reader = "pymavlink DFReader"
        print(_row(py_b, ""))
        print(_row(sky_b, f"x{sky_b.rate / py_b.rate:.1f}"))
    if not BINS:
        print(f"(no .bin logs under {SHARED}: DataFlash rows skipped)")
    print("types=2: GLOBAL_POSITION_INT + CAMERA_FEEDBACK only; messages = matches. "
          "peak MB = max RSS of the reader's process, +MB = growth over its RSS after imports.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
