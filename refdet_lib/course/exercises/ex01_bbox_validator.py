"""Exercise 1: validate a bounding box like `validate_dataset` does."""
from __future__ import annotations

import functools
import json
import tempfile
from pathlib import Path
from typing import Callable

from ...data.annotations import VIDEO_NAME
from ._check import _call, _short, _verdict

# (x1, y1, x2, y2) on a 640 x 360 frame of data_samples/train/samples/<video>
_BBOX_CASES = [
    ("ordinary box", (100, 50, 180, 120)),
    ("whole frame (edges are allowed)", (0, 0, "W", "H")),
    ("1-pixel box in the corner", (639, 359, "W", "H")),
    ("zero width (x1 == x2)", (200, 40, 200, 90)),
    ("x1 > x2 (corners swapped)", (300, 40, 250, 90)),
    ("zero height (y1 == y2)", (20, 60, 80, 60)),
    ("y1 > y2", (20, 90, 80, 30)),
    ("negative x1", (-3, 10, 40, 50)),
    ("negative y1", (10, -0.5, 40, 50)),
    ("x2 beyond the frame width", (600, 10, "W+1", 50)),
    ("y2 beyond the frame height", (10, 300, 50, "H+0.5")),
    ("NaN coordinate", (10, 10, float("nan"), 50)),
    ("infinite coordinate", (10, 10, 50, float("inf"))),
    ("fractional box inside", (10.25, 20.5, 30.75, 40.125)),
    # more than one problem in one box: all of them are reported, not the first
    ("past the frame on all four sides", (-3, -2, "W+1", "H+0.5")),
    ("NaN and infinity in one box", (float("nan"), 10, 50, float("inf"))),
    ("negative x1 and y2 past the frame", (-1, 10, 50, "H+0.5")),
]


def _sample_video_dir() -> Path:
    from ...train.recipes import DATA_SAMPLES

    root = DATA_SAMPLES / "train" / "samples"
    vids = sorted(p for p in root.iterdir() if (p / VIDEO_NAME).exists()) if root.is_dir() else []
    if not vids:
        raise FileNotFoundError(f"no video found under {root}: run `refdet synth` to create data_samples/")
    return vids[0]


@functools.lru_cache(maxsize=1)
def _library_bbox_verdicts() -> tuple[int, int, list[tuple[str, tuple, bool, list[tuple[str, str]]]]]:
    """Run validate_dataset on a one-video dataset holding every crafted box on its own frame.

    Returns (width, height, [(case, box, valid, the library's [(field, message)] for the box)]). The video and
    references are the real sample files (symlinked), so the frame size and the checks are exactly what training
    sees.
    """
    from ...data import DatasetError, validate_dataset, video_info

    vdir = _sample_video_dir()
    info = video_info(vdir / VIDEO_NAME)
    w, h = int(info["width"]), int(info["height"])
    subst = {"W": w, "H": h, "W+1": w + 1, "H+0.5": h + 0.5}
    boxes = [(name, tuple(float(subst.get(v, v)) if isinstance(v, str) else float(v) for v in box))
             for name, box in _BBOX_CASES]
    with tempfile.TemporaryDirectory(prefix="refdet_ex01_") as tmp:
        root = Path(tmp) / "samples"
        root.mkdir()
        (root / vdir.name).symlink_to(vdir.resolve(), target_is_directory=True)
        ann = [{"video_id": vdir.name, "annotations": [{"bboxes": [
            {"frame": f, "x1": b[0], "y1": b[1], "x2": b[2], "y2": b[3]} for f, (_, b) in enumerate(boxes)]}]}]
        ann_file = Path(tmp) / "annotations.json"
        ann_file.write_text(json.dumps(ann))  # NaN / Infinity are written as JSON extensions, read back as such
        try:
            validate_dataset(root, ann_file)
            problems = []
        except DatasetError as e:
            problems = e.problems
    bad = {}
    for p in problems:
        if p.frame is None:
            raise RuntimeError(f"unexpected dataset problem in the exercise's own data: {p}")
        bad.setdefault(p.frame, []).append((p.field, p.message))
    return w, h, [(name, b, f not in bad, bad.get(f, [])) for f, (name, b) in enumerate(boxes)]


def check_bbox_validator(bbox_problems: Callable) -> None:
    """Exercise 1. `bbox_problems(x1, y1, x2, y2, width, height) -> list[str]` (empty list = valid box) must agree
    with `refdet_lib.data.validate_dataset` on every crafted box: a box the library rejects gets at least as many
    messages as the library found, and every field the library names (x1, y1, x2, y2) appears in them, so a box
    with three problems is fixed in one pass."""
    name = "bbox_problems"
    w, h, cases = _library_bbox_verdicts()
    failures = []
    for case, box, valid, lib in cases:
        lib_msg = "; ".join(m for _, m in lib)
        got = _call(name, bbox_problems, *box, w, h)
        if not isinstance(got, (list, tuple)) or not all(isinstance(m, str) for m in got):
            failures.append(f"{case} {_short(list(box))} on {w}x{h}: expected a list of strings, got {_short(got)}")
            continue
        if valid and got:
            failures.append(f"{case} {_short(list(box))} on {w}x{h}: the library accepts this box, you reported "
                            f"{list(got)}")
        elif not valid and not got:
            failures.append(f"{case} {_short(list(box))} on {w}x{h}: the library rejects it ({lib_msg}), you "
                            "returned no problem")
        elif not valid and not all(m.strip() for m in got):
            failures.append(f"{case}: problems must be readable messages, got {list(got)}")
        elif not valid and len(got) < len(lib):
            failures.append(f"{case} {_short(list(box))}: the library finds {len(lib)} problems ({lib_msg}), you "
                            f"reported {len(got)}: collect every problem, do not stop at the first")
        elif not valid:
            unnamed = [fld for fld, _ in lib if not any(fld in m for m in got)]
            if unnamed:
                failures.append(f"{case} {_short(list(box))}: no message names {', '.join(unnamed)} (the library: "
                                f"{lib_msg}); say which coordinate is at fault")
    _verdict(name, failures, len(cases), "Every bad box would have been caught before training.")
