"""Appearance match: a learned, low-level template match of each reference object against every query position.

Why: the prototype branch compares *deep* embeddings (large receptive field, identity learned from the training
objects). Trained from scratch on a few dozen identities, those embeddings learn "an object is here" well and "it is
*this* object" poorly: on never-seen objects the detector ranks the right box in its top 5 but rarely first (see
benchmarks/README.md). Colour and texture comparisons, on the other hand, carry over to any object. So, next to the
prototype score, each anchor gets the best cosine similarity between
  - the query's stride-4 features (the backbone's first C2f: colour, edges, fine texture; a 10 px object covers a
    few cells of its own pixels, not a blur of ground), through a small shared projection, and
  - P parts of each reference photo: its centre region pooled to a sqrt(P) x sqrt(P) grid (a two-colour backpack
    has two parts), same backbone layers, same projection (siamese),
standardised over the frame (z-score per frame and object: "more alike than the rest of this frame"), max-pooled
from stride 4 onto each detection level's grid ("is there a matching patch inside this anchor's cell"), times a
learnable weight, added to the prototype logit. Cost: one 1x1 conv and a (B, C, K*P, H/4, W/4) product.

    query low features (B, c, H/4, W/4) + parts (C, K*P, d) -> appearance logits (B, C, A)
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from ultralytics.nn.modules import Conv

from ..errors import InputError


class AppearanceMatch(nn.Module):
    def __init__(self, c_low: int = 32, dim: int = 32, parts: int = 9, centre: float = 0.6, init_weight: float = 1.0):
        super().__init__()
        g = int(round(math.sqrt(parts)))
        if g * g != parts:
            raise InputError(f"appearance parts {parts} must be a square number (4, 9, 16)")
        self.grid, self.centre = g, centre
        # shared by query and references; no bias at the end: a constant offset would make every position alike
        self.proj = nn.Sequential(Conv(c_low, dim, 1), nn.Conv2d(dim, dim, 1, bias=False))
        self.weight = nn.Parameter(torch.tensor(float(init_weight)))

    def embed(self, low: torch.Tensor) -> torch.Tensor:
        """(N, c_low, h, w) -> (N, dim, h, w) unit vectors per position, centred over channels first (cosine of
        centred vectors = correlation: without it, post-activation features share one big common direction and
        every position looks alike, cos ~ 1, at initialisation)."""
        e = self.proj(low)
        return F.normalize(e - e.mean(1, keepdim=True), dim=1)

    def parts(self, low_ref: torch.Tensor, c: int, k: int) -> torch.Tensor:
        """(C*K, c_low, g, g) stride-4 features of the reference photos -> (C, K*P, dim) unit part vectors.

        Only the middle `centre` fraction of each photo counts: the object, not the ground around it."""
        g, h = self.grid, int(low_ref.shape[-1])  # h: fixed by the support size (a constant in ONNX graphs)
        m = max(1, int(h * self.centre / g + 0.5)) * g  # middle square, a multiple of the parts grid
        if m > h:
            raise InputError(f"reference features {h}x{h} are too small for {g}x{g} parts: raise support_size")
        o = (h - m) // 2
        e = self.embed(low_ref[:, :, o:o + m, o:o + m])  # (C*K, d, m, m)
        p = F.avg_pool2d(e, m // g).flatten(2).transpose(1, 2)  # (C*K, P, d)
        return F.normalize(p, dim=-1).reshape(c, k * p.shape[1], -1)  # (C, K*P, d)

    def forward(self, low_q: torch.Tensor, parts: torch.Tensor, kernels: list[int]) -> torch.Tensor:
        """low_q (B, c_low, H/4, W/4), parts (C, K*P, d), kernels: stride_i / 4 of P3/P4/P5 -> logits (B, C, A)."""
        q = self.embed(low_q)  # (B, d, h, w)
        b, d, h, w = q.shape
        sim = torch.einsum("bdn,cpd->bcpn", q.flatten(2), parts.to(q.dtype)).amax(2)  # (B, C, h*w): best part
        # standardise per frame and object: "more alike than the rest of this frame" is the evidence, and the scale
        # stays the same from a random init (where every position looks alike) to a trained match
        sim = (sim - sim.mean(-1, keepdim=True)) / (sim.std(-1, keepdim=True) + 0.05)
        sim = sim.view(b, -1, h, w)
        per_level = [F.max_pool2d(sim, k).flatten(2) for k in kernels]  # [(B, C, h_i*w_i)]
        return self.weight * torch.cat(per_level, 2)  # (B, C, A)
