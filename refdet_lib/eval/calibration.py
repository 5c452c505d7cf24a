"""A calibrated decision, fitted on training videos only: scores that mean the same in every video, and the threshold
at which the object is reported.

1. Candidates: every training video's frames through the model (detector top-k, verifier cosines), each candidate
   marked a hit when it covers the object (IoU >= 0.5 with the frame's box).
2. Calibration: logistic regression of hit on [logit(detector score), verifier cosine, the named features of
   model/verifier.decision_features: the candidate's size, each frozen cue's cosine and their products with size]
   (the cosine left out without a verifier): p = sigmoid(a logit(s) + b v + c + sum_j w_j f_j) is then a
   probability, the same scale for every video, and each cue counts as much as it holds at that size.
3. Thresholds: the ones that maximise the mean ST-IoU over the training videos, once for the tracked output (one box
   per frame, eval/tracking.py: the default) and once for frames taken alone.
Never fitted on a test split: the benchmark reports test figures at these stored values.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch

from ..data.annotations import VIDEO_NAME, list_reference_images, validate_dataset
from ..data.video import iter_frames
from ..errors import InputError
from ..model.refdet import CANDIDATE_CONF
from ..model.verifier import Decision, decision_features, logit
from ..ops.boxes import best_iou
from .inference import read_images
from .metrics import best_conf
from .search import ReferenceSearch
from .tracking import TargetTracker

GRID = tuple(np.round(np.arange(0.02, 0.96, 0.02), 2))


def collect_candidates(model, data_root, annotations, videos: Optional[Sequence[str]] = None,
                       max_frames: Optional[int] = None, shots: int = 3, batch_size: int = 8,
                       tiles: Optional[int] = None, tile_every: Optional[int] = None,
                       window: Optional[float] = None) -> dict:
    """{video: {"frames": {frame: {"boxes", "det_scores", "cosines", "cue_cosines", "rel_size", "scale", "hit"}},
    "gt": {frame: (m, 4)}}} with the model's raw candidates (top-k per frame at the lowest score), through the
    reference search (eval/search.py) with `decision=Decision()`: the detector's own scores, the model's decision
    untouched. tiles, tile_every, window: the finer looks, as predict_video takes them (None: the model's own)."""
    anns, _ = validate_dataset(data_root, annotations)
    vids = sorted(anns) if videos is None else list(videos)
    data_root = Path(data_root)
    search = ReferenceSearch(model, conf=CANDIDATE_CONF, max_det=100, batch_size=batch_size, tiles=tiles,
                             tile_every=tile_every, window=window, decision=Decision())
    out = {}
    try:
        for vid in vids:
            model.set_references(read_images(list_reference_images(data_root / vid)[:shots]))
            want = None if max_frames is None else range(max_frames)
            cand = {}
            for i, _, r in search.candidates(data_root / vid / VIDEO_NAME, want):
                g = anns[vid].boxes.get(i, np.zeros((0, 4), np.float32))
                iou = best_iou(r["boxes"], g)
                cand[i] = {"boxes": r["boxes"], "det_scores": r["det_scores"], "cosines": r["cosines"],
                           "cue_cosines": r.get("cue_cosines", {}), "rel_size": r.get("rel_size"),
                           "scale": r.get("scale"), "hit": iou >= 0.5}
            gt = {i: anns[vid].boxes.get(i, np.zeros((0, 4), np.float32)) for i in cand}
            out[vid] = {"frames": cand, "gt": gt, "video": data_root / vid / VIDEO_NAME}
    finally:
        model.clear_references()
    return out


def candidate_features(d: dict, use_verifier: bool = True) -> Optional[dict]:
    """decision_features of one frame's stored candidates (None when they carry no sizes: an older model)."""
    if d.get("rel_size") is None:
        return None
    return decision_features(d["rel_size"], d["cosines"] if use_verifier else None,
                             d.get("cue_cosines") if use_verifier else None, d.get("scale"))


def available_features(cands: dict, use_verifier: bool = True) -> list[str]:
    """The feature names every stored candidate carries (the ones a decision can be fitted on)."""
    d = next((d for v in cands.values() for d in v["frames"].values()), None)
    f = candidate_features(d, use_verifier) if d is not None else None
    return sorted(f) if f else []


def has_hits(cands: dict) -> bool:
    """Whether any stored candidate covers the object: without one there is nothing to fit a decision on."""
    return any(d["hit"].any() for v in cands.values() for d in v["frames"].values())


def fit_decision(cands: dict, use_verifier: bool = True, features: Optional[Sequence[str]] = None,
                 l2: float = 1e-3, steps: int = 100) -> Decision:
    """Logistic regression of hit ~ [logit(det score), cosine, features...] (see the module docstring) ->
    Decision (a, b, c, w). `features`: names of decision_features to add (None: none, the two-input decision; a
    detector alone, use_verifier=False, may still use size)."""
    if not has_hits(cands):
        return Decision()
    names = list(features or [])
    frames = [d for v in cands.values() for d in v["frames"].values()]
    cols = [logit(np.concatenate([d["det_scores"] for d in frames]))]
    if use_verifier:
        cols.append(np.concatenate([d["cosines"] for d in frames]))
    if names:
        feats = [candidate_features(d, use_verifier) for d in frames]
        if any(f is None for f in feats):
            raise InputError("fit_decision: these candidates carry no sizes; collect them again to fit on features")
        cols += [np.concatenate([f[n] for f in feats]) for n in names]
    X = torch.tensor(np.stack(cols, 1), dtype=torch.float64)
    y = torch.tensor(np.concatenate([d["hit"] for d in frames]), dtype=torch.float64)
    w = torch.zeros(X.shape[1] + 1, dtype=torch.float64, requires_grad=True)
    with torch.no_grad():
        w[0] = 1.0
    opt = torch.optim.LBFGS([w], max_iter=steps, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        z = X @ w[:-1] + w[-1]
        loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y) + l2 * (w[:-1] ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    w = w.detach().numpy()
    k = 2 if use_verifier else 1
    return Decision(a=float(w[0]), b=float(w[1]) if use_verifier else 0.0, c=float(w[-1]),
                    w={n: float(x) for n, x in zip(names, w[k:-1])})


def decide(cands: dict, decision: Decision, use_verifier: bool = True, track: bool = False) -> dict:
    """Per video {frame: {"boxes", "scores"}}: the stored candidates scored by `decision` (best first), and with
    `track` passed through the tracker (one box per frame), without running the model again."""
    out = {}
    for vid, v in cands.items():
        per = {}
        for f, d in v["frames"].items():
            p = decision.probability(d["det_scores"], d["cosines"] if use_verifier else None,
                                     candidate_features(d, use_verifier) if decision.w else None)
            o = np.argsort(-p, kind="stable")
            per[f] = {"boxes": d["boxes"][o], "scores": p[o]}
        out[vid] = track_candidates(v["video"], per) if track else per
    return out


def track_candidates(video, per_frame: dict, fps: float = 25.0, max_gap: int = 8) -> dict:
    """The tracker over stored candidates of a video (the frames are decoded again for its motion compensation)."""
    tr = TargetTracker(fps, max_gap)
    for i, img in iter_frames(video, sorted(per_frame)):
        tr.update(i, per_frame[i], img)
    return tr.result()


def ground_truth(cands: dict) -> dict:
    return {vid: v["gt"] for vid, v in cands.items()}


def choose_thresholds(cands: dict, decision: Decision, use_verifier: bool = True) -> Decision:
    """Set decision.threshold (tracked) and .frame_threshold to the values that maximise the mean ST-IoU here."""
    gts = ground_truth(cands)
    decision.frame_threshold = best_conf(decide(cands, decision, use_verifier), gts, metric="st_iou", grid=GRID)
    decision.threshold = best_conf(decide(cands, decision, use_verifier, track=True), gts, metric="st_iou",
                                   grid=GRID)
    return decision


def calibrate(model, data_root, annotations, videos: Optional[Sequence[str]] = None,
              max_frames: Optional[int] = None, use_verifier: Optional[bool] = None,
              cands: Optional[dict] = None, features: Optional[Sequence[str]] = None, size: bool = False,
              scale: bool = False) -> Decision:
    """Fit the decision on these (training) videos and choose its two thresholds; sets and returns model.decision.
    features: decision_features names to fit on (None: decision_inputs' choice, with `size` or not, with the
    look's magnification `scale` or not: only for candidates collected with tiles)."""
    use_verifier = model.verifier is not None if use_verifier is None else use_verifier
    cands = cands if cands is not None else collect_candidates(model, data_root, annotations, videos, max_frames)
    names = decision_inputs(cands, use_verifier, size, scale) if features is None else list(features)
    model.decision = choose_thresholds(cands, fit_decision(cands, use_verifier, names), use_verifier)
    return model.decision


def decision_inputs(cands: dict, use_verifier: bool = True, size: bool = False, scale: bool = False) -> list[str]:
    """The features a calibration fits on: with a verifier, each frozen cue's cosine, and with `size` also the
    candidate's size and every cosine's product with it; a detector alone stays two-input. Size is not the default:
    fitted on generated training videos it moved no figure of the novel sets (benchmarks/cues.py, results/cues.json),
    since there the trained verifier holds at every size; it is there for training data where a cue's reliability
    does change with size."""
    if not use_verifier:
        return []
    return [n for n in available_features(cands, use_verifier)
            if (size or "size" not in n) and (scale or n != "log_scale")]
