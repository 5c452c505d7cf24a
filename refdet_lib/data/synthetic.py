"""Synthetic drone videos in the guide's dataset format, for lessons and tests that must run without real footage.

    <out>/samples/<video_id>/drone_video.mp4
    <out>/samples/<video_id>/object_images/img_1.jpg ... img_K.jpg
    <out>/annotations/annotations.json

What makes the task few-shot and drone-like, and so what this file models:
- every video has one *target identity* (shape, two colours, a texture), seen small (about 12-60 px in a 640-wide
  frame) from a camera flying over textured ground (fields, roads, grass, roofs) with slow translation, heading and
  zoom drift, moving cloud shadows, tree canopies that occlude by parallax, blur, sensor noise and mp4 compression;
- the target is in view only for 1-3 stretches of frames (the annotation's intervals); only frames where enough of
  it is visible get a box, the tight box of its visible pixels;
- distractors of *other* identities (never the target's) share the ground, so "some object" is not enough: the
  detector must match the reference images;
- the references are close-ups of the same object under another angle, scale, tilt and light, on a plain or
  blurred background, as a person photographs a backpack before a search flight;
- train and test identities can be made disjoint in shape kind and colour hue (`split="train" | "test"`), so the
  test split measures generalisation to objects never seen in training.

Speed: the ground, its objects and the tree canopy are painted once per video on a "world" canvas; each frame is
a few `cv2.warpAffine` calls plus cheap effects: a 150-frame 640x360 video takes a few seconds on one core.
Determinism: one `np.random.default_rng([seed, video_index])` per video; the same seed gives identical annotations,
references and decoded frames.
"""
from __future__ import annotations

import json
import math
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Optional, Sequence

import cv2
import numpy as np

from .annotations import REF_DIR, VIDEO_NAME

# ----------------------------------------------------------------------------------------------------------------
# Identities
# ----------------------------------------------------------------------------------------------------------------
SHAPES = ("box", "rounded_box", "ellipse", "triangle", "cross", "ring", "l_shape", "capsule", "diamond", "t_shape",
          "star", "hexagon", "crescent", "arrow")
TEST_SHAPES = ("star", "hexagon", "crescent", "arrow")          # reserved: never a train identity's shape
TRAIN_SHAPES = tuple(s for s in SHAPES if s not in TEST_SHAPES)
TEXTURES = ("solid", "stripes", "checker", "dots", "gradient", "two_tone", "border", "zigzag")
TEST_TEXTURES = ("zigzag",)                                      # reserved for test identities
TRAIN_TEXTURES = tuple(t for t in TEXTURES if t not in TEST_TEXTURES)
HUE_BINS = 12                                                    # 30 degree bins; train: even bins, test: odd bins
HUE_JITTER = 7.0
CATEGORY_WORDS = ("Backpack", "Jacket", "Helmet", "Motorbike", "Person", "Suitcase", "Tent", "Bicycle", "Umbrella",
                  "Cooler", "Kayak", "Tarp", "Car", "Box")
_ASPECT = {"box": (0.45, 0.9), "rounded_box": (0.5, 0.9), "ellipse": (0.5, 0.9), "triangle": (0.6, 1.0),
           "cross": (0.75, 1.0), "ring": (0.8, 1.0), "l_shape": (0.6, 1.0), "capsule": (0.3, 0.5),
           "diamond": (0.5, 0.8), "t_shape": (0.6, 1.0), "star": (0.9, 1.0), "hexagon": (0.85, 1.0),
           "crescent": (0.8, 1.0), "arrow": (0.5, 0.8)}
_ACHROMATIC = ((0.92, 0.92, 0.9), (0.7, 0.7, 0.7), (0.35, 0.35, 0.35), (0.1, 0.1, 0.1))


@dataclass(frozen=True)
class ObjectIdentity:
    """One object's look: what the reference images show and what the detector must find in the frames.

    Colours are RGB in [0, 1]; `aspect` is short side / long side; `pattern_freq` (periods across the object) and
    `pattern_angle` (radians) parameterise the texture.
    """

    name: str
    shape: str
    primary: tuple
    secondary: tuple
    texture: str
    aspect: float
    pattern_freq: float = 3.0
    pattern_angle: float = 0.0

    def __post_init__(self):
        if self.shape not in SHAPES:
            raise ValueError(f"ObjectIdentity {self.name!r}: unknown shape {self.shape!r}, expected one of {SHAPES}")
        if self.texture not in TEXTURES:
            raise ValueError(f"ObjectIdentity {self.name!r}: unknown texture {self.texture!r}, "
                             f"expected one of {TEXTURES}")
        if not 0.1 <= self.aspect <= 1.0:
            raise ValueError(f"ObjectIdentity {self.name!r}: aspect must be in [0.1, 1], got {self.aspect}")

    @property
    def appearance(self) -> tuple:
        """Everything but the name: two identities with the same appearance are the same object."""
        return (self.shape, tuple(round(c, 3) for c in self.primary), tuple(round(c, 3) for c in self.secondary),
                self.texture, round(self.aspect, 3), round(self.pattern_freq, 3), round(self.pattern_angle, 3))

    @property
    def hue(self) -> float:
        """Hue of the primary colour in degrees [0, 360)."""
        return _rgb_to_hsv(self.primary)[0]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ObjectIdentity":
        d = dict(d)
        d["primary"], d["secondary"] = tuple(d["primary"]), tuple(d["secondary"])
        return cls(**d)


def _rgb_to_hsv(rgb) -> tuple:
    px = np.array([[rgb]], np.float32)
    h, s, v = cv2.cvtColor(px, cv2.COLOR_RGB2HSV)[0, 0]
    return float(h), float(s), float(v)


def _hsv_to_rgb(h: float, s: float, v: float) -> tuple:
    px = np.array([[[h % 360.0, s, v]]], np.float32)
    return tuple(round(float(c), 4) for c in cv2.cvtColor(px, cv2.COLOR_HSV2RGB)[0, 0])


def split_attributes(split: str) -> tuple[tuple, tuple, tuple]:
    """(shapes, hue bins, textures) an identity of `split` may use: train and test share none of the first two."""
    if split == "train":
        return TRAIN_SHAPES, tuple(range(0, HUE_BINS, 2)), TRAIN_TEXTURES
    if split == "test":
        return TEST_SHAPES, tuple(range(1, HUE_BINS, 2)), TEXTURES
    if split == "any":
        return SHAPES, tuple(range(HUE_BINS)), TEXTURES
    raise ValueError(f"split must be 'train', 'test' or 'any', got {split!r}")


def sample_identities(n: int, seed: int = 0, exclude: Iterable = (), split: str = "train",
                      class_names: Optional[Sequence[str]] = None) -> list[ObjectIdentity]:
    """`n` distinct identities named like the guide's classes ('Backpack_0', 'Helmet_1', ...).

    `exclude`: identities (or plain names) that must not be returned again, neither by appearance nor by name, e.g.
    the train identities when sampling the test split. `split` picks the attribute pool (`split_attributes`): with
    "train" and "test" the two sets differ in shape kind and primary hue, not only in name. `class_names` replaces
    the category words (the word is only a name; the index makes it unique).
    """
    rng = np.random.default_rng([int(seed), 7])
    shapes, hue_bins, textures = split_attributes(split)
    words = tuple(class_names) if class_names else CATEGORY_WORDS
    used_names, used_looks = set(), set()
    for e in exclude:
        if isinstance(e, ObjectIdentity):
            used_names.add(e.name)
            used_looks.add(e.appearance)
        else:
            used_names.add(str(e))
    out: list[ObjectIdentity] = []
    # cycle through shapes / hue bins so a small set still spans the pool
    shape_order = list(rng.permutation(len(shapes)))
    hue_order = list(rng.permutation(len(hue_bins)))
    k = 0
    while len(out) < n:
        k += 1
        if k > 100 * n + 100:
            raise RuntimeError(f"sample_identities: could not find {n} identities outside `exclude`")
        shape = shapes[shape_order[k % len(shapes)]]
        hbin = hue_bins[hue_order[k % len(hue_bins)]]
        hue = hbin * 360.0 / HUE_BINS + rng.uniform(-HUE_JITTER, HUE_JITTER)
        primary = _hsv_to_rgb(hue, rng.uniform(0.6, 1.0), rng.uniform(0.55, 0.95))
        if rng.random() < 0.5:
            secondary = tuple(float(c) for c in _ACHROMATIC[rng.integers(len(_ACHROMATIC))])
        else:
            secondary = _hsv_to_rgb(hue + rng.uniform(90, 270), rng.uniform(0.4, 1.0), rng.uniform(0.3, 0.95))
        texture = textures[rng.integers(len(textures))]
        lo, hi = _ASPECT[shape]
        word = words[rng.integers(len(words))]
        idx = 0
        while f"{word}_{idx}" in used_names:
            idx += 1
        ident = ObjectIdentity(name=f"{word}_{idx}", shape=shape, primary=primary, secondary=secondary,
                               texture=texture, aspect=round(float(rng.uniform(lo, hi)), 3),
                               pattern_freq=round(float(rng.uniform(2.0, 4.0)), 3),
                               pattern_angle=round(float(rng.uniform(0, math.pi)), 3))
        if ident.appearance in used_looks:
            continue
        used_names.add(ident.name)
        used_looks.add(ident.appearance)
        out.append(ident)
    return out


# ----------------------------------------------------------------------------------------------------------------
# Sprites: one object drawn at a given size and angle, antialiased by supersampling
# ----------------------------------------------------------------------------------------------------------------
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
    raise ValueError(f"unknown shape {kind!r}")


def _texture(ident: ObjectIdentity, u: np.ndarray, v: np.ndarray, edge: np.ndarray) -> np.ndarray:
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
    raise ValueError(f"unknown texture {kind!r}")


def render_sprite(ident: ObjectIdentity, length: float, angle: float = 0.0, light_dir: float = -2.3,
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


def _paste(dst: np.ndarray, src: np.ndarray, alpha: np.ndarray, cx: float, cy: float) -> Optional[tuple]:
    """Alpha-composite `src` centred at (cx, cy) into `dst` in place; returns the (y0, y1, x0, x1) region or None."""
    h, w = alpha.shape
    x0, y0 = int(round(cx - w / 2)), int(round(cy - h / 2))
    X0, Y0, X1, Y1 = max(x0, 0), max(y0, 0), min(x0 + w, dst.shape[1]), min(y0 + h, dst.shape[0])
    if X1 <= X0 or Y1 <= Y0:
        return None
    a = alpha[Y0 - y0:Y1 - y0, X0 - x0:X1 - x0]
    if dst.ndim == 3:
        a = a[..., None]
    dst[Y0:Y1, X0:X1] = dst[Y0:Y1, X0:X1] * (1 - a) + src[Y0 - y0:Y1 - y0, X0 - x0:X1 - x0] * a
    return Y0, Y1, X0, X1


def _darken(dst: np.ndarray, alpha: np.ndarray, cx: float, cy: float, strength: float) -> None:
    """Multiply `dst` by (1 - strength * alpha) with `alpha` centred at (cx, cy): a soft shadow, in place."""
    h, w = alpha.shape
    x0, y0 = int(round(cx - w / 2)), int(round(cy - h / 2))
    X0, Y0, X1, Y1 = max(x0, 0), max(y0, 0), min(x0 + w, dst.shape[1]), min(y0 + h, dst.shape[0])
    if X1 > X0 and Y1 > Y0:
        dst[Y0:Y1, X0:X1] *= (1 - strength * alpha[Y0 - y0:Y1 - y0, X0 - x0:X1 - x0])[..., None]


# ----------------------------------------------------------------------------------------------------------------
# Ground, trees, clouds
# ----------------------------------------------------------------------------------------------------------------
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


# ----------------------------------------------------------------------------------------------------------------
# Camera path and planning
# ----------------------------------------------------------------------------------------------------------------
PARALLAX = 1.12      # tree crowns are closer to the camera than the ground: they move 12% faster in the image


@dataclass
class CameraPath:
    """Per-frame camera: centre (n, 2) in world px, heading (n,) radians, zoom (n,) image px per world px."""

    center: np.ndarray
    heading: np.ndarray
    zoom: np.ndarray

    def matrix(self, i: int, width: int, height: int, gain: float = 1.0) -> np.ndarray:
        """2x3 affine world -> image of frame i (gain > 1 for layers above the ground)."""
        z = self.zoom[i] * gain
        c, s = math.cos(self.heading[i]), math.sin(self.heading[i])
        A = z * np.array([[c, -s], [s, c]])
        o = np.array([width / 2, height / 2]) - A @ self.center[i]
        return np.hstack([A, o[:, None]])

    def shift(self, d: np.ndarray) -> None:
        self.center = self.center + d


def _sample_path(rng: np.random.Generator, n: int, W: int, H: int) -> CameraPath:
    t = np.linspace(0, 1, n)[:, None]
    phi = rng.uniform(0, 2 * np.pi)
    u = np.array([math.cos(phi), math.sin(phi)])
    v = np.array([-u[1], u[0]])
    travel = rng.uniform(0.5, 1.3) * W
    lat, k1, p1 = rng.uniform(0.1, 0.35) * W, rng.uniform(0.6, 2.2), rng.uniform(0, 2 * np.pi)
    lon, k2, p2 = rng.uniform(0.0, 0.2) * W, rng.uniform(0.5, 1.5), rng.uniform(0, 2 * np.pi)
    center = travel * (t - 0.5) * u + lat * np.sin(2 * np.pi * k1 * t + p1) * v + \
        lon * np.sin(2 * np.pi * k2 * t + p2) * u
    t = t[:, 0]
    heading = rng.uniform(-np.pi, np.pi) + math.radians(5) * np.sin(2 * np.pi * rng.uniform(0.3, 1) * t +
                                                                    rng.uniform(0, 2 * np.pi))
    zoom = 1.0 + 0.1 * np.sin(2 * np.pi * rng.uniform(0.3, 1.0) * t + rng.uniform(0, 2 * np.pi))
    return CameraPath(center, heading, zoom)


def _project(path: CameraPath, pts: np.ndarray, W: int, H: int, gain: float = 1.0) -> np.ndarray:
    """World points (m, 2) -> image points (n, m, 2) for every frame."""
    z = path.zoom * gain
    c, s = np.cos(path.heading), np.sin(path.heading)
    d = pts[None] - path.center[:, None]                                   # (n, m, 2)
    x = z[:, None] * (c[:, None] * d[..., 0] - s[:, None] * d[..., 1]) + W / 2
    y = z[:, None] * (s[:, None] * d[..., 0] + c[:, None] * d[..., 1]) + H / 2
    return np.stack([x, y], -1)


def runs_of(flags: np.ndarray) -> list[tuple[int, int]]:
    """Contiguous (first, last) index ranges where `flags` is true."""
    out, start = [], None
    for i, f in enumerate(list(flags) + [False]):
        if f and start is None:
            start = i
        elif not f and start is not None:
            out.append((start, i - 1))
            start = None
    return out


def intervals_ok(vis: np.ndarray, min_visible: float = 0.3) -> tuple[bool, int]:
    """Is a per-frame visible-fraction curve a good video? 1-3 stretches of at least max(2, n/25) frames each,
    visible in 20-85% of the frames (so there are gaps). Returns (ok, number of stretches)."""
    n = len(vis)
    runs = runs_of(vis >= min_visible)
    frac = float((vis >= min_visible).mean())
    ok = 1 <= len(runs) <= 3 and all(b - a + 1 >= max(2, n // 25) for a, b in runs) and 0.2 <= frac <= 0.85
    return ok, len(runs)


@dataclass
class Placement:
    """An object on the ground: identity, world centre, long side in world px, angle (radians), label id."""

    identity: ObjectIdentity
    center: np.ndarray
    length: float
    angle: float
    label: int


@dataclass
class VideoPlan:
    path: CameraPath
    objects: list[Placement]              # objects[0] is the target (label 1)
    trees: list[tuple[float, float, float]]   # (x, y, r) crowns on the tree layer, world px
    world_size: tuple[int, int]           # (h, w)
    expected_visible: np.ndarray          # (n,) planned visible fraction of the target


def _visible_fraction(path, pts, trees, W, H) -> np.ndarray:
    """Fraction of the target's pixels (world points pts) inside the frame and not under a tree crown, per frame."""
    img = _project(path, pts, W, H)                                        # (n, m, 2)
    inside = (img[..., 0] >= 0) & (img[..., 0] < W) & (img[..., 1] >= 0) & (img[..., 1] < H)
    if trees:
        # the tree-layer point drawn over image point p: q = c + R^T (p - o) / (z * PARALLAX)
        q = path.center[:, None] + (pts[None] - path.center[:, None]) / PARALLAX
        tr = np.array(trees)
        d2 = (q[..., None, 0] - tr[:, 0]) ** 2 + (q[..., None, 1] - tr[:, 1]) ** 2
        inside &= ~(d2 < (0.95 * tr[:, 2]) ** 2).any(-1)
    return inside.mean(1)


def plan_video(rng: np.random.Generator, target: ObjectIdentity, distractors: Sequence[ObjectIdentity], n: int,
               W: int, H: int, object_size: tuple[float, float], min_visible: float = 0.3) -> VideoPlan:
    """Choose a camera path, where the target and distractors lie, and tree crowns, so that the target is visible
    in 1-3 stretches of frames with gaps between them (out of frame or under a crown)."""
    lo, hi = object_size
    angle = float(rng.uniform(0, 2 * np.pi))
    L0 = 40.0
    _, a0 = render_sprite(target, L0, angle, ss=2)
    yy, xx = np.nonzero(a0 > 0.5)
    pts0 = np.stack([xx - a0.shape[1] / 2 + 0.5, yy - a0.shape[0] / 2 + 0.5], 1).astype(np.float64)
    want = int(rng.choice([1, 2, 3], p=[0.3, 0.4, 0.3]))
    best = None
    for attempt in range(400):
        path = _sample_path(rng, n, W, H)
        # size: the box's longest side over the path must stay within [lo, hi]
        img = _project(CameraPath(np.zeros_like(path.center), path.heading, path.zoom), pts0, 0, 0)
        ext = np.maximum(np.ptp(img[..., 0], 1), np.ptp(img[..., 1], 1)) + 1.0      # (n,) at length L0
        r_lo, r_hi = lo / ext.min(), hi / ext.max()
        scale = math.exp(rng.uniform(math.log(min(r_lo, r_hi)), math.log(max(r_lo, r_hi)))) if r_lo <= r_hi \
            else math.sqrt(r_lo * r_hi)
        length = L0 * scale
        pts = pts0 * scale
        ts = int(rng.integers(int(0.15 * n), max(int(0.85 * n), int(0.15 * n) + 1)))
        off = np.array([rng.uniform(-0.35, 0.35) * W, rng.uniform(-0.35, 0.35) * H])
        c, s = math.cos(path.heading[ts]), math.sin(path.heading[ts])
        pos = path.center[ts] + np.array([[c, s], [-s, c]]) @ off / path.zoom[ts]
        trees = []
        span = np.ptp(path.center, 0) + np.array([W, W])
        for _ in range(int(rng.integers(2, 10))):
            trees.append((*(path.center.mean(0) + (rng.random(2) - 0.5) * span), float(rng.uniform(12, 35))))
        if rng.random() < 0.6:   # a crown that passes over the target by parallax at some frame
            to = int(rng.integers(0, n))
            q = path.center[to] + (pos - path.center[to]) / PARALLAX
            trees.append((float(q[0]), float(q[1]), float(rng.uniform(0.8, 1.6) * length)))
        vis = _visible_fraction(path, pts + pos, trees, W, H)
        good, n_runs = intervals_ok(vis, min_visible)
        if good and (n_runs == want or attempt >= 200):
            best = (path, pos, length, trees, vis)
            break
        if best is None and n_runs:
            best = (path, pos, length, trees, vis)
    if best is None:
        raise RuntimeError(f"plan_video: could not place target {target.name} in view ({n} frames, {W}x{H})")
    path, pos, length, trees, vis = best
    objects = [Placement(target, pos, length, angle, 1)]
    # distractors: some near the target (hard negatives seen together), the rest where the camera passes
    for j, ident in enumerate(distractors):
        for _ in range(50):
            L = math.exp(rng.uniform(math.log(lo), math.log(hi))) * length / max(lo, min(hi, length))
            L = float(np.clip(L, 0.7 * length * lo / hi + 0.3 * lo, 1.6 * length))
            if rng.random() < 0.5:
                ang = rng.uniform(0, 2 * np.pi)
                p = pos + rng.uniform(2.0, 5.0) * length * np.array([math.cos(ang), math.sin(ang)])
            else:
                tf = int(rng.integers(0, n))
                off = np.array([rng.uniform(-0.4, 0.4) * W, rng.uniform(-0.4, 0.4) * H])
                c, s = math.cos(path.heading[tf]), math.sin(path.heading[tf])
                p = path.center[tf] + np.array([[c, s], [-s, c]]) @ off / path.zoom[tf]
            if all(np.hypot(*(p - o.center)) > 0.8 * (L + o.length) for o in objects):
                objects.append(Placement(ident, p, L, float(rng.uniform(0, 2 * np.pi)), j + 2))
                break
    # world canvas: every view footprint and object, plus a margin; shift everything to start at (0, 0)
    corners = np.array([[0, 0], [W, 0], [0, H], [W, H]], np.float64) - [W / 2, H / 2]
    c, s = np.cos(path.heading), np.sin(path.heading)
    wx = path.center[:, None, 0] + (c[:, None] * corners[:, 0] + s[:, None] * corners[:, 1]) / path.zoom[:, None]
    wy = path.center[:, None, 1] + (-s[:, None] * corners[:, 0] + c[:, None] * corners[:, 1]) / path.zoom[:, None]
    allx = np.concatenate([wx.ravel(), [o.center[0] for o in objects]])
    ally = np.concatenate([wy.ravel(), [o.center[1] for o in objects]])
    margin = 2 * hi + 8
    mn = np.array([allx.min() - margin, ally.min() - margin])
    size = (int(math.ceil(ally.max() + margin - mn[1])), int(math.ceil(allx.max() + margin - mn[0])))
    path.shift(-mn)
    for o in objects:
        o.center = o.center - mn
    trees = [(x - mn[0], y - mn[1], r) for x, y, r in trees]
    return VideoPlan(path, objects, trees, size, vis)


# ----------------------------------------------------------------------------------------------------------------
# Scene: the world painted once, frames rendered by warping it
# ----------------------------------------------------------------------------------------------------------------
@dataclass
class RenderedFrame:
    """One frame: `image` uint8 (H, W, 3) RGB; `labels` uint8 (H, W) id of the object whose pixels are visible
    (0 = none, 1 = the target, 2.. = distractors); `visible` {label: visible fraction of its full area}."""

    image: np.ndarray
    labels: np.ndarray
    visible: dict = field(default_factory=dict)

    def box(self, label: int = 1, min_visible: float = 0.3, min_pixels: int = 4) -> Optional[tuple]:
        """Tight (x1, y1, x2, y2) box of the label's visible pixels (x2, y2 exclusive), or None when hidden."""
        if self.visible.get(label, 0.0) < min_visible:
            return None
        m = (self.labels == label).astype(np.uint8)
        if int(m.sum()) < min_pixels:
            return None
        x, y, w, h = cv2.boundingRect(m)
        return (x, y, x + w, y + h) if w >= 2 and h >= 2 else None


class VideoScene:
    """A planned video made concrete: world canvas (ground + objects), tree layer, cloud shadows, camera effects."""

    def __init__(self, plan: VideoPlan, width: int, height: int, rng: np.random.Generator, detail: float = 1.0):
        self.plan, self.W, self.H = plan, width, height
        h, w = plan.world_size
        self.ground = make_ground(h, w, rng, detail)
        self.labels = np.zeros((h, w), np.uint8)
        sun = rng.uniform(0, 2 * np.pi)
        self.sun = np.array([math.cos(sun), math.sin(sun)])
        # clutter: bushes and stones the size of small objects, so "a blob" is not enough to be the target
        for _ in range(int(rng.poisson(h * w / 25_000))):
            cx, cy = rng.uniform([0, 0], [w, h])
            r = float(rng.uniform(2, 7))
            col = (rng.uniform(0.12, 0.25), rng.uniform(0.22, 0.32), rng.uniform(0.08, 0.14)) if rng.random() < 0.7 \
                else (rng.uniform(0.5, 0.7),) * 3
            axes = (int(r), int(r * rng.uniform(0.6, 1.0)))
            cv2.ellipse(self.ground, (int(cx + 0.4 * r * self.sun[0]), int(cy + 0.4 * r * self.sun[1])), axes, 0, 0,
                        360, (0.1, 0.12, 0.08), -1, cv2.LINE_AA)
            cv2.ellipse(self.ground, (int(cx), int(cy)), axes, float(rng.uniform(0, 180)), 0, 360, col, -1,
                        cv2.LINE_AA)
        self.n_pixels = {}
        for o in plan.objects:
            rgb, alpha = render_sprite(o.identity, o.length, o.angle, light_dir=sun + np.pi, ss=3)
            # soft shadow on the ground, then the object; the label map marks the object's own pixels only
            sh = cv2.GaussianBlur(alpha, (0, 0), max(o.length / 25, 0.6))
            d = 0.12 * o.length * self.sun
            _darken(self.ground, sh, o.center[0] + d[0], o.center[1] + d[1], 0.4)
            reg = _paste(self.ground, rgb, alpha, *o.center)
            if reg is not None:
                y0, y1, x0, x1 = reg
                hh, ww = alpha.shape
                ox, oy = int(round(o.center[0] - ww / 2)), int(round(o.center[1] - hh / 2))
                a = alpha[y0 - oy:y1 - oy, x0 - ox:x1 - ox] > 0.5
                self.labels[y0:y1, x0:x1][a] = o.label
                self.n_pixels[o.label] = int(a.sum())
        canopy, calpha = np.zeros((h, w, 3), np.float32), np.zeros((h, w), np.float32)
        for x, y, r in plan.trees:
            # crown shadow on the ground (the crown itself is on the parallax layer)
            d = int(2 * r + 6)
            disc = np.zeros((d, d), np.float32)
            cv2.circle(disc, (d // 2, d // 2), int(0.9 * r), 1.0, -1, cv2.LINE_AA)
            disc = cv2.GaussianBlur(disc, (0, 0), max(r / 6, 1.0))
            sx, sy = x + 0.6 * r * self.sun[0], y + 0.6 * r * self.sun[1]
            _darken(self.ground, disc, sx, sy, 0.4)
            _tree_canopy(canopy, calpha, x, y, r, rng)
        # warping uint8 canvases is several times faster than float32 ones
        self.ground_u8 = (np.clip(self.ground, 0, 1) * 255 + 0.5).astype(np.uint8)
        del self.ground
        self.tree_rgb = (np.clip(canopy, 0, 1) * 255 + 0.5).astype(np.uint8)
        self.tree_alpha = calpha
        self.has_trees = bool(plan.trees)
        # clouds: a coarse shadow field drifting over the ground
        self.cloud_scale = 8
        ch, cw = h // self.cloud_scale + 2, w // self.cloud_scale + 2
        self.clouds = value_noise(ch, cw, rng, 12, 2)
        self.cloud_strength = float(rng.choice([0.0, rng.uniform(0.15, 0.35)]))
        self.cloud_drift = rng.normal(0, 1, 2) * rng.uniform(0.5, 2.0)      # world px per frame
        # camera / sensor
        n = len(plan.path.zoom)
        tt = np.linspace(0, 1, n)
        self.gain = rng.uniform(0.9, 1.1) * (1 + 0.06 * np.sin(2 * np.pi * rng.uniform(0.2, 1) * tt +
                                                                rng.uniform(0, 6.3)))
        self.tint = np.array([rng.uniform(0.94, 1.06), 1.0, rng.uniform(0.92, 1.06)], np.float32)
        yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
        rr = ((xx - width / 2) / (width / 2)) ** 2 + ((yy - height / 2) / (height / 2)) ** 2
        self.vignette = (1.0 - rng.uniform(0.05, 0.18) * rr / 2).astype(np.float32)
        self.blur = float(rng.uniform(0.55, 0.95))
        self._pad = 32
        self.noise_tile = rng.standard_normal((height + self._pad, width + self._pad, 3), np.float32) * \
            float(rng.uniform(0.004, 0.01))
        self.noise_rng = np.random.default_rng(int(rng.integers(1 << 31)))

    def __len__(self) -> int:
        return len(self.plan.path.zoom)

    def render(self, i: int) -> RenderedFrame:
        W, H, path = self.W, self.H, self.plan.path
        M = path.matrix(i, W, H)
        img = cv2.warpAffine(self.ground_u8, M, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        img = img.astype(np.float32)
        lab = cv2.warpAffine(self.labels, M, (W, H), flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT)
        if self.has_trees:
            Mt = path.matrix(i, W, H, gain=PARALLAX)
            a = cv2.warpAffine(self.tree_alpha, Mt, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
            if a.max() > 0:
                tr = cv2.warpAffine(self.tree_rgb, Mt, (W, H), flags=cv2.INTER_LINEAR,
                                    borderMode=cv2.BORDER_CONSTANT)
                img = cv2.blendLinear(img, tr.astype(np.float32), 1.0 - a, a)
                lab[a >= 0.5] = 0
        light = self.vignette * self.gain[i]                       # (H, W) multiplicative light of this frame
        if self.cloud_strength > 0:
            k = self.cloud_scale
            # cloud canvas q -> world k*q + drift*i -> image, evaluated at 1/k resolution then upsampled
            A = M[:, :2]
            off = (A @ (self.cloud_drift * i) + M[:, 2]) / k
            cl = cv2.warpAffine(self.clouds, np.hstack([A, off[:, None]]), (W // k + 1, H // k + 1),
                                flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
            cl = cv2.resize(cl, (W, H), interpolation=cv2.INTER_LINEAR)
            light = light * (1.0 - self.cloud_strength * np.clip((cl - 0.45) * 4, 0, 1))
        img *= light[..., None] * (self.tint / 255.0)
        img = cv2.GaussianBlur(img, (0, 0), self.blur)
        # sensor noise: a random crop of a fixed noise tile (drawing fresh noise every frame is the slow part)
        dy, dx = self.noise_rng.integers(0, self._pad, 2)
        img += self.noise_tile[dy:dy + H, dx:dx + W]
        image = cv2.convertScaleAbs(img, alpha=255.0)             # saturating cast to uint8
        z2 = path.zoom[i] ** 2
        visible = {}
        counts = np.bincount(lab.ravel(), minlength=len(self.plan.objects) + 2)
        for o in self.plan.objects:
            full = self.n_pixels.get(o.label, 0) * z2
            visible[o.label] = float(min(counts[o.label] / full, 1.0)) if full > 0 else 0.0
        return RenderedFrame(image, lab, visible)

    def visible_fractions(self, label: int = 1) -> np.ndarray:
        """(n,) visible fraction of an object in every frame, from the label map and tree crowns only (cheap)."""
        W, H, path = self.W, self.H, self.plan.path
        full = self.n_pixels.get(label, 0)
        out = np.zeros(len(self), np.float32)
        if full == 0:
            return out
        for i in range(len(self)):
            lab = cv2.warpAffine(self.labels, path.matrix(i, W, H), (W, H), flags=cv2.INTER_NEAREST,
                                 borderMode=cv2.BORDER_CONSTANT) == label
            if self.has_trees:
                a = cv2.warpAffine(self.tree_alpha, path.matrix(i, W, H, gain=PARALLAX), (W, H),
                                   flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
                lab &= a < 0.5
            out[i] = min(float(lab.sum()) / (full * path.zoom[i] ** 2), 1.0)
        return out

    def frames(self) -> Iterator[RenderedFrame]:
        for i in range(len(self)):
            yield self.render(i)


def make_video_scene(target: ObjectIdentity, distractors: Sequence[ObjectIdentity], n_frames: int, width: int,
                     height: int, seed, object_size: Optional[tuple] = None, min_visible: float = 0.3,
                     detail: float = 1.0) -> VideoScene:
    """Plan and build one video's scene, deterministic for `seed` (an int or a sequence of ints)."""
    if n_frames < 2:
        raise ValueError(f"n_frames must be at least 2, got {n_frames}")
    if width < 32 or height < 32:
        raise ValueError(f"frame size must be at least 32x32, got {width}x{height}")
    for d in distractors:
        if d.appearance == target.appearance:
            raise ValueError(f"distractor {d.name!r} has the target {target.name!r}'s appearance")
    rng = np.random.default_rng(seed)
    size = object_size or default_object_size(width)
    # the plan approximates visibility (point samples, crowns as discs); the built scene is checked exactly and
    # re-planned in the rare case its stretches of visibility break the 1-3 interval rule
    for _ in range(6):
        plan = plan_video(rng, target, distractors, n_frames, width, height, size, min_visible)
        scene = VideoScene(plan, width, height, rng, detail)
        if intervals_ok(scene.visible_fractions(1), min_visible)[0]:
            break
    return scene


def default_object_size(width: int) -> tuple[float, float]:
    """(min, max) longest box side: 12-60 px in a 640-wide frame, scaled with the width."""
    return 12.0 * width / 640, 60.0 * width / 640


# ----------------------------------------------------------------------------------------------------------------
# Reference images
# ----------------------------------------------------------------------------------------------------------------
_FLOORS = ((0.55, 0.55, 0.53), (0.45, 0.36, 0.26), (0.33, 0.45, 0.2), (0.3, 0.3, 0.32), (0.7, 0.66, 0.58))


def render_reference(ident: ObjectIdentity, rng: np.random.Generator, size_range=(120, 220)) -> np.ndarray:
    """A close-up photo of the object (uint8 RGB, sides in `size_range`): other angle, tilt (perspective), scale,
    light and colour balance than in the video; visible thickness; on a plain or blurred ground background."""
    Hc = int(rng.integers(size_range[0], size_range[1] + 1))
    Wc = int(np.clip(Hc * rng.uniform(0.8, 1.3), size_range[0], size_range[1]))
    L = min(Hc, Wc) * rng.uniform(0.5, 0.72)
    angle = float(rng.uniform(0, 2 * np.pi))
    rgb, alpha = render_sprite(ident, L, angle, light_dir=float(rng.uniform(0, 2 * np.pi)), ss=2)
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


# ----------------------------------------------------------------------------------------------------------------
# Dataset writers
# ----------------------------------------------------------------------------------------------------------------
META_NAME = "synth_meta.json"


def _write_jpg(path: Path, rgb: np.ndarray, quality: int = 90) -> None:
    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]):
        raise OSError(f"could not write image {path}")


def _prepare_out(out: Path, overwrite: bool) -> None:
    ann = out / "annotations" / "annotations.json"
    if (ann.exists() or (out / "samples").exists()) and not overwrite:
        raise FileExistsError(f"{out} already holds a dataset (samples/ or annotations/); pass overwrite=True "
                              f"to replace it")
    for sub in ("samples", "annotations"):
        if (out / sub).exists():
            shutil.rmtree(out / sub)
    (out / "samples").mkdir(parents=True)
    (out / "annotations").mkdir(parents=True)


def _intervals(boxes: dict[int, tuple]) -> list[dict]:
    """Annotation entries, one per run of consecutive annotated frames."""
    frames = sorted(boxes)
    out, cur = [], []
    for f in frames:
        if cur and f != cur[-1] + 1:
            out.append(cur)
            cur = []
        cur.append(f)
    if cur:
        out.append(cur)
    return [{"bboxes": [{"frame": int(f), "x1": int(boxes[f][0]), "y1": int(boxes[f][1]), "x2": int(boxes[f][2]),
                         "y2": int(boxes[f][3])} for f in run]} for run in out]


def generate_dataset(out_dir, n_videos: int = 8, n_frames: int = 150, seed: int = 0, width: int = 640,
                     height: int = 360, fps: float = 25, identities: Optional[Sequence[ObjectIdentity]] = None,
                     n_refs: int = 3, n_distractors: int = 3, class_names: Optional[Sequence[str]] = None, *,
                     split: str = "train", exclude: Iterable = (), object_size: Optional[tuple] = None,
                     min_visible: float = 0.3, detail: float = 1.0, overwrite: bool = False,
                     progress: bool = False) -> Path:
    """Write a synthetic dataset in the guide's layout under `out_dir` and return `out_dir` as a Path.

    One video per identity (`video_id` = identity name, made unique with a suffix if identities repeat).
    identities: the targets; default `sample_identities(n_videos, seed, exclude, split, class_names)`.
    n_distractors: other identities on the ground of every video, drawn from the other targets and extra
    identities of the same split (never the target's appearance).
    object_size: (min, max) longest box side in px (default 12-60 scaled to the width).
    min_visible: a frame gets a box when at least this fraction of the target's area is visible.
    detail: amplitude of fine ground texture (lower -> smaller mp4 files).
    overwrite: replace `samples/` and `annotations/` of an existing dataset in `out_dir` (else FileExistsError).
    Also writes `<out>/synth_meta.json` (identities, distractors, seeds) beside the guide's folders.
    """
    out = Path(out_dir)
    if n_videos < 1 or n_frames < 2 or n_refs < 0 or n_distractors < 0:
        raise ValueError(f"generate_dataset: need n_videos >= 1, n_frames >= 2, n_refs >= 0, n_distractors >= 0; "
                         f"got {n_videos}, {n_frames}, {n_refs}, {n_distractors}")
    exclude = list(exclude)
    if identities is None:
        identities = sample_identities(n_videos, seed, exclude, split, class_names)
    identities = list(identities)
    if not identities:
        raise ValueError("generate_dataset: `identities` is empty")
    targets = [identities[i % len(identities)] for i in range(n_videos)]
    extras = sample_identities(max(2 * n_distractors, 4), seed + 1_000_003, list(identities) + exclude, split,
                               class_names)
    _prepare_out(out, overwrite)
    entries, meta = [], {"seed": seed, "n_frames": n_frames, "width": width, "height": height, "fps": fps,
                         "split": split, "videos": []}
    seen: dict[str, int] = {}
    for i, target in enumerate(targets):
        vid = target.name if target.name not in seen else f"{target.name}_v{seen[target.name]}"
        seen[target.name] = seen.get(target.name, 0) + 1
        rng = np.random.default_rng([int(seed), i, 1])
        pool = [d for d in list(identities) + extras if d.appearance != target.appearance]
        pool = list({d.appearance: d for d in pool}.values())
        distractors = [pool[j] for j in rng.permutation(len(pool))[:n_distractors]]
        scene = make_video_scene(target, distractors, n_frames, width, height, [int(seed), i, 2], object_size,
                                 min_visible, detail)
        vdir = out / "samples" / vid
        (vdir / REF_DIR).mkdir(parents=True)
        writer = cv2.VideoWriter(str(vdir / VIDEO_NAME), cv2.VideoWriter_fourcc(*"mp4v"), float(fps),
                                 (width, height))
        if not writer.isOpened():
            raise OSError(f"OpenCV cannot write mp4v video {vdir / VIDEO_NAME}")
        boxes = {}
        for f in range(n_frames):
            fr = scene.render(f)
            writer.write(cv2.cvtColor(fr.image, cv2.COLOR_RGB2BGR))
            b = fr.box(1, min_visible)
            if b is not None:
                boxes[f] = b
        writer.release()
        for k in range(n_refs):
            _write_jpg(vdir / REF_DIR / f"img_{k + 1}.jpg", render_reference(target, rng))
        entries.append({"video_id": vid, "annotations": _intervals(boxes)})
        meta["videos"].append({"video_id": vid, "target": target.to_dict(),
                               "distractors": [d.to_dict() for d in distractors]})
        if progress:
            print(f"[synth] {vid}: {len(boxes)}/{n_frames} frames with a box, "
                  f"{len(entries[-1]['annotations'])} interval(s)")
    (out / "annotations" / "annotations.json").write_text(json.dumps(entries, indent=1))
    (out / META_NAME).write_text(json.dumps(meta, indent=1))
    return out


def load_meta(root) -> dict:
    """The generator's side file: identities of each video's target and distractors."""
    p = Path(root) / META_NAME
    if not p.exists():
        raise FileNotFoundError(f"{p}: not a dataset written by generate_dataset (no {META_NAME})")
    meta = json.loads(p.read_text())
    for v in meta["videos"]:
        v["target"] = ObjectIdentity.from_dict(v["target"])
        v["distractors"] = [ObjectIdentity.from_dict(d) for d in v["distractors"]]
    return meta


def write_base_set(out_dir, n_images: int = 96, identities: Optional[Sequence[ObjectIdentity]] = None,
                   n_classes: int = 6, imgsz: int = 320, seed: int = 0, val_fraction: float = 0.25,
                   objects_per_image: tuple[int, int] = (1, 4), split: str = "train",
                   object_size: Optional[tuple] = None) -> Path:
    """A small YOLO-format detection set for stage-1 base training; returns the path of its data.yaml.

    images/{train,val}/*.jpg, labels/{train,val}/*.txt ("class cx cy w h", normalised), data.yaml with the class
    names (the identities' names). Every image is a drone-like view with 1..k objects of the classes.
    """
    import yaml

    out = Path(out_dir)
    ids = list(identities) if identities is not None else sample_identities(n_classes, seed, split=split)
    rng = np.random.default_rng([int(seed), 99])
    n_val = int(round(n_images * val_fraction))
    size = object_size or default_object_size(imgsz * 2)
    for sub in ("train", "val"):
        (out / "images" / sub).mkdir(parents=True, exist_ok=True)
        (out / "labels" / sub).mkdir(parents=True, exist_ok=True)
    for i in range(n_images):
        sub = "val" if i < n_val else "train"
        k = int(rng.integers(objects_per_image[0], objects_per_image[1] + 1))
        chosen = [ids[j] for j in rng.choice(len(ids), size=min(k, len(ids)), replace=False)]
        W = H = imgsz
        path = CameraPath(np.array([[W * 0.75, H * 0.75]]), np.array([rng.uniform(-np.pi, np.pi)]),
                          np.array([rng.uniform(0.9, 1.1)]))
        objects = []
        for j, ident in enumerate(chosen):
            for _ in range(50):
                L = math.exp(rng.uniform(math.log(size[0]), math.log(size[1] / 1.45)))
                p = path.center[0] + rng.uniform(-0.4, 0.4, 2) * [W, H]
                if all(np.hypot(*(p - o.center)) > 0.8 * (L + o.length) for o in objects):
                    objects.append(Placement(ident, p, L, float(rng.uniform(0, 2 * np.pi)), j + 1))
                    break
        plan = VideoPlan(path, objects, [], (int(H * 1.5), int(W * 1.5)), np.ones(1))
        fr = VideoScene(plan, W, H, rng).render(0)
        lines = []
        for o in objects:
            b = fr.box(o.label, min_visible=0.3)
            if b is not None:
                x1, y1, x2, y2 = b
                lines.append(f"{ids.index(o.identity)} {(x1 + x2) / 2 / W:.6f} {(y1 + y2) / 2 / H:.6f} "
                             f"{(x2 - x1) / W:.6f} {(y2 - y1) / H:.6f}")
        _write_jpg(out / "images" / sub / f"{i:05d}.jpg", fr.image, 92)
        (out / "labels" / sub / f"{i:05d}.txt").write_text("\n".join(lines) + ("\n" if lines else ""))
    data = {"path": str(out.resolve()), "train": "images/train", "val": "images/val",
            "names": {j: ident.name for j, ident in enumerate(ids)}}
    yml = out / "data.yaml"
    yml.write_text(yaml.safe_dump(data, sort_keys=False))
    return yml


# ----------------------------------------------------------------------------------------------------------------
# The committed samples
# ----------------------------------------------------------------------------------------------------------------
DATA_SAMPLES = dict(train=dict(n_videos=8, n_frames=150, seed=0), test=dict(n_videos=4, n_frames=150, seed=1000))


def seen_identities(root) -> list[ObjectIdentity]:
    """Every identity a generated dataset shows (targets and distractors), from its synth_meta.json."""
    vids = load_meta(root)["videos"]
    return [d for v in vids for d in [v["target"], *v["distractors"]]]


def make_training_set(out_dir, avoid=("data_samples/test",), n_videos: int = 48, n_frames: int = 60,
                      seed: int = 2000, detail: float = 0.5, overwrite: bool = False, progress: bool = False,
                      split: str = "train") -> Path:
    """A larger train split for few-shot learning: many train-split identities (shapes, hues and the zigzag texture
    of the test split never used), none of them shown in the generated datasets `avoid` (targets or distractors).

    A matcher learns to compare from variety: data_samples/train has 8 identities, which a model memorises.
    split="test" makes more *novel* videos instead (test-split shapes and hues), e.g. a larger test set than
    data_samples/test's 4 videos, so that two models can be told apart from noise.
    Returns `out_dir`; reuses an existing set made with the same settings unless `overwrite`.
    """
    out = Path(out_dir)
    settings = {"n_videos": n_videos, "n_frames": n_frames, "seed": seed, "detail": detail,
                "avoid": [str(a) for a in avoid]} | ({"split": split} if split != "train" else {})
    stamp = out / "training_set.json"
    if not overwrite and stamp.exists() and json.loads(stamp.read_text()) == settings:
        return out
    exclude = [i for a in avoid for i in seen_identities(a)]
    generate_dataset(out, n_videos=n_videos, n_frames=n_frames, seed=seed, width=640, height=360, fps=25,
                     split=split, exclude=exclude, detail=detail, overwrite=True, progress=progress)
    stamp.write_text(json.dumps(settings))
    return out


def make_data_samples(root="data_samples", detail: float = 0.5) -> Path:
    """Regenerate `data_samples/` exactly: train (8 videos, seed 0, train identities) and test (4 videos, seed 1000,
    identities with shapes and hues never used in train)."""
    root = Path(root)
    tr = DATA_SAMPLES["train"]
    train_ids = sample_identities(tr["n_videos"], tr["seed"], split="train")
    generate_dataset(root / "train", identities=train_ids, width=640, height=360, fps=25, split="train",
                     detail=detail, overwrite=True, **tr)
    te = DATA_SAMPLES["test"]
    # every identity the train split shows (targets and distractors) is excluded from the test split
    seen = [v["target"] for v in load_meta(root / "train")["videos"]]
    seen += [d for v in load_meta(root / "train")["videos"] for d in v["distractors"]]
    test_ids = sample_identities(te["n_videos"], te["seed"], exclude=seen, split="test")
    generate_dataset(root / "test", identities=test_ids, width=640, height=360, fps=25, split="test",
                     exclude=seen, detail=detail, overwrite=True, **te)
    return root
