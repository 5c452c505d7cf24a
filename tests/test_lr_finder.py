"""The LR range test on a real RefDet and real episodes: exponential schedule, restored weights, a sane suggestion."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from conftest import paths

from refdet_lib.config import DataConfig, ModelConfig, TrainConfig, stage_weights
from refdet_lib.course.lr_finder import lr_find, suggest_lr
from refdet_lib.data import make_loader
from refdet_lib.losses import Criterion
from refdet_lib.model import build_refdet
from refdet_lib.train.run import build_datasets


@pytest.fixture(scope="module")
def setup(tiny_root, tmp_path_factory):
    samples, ann = paths(tiny_root)
    data = DataConfig(data_root=str(samples), annotations=str(ann), n_way=2, n_query=2,
                      n_episodes=3, num_workers=0, cache_dir=str(tmp_path_factory.mktemp("cache")))
    _, eps, _, _ = build_datasets(data, ModelConfig(imgsz=64, support_size=56), TrainConfig(), verbose=False)
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = build_refdet(ModelConfig(imgsz=64, support_size=56))
    return model, Criterion(stage_weights(2)), make_loader(eps)


def test_sweep_is_exponential_and_restores_the_model(setup):
    model, crit, loader = setup
    before = {k: v.clone() for k, v in model.state_dict().items()}
    lrs, losses = lr_find(model, crit, loader, start=1e-5, end=1e-2, steps=6, diverge=1e9)
    assert len(lrs) == len(losses) == 6  # 3 episodes, cycled to 6 steps
    assert lrs[0] == pytest.approx(1e-5) and lrs[-1] == pytest.approx(1e-2)
    assert np.allclose(np.diff(np.log(lrs)), np.log(1e-2 / 1e-5) / 5)
    assert all(np.isfinite(losses))
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_without_restore_the_weights_move(setup):
    model, crit, loader = setup
    w0 = model.head.state_dict()
    w0 = {k: v.clone() for k, v in w0.items()}
    lr_find(model, crit, loader, start=1e-4, end=1e-2, steps=2, restore=False)
    assert any(not torch.equal(w0[k], v) for k, v in model.head.state_dict().items())


def test_stops_when_the_loss_diverges(setup):
    model, crit, loader = setup
    lrs, losses = lr_find(model, crit, loader, start=1e-4, end=1e4, steps=12, diverge=1.05)
    assert 2 <= len(lrs) < 12  # a 1e4 learning rate cannot keep the loss within 5% of its best


def test_suggestion_is_the_steepest_descent_before_the_minimum():
    lrs = np.logspace(-6, 0, 61)
    x = np.log10(lrs)
    losses = 0.5 + 1.5 / (1 + np.exp(3 * (x + 3)))  # 2.0 -> 0.5, falling fastest at lr = 1e-3
    losses = losses + np.where(x > -1, (x + 1) ** 2 * 5, 0)  # and blows up past 1e-1
    assert suggest_lr(lrs, losses) == pytest.approx(1e-3, rel=0.3)
    assert suggest_lr(lrs[:2], losses[:2]) == lrs[0]  # the first point falls fastest of the points before 1e-5.9
    assert suggest_lr(lrs[-5:], losses[-5:]) == lrs[-5]  # a rising curve: nothing falls before its first point


def test_suggestion_ignores_a_dip_past_the_minimum():
    """Exercise 5's late_drop curve: diverging past the minimum, then one lucky step far below the trend. The
    steepest slope anywhere is that dip (3.2e-3); the course's rule, before the minimum, gives 4.2e-5."""
    from refdet_lib.course.exercises import lr_finder_curve

    lrs, losses = lr_finder_curve("late_drop")
    slope = np.gradient(losses, np.log10(lrs))
    assert lrs[int(np.argmin(slope))] == pytest.approx(3.16e-3, rel=0.05)  # where the old rule went
    assert suggest_lr(lrs, losses) == pytest.approx(4.2e-5, rel=0.05)
    assert suggest_lr(lrs, losses) < lrs[int(np.argmin(losses))]


def test_bad_arguments_are_refused(setup):
    model, crit, loader = setup
    with pytest.raises(ValueError, match="start < end"):
        lr_find(model, crit, loader, start=1e-2, end=1e-3)
    with pytest.raises(ValueError, match="steps"):
        lr_find(model, crit, loader, steps=1)
    with pytest.raises(ValueError, match="non-empty"):
        suggest_lr([], [])
