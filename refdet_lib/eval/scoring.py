"""Three ways of deciding from one pass of a model over a test set, scored at their stored thresholds: what the
learning benchmark, the course weights' card and `refdet demo` print (one code, so their figures agree).

    detector        each frame's candidates by the detector's score alone (a decision fitted without the verifier)
    verifier        + the verifier's cosine (the checkpoint's calibrated decision), frames taken alone
    verifier_track  + the tracker: one box per frame, whole tracks scored, short gaps filled (what predict reports)

Every threshold was chosen on training videos (eval/calibration.py); nothing here looks at a test set to set one.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Optional, Sequence

from ..config import CALIB_FRAMES, CALIB_VIDEOS
from ..model.verifier import Decision
from .calibration import (
    choose_thresholds,
    collect_candidates,
    decide,
    fit_decision,
    ground_truth,
)
from .metrics import evaluate_videos

METHODS = ("detector", "verifier", "verifier_track")


def split_paths(root) -> tuple[Path, Path]:
    """A generated / guide-format split: (root/samples, root/annotations/annotations.json)."""
    root = Path(root)
    return root / "samples", root / "annotations" / "annotations.json"


def row(res: dict) -> dict:
    """evaluate_videos results -> the flat figures tables print."""
    o = res["overall"]
    return {"map50": o["map50"], "map50_videos": res["mean_map50"], "precision": o["precision"],
            "recall": o["recall"], "st_iou": res["mean_st_iou"], "n_pred": o["n_pred_conf"], "conf": res["conf"]}


def decisions_for(model, train_root, videos: int = CALIB_VIDEOS, frames: int = CALIB_FRAMES,
                  cands: Optional[dict] = None) -> dict[str, Decision]:
    """{"verifier": the checkpoint's stored decision, "detector": one fitted the same way on the same training
    videos without the verifier} (the 'detector alone' rows); `cands`: those videos' candidates, when collected."""
    if cands is None:
        cands = calibration_candidates(model, train_root, videos, frames)
    det = choose_thresholds(cands, fit_decision(cands, use_verifier=False), use_verifier=False)
    return {"detector": det, "verifier": copy.deepcopy(model.decision)}


def calibration_candidates(model, train_root, videos: int = CALIB_VIDEOS, frames: int = CALIB_FRAMES) -> dict:
    """The candidates of a generated training set's first `videos` videos, `frames` frames each: the calibration
    window every decision of the course weights and the benchmarks is fitted on."""
    samples, ann = split_paths(train_root)
    vids = sorted(p.name for p in samples.iterdir() if p.is_dir())[:videos]
    return collect_candidates(model, samples, ann, videos=vids, max_frames=frames)


def score_methods(model, decisions: dict[str, Decision], root, max_frames: Optional[int] = None,
                  methods: Sequence[str] = METHODS, examples: Optional[Path] = None,
                  predictions: Optional[dict] = None) -> dict[str, dict]:
    """{method: evaluate_videos results} on the split at `root` (3 reference photos per video), each at its own
    stored threshold; `examples`: a PNG of frames with the tracked boxes (green) and the ground truth (red);
    `predictions`: a dict to fill with {method: ({video: {frame: detections}}, ground truth)}."""
    cands = collect_candidates(model, *split_paths(root), max_frames=max_frames)
    gts = ground_truth(cands)
    out = {}
    for m in methods:
        dec, use_v = decisions["detector" if m == "detector" else "verifier"], m != "detector"
        preds = decide(cands, dec, use_v, track=m == "verifier_track")
        conf = dec.threshold if m == "verifier_track" else dec.frame_threshold
        out[m] = evaluate_videos(preds, gts, conf=conf)
        if predictions is not None:
            predictions[m] = (preds, gts)
        if examples is not None and m == "verifier_track":
            import matplotlib.pyplot as plt

            from .plots import plot_examples

            fig = plot_examples(preds, gts, split_paths(root)[0], conf=conf)
            Path(examples).parent.mkdir(parents=True, exist_ok=True)
            fig.savefig(examples, dpi=90, bbox_inches="tight")
            plt.close(fig)
    return out


# longest box side in px where recall is split: the size bins the real-world-eyes issue measures cues in
SIZE_BINS = (16, 28, 45)


def recall_by_size(preds: dict, gts: dict, conf: float, bins: Sequence[float] = SIZE_BINS) -> dict[str, dict]:
    """{"< 16 px": {"n_gt", "recall"}, "16-28 px", ...}: the share of true boxes, by their longest side, that a
    prediction at or above `conf` covers with IoU >= 0.5 (one true box a frame, so this is the recall the tables
    print, split by size): where a model loses objects, small or large."""
    import numpy as np

    from ..ops.boxes import best_iou
    from .metrics import _as_pred

    edges = [0.0, *map(float, bins), float("inf")]
    names = [f"< {edges[1]:g} px", *(f"{a:g}-{b:g} px" for a, b in zip(edges[1:-2], edges[2:-1])),
             f">= {edges[-2]:g} px"]
    hit, n = np.zeros(len(names)), np.zeros(len(names))
    for vid, frames in gts.items():
        for f, g in frames.items():
            g = np.asarray(g, np.float64).reshape(-1, 4)
            if not len(g):
                continue
            p = preds.get(vid, {}).get(f)
            boxes, scores = _as_pred(p, f"{vid}[{f}]") if p is not None else (np.zeros((0, 4)), np.zeros(0))
            boxes = boxes[scores >= conf]
            found = best_iou(g, boxes) >= 0.5
            k = np.searchsorted(edges, np.maximum(g[:, 2] - g[:, 0], g[:, 3] - g[:, 1]), side="right") - 1
            np.add.at(n, k, 1)
            np.add.at(hit, k, found)
    return {name: {"n_gt": int(c), "recall": float(h / c) if c else float("nan")}
            for name, h, c in zip(names, hit, n)}
