"""Aerial ground (fields, crop rows, hedges, roads, roofs), smooth noise and tree crowns."""
from __future__ import annotations

from typing import Optional

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


def make_ground(h: int, w: int, rng: np.random.Generator, detail: float = 1.0, rows: float = 1.0,
                texture: Optional[np.random.Generator] = None) -> np.ndarray:
    """Aerial-looking ground (h, w, 3) float32 RGB in [0, 1]: Voronoi fields with crop rows, grass and soil noise,
    hedges on field borders, roads with lane marks, a few roofs. `detail` scales the fine texture (mp4 size),
    `rows` the contrast of the crop rows. With `texture` (the realistic style's own generator, so `rng`'s draws stay
    as they are) the hedges grow ragged: gaps, bulges and single shrubs instead of an even line."""
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
    rows = (rng.random(k) < 0.55).astype(np.float32) * rng.uniform(0.08, 0.22, k) * min(detail, 1.0) * rows
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
    if texture is not None:
        lumps = value_noise(h, w, texture, 14, 2)
        hedge = cv2.dilate(hedge[..., 0] * np.clip(lumps * 2.2 - 0.7, 0, 1.3), np.ones((3, 3), np.uint8))[..., None]
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


def relief(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """Hill-shading of real terrain, (h, w) around 1: a random window of a digital elevation model that ships with
    matplotlib (the Jacksboro fault, 344 x 403 samples), turned and stretched, lit from one side. Real ground has
    this structure (undulations, furrows, tracks) that value noise lacks; value noise stands in if the file is gone."""
    try:
        import matplotlib.cbook as cbook

        dem = np.load(cbook.get_sample_data("jacksboro_fault_dem.npz", asfileobj=False))["elevation"]
        dem = dem.astype(np.float32)
        k = int(rng.integers(48, 120))
        y, x = int(rng.integers(0, dem.shape[0] - k)), int(rng.integers(0, dem.shape[1] - k))
        z = np.rot90(dem[y:y + k, x:x + k], int(rng.integers(4)))
        z = cv2.resize(z, (w, h), interpolation=cv2.INTER_CUBIC)
    except Exception:  # noqa: BLE001  (a trimmed matplotlib without sample data)
        z = value_noise(h, w, rng, 40, 4) * 300
    gy, gx = np.gradient(z / (np.ptp(z) + 1e-6) * 40.0)
    a = rng.uniform(0, 2 * np.pi)
    shade = (gx * np.cos(a) + gy * np.sin(a)) / np.sqrt(1 + gx ** 2 + gy ** 2)
    return (1.0 + 0.35 * np.clip(shade, -1, 1)).astype(np.float32)


def photographic(ground: np.ndarray, rng: np.random.Generator, detail: float = 1.0) -> np.ndarray:
    """The realistic style's ground texture on top of `make_ground`: the relief of real terrain, grain and clumps
    at several scales (grass tufts, clods, gravel), uneven colour within a field, and specks. In place."""
    h, w = ground.shape[:2]
    ground *= relief(h, w, rng)[..., None]
    grey = ground.mean(-1, keepdims=True)
    ground[:] = 0.92 * (0.72 * ground + 0.28 * grey)  # real vegetation and soil seen from the air: muted, darker
    lum = (0.22 * detail * (value_noise(h, w, rng, 1.5, 1) - 0.5) + 0.14 * (value_noise(h, w, rng, 5, 2) - 0.5)
           + 0.16 * (value_noise(h, w, rng, 60, 2) - 0.5))
    ground *= (1.0 + lum)[..., None]
    chroma = np.stack([value_noise(h // 4 + 2, w // 4 + 2, rng, 6, 2) for _ in range(3)], -1) - 0.5
    ground *= 1.0 + 0.08 * cv2.resize(chroma, (w, h), interpolation=cv2.INTER_LINEAR)
    green = ground[..., 1] > ground[..., 0] * 1.08  # grass: dark tufts and clumps
    tufts = green & (value_noise(h, w, rng, 2.0, 1) > 0.72)
    ground[tufts] *= 0.78
    specks = rng.random((h, w)) < 0.03 * detail
    ground[specks] *= rng.uniform(0.55, 1.35, (int(specks.sum()), 1)).astype(np.float32)
    np.clip(ground, 0, 1, out=ground)
    return ground
