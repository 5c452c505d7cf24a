"""Runs of consecutive frames: annotation intervals, stretches where an object is visible, track segments."""
from __future__ import annotations

from typing import Iterable

import numpy as np


def runs(frames: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted (first, last) of each run of consecutive integers; a boolean mask is read as its true positions.

        runs([3, 4, 5, 9, 10]) -> [(3, 5), (9, 10)]        runs(np.array([0, 1, 1, 0, 1], bool)) -> [(1, 2), (4, 4)]
    """
    a = np.asarray(list(frames) if not isinstance(frames, np.ndarray) else frames)
    if a.dtype == bool:
        a = np.flatnonzero(a)
    a = np.unique(a.astype(np.int64))
    if a.size == 0:
        return []
    cuts = np.flatnonzero(np.diff(a) > 1)
    starts = np.concatenate([[0], cuts + 1])
    ends = np.concatenate([cuts, [a.size - 1]])
    return [(int(a[s]), int(a[e])) for s, e in zip(starts, ends)]
