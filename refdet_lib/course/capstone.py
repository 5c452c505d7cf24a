"""The capstone of the course (notebook 08): find the objects the course weights miss.

Section 1 of the lesson scores the model on the test videos, and some objects it hardly finds. The course taught
levers that act on exactly those: the size a frame is shown at and the finer looks (tiles every Nth frame, the
window around the live track: eval/search.Looks; lesson 08's "Where the ten-pixel objects go"), the decision's
threshold (calibrated on training videos, lessons 03 and 06) and the training budget (the card and benchmarks).

    missed_videos(results)          the test videos whose recall is lowest: the objects to find
    try_levers(..., levers)         each lever the learner lists, measured side by side on those videos in one run
                                    (course/scale.compare_schemes: the same weights, 3 photos, tracking)
    budget_row(videos)              the budget lever, which is no cell's work on a CPU: the committed course weights
                                    (an hour of training) against the same recipe trained for 30 minutes
                                    (benchmarks/results/course_weights_30min.json), per video, every frame
    checklist(rows, budget)         the table the learner fills: per lever its recall on the missed objects, what it
                                    gained over the weights as shipped, its precision and ST-IoU, and its time

Every figure in it is measured in the lesson or read from a committed file, never typed.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from .._env import PROJECT_ROOT
from ..errors import InputError
from .scale import compare_schemes

BUDGET_FILE = PROJECT_ROOT / "benchmarks" / "results" / "course_weights_30min.json"
COURSE_CARD = PROJECT_ROOT / "models" / "refdet_course.json"
LEVER_KEYS = ("imgsz", "tiles", "tile_every", "window", "conf")


def missed_videos(results: dict, shot: Optional[str] = None, below: float = 0.5) -> list[str]:
    """The videos of an evaluate_model result whose recall is below `below` (the best shot's by default), the
    lowest first; none below it: the single lowest (there is always an object to work on)."""
    shot = shot or max(results, key=lambda s: int(s.split("-")[0]))
    per = results[shot]["per_video"]
    order = sorted(per, key=lambda v: (per[v]["recall"], v))
    return [v for v in order if per[v]["recall"] < below] or order[:1]


def try_levers(checkpoint, data_root, annotations, videos: Sequence[str], levers: dict,
               max_frames: Optional[int] = None, device: str = "cpu") -> list[dict]:
    """compare_schemes over the learner's levers ({name: {"imgsz"?, "tiles"?, "tile_every"?, "window"?, "conf"?}},
    the first as the baseline, usually {} = as shipped): a row per lever and video, then one for all of them."""
    for name, lever in levers.items():
        unknown = set(lever) - set(LEVER_KEYS)
        if unknown:
            raise InputError(f"lever {name!r}: unknown key(s) {sorted(unknown)}; a lever sets {', '.join(LEVER_KEYS)}")
    rows, _ = compare_schemes(checkpoint, data_root, annotations, videos, levers, max_frames, device)
    return rows


def budget_row(videos: Sequence[str], short: Path = BUDGET_FILE, long: Path = COURSE_CARD) -> Optional[dict]:
    """{"30 min": {recall, precision, st_iou}, "60 min": ...} averaged over `videos` from the two committed
    manifests (every frame of data_samples/test, verifier + tracking), or None when either lacks one of them."""
    out = {}
    for path in (short, long):
        if not Path(path).exists():
            return None
        man = json.loads(Path(path).read_text())
        per = man.get("per_video") or {}
        if not all(v in per for v in videos):
            return None
        label = f"{man['train_minutes']:.0f} min"
        out[label] = {k: float(np.mean([per[v][k] for v in videos])) for k in ("recall", "precision", "st_iou")}
    return out


def checklist(rows: list[dict], budget: Optional[dict] = None):
    """The capstone's table (a DataFrame indexed by lever): recall on the missed objects, its gain over the first
    lever (the weights as shipped), precision, ST-IoU and time against the first; the budget's two rows after,
    from the committed manifests (their gain against the shorter budget)."""
    import pandas as pd

    allv = pd.DataFrame([r for r in rows if r["video"] == "all"]).set_index("scheme")
    base = allv.iloc[0]
    table = pd.DataFrame({"recall": allv.recall, "recall gained": allv.recall - base.recall,
                          "precision": allv.precision, "ST-IoU": allv.st_iou,
                          "time x": allv["seconds a video"] / base["seconds a video"],
                          "measured": "here, on the frames the levers ran on"})
    if budget:
        first = next(iter(budget.values()))
        extra = pd.DataFrame({f"budget (course-weights recipe): {k} of training": {
            "recall": v["recall"], "recall gained": v["recall"] - first["recall"], "precision": v["precision"],
            "ST-IoU": v["st_iou"], "time x": float("nan"), "measured": "committed manifest, every frame"}
            for k, v in budget.items()}).T
        table = pd.concat([table, extra])
    return table
