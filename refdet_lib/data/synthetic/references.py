"""Reference photos of the simple style: clean close-ups of an object on a plain or blurred background
(the realistic style's photos at ground level, in clutter, are in `photos.py`)."""
from __future__ import annotations

import cv2
import numpy as np

from .canvas import _darken, _paste
from .ground import make_ground, value_noise
from .identities import ObjectIdentity

_FLOORS = ((0.55, 0.55, 0.53), (0.45, 0.36, 0.26), (0.33, 0.45, 0.2), (0.3, 0.3, 0.32), (0.7, 0.66, 0.58))


def render_reference(ident: ObjectIdentity, rng: np.random.Generator, size_range=(120, 220)) -> np.ndarray:
    """A close-up photo of the object (uint8 RGB, sides in `size_range`): other angle, tilt (perspective), scale,
    light and colour balance than in the video; visible thickness; on a plain or blurred ground background."""
    Hc = int(rng.integers(size_range[0], size_range[1] + 1))
    Wc = int(np.clip(Hc * rng.uniform(0.8, 1.3), size_range[0], size_range[1]))
    L = min(Hc, Wc) * rng.uniform(0.5, 0.72)
    angle = float(rng.uniform(0, 2 * np.pi))
    rgb, alpha, _ = ident.render(L, angle, light_dir=float(rng.uniform(0, 2 * np.pi)), ss=2)
    S = alpha.shape[0]
    # thickness: darker copies stacked below the top face, as seen from an oblique viewpoint
    th = max(1, int(0.08 * L))
    pad = th + 2
    big_rgb = np.zeros((S + 2 * pad, S + 2 * pad, 3), np.float32)
    big_a = np.zeros((S + 2 * pad, S + 2 * pad), np.float32)
    side = rng.uniform(0.45, 0.65)
    for k in range(th, 0, -1):
        _paste(big_rgb, rgb * side, alpha, pad + S / 2, pad + S / 2 + k)
        big_a[pad + k:pad + k + S, pad:pad + S] = np.maximum(big_a[pad + k:pad + k + S, pad:pad + S], alpha)
    _paste(big_rgb, rgb, alpha, pad + S / 2, pad + S / 2)
    big_a[pad:pad + S, pad:pad + S] = np.maximum(big_a[pad:pad + S, pad:pad + S], alpha)
    # perspective tilt
    n = big_a.shape[0]
    src = np.float32([[0, 0], [n, 0], [n, n], [0, n]])
    dst = src + rng.uniform(-0.14, 0.14, (4, 2)).astype(np.float32) * n
    P = cv2.getPerspectiveTransform(src, dst)
    prem = cv2.warpPerspective(big_rgb * big_a[..., None], P, (n, n), flags=cv2.INTER_LINEAR)
    a = cv2.warpPerspective(big_a, P, (n, n), flags=cv2.INTER_LINEAR)
    rgb = prem / np.maximum(a, 1e-4)[..., None]
    # background
    if rng.random() < 0.5:
        bg = make_ground(Hc, Wc, rng, detail=0.6)
        bg = cv2.GaussianBlur(bg, (0, 0), rng.uniform(1.5, 5.0))
    else:
        base = np.array(_FLOORS[rng.integers(len(_FLOORS))], np.float32) * rng.uniform(0.85, 1.15, 3)
        grad = np.linspace(rng.uniform(0.85, 1.0), rng.uniform(1.0, 1.15), Hc, dtype=np.float32)[:, None, None]
        bg = base * grad * (0.9 + 0.2 * value_noise(Hc, Wc, rng, 20, 3))[..., None]
    cx = Wc / 2 + rng.uniform(-0.1, 0.1) * Wc
    cy = Hc / 2 + rng.uniform(-0.1, 0.1) * Hc
    sh = cv2.GaussianBlur(a, (0, 0), 3.0)
    _darken(bg, sh, cx + rng.uniform(2, 8), cy + rng.uniform(2, 8), 0.35)
    _paste(bg, rgb.astype(np.float32), a, cx, cy)
    # light and colour balance of the photo
    bg = bg * rng.uniform(0.75, 1.25) * np.array([rng.uniform(0.92, 1.08), 1.0, rng.uniform(0.9, 1.1)], np.float32)
    bg = np.clip(bg, 0, 1) ** rng.uniform(0.85, 1.2)
    bg = cv2.GaussianBlur(bg, (0, 0), 0.6) + rng.standard_normal(bg.shape).astype(np.float32) * 0.01
    return (np.clip(bg, 0, 1) * 255 + 0.5).astype(np.uint8)
