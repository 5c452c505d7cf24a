"""Sprites: one object drawn at a given size and angle, antialiased by supersampling, shaded, on an alpha mask."""
from __future__ import annotations

import math
from typing import Protocol

import cv2
import numpy as np

from ...errors import InputError


class SpriteSpec(Protocol):
    """What a sprite is drawn from (identities.ObjectIdentity has it): shapes stays below identities, one way."""
    shape: str
    aspect: float
    texture: str
    primary: tuple
    secondary: tuple
    pattern_freq: float
    pattern_angle: float


def _arc(cx, cy, rx, ry, a0, a1, n=8):
    t = np.linspace(a0, a1, n)
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], 1)


def shape_polygons(kind: str, a: float) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(filled polygons, holes) in unit coordinates: long axis x in [-1, 1], short axis y in [-a, a]."""
    t = np.linspace(0, 2 * np.pi, 48, endpoint=False)
    ell = lambda rx, ry, cx=0.0: np.stack([cx + rx * np.cos(t), ry * np.sin(t)], 1)  # noqa: E731
    P = lambda pts: np.array(pts, np.float64)  # noqa: E731
    if kind == "box":
        return [P([(-1, -a), (1, -a), (1, a), (-1, a)])], []
    if kind == "rounded_box":
        r = 0.4 * a
        pts = np.concatenate([_arc(1 - r, -a + r, r, r, -np.pi / 2, 0), _arc(1 - r, a - r, r, r, 0, np.pi / 2),
                              _arc(-1 + r, a - r, r, r, np.pi / 2, np.pi),
                              _arc(-1 + r, -a + r, r, r, np.pi, 1.5 * np.pi)])
        return [pts], []
    if kind == "ellipse":
        return [ell(1, a)], []
    if kind == "triangle":
        return [P([(-1, a), (1, a), (0, -a)])], []
    if kind == "diamond":
        return [P([(-1, 0), (0, -a), (1, 0), (0, a)])], []
    if kind == "hexagon":
        ang = np.arange(6) * np.pi / 3
        return [np.stack([np.cos(ang), a * np.sin(ang)], 1)], []
    if kind == "star":
        ang = np.arange(10) * np.pi / 5 - np.pi / 2
        r = np.where(np.arange(10) % 2 == 0, 1.0, 0.45)
        return [np.stack([r * np.cos(ang), a * r * np.sin(ang)], 1)], []
    if kind == "cross":
        w, h = 0.3 * a, 0.3 * a
        return [P([(-1, -h), (-w, -h), (-w, -a), (w, -a), (w, -h), (1, -h), (1, h), (w, h), (w, a), (-w, a),
                   (-w, h), (-1, h)])], []
    if kind == "ring":
        return [ell(1, a)], [ell(0.55, 0.55 * a)]
    if kind == "crescent":
        return [ell(1, a)], [ell(0.85, 0.85 * a, cx=0.45)]
    if kind == "l_shape":
        th = 0.9 * a
        return [P([(-1, -a), (-0.45, -a), (-0.45, a - th), (1, a - th), (1, a), (-1, a)])], []
    if kind == "capsule":
        return [np.concatenate([_arc(1 - a, 0, a, a, -np.pi / 2, np.pi / 2, 16),
                                _arc(-1 + a, 0, a, a, np.pi / 2, 1.5 * np.pi, 16)])], []
    if kind == "t_shape":
        b = 0.15 * a
        return [P([(-1, -a), (1, -a), (1, -b), (0.25, -b), (0.25, a), (-0.25, a), (-0.25, -b), (-1, -b)])], []
    if kind == "arrow":
        return [P([(1, 0), (0.2, a), (0.2, 0.4 * a), (-1, 0.4 * a), (-1, -0.4 * a), (0.2, -0.4 * a), (0.2, -a)])], []
    raise InputError(f"unknown shape {kind!r}")


def _texture(ident: SpriteSpec, u: np.ndarray, v: np.ndarray, edge: np.ndarray) -> np.ndarray:
    """Mix weight of the secondary colour (0 = primary) at object-local coordinates (u, v); `edge` = distance to the
    outline in the same units."""
    f, ang = ident.pattern_freq, ident.pattern_angle
    d = u * math.cos(ang) + v * math.sin(ang)
    kind = ident.texture
    if kind == "solid":
        return np.zeros_like(u)
    if kind == "stripes":
        return (np.sin(np.pi * f * d) > 0).astype(np.float32)
    if kind == "checker":
        return ((np.floor(u * f) + np.floor(v * f)) % 2).astype(np.float32)
    if kind == "dots":
        p = 2.0 / f
        du, dv = (u / p) % 1.0 - 0.5, (v / p) % 1.0 - 0.5
        return (du * du + dv * dv < 0.09).astype(np.float32)
    if kind == "gradient":
        return np.clip((d + 1) / 2, 0, 1).astype(np.float32)
    if kind == "two_tone":
        return (d > 0).astype(np.float32)
    if kind == "border":
        return (edge < 0.22).astype(np.float32)
    if kind == "zigzag":
        e = -v * math.sin(ang) + u * math.cos(ang)
        tri = np.abs((e * f) % 2.0 - 1.0)
        return (np.sin(np.pi * f * (d + 0.5 * tri / f)) > 0).astype(np.float32)
    raise InputError(f"unknown texture {kind!r}")


def render_sprite(ident: SpriteSpec, length: float, angle: float = 0.0, light_dir: float = -2.3,
                  ss: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Draw `ident` with its long side `length` px, rotated by `angle` radians.

    Returns rgb float32 (S, S, 3) in [0, 1] and alpha float32 (S, S) in [0, 1], the object centred. Shading: a
    soft bevel (darker near the outline) and a directional light from `light_dir` radians, so it reads as a solid
    thing rather than a flat sticker.
    """
    a = ident.aspect
    S = int(math.ceil(length * math.hypot(1.0, a))) + 4
    N = S * ss
    scale = 0.5 * length * ss
    c, s = math.cos(angle), math.sin(angle)
    R = np.array([[c, -s], [s, c]])
    polys, holes = shape_polygons(ident.shape, a)
    to_px = lambda p: np.round((p * scale) @ R.T * 16 + N / 2 * 16).astype(np.int32)  # noqa: E731 (shift=4)
    mask = np.zeros((N, N), np.uint8)
    cv2.fillPoly(mask, [to_px(p) for p in polys], 255, cv2.LINE_8, shift=4)
    if holes:
        cv2.fillPoly(mask, [to_px(p) for p in holes], 0, cv2.LINE_8, shift=4)
    yy, xx = np.mgrid[0:N, 0:N].astype(np.float32)
    xx -= N / 2
    yy -= N / 2
    u = (xx * c + yy * s) / scale           # object-local long axis
    v = (-xx * s + yy * c) / scale
    edge = cv2.distanceTransform(mask, cv2.DIST_L2, 3) / scale
    t = _texture(ident, u, v, edge)[..., None]
    rgb = np.asarray(ident.primary, np.float32) * (1 - t) + np.asarray(ident.secondary, np.float32) * t
    bevel = 0.72 + 0.28 * np.clip(edge / 0.25, 0, 1)
    light = 1.0 + 0.12 * (u * math.cos(light_dir - angle) + v * math.sin(light_dir - angle))
    rgb = rgb * (bevel * light)[..., None]
    alpha = mask.astype(np.float32) / 255.0
    prem = cv2.resize(rgb * alpha[..., None], (S, S), interpolation=cv2.INTER_AREA)
    alpha = cv2.resize(alpha, (S, S), interpolation=cv2.INTER_AREA)
    rgb = np.clip(prem / np.maximum(alpha, 1e-4)[..., None], 0, 1)
    return rgb.astype(np.float32), alpha.astype(np.float32)
