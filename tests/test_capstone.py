"""The capstone (notebook 08, course/capstone.py): the missed objects picked from an evaluation, levers measured side
by side on them, the budget read from the committed manifests, the table filled from those rows."""
from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import paths
from refdet_lib.course import capstone
from refdet_lib.errors import InputError


def _results(recalls: dict) -> dict:
    return {"1-shot": {"per_video": {v: {"recall": 1.0} for v in recalls}},
            "3-shot": {"per_video": {v: {"recall": r} for v, r in recalls.items()}}}


def test_missed_videos_are_the_lowest_recall_of_the_best_shot():
    res = _results({"a": 0.9, "b": 0.1, "c": 0.3, "d": 0.5})
    assert capstone.missed_videos(res) == ["b", "c"]  # below 0.5, lowest first, from the 3-shot row
    assert capstone.missed_videos(res, below=0.2) == ["b"]
    assert capstone.missed_videos(_results({"a": 0.9, "b": 0.7})) == ["b"]  # none below: the lowest one
    assert capstone.missed_videos(res, shot="1-shot") == ["a"]


def test_budget_row_averages_the_committed_manifests_per_video(tmp_path):
    short, long = tmp_path / "short.json", tmp_path / "long.json"
    for path, minutes, rec in ((short, 30, (0.2, 0.4)), (long, 60, (0.6, 0.8))):
        path.write_text(json.dumps({"train_minutes": minutes, "per_video": {
            v: {"recall": r, "precision": 0.5, "st_iou": r / 2} for v, r in zip("xy", rec)}}))
    row = capstone.budget_row(["x", "y"], short, long)
    assert list(row) == ["30 min", "60 min"]
    assert np.isclose(row["30 min"]["recall"], 0.3) and np.isclose(row["60 min"]["st_iou"], 0.35)
    assert capstone.budget_row(["x", "z"], short, long) is None  # a video a manifest did not score
    assert capstone.budget_row(["x"], tmp_path / "missing.json", long) is None
    committed = capstone.budget_row(["Backpack_3"])  # the real files: the recipe at 30 and at 60 minutes
    assert committed is not None and len(committed) == 2


def test_checklist_is_computed_from_the_rows():
    rows = [{"video": "v", "scheme": "as shipped", "recall": 0.0, "precision": 0.0, "st_iou": 0.0,
             "seconds a video": 1.0},
            {"video": "all", "scheme": "as shipped", "recall": 0.2, "precision": 0.5, "st_iou": 0.1,
             "seconds a video": 2.0},
            {"video": "all", "scheme": "window 2x", "recall": 0.35, "precision": 0.45, "st_iou": 0.2,
             "seconds a video": 3.0}]
    t = capstone.checklist(rows, {"30 min": {"recall": 0.1, "precision": 0.2, "st_iou": 0.05},
                                  "60 min": {"recall": 0.25, "precision": 0.3, "st_iou": 0.1}})
    assert np.isclose(t.loc["window 2x", "recall gained"], 0.15) and np.isclose(t.loc["window 2x", "time x"], 1.5)
    assert t.loc["as shipped", "recall gained"] == 0
    budget = t.loc["budget (course-weights recipe): 60 min of training"]
    assert np.isclose(budget["recall gained"], 0.15) and budget["measured"].startswith("committed")
    assert len(capstone.checklist(rows)) == 2


def test_levers_are_measured_on_the_missed_videos(tiny_checkpoint, tiny_root):
    samples, ann = paths(tiny_root)
    vid = sorted(p.name for p in samples.iterdir() if p.is_dir())[0]
    with pytest.raises(InputError, match="lever 'zoom': unknown key"):
        capstone.try_levers(tiny_checkpoint, samples, ann, [vid], {"zoom": {"scale": 2}}, 4)
    rows = capstone.try_levers(tiny_checkpoint, samples, ann, [vid],
                               {"as shipped": {}, "window 2x": {"window": 2}, "everything": {"conf": 0.0}}, 4)
    assert [(r["scheme"], r["video"]) for r in rows] == [(s, v) for s in ("as shipped", "window 2x", "everything")
                                                         for v in (vid, "all")]
    conf = {r["scheme"]: r["conf"] for r in rows}
    assert conf["everything"] == 0.0 and conf["as shipped"] > 0  # the threshold lever reaches the evaluation
    assert capstone.checklist(rows).index.tolist() == ["as shipped", "window 2x", "everything"]
