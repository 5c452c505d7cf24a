"""Realistic identities: an object of a category (Backpack, Person, Car, ...) built from parts with its own
proportions, colours, materials, prints and dirt, all drawn from the identity's seed.

`RealIdentity` holds only what makes the object itself (category, seed, palette, dirt), so it is stored in
synth_meta.json as a few numbers and rebuilt exactly; its parts come from `layouts.py` / `layouts_large.py`.
Train and test identities never share a primary hue bin (train: even 30-degree bins, cardboard and the
achromatic blacks, greys and whites; test: the odd bins but cardboard's), so the test split's objects are new in
colour as well as in build.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Iterable, Optional, Sequence

import numpy as np

from ...errors import InputError
from .identities import CATEGORY_WORDS, HUE_BINS, HUE_JITTER, _hsv_to_rgb, _rgb_to_hsv
from .layouts import CARRIED
from .layouts_large import LARGE
from .parts import render_parts

LAYOUTS = {**CARRIED, **LARGE}
assert set(LAYOUTS) == set(CATEGORY_WORDS), "every category word needs a layout"
# share of achromatic (black / grey / white / silver) primaries per category, as such things come in reality
ACHROMATIC = {"Car": 0.45, "Backpack": 0.3, "Suitcase": 0.35, "Helmet": 0.3, "Jacket": 0.3, "Motorbike": 0.35,
              "Bicycle": 0.3, "Cooler": 0.25, "Box": 0.0, "Person": 0.2}
GREYS = ((0.06, 0.06, 0.07), (0.2, 0.2, 0.22), (0.45, 0.46, 0.48), (0.7, 0.7, 0.72), (0.9, 0.9, 0.88))
SKINS = ((0.93, 0.78, 0.66), (0.84, 0.63, 0.49), (0.68, 0.48, 0.34), (0.45, 0.3, 0.2), (0.3, 0.2, 0.14))
HAIRS = ((0.08, 0.06, 0.05), (0.3, 0.2, 0.12), (0.55, 0.4, 0.2), (0.85, 0.75, 0.5), (0.55, 0.55, 0.55))
PANTS = ((0.16, 0.22, 0.38), (0.1, 0.1, 0.12), (0.55, 0.5, 0.38), (0.35, 0.35, 0.38), (0.25, 0.3, 0.2))
CARDBOARD = ((0.66, 0.5, 0.33), (0.6, 0.45, 0.3), (0.75, 0.62, 0.45))


@dataclass(frozen=True)
class RealIdentity:
    """One object of the realistic style. Colours are RGB in [0, 1]; `seed` draws its build (parts, proportions,
    materials, prints); `dirt` in [0, 1] how worn and dusty it is."""

    name: str
    category: str
    seed: int
    primary: tuple
    secondary: tuple
    accent: tuple
    dirt: float = 0.2
    style: str = "realistic"

    def __post_init__(self):
        if self.category not in LAYOUTS:
            raise InputError(f"RealIdentity {self.name!r}: unknown category {self.category!r}, expected one of "
                             f"{', '.join(LAYOUTS)}")

    @property
    def appearance(self) -> tuple:
        """Everything but the name: two identities with the same appearance are the same object."""
        return (self.category, int(self.seed), tuple(round(c, 3) for c in self.primary),
                tuple(round(c, 3) for c in self.secondary), tuple(round(c, 3) for c in self.accent))

    @property
    def hue(self) -> float:
        return _rgb_to_hsv(self.primary)[0]

    def palette(self) -> dict:
        rng = np.random.default_rng([int(self.seed), 21])
        p = self.primary
        lum = 0.3 * p[0] + 0.59 * p[1] + 0.11 * p[2]
        return {"primary": p, "secondary": self.secondary, "accent": self.accent,
                "dark": tuple(float(c * 0.35) for c in p) if rng.random() < 0.5 else (0.07, 0.07, 0.08),
                "contrast": (0.95, 0.95, 0.93) if lum < 0.5 else (0.08, 0.08, 0.1),
                "skin": SKINS[int(rng.integers(len(SKINS)))], "hair": HAIRS[int(rng.integers(len(HAIRS)))],
                "pants": PANTS[int(rng.integers(len(PANTS)))],
                "tape": (0.78, 0.68, 0.5) if rng.random() < 0.6 else (0.85, 0.85, 0.8)}

    def parts(self):
        """(parts, extent, metres): the object's build, the same every time (see layouts.py)."""
        return LAYOUTS[self.category](np.random.default_rng([int(self.seed), 22]), self.palette())

    @property
    def aspect(self) -> float:
        return float(self.parts()[1])

    @property
    def metres(self) -> float:
        """The object's real long side: objects of one scene keep their real sizes to each other."""
        return float(self.parts()[2])

    def render(self, length: float, angle: float = 0.0, light_dir: float = -2.3, ss: int = 3,
               elevation: float = 0.9) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rgb, alpha, height) of the object with its long side `length` px (see parts.render_parts)."""
        parts, extent, _ = self.parts()
        return render_parts(parts, extent, length, angle, light_dir, elevation,
                            np.random.default_rng([int(self.seed), 23]), self.dirt, ss=ss)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "RealIdentity":
        d = dict(d)
        for k in ("primary", "secondary", "accent"):
            d[k] = tuple(d[k])
        return cls(**d)


def _chromatic(rng, hbin: int, category: str) -> tuple:
    hue = hbin * 360.0 / HUE_BINS + rng.uniform(-HUE_JITTER, HUE_JITTER)
    s_lo, v_lo = {"Tarp": (0.6, 0.55), "Tent": (0.45, 0.4), "Car": (0.4, 0.3)}.get(category, (0.45, 0.3))
    return _hsv_to_rgb(hue, rng.uniform(s_lo, 1.0), rng.uniform(v_lo, 0.92))


def _secondary(rng, primary) -> tuple:
    if rng.random() < 0.5:
        return tuple(float(c) for c in GREYS[int(rng.integers(len(GREYS)))])
    h = _rgb_to_hsv(primary)[0]
    return _hsv_to_rgb(h + rng.uniform(90, 270), rng.uniform(0.3, 0.9), rng.uniform(0.3, 0.9))


def sample_real_identities(n: int, seed: int = 0, exclude: Iterable = (), split: str = "train",
                           class_names: Optional[Sequence[str]] = None,
                           categories: Optional[Sequence[str]] = None) -> list[RealIdentity]:
    """`n` distinct realistic identities named like the guide's classes ('Backpack_0', 'Person_2', ...).

    split: "train" (even hue bins, cardboard, achromatic), "test" (odd hue bins but cardboard's 30), "any". `exclude`: identities (or names)
    that must not come back. `categories`: the category words to draw from (default: all 14, cycled so a small set
    still covers many). `class_names`: other words as names (the layout is then drawn from the categories).
    """
    if split not in ("train", "test", "any"):
        raise InputError(f"split must be 'train', 'test' or 'any', got {split!r}")
    rng = np.random.default_rng([int(seed), 11])
    cats = list(categories or CATEGORY_WORDS)
    # bin 1 (orange-brown, 30 degrees) is cardboard's: the train split's boxes have it, so the test split does not
    bins = {"train": range(0, HUE_BINS, 2), "test": range(3, HUE_BINS, 2), "any": range(HUE_BINS)}[split]
    bins = list(bins)
    used_names = {e.name if hasattr(e, "name") else str(e) for e in exclude}
    used_looks = {e.appearance for e in exclude if hasattr(e, "appearance")}
    order = list(rng.permutation(len(cats)))
    out: list[RealIdentity] = []
    k = 0
    while len(out) < n:
        k += 1
        if k > 100 * n + 100:
            raise RuntimeError(f"sample_real_identities: could not find {n} identities outside `exclude`")
        cat = cats[order[k % len(cats)]]
        if cat == "Box":
            primary = tuple(float(c) for c in CARDBOARD[int(rng.integers(len(CARDBOARD)))])
            if split == "test":  # cardboard is achromatic-ish: test boxes are painted or printed crates
                primary = _chromatic(rng, bins[int(rng.integers(len(bins)))], cat)
        elif split != "test" and rng.random() < ACHROMATIC.get(cat, 0.1):
            primary = tuple(float(c) for c in GREYS[int(rng.integers(len(GREYS)))])
        else:
            primary = _chromatic(rng, bins[int(rng.integers(len(bins)))], cat)
        word = (class_names[int(rng.integers(len(class_names)))] if class_names else cat)
        idx = 0
        while f"{word}_{idx}" in used_names:
            idx += 1
        ident = RealIdentity(name=f"{word}_{idx}", category=cat, seed=int(rng.integers(1 << 30)), primary=primary,
                             secondary=_secondary(rng, primary),
                             accent=_hsv_to_rgb(rng.uniform(0, 360), rng.uniform(0.6, 1), rng.uniform(0.6, 1)),
                             dirt=round(float(rng.uniform(0, 0.6)), 3))
        if ident.appearance in used_looks:
            continue
        used_names.add(ident.name)
        used_looks.add(ident.appearance)
        out.append(ident)
    return out


def identity_from_dict(d: dict):
    """A stored identity of either style (synth_meta.json)."""
    from .identities import ObjectIdentity

    return RealIdentity.from_dict(d) if d.get("style") == "realistic" else ObjectIdentity.from_dict(
        {k: v for k, v in d.items() if k != "style"})

