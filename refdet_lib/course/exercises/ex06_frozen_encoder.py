"""Exercise 6: trainable parameters with a frozen reference encoder."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ._check import _as_float, _call, _need_value, _short, _verdict


def _toy_modules():
    import torch.nn as nn

    frozen_first = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    frozen_first[0].requires_grad_(False)
    shared = nn.Linear(5, 5)
    tied = nn.Sequential(shared, nn.Tanh(), shared)  # the same weights used twice are trained once
    with_bn = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))  # running stats are buffers, not parameters
    bias_frozen = nn.Linear(6, 2)
    bias_frozen.bias.requires_grad_(False)
    return [("Linear(4,8) frozen + Linear(8,3)", frozen_first), ("one Linear(5,5) used twice", tied),
            ("Conv2d + BatchNorm2d (buffers are not parameters)", with_bn), ("Linear(6,2) with frozen bias",
                                                                            bias_frozen),
            ("everything frozen", nn.Linear(3, 3).requires_grad_(False))]


def check_count_trainable(count_trainable: Callable) -> None:
    """Exercise 6a. `count_trainable(model) -> int`: the number of parameter values the optimizer will update."""
    name = "count_trainable"
    cases = _toy_modules()
    failures = []
    for case, m in cases:
        want = sum(p.numel() for p in m.parameters() if p.requires_grad)
        got = _call(name, count_trainable, m)
        if not isinstance(got, (int, np.integer)) or int(got) != want:
            total = sum(p.numel() for p in m.parameters())
            hint = " (that counts frozen parameters too)" if got == total else ""
            failures.append(f"{case}: expected {want}, got {_short(got)}{hint}")
    _verdict(name, failures, len(cases))


def check_frozen_vs_trained(trainable_saved: Any, model_trained, model_frozen) -> None:
    """Exercise 6b. How many trainable parameters `freeze_reference=True` removes, for the two models given
    (the same ModelConfig except freeze_reference), against their `parameter_report()`."""
    name = "trainable_saved"
    _need_value(name, trainable_saved)
    failures = []
    if model_trained.config.freeze_reference or not model_frozen.config.freeze_reference:
        failures.append("model_trained needs freeze_reference=False and model_frozen freeze_reference=True")
    else:
        a = model_trained.parameter_report(verbose=False)["total"]
        b = model_frozen.parameter_report(verbose=False)["total"]
        if a["params"] != b["params"]:
            failures.append(f"the two models differ in size ({a['params']:,} vs {b['params']:,}): build both with "
                            "the same imgsz / support_size")
        want = a["trainable"] - b["trainable"]
        got = _as_float(trainable_saved)
        if not failures and (got is None or int(got) != want):
            failures.append(f"expected {want:,} (trainable {a['trainable']:,} -> {b['trainable']:,}), got "
                            f"{_short(trainable_saved)}")
    _verdict(name, failures, 1, "That is the whole ViT: only its projections stay trainable.")
