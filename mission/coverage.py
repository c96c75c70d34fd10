"""Coverage: parallel transects over any polygon (concave, with holes), ordered into a short path.

The steps, all in a local metric frame:

1. **Sweep lines.** For a transect bearing, the region to fly is rotated so the lines are
   horizontal; lines at the line spacing are clipped against it in one vectorised shapely call.
   A line crossing a hole or a notch becomes several segments; nothing is flown through a no-fly
   zone (QGroundControl keeps only the two outermost crossings of each line and so flies outside
   concave areas and over holes).
2. **Cells.** Segments on consecutive lines that overlap one-to-one form a cell (a discrete
   boustrophedon decomposition), flown as a lawnmower that can be entered at any of 4 corners.
3. **Order.** Cells and their entry corners are ordered to minimise transit distance: greedy
   nearest neighbour, then 2-opt and relocate moves, each order scored exactly by dynamic
   programming over the entry corners. Transits are routed around no-fly zones.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass, field

import numpy as np
import shapely

from mission.routing import Router

__all__ = ["PathPoint", "Segment", "SweepFrame", "build_path", "clip_sweep_lines", "make_cells", "order_cells"]


@dataclass(frozen=True)
class SweepFrame:
    """Rotation into sweep coordinates: ``u`` along the lines, ``v`` across them.

    ``bearing_deg`` is the direction of the lines, clockwise from grid north (0 = north-south
    lines, 90 = east-west).
    """

    bearing_deg: float

    @property
    def _dn(self) -> tuple[np.ndarray, np.ndarray]:
        t = math.radians(self.bearing_deg)
        return np.array([math.sin(t), math.cos(t)]), np.array([math.cos(t), -math.sin(t)])

    def to_uv(self, xy: np.ndarray) -> np.ndarray:
        d, n = self._dn
        xy = np.asarray(xy, dtype=float)
        return np.stack([xy @ d, xy @ n], axis=-1)

    def to_xy(self, uv: np.ndarray) -> np.ndarray:
        d, n = self._dn
        uv = np.asarray(uv, dtype=float)
        return uv[..., :1] * d + uv[..., 1:2] * n

    def rotate(self, geom):
        """A shapely geometry in sweep coordinates."""
        return shapely.transform(geom, self.to_uv)


@dataclass
class Segment:
    """A stretch of one sweep line to fly with the camera on, in sweep coordinates."""

    line: int
    v: float
    u0: float
    u1: float

    @property
    def length(self) -> float:
        return self.u1 - self.u0


def line_offsets(v_min: float, v_max: float, spacing: float, margin: float) -> np.ndarray:
    """Line positions across ``[v_min, v_max]`` widened by ``margin`` each side, centred.

    The lines span at most the widened extent (so none falls outside it) and are centred on it.
    """
    span = (v_max - v_min) + 2 * margin
    n = max(1, math.floor(span / spacing + 1e-9) + 1)
    centre = 0.5 * (v_min + v_max)
    return centre + (np.arange(n) - (n - 1) / 2) * spacing


def clip_sweep_lines(region_uv, offsets: np.ndarray) -> list[Segment]:
    """Clip horizontal lines ``v = offsets[k]`` against ``region_uv``; segments sorted by (line, u).

    Segments are never joined across a gap: a gap is ground outside the allowed region (a wide
    hole, a notch, a no-fly zone), where the camera must be off.
    """
    if region_uv.is_empty or len(offsets) == 0:
        return []
    u_min, _, u_max, _ = region_uv.bounds
    n = len(offsets)
    ends = np.empty((n, 2, 2))
    ends[:, 0, 0], ends[:, 1, 0] = u_min - 1.0, u_max + 1.0
    ends[:, :, 1] = offsets[:, None]
    clipped = shapely.intersection(shapely.linestrings(ends), region_uv)
    parts, idx = shapely.get_parts(clipped, return_index=True)
    lines = shapely.get_type_id(parts) == 1
    parts, idx = parts[lines], idx[lines]
    if parts.size == 0:
        return []
    coords, cidx = shapely.get_coordinates(parts, return_index=True)
    lo = np.full(parts.size, np.inf)
    hi = np.full(parts.size, -np.inf)
    np.minimum.at(lo, cidx, coords[:, 0])
    np.maximum.at(hi, cidx, coords[:, 0])
    order = np.lexsort((lo, idx))
    segs = [Segment(int(k), float(offsets[k]), float(a), float(b))
            for k, a, b in zip(idx[order], lo[order], hi[order], strict=True)]
    return [s for s in segs if s.length > 0.01]


def make_cells(segs: list[Segment]) -> list[list[Segment]]:
    """Group segments into boustrophedon cells: runs on consecutive lines overlapping one-to-one."""
    by_line: dict[int, list[int]] = {}
    for i, s in enumerate(segs):
        by_line.setdefault(s.line, []).append(i)

    def overlaps(a: Segment, b: Segment) -> bool:
        return min(a.u1, b.u1) - max(a.u0, b.u0) > 0

    cell_of: dict[int, int] = {}
    cells: list[list[int]] = []
    for line in sorted(by_line):
        prev_ids = by_line.get(line - 1, [])
        for i in by_line[line]:
            s = segs[i]
            touching = [p for p in prev_ids if overlaps(segs[p], s)]
            if len(touching) == 1:
                p = touching[0]
                siblings = [q for q in by_line[line] if overlaps(segs[p], segs[q])]
                cell = cells[cell_of[p]]
                if siblings == [i] and cell[-1] == p:
                    cell.append(i)
                    cell_of[i] = cell_of[p]
                    continue
            cell_of[i] = len(cells)
            cells.append([i])
    return [[segs[i] for i in cell] for cell in cells]


# -- per-cell lawnmower ---------------------------------------------------------------------------
@dataclass
class PathPoint:
    """A point of the flight path in plan coordinates.

    ``role``: ``transit`` (routing), ``turn`` (turnaround end), ``entry`` (camera on, every
    ``trigger_m`` metres), ``exit`` (last planned photo), ``photo`` (hover and capture).
    ``camera_off`` marks the point after which the camera is switched off; ``yaw_deg`` the heading
    to hold at a ``photo`` point (the direction of its line, so every footprint is aligned).
    """

    x: float
    y: float
    role: str
    trigger_m: float = 0.0
    camera_off: bool = False
    yaw_deg: float = math.nan


@dataclass
class _Run:
    """One way of flying a cell: its segments in order with their direction."""

    segments: list[tuple[Segment, bool]]  # (segment, left_to_right)

    @property
    def entry(self) -> tuple[float, float]:
        s, ltr = self.segments[0]
        return (s.u0, s.v) if ltr else (s.u1, s.v)

    @property
    def exit(self) -> tuple[float, float]:
        s, ltr = self.segments[-1]
        return (s.u1, s.v) if ltr else (s.u0, s.v)


def cell_runs(cell: list[Segment]) -> list[_Run]:
    """The 4 ways to fly a cell: from its first or last line, starting at its left or right end."""
    runs = []
    for lines in (cell, cell[::-1]):
        for start_ltr in (True, False):
            runs.append(_Run([(s, start_ltr ^ (j % 2 == 1)) for j, s in enumerate(lines)]))
    return runs


@dataclass
class _Ends:
    """Turnaround-extended entry/exit points of every run, in plan coordinates."""

    entry: np.ndarray  # (cells, 4, 2)
    exit: np.ndarray


def order_cells(entries: np.ndarray, exits: np.ndarray, router: Router, start=None, end=None,
                time_budget_s: float = 0.5) -> list[tuple[int, int]]:
    """Order cells and choose each one's run (0-3) to minimise transit distance.

    ``entries``/``exits`` are (cells, 4, 2) arrays of where each run starts and ends. ``start`` and
    ``end`` are optional fixed points (home, or an entry corner) the tour starts from and returns to.
    Returns [(cell, run), ...].
    """
    m = entries.shape[0]
    cost = router.distances(exits.reshape(-1, 2), entries.reshape(-1, 2)).reshape(m, 4, m, 4)
    first = (router.distances(np.atleast_2d(start), entries.reshape(-1, 2)).reshape(m, 4)
             if start is not None else np.zeros((m, 4)))
    last = (router.distances(exits.reshape(-1, 2), np.atleast_2d(end)).reshape(m, 4)
            if end is not None else np.zeros((m, 4)))

    def evaluate(order: list[int]) -> tuple[float, list[int]]:
        acc = first[order[0]].copy()
        back = []
        for a, b in itertools.pairwise(order):
            tot = acc[:, None] + cost[a, :, b, :]
            back.append(np.argmin(tot, axis=0))
            acc = tot.min(axis=0)
        acc = acc + last[order[-1]]
        state = int(np.argmin(acc))
        states = [state]
        for bp in reversed(back):
            state = int(bp[state])
            states.append(state)
        return float(acc.min()), states[::-1]

    # Greedy nearest neighbour from the start.
    remaining = set(range(m))
    c0, s0 = np.unravel_index(np.argmin(first), first.shape)
    order, state = [int(c0)], int(s0)
    remaining.discard(int(c0))
    while remaining:
        rem = np.array(sorted(remaining))
        sub = cost[order[-1], state][rem]
        j, s = np.unravel_index(np.argmin(sub), sub.shape)
        order.append(int(rem[j]))
        state = int(s)
        remaining.discard(int(rem[j]))
    best, states = evaluate(order)
    deadline = time.perf_counter() + time_budget_s
    improved = m > 2
    while improved and time.perf_counter() < deadline:
        improved = False
        for i in range(m - 1):
            for j in range(i + 1, m):
                candidates = [order[:i] + order[i:j + 1][::-1] + order[j + 1:]]  # 2-opt
                moved = order[:i] + order[i + 1:]
                candidates.append([*moved[:j], order[i], *moved[j:]])  # relocate
                for cand in candidates:
                    c, st = evaluate(cand)
                    if c < best - 1e-6:
                        best, order, states, improved = c, cand, st, True
            if time.perf_counter() > deadline:
                break
    return list(zip(order, states, strict=True))


def _extend(router: Router, p: np.ndarray, direction: np.ndarray, distance: float) -> np.ndarray:
    """``p`` moved ``distance`` along ``direction``, shortened to stop 0.5 m short of a no-fly zone."""
    if distance <= 0:
        return p
    q = p + direction * distance
    if router.obstacles is None or router.is_clear(p, q):
        return q
    hit = shapely.get_coordinates(shapely.intersection(shapely.LineString([p, q]), router.obstacles))
    reach = float(np.min((hit - p) @ direction)) if len(hit) else distance
    return p + direction * max(0.0, reach - 0.5)


@dataclass
class PassPlan:
    """The ordered runs of one sweep, ready to become a path."""

    frame: SweepFrame
    runs: list[_Run] = field(default_factory=list)


def plan_pass(segs: list[Segment], frame: SweepFrame, router: Router, turnaround_m: float,
              start=None, end=None) -> PassPlan:
    """Cells of ``segs`` ordered into runs (see :func:`order_cells`)."""
    cells = make_cells(segs)
    if not cells:
        return PassPlan(frame)
    runs = [cell_runs(c) for c in cells]
    ends = _run_ends(runs, frame, router, turnaround_m)
    order = order_cells(ends.entry, ends.exit, router, start, end)
    return PassPlan(frame, [runs[c][r] for c, r in order])


def _run_ends(runs: list[list[_Run]], frame: SweepFrame, router: Router, turnaround_m: float) -> _Ends:
    entry = np.empty((len(runs), 4, 2))
    exit_ = np.empty((len(runs), 4, 2))
    d, _ = frame._dn
    for c, cell_runs_ in enumerate(runs):
        for r, run in enumerate(cell_runs_):
            first_ltr, last_ltr = run.segments[0][1], run.segments[-1][1]
            p = frame.to_xy(np.array(run.entry))
            entry[c, r] = _extend(router, p, -d if first_ltr else d, turnaround_m)
            q = frame.to_xy(np.array(run.exit))
            exit_[c, r] = _extend(router, q, d if last_ltr else -d, turnaround_m)
    return _Ends(entry, exit_)


def build_path(passes: list[PassPlan], router: Router, trigger_m: float, turnaround_m: float,
               start: np.ndarray | None = None, hover: bool = False) -> list[PathPoint]:
    """The flight path through all passes: turnaround, entry, exit, turnaround per segment.

    Each segment gets its own trigger distance ``len / ceil(len / trigger_m)`` (never longer than
    ``trigger_m``) so that photos fall exactly on both ends. With ``hover`` every photo position is
    a ``photo`` point instead. Transits between points that are not in clear view are routed
    around the no-fly zones.
    """
    pts: list[PathPoint] = []
    prev = None if start is None else np.asarray(start, dtype=float)

    def go(p: np.ndarray, role: str, **kw) -> None:
        nonlocal prev
        if prev is not None and not router.is_clear(prev, p):
            for q in router.path(prev, p)[1:-1]:
                pts.append(PathPoint(float(q[0]), float(q[1]), "transit"))
        pts.append(PathPoint(float(p[0]), float(p[1]), role, **kw))
        prev = p

    for pp in passes:
        d, _ = pp.frame._dn
        for run in pp.runs:
            for seg, ltr in run.segments:
                a = pp.frame.to_xy(np.array([seg.u0 if ltr else seg.u1, seg.v]))
                b = pp.frame.to_xy(np.array([seg.u1 if ltr else seg.u0, seg.v]))
                step = d if ltr else -d
                n = max(1, math.ceil(seg.length / trigger_m - 1e-9))
                if hover:
                    yaw = (pp.frame.bearing_deg + (0.0 if ltr else 180.0)) % 360.0
                    for t in np.linspace(0.0, 1.0, n + 1):
                        go(a + t * (b - a), "photo", yaw_deg=yaw)
                    continue
                a_ext = _extend(router, a, -step, turnaround_m)
                b_ext = _extend(router, b, step, turnaround_m)
                if np.hypot(*(a_ext - a)) > 0.05:
                    go(a_ext, "turn")
                go(a, "entry", trigger_m=seg.length / n if seg.length > 0 else trigger_m)
                go(b, "exit")
                if np.hypot(*(b_ext - b)) > 0.05:
                    go(b_ext, "turn")
                pts[-1].camera_off = True
    return pts
