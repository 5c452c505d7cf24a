"""Geometric helpers shared by data, model and inference: letterboxing and its inverse.

Letterboxing keeps the aspect ratio (a 640x360 drone frame becomes a 640x640 square with grey bands), so boxes only
need one scale and one offset to move between the original frame and the network input.
"""
from __future__ import annotations

import cv2
import numpy as np

PAD_VALUE = 114


def letterbox(img: np.ndarray, size: int, pad_value: int = PAD_VALUE) -> tuple[np.ndarray, float, tuple[int, int]]:
    """Resize `img` (H, W, 3) to fit a `size` x `size` square, centred, padded; returns (img, ratio, (pad_left, pad_top))."""
    h, w = img.shape[:2]
    r = min(size / h, size / w)
    nw, nh = max(1, int(round(w * r))), max(1, int(round(h * r)))
    if (nw, nh) != (w, h):
        img = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_LINEAR if r > 1 else cv2.INTER_AREA)
    left, top = (size - nw) // 2, (size - nh) // 2
    out = np.full((size, size, img.shape[2]), pad_value, dtype=img.dtype)
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


def square_resize(img: np.ndarray, size: int) -> np.ndarray:
    """Reference images for the ViT: letterbox to a square `size` (keeps the object's shape undistorted)."""
    return letterbox(img, size)[0]


def read_rgb(path, what: str = "image") -> np.ndarray:
    """An image file as an RGB uint8 (H, W, 3) array; a clear error naming the file when it cannot be read."""
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise FileNotFoundError(f"{what} cannot be read: {path}")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
