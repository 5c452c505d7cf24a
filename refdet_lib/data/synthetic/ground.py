"""Aerial ground (fields, crop rows, hedges, roads, roofs), smooth noise and tree crowns."""
from __future__ import annotations

import cv2
import numpy as np

_FIELD_COLOURS = np.array([(0.30, 0.45, 0.18), (0.38, 0.52, 0.22), (0.26, 0.38, 0.16), (0.68, 0.60, 0.34),
                           (0.55, 0.55, 0.26), (0.50, 0.60, 0.30), (0.46, 0.36, 0.25), (0.56, 0.46, 0.33),
                           (0.40, 0.32, 0.23), (0.60, 0.55, 0.38)], np.float32)
_ROOFS = ((0.58, 0.26, 0.20), (0.42, 0.42, 0.44), (0.62, 0.62, 0.60), (0.35, 0.22, 0.18), (0.50, 0.50, 0.55))


def value_noise(h: int, w: int, rng: np.random.Generator, cell: float, octaves: int = 3) -> np.ndarray:
    """Smooth random field in [0, 1] (h, w) float32: bicubic upsampling of coarse random grids, `cell` px apart."""
    out = np.zeros((h, w), np.float32)
    amp, total = 1.0, 0.0
    for o in range(octaves):
        c = max(cell / 2 ** o, 2.0)
        g = rng.random((int(h / c) + 3, int(w / c) + 3)).astype(np.float32)
        out += amp * cv2.resize(g, (w, h), interpolation=cv2.INTER_CUBIC)
        total += amp
        amp *= 0.5
    out /= total
    lo, hi = out.min(), out.max()
    return (out - lo) / max(hi - lo, 1e-6)


def make_ground(h: int, w: int, rng: np.random.Generator, detail: float = 1.0) -> np.ndarray:
    """Aerial-looking ground (h, w, 3) float32 RGB in [0, 1]: Voronoi fields with crop rows, grass and soil noise,
    hedges on field borders, roads with lane marks, a few roofs. `detail` scales the fine texture (mp4 size)."""
    season = np.array([rng.uniform(0.9, 1.1), rng.uniform(0.9, 1.08), rng.uniform(0.85, 1.05)], np.float32)
    k = max(4, int(h * w / rng.uniform(90_000, 180_000)))
    # fields: Voronoi cells of wobbly coordinates, computed at half resolution
    hs, ws = max(h // 2, 2), max(w // 2, 2)
    ys, xs = np.mgrid[0:hs, 0:ws].astype(np.float32)
    wob = 40.0 * (value_noise(hs, ws, rng, 60, 2) - 0.5)
    xs, ys = xs + wob, ys - wob
    seeds = rng.uniform([0, 0], [ws, hs], (k, 2)).astype(np.float32)
    best = np.full((hs, ws), np.inf, np.float32)
    lab = np.zeros((hs, ws), np.int32)
    for i, (sx, sy) in enumerate(seeds):
        d = (xs - sx) ** 2 + (ys - sy) ** 2
        m = d < best
        best[m], lab[m] = d[m], i
    lab = cv2.resize(lab.astype(np.float32), (w, h), interpolation=cv2.INTER_NEAREST).astype(np.int32)
    base = _FIELD_COLOURS[rng.integers(len(_FIELD_COLOURS), size=k)] * rng.uniform(0.9, 1.1, (k, 3))
    rows = (rng.random(k) < 0.55).astype(np.float32) * rng.uniform(0.08, 0.22, k) * min(detail, 1.0)  # crop rows
    ang = rng.uniform(0, np.pi, k).astype(np.float32)
    per = rng.uniform(7, 16, k).astype(np.float32)
    Y, X = np.mgrid[0:h, 0:w].astype(np.float32)
    phase = (X * np.cos(ang)[lab] + Y * np.sin(ang)[lab]) / per[lab]
    stripes = np.sin(2 * np.pi * phase) * rows[lab]
    coarse = value_noise(h, w, rng, 120, 3) - 0.5
    fine = value_noise(h, w, rng, 6, 2) - 0.5
    shade = 1.0 + stripes + 0.25 * coarse + 0.18 * detail * fine
    img = base[lab].astype(np.float32) * shade[..., None]
    # hedges / dark borders between fields
    edge = (lab != np.roll(lab, 1, 0)) | (lab != np.roll(lab, 1, 1))
    edge = cv2.dilate(edge.astype(np.uint8), np.ones((3, 3), np.uint8), iterations=int(rng.integers(1, 4)))
    hedge = cv2.GaussianBlur(edge.astype(np.float32), (0, 0), 1.2)[..., None]
    img = img * (1 - 0.55 * hedge) + np.array([0.16, 0.26, 0.10], np.float32) * 0.55 * hedge
    # roads: smooth polylines across the canvas
    for _ in range(int(rng.integers(1, 4))):
        pts = [rng.uniform([0, 0], [w, h])]
        heading = rng.uniform(0, 2 * np.pi)
        for _ in range(12):
            heading += rng.normal(0, 0.25)
            pts.append(pts[-1] + 0.15 * max(h, w) * np.array([np.cos(heading), np.sin(heading)]))
        pts = np.array(pts)
        pts = np.round(pts - pts.mean(0) + rng.uniform([0, 0], [w, h])).astype(np.int32)
        asphalt = rng.random() < 0.5
        col = (rng.uniform(0.30, 0.45),) * 3 if asphalt else (0.56, 0.47, 0.36)
        width = int(rng.integers(8, 20))
        cv2.polylines(img, [pts], False, tuple(float(c) * 0.8 for c in col), width + 4, cv2.LINE_AA)
        cv2.polylines(img, [pts], False, tuple(float(c) for c in col), width, cv2.LINE_AA)
        if asphalt:
            for p, q in zip(pts[:-1], pts[1:]):
                for f0 in np.arange(0, 1, 0.2):
                    a_ = p + (q - p) * f0
                    b_ = p + (q - p) * (f0 + 0.08)
                    cv2.line(img, tuple(int(x) for x in a_), tuple(int(x) for x in b_), (0.85, 0.85, 0.8), 1,
                             cv2.LINE_AA)
    # a few roofs with a shadow
    for _ in range(int(rng.poisson(h * w / 400_000))):
        cx, cy = rng.uniform([0, 0], [w, h])
        bw, bh = rng.uniform(25, 70), rng.uniform(20, 50)
        box = cv2.boxPoints(((float(cx), float(cy)), (float(bw), float(bh)), float(rng.uniform(0, 180))))
        cv2.fillPoly(img, [np.round(box + 5).astype(np.int32)], (0.12, 0.13, 0.1), cv2.LINE_AA)
        roof = _ROOFS[rng.integers(len(_ROOFS))]
        cv2.fillPoly(img, [np.round(box).astype(np.int32)], roof, cv2.LINE_AA)
    return np.clip(img * season, 0, 1).astype(np.float32)


def _tree_canopy(canvas: np.ndarray, alpha: np.ndarray, cx: float, cy: float, r: float,
                 rng: np.random.Generator) -> None:
    """A tree crown: a disc of radius ~r made of overlapping blobs, darker at its rim (drawn in place)."""
    col = np.array([rng.uniform(0.10, 0.2), rng.uniform(0.22, 0.34), rng.uniform(0.07, 0.13)], np.float32)
    m = np.zeros(alpha.shape, np.float32)
    cv2.circle(m, (int(cx), int(cy)), int(0.85 * r), 1.0, -1, cv2.LINE_AA)
    for _ in range(6):
        ang, rr = rng.uniform(0, 2 * np.pi), rng.uniform(0.3, 0.55) * r
        ox, oy = cx + (r - rr) * np.cos(ang), cy + (r - rr) * np.sin(ang)
        cv2.circle(m, (int(ox), int(oy)), int(rr), 1.0, -1, cv2.LINE_AA)
    y0, y1 = max(int(cy - r - 3), 0), min(int(cy + r + 4), alpha.shape[0])
    x0, x1 = max(int(cx - r - 3), 0), min(int(cx + r + 4), alpha.shape[1])
    if y1 <= y0 or x1 <= x0:
        return
    mm = m[y0:y1, x0:x1]
    rim = cv2.GaussianBlur(mm, (0, 0), max(r / 5, 1.0))
    tex = 0.8 + 0.4 * rng.random(mm.shape).astype(np.float32)
    tex = cv2.GaussianBlur(tex, (0, 0), 1.0)
    rgb = col * (tex * (0.6 + 0.6 * rim))[..., None]
    a = mm[..., None]
    canvas[y0:y1, x0:x1] = canvas[y0:y1, x0:x1] * (1 - a) + rgb * a
    alpha[y0:y1, x0:x1] = np.maximum(alpha[y0:y1, x0:x1], mm)
