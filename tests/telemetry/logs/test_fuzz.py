"""Fuzz: readers fed mutated real and synthetic logs never crash, never hang, never invent frames.

Mutations flip, insert and delete bytes, duplicate chunks and truncate. The only exception allowed is
LogFormatError (for input with nothing readable left). For tlogs every decoded row must be a row of the
unmutated log (the CRC guarantees it; the timestamp is not CRC-protected, so it is left out of the
comparison). The flight helpers (track, events, summary) must cope with whatever the readers return.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skyscan.errors import LogFormatError
from telemetry.logs import Log, camera_events, parse_tlog, read_ulog, summary, track
from telemetry.logs.dataflash import parse_dataflash
from telemetry.logs.mrk import parse_mrk
from tests.telemetry.logs.synth import modern_bin, survey_tlog

# A few seconds in CI; SKYSCAN_FUZZ_EXAMPLES=5000 for a long local run.
EXAMPLES = int(os.environ.get("SKYSCAN_FUZZ_EXAMPLES", "60"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])

mutation = st.tuples(
    st.sampled_from(["flip", "insert", "delete", "duplicate", "truncate"]),
    st.floats(0, 1, exclude_max=True),
    st.binary(min_size=1, max_size=40),
    st.integers(1, 300),
)


def mutate(data: bytes, ops: list[tuple[str, float, bytes, int]]) -> bytes:
    buf = bytearray(data)
    for kind, where, blob, size in ops:
        if not buf:
            break
        at = int(where * len(buf))
        if kind == "flip":
            buf[at] ^= blob[0] or 0x01
        elif kind == "insert":
            buf[at:at] = blob
        elif kind == "delete":
            del buf[at:at + size]
        elif kind == "duplicate":
            buf[at:at] = buf[at:at + size]
        else:
            del buf[at:]
    return bytes(buf)


def row_keys(log: Log) -> set[tuple[str, bytes]]:
    """Every decoded row as (type, bytes of all fields except the tlog timestamp)."""
    keys = set()
    for name, table in log.tables.items():
        n = len(table)
        parts = [np.ascontiguousarray(v).view(np.uint8).reshape(n, -1)
                 for k, v in table.columns.items() if k not in ("time", "time_us")]
        rows = np.hstack(parts) if parts else np.zeros((n, 0), np.uint8)
        keys.update((name, r.tobytes()) for r in rows)
    return keys


def use_everything(log: Log) -> None:
    track(log)
    camera_events(log)
    summary(log).to_text()
    assert log.skipped.garbage_bytes >= 0 and log.skipped.truncated_tail_bytes >= 0
    for name, table in log.tables.items():
        assert len(table) <= log.counts.get(name, len(table))


class Samples(list):
    """Logs to mutate; a short repr keeps hypothesis' failure reports readable."""

    def __repr__(self) -> str:
        return f"<{len(self)} sample logs>"


@pytest.fixture(scope="module")
def tlog_samples(vtol_tlog: Path) -> Samples:
    real = vtol_tlog.read_bytes()[:120_000]  # a prefix keeps each example fast; it ends mid-frame on purpose
    synthetic = survey_tlog(80, v1_every=3, signed=True)
    return Samples((d, row_keys(parse_tlog(d))) for d in (real, synthetic))


@pytest.fixture(scope="module")
def bin_samples(copter_bin: Path) -> Samples:
    return Samples([copter_bin.read_bytes()[:150_000], modern_bin()])


@pytest.fixture(scope="module")
def mrk_sample(autel_mrk: Path) -> Samples:
    return Samples([autel_mrk.read_bytes()[:4000]])


@FUZZ
@given(which=st.integers(0, 1), ops=st.lists(mutation, min_size=1, max_size=6))
def test_fuzz_tlog(tlog_samples, which, ops):
    data, valid = tlog_samples[which]
    try:
        log = parse_tlog(mutate(data, ops))
    except LogFormatError:
        return
    assert row_keys(log) <= valid
    use_everything(log)


@FUZZ
@given(which=st.integers(0, 1), ops=st.lists(mutation, min_size=1, max_size=6))
def test_fuzz_dataflash(bin_samples, which, ops):
    data = mutate(bin_samples[which], ops)
    try:
        log = parse_dataflash(data)
    except LogFormatError:
        return
    assert sum(log.counts.values()) <= len(data) // 3
    use_everything(log)


@FUZZ
@given(ops=st.lists(mutation, min_size=1, max_size=6))
def test_fuzz_mrk(mrk_sample, ops):
    text = mutate(mrk_sample[0], ops).decode("utf-8", "replace")
    try:
        log = parse_mrk(text)
    except LogFormatError:
        return
    assert len(log["mrk"]) <= 177
    use_everything(log)


@FUZZ
@given(data=st.binary(max_size=3000))
def test_random_bytes_are_rejected_or_read(data):
    for parse in (parse_tlog, parse_dataflash):
        with contextlib.suppress(LogFormatError):
            parse(data)


@pytest.fixture(scope="module")
def ulog_sample(px4_ulogs, tmp_path_factory) -> Samples:
    return Samples([px4_ulogs[1].read_bytes(), tmp_path_factory.mktemp("fuzz-ulog")])


@settings(max_examples=max(10, EXAMPLES // 4), deadline=None)  # pyulog is slower: fewer examples
@given(ops=st.lists(mutation, min_size=1, max_size=6))
def test_fuzz_ulog(ulog_sample, ops):
    data, folder = ulog_sample
    path = folder / "mutated.ulg"
    path.write_bytes(mutate(data, ops))
    try:
        log = read_ulog(path)
    except LogFormatError:
        return
    use_everything(log)
