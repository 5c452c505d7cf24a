"""Colour patterns on a part: camouflage, stripes, plaid, colour blocks, dots, printed text and logos.

Each takes object-local coordinates (u, v) (the long side spans [-1, 1]) and returns a mix weight (H, W) in [0, 1]
of the pattern colour over the part's base colour. Text and logos are drawn once in pattern space with OpenCV and
sampled through (u, v) with `cv2.remap`, so they turn, scale and blur with the object like real prints.
"""
from __future__ import annotations

import math
import string

import cv2
import numpy as np

from ...errors import InputError
from .materials import smooth_noise

PATTERNS = ("camo", "stripes", "plaid", "block", "dots", "text", "logo")


def _d(u, v, angle):
    return u * math.cos(angle) + v * math.sin(angle)


def _sample(img: np.ndarray, u: np.ndarray, v: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """Sample a (h, w) float image placed on the object-space rectangle box = (x0, y0, x1, y1) at (u, v); 0 outside."""
    h, w = img.shape
    x0, y0, x1, y1 = box
    mx = ((u - x0) / (x1 - x0) * w - 0.5).astype(np.float32)
    my = ((v - y0) / (y1 - y0) * h - 0.5).astype(np.float32)
    return cv2.remap(img, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def text_mask(text: str, thickness: int = 2) -> np.ndarray:
    """White text on black, tight around the letters: (h, w) float32 in [0, 1]."""
    font = cv2.FONT_HERSHEY_DUPLEX
    (tw, th), base = cv2.getTextSize(text, font, 1.0, thickness)
    img = np.zeros((th + base + 8, tw + 8), np.uint8)
    cv2.putText(img, text, (4, th + 4), font, 1.0, 255, thickness, cv2.LINE_AA)
    return img.astype(np.float32) / 255


def logo_mask(kind: int, size: int = 64) -> np.ndarray:
    """One of a few simple brand-like marks: (size, size) float32 in [0, 1]."""
    img = np.zeros((size, size), np.uint8)
    c, r = size // 2, int(size * 0.42)
    if kind == 0:  # ring
        cv2.circle(img, (c, c), r, 255, max(2, size // 9), cv2.LINE_AA)
    elif kind == 1:  # triangle
        pts = np.array([[c, c - r], [c + r, c + r * 0.8], [c - r, c + r * 0.8]], np.int32)
        cv2.fillPoly(img, [pts], 255, cv2.LINE_AA)
    elif kind == 2:  # swoosh
        cv2.ellipse(img, (c, c + r // 2), (r, r // 2), -15, 180, 360, 255, max(3, size // 7), cv2.LINE_AA)
    elif kind == 3:  # star
        ang = np.arange(10) * np.pi / 5 - np.pi / 2
        rr = np.where(np.arange(10) % 2 == 0, r, r * 0.45)
        pts = np.stack([c + rr * np.cos(ang), c + rr * np.sin(ang)], 1).astype(np.int32)
        cv2.fillPoly(img, [pts], 255, cv2.LINE_AA)
    else:  # bars
        for k in range(3):
            y = c - r + k * (2 * r) // 3
            cv2.rectangle(img, (c - r, y), (c + r - k * r // 3, y + r // 3), 255, -1)
    return img.astype(np.float32) / 255


def random_text(rng: np.random.Generator) -> str:
    n = int(rng.integers(2, 6))
    return "".join(rng.choice(list(string.ascii_uppercase + "0123456789"), n))


def pattern_weight(p: dict, u: np.ndarray, v: np.ndarray, rng: np.random.Generator, px: float) -> np.ndarray:
    """Mix weight of pattern `p` ({"kind", ... its parameters}) at (u, v); see the module docstring."""
    kind = p["kind"]
    ang = p.get("angle", 0.0)
    fade = float(np.clip(px / max(p.get("freq", 1.0), 1e-6) / 4 - 0.5, 0, 1))  # pixels per period: no aliasing
    if kind == "camo":
        n = smooth_noise(u.shape, rng, max(u.shape) / p.get("blobs", 6.0))
        return (n > 0.15).astype(np.float32)
    if kind == "stripes":
        s = np.sin(2 * np.pi * p["freq"] * _d(u, v, ang)) > p.get("duty", 0.0)
        return s.astype(np.float32) * fade
    if kind == "plaid":
        a = np.sin(2 * np.pi * p["freq"] * _d(u, v, ang)) > 0.4
        b = np.sin(2 * np.pi * p["freq"] * _d(u, v, ang + np.pi / 2)) > 0.4
        return (0.6 * a + 0.6 * b).clip(0, 1).astype(np.float32) * fade
    if kind == "block":
        return (_d(u, v, ang) > p.get("offset", 0.0)).astype(np.float32)
    if kind == "dots":
        per = 1.0 / p["freq"]
        du, dv = (u / per) % 1.0 - 0.5, (v / per) % 1.0 - 0.5
        return (du * du + dv * dv < 0.08).astype(np.float32) * fade
    if kind in ("text", "logo"):
        img = text_mask(p["text"]) if kind == "text" else logo_mask(p["logo"])
        cx, cy, w = p.get("at", (0.0, 0.0, 0.4))
        h = w * img.shape[0] / img.shape[1]
        # placed on the part in its own orientation: rotate (u, v) into the print's frame
        c, s = math.cos(-ang), math.sin(-ang)
        uu, vv = (u - cx) * c - (v - cy) * s, (u - cx) * s + (v - cy) * c
        return _sample(img, uu, vv, (-w / 2, -h / 2, w / 2, h / 2))
    raise InputError(f"unknown pattern {kind!r}: choose one of {', '.join(PATTERNS)}")
