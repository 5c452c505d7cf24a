"""Part layouts: what each category is made of, seen from above. A category is a family of layouts: every identity
of it draws its proportions, optional parts, colours, materials and prints from its own seed.

Object-local units: the long axis is x in [-1, 1], the short axis y in [-extent, extent] (parts may reach past it:
straps, mirrors, handles make the silhouette non-convex). Each layout returns (parts, extent, metres): the parts,
the half-width across, and the object's real long side (so a car and a backpack in one scene keep their sizes). This file holds what
people carry or wear; `layouts_large.py` the vehicles, shelters and big things.
"""
from __future__ import annotations

import numpy as np

from .parts import Part
from .patterns import random_text

DARK = (0.08, 0.08, 0.09)


def shade(c, k: float) -> tuple:
    """A colour made darker (k < 1) or lighter (k > 1), clipped."""
    return tuple(float(np.clip(x * k, 0, 1)) for x in c)


def print_pattern(rng, colour, at=(0.0, 0.0, 0.5), angle=0.0) -> dict:
    """Printed text or a logo in `colour`, centred at `at` = (u, v, width) on the part."""
    if rng.random() < 0.5:
        return {"kind": "text", "text": random_text(rng), "colour": colour, "at": at, "angle": angle}
    return {"kind": "logo", "logo": int(rng.integers(5)), "colour": colour, "at": (at[0], at[1], at[2] * 0.6),
            "angle": angle}


def cloth_pattern(rng, pal, freq=(6, 14)) -> dict | None:
    """A garment's or a bag's colour pattern, or None (plain)."""
    r = rng.random()
    if r < 0.45:
        return None
    kind = ["stripes", "plaid", "camo", "block", "dots"][int(rng.integers(5))]
    return {"kind": kind, "colour": pal["secondary"], "freq": float(rng.uniform(*freq)),
            "angle": float(rng.choice([0.0, np.pi / 2, rng.uniform(0, np.pi)])), "offset": float(rng.uniform(-.3, .3)),
            "blobs": float(rng.uniform(4, 8))}


def backpack(rng, pal):
    a = float(rng.uniform(0.55, 0.78))
    mat = str(rng.choice(["nylon", "ripstop", "canvas", "fabric"]))
    body = Part("rrect", (0, 0, 1.9, 2 * a, float(rng.uniform(0.25, 0.5)), 0), pal["primary"], mat, 0.32, "round",
                pattern=cloth_pattern(rng, pal), seam=0.25)
    parts = []
    if rng.random() < 0.7:  # shoulder straps showing past the sides (lying on its front) or over it (on its back)
        sy = a - float(rng.uniform(0.0, 0.12))
        for y in (-sy, sy):
            parts.append(Part("capsule", (-0.75, y * 1.05, 0.65, y * 0.85, 0.16), pal["dark"], "nylon", 0.05))
    parts.append(body)
    if rng.random() < 0.75:  # top lid
        parts.append(Part("rrect", (0.62, 0, 0.62, 2 * a * 0.96, 0.2, 0), pal["secondary"] if rng.random() < 0.5
                          else shade(pal["primary"], 0.8), mat, 0.08, seam=0.3))
    pw = float(rng.uniform(0.6, 1.0))
    pocket = Part("rrect", (-0.25, 0, pw, 2 * a * float(rng.uniform(0.5, 0.8)), 0.18, 0),
                  pal["accent"] if rng.random() < 0.4 else shade(pal["primary"], 1.1), mat, 0.1, seam=0.35)
    if rng.random() < 0.5:
        pocket.pattern = print_pattern(rng, pal["contrast"], at=(-0.25, 0, pw * 0.6))
    parts.append(pocket)
    parts.append(Part("capsule", (-0.25 - pw / 2 + 0.08, 0, -0.25 + pw / 2 - 0.08, 0, 0.035), DARK, "metal", 0.02))
    for _ in range(int(rng.integers(0, 3))):  # compression straps across
        x = float(rng.uniform(-0.8, 0.3))
        parts.append(Part("capsule", (x, -a, x, a, 0.07), pal["dark"], "nylon", 0.03))
    if rng.random() < 0.6:  # grab handle loop at the top
        parts.append(Part("ring", (0.98, 0, 0.1, 0.045), pal["dark"], "nylon", 0.04))
    if rng.random() < 0.4:  # side bottle pocket (mesh)
        parts.append(Part("rrect", (-0.2, a * 0.95, 0.8, 0.22, 0.08, 0), shade(pal["primary"], 0.7), "mesh", 0.06))
    return parts, a, 0.55


def person(rng, pal):
    skin = pal["skin"]
    hair = pal["hair"]
    shirt, pants = pal["primary"], pal["pants"]
    if rng.random() < 0.35:  # standing, seen from above: shoulders, head, arms at the sides
        a = 0.55
        parts = [Part("ellipse", (0, 0, 1.0, 0.5, 0), shirt, "fabric", 0.55, "dome", pattern=cloth_pattern(rng, pal)),
                 Part("capsule", (-0.95, 0.1, -0.9, 0.35, 0.28), shade(shirt, 0.85), "fabric", 0.3),
                 Part("capsule", (0.95, 0.1, 0.9, 0.35, 0.28), shade(shirt, 0.85), "fabric", 0.3),
                 Part("ellipse", (0, -0.05, 0.36, 0.42, 0), hair, "hair", 0.35, "dome")]
        if rng.random() < 0.4:  # a cap
            parts.append(Part("ellipse", (0, 0.05, 0.34, 0.42, 0), pal["accent"], "fabric", 0.05, "dome"))
        return parts, a, 0.5
    # lying: head at +x, feet at -x, arms along the body or spread
    a = 0.3
    spread = rng.random() < 0.4
    arm_y = float(rng.uniform(0.42, 0.6)) if spread else 0.27
    knee = float(rng.uniform(-0.08, 0.12))
    parts = [Part("capsule", (0.02, 0.09, -0.86, 0.12 + knee, 0.17), pants, "denim", 0.12),
             Part("capsule", (0.02, -0.09, -0.86, -0.12, 0.17), pants, "denim", 0.12),
             Part("ellipse", (-0.92, 0.13 + knee, 0.09, 0.07, 0), DARK, "rubber", 0.1),
             Part("ellipse", (-0.92, -0.13, 0.09, 0.07, 0), DARK, "rubber", 0.1),
             Part("rrect", (0.36, 0, 0.72, 0.46, 0.14, 0), shirt, "fabric", 0.18, pattern=cloth_pattern(rng, pal)),
             Part("capsule", (0.62, 0.24, 0.15, arm_y, 0.13), shade(shirt, 0.9), "fabric", 0.1),
             Part("capsule", (0.62, -0.24, 0.15, -arm_y, 0.13), shade(shirt, 0.9), "fabric", 0.1),
             Part("ellipse", (0.12, arm_y, 0.07, 0.06, 0), skin, "skin", 0.06),
             Part("ellipse", (0.12, -arm_y, 0.07, 0.06, 0), skin, "skin", 0.06),
             Part("ellipse", (0.86, 0, 0.12, 0.1, 0), skin, "skin", 0.14, "dome"),
             Part("ellipse", (0.9, 0, 0.1, 0.1, 0), hair, "hair", 0.05, "dome")]
    if rng.random() < 0.5:
        parts[4].pattern = print_pattern(rng, pal["contrast"], at=(0.36, 0, 0.35))
    return parts, max(a, arm_y + 0.05), 1.75


def jacket(rng, pal):
    a = float(rng.uniform(0.42, 0.55))
    mat = str(rng.choice(["nylon", "fabric", "denim", "leather"]))
    col = pal["primary"]
    pat = cloth_pattern(rng, pal)
    parts = [Part("capsule", (-0.35, -a * 0.7, -0.95, a * float(rng.uniform(-0.2, 0.9)), 0.28), shade(col, 0.95), mat,
                  0.1, pattern=pat),
             Part("capsule", (0.35, -a * 0.7, 0.95, a * float(rng.uniform(-0.2, 0.9)), 0.28), shade(col, 0.95), mat,
                  0.1, pattern=pat),
             Part("rrect", (0, 0, 0.9, 2 * a, 0.12, 0), col, mat, 0.12, pattern=pat, seam=0.2)]
    if rng.random() < 0.5:  # hood
        parts.append(Part("ellipse", (0, -a * 1.05, 0.26, 0.18, 0), shade(col, 0.8), mat, 0.1))
    parts.append(Part("capsule", (0, -a * 0.95, 0, a * 0.95, 0.03), shade(col, 0.5), "metal", 0.02))
    for x in (-0.25, 0.25):
        if rng.random() < 0.6:
            parts.append(Part("rrect", (x, a * 0.45, 0.22, 0.16, 0.03, 0), shade(col, 0.85), mat, 0.03, seam=0.4))
    if rng.random() < 0.3:
        parts.append(Part("rrect", (0.22, -a * 0.45, 0.2, 0.12, 0.02, 0), pal["contrast"], "fabric", 0.01))
    return parts, a + 0.1, 1.4


def helmet(rng, pal):
    a = float(rng.uniform(0.68, 0.82))
    col = pal["primary"]
    parts = [Part("ellipse", (0, 0, 1.0, a, 0), col, "plastic", 0.9, "dome",
                  pattern={"kind": "block", "colour": pal["secondary"], "angle": 0.0, "offset": 0.35}
                  if rng.random() < 0.35 else None)]
    for k in range(int(rng.integers(0, 5))):  # vents
        y = (k - 1.5) * a * 0.3
        parts.append(Part("capsule", (-0.45, y, 0.35, y * 1.1, 0.07), DARK, "rubber", -0.05))
    if rng.random() < 0.5:  # visor
        parts.append(Part("ellipse", (0.82, 0, 0.2, a * 0.75, 0), pal["dark"], "glass", 0.1))
    if rng.random() < 0.5:  # dangling chin straps
        parts.append(Part("capsule", (-0.1, a, -0.35, a + 0.25, 0.05), DARK, "nylon", 0.02))
    if rng.random() < 0.5:
        parts[0].pattern = print_pattern(rng, pal["contrast"], at=(-0.3, 0.0, 0.5))
    return parts, a + 0.15, 0.3


def suitcase(rng, pal):
    a = float(rng.uniform(0.58, 0.75))
    col = pal["primary"]
    hard = rng.random() < 0.6
    mat = "plastic" if hard else str(rng.choice(["nylon", "canvas", "leather"]))
    body = Part("rrect", (0, 0, 1.9, 2 * a, float(rng.uniform(0.08, 0.2)), 0), col, mat, 0.28, "round", seam=0.3)
    if hard and rng.random() < 0.7:  # shell ribs
        body.pattern = {"kind": "stripes", "colour": shade(col, 0.8), "freq": float(rng.uniform(3, 6)),
                        "angle": 0.0 if rng.random() < 0.5 else np.pi / 2, "duty": 0.85}
    parts = [body]
    for y in (-a * 0.35, a * 0.35):  # telescopic handle bars
        parts.append(Part("capsule", (0.95, y, 1.0, y, 0.05), (0.6, 0.6, 0.62), "metal", 0.04))
    parts.append(Part("capsule", (0.99, -a * 0.4, 0.99, a * 0.4, 0.07), DARK, "rubber", 0.05))
    parts.append(Part("rrect", (0, a * 0.98, 0.45, 0.1, 0.04, 0), DARK, "rubber", 0.04))
    for x, y in ((-0.9, -a * 0.85), (-0.9, a * 0.85), (0.9, -a * 0.85), (0.9, a * 0.85)):
        parts.append(Part("ellipse", (x, y, 0.06, 0.06, 0), DARK, "rubber", 0.02))
    if rng.random() < 0.6:  # luggage tag or sticker
        parts.append(Part("rrect", (float(rng.uniform(-0.6, 0.5)), float(rng.uniform(-a, a) * 0.6), 0.22, 0.14, 0.03,
                                    float(rng.uniform(0, 1))), pal["accent"], "plastic", 0.02))
    if rng.random() < 0.4:
        parts.append(Part("capsule", (-0.95, 0, 0.95, 0, 0.09), pal["secondary"], "nylon", 0.03))  # a strap
    return parts, a, 0.7


def cooler(rng, pal):
    a = float(rng.uniform(0.5, 0.65))
    col = pal["primary"]
    lid = pal["secondary"] if rng.random() < 0.5 else (0.92, 0.92, 0.9)
    parts = [Part("rrect", (0, 0, 1.85, 2 * a, 0.12, 0), col, "plastic", 0.35, "round", seam=0.2),
             Part("rrect", (0, 0, 1.6, 2 * a * 0.8, 0.1, 0), lid, "plastic", 0.05, "flat", seam=0.35)]
    for x in (-0.97, 0.97):  # end handles
        parts.append(Part("capsule", (x, -a * 0.4, x, a * 0.4, 0.1), shade(col, 0.6), "plastic", 0.05))
    if rng.random() < 0.7:
        parts[1].pattern = print_pattern(rng, pal["contrast"], at=(0.0, 0.0, 0.8))
    if rng.random() < 0.5:  # latch
        parts.append(Part("rrect", (0.0, a * 0.82, 0.18, 0.08, 0.02, 0), DARK, "plastic", 0.03))
    return parts, a, 0.6


CARRIED = {"Backpack": backpack, "Person": person, "Jacket": jacket, "Helmet": helmet, "Suitcase": suitcase,
           "Cooler": cooler}
