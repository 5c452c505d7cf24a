"""Episodic, triplet and mixed batch sampling.

An *episode* is a tiny few-shot task: pick `n_way` objects (videos), take `n_query` frames of each, and ask the
model to find each object from its reference images. Training on thousands of such tasks teaches the model to
match references rather than to memorise objects, which is what lets it find an object it never saw.

Every sample is drawn from `np.random.default_rng((seed, epoch, index))`, so an episode depends only on those three
numbers: the same with 0 or 8 DataLoader workers, on one process or split across DDP ranks, and after a resume.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..errors import InputError

NEGATIVE_STRATEGIES = ("background", "cross_class", "mixed")


def reference_descriptors(dataset, hue_bins: int = 18, sat_bins: int = 3,
                          centre: float = 0.6) -> dict[str, np.ndarray]:
    """Per video: a hue x saturation histogram of the middle of its reference photos (what a glance at the colours
    sees; brightness left out, so shade and shadow do not matter), blurred along the hue circle so that near hues
    overlap, averaged over the photos, summing to 1. (hue_bins * sat_bins,) per video."""
    import cv2

    out = {}
    for v in dataset.classes:
        hists = []
        for img in dataset.support_images(v):
            h, w = img.shape[:2]
            dy, dx = int(h * (1 - centre) / 2), int(w * (1 - centre) / 2)
            hsv = cv2.cvtColor(np.ascontiguousarray(img[dy:h - dy, dx:w - dx]), cv2.COLOR_RGB2HSV)
            hist = cv2.calcHist([hsv], [0, 1], None, [hue_bins, sat_bins], [0, 180, 0, 256])  # (hue, sat)
            hist = 0.5 * hist + 0.25 * (np.roll(hist, 1, 0) + np.roll(hist, -1, 0))  # hue is a circle
            hists.append(hist.ravel() / max(float(hist.sum()), 1.0))
        out[v] = np.mean(hists, 0) if hists else np.full(hue_bins * sat_bins, 1.0 / (hue_bins * sat_bins))
    return out


def look_alikes(descriptors: dict[str, np.ndarray]) -> dict[str, list[str]]:
    """video -> the other videos, most alike first (histogram intersection of `reference_descriptors`)."""
    names = list(descriptors)
    d = np.stack([descriptors[v] for v in names])  # (V, bins)
    sim = np.minimum(d[:, None], d[None]).sum(-1)  # (V, V) in [0, 1]
    out = {}
    for i, v in enumerate(names):
        out[v] = [names[j] for j in np.argsort(-sim[i], kind="stable") if j != i]
    return out


@dataclass
class Episode:
    videos: list[str]          # the episode's objects; class c = videos[c]
    indices: list[int]         # dataset indices of the query frames, grouped by class
    labels: list[int]          # episode class of each query frame


class EpisodeSampler:
    """`n_episodes` episodes per epoch of `n_way` videos x `n_query` frames.

    `neg_fraction` of each object's frames are drawn from its background (unannotated) frames when the dataset has
    some, so the model also learns to say "not here". `hard_fraction` of the episodes are *hard*: one object at
    random plus n_way - 1 of its look-alikes (drawn from the 2 x (n_way - 1) videos whose references have the closest
    colour histograms), so telling them apart takes shape and texture, not colour alone; random pairs usually differ
    in colour. With `world_size` > 1 each rank gets every world_size-th episode (a distributed sampler without
    padding surprises: n_episodes is rounded up to a multiple). `fixed`: every epoch is epoch 0 (the same episodes
    and, through the collator's seeds, the same augmentations), for a fine-tune whose epochs should be passes over
    one set: with new episodes each epoch, a 12-episode epoch's loss moves by the draw more than by training.
    """

    def __init__(self, dataset, n_way: int = 2, n_query: int = 4, n_episodes: int = 100, seed: int = 0,
                 neg_fraction: float = 0.0, rank: int = 0, world_size: int = 1, hard_fraction: float = 0.0,
                 fixed: bool = False):
        self.videos = list(dataset.classes)
        if n_way < 1 or n_query < 1 or n_episodes < 1:
            raise InputError(f"n_way, n_query and n_episodes must be >= 1 (got {n_way}, {n_query}, {n_episodes})")
        if n_way > len(self.videos):
            raise InputError(f"n_way={n_way} is larger than the number of videos in {dataset.data_root} "
                             f"({len(self.videos)})")
        self.pos = dataset.indices_by_video(positives_only=True)
        allv = dataset.indices_by_video()
        self.neg = {v: [i for i in allv[v] if i >= dataset.n_positive] for v in self.videos}
        empty = [v for v in self.videos if not self.pos[v]]
        if empty:
            raise InputError(f"videos without annotated frames cannot be episode objects: {empty}")
        self.n_way, self.n_query, self.n_episodes = n_way, n_query, n_episodes
        self.seed, self.neg_fraction = seed, neg_fraction
        if not 0.0 <= hard_fraction <= 1.0:
            raise InputError(f"hard_fraction (hard episodes) must be in [0, 1], got {hard_fraction}")
        self.hard_fraction = hard_fraction
        self.alike = look_alikes(reference_descriptors(dataset)) if hard_fraction > 0 and n_way > 1 else None
        self.rank, self.world_size = rank, world_size
        self.fixed = fixed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = 0 if self.fixed else int(epoch)

    def __len__(self) -> int:
        return -(-self.n_episodes // self.world_size)

    def episode(self, index: int, epoch: Optional[int] = None) -> Episode:
        """The episode with global number `index` of `epoch` (pure function of seed, epoch, index)."""
        rng = np.random.default_rng((self.seed, self.epoch if epoch is None else epoch, index))
        if self.alike is not None and rng.random() < self.hard_fraction:
            first = self.videos[int(rng.integers(len(self.videos)))]
            near = self.alike[first][: 2 * (self.n_way - 1)]
            vids = [first] + [near[i] for i in rng.choice(len(near), self.n_way - 1, replace=False)]
        else:
            vids = [self.videos[i] for i in rng.choice(len(self.videos), self.n_way, replace=False)]
        indices, labels = [], []
        for c, v in enumerate(vids):
            n_neg = int(round(self.n_query * self.neg_fraction)) if self.neg[v] else 0
            pos = self.pos[v]
            picks = list(rng.choice(pos, self.n_query - n_neg, replace=len(pos) < self.n_query - n_neg))
            if n_neg:
                picks += list(rng.choice(self.neg[v], n_neg, replace=len(self.neg[v]) < n_neg))
            indices += [int(i) for i in picks]
            labels += [c] * len(picks)
        return Episode(vids, indices, labels)

    def __iter__(self):
        for k in range(len(self)):
            yield self.episode(k * self.world_size + self.rank)


@dataclass
class TripletSpec:
    """One triplet: anchor = a reference image of `video`, positive = a crop of that object in `pos_index`,
    negative = a background crop of `neg_index` (box=None) or the object crop of another video."""

    video: str
    ref: int
    pos_index: int
    pos_box: int
    neg_index: int
    neg_kind: str              # "background" | "cross_class"
    jitter: tuple              # (dx, dy, ds) crop jitter in [-1, 1]


class TripletSampler:
    """Batches of (anchor, positive, negative) triplets with the guide's `negative_strategy`.

    background: the negative is a patch of the same frame's ground, away from the object (teaches object vs clutter);
    cross_class: the negative is another object (teaches one object vs another); mixed: half and half.
    """

    def __init__(self, dataset, batch_size: int = 8, negative_strategy: str = "mixed", n_batches: int = 30,
                 seed: int = 0):
        if negative_strategy not in NEGATIVE_STRATEGIES:
            raise InputError(f"negative_strategy must be one of {NEGATIVE_STRATEGIES}, got {negative_strategy!r}")
        if negative_strategy != "background" and len(dataset.classes) < 2:
            raise InputError("cross_class negatives need at least 2 videos")
        self.ds = dataset
        self.batch_size, self.strategy, self.n_batches, self.seed = batch_size, negative_strategy, n_batches, seed
        self.pos = dataset.indices_by_video(positives_only=True)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.n_batches

    def batch(self, index: int, epoch: Optional[int] = None) -> list[TripletSpec]:
        rng = np.random.default_rng((self.seed, self.epoch if epoch is None else epoch, index, 7))
        vids = self.ds.classes
        out = []
        for _ in range(self.batch_size):
            v = vids[int(rng.integers(len(vids)))]
            n_refs = max(1, len(self.ds.ref_paths[v]))
            pi = int(rng.choice(self.pos[v]))
            kind = self.strategy if self.strategy != "mixed" else ("background" if rng.random() < 0.5
                                                                    else "cross_class")
            if kind == "background":
                ni = pi
            else:
                others = [u for u in vids if u != v]
                ni = int(rng.choice(self.pos[others[int(rng.integers(len(others)))]]))
            nb = len(self.ds.boxes(*self.ds.items[pi]))
            out.append(TripletSpec(v, int(rng.integers(n_refs)), pi, int(rng.integers(max(nb, 1))), ni, kind,
                                   tuple(float(x) for x in rng.uniform(-1, 1, 3))))
        return out


def interleave(n_episodes: int, n_triplets: int, seed: int = 0, epoch: int = 0) -> list[str]:
    """An epoch's step kinds: `n_episodes` "episode" and `n_triplets` "triplet" steps, the triplets spread at random
    (a pure function of seed and epoch, like the episodes themselves)."""
    n = n_episodes + n_triplets
    rng = np.random.default_rng((seed, epoch, 99))
    kinds = np.array(["episode"] * n, dtype=object)
    kinds[rng.choice(n, n_triplets, replace=False)] = "triplet"
    return kinds.tolist()


def split_batches(n_batches: int, triplet_ratio: float) -> tuple[int, int]:
    """The guide's mixed batches: of `n_batches` per epoch, round(n_batches * ratio) are triplet batches and the
    rest episodes -> (n_episodes, n_triplets). At least one episode stays."""
    if not 0.0 <= triplet_ratio <= 1.0:
        raise InputError(f"triplet_ratio must be in [0, 1], got {triplet_ratio}")
    n_tri = min(int(round(n_batches * triplet_ratio)), max(n_batches - 1, 0))
    return n_batches - n_tri, n_tri


def mixed_schedule(n_steps: int, triplet_ratio: float, seed: int = 0, epoch: int = 0) -> list[str]:
    """Which steps of an epoch are triplet batches: exactly round(n_steps * ratio) of them, spread at random."""
    return interleave(*split_batches(n_steps, triplet_ratio), seed, epoch)
