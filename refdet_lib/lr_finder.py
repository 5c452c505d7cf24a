"""Learning-rate range test: the guide's "Method 3: Learning Rate Finder", done in one short run.

Instead of training a few epochs at each of six learning rates, raise the learning rate exponentially from `start`
to `end` over `steps` optimizer steps on real episodes and record the (smoothed) loss at each one. The loss first
barely moves (LR too low), then falls fastest (a good LR), then blows up (too high). `suggest_lr` picks the LR where
the smoothed loss falls fastest. The model's weights and the criterion's running statistics are restored afterwards,
so the finder can run on the model you are about to train.

    lrs, losses = lr_find(model, criterion, loader, start=1e-6, end=1e-1, steps=40)
    lr = suggest_lr(lrs, losses)
"""
from __future__ import annotations

import copy
import dataclasses
import math
from typing import Optional

import numpy as np
import torch

from .config import TrainConfig
from .train.trainer import batch_to, forward_batch


def _loss(model, criterion, batch: dict, stage: int, device: torch.device):
    batch = batch_to(batch, device)
    return criterion(forward_batch(model, batch, stage), batch, stage=stage)[0]


def lr_find(model, criterion, loader, start: float = 1e-7, end: float = 1.0, steps: int = 50, stage: int = 2,
            cfg: Optional[TrainConfig] = None, smooth: float = 0.9, diverge: float = 4.0,
            restore: bool = True) -> tuple[list[float], list[float]]:
    """Exponential LR sweep; returns (lrs, smoothed losses), one entry per step actually taken.

    The base LR sweeps start -> end; each component keeps its layer-wise multiplier (DINOv2 x0.1, fusion/head x2,
    from `cfg`, default TrainConfig()), so the LR found is the `--lr` to pass. The sweep stops early when the
    smoothed loss exceeds `diverge` x its best or is not finite. `loader` is cycled if it has fewer than `steps`
    batches.
    """
    from .train.trainer import param_groups

    if not (0 < start < end):
        raise ValueError(f"lr_find needs 0 < start < end (got start={start}, end={end})")
    if steps < 2:
        raise ValueError(f"lr_find needs steps >= 2 (got {steps})")
    cfg = cfg or TrainConfig()
    device = next(model.parameters()).device
    saved = (copy.deepcopy(model.state_dict()), copy.deepcopy(criterion.state_dict()), model.training) \
        if restore else None
    groups = param_groups(model, dataclasses.replace(cfg, lr=1.0))  # group lr = its multiplier
    mults = [g["lr"] for g in groups]
    opt = torch.optim.AdamW(groups, lr=start)
    gamma = (end / start) ** (1 / (steps - 1))
    lrs, losses = [], []
    avg, best = 0.0, math.inf
    model.train()
    it = iter(loader)
    try:
        for i in range(steps):
            try:
                batch = next(it)
            except StopIteration:
                it = iter(loader)
                batch = next(it)
            lr = start * gamma ** i
            for g, m in zip(opt.param_groups, mults):
                g["lr"] = lr * m
            loss = _loss(model, criterion, batch, stage, device)
            if not torch.isfinite(loss):
                break
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            avg = smooth * avg + (1 - smooth) * float(loss.detach())
            sm = avg / (1 - smooth ** (i + 1))  # bias-corrected moving average
            lrs.append(lr)
            losses.append(sm)
            best = min(best, sm)
            if not math.isfinite(sm) or sm > diverge * best:
                break
    finally:
        opt.zero_grad(set_to_none=True)
        if saved is not None:
            model.load_state_dict(saved[0])
            criterion.load_state_dict(saved[1])
            model.train(saved[2])
    return lrs, losses


def suggest_lr(lrs, losses, skip_start: int = 2, skip_end: int = 1) -> float:
    """The LR where the smoothed loss falls fastest (most negative slope against log10 LR).

    The first `skip_start` and last `skip_end` points are ignored (warm-up noise, divergence). With too few points
    for a slope, the LR of the lowest loss divided by 10 (the usual rule of thumb) is returned.
    """
    lrs, losses = np.asarray(lrs, float), np.asarray(losses, float)
    if len(lrs) == 0 or len(lrs) != len(losses):
        raise ValueError(f"suggest_lr needs equally long, non-empty lrs and losses (got {len(lrs)}, {len(losses)})")
    sel = slice(skip_start, len(lrs) - skip_end if skip_end else None)
    x, y = np.log10(lrs[sel]), losses[sel]
    ok = np.isfinite(y)
    x, y = x[ok], y[ok]
    if len(x) < 3:
        fin = np.where(np.isfinite(losses))[0]
        return float(lrs[fin[np.argmin(losses[fin])]] / 10) if len(fin) else float(lrs[0])
    return float(10 ** x[int(np.argmin(np.gradient(y, x)))])


def plot_lr_find(lrs, losses, suggestion: Optional[float] = None, ax=None):
    """Smoothed loss against the LR (log scale), with the suggested LR marked."""
    import matplotlib.pyplot as plt

    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(lrs, losses, marker=".")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate (base --lr; groups keep their multipliers)")
    ax.set_ylabel("loss (smoothed)")
    ax.set_title("Learning Rate Finder")
    if suggestion is not None:
        ax.axvline(suggestion, color="red", ls="--", lw=1, label=f"steepest descent: {suggestion:.1e}")
        ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    return fig or ax.figure
