"""Plots a person would rather look at than read: frames with boxes, references, loss curves, component bars,
PR curves and per-video ST-IoU. Every function returns the matplotlib Figure (notebooks show it, scripts save it)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import matplotlib.pyplot as plt
import numpy as np

from .inference import draw, top_box

COMPONENTS = ("bbox", "cls", "dfl", "supcon", "cpe", "triplet")
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


def plot_history(histories, components: Sequence[str] = ("loss",), log: bool = False, ax=None):
    """Train (solid) and val (dashed) curves from one or more history.csv files / DataFrames / run folders."""
    import pandas as pd

    from .train.history import read_history

    if not isinstance(histories, dict):
        histories = {"run": histories} if not isinstance(histories, (list, tuple)) else \
            {Path(str(h)).name: h for h in histories}
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 4))
    for name, h in histories.items():
        df = h if isinstance(h, pd.DataFrame) else read_history(h)
        for comp in components:
            for split, style in (("train", "-"), ("val", "--")):
                col = f"{split}_{comp}"
                if col in df and df[col].notna().any():
                    ax.plot(df["epoch"], df[col], style, marker="o", ms=3, label=f"{name} {split} {comp}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    if log:
        ax.set_yscale("log")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig or ax.figure


def component_shares(row: dict, weights: Optional[dict] = None, prefix: str = "train_") -> dict:
    """Weighted share of each component in the total (what the guide's expected shares describe)."""
    w = weights or {k: 1.0 for k in COMPONENTS}
    vals = {k: float(row.get(f"{prefix}{k}", 0) or 0) * w.get(k, 1.0) for k in COMPONENTS}
    tot = sum(vals.values()) or 1.0
    return {k: v / tot for k, v in vals.items()}


def plot_component_bars(row: dict, weights: Optional[dict] = None, prefix: str = "train_", ax=None):
    """Per-component weighted loss bars with the guide's expected shares marked."""
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 3.2))
    shares = component_shares(row, weights, prefix)
    ax.bar(list(shares), [100 * v for v in shares.values()], color="#4c72b0")
    exp = {"bbox": 60, "cls": 10, "dfl": 20}
    for i, k in enumerate(shares):
        if k in exp:
            ax.plot([i - 0.4, i + 0.4], [exp[k]] * 2, "r--", lw=1.5)
    ax.set_ylabel("% of weighted total")
    ax.set_title("loss components (red: the guide's expected share)")
    return fig or ax.figure


def plot_pr_curves(results: dict, ax=None):
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(5, 4))
    for shot, r in results.items():
        o = r["overall"]
        ax.plot(o["pr_recall"], o["pr_precision"], label=f"{shot}: AP@0.5 = {o['map50']:.3f}")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.legend()
    ax.grid(alpha=0.3)
    ax.set_title("precision-recall (IoU 0.5)")
    return fig or ax.figure


def plot_st_iou_bars(results: dict, ax=None):
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 3.5))
    shots = list(results)
    vids = list(next(iter(results.values()))["per_video"])
    x = np.arange(len(vids))
    wd = 0.8 / max(1, len(shots))
    for i, s in enumerate(shots):
        ax.bar(x + i * wd, [results[s]["per_video"][v]["st_iou"] for v in vids], wd, label=s)
    ax.set_xticks(x + wd * (len(shots) - 1) / 2, vids, rotation=20, fontsize=8)
    ax.set_ylabel("ST-IoU")
    ax.set_ylim(0, 1)
    ax.legend()
    ax.set_title("ST-IoU per video")
    return fig or ax.figure


def plot_examples(preds: dict, gts: dict, data_root, conf: float = 0.25, n: int = 6, seed: int = 0):
    """Frames with the top prediction (green) and ground truth (red), half from annotated frames."""
    from .data.video import read_frame

    rng = np.random.default_rng(seed)
    picks = []
    vids = sorted(preds)
    for i in range(n):
        v = vids[i % len(vids)]
        ann = [f for f, b in gts[v].items() if len(b)]
        pool = ann if (i % 2 == 0 and ann) else sorted(preds[v])
        if pool:
            picks.append((v, int(rng.choice(pool))))
    cols = min(3, len(picks)) or 1
    rows = -(-len(picks) // cols) or 1
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 2.8 * rows))
    axes = np.atleast_1d(axes).ravel()
    for ax in axes:
        ax.axis("off")
    for ax, (v, f) in zip(axes, picks):
        frame = read_frame(Path(data_root) / v / "drone_video.mp4", f)
        tb = top_box(preds[v].get(f))
        boxes, scores = ([tb[0]], [tb[1]]) if tb and tb[1] >= conf else ([], [])
        ax.imshow(draw(frame, boxes, scores, gts[v].get(f, ())))
        ax.set_title(f"{v} frame {f}", fontsize=8)
    fig.tight_layout()
    return fig


def save_evaluation_plots(results: dict, preds_by_shot: dict, data_root, out_dir, conf: float = 0.25) -> list[Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, fig in (("pr_curve.png", plot_pr_curves(results)), ("st_iou_per_video.png", plot_st_iou_bars(results))):
        fig.savefig(out / name, dpi=90, bbox_inches="tight")
        plt.close(fig)
        paths.append(out / name)
    last = list(preds_by_shot)[-1]
    fig = plot_examples(*preds_by_shot[last], data_root, conf=conf)
    fig.savefig(out / "examples.png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    paths.append(out / "examples.png")
    return paths
