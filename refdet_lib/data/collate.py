"""From dataset items to model-ready tensors: episodes, triplet batches and their DataLoaders.

A whole episode is one DataLoader item (`batch_size=None`): the worker loads the frames, augments, letterboxes and
stacks them, so the main process only moves tensors to the device. See docs/contracts.md for the batch layout.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch

from ..ops.boxes import boxes_to_letterbox, letterbox, letterbox_crop, square_resize
from ..ops.images import support_tensor, to_tensor
from .augment import Augmenter, rotate_hue
from .sampling import EpisodeSampler, TripletSampler


class EpisodeCollator:
    """Builds the contract's batch dict from a list of dataset items and their episode labels.

    crop: when 0 < crop < imgsz, each query is a crop x crop window of the frame at the imgsz scale (holding its box)
    instead of the whole letterboxed frame: the same object size in pixels for a fraction of the step's cost."""

    def __init__(self, imgsz: int = 640, support_size: int = 518, n_shot: int = 3,
                 augmenter: Optional[Augmenter] = None, class_to_idx: Optional[dict] = None, crop: int = 0):
        self.imgsz, self.support_size, self.n_shot = imgsz, support_size, n_shot
        self.crop = crop if 0 < crop < imgsz else 0
        self.aug = augmenter
        self.class_to_idx = class_to_idx or {}

    def __call__(self, items: list[dict], labels: list[int], videos: list[str],
                 rng: Optional[np.random.Generator] = None) -> dict:
        queries, bxs, cls, bidx, base, meta = [], [], [], [], [], []
        hue = self.aug.episode_hue(rng) if self.aug is not None else 0.0  # one recolouring for the whole episode
        for b, (it, c) in enumerate(zip(items, labels)):
            frame, boxes = it["query_frame"], it["bboxes"]
            if self.aug is not None:
                frame, boxes = self.aug(rotate_hue(frame, hue), boxes, rng)
            if self.crop:
                img, lb, r, pad = letterbox_crop(frame, boxes, self.imgsz, self.crop,
                                                 rng if rng is not None else np.random.default_rng())
            else:
                img, r, pad = letterbox(frame, self.imgsz)
                lb = boxes_to_letterbox(boxes, r, pad)
            queries.append(img)
            bxs.append(lb)
            cls += [c] * len(lb)
            bidx += [b] * len(lb)
            base += [self.class_to_idx.get(it["video_id"], -1)] * len(lb)
            meta.append(dict(video_id=it["video_id"], frame=int(it.get("frame", -1)),
                             orig_shape=tuple(frame.shape[:2]), ratio=r, pad=pad))
        support = []
        for v in videos:
            refs = next(it["support_images"] for it in items if it["video_id"] == v)
            if self.aug is not None:
                refs = [self.aug.reference_image(rotate_hue(im, hue), rng) for im in refs]
            support.append(support_tensor(refs, self.support_size, self.n_shot))
        return {
            "query": to_tensor(queries),                                             # (B, 3, S, S)
            "support": torch.stack(support),                                         # (C, K, 3, R, R)
            "bboxes": torch.from_numpy(np.concatenate(bxs).reshape(-1, 4)).float(),  # (N, 4)
            "cls": torch.tensor(cls, dtype=torch.long),                              # (N,)
            "batch_idx": torch.tensor(bidx, dtype=torch.long),                       # (N,)
            "base_cls": torch.tensor(base, dtype=torch.long),                        # (N,)
            "query_cls": torch.tensor(labels, dtype=torch.long),                     # (B,)
            "meta": meta,
        }


class EpisodeDataset(torch.utils.data.Dataset):
    """Map-style view of an EpisodeSampler: item k = the k-th episode (of this rank) of the current epoch, collated."""

    def __init__(self, dataset, sampler: EpisodeSampler, collator: EpisodeCollator):
        self.ds, self.sampler, self.collator = dataset, sampler, collator

    def set_epoch(self, epoch: int) -> None:
        self.sampler.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.sampler)

    def __getitem__(self, k: int) -> dict:
        g = k * self.sampler.world_size + self.sampler.rank
        ep = self.sampler.episode(g)
        items = [self.ds[i] for i in ep.indices]
        rng = np.random.default_rng((self.sampler.seed, self.sampler.epoch, g, 1))
        return self.collator(items, ep.labels, ep.videos, rng)


def _crop(img: np.ndarray, box, jitter=(0.0, 0.0, 0.0), context: float = 0.25) -> np.ndarray:
    """Square crop around `box` with some context and jitter (keeps small drone objects recognisable)."""
    h, w = img.shape[:2]
    x1, y1, x2, y2 = box
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    side = max(x2 - x1, y2 - y1) * (1 + context) * (1 + 0.15 * jitter[2])
    side = max(side, 8.0)
    cx += 0.1 * side * jitter[0]
    cy += 0.1 * side * jitter[1]
    a, b = int(max(0, cx - side / 2)), int(max(0, cy - side / 2))
    c, d = int(min(w, cx + side / 2)), int(min(h, cy + side / 2))
    if c - a < 2 or d - b < 2:
        return img[: max(2, min(h, 8)), : max(2, min(w, 8))]
    return img[b:d, a:c]


def _background_box(img_shape, box, rng) -> tuple:
    """A box of the object's size somewhere in the frame that does not overlap the object."""
    h, w = img_shape[:2]
    x1, y1, x2, y2 = box
    bw, bh = x2 - x1, y2 - y1
    for _ in range(20):
        nx, ny = rng.uniform(0, max(1, w - bw)), rng.uniform(0, max(1, h - bh))
        if nx + bw < x1 or nx > x2 or ny + bh < y1 or ny > y2:
            return (nx, ny, nx + bw, ny + bh)
    return (0, 0, bw, bh) if x1 > bw or y1 > bh else (w - bw, h - bh, w, h)


class TripletDataset(torch.utils.data.Dataset):
    """Map-style view of a TripletSampler: item k = (anchor, positive, negative) image tensors, (T, 3, R, R) each."""

    def __init__(self, dataset, sampler: TripletSampler, support_size: int = 518,
                 augmenter: Optional[Augmenter] = None):
        self.ds, self.sampler, self.size, self.aug = dataset, sampler, support_size, augmenter

    def set_epoch(self, epoch: int) -> None:
        self.sampler.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.sampler)

    def __getitem__(self, k: int) -> dict:
        specs = self.sampler.batch(k)
        rng = np.random.default_rng((self.sampler.seed, self.sampler.epoch, k, 3))
        anchors, positives, negatives, labels, kinds = [], [], [], [], []
        for s in specs:
            refs = self.ds.support_images(s.video)
            a = refs[s.ref % len(refs)]
            pit = self.ds[s.pos_index]
            pbox = pit["bboxes"][s.pos_box % max(1, len(pit["bboxes"]))]
            p = _crop(pit["query_frame"], pbox, s.jitter)
            if s.neg_kind == "background":
                n = _crop(pit["query_frame"], _background_box(pit["query_frame"].shape, pbox, rng), s.jitter)
            else:
                nit = self.ds[s.neg_index]
                n = _crop(nit["query_frame"], nit["bboxes"][0], s.jitter)
            if self.aug is not None:
                a = self.aug.reference_image(a, rng)
            anchors.append(square_resize(a, self.size))
            positives.append(square_resize(p, self.size))
            negatives.append(square_resize(n, self.size))
            labels.append(self.ds.class_to_idx[s.video])
            kinds.append(s.neg_kind)
        return {"anchor": to_tensor(anchors), "positive": to_tensor(positives), "negative": to_tensor(negatives),
                "labels": torch.tensor(labels), "neg_kind": kinds}


def make_loader(episodes: torch.utils.data.Dataset, num_workers: int = 0, pin_memory: Optional[bool] = None,
                shuffle: bool = False) -> torch.utils.data.DataLoader:
    """DataLoader over pre-collated items (batch_size=None); pinned memory only when CUDA is there."""
    if pin_memory is None:
        pin_memory = torch.cuda.is_available()
    return torch.utils.data.DataLoader(episodes, batch_size=None, shuffle=shuffle, num_workers=num_workers,
                                       pin_memory=pin_memory, persistent_workers=False,
                                       prefetch_factor=2 if num_workers > 0 else None)
