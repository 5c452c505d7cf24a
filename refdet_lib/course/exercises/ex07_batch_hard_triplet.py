"""Exercise 7: the batch-hard triplet loss."""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from ._check import _as_float, _call, _short, _to_numpy, _verdict


def _triplet_cases():
    import torch

    g = torch.Generator().manual_seed(1)
    e1 = torch.randn(8, 16, generator=g)
    l1 = torch.tensor([0, 0, 1, 1, 2, 2, 0, 1])
    e2 = torch.randn(6, 8, generator=g) * 3
    l2 = torch.tensor([0, 0, 0, 1, 1, 5])  # class 5 has no positive: that anchor is skipped
    near = torch.randn(4, 8, generator=g)
    e3 = torch.cat([near, near + 0.01 * torch.randn(4, 8, generator=g)])  # easy: pairs almost identical
    l3 = torch.tensor([0, 1, 2, 3, 0, 1, 2, 3])
    return [("8 embeddings, 3 objects", e1, l1, 0.3), ("an anchor without positive", e2, l2, 0.3),
            ("well separated pairs, margin 0.1", e3, l3, 0.1), ("large margin 1.0", e1, l1, 1.0)]


def check_batch_hard_triplet(batch_hard: Callable) -> None:
    """Exercise 7. `batch_hard(embeddings (N, D), labels (N,), margin) -> scalar`, against
    `refdet_lib.losses.batch_hard_triplet_loss` (value and gradient)."""
    from ...losses import batch_hard_triplet_loss

    name = "batch_hard"
    cases = _triplet_cases()
    failures = []
    for case, e, lab, m in cases:
        ew = e.clone().requires_grad_(True)
        want = batch_hard_triplet_loss(ew, lab, margin=m)
        want.backward()
        eg = e.clone().requires_grad_(True)
        got = _call(name, batch_hard, eg, lab.clone(), m)
        gv = _as_float(got)
        if gv is None or not math.isclose(gv, float(want.detach()), rel_tol=1e-4, abs_tol=1e-6):
            failures.append(f"{case} (labels {lab.tolist()}, margin {m}): expected {float(want.detach()):.5f}, got "
                            f"{_short(got)}")
            continue
        if hasattr(got, "requires_grad") and got.requires_grad:
            got.backward()
            if not np.allclose(_to_numpy(eg.grad), _to_numpy(ew.grad), rtol=1e-3, atol=1e-5):
                failures.append(f"{case}: value right, gradient wrong: only the hardest positive and negative of "
                                "each anchor should pull")
        elif float(want.detach()) > 0:
            failures.append(f"{case}: the result carries no gradient; build it from `embeddings` with torch ops")
    _verdict(name, failures, len(cases))
