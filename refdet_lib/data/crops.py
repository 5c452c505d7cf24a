"""Batches of crops for the verifier's metric learning: many identities per step, each seen from the air and in its
reference photos, against hard negatives.

One item = one batch (like an episode): `n_ids` identities x (`n_views` drone crops + `n_refs` reference photos), plus
`n_negatives` crops that belong to no identity (the detector's own false positives on training frames), labelled so
that they only ever repel. Identities come from three sources:
  - training videos: crops of annotated frames (the box with context and jitter) and the video's reference photos;
  - a bank of generated identities rendered once (`GeneratedBank`: no video needed);
  - fresh generated identities rendered for this very batch (new objects in every batch).
Each identity's views share one random hue turn (half the time), so the verifier learns to compare colours rather
than to remember the training split's hues. Every batch is a pure function of (seed, epoch, index).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from ..errors import InputError
from ..ops.boxes import square_resize
from ..ops.images import crop_patches, to_tensor
from .augment import rotate_hue

NEGATIVE = -1  # labels below 0: a crop of no identity (each its own label, so never a positive of anything)


def _jitter(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Light and colour of a crop: brightness, contrast, a little saturation, sometimes a mirror."""
    x = img.astype(np.float32)
    x = (x - x.mean()) * rng.uniform(0.8, 1.2) + x.mean() * rng.uniform(0.8, 1.2)
    grey = x.mean(-1, keepdims=True)
    x = grey + (x - grey) * rng.uniform(0.8, 1.2)
    x = np.clip(x, 0, 255).astype(np.uint8)
    return x[:, ::-1].copy() if rng.random() < 0.5 else x


@dataclass
class GeneratedBank:
    """Identities rendered once: per identity, drone crops and reference photos (uint8, crop_size square)."""

    views: list[np.ndarray]   # (V, S, S, 3) per identity
    refs: list[np.ndarray]    # (R, S, S, 3) per identity

    def __len__(self) -> int:
        return len(self.views)

    @classmethod
    def build(cls, n: int, size: int, context: float, style: str = "realistic", seed: int = 0, n_views: int = 3,
              n_refs: int = 2, split: str = "train", exclude=()) -> "GeneratedBank":
        from .synthetic.casting import sample_targets
        from .synthetic.crops import drone_crop, reference_photo

        idents = sample_targets(style, n, seed + 55_555, exclude, split)
        views, refs = [], []
        for i, ident in enumerate(idents):
            rng = np.random.default_rng([seed, i, 5])
            views.append(np.stack([drone_crop(ident, rng, size, context) for _ in range(n_views)]))
            refs.append(np.stack([square_resize(reference_photo(ident, rng), size) for _ in range(n_refs)]))
        return cls(views, refs)


class CropBatches(torch.utils.data.Dataset):
    """Map-style: item k = {"crops": (N, 3, S, S) float in [0, 1], "labels": (N,) int64, "kinds": list[str]}."""

    def __init__(self, dataset=None, n_batches: int = 50, n_ids: int = 16, n_views: int = 2, n_refs: int = 2,
                 size: int = 64, context: float = 1.5, bank: Optional[GeneratedBank] = None, n_fresh: int = 2,
                 negatives: Optional[np.ndarray] = None, n_negatives: int = 16, style: str = "realistic",
                 seed: int = 0, hue_p: float = 0.5, exclude=()):
        self.ds, self.n_batches, self.n_ids, self.n_views, self.n_refs = dataset, n_batches, n_ids, n_views, n_refs
        self.size, self.context, self.bank, self.n_fresh, self.style = size, context, bank, n_fresh, style
        self.negatives = negatives if negatives is not None else np.zeros((0, size, size, 3), np.uint8)
        self.n_negatives, self.seed, self.hue_p, self.exclude = n_negatives, seed, hue_p, list(exclude)
        self.videos = list(dataset.classes) if dataset is not None else []
        self.pos = dataset.indices_by_video(positives_only=True) if dataset is not None else {}
        if not (self.videos or (bank is not None and len(bank)) or n_fresh):
            raise InputError("CropBatches needs training videos, a generated bank or fresh identities")
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.n_batches

    # ------------------------------------------------------------------ one identity's images
    def _video(self, v: str, rng) -> tuple[list, list]:
        idx = rng.choice(self.pos[v], self.n_views, replace=len(self.pos[v]) < self.n_views)
        views = []
        for i in idx:
            it = self.ds[int(i)]
            b = it["bboxes"][int(rng.integers(len(it["bboxes"])))].copy()
            side = max(b[2] - b[0], b[3] - b[1])
            b += rng.uniform(-0.1, 0.1, 4).astype(np.float32) * side  # a detector's box is never exact
            views.append(crop_patches(it["query_frame"], b[None], self.size, self.context * rng.uniform(0.9, 1.15))[0])
        photos = self.ds.support_images(v)
        refs = [square_resize(photos[int(j) % len(photos)], self.size) for j in rng.permutation(max(len(photos),
                                                                                                     self.n_refs))]
        return views, refs[: self.n_refs]

    def _fresh(self, k: int, j: int) -> tuple[list, list]:
        from .synthetic.casting import sample_targets
        from .synthetic.crops import drone_crop, reference_photo

        rng = np.random.default_rng((self.seed, self.epoch, k, j, 9))
        ident = sample_targets(self.style, 1, int(rng.integers(1 << 30)), self.exclude, "train")[0]
        views = [drone_crop(ident, rng, self.size, self.context) for _ in range(self.n_views)]
        refs = [square_resize(reference_photo(ident, rng), self.size) for _ in range(self.n_refs)]
        return views, refs

    def __getitem__(self, k: int) -> dict:
        rng = np.random.default_rng((self.seed, self.epoch, k, 4))
        sources = [("video", v) for v in self.videos] + [("bank", i) for i in range(len(self.bank or []))]
        n_pick = min(self.n_ids - self.n_fresh, len(sources))
        picked = [sources[i] for i in rng.choice(len(sources), n_pick, replace=False)] if n_pick > 0 else []
        picked += [("fresh", j) for j in range(self.n_fresh)]
        imgs, labels, kinds = [], [], []
        for lab, (kind, key) in enumerate(picked):
            if kind == "video":
                views, refs = self._video(key, rng)
            elif kind == "bank":
                views = list(self.bank.views[key][rng.permutation(len(self.bank.views[key]))[: self.n_views]])
                refs = list(self.bank.refs[key][rng.permutation(len(self.bank.refs[key]))[: self.n_refs]])
            else:
                views, refs = self._fresh(k, key)
            hue = float(rng.uniform(-180, 180)) if rng.random() < self.hue_p else 0.0  # one turn for the identity
            for im, what in [(v, "view") for v in views] + [(r, "ref") for r in refs]:
                imgs.append(_jitter(rotate_hue(np.ascontiguousarray(im), hue), rng))
                labels.append(lab)
                kinds.append(what)
        if len(self.negatives) and self.n_negatives:
            for n, i in enumerate(rng.choice(len(self.negatives), min(self.n_negatives, len(self.negatives)),
                                             replace=False)):
                imgs.append(_jitter(self.negatives[int(i)], rng))
                labels.append(NEGATIVE - n)
                kinds.append("negative")
        return {"crops": to_tensor(imgs), "labels": torch.tensor(labels, dtype=torch.long), "kinds": kinds}
