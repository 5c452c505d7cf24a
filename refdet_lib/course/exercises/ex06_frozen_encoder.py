"""Exercise 6: what the optimizer updates, and which part of RefDet freezing the reference encoder takes out."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ._check import _call, _need_value, _short, _verdict


def _toy_cases():
    """(case, parameters as an optimizer is handed them, the values a step updates), built from real modules."""
    import torch.nn as nn

    frozen_first = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    frozen_first[0].requires_grad_(False)
    shared = nn.Linear(5, 5)  # one layer in two parts of a model (a shared stem, tied weights)
    part_a, part_b = nn.Sequential(shared, nn.Tanh()), nn.Sequential(shared, nn.Linear(5, 2))
    with_bn = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))  # running stats are buffers, not parameters
    bias_frozen = nn.Linear(6, 2)
    bias_frozen.bias.requires_grad_(False)
    return [("Linear(4,8) frozen + Linear(8,3)", list(frozen_first.parameters()), 8 * 3 + 3),
            ("two parts sharing one Linear(5,5): list(a.parameters()) + list(b.parameters())",
             list(part_a.parameters()) + list(part_b.parameters()), 30 + 12),
            ("the same list twice (two groups naming one tensor)", [shared.weight, shared.bias] * 2, 30),
            ("Conv2d + BatchNorm2d (buffers are not parameters)", list(with_bn.parameters()), 4 * 27 + 4 + 8),
            ("Linear(6,2) with frozen bias", list(bias_frozen.parameters()), 12),
            ("everything frozen", list(nn.Linear(3, 3).requires_grad_(False).parameters()), 0)]


def check_count_trainable(count_trainable: Callable) -> None:
    """Exercise 6a. `count_trainable(params) -> int`: the number of values a gradient step updates among the
    tensors given (each tensor once however often it is listed; frozen ones not at all)."""
    name = "count_trainable"
    cases = _toy_cases()
    failures = []
    for case, params, want in cases:
        got = _call(name, count_trainable, list(params))
        if not isinstance(got, (int, np.integer)) or int(got) != want:
            listed = sum(p.numel() for p in params if p.requires_grad)
            hint = (" (a tensor listed twice was counted twice: count each tensor once, e.g. by id)"
                    if got == listed != want else " (that counts frozen parameters too)"
                    if got == sum(p.numel() for p in {id(p): p for p in params}.values()) else "")
            failures.append(f"{case}: expected {want}, got {_short(got)}{hint}")
    _verdict(name, failures, len(cases))


def check_frozen_vs_trained(trainable_by_component: Callable, frozen_components: Any, model_trained,
                            model_frozen) -> None:
    """Exercise 6b. `trainable_by_component(model) -> {component: trainable values}` over `model.components()`,
    against `parameter_report()` on both models (the same ModelConfig except freeze_reference), and
    `frozen_components`: the components whose trainable count freezing changes."""
    name = "trainable_by_component"
    _need_value("frozen_components", frozen_components)
    if model_trained.config.freeze_reference or not model_frozen.config.freeze_reference:
        _verdict(name, ["model_trained needs freeze_reference=False and model_frozen freeze_reference=True"], 1)
    failures = []
    want = {}
    for label, m in (("freeze_reference=False", model_trained), ("freeze_reference=True", model_frozen)):
        rep = m.parameter_report(verbose=False)
        want[label] = {k: rep[k]["trainable"] for k in m.components()}
        got = _call(name, trainable_by_component, m)
        if not isinstance(got, dict) or set(got) != set(want[label]):
            failures.append(f"{label}: expected a dict keyed by model.components()'s names {sorted(want[label])}, "
                            f"got {_short(got)}")
            continue
        for k, v in want[label].items():
            if not isinstance(got[k], (int, np.integer)) or int(got[k]) != v:
                failures.append(f"{label}, {k}: expected {v:,} trainable, got {_short(got[k])}")
    changed = {k for k in want["freeze_reference=False"]
               if want["freeze_reference=False"][k] != want["freeze_reference=True"][k]}
    if not failures and set(np.atleast_1d(frozen_components).tolist()) != changed:
        failures.append(f"frozen_components: expected {sorted(changed)}, got {_short(frozen_components)}")
    _verdict(name, failures, 3, "Only the ViT stops training: its projections, the detector and the fusion still do.")
