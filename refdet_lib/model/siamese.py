"""Siamese reference branch: the reference images go through the query's own YOLOv8 backbone and the head's
embedding convs (shared weights), instead of a separate DINOv2.

Why (DESIGN.md, "Data"): without pretrained DINOv2 weights, a ViT learned from scratch on a few dozen identities
learns *which* objects it saw, not *how to compare* two views. Sharing the weights puts references and frame anchors
in one feature space from the first step (colour and texture similarity is there even at random init), and training
sharpens a metric that carries over to objects never seen in training, as in siamese trackers (SiamFC, SiamRPN).
It also costs almost nothing: C*K small crops through YOLOv8n, no ViT forward or backward.

Same output contract as `ReferenceEncoder` (so fusion, head, losses, export do not change):
  - `ref_emb` (C, K, D): centre-weighted mean of the head's per-position embeddings, averaged over P3/P4/P5;
  - `prototypes` (C, D): mean of the K, back on the sphere;
  - `scale_protos`: per scale (C, c_i) centre-weighted pooled backbone features (for the fusion's FiLM and gates);
  - `tokens`: per scale (C, M, c_i) the backbone feature grid pooled to M cells (for the fusion's attention).
BatchNorm: the reference crops are normalised with the running statistics (eval-mode BN) also in training, so they
neither pollute the query's running statistics nor see different normalisation at inference.
"""
from __future__ import annotations

from contextlib import contextmanager

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import InputError
from .reference import check_support, grid_tokens


@contextmanager
def bn_running_stats(*modules: nn.Module):
    """Inside: every BatchNorm of `modules` that is in training mode normalises with (and keeps) its running stats."""
    bns = [m for mod in modules for m in mod.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.training]
    for m in bns:
        m.train(False)
    try:
        yield
    finally:
        for m in bns:
            m.train(True)


class SiameseReference(nn.Module):
    """(C, K, 3, R, R) RGB in [0, 1] + the detector's backbone and head -> dict like ReferenceEncoder's.

    Holds only a LayerNorm per scale for the tokens: every other weight is the detector's own.
    """

    def __init__(self, channels=(64, 128, 256), support_size: int = 64, num_ref_tokens: int = 16,
                 fusion: str = "mean", sigma: float = 0.3):
        super().__init__()
        if fusion not in ("mean", "tokens"):
            raise InputError(f"reference_fusion {fusion!r}: choose 'mean' or 'tokens'")
        if support_size % 32:
            raise InputError(f"support_size {support_size} must be a multiple of 32 for the siamese reference "
                             "encoder (the backbone's largest stride); 64 is a good CPU size")
        self.support_size, self.num_ref_tokens, self.fusion, self.sigma = support_size, num_ref_tokens, fusion, sigma
        self.token_norm = nn.ModuleList(nn.LayerNorm(c) for c in channels)

    def _window(self, g: int, like: torch.Tensor) -> torch.Tensor:
        """(g*g,) Gaussian weights summing to 1: a reference photo shows its object in the middle."""
        g = int(g)
        r = (torch.arange(g, device=like.device, dtype=like.dtype) + 0.5) / g - 0.5
        w = torch.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * self.sigma ** 2)).flatten()
        return w / w.sum()

    def _pool(self, x: torch.Tensor) -> torch.Tensor:
        """(N, c, g, g) -> (N, c) centre-weighted mean."""
        return x.flatten(2) @ self._window(x.shape[-1], x)

    def _tokens(self, x: torch.Tensor) -> torch.Tensor:
        """(N, c, g, g) -> (N, M, c): the grid pooled to M cells (reference.grid_tokens: exports to ONNX)."""
        return grid_tokens(x, self.num_ref_tokens)

    def forward(self, support: torch.Tensor, backbone: nn.Module, head: nn.Module) -> dict:
        c, k = check_support(support, self.support_size, "siamese reference encoder")
        with bn_running_stats(backbone, head):
            feats, low = backbone(support.flatten(0, 1), low=True)  # [(C*K, c_i, g_i, g_i)], g_i = R / stride_i
            embs = head.embed(feats)  # [(C*K, D, g_i, g_i)], the very convs that embed frame anchors
        per_level = [self._pool(F.normalize(e, dim=1)) for e in embs]  # [(C*K, D)]: mean of per-position unit vectors
        ref_emb = F.normalize(torch.stack(per_level).mean(0), dim=-1).view(c, k, -1)  # (C, K, D)
        prototypes = F.normalize(ref_emb.mean(1), dim=-1)  # (C, D)
        scale_protos = [self._pool(f).view(c, k, -1).mean(1) for f in feats]  # [(C, c_i)]
        tokens = []
        for f, norm in zip(feats, self.token_norm):
            tk = norm(self._tokens(f)).view(c, k, -1, f.shape[1])  # (C, K, M, c_i)
            tokens.append(tk.mean(1) if self.fusion == "mean" else tk.flatten(1, 2))
        # low: the crops' stride-4 features, for the appearance match (RefDet takes it out of the dict)
        return {"ref_emb": ref_emb, "prototypes": prototypes, "scale_protos": scale_protos, "tokens": tokens,
                "low": low}
