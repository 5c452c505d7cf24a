"""A finer look at a frame: overlapping tiles, each run through the detector at the full input size, so an object of
ten pixels spans about eighteen (SAHI's sliced inference, Akyon et al. 2022); then every look's candidates merged.

Why tiles and not a larger input: the network is the same, a tile costs one ordinary pass, and the looks can be
spent where they pay (every Nth frame; eval/inference.py). A 2 x 2 grid with 20 % overlap gives tiles of
1 / (2 - 0.2) = 0.56 of the frame's side: a magnification of 1.8 at four passes.

The tile coordinates come from SAHI's `get_slice_bboxes` (the kept library for slicing); the merge is class-wise
NMS (torchvision), the same as within one look, with each candidate's magnification kept as `scale`.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torchvision

from ..errors import InputError

OVERLAP = 0.2


def tile_windows(height: int, width: int, grid: int = 2, overlap: float = OVERLAP) -> np.ndarray:
    """(n, 4) int xyxy windows of a height x width frame: `grid` x `grid` tiles overlapping by `overlap` of a tile,
    all of one size (SAHI shifts the last row and column inside the frame). grid 1: the frame itself."""
    from sahi.slicing import get_slice_bboxes

    if grid < 1 or not 0 <= overlap < 1:
        raise InputError(f"tiles: need grid >= 1 and 0 <= overlap < 1 (got {grid}, {overlap})")
    if grid == 1:
        return np.array([[0, 0, width, height]], np.int64)
    side = 1.0 / (grid - (grid - 1) * overlap)  # grid tiles of this fraction, overlapping, span the frame
    return np.array(get_slice_bboxes(height, width, slice_height=math.ceil(height * side),
                                     slice_width=math.ceil(width * side), overlap_height_ratio=overlap,
                                     overlap_width_ratio=overlap), np.int64)


def magnification(height: int, width: int, window) -> float:
    """How much larger a window's content appears than in the whole frame (the frame is letterboxed by its longer
    side, as is the window)."""
    x0, y0, x1, y1 = window
    return max(height, width) / max(y1 - y0, x1 - x0)


def window_around(box, height: int, width: int, zoom: float) -> np.ndarray:
    """(4,) int xyxy: a square of side max(H, W) / zoom (at most the frame's shorter side) centred on `box`, moved
    inside the frame: a tracker's search region, whose content the detector sees `zoom` times larger."""
    if zoom < 1:
        raise InputError(f"window zoom must be >= 1 (got {zoom})")
    side = int(min(math.ceil(max(height, width) / zoom), height, width))
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    x0 = int(np.clip(round(cx - side / 2), 0, width - side))
    y0 = int(np.clip(round(cy - side / 2), 0, height - side))
    return np.array([x0, y0, x0 + side, y0 + side], np.int64)


def merge_looks(looks: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]], iou: float,
                k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """[(boxes (n, 4) frame pixels, det_scores (n,), labels (n,), scale (n,))] of one frame's looks -> the same four
    after class-wise NMS across looks, the k best by detector score. A tile cuts an object at its edge; the
    whole-frame look or the neighbouring tile (they overlap) holds it whole, and NMS keeps the better-scored box."""
    boxes = np.concatenate([b for b, *_ in looks]).astype(np.float32)
    scores = np.concatenate([s for _, s, *_ in looks]).astype(np.float32)
    labels = np.concatenate([lab for _, _, lab, _ in looks]).astype(np.int64)
    scale = np.concatenate([sc for *_, sc in looks]).astype(np.float32)
    if not len(boxes):
        return boxes.reshape(0, 4), scores, labels, scale
    keep = torchvision.ops.batched_nms(torch.from_numpy(boxes), torch.from_numpy(scores), torch.from_numpy(labels),
                                       iou)[:k].numpy()
    return boxes[keep], scores[keep], labels[keep], scale[keep]


def frame_candidates(propose, frames: list[np.ndarray], conf: float, iou: float, k: int, batch_size: int,
                     grid: int = 0, which=None, windows=None) -> list[tuple]:
    """Every look at each frame -> per frame (boxes (n, 4), det_scores (n,), labels (n,), scale (n,)), merged.
    `propose(images, conf, iou, k)` is a detector's preprocess -> inference -> postprocess (RefDet.propose, the ONNX
    runner's) returning per image (boxes in its own pixels, det_scores, labels); grid >= 2 adds grid x grid tiles of
    the frames `which` marks (one bool a frame; default all); `windows` (one (m, 4) array or None a frame) adds those
    windows too (a tracker's search region, window_around); every crop through the same `propose` in batches of
    `batch_size`."""
    looks = [[(*c, np.ones(len(c[0]), np.float32))] for c in propose(frames, conf, iou, k)]
    crops, owner = [], []
    for j, f in enumerate(frames):
        extra = list(tile_windows(*f.shape[:2], grid)) if grid >= 2 and (which is None or which[j]) else []
        if windows is not None and windows[j] is not None:
            extra += list(np.asarray(windows[j], np.int64).reshape(-1, 4))
        for w in extra:
            crops.append((np.ascontiguousarray(f[w[1]:w[3], w[0]:w[2]]), w))
            owner.append(j)
    for t0 in range(0, len(crops), batch_size):
        part = crops[t0:t0 + batch_size]
        for (_, w), j, (boxes, det, labels) in zip(part, owner[t0:t0 + batch_size],
                                                   propose([c for c, _ in part], conf, iou, k)):
            looks[j].append((boxes + np.array([w[0], w[1], w[0], w[1]], np.float32), det, labels,
                             np.full(len(boxes), magnification(*frames[j].shape[:2], w), np.float32)))
    return [merge_looks(fl, iou, k) if len(fl) > 1 else fl[0] for fl in looks]
