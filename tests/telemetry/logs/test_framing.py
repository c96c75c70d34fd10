"""Choosing real records among overlapping candidates; timestamp outliers; GPS time."""

from __future__ import annotations

import numpy as np
import pytest

from telemetry.logs.framing import chain_to_anchors, greedy_disjoint, is_member, lone_outliers, select_records
from telemetry.logs.gpstime import gps_to_unix, leap_seconds_at


def a(*v):
    return np.array(v, dtype=np.int64)


def test_greedy_disjoint_keeps_earliest_in_each_overlap():
    assert greedy_disjoint(a(0, 10, 20), a(10, 20, 30)).tolist() == [True, True, True]
    assert greedy_disjoint(a(0, 5, 10, 12, 20), a(10, 15, 20, 14, 30)).tolist() == [True, False, True, False, True]


def test_select_records_prefers_better_priority():
    # a false candidate (start 3) overlaps two real records; it comes first by position but has worse priority
    keep = select_records(a(0, 3, 10), a(10, 15, 20), np.array([0, 1, 0]))
    assert keep.tolist() == [True, False, True]


def test_chain_to_anchors_accepts_exact_chains_only():
    # anchors at 0..10 and 40..50; unverified 10..25, 25..40 chain exactly; 12..30 is a false start
    starts, ends = a(10, 12, 25), a(25, 30, 40)
    ok = chain_to_anchors(starts, ends, a(0, 40), 50)
    assert ok.tolist() == [True, False, True]
    assert chain_to_anchors(a(10), a(45), a(0, 40), 50).tolist() == [False]  # crosses an anchor


def test_is_member_and_outliers():
    assert is_member(a(1, 2, 7), a(2, 7, 9)).tolist() == [False, True, True]
    t = np.array([0.0, 1, 2, 1e9, 4, 5, 1e9 + 6, 1e9 + 7])  # one lone outlier, then a real jump
    assert lone_outliers(t, 100).tolist() == [False, False, False, True, False, False, False, False]


def test_gps_time_uses_the_leap_seconds_of_the_day():
    assert gps_to_unix(0, 0) == 315964800
    assert leap_seconds_at(1468440000) == 17  # 2016-07-13
    assert leap_seconds_at(1700000000) == 18
    # GPS week 2211, 296288.242869 s (the first Autel shutter event): 2022-05-25 10:17:50.242869 UTC
    assert gps_to_unix(2211, 296288.242869) == pytest.approx(1653473870.242869, abs=1e-6)
