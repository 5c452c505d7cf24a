"""Exercise 2: IoU of two boxes and the ST-IoU of a video, by hand."""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from ._check import _as_float, _call, _short, _verdict

_IOU_CASES = [
    ("identical", (10, 10, 50, 50), (10, 10, 50, 50)),
    ("half overlap", (0, 0, 20, 10), (10, 0, 30, 10)),
    ("one inside the other", (0, 0, 100, 100), (25, 25, 75, 75)),
    ("disjoint", (0, 0, 10, 10), (20, 20, 30, 30)),
    ("touching edges (no area shared)", (0, 0, 10, 10), (10, 0, 20, 10)),
    ("corner overlap, fractional", (1.5, 2.0, 11.5, 12.0), (6.5, 7.0, 16.5, 17.0)),
    ("thin vs wide", (0, 4, 100, 6), (40, 0, 60, 10)),
    ("two zero-area boxes (union 0 -> IoU 0)", (5, 5, 5, 5), (5, 5, 5, 5)),
    ("zero-area box on a real one", (5, 5, 5, 9), (0, 0, 10, 10)),
]


def check_iou(iou: Callable) -> None:
    """Exercise 2a. `iou(box_a, box_b) -> float` for two x1y1x2y2 boxes, against `refdet_lib.metrics.box_iou`."""
    from ...ops.boxes import box_iou

    name = "iou"
    failures = []
    for case, a, b in _IOU_CASES:
        want = float(box_iou(np.array([a]), np.array([b]))[0, 0])
        got = _as_float(_call(name, iou, list(a), list(b)))
        if got is None or not math.isclose(got, want, rel_tol=1e-6, abs_tol=1e-9):
            failures.append(f"{case}: iou({list(a)}, {list(b)}) expected {want:.6f}, got {_short(got)}")
    _verdict(name, failures, len(_IOU_CASES))


def _st_cases() -> list[tuple[str, dict, dict]]:
    g = {f: [10.0 + 2 * f, 10.0, 40.0 + 2 * f, 30.0] for f in range(6)}
    shifted = {f: [b[0] + 5, b[1], b[2] + 5, b[3]] for f, b in g.items()}
    return [
        ("perfect track", dict(g), dict(g)),
        ("boxes shifted by 5 px", shifted, dict(g)),
        ("misses frames 4-5", {f: g[f] for f in range(4)}, dict(g)),
        ("false alarms on frames 6-7", {**g, 6: [0, 0, 10, 10], 7: [0, 0, 10, 10]}, dict(g)),
        ("found at the wrong time only", {f: g[f - 10] for f in range(10, 16)}, dict(g)),
        ("shifted, with one miss and one false alarm", {**{f: shifted[f] for f in range(1, 6)}, 9: [1, 1, 5, 5]},
         dict(g)),
        ("nothing predicted", {}, dict(g)),
        ("empty video, nothing predicted", {}, {}),
    ]


def check_st_iou(st_iou_by_hand: Callable) -> None:
    """Exercise 2b. `st_iou_by_hand(preds, gts) -> float`, both {frame: [x1, y1, x2, y2]} (one box per frame),
    against `refdet_lib.metrics.st_iou`."""
    from ...eval.metrics import st_iou

    name = "st_iou_by_hand"
    cases = _st_cases()
    failures = []
    for case, p, g in cases:
        want = st_iou({f: np.array(b) for f, b in p.items()}, {f: np.array(b) for f, b in g.items()})
        got = _as_float(_call(name, st_iou_by_hand, {f: list(b) for f, b in p.items()},
                              {f: list(b) for f, b in g.items()}))
        if got is None or not math.isclose(got, want, rel_tol=1e-6, abs_tol=1e-9):
            failures.append(f"{case}: expected {want:.6f}, got {_short(got)} (pred frames {sorted(p)}, gt frames "
                            f"{sorted(g)})")
    _verdict(name, failures, len(cases))
