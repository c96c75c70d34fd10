"""Choosing which candidate frames of a binary log are real, for all candidates at once.

Binary logs are a sequence of self-delimiting records (a tlog record is a timestamp and a MAVLink frame;
a DataFlash record is a header and a payload of known length). A vectorised reader first finds every
*candidate* record start (the magic bytes, wherever they occur, also inside payloads) and its end. Real
records tile the file; candidates found inside payloads overlap real ones. :func:`select_records`
keeps a non-overlapping set, preferring better-evidenced candidates (a valid checksum, records that chain
into their neighbours), and resolving the rare overlaps with a short loop over the conflicting
candidates only. :func:`chain_to_anchors` accepts records that carry no checksum (unknown message ids,
types left out by a filter) only when following their lengths from a trusted record lands exactly on the
next trusted record.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from skyscan.errors import LogFormatError

__all__ = ["chain_to_anchors", "greedy_disjoint", "is_member", "lone_outliers", "select_records"]


def is_member(values: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    """``values`` found in the sorted array ``sorted_set`` (np.isin without its sort, for sorted positions)."""
    if sorted_set.size == 0:
        return np.zeros(len(values), dtype=bool)
    idx = np.minimum(np.searchsorted(sorted_set, values), sorted_set.size - 1)
    return sorted_set[idx] == values


def greedy_disjoint(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Mask of a disjoint subset of intervals sorted by start: earliest start wins each overlap.

    Vectorised when nothing overlaps (a clean log); otherwise loops over the members of the
    overlapping clusters only.
    """
    n = len(starts)
    keep = np.ones(n, dtype=bool)
    if n < 2:
        return keep
    prev_end = np.empty(n, dtype=ends.dtype)
    prev_end[0] = np.iinfo(ends.dtype).min
    np.maximum.accumulate(ends[:-1], out=prev_end[1:])
    conflict = starts < prev_end
    if not conflict.any():
        return keep
    # A cluster begins where an interval starts after everything before it ended.
    cluster = np.cumsum(~conflict) - 1
    size = np.bincount(cluster)
    members = np.flatnonzero(size[cluster] > 1)
    last_end = None
    last_cluster = -1
    for i, s, e, c in zip(members.tolist(), starts[members].tolist(), ends[members].tolist(),
                          cluster[members].tolist(), strict=True):
        if c != last_cluster:
            last_cluster, last_end = c, None
        if last_end is None or s >= last_end:
            last_end = e
        else:
            keep[i] = False
    return keep


def select_records(starts: np.ndarray, ends: np.ndarray, priority: np.ndarray) -> np.ndarray:
    """Mask of a disjoint set of records [start, end), taking priority 0 first, then 1, ... .

    ``starts`` must be sorted. A candidate is dropped when it overlaps one already kept at a better
    priority; within one priority, earlier starts win.
    """
    keep = np.zeros(len(starts), dtype=bool)
    acc_s = np.empty(0, dtype=starts.dtype)
    acc_e = np.empty(0, dtype=ends.dtype)
    for level in np.unique(priority):
        idx = np.flatnonzero(priority == level)
        s, e = starts[idx], ends[idx]
        if acc_s.size:
            j = np.searchsorted(acc_s, e, side="left") - 1  # last kept record starting before e
            hit = (j >= 0) & (acc_e[np.maximum(j, 0)] > s)
            idx, s, e = idx[~hit], s[~hit], e[~hit]
        ok = greedy_disjoint(s, e)
        idx, s, e = idx[ok], s[ok], e[ok]
        keep[idx] = True
        if acc_s.size:
            acc_s = np.concatenate([acc_s, s])
            acc_e = np.concatenate([acc_e, e])
            order = np.argsort(acc_s, kind="stable")
            acc_s, acc_e = acc_s[order], acc_e[order]
        else:
            acc_s, acc_e = s, e
    return keep


def chain_to_anchors(starts: np.ndarray, ends: np.ndarray, anchor_starts: np.ndarray, size: int,
                     good_ends: np.ndarray | None = None) -> np.ndarray:
    """Mask of unverified records whose length chain reaches the next trusted position exactly.

    ``starts``/``ends`` are the unverified candidates (sorted by start, unique starts); ``anchor_starts``
    are sorted starts of trusted records. Following ``end -> candidate starting there -> ...`` from a
    candidate must arrive exactly at the first anchor start after it, at the end of the file
    (``size``), or at one of ``good_ends`` (e.g. the start of a truncated last frame) without crossing
    an anchor. Computed by pointer doubling: O(n log n) array operations, no loop per record.
    Candidates that pass may still overlap each other (a false start inside a real record whose chain
    merges into the real one); :func:`select_records` then keeps the earliest, which is the real chain.
    """
    n = len(starts)
    if n == 0:
        return np.zeros(0, dtype=bool)
    # The first trusted position after each candidate's start: the chain must stop exactly there.
    bounds = np.concatenate([anchor_starts, [size]]) if anchor_starts.size else np.array([size])
    nxt_anchor = bounds[np.minimum(np.searchsorted(bounds, starts, side="right"), len(bounds) - 1)]
    terminal = ends == nxt_anchor
    if good_ends is not None and good_ends.size:
        terminal |= is_member(ends, np.sort(good_ends)) & (ends <= nxt_anchor)
    succ = np.searchsorted(starts, ends)
    has_succ = (succ < n) & (starts[np.minimum(succ, n - 1)] == ends)
    state = np.where(terminal, 1, np.where((ends > nxt_anchor) | ~has_succ, -1, 0)).astype(np.int8)
    ptr = np.where(has_succ, succ, np.arange(n))
    undecided = np.flatnonzero(state == 0)
    while undecided.size:
        p = ptr[undecided]
        state[undecided] = state[p]
        ptr[undecided] = ptr[p]
        undecided = undecided[state[undecided] == 0]
    return state == 1


def lone_outliers(t: np.ndarray, tolerance: float) -> np.ndarray:
    """Mask of isolated values in a time sequence: far from both neighbours, which agree with each other.

    A timestamp is not covered by any checksum, so one damaged byte can move a record years away.
    A real jump (logging paused, clock set) moves every following record too and is not flagged.
    """
    n = len(t)
    bad = np.zeros(n, dtype=bool)
    if n < 3:
        return bad
    prev, cur, nxt = t[:-2], t[1:-1], t[2:]
    bad[1:-1] = (np.abs(cur - prev) > tolerance) & (np.abs(cur - nxt) > tolerance) & (np.abs(nxt - prev) <= tolerance)
    bad[0] = abs(t[0] - t[1]) > tolerance and abs(t[1] - t[2]) <= tolerance
    bad[-1] = abs(t[-1] - t[-2]) > tolerance and abs(t[-2] - t[-3]) <= tolerance
    return bad


def map_file(path: str | os.PathLike) -> np.ndarray:
    """The bytes of ``path`` as a read-only memory map (an empty array for an empty file)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        return np.memmap(path, dtype=np.uint8, mode="r") if size else np.zeros(0, np.uint8)
    except OSError as exc:
        raise LogFormatError(f"cannot read {path}: {exc.strerror or exc}; check the path and permissions") from exc
