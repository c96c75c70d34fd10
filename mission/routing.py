"""Router: shortest flight paths in the plane that never enter a no-fly zone.

A visibility graph over the vertices of the no-fly zones (inflated by a small clearance so that a
path may run along them without touching): two points are joined directly when the straight line
between them is clear, otherwise through the shortest chain of zone vertices (Dijkstra). With no
zones every path is the straight line.
"""

from __future__ import annotations

import numpy as np
import shapely
from scipy.sparse.csgraph import shortest_path

from skyscan.errors import InputError

__all__ = ["Router"]


class Router:
    """Shortest paths around ``obstacles`` (a shapely (Multi)Polygon in local metres).

    Points computed on an obstacle's boundary (segment ends clipped against it) may fall a rounding
    error inside; the tests therefore use the obstacles shrunk by ``tolerance_m``.
    """

    def __init__(self, obstacles, clearance_m: float = 1.0, tolerance_m: float = 0.01):
        if obstacles is None or obstacles.is_empty:
            self.obstacles = None
            self._nodes = np.empty((0, 2))
            return
        self.obstacles = shapely.buffer(obstacles, -tolerance_m, quad_segs=2)
        shapely.prepare(self.obstacles)
        inflated = shapely.buffer(obstacles, clearance_m, quad_segs=2, join_style="mitre")
        rings = [inflated] if inflated.geom_type == "Polygon" else list(inflated.geoms)
        pts = []
        for poly in rings:
            pts.append(np.asarray(poly.exterior.coords)[:-1])
            pts.extend(np.asarray(r.coords)[:-1] for r in poly.interiors)
        nodes = np.concatenate(pts) if pts else np.empty((0, 2))
        # Vertices that fall inside another zone can never be used.
        self._nodes = nodes[~shapely.intersects_xy(self.obstacles, nodes[:, 0], nodes[:, 1])]
        n = len(self._nodes)
        self._node_dist = np.full((n, n), np.inf)
        if n:
            i, j = np.triu_indices(n, 1)
            clear = self._clear(self._nodes[i], self._nodes[j])
            d = np.hypot(*(self._nodes[i] - self._nodes[j]).T)
            self._node_dist[i[clear], j[clear]] = d[clear]
            self._node_dist[j[clear], i[clear]] = d[clear]
            np.fill_diagonal(self._node_dist, 0.0)

    def _clear(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Whether each straight segment a[k] -> b[k] stays out of the obstacles' interiors."""
        if self.obstacles is None or len(a) == 0:
            return np.ones(len(a), dtype=bool)
        segs = shapely.linestrings(np.stack([a, b], axis=1))
        # Touching a boundary is allowed (paths run along inflated zones); crossing the inside is not.
        crossing = shapely.intersects(segs, self.obstacles) & ~shapely.touches(segs, self.obstacles)
        return ~crossing

    def is_clear(self, a, b) -> bool:
        """True when the straight line from ``a`` to ``b`` does not enter a no-fly zone."""
        return bool(self._clear(np.atleast_2d(a), np.atleast_2d(b))[0])

    def check_outside(self, point, what: str) -> None:
        """Raise InputError when ``point`` lies inside a no-fly zone."""
        if self.obstacles is not None and shapely.intersects_xy(self.obstacles, *point):
            raise InputError(f"{what} lies inside a no-fly zone (or its clearance); move it outside")

    def distances(self, sources: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """Shortest clear path length from each source to each target, shape (S, T)."""
        sources, targets = np.atleast_2d(sources), np.atleast_2d(targets)
        direct = np.hypot(sources[:, None, 0] - targets[None, :, 0], sources[:, None, 1] - targets[None, :, 1])
        if self.obstacles is None:
            return direct
        si, ti = np.meshgrid(np.arange(len(sources)), np.arange(len(targets)), indexing="ij")
        clear = self._clear(sources[si.ravel()], targets[ti.ravel()]).reshape(direct.shape)
        if clear.all() or len(self._nodes) == 0:
            return np.where(clear, direct, np.inf)
        via = self._via_nodes(sources, targets)
        return np.where(clear, direct, via)

    def _graph(self, points: np.ndarray) -> np.ndarray:
        """Node graph extended with ``points`` (appended after the zone vertices)."""
        n, p = len(self._nodes), len(points)
        g = np.full((n + p, n + p), np.inf)
        g[:n, :n] = self._node_dist
        pi, ni = np.meshgrid(np.arange(p), np.arange(n), indexing="ij")
        clear = self._clear(points[pi.ravel()], self._nodes[ni.ravel()]).reshape(p, n)
        d = np.hypot(points[:, None, 0] - self._nodes[None, :, 0], points[:, None, 1] - self._nodes[None, :, 1])
        d = np.where(clear, d, np.inf)
        g[n:, :n] = d
        g[:n, n:] = d.T
        return g

    def _via_nodes(self, sources: np.ndarray, targets: np.ndarray) -> np.ndarray:
        n = len(self._nodes)
        g = self._graph(np.concatenate([sources, targets]))
        dist = shortest_path(np.where(np.isfinite(g), g, 0.0), method="D", directed=False,
                             indices=np.arange(n, n + len(sources)))
        return dist[:, n + len(sources):]

    def path(self, a, b) -> np.ndarray:
        """The shortest clear polyline from ``a`` to ``b`` as an (M, 2) array including both ends."""
        a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
        if self.is_clear(a, b) or len(self._nodes) == 0:
            return np.array([a, b])
        n = len(self._nodes)
        g = self._graph(np.array([a, b]))
        dist, pred = shortest_path(np.where(np.isfinite(g), g, 0.0), method="D", directed=False,
                                   indices=[n], return_predecessors=True)
        if not np.isfinite(dist[0, n + 1]):
            raise InputError("no path around the no-fly zones joins two parts of the survey; "
                             "check that the no-fly zones do not close off part of the area")
        chain = [n + 1]
        while chain[-1] != n:
            chain.append(pred[0, chain[-1]])
        allpts = np.concatenate([self._nodes, [a, b]])
        return allpts[chain[::-1]]
