"""Who appears in a video: its target identity and the distractors on the ground around it, for either style.

Distractors are never the target's appearance. In the realistic style, with hard distractors on, the first of them
are chosen to defeat the shortcuts a matcher would like to take: another identity of the target's category (two
backpacks of other colour or pattern) and an object of another category in the target's colour; the rest come from
the other targets and extra identities of the split.
"""
from __future__ import annotations

import dataclasses
from typing import Iterable, Optional, Sequence

import numpy as np

from .identities import _hsv_to_rgb, _rgb_to_hsv, sample_identities
from .realistic import LAYOUTS, sample_real_identities
from .style import Realism


def sample_targets(style: str, n: int, seed: int, exclude: Iterable, split: str,
                   class_names: Optional[Sequence[str]] = None) -> list:
    """`n` target identities of `style` (see sample_identities / sample_real_identities)."""
    if style == "realistic":
        return sample_real_identities(n, seed, exclude, split, class_names)
    return sample_identities(n, seed, exclude, split, class_names)


def extras_pool(style: str, n: int, seed: int, exclude: Iterable, split: str,
                class_names: Optional[Sequence[str]] = None) -> list:
    """Identities that only ever appear as distractors (a disjoint seed: never one of the targets)."""
    return sample_targets(style, n, seed + 1_000_003, exclude, split, class_names)


def hard_distractors(target, rng: np.random.Generator, exclude: list, split: str) -> list:
    """[another identity of the target's category, an object of another category in the target's colour]."""
    same = sample_real_identities(1, int(rng.integers(1 << 30)), exclude, split, categories=[target.category])[0]
    other = [c for c in LAYOUTS if c != target.category]
    colour = sample_real_identities(1, int(rng.integers(1 << 30)), exclude + [same], "any",
                                    categories=[other[int(rng.integers(len(other)))]])[0]
    h, s, v = _rgb_to_hsv(target.primary)
    primary = _hsv_to_rgb(h + rng.uniform(-6, 6), float(np.clip(s * rng.uniform(0.9, 1.1), 0, 1)),
                          float(np.clip(v * rng.uniform(0.9, 1.1), 0, 1))) if s > 0.05 else target.primary
    colour = dataclasses.replace(colour, primary=primary)
    return [same, colour]


def pick_distractors(target, pool: list, n: int, rng: np.random.Generator, realism: Realism, exclude: list,
                     split: str) -> list:
    """`n` distractors for one video (`rng`: that video's generator)."""
    pool = [d for d in pool if d.appearance != target.appearance]
    pool = list({d.appearance: d for d in pool}.values())
    picked = [pool[j] for j in rng.permutation(len(pool))[:n]]
    if realism.hard_distractors and getattr(target, "style", "simple") == "realistic" and n > 0:
        hard = hard_distractors(target, rng, exclude + pool + [target], split)
        picked = (hard + picked)[:max(n, 2)]
    return picked
