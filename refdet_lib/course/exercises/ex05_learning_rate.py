"""Exercise 5: pick a learning rate from an LR-finder curve."""
from __future__ import annotations

import math
from typing import Callable, Optional

import numpy as np

from ._check import _as_float, _call, _short, _verdict


def lr_finder_curve(kind: str = "clean", n: int = 41, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A synthetic LR-finder curve (loss after a short run at each LR, LRs log-spaced 1e-6..1e-1).

    Shape of a real one: a plateau (LR too small to move), a descent, a minimum, then divergence. kinds:
    "clean"; "noisy" (measurement noise); "late_drop" (after the minimum the loss blows up, then a lucky sharp dip
    that is steeper than anything before the minimum: a pick that ignores "before the minimum" falls for it);
    "early" (the descent starts almost at once).
    """
    rng = np.random.default_rng(seed)
    lrs = np.logspace(-6, -1, n)
    x = np.log10(lrs)
    centre, width, floor = {"clean": (-4.0, 0.35, 0.6), "noisy": (-3.6, 0.3, 0.8), "late_drop": (-4.3, 0.3, 0.7),
                            "early": (-5.3, 0.3, 0.5)}[kind]
    loss = floor + 1.8 / (1 + np.exp((x - centre) / width))  # plateau -> descent -> floor
    loss = loss + 0.9 * np.exp(2.2 * (x - (centre + 1.6))).clip(max=50)  # divergence past the minimum
    if kind == "noisy":
        loss = loss + rng.normal(0, 0.015, n)
    if kind == "late_drop":  # diverging, then one lucky step falls far below the trend
        k = int(np.argmin(loss)) + 8
        loss[k + 1:] -= loss[k + 1] - (loss.min() + 0.35)
    return lrs, loss.astype(np.float64)


def plot_lr_curve(lrs, losses, pick: Optional[float] = None, ax=None):
    """Loss against LR on a log axis, with the minimum and (if given) the picked LR marked."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(lrs, losses, "o-", ms=3, label="loss after a short run")
    i = int(np.argmin(losses))
    ax.axvline(lrs[i], color="gray", ls=":", label=f"minimum ({lrs[i]:.1e})")
    if pick is not None:
        ax.axvline(pick, color="tab:red", ls="--", label=f"picked lr = {pick:.1e}")
    ax.set(xscale="log", xlabel="learning rate", ylabel="loss", title="Learning rate finder")
    ax.legend(fontsize=8)
    return ax


def _lr_cases():
    return [(kind, *lr_finder_curve(kind, seed=s)) for kind, s in
            (("clean", 0), ("noisy", 1), ("late_drop", 0), ("early", 0), ("noisy", 7))]


def check_pick_learning_rate(pick_learning_rate: Callable) -> None:
    """Exercise 5. `pick_learning_rate(lrs, losses) -> float`: the LR at the steepest descent before the minimum,
    against the library's LR finder (`refdet_lib.course.lr_finder.suggest_lr`). A pick within one grid step passes
    (forward or central differences both do)."""
    from ..lr_finder import suggest_lr

    name = "pick_learning_rate"
    cases = _lr_cases()
    failures = []
    for kind, lrs, losses in cases:
        want = suggest_lr(lrs, losses)
        i = int(np.argmin(np.abs(np.log(lrs) - math.log(want))))
        got = _as_float(_call(name, pick_learning_rate, lrs.copy(), losses.copy()))
        if got is None or not got > 0:
            failures.append(f"curve {kind!r}: expected a positive LR like {want:.2e}, got {_short(got)}")
            continue
        j = int(np.argmin(np.abs(np.log(lrs) - math.log(got))))
        if abs(j - i) > 1:
            i_min = int(np.argmin(losses))
            why = (" (that is the minimum itself: by then the loss has stopped falling)" if j == i_min else
                   " (past the minimum: the loss there is diverging)" if j > i_min else "")
            failures.append(f"curve {kind!r}: expected about {want:.2e} (point {i}), got {got:.2e} (point {j}){why}")
    _verdict(name, failures, len(cases))
