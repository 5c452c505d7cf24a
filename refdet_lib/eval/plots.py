"""Evaluation pictures: precision-recall curves, ST-IoU per video, example frames with predicted and true boxes.

`evaluate_model` writes them next to metrics.json; the course shows them. Every function returns the Figure.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from ..data.annotations import VIDEO_NAME
from ..ops.images import draw
from .inference import top_box


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
    from ..data.video import read_frame

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
        frame = read_frame(Path(data_root) / v / VIDEO_NAME, f)
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
