"""Exercises 11 (diagnose a history) and 12 (the NaN guard): each check passes a right answer and fails the wrong
ones a learner writes; and every exercise links back to the lesson that links to it."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from refdet_lib.course import exercises as ex

ROOT = Path(__file__).resolve().parent.parent


def _fails(check, *args, match=None):
    with pytest.raises(AssertionError, match=match) as e:
        check(*args)
    assert "FAIL" in str(e.value)
    return str(e.value)


# ------------------------------------------------------------------------------------------- 11. diagnose a history
def _gap(h, le=False, sign=1.0, no_val=True):
    out = h[["epoch", "train_loss", "val_loss"]].copy()
    out["gap"] = sign * (out["val_loss"] - out["train_loss"])
    verdicts = []
    for g in out["gap"]:
        if no_val and not np.isfinite(g):
            verdicts.append("no val")
        elif (g <= 0.05) if le else (g < 0.05):
            verdicts.append("ok")
        else:
            verdicts.append("watch" if g <= 0.1 else "overfitting")
    out["verdict"] = verdicts
    return out


def test_check_train_val_gap():
    ex.check_train_val_gap(_gap)
    assert "0.05" in _fails(ex.check_train_val_gap, lambda h: _gap(h, le=True))
    _fails(ex.check_train_val_gap, lambda h: _gap(h, sign=-1.0), match="val - train")
    _fails(ex.check_train_val_gap, lambda h: _gap(h, no_val=False), match="no val")
    _fails(ex.check_train_val_gap, lambda h: _gap(h).drop(columns="verdict"), match="missing")


def _signs(tr, half=True, wiggle_around_mean=True, min_len=True):
    tr = np.asarray(tr, float)
    n = len(tr)
    seg = tr[n // 2:] if half else tr
    slope = np.polyfit(np.arange(len(seg)), seg, 1)[0]
    d = np.diff(tr)
    w = np.mean(np.abs(d - (d.mean() if wiggle_around_mean else 0))) / np.mean(np.abs(tr))
    gain = (tr[0] - tr[n // 2]) / abs(tr[0])
    return {"decreasing": bool(tr[-1] < tr[0] and not slope > 0), "oscillating": bool(w > 0.1),
            "plateau": bool((n > 4 or not min_len) and gain < 0.02)}


def test_check_loss_signs():
    ex.check_loss_signs(_signs)
    _fails(ex.check_loss_signs, lambda t: _signs(t, half=False), match="climbs again")
    _fails(ex.check_loss_signs, lambda t: _signs(t, wiggle_around_mean=False), match="smooth decrease")
    _fails(ex.check_loss_signs, lambda t: _signs(t, min_len=False), match="four epochs")
    _fails(ex.check_loss_signs, lambda t: list(_signs(t).values()), match="dict")


def test_training_signs_without_skipped_steps_column():
    """A history of train losses alone (no skipped_steps, no val_loss) is read, not a crash."""
    from refdet_lib.course.diagnostics import training_signs, train_val_gap

    signs = training_signs(pd.DataFrame({"train_loss": [2.0, 1.5, 1.2, 1.0, 0.9]}))
    assert bool(signs.loc[("good", "train loss steadily decreasing"), "shown"])
    gap = train_val_gap(pd.DataFrame({"epoch": [1, 2], "train_loss": [1.0, 1.0], "val_loss": [float("nan"), 1.2]}))
    assert list(gap["verdict"]) == ["no val", "overfitting"]


# ------------------------------------------------------------------------------------------------- 12. NaN guard
def _guard(model, loss, opt, clip, check_norm=True, clip_it=True, zero=True):
    if not torch.isfinite(loss):
        if zero:
            opt.zero_grad(set_to_none=True)
        return False
    loss.backward()
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), clip if clip_it else float("inf"))
    if check_norm and not torch.isfinite(norm):
        if zero:
            opt.zero_grad(set_to_none=True)
        return False
    opt.step()
    opt.zero_grad(set_to_none=True)
    return True


def test_check_guarded_step():
    ex.check_guarded_step(_guard)
    _fails(ex.check_guarded_step, lambda *a: _guard(*a, clip_it=False), match="clipped")
    _fails(ex.check_guarded_step, lambda *a: _guard(*a, check_norm=False), match="infinite gradient")
    _fails(ex.check_guarded_step, lambda *a: _guard(*a, zero=False), match="left in .grad")
    _fails(ex.check_guarded_step, lambda *a: int(_guard(*a)), match="should return")


# ------------------------------------------------------------------------------------------------- links
@pytest.mark.parametrize("path", sorted((ROOT / "exercises").glob("ex*.ipynb")), ids=lambda p: p.name)
def test_exercise_links_back_to_its_lesson(path):
    """Every exercise opens with a link to a lesson that exists, and that lesson points to the exercise."""
    first = "".join(json.loads(path.read_text())["cells"][0]["source"])
    links = re.findall(r"\]\(\.\./notebooks/([\w.]+\.ipynb)\)", first)
    assert links, f"{path.name}: no link back to its lesson in the first cell"
    lesson = ROOT / "notebooks" / links[0]
    assert lesson.exists(), lesson
    assert f"exercises/{path.name}" in lesson.read_text(), f"{lesson.name} never points to {path.name}"
