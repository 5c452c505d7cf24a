"""Albumentations pipelines for query frames (box-aware) and reference images.

Query frames get what a drone camera does to a scene: light and colour changes, vibration blur, altitude (scale),
drift (translate) and small heading changes (rotation). References get crop jitter, rotation and colour, because a
person's three photos of a backpack never match the drone's view. Every probability comes from `AugmentConfig`;
`AugmentConfig.off()` turns all of them to 0 (the guide's first check when the loss does not decrease).
"""
from __future__ import annotations

import os

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import albumentations as A
import cv2
import numpy as np

from ..config import AugmentConfig


def build_query_transform(cfg: AugmentConfig) -> A.Compose:
    """Box-aware transform for query frames: call with image=, bboxes= (pascal_voc xyxy pixels), labels=."""
    t = [
        A.ColorJitter(brightness=0.3, contrast=0.3, saturation=0.3, hue=0.03, p=cfg.color_p),
        A.OneOf([A.GaussianBlur(blur_limit=(3, 5)), A.MotionBlur(blur_limit=(3, 7))], p=cfg.blur_p),
        A.Affine(scale=tuple(cfg.scale), translate_percent=(-cfg.translate, cfg.translate),
                 rotate=(-cfg.rotate, cfg.rotate), border_mode=0, fill=114, p=cfg.affine_p),
        A.HorizontalFlip(p=cfg.hflip_p),
    ]
    return A.Compose(t, bbox_params=A.BboxParams(format="pascal_voc", label_fields=["labels"], min_visibility=0.4,
                                                 min_area=4.0, clip=True))


def build_reference_transform(cfg: AugmentConfig) -> A.Compose:
    """Transform for reference images (no boxes: the whole image is the object's photo)."""
    return A.Compose([
        A.RandomResizedCrop(size=(224, 224), scale=(0.6, 1.0), ratio=(0.8, 1.25), p=cfg.ref_crop_p),
        A.Rotate(limit=30, border_mode=0, fill=114, p=cfg.ref_rotate_p),
        A.ColorJitter(brightness=0.3, contrast=0.3, saturation=0.3, hue=0.05, p=cfg.ref_color_p),
        A.HorizontalFlip(p=0.5 if cfg.ref_crop_p > 0 else 0.0),
    ])


def rotate_hue(img: np.ndarray, degrees: float) -> np.ndarray:
    """RGB uint8 image with every hue turned by `degrees` (saturation and value kept)."""
    if not degrees:
        return img
    hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)  # OpenCV's uint8 hue is 0..179 (2 degrees per step)
    hsv[..., 0] = ((hsv[..., 0].astype(np.int16) + int(round(degrees / 2))) % 180).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


class Augmenter:
    """Both pipelines together, applied with a given numpy Generator so episodes are reproducible."""

    def __init__(self, cfg: AugmentConfig | None = None):
        self.cfg = cfg or AugmentConfig()
        self.query = build_query_transform(self.cfg)
        self.reference = build_reference_transform(self.cfg)
        self.enabled = any(getattr(self.cfg, k) > 0 for k in ("color_p", "blur_p", "affine_p", "hflip_p",
                                                               "ref_crop_p", "ref_rotate_p", "ref_color_p",
                                                               "episode_hue_p"))

    def episode_hue(self, rng: np.random.Generator | None) -> float:
        """Degrees of hue rotation for a whole episode (0 when not drawn); apply with `rotate_hue`."""
        rng = rng if rng is not None else np.random.default_rng()
        if not self.enabled or rng.random() >= self.cfg.episode_hue_p:
            return 0.0
        return float(rng.uniform(-self.cfg.episode_hue, self.cfg.episode_hue))

    def _seed(self, rng: np.random.Generator | None):
        if rng is not None:
            s = int(rng.integers(0, 2**31 - 1))
            self.query.set_random_seed(s)
            self.reference.set_random_seed(s + 1)

    def __call__(self, frame: np.ndarray, boxes: np.ndarray, rng: np.random.Generator | None = None,
                 labels: np.ndarray | None = None):
        """Augment a query frame and its (N, 4) xyxy boxes; returns (frame, boxes), or (frame, boxes, labels) when
        per-box labels are given. Boxes that leave the frame are dropped (with their labels)."""
        lab = np.zeros(len(boxes), np.int64) if labels is None else np.asarray(labels, np.int64)
        if not self.enabled:
            return (frame, boxes) if labels is None else (frame, boxes, lab)
        self._seed(rng)
        h, w = frame.shape[:2]
        b = np.asarray(boxes, np.float32).reshape(-1, 4).copy()
        b[:, [0, 2]] = b[:, [0, 2]].clip(0, w)
        b[:, [1, 3]] = b[:, [1, 3]].clip(0, h)
        keep = (b[:, 2] > b[:, 0]) & (b[:, 3] > b[:, 1])
        out = self.query(image=frame, bboxes=b[keep], labels=lab[keep])
        ob = np.asarray(out["bboxes"], np.float32).reshape(-1, 4)
        if labels is None:
            return out["image"], ob
        return out["image"], ob, np.asarray(out["labels"], np.int64)

    def reference_image(self, img: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        if not self.enabled:
            return img
        self._seed(rng)
        return self.reference(image=img)["image"]
