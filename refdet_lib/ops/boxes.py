"""Box operations shared by data, model, inference and export: letterboxing and its inverse, IoU, NMS, DFL decoding.

Letterboxing keeps the aspect ratio (a 640x360 drone frame becomes a 640x640 square with grey bands), so boxes only
need one scale and one offset to move between the original frame and the network input. IoU and NMS are
ultralytics' and torchvision's; DFL decoding is ultralytics' `DFL` + `dist2bbox`, written once here so the criterion
(training) and the head (inference, export) decode boxes the same way.
"""
from __future__ import annotations

import cv2
import numpy as np
import torch
import torchvision
from ultralytics.utils.metrics import box_iou as _ul_box_iou
from ultralytics.utils.tal import dist2bbox

PAD_VALUE = 114


def _fit(img: np.ndarray, size: int) -> tuple[np.ndarray, float]:
    """Resize (H, W, 3) so its longer side is `size`; returns (img, ratio)."""
    h, w = img.shape[:2]
    r = min(size / h, size / w)
    nw, nh = max(1, int(round(w * r))), max(1, int(round(h * r)))
    if (nw, nh) != (w, h):
        img = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_LINEAR if r > 1 else cv2.INTER_AREA)
    return img, r


def letterbox(img: np.ndarray, size: int, pad_value: int = PAD_VALUE,
              stride: int = 0) -> tuple[np.ndarray, float, tuple[int, int]]:
    """Resize `img` (H, W, 3) to fit a `size` x `size` square, centred, padded; returns (img, ratio, (pad_left,
    pad_top)). stride > 0: pad only up to the next multiple of `stride` instead (ultralytics' rectangular inference:
    a 640 x 360 frame becomes 640 x 384, not 640 x 640, 40 % fewer pixels for the same scale)."""
    img, r = _fit(img, size)
    nh, nw = img.shape[:2]
    H, W = (-(-nh // stride) * stride, -(-nw // stride) * stride) if stride else (size, size)
    left, top = (W - nw) // 2, (H - nh) // 2
    out = np.full((H, W, img.shape[2]), pad_value, dtype=img.dtype)
    out[top:top + nh, left:left + nw] = img
    return out, r, (left, top)


def boxes_to_letterbox(boxes: np.ndarray, ratio: float, pad: tuple[int, int]) -> np.ndarray:
    """(N, 4) xyxy original pixels -> letterboxed pixels."""
    b = np.asarray(boxes, np.float32).reshape(-1, 4) * ratio
    b[:, [0, 2]] += pad[0]
    b[:, [1, 3]] += pad[1]
    return b


def boxes_from_letterbox(boxes, ratio: float, pad: tuple[int, int], orig_shape=None):
    """(N, 4) xyxy letterboxed pixels -> original pixels (clipped to orig_shape=(h, w) when given). numpy or torch."""
    b = boxes.clone() if hasattr(boxes, "clone") else np.array(boxes, np.float32).reshape(-1, 4)
    b[:, [0, 2]] -= pad[0]
    b[:, [1, 3]] -= pad[1]
    b /= ratio
    if orig_shape is not None:
        h, w = orig_shape
        b[:, [0, 2]] = b[:, [0, 2]].clip(0, w)
        b[:, [1, 3]] = b[:, [1, 3]].clip(0, h)
    return b


def letterbox_crop(img: np.ndarray, boxes, size: int, crop: int, rng: np.random.Generator, min_visible: float = 0.4,
                   pad_value: int = PAD_VALUE) -> tuple[np.ndarray, np.ndarray, float, tuple[int, int]]:
    """Scale `img` as `letterbox(img, size)` does, but keep only a `crop` x `crop` window: training at the scale the
    model will see at inference for a fraction of the pixels (a 640x360 frame letterboxed to 640 is 44% grey band).

    The window holds one of `boxes` (random position where it fits; a random window when there is no box). Returns
    (window (crop, crop, 3), boxes in window pixels, ratio, pad); boxes keep >= min_visible of their area, clipped;
    pad may be negative: `boxes_from_letterbox(b, ratio, pad)` maps window boxes back to the original frame."""
    img, r = _fit(img, size)
    nh, nw = img.shape[:2]
    W, H = max(nw, crop), max(nh, crop)  # a side shorter than the window is centred in grey, as letterbox does
    left, top = (W - nw) // 2, (H - nh) // 2
    if (W, H) != (nw, nh):
        canvas = np.full((H, W, img.shape[2]), pad_value, dtype=img.dtype)
        canvas[top:top + nh, left:left + nw] = img
        img = canvas
    b = boxes_to_letterbox(boxes, r, (left, top))  # (N, 4) in the scaled canvas

    def start(lo_edge, hi_edge, extent):  # window start in [0, extent - crop] holding [lo_edge, hi_edge] if it can
        lo, hi = max(0, int(np.ceil(hi_edge)) - crop), min(extent - crop, int(lo_edge))
        if lo > hi:  # the box is larger than the window (or at the border): centre on it
            return int(np.clip((lo_edge + hi_edge - crop) / 2, 0, extent - crop))
        return int(rng.integers(lo, hi + 1))

    if len(b):
        x1, y1, x2, y2 = b[int(rng.integers(len(b)))]
        x0, y0 = start(x1, x2, W), start(y1, y2, H)
    else:
        x0, y0 = int(rng.integers(0, W - crop + 1)), int(rng.integers(0, H - crop + 1))
    win = np.ascontiguousarray(img[y0:y0 + crop, x0:x0 + crop])
    if len(b):
        area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
        b = b - np.array([x0, y0, x0, y0], np.float32)
        b = b.clip(0, crop)
        keep = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) >= min_visible * np.maximum(area, 1e-6)
        b = b[keep]
    return win, b.reshape(-1, 4), r, (left - x0, top - y0)


def square_resize(img: np.ndarray, size: int) -> np.ndarray:
    """Reference images for the reference encoder: letterbox to a square `size` (keeps the object's shape)."""
    return letterbox(img, size)[0]


def box_iou(a, b) -> np.ndarray:
    """IoU of every box in `a` (N, 4) with every box in `b` (M, 4), x1y1x2y2 -> numpy (N, M) (ultralytics' box_iou:
    IoU = |A and B| / (|A or B| + 1e-7), so two empty boxes give 0, not NaN). numpy or torch in."""
    a = torch.as_tensor(np.asarray(a, np.float64).reshape(-1, 4) if not torch.is_tensor(a) else a).reshape(-1, 4)
    b = torch.as_tensor(np.asarray(b, np.float64).reshape(-1, 4) if not torch.is_tensor(b) else b).reshape(-1, 4)
    return _ul_box_iou(a, b).cpu().numpy().astype(np.float64)


def best_iou(boxes, targets) -> np.ndarray:
    """(N,) each of `boxes` (N, 4)' highest IoU with any of `targets` (M, 4), 0 where there is none: whether a
    candidate covers the object (calibration's hits, the verifier's mined mistakes, recall by size)."""
    n, m = len(np.asarray(boxes).reshape(-1, 4)), len(np.asarray(targets).reshape(-1, 4))
    return box_iou(boxes, targets).max(1) if n and m else np.zeros(n, np.float64)


def nms_per_class(boxes: torch.Tensor, scores: torch.Tensor, conf: float = 0.25, iou: float = 0.5,
                  max_det: int = 100) -> dict:
    """One image: boxes (A, 4) xyxy, scores (C, A) probabilities -> best class per anchor, threshold, class-wise NMS
    -> {boxes (n, 4), scores (n,), labels (n,)} sorted by score."""
    best, labels = scores.float().max(0)  # (A,), (A,)
    keep = best > conf
    boxes, best, labels = boxes[keep], best[keep], labels[keep]
    idx = torchvision.ops.batched_nms(boxes.float(), best, labels, iou)[:max_det]
    return {"boxes": boxes[idx], "scores": best[idx], "labels": labels[idx].long()}


def dfl_decode(box_dist: torch.Tensor, anchor_points: torch.Tensor, dfl: torch.nn.Module) -> torch.Tensor:
    """(B, 4*reg_max, A) DFL logits -> (B, A, 4) x1y1x2y2 in grid units (multiply by the stride for pixels).

    Each side's distance is the expectation over its reg_max bins (softmax, then ultralytics' `DFL` conv with the
    fixed weights 0..reg_max-1); `dist2bbox` turns the four distances around each anchor point into a box. Run in the
    DFL weights' dtype, so the same call serves float32 training, half-precision inference and ONNX export."""
    w = next(dfl.parameters(), None)
    d = dfl(box_dist.to(w.dtype) if w is not None else box_dist).float()  # (B, 4, A) ltrb
    return dist2bbox(d.transpose(1, 2), anchor_points.float().unsqueeze(0), xywh=False)
