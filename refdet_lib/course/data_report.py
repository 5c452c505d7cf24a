"""Pictures of a dataset before training on it (box sizes, boxes per video, annotated intervals), and a deliberately
broken copy of a dataset for the validation lesson.

Why look: drone targets are tiny (tens of pixels in a 640-px frame), annotated in a few stretches of each video; the
box-size histogram says which strides (8/16/32) will carry the detections and the timeline shows how many frames are
negatives.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from ..data.annotations import REF_DIR, VIDEO_NAME
from ..errors import InputError
from ..ops.runs import runs


def plot_dataset_stats(annotations: dict, summary):
    """Three panels from `validate_dataset`'s (annotations, summary): box-size histogram, boxes per video and the
    annotated intervals of each video along its frames."""
    fig, axes = plt.subplots(1, 3, figsize=(15, 3.8), gridspec_kw={"width_ratios": [1, 1, 1.6]})
    ax = axes[0]
    side = np.sqrt(summary.box_w * summary.box_h)
    ax.hist(summary.box_w, bins=20, alpha=0.6, label="width")
    ax.hist(summary.box_h, bins=20, alpha=0.6, label="height")
    ax.hist(side, bins=20, histtype="step", color="k", label="sqrt(area)")
    ax.set_xlabel("pixels (original frame)")
    ax.set_ylabel("boxes")
    ax.set_title("box sizes")
    ax.legend(fontsize=8)

    vids = list(summary.per_video)
    ax = axes[1]
    ax.barh(vids, [summary.per_video[v]["boxes"] for v in vids], color="#4c72b0")
    ax.invert_yaxis()
    ax.set_xlabel("boxes")
    ax.set_title("boxes per video")
    ax.tick_params(axis="y", labelsize=8)

    ax = axes[2]
    for i, v in enumerate(vids):
        n = summary.per_video[v]["frames"]
        ax.broken_barh([(0, n)], (i - 0.35, 0.7), color="#dddddd")
        # runs of consecutive annotated frames, not the nominal intervals (they may have gaps)
        spans = [(a, b - a + 1) for a, b in runs(annotations[v].frames)]
        if spans:
            ax.broken_barh(spans, (i - 0.35, 0.7), color="#c44e52")
    ax.set_yticks(range(len(vids)), vids, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("frame")
    ax.set_title("annotated frames (red) along each video (grey)")
    fig.tight_layout()
    return fig


BREAKS = ("invalid box (x1 >= x2)", "missing key 'y2'", "frame beyond the video's length",
          "missing reference images")


def make_broken_copy(data_root: str | Path, annotations: str | Path, out_dir: str | Path) -> tuple[Path, Path, list]:
    """Copy a dataset (videos + annotations) to `out_dir` and break it in four ways `validate_dataset` must catch:
    an invalid box, a missing key, a frame beyond the video's end and a video without reference images.

    Returns (samples folder, annotations.json, list of (what was broken, video_id)). Needs >= 3 videos.
    """
    import cv2

    data_root, out = Path(data_root), Path(out_dir)
    anns = json.loads(Path(annotations).read_text())
    if len(anns) < 3:
        raise InputError(f"{annotations}: need at least 3 videos to break, found {len(anns)}")
    if out.exists():
        shutil.rmtree(out)
    samples = out / "samples"
    for e in anns:
        shutil.copytree(data_root / e["video_id"], samples / e["video_id"])
    changes = []
    first = anns[0]["annotations"][0]["bboxes"][0]
    first["x2"] = first["x1"] - 5
    changes.append((BREAKS[0], anns[0]["video_id"]))
    del anns[1]["annotations"][0]["bboxes"][0]["y2"]
    changes.append((BREAKS[1], anns[1]["video_id"]))
    v2 = anns[2]["video_id"]
    cap = cv2.VideoCapture(str(samples / v2 / VIDEO_NAME))
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    cap.release()
    box = dict(anns[2]["annotations"][0]["bboxes"][0])
    box["frame"] = n + 10
    anns[2]["annotations"][0]["bboxes"].append(box)
    changes.append((BREAKS[2], v2))
    shutil.rmtree(samples / v2 / REF_DIR)
    changes.append((BREAKS[3], v2))
    ann_path = out / "annotations" / "annotations.json"
    ann_path.parent.mkdir(parents=True)
    ann_path.write_text(json.dumps(anns, indent=1))
    return samples, ann_path, changes
