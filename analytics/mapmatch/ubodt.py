"""Upper-bounded origin–destination table: shortest network distances up to a bound.

In the manner of FMM's UBODT: for every node, the shortest path lengths
(metres) to all nodes within ``bound_m``, with the last hop of each path so
routes can be rebuilt. Entries are kept as a sorted int64 key array
(``origin * n_nodes + destination``) for vectorised lookups.
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np
from scipy.sparse import csgraph

from roadnet import model as m
from roadnet.model import RoadNetwork


class BoundedDistances:
    """Shortest distances (metres) between nodes closer than ``bound_m`` along the network."""

    def __init__(self, network: RoadNetwork, *, bound_m: float = 3000.0, chunk: int = 256) -> None:
        self.bound_m = bound_m
        self.n = network.n_nodes
        graph = network.graph
        keys, dists, preds = [], [], []
        for start in range(0, self.n, chunk):
            origins = np.arange(start, min(start + chunk, self.n))
            dist, pred = csgraph.dijkstra(
                graph, indices=origins, limit=bound_m, return_predecessors=True
            )
            rows, cols = np.nonzero(np.isfinite(dist))
            keys.append(origins[rows].astype(np.int64) * self.n + cols)
            dists.append(dist[rows, cols].astype(np.float32))
            preds.append(pred[rows, cols].astype(np.int32))
        order = np.argsort(np.concatenate(keys))
        self.keys = np.concatenate(keys)[order]
        self.dist = np.concatenate(dists)[order]
        self.pred = np.concatenate(preds)[order]
        seg = network.segments
        frm = seg[m.FROM_NODE].to_numpy(np.int64)
        to = seg[m.TO_NODE].to_numpy(np.int64)
        length = seg[m.LENGTH].to_numpy(float)
        order = np.lexsort((length, to, frm))
        self._edge: dict[tuple[int, int], int] = {}
        for i in order[::-1]:  # shortest parallel segment wins
            self._edge[(int(frm[i]), int(to[i]))] = int(i)

    def lookup(self, origin: np.ndarray, dest: np.ndarray) -> np.ndarray:
        """Distances (metres) for node pairs; ``inf`` beyond the bound or unreachable."""
        q = np.asarray(origin, np.int64) * self.n + np.asarray(dest, np.int64)
        pos = np.searchsorted(self.keys, q)
        pos = np.minimum(pos, len(self.keys) - 1)
        hit = self.keys[pos] == q
        return np.where(hit, self.dist[pos], np.inf)

    def path_segments(self, origin: int, dest: int) -> list[int]:
        """Segment indices of the shortest path from node ``origin`` to ``dest`` (may be empty)."""
        nodes = [dest]
        cur = dest
        while cur != origin:
            pos = int(np.searchsorted(self.keys, origin * self.n + cur))
            if pos >= len(self.keys) or self.keys[pos] != origin * self.n + cur:
                return []
            cur = int(self.pred[pos])
            if cur < 0:
                return []
            nodes.append(cur)
        nodes.reverse()
        return [self._edge[(a, b)] for a, b in pairwise(nodes)]
