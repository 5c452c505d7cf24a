"""Measure and look before you change a setting: the guide's troubleshooting and tuning checks, as functions.

Each answers one question the guide asks, with a number from a real run instead of a rule of thumb:
- `step_memory`:       how much memory one optimizer step needs (the OOM issue; n_query, gradient accumulation)
- `profile_steps`:     is the data loader or the model the bottleneck (the slow-training issue)
- `time_frame_loading`: what the frame cache saves per frame
- `time_episode`:      batch size and seconds per episode of an episodic configuration
- `train_val_gap`, `generalisation_advice`: the overfitting gap against the guide's 0.05 / 0.1 thresholds
- `detection_agreement`: how far two detectors (FP32 vs INT8, PyTorch vs ONNX) disagree on the same frames
and pictures: `show_triplets`, `plot_gap`, `show_video_frames`.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Optional, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from ..errors import InputError
from ..train.step import batch_loss

GAP_OK, GAP_OVERFIT = 0.05, 0.1   # the guide: val within 0.05 of train is healthy, a gap above 0.1 is overfitting


def _forward_loss(model, criterion, batch: dict, stage: int):
    return batch_loss(model, criterion, batch, stage)[0]


# ---------------------------------------------------------------------------------------------- memory
def step_memory(model, criterion, micro_batches: Sequence[dict], stage: int = 2) -> dict:
    """Memory of one optimizer step made of `micro_batches` (one batch = no accumulation), forward + backward each.

    `activations_MB`: bytes of the tensors autograd saves for backward (parameters excluded), the largest over the
    micro-batches. That is the memory that grows with the batch and is freed by each backward, so it is what
    n_query and gradient accumulation change; it is exact and repeatable on any device (a tracemalloc for tensors:
    the process's RSS is useless here, the C allocator keeps freed memory). On CUDA also `cuda_peak_MB`:
    `torch.cuda.max_memory_allocated` above what was allocated before (the number an OOM is about).
    Gradients are zeroed afterwards.
    """
    dev = next(model.parameters()).device
    model.train()
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    res = {"micro_batches": len(micro_batches), "frames_per_micro_batch": int(micro_batches[0]["query"].shape[0])}
    per_mb = []
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
        torch.cuda.reset_peak_memory_stats(dev)
        base = torch.cuda.memory_allocated(dev)
    seen: dict[int, int] = {}

    def pack(t):
        ptr = t.untyped_storage().data_ptr()
        if ptr not in params and ptr not in seen:
            seen[ptr] = t.untyped_storage().nbytes()
        return t

    for b in micro_batches:
        seen.clear()
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            loss = _forward_loss(model, criterion, b, stage) / len(micro_batches)
        per_mb.append(sum(seen.values()))
        loss.backward()
    model.zero_grad(set_to_none=True)
    res["activations_MB"] = max(per_mb) / 2**20
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
        res["cuda_peak_MB"] = (torch.cuda.max_memory_allocated(dev) - base) / 2**20
    return res


# ---------------------------------------------------------------------------------------------- time
def _sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def profile_steps(model, criterion, loader, n_steps: int = 4, stage: int = 2, lr: float = 1e-4):
    """Per step: seconds waiting for the loader vs seconds of forward + backward + AdamW step.

    If `data_s` is a large share, more `num_workers` or the frame cache help; if `step_s` dominates, mixed precision,
    a smaller imgsz or a GPU do. Returns a DataFrame (one row per step). The model is trained by these steps: use a
    throwaway copy.
    """
    import pandas as pd

    from ..config import TrainConfig
    from ..train.optim import param_groups

    dev = next(model.parameters()).device
    opt = torch.optim.AdamW(param_groups(model, TrainConfig(lr=lr)))
    model.train()
    rows, it = [], iter(loader)
    for i in range(n_steps):
        t0 = time.perf_counter()
        try:
            batch = next(it)
        except StopIteration:
            it = iter(loader)
            batch = next(it)
        t1 = time.perf_counter()
        loss = _forward_loss(model, criterion, batch, stage)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        _sync(dev)
        t2 = time.perf_counter()
        rows.append({"step": i + 1, "frames": int(batch["query"].shape[0]), "data_s": t1 - t0, "step_s": t2 - t1})
    opt.zero_grad(set_to_none=True)
    df = pd.DataFrame(rows)
    df["data_share"] = df["data_s"] / (df["data_s"] + df["step_s"])
    return df


def time_frame_loading(dataset, indices: Sequence[int], repeat: int = 1) -> float:
    """Mean seconds to load one dataset item (frame + boxes + references) over `indices`."""
    t0 = time.perf_counter()
    for _ in range(repeat):
        for i in indices:
            dataset[int(i)]
    return (time.perf_counter() - t0) / max(1, len(indices) * repeat)


def time_episode(model, criterion, episodes, n: int = 1, stage: int = 2) -> dict:
    """Seconds to build (load + augment + collate) and to train on (forward + backward) one episode, mean of n."""
    dev = next(model.parameters()).device
    model.train()
    t_data = t_step = 0.0
    frames = 0
    for k in range(n):
        t0 = time.perf_counter()
        batch = episodes[k % len(episodes)]
        t1 = time.perf_counter()
        loss = _forward_loss(model, criterion, batch, stage)
        loss.backward()
        _sync(dev)
        t2 = time.perf_counter()
        t_data, t_step = t_data + t1 - t0, t_step + t2 - t1
        frames = int(batch["query"].shape[0])
    model.zero_grad(set_to_none=True)
    return {"frames per episode": frames, "data s/episode": t_data / n, "step s/episode": t_step / n}


# ---------------------------------------------------------------------------------------------- generalisation
def train_val_gap(history):
    """Per epoch: train loss, val loss, gap = val - train and the guide's verdict (ok < 0.05 <= watch <= 0.1 < overfit;
    "no val" for an epoch without a validation loss).

    `history` is a history.csv path, run folder or DataFrame.
    """
    import pandas as pd

    from ..train.history import read_history

    df = history if isinstance(history, pd.DataFrame) else read_history(history)
    if "val_loss" not in df or df["val_loss"].isna().all():
        raise InputError("the history has no val_loss: train with --test_data_root/--test_annotations to get one")
    out = df[["epoch", "train_loss", "val_loss"]].copy()
    out["gap"] = out["val_loss"] - out["train_loss"]
    out["verdict"] = ["no val" if not np.isfinite(g) else "ok" if g < GAP_OK else
                      ("watch" if g <= GAP_OVERFIT else "overfitting") for g in out["gap"]]
    return out


def generalisation_advice(gap, weight_decay: float = 0.05, n_way: int = 2, n_episodes: int = 100,
                          n_classes: Optional[int] = None) -> list[str]:
    """The guide's Issue 5 remedies that apply, given the last epoch's gap and the current settings."""
    last = gap.iloc[-1]
    g = float(last["gap"])
    if g < GAP_OK:
        return [f"gap {g:+.3f} < {GAP_OK}: generalising fine, nothing to change"]
    tips = [f"gap {g:+.3f} ({last['verdict']}): val loss is well above train loss"]
    if weight_decay < 0.1:
        tips.append(f"A: more regularisation: --weight_decay 0.1 (now {weight_decay:g})")
    if n_classes is None or n_classes > n_way:
        tips.append(f"B: more episodic diversity: --n_way {min(n_way + 1, n_classes or n_way + 1)} "
                    f"--n_episodes {max(200, n_episodes)} (now {n_way} / {n_episodes})")
    tips.append("C: stronger augmentation: raise the AugmentConfig probabilities (color_p, affine_p, blur_p)")
    if len(gap) > 2 and gap["val_loss"].idxmin() < gap.index[-1]:
        tips.append(f"D: val loss was lowest at epoch {int(gap.loc[gap['val_loss'].idxmin(), 'epoch'])}: "
                    "train fewer epochs (best_model.pt already holds that epoch)")
    return tips


def plot_gap(gaps: dict, ax=None):
    """val - train per epoch for one or more runs ({name: train_val_gap(...)}), with the guide's thresholds."""
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.5, 3.2))
    for name, g in gaps.items():
        ax.plot(g["epoch"], g["gap"], marker="o", label=name)
    ax.axhline(GAP_OK, color="orange", ls="--", lw=1, label=f"{GAP_OK} (watch)")
    ax.axhline(GAP_OVERFIT, color="red", ls="--", lw=1, label=f"{GAP_OVERFIT} (overfitting)")
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xlabel("epoch")
    ax.set_ylabel("val loss - train loss")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig or ax.figure


# ---------------------------------------------------------------------------------------------- pictures
def _img(t: torch.Tensor) -> np.ndarray:
    return t.permute(1, 2, 0).clamp(0, 1).numpy()


def show_triplets(batch: dict, max_items: int = 8):
    """A triplet batch as three rows: anchors (reference photos), positives (the object in a frame) and negatives
    (background patch or another object), one column per triplet."""
    T = min(batch["anchor"].shape[0], max_items)
    fig, axes = plt.subplots(3, T, figsize=(1.7 * T, 5.4), squeeze=False)
    for j in range(T):
        for r, key in enumerate(("anchor", "positive", "negative")):
            ax = axes[r, j]
            ax.imshow(_img(batch[key][j]))
            ax.set_xticks([])
            ax.set_yticks([])
            if j == 0:
                ax.set_ylabel(key, fontsize=10)
        kind = batch["neg_kind"][j] if "neg_kind" in batch else ""
        axes[2, j].set_xlabel(kind.replace("_", " "), fontsize=8)
        axes[0, j].set_title(f"class {int(batch['labels'][j])}" if "labels" in batch else "", fontsize=8)
    fig.tight_layout()
    return fig


def show_video_frames(video: str | Path, frames: Sequence[int], ncols: int = 3, title: str = ""):
    """Selected frames of a video (e.g. the annotated mp4 inference wrote), in a grid."""
    from ..data.video import iter_frames

    frames = sorted(set(int(f) for f in frames))
    if not frames:
        raise InputError("no frames to show")
    imgs = dict(iter_frames(video, frames))
    ncols = min(ncols, len(frames))
    nrows = -(-len(frames) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 2.6 * nrows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, f in zip(axes.ravel(), frames):
        ax.imshow(imgs[f])
        ax.set_title(f"frame {f}", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------- agreement
def detection_agreement(a: list[dict], b: list[dict], names: tuple = ("a", "b")):
    """Frame by frame: top score of each detector, |difference|, IoU of their top boxes, number of detections.

    `a`, `b`: predict() outputs for the same frames. IoU is NaN where either found nothing.
    """
    import pandas as pd

    from ..ops.boxes import box_iou

    if len(a) != len(b):
        raise InputError(f"detection lists differ in length ({len(a)} vs {len(b)}): not the same frames")
    rows = []
    for i, (da, db) in enumerate(zip(a, b)):
        sa = float(da["scores"].max()) if len(da["scores"]) else 0.0
        sb = float(db["scores"].max()) if len(db["scores"]) else 0.0
        iou = float("nan")
        if len(da["scores"]) and len(db["scores"]):
            ba = np.asarray(da["boxes"])[int(np.argmax(da["scores"]))][None]
            bb = np.asarray(db["boxes"])[int(np.argmax(db["scores"]))][None]
            iou = float(box_iou(ba, bb)[0, 0])
        rows.append({"frame": i, f"{names[0]} top score": sa, f"{names[1]} top score": sb,
                     "|score diff|": abs(sa - sb), "top-box IoU": iou,
                     f"{names[0]} n": len(da["scores"]), f"{names[1]} n": len(db["scores"])})
    return pd.DataFrame(rows)


def training_signs(history):
    """The guide's *good training signs* and *warning signs*, checked on a run's history (DataFrame, or rows):
    one row per sign with what was measured and whether the run shows it."""
    import pandas as pd

    h = pd.DataFrame(history)
    tr = h["train_loss"].astype(float).to_numpy()
    va = pd.to_numeric(h.get("val_loss", pd.Series([None] * len(h))), errors="coerce").to_numpy()
    n = len(tr)
    half, tail = tr[n // 2:], tr[-max(2, n // 5):]
    slope = float(np.polyfit(np.arange(len(half)), half, 1)[0]) if len(half) > 1 else float("nan")
    steps = np.diff(tr)
    wiggle = float(np.mean(np.abs(steps - np.mean(steps))) / max(1e-9, np.mean(np.abs(tr)))) if n > 2 else 0.0
    settle = float(abs(tail[-1] - tail[0]) / max(1e-9, abs(tail[0])))
    first_half_gain = float((tr[0] - tr[n // 2]) / max(1e-9, abs(tr[0]))) if n > 2 else float("nan")
    has_val = np.isfinite(va).any()
    gap = va - tr if has_val else np.full(n, np.nan)
    skipped = int(pd.to_numeric(h["skipped_steps"], errors="coerce").fillna(0).sum()) if "skipped_steps" in h else 0
    rows = [
        ("good", "train loss steadily decreasing", f"{tr[0]:.3f} -> {tr[-1]:.3f}; slope over the 2nd half "
         f"{slope:+.4f} / epoch", tr[-1] < tr[0] and not slope > 0),
        ("good", "val loss following train loss", "no validation set in this run" if not has_val else
         f"gap {np.nanmean(gap[: max(1, n // 2)]):+.3f} (1st half) -> {np.nanmean(gap[n // 2:]):+.3f} (2nd half)",
         None if not has_val else bool(np.nanmean(gap[n // 2:]) <= np.nanmean(gap[: max(1, n // 2)]) + 0.05)),
        ("good", "loss stabilising at the end", f"last {len(tail)} epochs change by {settle:.1%}", settle < 0.05),
        ("warning", "val loss much higher than train (overfitting)", "no validation set in this run" if not has_val
         else f"last gap {gap[-1]:+.3f}", None if not has_val else bool(gap[-1] > 0.1 * abs(tr[-1]))),
        ("warning", "loss oscillating wildly (LR too high)", f"epoch-to-epoch wiggle {wiggle:.1%} of the loss",
         wiggle > 0.1),
        ("warning", "loss plateaus early", f"the first half removed {first_half_gain:.1%} of the loss",
         bool(n > 4 and first_half_gain < 0.02)),
        ("warning", "NaN losses (gradient explosion)", f"{skipped} non-finite step(s) skipped",
         bool(skipped > 0 or not np.isfinite(tr).all())),
    ]
    return pd.DataFrame(rows, columns=["kind", "sign", "measured", "shown"]).set_index(["kind", "sign"])
