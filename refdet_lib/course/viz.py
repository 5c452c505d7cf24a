"""Plots a person would rather look at than read: dataset items and episodes with boxes, loss curves, component
bars; and, from `refdet_lib.eval.plots`, PR curves, ST-IoU per video and example frames. Every function returns the
matplotlib Figure (notebooks show it, scripts save it)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import matplotlib.pyplot as plt
import numpy as np

from ..config import LOSS_COMPONENTS as COMPONENTS
from ..errors import InputError
from ..eval.plots import plot_examples, plot_pr_curves, plot_st_iou_bars  # noqa: F401  (the course's one viz module)
from ..ops.images import draw

CURVES = ("loss",) + COMPONENTS
SPLITS = ("train", "val")
# the guide's "Monitoring Training" expected shares of the total loss
EXPECTED_SHARES = {"bbox": 0.60, "cls": 0.10, "dfl": 0.20, "supcon+cpe": 0.10}


def show_sample(item: dict, title: Optional[str] = None, max_refs: int = 3):
    """A dataset item: the query frame with its boxes, and the object's reference images."""
    refs = item["support_images"][:max_refs]
    fig, axes = plt.subplots(1, 1 + len(refs), figsize=(4 + 2 * len(refs), 3.2),
                             gridspec_kw={"width_ratios": [3] + [1] * len(refs)})
    axes = np.atleast_1d(axes)
    axes[0].imshow(draw(item["query_frame"], gt=item["bboxes"]))
    axes[0].set_title(title or f"{item['video_id']}  frame {item.get('frame', '?')}  ({len(item['bboxes'])} box)")
    for ax, r in zip(axes[1:], refs):
        ax.imshow(r)
        ax.set_title("reference")
    for ax in axes:
        ax.axis("off")
    fig.tight_layout()
    return fig


def show_episode(batch: dict, max_frames: int = 8):
    """A collated episode: the references of each object (rows) and the query frames with their boxes."""
    C, K = batch["support"].shape[:2]
    B = min(batch["query"].shape[0], max_frames)
    fig, axes = plt.subplots(2, max(K * C, B), figsize=(2.2 * max(K * C, B), 4.6))
    for ax in axes.ravel():
        ax.axis("off")
    for c in range(C):
        for k in range(K):
            ax = axes[0, c * K + k]
            ax.imshow(batch["support"][c, k].permute(1, 2, 0).numpy())
            ax.set_title(f"object {c} ref {k + 1}", fontsize=8)
    for b in range(B):
        img = (batch["query"][b].permute(1, 2, 0).numpy() * 255).astype(np.uint8)
        sel = batch["batch_idx"] == b
        axes[1, b].imshow(draw(img, gt=batch["bboxes"][sel].numpy()))
        axes[1, b].set_title(f"query of object {int(batch['query_cls'][b])}", fontsize=8)
    fig.tight_layout()
    return fig


def load_histories(histories) -> dict:
    """{name: DataFrame} from a dict name -> (history.csv path | run folder | DataFrame), a list, or a single one."""
    import pandas as pd

    from ..train.history import read_history

    if isinstance(histories, (str, Path, pd.DataFrame)):
        histories = {"run" if isinstance(histories, pd.DataFrame) else Path(histories).name or "run": histories}
    elif isinstance(histories, (list, tuple)):
        histories = {(Path(h).name if not isinstance(h, pd.DataFrame) else f"run{i}"): h
                     for i, h in enumerate(histories)}
    if not histories:
        raise InputError("no histories given")
    out = {}
    for name, h in histories.items():
        df = h if isinstance(h, pd.DataFrame) else read_history(h)
        if "epoch" not in df:
            raise InputError(f"history {name!r} has no 'epoch' column (is it a history.csv?)")
        out[str(name)] = df
    return out


def select_curves(histories, components: Sequence[str] = ("loss",), runs: Optional[Sequence[str]] = None,
                  splits: Sequence[str] = SPLITS):
    """Long table (run, split, component, epoch, value) of the chosen curves; empty (NaN) columns are left out.

    `histories` is anything `load_histories` takes (a single DataFrame is run "run").
    """
    import pandas as pd

    hs = load_histories(histories)
    bad = sorted(set(components) - set(CURVES))
    if bad:
        raise KeyError(f"unknown curve(s) {bad}; choose from {', '.join(CURVES)}")
    bad = sorted(set(splits) - set(SPLITS))
    if bad:
        raise KeyError(f"unknown split(s) {bad}; choose from {', '.join(SPLITS)}")
    runs = list(hs) if runs is None else list(runs)
    missing = [r for r in runs if r not in hs]
    if missing:
        raise KeyError(f"unknown run(s) {missing}; loaded: {', '.join(hs)}")
    parts = []
    for r in runs:
        df = hs[r]
        for c in components:
            for s in splits:
                col = f"{s}_{c}"
                if col not in df:
                    continue
                sub = df[["epoch", col]].dropna()
                if len(sub):
                    parts.append(pd.DataFrame({"run": r, "split": s, "component": c,
                                               "epoch": sub["epoch"].to_numpy(), "value": sub[col].to_numpy(float)}))
    cols = ["run", "split", "component", "epoch", "value"]
    return pd.concat(parts, ignore_index=True)[cols] if parts else pd.DataFrame(columns=cols)


def plot_curves(curves, log: bool = False, ax=None):
    """Plot `select_curves` output: one colour per (run, component), train solid, val dashed."""
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 4))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    keys = list(dict.fromkeys(zip(curves["run"], curves["component"])))
    for i, (r, c) in enumerate(keys):
        for s, style in (("train", "-"), ("val", "--")):
            sub = curves[(curves["run"] == r) & (curves["component"] == c) & (curves["split"] == s)]
            if len(sub):
                ax.plot(sub["epoch"], sub["value"], style, marker="o", ms=3, color=colors[i % len(colors)],
                        label=f"{r} {s} {c}")
    if log and len(curves) and (curves["value"] > 0).all():
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (weighted)")
    if keys:
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "nothing selected", ha="center", va="center", transform=ax.transAxes)
    ax.grid(alpha=0.3)
    return fig or ax.figure


def plot_history(histories, components: Sequence[str] = ("loss",), log: bool = False, ax=None):
    """Train (solid) and val (dashed) curves from one or more history.csv files / DataFrames / run folders (the
    curve viewer's static picture)."""
    return plot_curves(select_curves(histories, components), log=log, ax=ax)


def component_shares(row: dict, *, prefix: str = "train_") -> dict:
    """Share of each component in the total (what the guide's expected shares describe). A history row holds the
    *weighted* components already (they sum to the total), so they are divided by their sum, nothing more."""
    vals = {k: float(row.get(f"{prefix}{k}", 0) or 0) for k in COMPONENTS}
    tot = sum(vals.values()) or 1.0
    return {k: v / tot for k, v in vals.items()}


def plot_component_bars(row: dict, *, prefix: str = "train_", ax=None):
    """Per-component weighted loss bars (share of the total) with the guide's expected shares marked."""
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 3.2))
    shares = component_shares(row, prefix=prefix)
    ax.bar(list(shares), [100 * v for v in shares.values()], color="#4c72b0")
    exp = {"bbox": 60, "cls": 10, "dfl": 20}
    for i, k in enumerate(shares):
        if k in exp:
            ax.plot([i - 0.4, i + 0.4], [exp[k]] * 2, "r--", lw=1.5)
    ax.set_ylabel("% of weighted total")
    ax.set_title("loss components (red: the guide's expected share)")
    return fig or ax.figure
