"""Exercise 11: read a run's history.csv as notebook 05 does: the train/val gap per epoch with the guide's verdict,
and three of the guide's signs in the train-loss curve (steadily decreasing, oscillating, an early plateau)."""
from __future__ import annotations

from typing import Callable

import numpy as np

from ._check import _call, _short, _verdict


def _gap_cases():
    """(name, train losses, val losses); the boundaries sit exactly on the guide's 0.05 and 0.1 (train 0.0)."""
    nan = float("nan")
    return [("healthy run", [1.2, 0.9, 0.7], [1.22, 0.93, 0.74]),
            ("one verdict of each kind", [0.5, 0.4, 0.3], [0.51, 0.47, 0.5]),
            ("a gap of exactly 0.05 and exactly 0.1 (train loss 0)", [0.0, 0.0], [0.05, 0.1]),
            ("val below train (negative gap)", [0.8, 0.6], [0.7, 0.5]),
            ("an epoch without validation (val_loss NaN)", [0.9, 0.8, 0.7], [0.95, nan, 0.9])]


def check_train_val_gap(train_val_gap: Callable) -> None:
    """Exercise 11, task 1. `train_val_gap(history DataFrame) -> DataFrame` with columns epoch, train_loss,
    val_loss, gap (val - train) and verdict ("ok" / "watch" / "overfitting", "no val" where val_loss is NaN), against
    `refdet_lib.course.diagnostics.train_val_gap`."""
    import pandas as pd

    from ..diagnostics import train_val_gap as reference

    name = "train_val_gap"
    cases = _gap_cases()
    failures = []
    for case, tr, va in cases:
        hist = pd.DataFrame({"epoch": range(1, len(tr) + 1), "train_loss": tr, "val_loss": va,
                             "lr": [1e-3] * len(tr)})
        want = reference(hist.copy())
        got = _call(name, train_val_gap, hist.copy())
        if not isinstance(got, pd.DataFrame):
            failures.append(f"{case}: expected a DataFrame, got {_short(got)}")
            continue
        missing = [c for c in want.columns if c not in got.columns]
        if missing:
            failures.append(f"{case}: columns {missing} missing (got {list(got.columns)})")
            continue
        g_gap, w_gap = got["gap"].to_numpy(float), want["gap"].to_numpy(float)
        if len(g_gap) != len(w_gap) or not np.allclose(g_gap, w_gap, equal_nan=True):
            failures.append(f"{case}: gap should be val - train = {_short(w_gap.tolist())}, "
                            f"got {_short(g_gap.tolist())}")
        elif list(got["verdict"]) != list(want["verdict"]):
            failures.append(f"{case}: gaps {_short(w_gap.tolist())} -> verdicts {list(want['verdict'])}, "
                            f"got {list(got['verdict'])}")
    _verdict(name, failures, len(cases))


def _sign_cases():
    """(name, train losses): each tells a wrong formula from the guide's."""
    rng = np.random.default_rng(11)
    smooth = (2.0 * np.exp(-np.arange(12) / 4) + 0.5).tolist()
    return [("smooth decrease", smooth),
            ("high LR: jumps up and down", [2.0, 1.2, 1.9, 1.0, 1.8, 0.9, 1.7, 1.0, 1.6]),
            ("flat from the start (LR too low)", [0.82, 0.815, 0.81, 0.808, 0.805, 0.80, 0.798, 0.795]),
            ("drops, then climbs again (last < first, rising 2nd half)", [3.0, 1.0, 0.9, 1.0, 1.2, 1.4, 1.6, 1.8]),
            ("steady straight-line decrease (constant steps are no wiggle)", [2.0 - 0.1 * i for i in range(10)]),
            ("four epochs that barely move (too short to call a plateau)", [1.0, 0.999, 0.998, 0.997]),
            ("noisy but falling", (np.linspace(2.0, 1.0, 15) + rng.normal(0, 0.03, 15)).tolist()),
            ("large loss, small relative wiggle", [100.0, 96.0, 97.0, 93.0, 94.0, 90.0, 91.0, 87.0])]


SIGNS = {"decreasing": "train loss steadily decreasing", "oscillating": "loss oscillating wildly (LR too high)",
         "plateau": "loss plateaus early"}


def check_loss_signs(loss_signs: Callable) -> None:
    """Exercise 11, task 2. `loss_signs(train_loss list) -> {"decreasing": bool, "oscillating": bool, "plateau":
    bool}`, against the `shown` column of `refdet_lib.course.diagnostics.training_signs`."""
    import pandas as pd

    from ..diagnostics import training_signs

    name = "loss_signs"
    cases = _sign_cases()
    failures = []
    for case, tr in cases:
        shown = training_signs(pd.DataFrame({"train_loss": tr}))["shown"].droplevel(0)
        want = {k: bool(shown[v]) for k, v in SIGNS.items()}
        got = _call(name, loss_signs, list(tr))
        if not isinstance(got, dict) or set(got) != set(want):
            failures.append(f"{case}: expected a dict with keys {sorted(want)}, got {_short(got)}")
            continue
        wrong = {k: bool(got[k]) for k in want if bool(got[k]) != want[k]}
        if wrong:
            curve = ", ".join(f"{x:.3g}" for x in tr[:8]) + (" ..." if len(tr) > 8 else "")
            failures.append(f"{case} [{curve}]: expected {want}, you said {wrong}")
    _verdict(name, failures, len(cases))
