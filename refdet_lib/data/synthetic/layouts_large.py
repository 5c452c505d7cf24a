"""Part layouts of vehicles, shelters and big things, seen from above (see `layouts.py` for the conventions)."""
from __future__ import annotations

import numpy as np

from .layouts import DARK, print_pattern, shade
from .parts import Part

GLASS = (0.12, 0.15, 0.2)


def car(rng, pal):
    a = float(rng.uniform(0.42, 0.5))
    col = pal["primary"]
    parts = [Part("rrect", (0, 0, 2.0, 2 * a, float(rng.uniform(0.18, 0.3)), 0), col, "paint", 0.45, "round")]
    for x in (-0.62, 0.62):  # wheels just showing at the corners
        for y in (-a, a):
            parts.insert(0, Part("rrect", (x, y * 0.97, 0.32, 0.12, 0.04, 0), DARK, "rubber", 0.25))
    parts += [Part("poly", ((0.45, -a * 0.8), (0.45, a * 0.8), (0.16, a * 0.7), (0.16, -a * 0.7)), GLASS, "glass",
                   0.05),
              Part("poly", ((-0.42, -a * 0.72), (-0.42, a * 0.72), (-0.62, a * 0.68), (-0.62, -a * 0.68)), GLASS,
                   "glass", 0.04),
              Part("rrect", (-0.13, 0, 0.56, 2 * a * 0.72, 0.08, 0),
                   (0.1, 0.1, 0.1) if rng.random() < 0.2 else shade(col, 1.05), "paint", 0.08)]
    if rng.random() < 0.3:  # sunroof
        parts.append(Part("rrect", (-0.05, 0, 0.25, a * 0.7, 0.04, 0), GLASS, "glass", 0.01))
    for y in (-a, a):  # mirrors
        parts.append(Part("ellipse", (0.4, y * 1.12, 0.05, 0.04, 0), shade(col, 0.8), "paint", 0.2))
        parts.append(Part("ellipse", (0.96, y * 0.7, 0.04, 0.07, 0), (0.9, 0.9, 0.85), "glass", 0.02))  # lights
    if rng.random() < 0.25:  # racing stripes or a roof rack
        parts.append(Part("rrect", (0, 0, 1.95, a * 0.35, 0.02, 0), pal["secondary"], "paint", 0.01))
    return parts, a * 1.15, 4.5


def motorbike(rng, pal):
    a = float(rng.uniform(0.26, 0.36))
    col = pal["primary"]
    parts = [Part("rrect", (0.75, 0, 0.42, 0.1, 0.05, 0), DARK, "rubber", 0.3),
             Part("rrect", (-0.75, 0, 0.46, 0.13, 0.06, 0), DARK, "rubber", 0.3),
             Part("rrect", (0.0, 0, 0.9, 0.16, 0.06, 0), (0.35, 0.35, 0.37), "metal", 0.3),
             Part("capsule", (-0.7, 0.1, 0.05, 0.12, 0.05), (0.75, 0.75, 0.78), "metal", 0.25),  # exhaust
             Part("ellipse", (0.25, 0, 0.24, 0.13, 0), col, "paint", 0.45, "dome"),  # tank
             Part("rrect", (-0.28, 0, 0.5, 0.17, 0.07, 0), DARK if rng.random() < 0.7 else pal["secondary"],
                  "leather", 0.3),
             Part("capsule", (0.55, -a, 0.55, a, 0.04), (0.2, 0.2, 0.22), "metal", 0.4)]  # handlebar
    if rng.random() < 0.5:  # fairing
        parts.append(Part("ellipse", (0.66, 0, 0.14, 0.17, 0), col, "paint", 0.35, "dome"))
    if rng.random() < 0.4:  # top box
        parts.append(Part("rrect", (-0.78, 0, 0.3, 0.32, 0.06, 0), shade(col, 0.5), "plastic", 0.4))
    if rng.random() < 0.5:
        parts[4].pattern = {"kind": "stripes", "colour": pal["secondary"], "freq": 3.0, "angle": 0.0, "duty": 0.6}
    return parts, a, 2.1


def bicycle(rng, pal):
    a = float(rng.uniform(0.24, 0.32))
    col = pal["primary"]
    parts = [Part("rrect", (0.62, 0, 0.62, 0.045, 0.02, 0), DARK, "rubber", 0.2),
             Part("rrect", (-0.62, 0, 0.62, 0.05, 0.02, 0), DARK, "rubber", 0.2),
             Part("capsule", (-0.62, 0, 0.5, 0, 0.06), col, "paint", 0.3),  # frame
             Part("capsule", (-0.1, 0, 0.35, 0.0, 0.07), col, "paint", 0.35),
             Part("capsule", (0.55, -a, 0.55, a, 0.035), (0.2, 0.2, 0.22), "metal", 0.4),
             Part("ellipse", (-0.25, 0, 0.1, 0.045, 0), DARK, "leather", 0.4)]
    if rng.random() < 0.4:  # basket or rack
        parts.append(Part("rrect", (0.85, 0, 0.2, 0.22, 0.03, 0), shade(col, 0.6), "mesh", 0.3))
    return parts, a, 1.8


def tent(rng, pal):
    a = float(rng.uniform(0.7, 0.95))
    col = pal["primary"]
    k = int(rng.choice([6, 8]))
    ang = np.arange(k) * 2 * np.pi / k + np.pi / k
    pts = np.stack([np.cos(ang), a * np.sin(ang)], 1)
    parts = [Part("poly", tuple(map(tuple, pts)), col, "nylon", 0.75, "dome", seam=0.15)]
    if rng.random() < 0.7:  # vestibule
        parts.insert(0, Part("poly", ((0.8, -a * 0.45), (1.0, 0.0), (0.8, a * 0.45)), shade(col, 0.85), "nylon", 0.35))
    for j in range(2):  # poles crossing over the top
        p, q = pts[j], pts[j + k // 2]
        parts.append(Part("capsule", (p[0], p[1], q[0], q[1], 0.035), shade(col, 0.6), "nylon", 0.02))
    if rng.random() < 0.6:  # fly panels in a second colour
        parts.append(Part("poly", ((0, 0), tuple(pts[0]), tuple(pts[1])), pal["secondary"], "nylon", 0.02))
    for j in range(0, k, 2):  # guy lines
        d = pts[j] * 1.3
        parts.append(Part("capsule", (pts[j][0], pts[j][1], d[0], d[1], 0.012), (0.8, 0.8, 0.75), "nylon", 0.0))
    return parts, a * 1.3, 2.6


def tarp(rng, pal):
    a = float(rng.uniform(0.55, 0.9))
    j = rng.uniform(-0.12, 0.12, (4, 2))
    pts = np.array([(-1, -a), (1, -a), (1, a), (-1, a)]) * 0.95 + j
    col = pal["primary"]
    parts = [Part("poly", tuple(map(tuple, pts)), col, "nylon", 0.06, "round", seam=0.1)]
    if rng.random() < 0.5:  # a folded-over corner
        c = pts[int(rng.integers(4))]
        parts.append(Part("poly", (tuple(c), tuple(c * 0.55 + [0.3, 0]), tuple(c * 0.55 - [0, 0.2])),
                          shade(col, 0.85), "nylon", 0.03))
    for c in pts:  # grommets
        parts.append(Part("ring", (c[0] * 0.93, c[1] * 0.9, 0.035, 0.015), (0.75, 0.75, 0.72), "metal", 0.01))
    if rng.random() < 0.4:
        parts[0].pattern = {"kind": "plaid", "colour": shade(col, 0.8), "freq": 8.0, "angle": 0.0}
    return parts, a + 0.15, 3.0


def umbrella(rng, pal):
    k = 8
    ang = np.arange(k) * 2 * np.pi / k
    pts = np.stack([np.cos(ang), np.sin(ang)], 1)
    alt = rng.random() < 0.5
    parts = []
    for i in range(k):  # panels, alternating colours on some
        col = pal["secondary"] if alt and i % 2 else pal["primary"]
        parts.append(Part("poly", ((0, 0), tuple(pts[i]), tuple(pts[(i + 1) % k])), col, "nylon", 0.35, "dome"))
    for p in pts:  # ribs
        parts.append(Part("capsule", (0, 0, p[0], p[1], 0.02), shade(pal["primary"], 0.6), "nylon", 0.01))
    parts.append(Part("ellipse", (0, 0, 0.06, 0.06, 0), DARK, "plastic", 0.05))
    if rng.random() < 0.4:  # the handle showing past the canopy
        parts.insert(0, Part("capsule", (0.9, 0.1, 1.2, 0.15, 0.05), DARK, "plastic", 0.05))
    return parts, 1.0, 1.1


def kayak(rng, pal):
    a = float(rng.uniform(0.11, 0.17))
    col = pal["primary"]
    t = np.linspace(-1, 1, 24)
    top = a * np.sqrt(np.clip(1 - t ** 2, 0, 1)) ** 0.8
    pts = np.concatenate([np.stack([t, top], 1), np.stack([t[::-1], -top[::-1]], 1)])
    parts = [Part("poly", tuple(map(tuple, pts)), col, "plastic", 0.2, "dome")]
    parts.append(Part("ellipse", (-0.05, 0, 0.22, a * 0.6, 0), DARK, "rubber", -0.1))
    parts.append(Part("ellipse", (-0.05, 0, 0.25, a * 0.7, 0), shade(col, 0.6), "plastic", 0.02))
    parts.append(Part("capsule", (0.25, 0, 0.8, 0, 0.012), (0.9, 0.9, 0.85), "nylon", 0.01))  # deck lines
    if rng.random() < 0.5:
        parts.append(Part("ellipse", (-0.6, 0, 0.12, a * 0.5, 0), pal["secondary"], "plastic", 0.02))  # hatch
    paddle = rng.random() < 0.5
    if paddle:
        y = a * 2.2
        parts += [Part("capsule", (-0.6, y, 0.6, y, 0.03), DARK, "metal", 0.03),
                  Part("ellipse", (-0.68, y, 0.1, 0.05, 0), pal["accent"], "plastic", 0.02),
                  Part("ellipse", (0.68, y, 0.1, 0.05, 0), pal["accent"], "plastic", 0.02)]
    if rng.random() < 0.5:
        parts[0].pattern = print_pattern(rng, pal["contrast"], at=(0.5, 0.0, 0.3))
    return parts, (a * 2.2 + 0.06) if paddle else a, 3.6


def box(rng, pal):
    a = float(rng.uniform(0.55, 0.95))
    crate = rng.random() < 0.3
    col = pal["primary"] if not crate else (0.62, 0.48, 0.3)
    if crate:  # wooden crate: planks
        n = int(rng.integers(3, 6))
        parts = [Part("rrect", (0, -a + (2 * i + 1) * a / n, 1.95, 2 * a / n * 0.92, 0.01, 0), shade(col, rng.uniform(
            0.85, 1.1)), "wood", 0.25, "flat") for i in range(n)]
        parts.append(Part("capsule", (-0.85, -a, -0.85, a, 0.1), shade(col, 0.8), "wood", 0.03))
        parts.append(Part("capsule", (0.85, -a, 0.85, a, 0.1), shade(col, 0.8), "wood", 0.03))
        return parts, a, 0.6
    parts = [Part("rrect", (0, 0, 1.95, 2 * a, 0.02, 0), col, "cardboard", 0.3, "flat", seam=0.3),
             Part("capsule", (-0.98, 0, 0.98, 0, 0.005), shade(col, 0.6), "cardboard", -0.01)]  # flap gap
    if rng.random() < 0.8:  # packing tape
        parts.append(Part("capsule", (-0.98, 0, 0.98, 0, float(rng.uniform(0.12, 0.2))), pal["tape"], "plastic",
                          0.005))
    if rng.random() < 0.6:  # shipping label
        lab = Part("rrect", (float(rng.uniform(-0.6, 0.5)), a * 0.5, 0.42, 0.3, 0.02, 0), (0.95, 0.95, 0.93),
                   "cardboard", 0.003)
        lab.pattern = print_pattern(rng, DARK, at=(lab.geom[0], lab.geom[1], 0.3))
        parts.append(lab)
    return parts, a, 0.6


LARGE = {"Car": car, "Motorbike": motorbike, "Bicycle": bicycle, "Tent": tent, "Tarp": tarp, "Umbrella": umbrella,
         "Kayak": kayak, "Box": box}
