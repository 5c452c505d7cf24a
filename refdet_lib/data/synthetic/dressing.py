"""Scene dressing of the realistic style, painted once on the world canvas: cast shadows, clutter that is not an
object (rocks, logs, puddles, litter), bushes and tall grass that hide part of an object, and the motion-blur
kernel of a frame. The label map is kept exact: what an occluder covers is no longer the object's."""
from __future__ import annotations

import math

import cv2
import numpy as np

from .canvas import _darken, _paste
from .materials import smooth_noise
from .parts import Part, render_parts


def cast_shadow(ground: np.ndarray, alpha: np.ndarray, height: np.ndarray, cx: float, cy: float, sun: np.ndarray,
                elevation: float, strength: float = 0.5) -> None:
    """The object's shadow along the sun (unit vector `sun`, in image x/y, pointing where light goes), extruded by
    each pixel's height / tan(elevation): a car casts a long one, a tarp almost none. In place."""
    hmax = float(height.max())
    reach = hmax / math.tan(elevation)
    steps = max(1, min(8, int(math.ceil(reach))))
    S = alpha.shape[0]
    pad = int(math.ceil(reach)) + 3
    sh = np.zeros((S + 2 * pad, S + 2 * pad), np.float32)
    for k in range(steps + 1):  # sweep the silhouette from the foot of the object to the top of its shadow
        t = k / steps
        lift = np.clip(height / max(hmax, 1e-6) - t, 0, None) > 0 if hmax > 0 else alpha > 0
        m = alpha * lift if hmax > 0 else alpha
        ox, oy = pad + t * reach * sun[0], pad + t * reach * sun[1]
        M = np.float32([[1, 0, ox], [0, 1, oy]])
        sh = np.maximum(sh, cv2.warpAffine(m.astype(np.float32), M, sh.shape[::-1], flags=cv2.INTER_LINEAR))
    sh = cv2.GaussianBlur(sh, (0, 0), max(0.6, 0.08 * reach + 0.5))
    _darken(ground, sh, cx, cy, strength)


def _rock(rng) -> tuple[list[Part], float]:
    g = float(rng.uniform(0.35, 0.65))
    col = (g, g * rng.uniform(0.95, 1.02), g * rng.uniform(0.88, 1.0))
    pts = [(math.cos(t) * rng.uniform(0.75, 1.0), math.sin(t) * rng.uniform(0.5, 0.75))
           for t in np.linspace(0, 2 * np.pi, 9, endpoint=False)]
    return [Part("poly", tuple(pts), col, "leather", 0.35, "dome")], 0.75


def _log(rng) -> tuple[list[Part], float]:
    bark = (rng.uniform(0.25, 0.4), rng.uniform(0.18, 0.27), rng.uniform(0.1, 0.16))
    parts = [Part("capsule", (-0.95, 0, 0.95, 0, 0.22), bark, "wood", 0.2, "dome")]
    if rng.random() < 0.5:
        parts.append(Part("capsule", (0.2, 0.05, 0.55, 0.3, 0.07), bark, "wood", 0.1))
    return parts, 0.3


def _litter(rng) -> tuple[list[Part], float]:
    col = tuple(float(c) for c in rng.uniform(0.3, 1.0, 3))
    if rng.random() < 0.5:  # a can or a bottle
        return [Part("capsule", (-0.8, 0, 0.8, 0, 0.45), col, "metal", 0.2, "dome")], 0.3
    return [Part("rrect", (0, 0, 1.9, 1.2, 0.05, float(rng.uniform(0, 1))), (0.9, 0.9, 0.86), "cardboard", 0.02)], 0.7


def paint_clutter(ground: np.ndarray, rng: np.random.Generator, light_dir: float, size: tuple[float, float],
                  density: float = 1.0) -> int:
    """Rocks, logs, puddles and litter of about the objects' size over the canvas: not objects, never labelled.
    Returns how many were painted."""
    h, w = ground.shape[:2]
    n = int(rng.poisson(density * h * w / 60_000))
    lo, hi = size
    for _ in range(n):
        cx, cy = rng.uniform([0, 0], [w, h])
        L = float(math.exp(rng.uniform(math.log(max(lo, 3)), math.log(hi))))
        kind = rng.choice(["rock", "rock", "log", "puddle", "litter"])
        if kind == "puddle":
            m = np.zeros((int(L) + 4, int(L * 1.3) + 4), np.float32)
            cv2.ellipse(m, (m.shape[1] // 2, m.shape[0] // 2), (int(L * 0.6), int(L * 0.4)), float(rng.uniform(0, 180)),
                        0, 360, 1.0, -1, cv2.LINE_AA)
            m = m * np.clip(smooth_noise(m.shape, rng, max(m.shape) / 3) + 0.8, 0, 1)
            _darken(ground, cv2.GaussianBlur(m, (0, 0), 1.0), cx, cy, float(rng.uniform(0.3, 0.55)))
            continue
        parts, extent = {"rock": _rock, "log": _log, "litter": _litter}[kind](rng)
        rgb, alpha, _ = render_parts(parts, extent, L, float(rng.uniform(0, 2 * np.pi)), light_dir, 0.9, rng, 0.3,
                                     ss=2, min_px=24)
        _darken(ground, cv2.GaussianBlur(alpha, (0, 0), 1.0), cx + 0.1 * L, cy + 0.1 * L, 0.3)
        _paste(ground, rgb, alpha, cx, cy)
    return n


def paint_occluder(ground: np.ndarray, labels: np.ndarray, rng: np.random.Generator, cx: float, cy: float,
                   length: float) -> float:
    """A bush or a clump of tall grass over part of an object at (cx, cy): foliage painted on the ground canvas,
    the label map cleared beneath it. Returns the radius painted."""
    r = float(length * rng.uniform(0.2, 0.4))
    ang = rng.uniform(0, 2 * np.pi)
    dist = length * rng.uniform(0.4, 0.7)  # over an edge or a corner of the object, rarely its middle
    ox, oy = cx + math.cos(ang) * dist, cy + math.sin(ang) * dist
    d = int(2 * r + 8)
    m = np.zeros((d, d), np.float32)
    base = np.array([rng.uniform(0.1, 0.24), rng.uniform(0.22, 0.36), rng.uniform(0.06, 0.14)], np.float32)
    if rng.random() < 0.5:  # a bush: overlapping leafy blobs
        for _ in range(7):
            a2, rr = rng.uniform(0, 2 * np.pi), r * rng.uniform(0.35, 0.6)
            cv2.circle(m, (int(d / 2 + (r - rr) * math.cos(a2)), int(d / 2 + (r - rr) * math.sin(a2))), int(rr), 1.0,
                       -1, cv2.LINE_AA)
    else:  # tall grass: blades from a clump, lighter and yellower
        base = base * np.array([1.4, 1.25, 1.2], np.float32)
        for _ in range(int(12 + 6 * r)):
            a2, ln = rng.uniform(0, 2 * np.pi), r * rng.uniform(0.5, 1.0)
            cv2.line(m, (d // 2, d // 2), (int(d / 2 + ln * math.cos(a2)), int(d / 2 + ln * math.sin(a2))), 1.0,
                     max(1, int(r / 6)), cv2.LINE_AA)
    shadeleaf = cv2.GaussianBlur(m, (0, 0), max(r / 4, 1.0))  # darker at the rim, lighter where leaves pile up
    leaf = (0.6 + 0.6 * shadeleaf) * (0.8 + 0.4 * (smooth_noise(m.shape, rng, 1.2) * 0.5 + 0.5))
    rgb = np.clip(base * leaf[..., None], 0, 1)
    reg = _paste(ground, rgb, m, ox, oy)
    if reg is not None:
        y0, y1, x0, x1 = reg
        sx, sy = int(round(ox - d / 2)), int(round(oy - d / 2))
        covered = m[y0 - sy:y1 - sy, x0 - sx:x1 - sx] >= 0.5
        labels[y0:y1, x0:x1][covered] = 0
    return r


def motion_kernel(dx: float, dy: float) -> np.ndarray | None:
    """A line kernel of the camera's motion (dx, dy) image pixels during the exposure, or None when under 1.5 px."""
    n = math.hypot(dx, dy)
    if n < 1.5:
        return None
    k = int(math.ceil(n)) | 1
    ker = np.zeros((k, k), np.float32)
    c = k // 2
    cv2.line(ker, (int(round(c - dx / 2)), int(round(c - dy / 2))), (int(round(c + dx / 2)), int(round(c + dy / 2))),
             1.0, 1, cv2.LINE_AA)
    return ker / ker.sum()
