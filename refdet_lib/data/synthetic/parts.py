"""Objects built from parts, drawn from above and lit by one sun: the realistic style's sprite renderer.

A part is a simple shape in object-local units (long axis x in [-1, 1]) with a colour, a material, an optional colour
pattern and a relief height. Rendering rasterises every part at a supersampled resolution, stacks their heights
(a pocket sits on the body, a strap on both), and shades the result like a photograph:

    n        = normalize(-dH/dx, -dH/dy, 1)                       surface normal from the stacked height map H
    diffuse  = ambient + (1 - ambient) * max(0, n . L) / sin(e)   L: the sun at azimuth a, elevation e (flat = 1)
    specular = gloss * max(0, n . h)^shininess                    h = normalize(L + view), view straight down
    AO       = 1 - k * max(0, blur(H) - H)                        creases between parts stay darker
    rgb      = albedo * tone * dirt * diffuse * AO + specular

then averages the supersampled pixels down (antialiasing), so a 10 px backpack is a few pixels of the right colours
and shading, and an 80 px one shows its straps, pocket, zip and print.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import cv2
import numpy as np

from ...errors import InputError
from .materials import SHININESS, dirt, surface
from .patterns import pattern_weight

KINDS = ("rrect", "ellipse", "poly", "capsule", "ring")
RELIEF = 0.4


@dataclass
class Part:
    """kind + geometry in object units:
    rrect (cx, cy, w, h, radius, angle) | ellipse (cx, cy, rx, ry, angle) | poly ((x, y), ...) |
    capsule (x0, y0, x1, y1, width) | ring (cx, cy, r, width)."""

    kind: str
    geom: tuple
    colour: tuple
    material: str = "fabric"
    height: float = 0.1
    profile: str = "round"            # round (pillow-like edges) | dome | flat (sharp box edges)
    pattern: Optional[dict] = None    # patterns.pattern_weight parameters + "colour"
    seam: float = 0.0                 # darkening along the part's outline (stitching, panel gaps)


def _mask(part: Part, to_px, N: int) -> np.ndarray:
    m = np.zeros((N, N), np.uint8)
    g = part.geom
    if part.kind == "rrect":
        cx, cy, w, h, r, ang = g
        r = min(r, w / 2, h / 2)
        t = np.linspace(0, np.pi / 2, 6)
        corners = [(w / 2 - r, h / 2 - r, 0), (-w / 2 + r, h / 2 - r, np.pi / 2), (-w / 2 + r, -h / 2 + r, np.pi),
                   (w / 2 - r, -h / 2 + r, 1.5 * np.pi)]
        pts = np.concatenate([np.stack([x + r * np.cos(t + a0), y + r * np.sin(t + a0)], 1) for x, y, a0 in corners])
        c, s = math.cos(ang), math.sin(ang)
        pts = pts @ np.array([[c, s], [-s, c]]) + [cx, cy]
        cv2.fillPoly(m, [to_px(pts)], 255, cv2.LINE_8, shift=4)
    elif part.kind == "ellipse":
        cx, cy, rx, ry, ang = g
        t = np.linspace(0, 2 * np.pi, 40, endpoint=False)
        c, s = math.cos(ang), math.sin(ang)
        pts = np.stack([rx * np.cos(t), ry * np.sin(t)], 1) @ np.array([[c, s], [-s, c]]) + [cx, cy]
        cv2.fillPoly(m, [to_px(pts)], 255, cv2.LINE_8, shift=4)
    elif part.kind == "poly":
        cv2.fillPoly(m, [to_px(np.asarray(g, np.float64))], 255, cv2.LINE_8, shift=4)
    elif part.kind == "capsule":
        x0, y0, x1, y1, wd = g
        p0, p1 = to_px(np.array([[x0, y0], [x1, y1]]))
        thick = max(1, int(round(wd * to_px.scale)))
        cv2.line(m, tuple(int(v) for v in p0), tuple(int(v) for v in p1), 255, thick, cv2.LINE_8, shift=4)
    elif part.kind == "ring":
        cx, cy, r, wd = g
        (p,) = to_px(np.array([[cx, cy]]))
        cv2.circle(m, tuple(int(v) for v in p), max(16, int(round(r * to_px.scale * 16))), 255,
                   max(1, int(round(wd * to_px.scale))), cv2.LINE_8, shift=4)
    else:
        raise InputError(f"unknown part kind {part.kind!r}: choose one of {', '.join(KINDS)}")
    return m


class _ToPx:
    """Object units -> rotated, supersampled pixel coordinates (fixed point, 4 fractional bits, for fillPoly)."""

    def __init__(self, scale: float, angle: float, N: int):
        self.scale, self.N = scale, N
        c, s = math.cos(angle), math.sin(angle)
        self.R = np.array([[c, -s], [s, c]])

    def __call__(self, pts: np.ndarray) -> np.ndarray:
        return np.round(((np.asarray(pts) * self.scale) @ self.R.T + self.N / 2) * 16).astype(np.int32)


def _profile(dist: np.ndarray, height: float, kind: str) -> np.ndarray:
    dmax = max(float(dist.max()), 1e-6)
    if kind == "dome":
        x = np.clip(dist / dmax, 0, 1)
        return height * np.sqrt(1 - (1 - x) ** 2)
    if kind == "flat":
        return height * np.clip(dist / min(0.03, dmax), 0, 1)
    edge = min(max(height * 1.5, 0.02), dmax)
    x = np.clip(dist / edge, 0, 1)
    return height * x * x * (3 - 2 * x)  # smoothstep: a pillow's rounded edge


def render_parts(parts: list[Part], extent: float, length: float, angle: float = 0.0, light_dir: float = -2.3,
                 elevation: float = 0.9, rng: Optional[np.random.Generator] = None, dirt_amount: float = 0.0,
                 ss: int = 4, min_px: int = 48) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw `parts` with the object's long side `length` px, rotated by `angle` radians, lit from azimuth
    `light_dir` at `elevation` radians. `extent`: the object's half-extent across (short side / long side).

    Returns rgb float32 (S, S, 3) in [0, 1], alpha float32 (S, S) and height float32 (S, S) in sprite pixels (for
    the shadow it casts), the object centred in an S x S square."""
    rng = rng if rng is not None else np.random.default_rng(0)
    S = int(math.ceil(length * math.hypot(1.0, extent))) + 4
    ss = max(ss, int(math.ceil(min_px / max(S, 1))))  # small sprites: enough subpixels for the parts to exist
    N = S * ss
    scale = 0.5 * length * ss  # pixels per object unit
    to_px = _ToPx(scale, angle, N)
    yy, xx = np.mgrid[0:N, 0:N].astype(np.float32) - N / 2
    c, s = math.cos(angle), math.sin(angle)
    u, v = (xx * c + yy * s) / scale, (-xx * s + yy * c) / scale  # object-local coordinates of every pixel
    albedo = np.zeros((N, N, 3), np.float32)
    tone = np.ones((N, N), np.float32)
    gloss = np.zeros((N, N), np.float32)
    shin = np.full((N, N), 20.0, np.float32)
    H = np.zeros((N, N), np.float32)
    alpha = np.zeros((N, N), np.float32)
    for p in parts:
        m = _mask(p, to_px, N)
        if not m.any():
            continue
        sel = m > 0
        dist = cv2.distanceTransform(m, cv2.DIST_L2, 3) / scale
        t, g, bump = surface(p.material, u, v, rng, scale)
        col = np.broadcast_to(np.asarray(p.colour, np.float32), (N, N, 3)).copy()
        if p.pattern is not None:
            w = pattern_weight(p.pattern, u, v, rng, scale)[..., None]
            col = col * (1 - w) + np.asarray(p.pattern["colour"], np.float32) * w
        if p.seam > 0:
            t = t * (1 - p.seam * np.exp(-dist / 0.012))
        h = _profile(dist, p.height, p.profile) + bump * (dist > 0.01)
        H[sel] += h[sel]  # a part sits on whatever lies below it (a pocket on the body, a strap over both)
        albedo[sel], tone[sel], gloss[sel] = col[sel], t[sel], g[sel]
        shin[sel] = SHININESS.get(p.material, 20.0)
        alpha[sel] = 1.0
    # shading from the stacked height map (heights in object units -> pixels for the gradient; RELIEF < 1 keeps the
    # slopes of soft goods gentle, as photographs of them are, instead of a balloon's)
    Hp = H * scale * RELIEF
    gy, gx = np.gradient(cv2.GaussianBlur(Hp, (0, 0), max(ss / 2, 0.7)))
    n = np.stack([-gx, -gy, np.ones_like(gx)], -1)
    n /= np.linalg.norm(n, axis=-1, keepdims=True)
    L = np.array([math.cos(light_dir) * math.cos(elevation), math.sin(light_dir) * math.cos(elevation),
                  math.sin(elevation)], np.float32)
    amb = 0.45
    diffuse = amb + (1 - amb) * np.clip(n @ L, 0, None) / math.sin(elevation)
    half = L + np.array([0, 0, 1], np.float32)
    half /= np.linalg.norm(half)
    spec = gloss * np.clip(n @ half, 0, 1) ** shin
    blurH = cv2.GaussianBlur(Hp, (0, 0), max(N / 25, 1.0))
    ao = 1 - 0.5 * np.clip((blurH - Hp) / max(float(Hp.max()), 1e-6), 0, 1)
    dark, dust = dirt((N, N), rng, dirt_amount)
    rgb = albedo * (tone * dark * diffuse * ao)[..., None] + spec[..., None] * np.array([1.0, 0.98, 0.92], np.float32)
    rgb = rgb * (1 - dust[..., None]) + dust[..., None] * np.array([0.55, 0.48, 0.38], np.float32)
    # supersampled -> sprite pixels (premultiplied, so edges blend with whatever lies below)
    prem = cv2.resize(np.clip(rgb, 0, 1) * alpha[..., None], (S, S), interpolation=cv2.INTER_AREA)
    a = cv2.resize(alpha, (S, S), interpolation=cv2.INTER_AREA)
    height = cv2.resize(H * (0.5 * length), (S, S), interpolation=cv2.INTER_AREA)  # sprite pixels
    out = np.clip(prem / np.maximum(a, 1e-4)[..., None], 0, 1)
    return out.astype(np.float32), a.astype(np.float32), height.astype(np.float32)
