"""One model under several proposal schemes (notebook 08): a ten-pixel object spans one or two cells of the
detector's finest grid (stride 8), so it is often not proposed at all; shown at twice the size (`refdet predict
--imgsz 1280`) it spans four, the size at which the same weights find larger objects, and in a 2 x 2 tile (`--tiles
2`, ops/tiles.py) about three and a half, while the frame's own look keeps the large ones. What each buys on the
smallest object, and what it costs in time, measured side by side in one run."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Optional, Sequence

import cv2
import matplotlib.pyplot as plt
import numpy as np

from ..data.annotations import VIDEO_NAME
from ..data.video import read_frame
from ..eval.evaluate import evaluate_model
from ..eval.inference import top_box
from ..model.loading import load_model
from ..ops.boxes import box_iou
from ..ops.images import draw


def by_object_size(annotations: dict) -> list[tuple[str, float]]:
    """[(video, median longest box side in px over its annotated frames)], smallest object first."""
    def side(a) -> float:
        boxes = np.concatenate([np.asarray(b, np.float32).reshape(-1, 4) for b in a.boxes.values()])
        return float(np.median(np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])))
    return sorted(((v, side(a)) for v, a in annotations.items()), key=lambda vs: (vs[1], vs[0]))


def compare_sizes(checkpoint, data_root, annotations, videos: Sequence[str], sizes: Sequence[int],
                  max_frames: Optional[int] = None, device: str = "cpu") -> tuple[list[dict], dict]:
    """The checkpoint at each inference size on these videos (3 photos, tracking, its stored threshold): a row per
    size and video, then one for all of them ("all": mAP@0.5, precision, recall as the checklist counts them, mean
    ST-IoU), with seconds a video; and {size: (predictions, ground truth)} for `plot_sizes`."""
    rows, preds = compare_schemes(checkpoint, data_root, annotations, videos,
                                  {int(s): {"imgsz": int(s)} for s in sizes}, max_frames, device)
    return rows, preds


def compare_schemes(checkpoint, data_root, annotations, videos: Sequence[str], schemes: dict,
                    max_frames: Optional[int] = None, device: str = "cpu") -> tuple[list[dict], dict]:
    """compare_sizes for any proposal schemes: {name: {"imgsz"?, "tiles"?, "tile_every"?, "window"?}} (e.g. the
    frame at its size, at twice it, with 2 x 2 tiles every 4th frame, ops/tiles.py, or with the track's window,
    eval/search.Looks), "conf"? (a threshold other than the model's calibrated one); rows carry "scheme" and
    "imgsz"."""
    rows, preds = [], {}
    for name, sch in schemes.items():
        model = load_model(checkpoint, device, **({"imgsz": int(sch["imgsz"])} if sch.get("imgsz") else {}))
        looks = {**{k: int(sch.get(k, d)) for k, d in (("tiles", 0), ("tile_every", 1))},
                 "window": float(sch.get("window", 0.0))}
        out: dict = {}
        t0 = time.perf_counter()
        res = evaluate_model(model, data_root, annotations, shots=(3,), conf=sch.get("conf"), max_frames=max_frames,
                             videos=list(videos), progress=False, verbose=False, predictions=out, track=True,
                             **looks)["3-shot"]
        sec = (time.perf_counter() - t0) / len(videos)
        o = res["overall"]  # all the videos' boxes in one list: the checklist's figures for this scheme
        for v, m in [*((v, res["per_video"][v]) for v in videos), ("all", {**o, "st_iou": res["mean_st_iou"]})]:
            rows.append({"video": v, "scheme": name, "imgsz": model.config.imgsz, "mAP@0.5": m["map50"],
                         "precision": m["precision"], "recall": m["recall"], "st_iou": m["st_iou"],
                         "seconds a video": sec, "conf": res["conf"]})
        preds[name] = out["3-shot"]
    return rows, preds


def plot_sizes(preds: dict, data_root, video: str, conf: float, n: int = 6, pad: int = 28, zoom: int = 4):
    """Rows: inference sizes or schemes (preds' order); columns: the same annotated frames, cropped around the object and enlarged, with the
    reported box (green, its score) and the ground truth (red)."""
    gts = next(iter(preds.values()))[1][video]
    ann = [f for f in sorted(gts) if len(gts[f])]
    frames = ann[:: max(1, len(ann) // n)][:n]
    fig, axes = plt.subplots(len(preds), max(1, len(frames)), figsize=(2.6 * max(1, len(frames)), 2.8 * len(preds)),
                             squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    path = Path(data_root) / video / VIDEO_NAME
    for c, f in enumerate(frames):
        frame = read_frame(path, f)  # decoded once, drawn for every size
        gt = np.asarray(gts[f], np.float32).reshape(-1, 4)
        x1, y1, x2, y2 = (int(v) for v in gt[0])
        h, w = frame.shape[:2]
        o = np.array([max(0, x1 - pad), max(0, y1 - pad)] * 2, np.float32)  # the crop's corner, twice (x1y1x2y2)
        crop = frame[int(o[1]): min(h, y2 + pad), int(o[0]): min(w, x2 + pad)]
        big = cv2.resize(crop, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_NEAREST)
        for r, (size, (p, _)) in enumerate(preds.items()):
            tb = top_box(p[video].get(f))
            boxes, scores = ([(tb[0] - o) * zoom], [tb[1]]) if tb and tb[1] >= conf else ([], [])
            # boxes drawn after enlarging: a 2 px line on an 11 px object would hide it
            axes[r, c].imshow(draw(big, boxes, scores, (gt - o) * zoom))
            said = "nothing reported" if not boxes else (
                "found" if box_iou(tb[0][None], gt).max() >= 0.5 else "a box elsewhere")
            label = size if isinstance(size, str) else f"imgsz {size}"
            axes[r, c].set_title(f"{label}, frame {f}: {said}", fontsize=8)
    fig.suptitle(f"{video}: reported box (green) vs ground truth (red), {2 * pad} px around the object, x{zoom}")
    fig.tight_layout()
    return fig
