"""Congestion levels shared by analytics (which rates segments) and the API (which names them).

The ratio r = current speed / free-flow speed maps to five levels operators know:
0 free (r ≥ 0.8), 1 light (≥ 0.6), 2 moderate (≥ 0.4), 3 heavy (≥ 0.2), 4 stopped.
"""

from __future__ import annotations

import numpy as np

LEVEL_NAMES = ("free", "light", "moderate", "heavy", "stopped")
LEVEL_NAMES_VI = ("thông thoáng", "hơi đông", "đông", "ùn tắc", "tắc nghẽn")
#: Lower speed-ratio bound of levels 0..3 (level 4 below the last).
BOUNDS = np.array([0.8, 0.6, 0.4, 0.2])
