"""Exercise 9: the prototype head's score, "is this anchor the object of the reference photos?"."""
from __future__ import annotations

from typing import Callable

import numpy as np

from ._check import _call, _same_shape, _verdict


def _head_case(seed: int, c: int = 2, size: int = 64):
    """A real DualHead on random P3/P4/P5 maps and C prototypes: its per-level embeddings (before normalisation),
    the prototypes, its temperature and per-level biases, and what its forward computes (B, C, A)."""
    import torch

    from ...model.head import DualHead

    torch.manual_seed(seed)
    head = DualHead((16, 32, 64), (8, 16, 32), nc_base=4, reg_max=8, embed_dim=24).eval()
    with torch.no_grad():
        head.logit_scale.fill_(float(np.log(8.0 + 40 * seed)))  # seed 3: 128, above the clamp at 100
        head.proto_bias.copy_(torch.tensor([-3.0, -4.0, -5.5]))
        feats = [torch.randn(2, ch, size // s, size // s) for ch, s in zip((16, 32, 64), (8, 16, 32))]
        protos = torch.randn(c, 24) * 3
        want = head(feats, protos, std=False)["proto_logits"]
        embs = head.embed(feats)
    return embs, protos, head.logit_scale.detach().clone(), head.proto_bias.detach().clone(), want


def check_prototype_logits(prototype_logits: Callable) -> None:
    """Exercise 9. `prototype_logits(embs [(B, D, h_i, w_i)] per level, prototypes (C, D), logit_scale (log of the
    temperature), proto_bias (levels,)) -> (B, C, A)`, against DualHead.forward's proto_logits (A = sum h_i w_i,
    anchors level after level, row-major inside a level)."""
    name = "prototype_logits"
    cases = [(f"seed {s}, {c} objects", *_head_case(s, c)) for s, c in ((0, 1), (1, 2), (3, 3))]
    failures = []
    for case, embs, protos, scale, bias, want in cases:
        got = _call(name, prototype_logits, [e.clone() for e in embs], protos.clone(), scale.clone(), bias.clone())
        g, w, bad = _same_shape(case, got, want, " (B, C, A)")
        if bad:
            failures.append(bad)
        elif not np.allclose(g, w, rtol=1e-4, atol=1e-4):
            i = np.unravel_index(np.abs(g - w).argmax(), w.shape)
            hint = (" (the temperature is clamped at 100: exp(min(logit_scale, log 100)))" if "seed 3" in case else
                    " (both sides unit length? the bias of each anchor's own level?)")
            failures.append(f"{case}: at (b, c, a) = {tuple(int(x) for x in i)} expected {w[i]:.4f}, got {g[i]:.4f}"
                            + hint)
    _verdict(name, failures, len(cases), "This is the score every frame's anchors get against the reference photos.")
