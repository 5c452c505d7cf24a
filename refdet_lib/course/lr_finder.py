"""Learning-rate range test: the guide's "Method 3: Learning Rate Finder", done in one short run.

Instead of training a few epochs at each of six learning rates, raise the learning rate exponentially from `start`
to `end` over `steps` optimizer steps on real episodes and record the (smoothed) loss at each one. The loss first
barely moves (LR too low), then falls fastest (a good LR), then blows up (too high). `suggest_lr` picks the LR where
the smoothed loss falls fastest *before its minimum* (the rule exercise 5 teaches: past the minimum the loss is
diverging, and a lucky dip there is no learning rate to train with). The model's weights and the criterion's running
statistics are restored afterwards, so the finder can run on the model you are about to train.

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

from ..config import TrainConfig
from ..errors import InputError
from ..train.optim import param_groups
from ..train.step import batch_loss


def lr_find(model, criterion, loader, start: float = 1e-7, end: float = 1.0, steps: int = 50, stage: int = 2,
            cfg: Optional[TrainConfig] = None, smooth: float = 0.9, diverge: float = 4.0,
            restore: bool = True) -> tuple[list[float], list[float]]:
    """Exponential LR sweep; returns (lrs, smoothed losses), one entry per step actually taken.

    The base LR sweeps start -> end; each component keeps its layer-wise multiplier (DINOv2 x0.1, fusion/head x2,
    from `cfg`, default TrainConfig()), so the LR found is the `--lr` to pass. The sweep stops early when the
    smoothed loss exceeds `diverge` x its best or is not finite. `loader` is cycled if it has fewer than `steps`
    batches.
    """
    if not (0 < start < end):
        raise InputError(f"lr_find needs 0 < start < end (got start={start}, end={end})")
    if steps < 2:
        raise InputError(f"lr_find needs steps >= 2 (got {steps})")
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
            loss = batch_loss(model, criterion, batch, stage, device)[0]
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


def suggest_lr(lrs, losses) -> float:
    """The LR where the loss falls fastest before its minimum: the most negative d loss / d log10(lr) (np.gradient)
    among the points before the lowest loss. Past the minimum the loss diverges, so a steep dip there (noise, or a
    lucky step while blowing up) is never the answer. A curve whose first point is its lowest gives that first LR."""
    lrs, losses = np.asarray(lrs, np.float64), np.asarray(losses, np.float64)
    if len(lrs) == 0 or len(lrs) != len(losses):
        raise InputError(f"suggest_lr needs equally long, non-empty lrs and losses (got {len(lrs)}, {len(losses)})")
    ok = np.isfinite(losses)
    lrs, losses = lrs[ok], losses[ok]
    if len(lrs) == 0:
        raise InputError("suggest_lr: every loss is NaN or infinite")
    i_min = int(np.argmin(losses))
    if i_min == 0 or len(lrs) < 2:
        return float(lrs[0])
    slope = np.gradient(losses, np.log10(lrs))
    return float(lrs[int(np.argmin(slope[:i_min]))])


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
        ax.axvline(suggestion, color="red", ls="--", lw=1,
                   label=f"steepest descent before the minimum: {suggestion:.1e}")
        ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    return fig or ax.figure
