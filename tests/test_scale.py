"""Notebook 08's size comparison (refdet_lib.course.scale): one checkpoint run at two inference sizes on the same
videos, a row per size and video, and the same frames shown for each size."""
from __future__ import annotations

import warnings

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
from conftest import paths  # noqa: E402

from refdet_lib.course import scale  # noqa: E402
from refdet_lib.data import parse_annotations  # noqa: E402


def test_videos_are_ordered_by_their_objects_median_size(tiny_root):
    anns = parse_annotations(paths(tiny_root)[1])
    order = scale.by_object_size(anns)
    assert sorted(v for v, _ in order) == sorted(anns)
    sides = [s for _, s in order]
    assert sides == sorted(sides) and sides[0] > 0
    v, side = order[0]
    boxes = np.concatenate([np.asarray(b).reshape(-1, 4) for b in anns[v].boxes.values()])
    assert side == np.median(np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]))


def test_compare_sizes_runs_the_checkpoint_at_each_size(tiny_checkpoint, tiny_root, monkeypatch):
    samples, ann = paths(tiny_root)
    vids = [v for v, _ in scale.by_object_size(parse_annotations(ann))][:2]
    seen = []
    real = scale.load_model
    monkeypatch.setattr(scale, "load_model", lambda *a, **kw: seen.append(kw["imgsz"]) or real(*a, **kw))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rows, preds = scale.compare_sizes(tiny_checkpoint, samples, ann, vids, (64, 128), max_frames=4)
    assert seen == [64, 128] and sorted(preds) == [64, 128]
    assert [(r["video"], r["imgsz"]) for r in rows] == [(v, s) for s in (64, 128) for v in vids + ["all"]]
    assert all(0 <= r["recall"] <= 1 and r["seconds a video"] > 0 for r in rows)
    p, g = preds[128]
    assert sorted(p) == sorted(vids) and all(sorted(p[v]) == list(range(4)) for v in vids)
    annotated = [v for v in vids if any(len(b) for b in g[v].values())]
    fig = scale.plot_sizes(preds, samples, annotated[0], conf=0.0, n=3)
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 2 * min(3, sum(len(b) > 0 for b in g[annotated[0]].values()))
    titles = [ax.get_title() for ax in shown]
    assert all(t.startswith("imgsz 64") for t in titles[: len(titles) // 2])
    assert all(t.startswith("imgsz 128") for t in titles[len(titles) // 2:])
