"""Surfaces at several scales for the realistic style: what a part of an object is made of.

A material gives, on object-local coordinates (u, v) (object units: the long side spans [-1, 1]), three maps:
  - `tone`  (H, W) multiplicative albedo: weave, ribs, grain, fibres, flakes (fine scale) and mottling (coarse scale);
  - `gloss` (H, W) in [0, 1]: how much of the sun a spot reflects (metal, paint, glass, wet plastic);
  - `bump`  (H, W): fine relief added to the part's height, so shading picks up seams, ribs and folds.
Colour patterns that change the colour itself (camouflage, plaid, stripes, prints, text, logos) live in `patterns`.
Everything is a pure function of (u, v, rng, `px`): `px` is how many sprite pixels one object unit spans, so the
weave of a fabric stays a weave at 80 px and blends into a tone at 8 px (it is filtered, never aliased).
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from ...errors import InputError

MATERIALS = ("fabric", "ripstop", "canvas", "denim", "nylon", "leather", "plastic", "paint", "metal", "rubber",
             "glass", "cardboard", "wood", "skin", "hair", "mesh")
# gloss (specular share) and roughness-ish shininess exponent of each material
_GLOSS = {"fabric": 0.03, "ripstop": 0.06, "canvas": 0.02, "denim": 0.02, "nylon": 0.12, "leather": 0.15,
          "plastic": 0.3, "paint": 0.45, "metal": 0.6, "rubber": 0.05, "glass": 0.7, "cardboard": 0.02,
          "wood": 0.08, "skin": 0.15, "hair": 0.12, "mesh": 0.05}
SHININESS = {"paint": 40.0, "metal": 60.0, "glass": 90.0, "plastic": 25.0, "leather": 12.0, "nylon": 10.0}


def smooth_noise(shape: tuple[int, int], rng: np.random.Generator, cell: float) -> np.ndarray:
    """Band-limited noise in [-1, 1] with features about `cell` pixels across (bicubic upsampled random grid)."""
    h, w = shape
    c = max(cell, 1.0)
    g = rng.standard_normal((int(h / c) + 3, int(w / c) + 3)).astype(np.float32)
    out = cv2.resize(g, (w, h), interpolation=cv2.INTER_CUBIC)
    return np.clip(out / 1.5, -1, 1)


def _period(u, v, f: float, px: float, angle: float = 0.0) -> np.ndarray:
    """A sine of `f` periods per object unit along `angle`, faded out where it would alias (period < 2.5 px)."""
    d = u * math.cos(angle) + v * math.sin(angle)
    fade = np.clip((px / max(f, 1e-6) - 2.5) / 2.5, 0.0, 1.0)  # sprite pixels per period
    return np.sin(2 * np.pi * f * d) * fade


def surface(material: str, u: np.ndarray, v: np.ndarray, rng: np.random.Generator, px: float
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(tone, gloss, bump) maps of `material` on coordinates (u, v); see the module docstring."""
    if material not in MATERIALS:
        raise InputError(f"unknown material {material!r}: choose one of {', '.join(MATERIALS)}")
    shape = u.shape
    mottle = smooth_noise(shape, rng, max(shape) / 3)            # coarse: uneven dye, wear, light falloff
    grain = smooth_noise(shape, rng, 1.2)                        # finest: fibres, speckle
    tone = 1.0 + 0.05 * mottle + 0.03 * grain
    bump = np.zeros(shape, np.float32)
    gloss = np.full(shape, _GLOSS[material], np.float32)
    ang = float(rng.uniform(0, np.pi))
    if material in ("fabric", "canvas", "ripstop", "denim"):
        f = {"fabric": 45.0, "canvas": 28.0, "ripstop": 40.0, "denim": 35.0}[material]
        if material == "denim":  # twill: fine diagonal ribs
            weave = _period(u, v, f, px, ang + np.pi / 4)
        else:  # plain weave: warp x weft
            weave = _period(u, v, f, px, ang) * _period(u, v, f, px, ang + np.pi / 2)
        tone = tone + 0.04 * weave
        bump = bump + 0.004 * weave
        if material == "ripstop":  # the reinforcing grid
            grid = np.maximum(_period(u, v, 6.0, px, ang), _period(u, v, 6.0, px, ang + np.pi / 2))
            tone = tone - 0.06 * (grid > 0.97)
    elif material == "nylon":
        tone = tone + 0.04 * smooth_noise(shape, rng, max(shape) / 8)  # soft creases
        bump = bump + 0.03 * smooth_noise(shape, rng, max(shape) / 10)
    elif material == "leather":
        cells = smooth_noise(shape, rng, 2.5)
        tone = tone + 0.06 * np.abs(cells)
        bump = bump + 0.02 * cells
    elif material in ("plastic", "paint", "metal", "glass"):
        tone = 1.0 + 0.015 * mottle
        if material == "metal":  # brushed: streaks along one direction
            streak = smooth_noise(shape, rng, 1.5)
            streak = cv2.GaussianBlur(streak, (0, 0), sigmaX=max(shape) / 12, sigmaY=0.6)
            tone = tone + 0.08 * streak
        if material == "paint":  # metallic flakes
            tone = tone + 0.02 * grain
    elif material == "rubber":
        tone = 0.95 + 0.05 * grain
    elif material == "cardboard":
        tone = tone + 0.05 * _period(u, v, 20.0, px, ang) + 0.04 * smooth_noise(shape, rng, 3)
    elif material == "wood":
        warp = 0.15 * smooth_noise(shape, rng, max(shape) / 4)
        rings = np.sin(2 * np.pi * (9.0 * (u * math.cos(ang) + v * math.sin(ang)) + 4 * warp))
        tone = tone + 0.10 * rings
        bump = bump + 0.01 * rings
    elif material == "hair":
        strands = cv2.GaussianBlur(smooth_noise(shape, rng, 1.0), (0, 0), sigmaX=2.5, sigmaY=0.5)
        tone = tone + 0.15 * strands
    elif material == "mesh":
        holes = (_period(u, v, 30.0, px, ang) > 0.3) & (_period(u, v, 30.0, px, ang + np.pi / 3) > 0.3)
        tone = tone - 0.35 * holes
        bump = bump - 0.02 * holes
    return tone.astype(np.float32), gloss, bump.astype(np.float32)


def dirt(shape: tuple[int, int], rng: np.random.Generator, amount: float) -> tuple[np.ndarray, np.ndarray]:
    """Grime and dust: (darkening factor (H, W) in (0, 1], dust mix (H, W) in [0, 1)) for `amount` in [0, 1]."""
    if amount <= 0:
        return np.ones(shape, np.float32), np.zeros(shape, np.float32)
    blot = np.clip(smooth_noise(shape, rng, max(shape) / 5) * 1.5 - 0.2, 0, 1)
    specks = np.clip(smooth_noise(shape, rng, 1.5) - 0.7, 0, 1) * 2
    dark = 1.0 - amount * (0.25 * blot + 0.3 * specks)
    dust = amount * 0.35 * np.clip(smooth_noise(shape, rng, max(shape) / 7), 0, 1)
    return dark.astype(np.float32), dust.astype(np.float32)
