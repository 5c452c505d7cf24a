"""After a short fine-tune from trained weights: keep what the start knew, keep what its threshold meant.

A few episodes on a handful of objects (the demo's fine-tune of the course weights on data_samples/train) make the
model's figures swing with the seed, and raise its scores everywhere: at the stored threshold it reports a box in
more training frames than the start did, so it reports more boxes in the videos it misses (measured, with every
figure, in benchmarks/README.md, "The demo's fine-tune"; `python benchmarks/finetune_effect.py`). Two
standard fixes:

- **WiSE-FT** (Wortsman et al., CVPR 2022): the weights part of the way from the start to the fine-tuned model,
  theta = (1 - alpha) theta_0 + alpha theta_ft, alpha = 0.5 (the middle, fixed in advance: with no held-out videos
  to tune it on, it is not picked on the test videos). A few episodes on eight objects pull the model towards them; the
  interpolation keeps part of that gain and the start's behaviour on objects neither saw.
- **The operating point**: the stored threshold was chosen for the start's score scale. The new threshold is the
  one at which the new model reports a box in the same share of the training frames the start does.
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import torch

from ..config import CALIB_FRAMES
from ..errors import InputError


def interpolate_weights(start_state: dict, model: torch.nn.Module, alpha: float = 0.5) -> torch.nn.Module:
    """WiSE-FT in place: model's floating-point tensors become (1 - alpha) * start + alpha * model (BatchNorm running
    statistics too; integer buffers such as num_batches_tracked stay the model's). alpha 1 = the fine-tuned model."""
    if not 0.0 <= alpha <= 1.0:
        raise InputError(f"alpha must be in [0, 1], got {alpha}")
    sd = model.state_dict()
    missing = [k for k in sd if k not in start_state]
    if missing:
        raise InputError(f"the start weights lack {len(missing)} of the model's tensors (e.g. {missing[0]}): "
                         "interpolate only between two models of the same architecture")
    mixed = {k: ((1 - alpha) * start_state[k].to(v.device, torch.float32) + alpha * v.float()).to(v.dtype)
             if v.is_floating_point() else v for k, v in sd.items()}
    model.load_state_dict(mixed)
    return model


def top_scores(model, data_root, annotations, videos: Optional[Sequence[str]] = None,
               max_frames: Optional[int] = CALIB_FRAMES) -> dict[str, np.ndarray]:
    """Each frame's reported score as `refdet predict` computes it (verifier, the model's decision), over the first
    `max_frames` frames of each video: {"tracked": (n,), "frames": (n,)} (with / without the tracker), 0 where
    nothing is reported."""
    from ..eval.calibration import collect_candidates, decide

    cands = collect_candidates(model, data_root, annotations, videos=videos, max_frames=max_frames)
    out = {}
    for key, track in (("tracked", True), ("frames", False)):
        per = decide(cands, model.decision, use_verifier=True, track=track)
        out[key] = np.array([float(d["scores"][0]) if len(d["scores"]) else 0.0
                             for v in per.values() for d in v.values()])
    return out


def _matched(scores: np.ndarray, rate: float) -> float:
    """The threshold at which a `rate` share of `scores` is reported."""
    if rate <= 0:  # the start reports nothing here: report nothing either
        return float(scores.max()) + 1e-6
    return float(np.quantile(scores, 1 - rate)) if rate < 1 else float(scores.min())


def keep_operating_point(model, start, data_root, annotations, videos: Optional[Sequence[str]] = None,
                         max_frames: Optional[int] = CALIB_FRAMES) -> dict:
    """Set model.decision's two thresholds (tracked, frames alone) so that `model` reports a box in the same share
    of these (training) frames as `start` does at its own thresholds. Returns what changed, per threshold:
    {"threshold": (before, after), "rate": (start's, model's before), ...}."""
    s0 = top_scores(start, data_root, annotations, videos, max_frames)
    s1 = top_scores(model, data_root, annotations, videos, max_frames)
    report = {}
    for key, attr in (("tracked", "threshold"), ("frames", "frame_threshold")):
        rate = float((s0[key] >= getattr(start.decision, attr)).mean())
        before = float(getattr(model.decision, attr))
        new = _matched(s1[key], rate)
        setattr(model.decision, attr, max(new, before) if rate <= 0 else new)  # nothing reported stays so
        report[attr] = (before, float(getattr(model.decision, attr)))
        report[f"{attr}_rate"] = (rate, float((s1[key] >= before).mean()))
    return report
