"""Images as the model takes them (files read as RGB, uint8 arrays -> float tensors, reference photos -> support),
and boxes drawn on a frame for people to look at.

One copy of the reference preprocessing (letterbox each photo to a square, scale to [0, 1]) serves the training
collator, `RefDet.set_references` and the ONNX runner, so a reference looks the same to the model everywhere.
"""
from __future__ import annotations

from typing import Optional, Sequence

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from ..errors import InputError
from .boxes import PAD_VALUE, square_resize


def read_rgb(path, what: str = "image") -> np.ndarray:
    """An image file as an RGB uint8 (H, W, 3) array; a clear error naming the file when it cannot be read."""
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise FileNotFoundError(f"{what} cannot be read: {path}")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def to_tensor(imgs: list[np.ndarray]) -> torch.Tensor:
    """list of (H, W, 3) uint8 -> float32 (N, 3, H, W) in [0, 1]."""
    arr = np.ascontiguousarray(np.stack(imgs).transpose(0, 3, 1, 2))
    return torch.from_numpy(arr).float().div_(255.0)


def support_tensor(images: list[np.ndarray], size: int, k: Optional[int] = None) -> torch.Tensor:
    """K reference photos of one object -> (K, 3, size, size); with k given, repeat cyclically to exactly k."""
    if not len(images):
        raise InputError("an object needs at least one reference image")
    if k:
        images = [images[i % len(images)] for i in range(k)]
    return to_tensor([square_resize(im, size) for im in images])


def _check_image(im, where: str) -> np.ndarray:
    if not isinstance(im, np.ndarray) or im.ndim != 3 or im.shape[2] != 3 or im.dtype != np.uint8:
        desc = f"{im.dtype} {im.shape}" if isinstance(im, np.ndarray) else type(im).__name__
        raise InputError(f"{where}: expected an RGB uint8 (H, W, 3) array, got {desc}")
    return im


def reference_tensors(images, size: int) -> list[torch.Tensor]:
    """Any accepted reference input -> one (K, 3, size, size) float tensor in [0, 1] per object.

    images: K RGB uint8 arrays (one object), a list of such lists (several objects; K may differ), or a
    (K, 3, h, w) / (C, K, 3, h, w) tensor (uint8 tensors are scaled; other sizes are resized)."""
    if torch.is_tensor(images):
        t = images if images.ndim == 5 else images.unsqueeze(0)  # (C, K, 3, h, w)
        if t.ndim != 5 or t.shape[2] != 3:
            raise InputError(f"reference tensor must be (K, 3, R, R) or (C, K, 3, R, R), got {tuple(images.shape)}")
        t = t.float() / 255 if t.dtype == torch.uint8 else t.float()
        if t.shape[-2:] != (size, size):
            c, k = t.shape[:2]
            t = F.interpolate(t.flatten(0, 1), size=(size, size), mode="bilinear", antialias=True,
                              align_corners=False).view(c, k, 3, size, size)
        return list(t)
    if isinstance(images, np.ndarray):
        images = [images]
    if not isinstance(images, Sequence) or len(images) == 0:
        raise InputError("references: give a list of RGB uint8 arrays (one object), a list of such lists, or a tensor")
    objects = images if isinstance(images[0], (list, tuple)) else [images]
    out = []
    for c, obj in enumerate(objects):
        if len(obj) == 0:
            raise InputError(f"reference object {c} has no images")
        out.append(support_tensor([_check_image(im, f"reference object {c} image {k}") for k, im in enumerate(obj)],
                                  size))
    return out


def draw(frame_rgb: np.ndarray, boxes=(), scores=(), gt=(), label: str = "") -> np.ndarray:
    """Frame with predicted boxes (green, with score) and ground truth (red); returns RGB."""
    img = np.ascontiguousarray(frame_rgb.copy())
    for b in np.asarray(gt).reshape(-1, 4):
        cv2.rectangle(img, tuple(int(v) for v in b[:2]), tuple(int(v) for v in b[2:]), (230, 40, 40), 2)
    for b, s in zip(np.asarray(boxes).reshape(-1, 4), np.asarray(scores).reshape(-1)):
        p1, p2 = tuple(int(v) for v in b[:2]), tuple(int(v) for v in b[2:])
        cv2.rectangle(img, p1, p2, (40, 220, 40), 2)
        cv2.putText(img, f"{s:.2f}", (p1[0], max(10, p1[1] - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (40, 220, 40), 1)
    if label:
        cv2.putText(img, label, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1)
    return img


def crop_patches(frame: np.ndarray, boxes, size: int, context: float = 1.5, min_side: float = 12.0) -> np.ndarray:
    """Square crops of `frame` (H, W, 3) around each box (N, 4) x1y1x2y2, with `context` x the box's longer side
    (at least `min_side` px) so a 10 px object keeps some ground around it, resized to size x size (borders padded
    with the pad grey) -> uint8 (N, size, size, 3). What the verifier compares with the reference photos."""
    b = np.asarray(boxes, np.float32).reshape(-1, 4)
    out = np.empty((len(b), size, size, 3), np.uint8)
    h, w = frame.shape[:2]
    for i, (x1, y1, x2, y2) in enumerate(b):
        side = max(max(x2 - x1, y2 - y1) * context, min_side)
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        s = size / side  # crop -> patch scale; a 2x3 affine does crop, scale and padding in one call
        M = np.float32([[s, 0, size / 2 - s * cx], [0, s, size / 2 - s * cy]])
        out[i] = cv2.warpAffine(frame, M, (size, size), flags=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=(PAD_VALUE,) * 3)
    return out
