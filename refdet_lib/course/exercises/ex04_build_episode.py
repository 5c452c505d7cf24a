"""Exercise 4: build a few-shot episode from a dataset."""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from ._check import _call, _short, _verdict


def check_build_episode(build_episode: Callable, dataset, n_way: int = 2, n_query: int = 4, imgsz: int = 64,
                        support_size: int = 56, seeds: Sequence[int] = range(8)) -> None:
    """Exercise 4. `build_episode(dataset, n_way, n_query, rng) -> (videos, indices, labels)`.

    Checked for several seeds: n_way distinct videos of the dataset, n_query different annotated frames of each,
    indices grouped by class with labels[j] = c for the c-th video; different seeds give different episodes whose
    frames come from the whole video (not always its first ones); and the library's EpisodeCollator turns it into a
    batch whose query_cls / box cls agree with those labels.
    """
    from ...data import EpisodeCollator

    name = "build_episode"
    failures, episodes = [], []
    for seed in seeds:
        out = _call(name, build_episode, dataset, n_way, n_query, np.random.default_rng(seed))
        where = f"seed {seed} (n_way={n_way}, n_query={n_query})"
        if not isinstance(out, (tuple, list)) or len(out) != 3:
            failures.append(f"{where}: expected a tuple (videos, indices, labels), got {_short(out)}")
            continue
        videos, indices, labels = (list(x) for x in out)
        videos = [str(v) for v in videos]
        if len(videos) != n_way or len(set(videos)) != n_way:
            failures.append(f"{where}: expected {n_way} distinct videos, got {videos}")
            continue
        unknown = [v for v in videos if v not in dataset.class_to_idx]
        if unknown:
            failures.append(f"{where}: videos not in the dataset: {unknown} (choose from dataset.classes)")
            continue
        if len(indices) != n_way * n_query or len(labels) != n_way * n_query:
            failures.append(f"{where}: expected {n_way * n_query} indices and labels (n_way x n_query), got "
                            f"{len(indices)} and {len(labels)}")
            continue
        want_labels = [c for c in range(n_way) for _ in range(n_query)]
        if [int(x) for x in labels] != want_labels:
            failures.append(f"{where}: labels must be grouped by class, {want_labels}; got {[int(x) for x in labels]}")
            continue
        bad = []
        for j, (i, c) in enumerate(zip(indices, labels)):
            i = int(i)
            if not 0 <= i < len(dataset):
                bad.append(f"index {i} is outside the dataset (len {len(dataset)})")
            elif dataset.items[i][0] != videos[int(c)]:
                bad.append(f"query {j} (label {int(c)} = {videos[int(c)]}) is a frame of {dataset.items[i][0]}")
            elif i >= dataset.n_positive:
                bad.append(f"query {j} (index {i}) is a background frame without a box; use annotated frames "
                           "(dataset.indices_by_video(positives_only=True))")
        positives = dataset.indices_by_video(positives_only=True)
        for c, v in enumerate(videos):
            mine = [int(i) for i, lab in zip(indices, labels) if int(lab) == c]
            if len(set(mine)) < min(n_query, len(positives[v])):
                bad.append(f"{v}: the same frame more than once ({mine}); an episode needs {n_query} different "
                           "frames of each object (sample without replacement)")
        if bad:
            failures.append(f"{where}: " + "; ".join(bad[:3]))
            continue
        episodes.append((tuple(videos), tuple(int(i) for i in indices), want_labels))
    if not failures and len(dataset.classes) > n_way and len({e[:2] for e in episodes}) == 1:
        failures.append(f"all {len(episodes)} seeds gave the same episode {episodes[0][0]}: draw the videos and "
                        "frames with the `rng` passed in")
    if not failures and episodes:  # frames drawn from the whole video, not always its first annotated ones
        positives = dataset.indices_by_video(positives_only=True)
        first = [all(sorted(int(i) for i, lab in zip(e[1], e[2]) if lab == c) == sorted(positives[v])[:n_query]
                     for c, v in enumerate(e[0])) for e in episodes]
        if all(first) and any(len(positives[v]) > n_query for e in episodes for v in e[0]):
            failures.append(f"every episode takes each video's first {n_query} annotated frames: draw them at random "
                            "from all its annotated frames (rng.choice(..., replace=False)), so that training sees "
                            "the whole video")
    if not failures:
        videos, indices, labels = episodes[0]
        batch = EpisodeCollator(imgsz=imgsz, support_size=support_size)(
            [dataset[i] for i in indices], labels, list(videos))
        if batch["query_cls"].tolist() != labels:
            failures.append(f"collated query_cls {batch['query_cls'].tolist()} != labels {labels}")
        if batch["support"].shape[0] != n_way:
            failures.append(f"collated support has {batch['support'].shape[0]} objects, expected {n_way}")
        if len(batch["cls"]) == 0:
            failures.append("the collated episode holds no box at all")
        elif not (batch["cls"] == batch["query_cls"][batch["batch_idx"]]).all():
            failures.append("a box's class differs from its frame's class in the collated batch")
    _verdict(name, failures, len(seeds), f"e.g. seed {seeds[0]}: {list(episodes[0][0]) if episodes else ''}")
