"""Exercise 10: CHEAF's gates, where and how much reference evidence enters a scale's features."""
from __future__ import annotations

from typing import Callable

import numpy as np

from ._check import _call, _same_shape, _verdict


def _gate_case(seed: int, c: int = 16, h: int = 6, w: int = 9):
    import torch

    from ...model.fusion import Gates

    torch.manual_seed(seed)
    g = Gates(c).eval()
    e = torch.randn(2, c, h, w) * (1 + seed)
    proto = torch.randn(c)
    with torch.no_grad():
        want = g(e, proto)
    return g, e, proto, want


def check_cheaf_gates(gates: Callable) -> None:
    """Exercise 10. `gates(e (B, c, h, w) evidence, proto (c,), channel (nn.Linear 2c -> c), spatial (nn.Conv2d
    2 -> 1, 7x7)) -> (B, c, h, w)` = e * g_c * g_s, against refdet_lib.model.fusion.Gates."""
    name = "gates"
    cases = [(f"seed {s}, {c} channels, {h}x{w}", *_gate_case(s, c, h, w))
             for s, (c, h, w) in enumerate(((16, 6, 9), (32, 5, 5), (8, 12, 7)))]
    failures = []
    for case, g, e, proto, want in cases:
        got = _call(name, gates, e.clone(), proto.clone(), g.channel, g.spatial)
        out, wv, bad = _same_shape(case, got, want)
        if bad:
            failures.append(bad)
        elif not np.allclose(out, wv, rtol=1e-4, atol=1e-5):
            failures.append(f"{case}: max difference {np.abs(out - wv).max():.4f} (channel gate from [prototype ; "
                            "mean of e over space]? spatial gate from [mean ; max of e over channels], in that "
                            "order? both through a sigmoid?)")
    _verdict(name, failures, len(cases), "g_c says which channels take evidence, g_s where in the frame.")
