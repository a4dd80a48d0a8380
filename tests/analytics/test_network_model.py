"""Network model helpers: reverse twins of directed segments."""

from __future__ import annotations

import numpy as np

from roadnet.model import reverse_segments


def test_reverse_twins_of_two_way_one_way_parallel_and_looping_segments() -> None:
    # 0: 0→1 and 1: 1→0 are twins; 2: 1→2 is one-way; 3 and 4 are parallel 2→3 (lowest wins
    # as the twin of 5: 3→2); 6: a self-loop at 4
    fr = np.array([0, 1, 1, 2, 2, 3, 4])
    to = np.array([1, 0, 2, 3, 3, 2, 4])
    assert reverse_segments(fr, to).tolist() == [1, 0, -1, 5, 5, 3, -1]
    assert reverse_segments(fr[:0], to[:0]).tolist() == []


def test_reverse_of_a_large_random_network_matches_a_dictionary() -> None:
    rng = np.random.default_rng(3)
    fr, to = rng.integers(0, 300, 5000), rng.integers(0, 300, 5000)
    first: dict[tuple[int, int], int] = {}
    for i, pair in enumerate(zip(fr.tolist(), to.tolist(), strict=True)):
        first.setdefault(pair, i)
    expected = [-1 if a == b else first.get((b, a), -1) for a, b in zip(fr, to, strict=True)]
    assert reverse_segments(fr, to).tolist() == expected


def test_reverse_with_large_node_ids() -> None:
    big = 10**12  # OSM-sized node ids: a pair key must not overflow
    fr = np.array([big, big + 7, big + 7])
    to = np.array([big + 7, big, 5])
    assert reverse_segments(fr, to).tolist() == [1, 0, -1]
