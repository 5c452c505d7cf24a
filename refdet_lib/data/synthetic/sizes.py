"""Object sizes shaped like the real task's: one size per video, drawn from the distribution of the challenge's boxes.

The generator's default (a log-uniform 8-80 px longest side in a 640-wide frame, `style.default_object_size`) and
data_samples/test (10-27 px) do not say how a model fares on the objects the course prepares for. The public
annotations of the AeroEyes challenge (Zalo AI 2025) have 1024 x 576 frames and boxes of median 40 x 37 px, 80 % of
their widths within 18-68 px: the longest box side is about 4 % of the frame width at the median and about 1.8-6.6 %
between the 10th and 90th percentiles. `REAL_TASK_SIZES` holds those figures (as fractions of the frame width, so
they carry to the 640 x 360 frames generated here); its two ends, 1 % and 10 %, are not measured: they only bound
the tails so that no video's object is drawn below a few pixels or above a tenth of the frame.

A video's size is a quantile of that distribution, the quantile drawn deterministically from the seed: stratified
(video k of n draws inside the k-th n-th of [0, 1], the order of the strata shuffled), so that even 16 videos cover
the distribution evenly instead of clustering as 16 free draws can. Each video gets a band around its size,
(size / BAND, size * BAND) in px, which the generator's plan keeps the target's longest side in over the flight
(plan.plan_video; where the flight climbs further than the band allows, the plan centres the sizes on it).
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ...errors import InputError

# (quantile, longest box side / frame width) of the real task's boxes, the knots of a piecewise log-linear quantile
# function; the source and which of these are measured: the module docstring
REAL_TASK_SIZES: tuple[tuple[float, float], ...] = ((0.1, 0.018), (0.5, 0.040), (0.9, 0.066))
# a video's band: (size / BAND, size * BAND); wide enough for the plan to place most flights (a climb changes the
# scale up to 2.2x, camera.py) without widening the distribution much
BAND = 1.5


def size_quantile(q, knots: Sequence[tuple[float, float]] = REAL_TASK_SIZES) -> np.ndarray:
    """The longest side / frame width at quantile(s) `q` in [0, 1]: linear in log(size) between the knots, and
    beyond the outer knots along the slope of the segment next to them (no tail heavier than the measured
    quantiles imply: the real task's extremes are not known)."""
    qs, fs = np.array([k[0] for k in knots]), np.log([k[1] for k in knots])
    q = np.asarray(q, np.float64)
    lo, hi = (fs[1] - fs[0]) / (qs[1] - qs[0]), (fs[-1] - fs[-2]) / (qs[-1] - qs[-2])
    f = np.interp(q, qs, fs) + np.minimum(q - qs[0], 0) * lo + np.maximum(q - qs[-1], 0) * hi
    return np.exp(f)


def draw_sizes(n: int, seed: int, width: int = 640) -> np.ndarray:
    """(n,) longest sides in px for n videos in frames `width` wide, stratified over the distribution and shuffled,
    deterministic for `seed` (a stream of its own: the identities and scenes drawn from the same seed are unchanged)."""
    if n < 1:
        raise InputError(f"draw_sizes: need n >= 1, got {n}")
    rng = np.random.default_rng([int(seed), 7707])
    q = (rng.permutation(n) + rng.random(n)) / n
    return size_quantile(q) * width


def video_bands(n: int, seed: int, width: int = 640, band: float = BAND) -> list[tuple[float, float]]:
    """[(min, max) longest side in px] per video: `generate_dataset(object_sizes=...)`'s argument."""
    return [(round(float(s) / band, 2), round(float(s) * band, 2)) for s in draw_sizes(n, seed, width)]


def longest_sides(root) -> np.ndarray:
    """Every annotated box's longest side in px of a dataset in the guide's layout (root/annotations/...)."""
    from ..annotations import parse_annotations

    anns = parse_annotations(Path(root) / "annotations" / "annotations.json")
    boxes = [np.asarray(b, np.float64).reshape(-1, 4) for a in anns.values() for b in a.boxes.values()]
    b = np.concatenate(boxes) if boxes else np.zeros((0, 4))
    return np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1])


def size_report(root, width: int = 640, quantiles: Sequence[float] = (0.1, 0.5, 0.9)) -> dict:
    """{"n_boxes", "measured": {q: side / width}, "target": {q: side / width}}: a set's annotated boxes against
    REAL_TASK_SIZES (what `python -m refdet_lib.train.representative` prints after making the representative set)."""
    s = longest_sides(root) / width
    return {"n_boxes": len(s), "measured": {q: float(np.quantile(s, q)) if len(s) else float("nan")
                                                 for q in quantiles},
            "target": {q: float(size_quantile(q)) for q in quantiles}}
