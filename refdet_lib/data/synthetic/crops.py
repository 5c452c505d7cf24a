"""Crops of fresh identities as a drone sees them, rendered straight from the generator (no video needed): what the
verifier trains on besides the training videos, so every batch can meet objects no video holds.

A crop is the object at 8-80 px on a patch of ground of its style, under the scene's effects (cast shadow, sometimes
a bush over an edge, optical and motion blur, sensor noise, compression), cut out with the verifier's context.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from ...ops.images import crop_patches
from .canvas import _darken, _paste
from .dressing import cast_shadow, motion_kernel, paint_occluder
from .ground import make_ground, photographic
from .photos import render_ground_photo
from .references import render_reference


def drone_crop(ident, rng: np.random.Generator, size: int = 64, context: float = 1.5,
               box_side: tuple[float, float] = (8.0, 80.0)) -> np.ndarray:
    """One view of `ident` from the air: (size, size, 3) uint8, the object's box filling 1/context of it."""
    realistic = getattr(ident, "style", "simple") == "realistic"
    L = float(math.exp(rng.uniform(math.log(box_side[0]), math.log(box_side[1]))))
    angle, sun = float(rng.uniform(0, 2 * np.pi)), float(rng.uniform(0, 2 * np.pi))
    elevation = float(rng.uniform(0.55, 1.2))
    rgb, alpha, height = ident.render(L, angle, light_dir=sun + np.pi, ss=3, elevation=elevation)
    S = alpha.shape[0]
    side = int(S * 2.2) + 8
    ground = make_ground(side, side, rng, detail=0.6, rows=0.35 if realistic else 1.0)
    if realistic:
        photographic(ground, rng, 0.6)
    c = side / 2
    sv = np.array([math.cos(sun), math.sin(sun)])
    if realistic:
        cast_shadow(ground, alpha, height, c, c, sv, elevation, float(rng.uniform(0.4, 0.6)))
    else:
        _darken(ground, cv2.GaussianBlur(alpha, (0, 0), max(L / 25, 0.6)), c + 0.12 * L * sv[0], c + 0.12 * L * sv[1],
                0.4)
    _paste(ground, rgb, alpha, c, c)
    if realistic and rng.random() < 0.25:
        paint_occluder(ground, np.zeros(ground.shape[:2], np.uint8), rng, c, c, L)
    img = cv2.GaussianBlur(ground, (0, 0), float(rng.uniform(0.35, 0.9)))
    ker = motion_kernel(*rng.normal(0, 1.2, 2)) if realistic else None
    if ker is not None:
        img = cv2.filter2D(img, -1, ker, borderType=cv2.BORDER_REFLECT)
    img = img * rng.uniform(0.85, 1.15) + rng.standard_normal(img.shape).astype(np.float32) * rng.uniform(0.003, 0.012)
    img = (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)
    ok, enc = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(55, 90))])  # the video codec
    img = cv2.imdecode(enc, cv2.IMREAD_UNCHANGED) if ok else img
    ys, xs = np.nonzero(alpha > 0.5)
    if not len(xs):  # a thin or tiny object with no pixel over half cover: its faintest pixels, else its square
        ys, xs = np.nonzero(alpha > 0.02)
        if not len(xs):
            ys, xs = np.array([0, S - 1]), np.array([0, S - 1])
    off = c - S / 2
    box = np.array([[xs.min() + off, ys.min() + off, xs.max() + 1 + off, ys.max() + 1 + off]], np.float32)
    box += rng.uniform(-0.08, 0.08, 4).astype(np.float32) * L  # a detector's box is never exact
    return crop_patches(img, box, size, context)[0]


def reference_photo(ident, rng: np.random.Generator) -> np.ndarray:
    """A reference photo of `ident` in its style (realistic: at ground level in clutter; simple: a close-up)."""
    if getattr(ident, "style", "simple") == "realistic":
        return render_ground_photo(ident, rng, size_range=(96, 160))
    return render_reference(ident, rng, size_range=(96, 160))
