"""A planned video made concrete: the world painted once (ground, objects, shadows, crowns, clouds, and in the
realistic style clutter and occluders), frames rendered by warping it (perspective when the camera is tilted), with
camera effects (optics blur, motion blur, sensor noise) and the label map that gives exact boxes.

Annotation rule: a frame gets the target's box when at least `min_visible` (30 %) of its area is visible, that is
inside the frame and not under a tree crown, a bush or tall grass; the box is the tight box of the visible pixels.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterator, Optional, Sequence

import cv2
import numpy as np

from ...errors import InputError
from .camera import PARALLAX
from .canvas import _darken, _paste
from .dressing import cast_shadow, motion_kernel, paint_clutter, paint_occluder
from .ground import _tree_canopy, make_ground, photographic, value_noise
from .identities import ObjectIdentity
from .plan import VideoPlan, intervals_ok, plan_video
from .style import Realism, default_object_size


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

    def __init__(self, plan: VideoPlan, width: int, height: int, rng: np.random.Generator, detail: float = 1.0,
                 realism: Realism = Realism.off(), extra: Optional[np.random.Generator] = None,
                 object_size: tuple[float, float] = (12.0, 60.0)):
        """`realism` switches the realistic scene's parts on; they draw from `extra` only, so the simple style's
        scene (realism off) is drawn from `rng` exactly as it always was."""
        self.plan, self.W, self.H, self.realism = plan, width, height, realism
        extra = extra if extra is not None else np.random.default_rng(0)
        h, w = plan.world_size
        self.ground = make_ground(h, w, rng, detail, rows=0.35 if realism.clutter else 1.0,
                                  texture=extra if realism.clutter else None)
        if realism.clutter:  # photographic grain, clumps and uneven colour (from `extra`: rng's draws unchanged)
            photographic(self.ground, extra, detail)
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
        self.dressing = {"clutter": 0, "occluders": 0}  # what the realistic scene's parts painted (tests read it)
        if realism.clutter:  # rocks, logs, puddles, litter of the objects' size: not objects
            self.dressing["clutter"] = paint_clutter(self.ground, extra, float(sun + np.pi), object_size)
        elevation = float(extra.uniform(0.55, 1.2)) if realism.cast_shadows else 0.9
        self.n_pixels = {}
        for o in plan.objects:
            rgb, alpha, hgt = o.identity.render(o.length, o.angle, light_dir=sun + np.pi, ss=3, elevation=elevation)
            # soft shadow on the ground, then the object; the label map marks the object's own pixels only
            if realism.cast_shadows:
                cast_shadow(self.ground, alpha, hgt, *o.center, self.sun, elevation, float(extra.uniform(0.4, 0.6)))
            else:
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
        if realism.occluders:  # bushes / tall grass over part of some objects (their pixels are then not visible)
            for o in plan.objects:
                if extra.random() < 0.3:
                    paint_occluder(self.ground, self.labels, extra, *o.center, o.length)
                    self.dressing["occluders"] += 1
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
        if realism.clutter:  # the crowns as muted as the ground beneath them
            canopy = 0.85 * (0.55 * canopy + 0.45 * canopy.mean(-1, keepdims=True))
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
        if realism.motion_blur:  # a sharper lens; the motion adds its own blur
            self.blur *= 0.65
        self._pad = 32
        self.noise_tile = rng.standard_normal((height + self._pad, width + self._pad, 3), np.float32) * \
            float(rng.uniform(0.004, 0.01))
        self.noise_rng = np.random.default_rng(int(rng.integers(1 << 31)))
        # motion blur: the exposure's share of the frame interval, and a little shake
        self.exposure = float(extra.uniform(0.05, 0.35)) if realism.motion_blur else 0.0  # 1/500 .. 1/70 s
        self.shake = extra.normal(0, 0.6, (n, 2)) if realism.motion_blur else np.zeros((n, 2))

    def __len__(self) -> int:
        return len(self.plan.path.zoom)

    @staticmethod
    def _warp(img: np.ndarray, M: np.ndarray, size: tuple[int, int], flags: int, border: int) -> np.ndarray:
        """warpAffine for a 2x3 matrix, warpPerspective for a 3x3 homography (a tilted camera)."""
        if M.shape[0] == 2:
            return cv2.warpAffine(img, M, size, flags=flags, borderMode=border)
        return cv2.warpPerspective(img, M, size, flags=flags, borderMode=border)

    def _area_scale(self, i: int, point: np.ndarray) -> float:
        """Image pixels per world pixel of area at `point` in frame i: zoom^2, or |det J| of the homography."""
        M = self.plan.path.matrix(i, self.W, self.H)
        if M.shape[0] == 2:
            return float(self.plan.path.zoom[i] ** 2)
        w = M[2, 0] * point[0] + M[2, 1] * point[1] + M[2, 2]
        return float(abs(np.linalg.det(M)) / max(abs(w), 1e-9) ** 3)

    def render(self, i: int) -> RenderedFrame:
        W, H, path = self.W, self.H, self.plan.path
        M = path.matrix(i, W, H)
        img = self._warp(self.ground_u8, M, (W, H), cv2.INTER_LINEAR, cv2.BORDER_REFLECT)
        img = img.astype(np.float32)
        lab = self._warp(self.labels, M, (W, H), cv2.INTER_NEAREST, cv2.BORDER_CONSTANT)
        if self.has_trees:
            Mt = path.matrix(i, W, H, gain=PARALLAX)
            a = self._warp(self.tree_alpha, Mt, (W, H), cv2.INTER_LINEAR, cv2.BORDER_CONSTANT)
            if a.max() > 0:
                tr = self._warp(self.tree_rgb, Mt, (W, H), cv2.INTER_LINEAR, cv2.BORDER_CONSTANT)
                img = cv2.blendLinear(img, tr.astype(np.float32), 1.0 - a, a)
                lab[a >= 0.5] = 0
        light = self.vignette * self.gain[i]                       # (H, W) multiplicative light of this frame
        if self.cloud_strength > 0:
            k = self.cloud_scale
            # cloud canvas q -> world k*q + drift*i -> image, evaluated at 1/k resolution then upsampled
            if M.shape[0] == 2:
                A = M[:, :2]
                off = (A @ (self.cloud_drift * i) + M[:, 2]) / k
                Mc = np.hstack([A, off[:, None]])
            else:
                S = np.array([[k, 0, self.cloud_drift[0] * i], [0, k, self.cloud_drift[1] * i], [0, 0, 1.0]])
                Mc = np.diag([1 / k, 1 / k, 1.0]) @ M @ S
            cl = self._warp(self.clouds, Mc, (W // k + 1, H // k + 1), cv2.INTER_LINEAR, cv2.BORDER_REFLECT)
            cl = cv2.resize(cl, (W, H), interpolation=cv2.INTER_LINEAR)
            light = light * (1.0 - self.cloud_strength * np.clip((cl - 0.45) * 4, 0, 1))
        img *= light[..., None] * (self.tint / 255.0)
        img = cv2.GaussianBlur(img, (0, 0), self.blur)
        if self.exposure > 0:  # the image moves during the exposure: blur along the motion of the frame's centre
            ker = motion_kernel(*(self._centre_motion(i) * self.exposure + self.shake[i]))
            if ker is not None:
                img = cv2.filter2D(img, -1, ker, borderType=cv2.BORDER_REFLECT)
        # sensor noise: a random crop of a fixed noise tile (drawing fresh noise every frame is the slow part)
        dy, dx = self.noise_rng.integers(0, self._pad, 2)
        img += self.noise_tile[dy:dy + H, dx:dx + W]
        image = cv2.convertScaleAbs(img, alpha=255.0)             # saturating cast to uint8
        visible = {}
        counts = np.bincount(lab.ravel(), minlength=len(self.plan.objects) + 2)
        for o in self.plan.objects:
            full = self.n_pixels.get(o.label, 0) * self._area_scale(i, o.center)
            visible[o.label] = float(min(counts[o.label] / full, 1.0)) if full > 0 else 0.0
        return RenderedFrame(image, lab, visible)

    def visible_fractions(self, label: int = 1) -> np.ndarray:
        """(n,) visible fraction of an object in every frame, from the label map and tree crowns only (cheap)."""
        W, H, path = self.W, self.H, self.plan.path
        full = self.n_pixels.get(label, 0)
        out = np.zeros(len(self), np.float32)
        if full == 0:
            return out
        centre = next(o.center for o in self.plan.objects if o.label == label)
        for i in range(len(self)):
            lab = self._warp(self.labels, path.matrix(i, W, H), (W, H), cv2.INTER_NEAREST,
                             cv2.BORDER_CONSTANT) == label
            if self.has_trees:
                a = self._warp(self.tree_alpha, path.matrix(i, W, H, gain=PARALLAX), (W, H), cv2.INTER_LINEAR,
                               cv2.BORDER_CONSTANT)
                lab &= a < 0.5
            out[i] = min(float(lab.sum()) / (full * self._area_scale(i, centre)), 1.0)
        return out

    def _homography(self, i: int) -> np.ndarray:
        M = self.plan.path.matrix(i, self.W, self.H)
        return np.vstack([M, [0, 0, 1]]) if M.shape[0] == 2 else M

    def _centre_motion(self, i: int) -> np.ndarray:
        """Image pixels the ground under the frame's centre moves per frame (from frame i-1 to i+1, halved)."""
        a, b = max(i - 1, 0), min(i + 1, len(self) - 1)
        if a == b:
            return np.zeros(2)
        w = np.linalg.solve(self._homography(i), np.array([self.W / 2, self.H / 2, 1.0]))  # that ground point
        pa, pb = self._homography(a) @ w, self._homography(b) @ w
        return (pb[:2] / pb[2] - pa[:2] / pa[2]) / (b - a)

    def frames(self) -> Iterator[RenderedFrame]:
        for i in range(len(self)):
            yield self.render(i)


def make_video_scene(target: ObjectIdentity, distractors: Sequence[ObjectIdentity], n_frames: int, width: int,
                     height: int, seed, object_size: Optional[tuple] = None, min_visible: float = 0.3,
                     detail: float = 1.0, realism: Realism = Realism.off()) -> VideoScene:
    """Plan and build one video's scene, deterministic for `seed` (an int or a sequence of ints). The realistic
    scene's parts (`realism`) draw from a second generator seeded from the same seed."""
    if n_frames < 2:
        raise InputError(f"n_frames must be at least 2, got {n_frames}")
    if width < 32 or height < 32:
        raise InputError(f"frame size must be at least 32x32, got {width}x{height}")
    for d in distractors:
        if d.appearance == target.appearance:
            raise InputError(f"distractor {d.name!r} has the target {target.name!r}'s appearance")
    rng = np.random.default_rng(seed)
    extra = np.random.default_rng([*np.atleast_1d(seed).tolist(), 97])
    size = object_size or default_object_size(width, getattr(target, "style", "simple"))
    # the plan approximates visibility (point samples, crowns as discs); the built scene is checked exactly and
    # re-planned in the rare case its stretches of visibility break the 1-3 interval rule
    for _ in range(6):
        plan = plan_video(rng, target, distractors, n_frames, width, height, size, min_visible, realism, extra)
        scene = VideoScene(plan, width, height, rng, detail, realism, extra, size)
        if intervals_ok(scene.visible_fractions(1), min_visible)[0]:
            break
    return scene

