"""Scene planning: where the target and distractors lie and where crowns stand, so that the target is visible in
1-3 stretches of frames with gaps between them."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ...ops.runs import runs
from .camera import PARALLAX, CameraPath, _footprint, _project, _sample_path
from .identities import ObjectIdentity
from .style import Realism


def intervals_ok(vis: np.ndarray, min_visible: float = 0.3) -> tuple[bool, int]:
    """Is a per-frame visible-fraction curve a good video? 1-3 stretches of at least max(2, n/25) frames each,
    visible in 20-85% of the frames (so there are gaps). Returns (ok, number of stretches)."""
    n = len(vis)
    stretches = runs(vis >= min_visible)
    frac = float((vis >= min_visible).mean())
    ok = 1 <= len(stretches) <= 3 and all(b - a + 1 >= max(2, n // 25) for a, b in stretches) and 0.2 <= frac <= 0.85
    return ok, len(stretches)


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
               W: int, H: int, object_size: tuple[float, float], min_visible: float = 0.3,
               realism: Realism = Realism.off(), flight: np.random.Generator | None = None) -> VideoPlan:
    """Choose a camera path, where the target and distractors lie, and tree crowns, so that the target is visible
    in 1-3 stretches of frames with gaps between them (out of frame or under a crown). With `realism`, the flight
    (from the `flight` generator) climbs, turns and tilts, and objects with real sizes keep them to each other."""
    lo, hi = object_size
    angle = float(rng.uniform(0, 2 * np.pi))
    L0 = 40.0
    a0 = target.render(L0, angle, ss=2)[1]
    yy, xx = np.nonzero(a0 > 0.5)
    pts0 = np.stack([xx - a0.shape[1] / 2 + 0.5, yy - a0.shape[0] / 2 + 0.5], 1).astype(np.float64)
    want = int(rng.choice([1, 2, 3], p=[0.3, 0.4, 0.3]))
    best = None
    for attempt in range(400):
        path = _sample_path(rng, n, W, flight, realism.altitude, realism.rotation, realism.tilt)
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
            if ident.metres and target.metres:  # real things keep their real sizes: a car dwarfs a backpack
                L = float(np.clip(length * ident.metres / target.metres * rng.uniform(0.9, 1.1), 0.5 * lo, 3 * hi))
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
    if path.tilted:
        foot = _footprint(path, W, H)  # (n, 4, 2)
        wx, wy = foot[..., 0], foot[..., 1]
    else:
        corners = np.array([[0, 0], [W, 0], [0, H], [W, H]], np.float64) - [W / 2, H / 2]
        c, s = np.cos(path.heading), np.sin(path.heading)
        wx = path.center[:, None, 0] + (c[:, None] * corners[:, 0] + s[:, None] * corners[:, 1]) / path.zoom[:, None]
        wy = path.center[:, None, 1] + (-s[:, None] * corners[:, 0] + c[:, None] * corners[:, 1]) / path.zoom[:, None]
    allx = np.concatenate([wx.ravel(), [o.center[0] for o in objects]])
    ally = np.concatenate([wy.ravel(), [o.center[1] for o in objects]])
    margin = 2 * (max(hi, max(o.length for o in objects)) if target.metres else hi) + 8
    mn = np.array([allx.min() - margin, ally.min() - margin])
    size = (int(math.ceil(ally.max() + margin - mn[1])), int(math.ceil(allx.max() + margin - mn[0])))
    path.shift(-mn)
    for o in objects:
        o.center = o.center - mn
    trees = [(x - mn[0], y - mn[1], r) for x, y, r in trees]
    return VideoPlan(path, objects, trees, size, vis)
