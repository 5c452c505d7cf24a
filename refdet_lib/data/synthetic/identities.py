"""Object identities: what one object looks like (shape kind, colours, texture, aspect), sampled from disjoint
attribute pools for the train and test splits so the test split measures generalisation to objects never seen."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Iterable, Optional, Sequence

import cv2
import numpy as np

from ...errors import InputError
from .shapes import render_sprite

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
            raise InputError(f"ObjectIdentity {self.name!r}: unknown shape {self.shape!r}, expected one of {SHAPES}")
        if self.texture not in TEXTURES:
            raise InputError(f"ObjectIdentity {self.name!r}: unknown texture {self.texture!r}, "
                             f"expected one of {TEXTURES}")
        if not 0.1 <= self.aspect <= 1.0:
            raise InputError(f"ObjectIdentity {self.name!r}: aspect must be in [0.1, 1], got {self.aspect}")

    @property
    def appearance(self) -> tuple:
        """Everything but the name: two identities with the same appearance are the same object."""
        return (self.shape, tuple(round(c, 3) for c in self.primary), tuple(round(c, 3) for c in self.secondary),
                self.texture, round(self.aspect, 3), round(self.pattern_freq, 3), round(self.pattern_angle, 3))

    @property
    def hue(self) -> float:
        """Hue of the primary colour in degrees [0, 360)."""
        return _rgb_to_hsv(self.primary)[0]

    style = "simple"
    metres = None  # the simple style has no real sizes: distractors are sized around the target

    def render(self, length: float, angle: float = 0.0, light_dir: float = -2.3, ss: int = 3,
               elevation=None):  # noqa: ARG002  (RealIdentity.render's signature; a flat sticker has no sun height)
        """(rgb, alpha, height) like RealIdentity.render; a flat sticker's height is 0 (shadows as before)."""
        rgb, alpha = render_sprite(self, length, angle, light_dir, ss)
        return rgb, alpha, np.zeros_like(alpha)

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
    raise InputError(f"split must be 'train', 'test' or 'any', got {split!r}")


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
