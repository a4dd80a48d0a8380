"""Shortest-time routes toward a pool of destinations, precomputed once.

For each destination node a shortest-path tree over the reversed graph gives,
at every node, the next segment toward that destination (free-flow travel
time weights). Memory: ``n_destinations × n_nodes`` int32.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

from roadnet import model as m
from roadnet.model import RoadNetwork


class RouteTable:
    """Next-hop routing toward ``destinations`` (node indices)."""

    def __init__(self, network: RoadNetwork, destinations: np.ndarray) -> None:
        seg = network.segments
        frm = seg[m.FROM_NODE].to_numpy(np.int64)
        to = seg[m.TO_NODE].to_numpy(np.int64)
        tt = seg[m.LENGTH].to_numpy(float) / (seg[m.FREE_FLOW].to_numpy(float) / 3.6)
        # fastest segment per node pair
        order = np.lexsort((tt, to, frm))
        _, first = np.unique(np.column_stack((frm[order], to[order])), axis=0, return_index=True)
        best = order[first]
        n = network.n_nodes
        graph = sparse.csr_matrix((tt[best], (frm[best], to[best])), shape=(n, n))
        self.destinations = np.asarray(destinations, np.int64)
        dist, pred = csgraph.dijkstra(
            graph.T.tocsr(), indices=self.destinations, return_predecessors=True
        )
        self.reachable = np.isfinite(dist)  # [d, node]: node can reach destination d
        self.next_node = pred.astype(np.int32)  # [d, node] → next node toward d
        self._segment_of = {
            (int(a), int(b)): int(s) for a, b, s in zip(frm[best], to[best], best, strict=True)
        }
        self.from_node = frm
        self.to_node = to

    def next_segment(self, dest_slot: int, node: int) -> int:
        """Segment to take from ``node`` toward destination slot ``dest_slot`` (-1: none)."""
        nxt = int(self.next_node[dest_slot, node])
        if nxt < 0:
            return -1
        return self._segment_of[(node, nxt)]

    def pick_destination(self, rng: np.random.Generator, node: int, weights: np.ndarray) -> int:
        """A destination slot reachable from ``node`` (not ``node`` itself), or -1."""
        ok = self.reachable[:, node] & (self.destinations != node)
        if not ok.any():
            return -1
        p = np.where(ok, weights, 0.0)
        return int(rng.choice(len(p), p=p / p.sum()))
