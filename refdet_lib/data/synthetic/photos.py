"""Reference photos as a person takes them at ground level, for the realistic style: the object lying in an
ordinary, cluttered place (grass, a floor in front of a wall, pavement), seen from a standing person's height (an
oblique view that shows its side), off-centre, sometimes cut by the photo's border, under other light than the
drone's, with a phone camera's focus, noise and JPEG.

    settings: grass (blades, leaves) | floor (wood planks or tiles in perspective, a wall behind, out of focus) |
              pavement (asphalt or concrete, gravel, stains)
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from .canvas import _darken, _paste
from .dressing import _litter, _rock
from .materials import smooth_noise
from .parts import render_parts

SETTINGS = ("grass", "floor", "pavement")


def _grass(h: int, w: int, rng) -> np.ndarray:
    base = np.array([rng.uniform(0.2, 0.35), rng.uniform(0.35, 0.5), rng.uniform(0.1, 0.2)], np.float32)
    img = np.broadcast_to(base, (h, w, 3)).copy() * (0.85 + 0.15 * smooth_noise((h, w), rng, 25)[..., None])
    for _ in range(int(h * w / 18)):  # blades: short strokes, longer near the bottom (closer to the camera)
        x, y = rng.uniform(0, w), rng.uniform(0, h)
        ln = (2 + 7 * y / h) * rng.uniform(0.5, 1.3)
        ang = -np.pi / 2 + rng.normal(0, 0.35)
        col = tuple(float(c) for c in np.clip(base * rng.uniform(0.6, 1.5) + rng.normal(0, 0.03, 3), 0, 1))
        cv2.line(img, (int(x), int(y)), (int(x + ln * math.cos(ang)), int(y + ln * math.sin(ang))), col, 1,
                 cv2.LINE_AA)
    return img


def _floor(h: int, w: int, rng) -> np.ndarray:
    horizon = int(h * rng.uniform(0.15, 0.45))
    wall = np.array(rng.uniform(0.45, 0.9, 3), np.float32)
    img = np.broadcast_to(wall, (h, w, 3)).copy() * (0.9 + 0.1 * smooth_noise((h, w), rng, 40)[..., None])
    if rng.random() < 0.4:  # bricks
        bh = int(rng.integers(8, 14))
        for r0 in range(0, horizon, bh):
            off = (r0 // bh) % 2 * bh
            for c0 in range(-off, w, 2 * bh):
                col = tuple(float(c) for c in np.clip(np.array([0.55, 0.3, 0.22]) * rng.uniform(0.8, 1.2), 0, 1))
                cv2.rectangle(img, (c0 + 1, r0 + 1), (c0 + 2 * bh - 1, r0 + bh - 1), col, -1)
    img[:horizon] = cv2.GaussianBlur(img[:horizon], (0, 0), rng.uniform(1.0, 2.5))  # out of focus behind
    wood = rng.random() < 0.55
    floor = np.array([0.55, 0.4, 0.26] if wood else rng.uniform(0.4, 0.85, 3), np.float32) * rng.uniform(0.8, 1.15)
    vp = (w * rng.uniform(0.3, 0.7), horizon - h * 0.6)  # vanishing point above the frame
    fl = np.broadcast_to(floor, (h - horizon, w, 3)).copy()
    fl *= (0.9 + 0.1 * smooth_noise(fl.shape[:2], rng, 6)[..., None])
    n = int(rng.integers(5, 11))
    for k in range(-n, 2 * n):  # plank / tile lines converging to the vanishing point
        x = k * w / n
        cv2.line(fl, (int(vp[0] + (x - vp[0]) * 0.3), 0), (int(x), h - horizon), tuple(float(c) for c in floor * 0.6),
                 1, cv2.LINE_AA)
    if not wood:
        y = 4
        while y < h - horizon:
            cv2.line(fl, (0, int(y)), (w, int(y)), tuple(float(c) for c in floor * 0.65), 1, cv2.LINE_AA)
            y += 6 + y * 0.35
    img[horizon:] = fl
    return img


def _pavement(h: int, w: int, rng) -> np.ndarray:
    g = float(rng.uniform(0.3, 0.6))
    img = np.full((h, w, 3), g, np.float32) * np.array([1.0, 1.0, rng.uniform(0.95, 1.05)], np.float32)
    img *= (0.88 + 0.12 * smooth_noise((h, w), rng, 1.2)[..., None]) * (0.9 + 0.1 * smooth_noise((h, w), rng, 30)
                                                                        [..., None])
    for _ in range(int(h * w / 120)):  # gravel
        cv2.circle(img, (int(rng.uniform(0, w)), int(rng.uniform(0, h))), int(rng.integers(1, 3)),
                   tuple(float(c) for c in np.full(3, g * rng.uniform(0.6, 1.5))), -1, cv2.LINE_AA)
    return img


def _oblique(rgb, alpha, height, rng, view: float):
    """Top view -> the oblique view of a standing photographer: the top face foreshortened by sin(view), the side
    faces (the object's height) showing below it, a little perspective."""
    S = alpha.shape[0]
    hmax = float(height.max())
    th = int(round(max(1.0, hmax * math.cos(view) * 1.2)))
    pad = th + 3
    n = S + 2 * pad
    big_rgb, big_a = np.zeros((n, n, 3), np.float32), np.zeros((n, n), np.float32)
    side = rng.uniform(0.45, 0.7)
    for k in range(th, 0, -1):  # the side: darker copies of the outline, stacked below the top face
        _paste(big_rgb, rgb * side * (0.9 + 0.1 * k / th), alpha, pad + S / 2, pad + S / 2 + k)
        big_a[pad + k:pad + k + S, pad:pad + S] = np.maximum(big_a[pad + k:pad + k + S, pad:pad + S], alpha)
    _paste(big_rgb, rgb, alpha, pad + S / 2, pad + S / 2)
    big_a[pad:pad + S, pad:pad + S] = np.maximum(big_a[pad:pad + S, pad:pad + S], alpha)
    src = np.float32([[0, 0], [n, 0], [n, n], [0, n]])
    squash = math.sin(view)
    top = rng.uniform(0.05, 0.18) * n  # the far edge is narrower
    dst = np.float32([[top, n * (1 - squash) / 2], [n - top, n * (1 - squash) / 2], [n, n * (1 + squash) / 2],
                      [0, n * (1 + squash) / 2]]) + rng.uniform(-0.04, 0.04, (4, 2)).astype(np.float32) * n
    P = cv2.getPerspectiveTransform(src, dst)
    prem = cv2.warpPerspective(big_rgb * big_a[..., None], P, (n, n), flags=cv2.INTER_LINEAR)
    a = cv2.warpPerspective(big_a, P, (n, n), flags=cv2.INTER_LINEAR)
    return prem / np.maximum(a, 1e-4)[..., None], a


def render_ground_photo(ident, rng: np.random.Generator, size_range=(150, 260), crop_p: float = 0.25) -> np.ndarray:
    """A reference photo of a realistic identity (uint8 RGB, sides in `size_range`); see the module docstring."""
    Hc = int(rng.integers(size_range[0], size_range[1] + 1))
    Wc = int(np.clip(Hc * rng.uniform(0.75, 1.35), size_range[0], size_range[1]))
    setting = SETTINGS[int(rng.integers(len(SETTINGS)))]
    bg = {"grass": _grass, "floor": _floor, "pavement": _pavement}[setting](Hc, Wc, rng)
    light_dir = float(rng.uniform(0, 2 * np.pi))
    for _ in range(int(rng.integers(2, 7))):  # clutter around: stones, litter, leaves
        kind = rng.random()
        L = float(min(Hc, Wc) * rng.uniform(0.04, 0.14))
        pos = rng.uniform([0, Hc * 0.3], [Wc, Hc])
        if kind < 0.45:  # a leaf
            col = tuple(float(c) for c in rng.choice([[0.5, 0.35, 0.12], [0.7, 0.55, 0.1], [0.25, 0.4, 0.12]]))
            cv2.ellipse(bg, (int(pos[0]), int(pos[1])), (int(L * 0.5) + 1, int(L * 0.2) + 1),
                        float(rng.uniform(0, 180)), 0, 360, col, -1, cv2.LINE_AA)
            continue
        parts, extent = (_rock if kind < 0.75 else _litter)(rng)
        rgb, a, _ = render_parts(parts, extent, L, float(rng.uniform(0, 6.3)), light_dir, 0.9, rng, 0.3, ss=2)
        _paste(bg, rgb, a, *pos)
    view = float(rng.uniform(0.45, 1.15))  # 26-66 degrees above the ground
    L = min(Hc, Wc) * rng.uniform(0.45, 0.8)
    rgb, alpha, height = ident.render(L, float(rng.uniform(0, 2 * np.pi)), light_dir, ss=2,
                                      elevation=float(rng.uniform(0.6, 1.3)))
    rgb, a = _oblique(rgb, alpha, height, rng, view)
    cx, cy = Wc * rng.uniform(0.3, 0.7), Hc * rng.uniform(0.4, 0.65)  # off-centre
    if rng.random() < crop_p:  # the photographer cut it at the border
        side = int(rng.integers(4))
        half = a.shape[0] * rng.uniform(0.1, 0.3)
        cx, cy = [(half, cy), (Wc - half, cy), (cx, Hc - half), (cx, half + Hc * 0.1)][side]
    _darken(bg, cv2.GaussianBlur(a, (0, 0), 4.0), cx + rng.uniform(-3, 3), cy + a.shape[0] * 0.08, 0.45)
    _paste(bg, rgb.astype(np.float32), a, cx, cy)
    # the photo's light: colour temperature, exposure, a gradient across the frame, phone-camera focus and noise
    temp = rng.choice([[1.08, 1.0, 0.85], [0.92, 1.0, 1.1], [1.0, 1.0, 1.0]]) * rng.uniform(0.95, 1.05, 3)
    yy = np.linspace(0, 1, Hc, dtype=np.float32)[:, None, None]
    grad = 1 + rng.uniform(-0.2, 0.2) * (yy - 0.5)
    bg = bg * np.asarray(temp, np.float32) * rng.uniform(0.7, 1.3) * grad
    bg = np.clip(bg, 0, 1) ** rng.uniform(0.85, 1.2)
    bg = cv2.GaussianBlur(bg, (0, 0), rng.uniform(0.4, 1.0)) + rng.standard_normal(bg.shape).astype(np.float32) * 0.015
    return (np.clip(bg, 0, 1) * 255 + 0.5).astype(np.uint8)
