"""Contrastive losses on embeddings: SupCon (Khosla et al. 2020) and CPE (FSCE, Sun et al. 2021).

SupCon, the L_out form (average over positives *outside* the log), for L2-normalised z and temperature tau::

    L_i = -1/|P(i)| * sum_{p in P(i)} log( exp(z_i.z_p / tau) / sum_{a != i} exp(z_i.z_a / tau) )
    L   = mean over anchors i with |P(i)| > 0           (anchors without a positive are skipped)

P(i) = samples sharing i's label (or mask[i, p] == 1), i itself excluded.

CPE applies the same per-anchor term to proposal embeddings, keeps only proposals whose IoU with their ground truth
reaches a threshold and re-weights each by its IoU (FSCE's f(u) = 1{u >= thr} * u)::

    L_CPE = mean over kept i of  u_i * L_i,    kept: u_i >= thr and |P(i)| > 0

Every given proposal stays in the contrast set (the denominators); the threshold only selects the anchors, as in
FSCE. Why: low-IoU proposals carry mostly background and would pull class clusters apart; weighting by IoU lets the
most object-centred proposals shape the embedding space.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F


def supcon_per_anchor(features: torch.Tensor, pos_mask: torch.Tensor, temperature: float):
    """Per-anchor SupCon term. features (N, D), pos_mask (N, N) bool -> (loss (N,), has_positive (N,) bool).

    The diagonal of pos_mask is ignored. Anchors without positives get loss 0 (and no gradient).
    """
    z = F.normalize(features.float(), dim=-1)
    n = z.shape[0]
    eye = torch.eye(n, dtype=torch.bool, device=z.device)
    pos = pos_mask.bool() & ~eye
    logits = z @ z.T / temperature  # (N, N)
    # exclude self from the denominator with a large finite negative (a -inf would give NaN gradients when N == 1)
    logits_off = logits.masked_fill(eye, torch.finfo(logits.dtype).min / 2)
    log_prob = logits - torch.logsumexp(logits_off, dim=1, keepdim=True)  # (N, N)
    n_pos = pos.sum(1)
    loss = -(log_prob * pos).sum(1) / n_pos.clamp_min(1)
    return loss, n_pos > 0


def _pos_mask(n: int, labels: Optional[torch.Tensor], mask: Optional[torch.Tensor], device) -> torch.Tensor:
    if mask is not None:
        if mask.shape != (n, n):
            raise ValueError(f"SupCon mask must be ({n}, {n}) for {n} features, got {tuple(mask.shape)}")
        return mask.to(device).bool()
    if labels is None:
        raise ValueError("SupCon needs `labels` (N,) or a positive `mask` (N, N)")
    labels = labels.to(device).view(-1)
    if labels.numel() != n:
        raise ValueError(f"SupCon labels has {labels.numel()} entries for {n} features")
    return labels[:, None] == labels[None, :]


def _zero(features: torch.Tensor) -> torch.Tensor:
    """A 0 that stays connected to the graph, so backward() works when nothing applies."""
    return features.float().sum() * 0.0


class SupConLoss(nn.Module):
    """Supervised contrastive loss (L_out). `forward(features (N,D), labels (N,)=None, mask (N,N)=None) -> scalar`."""

    def __init__(self, temperature: float = 0.07):
        super().__init__()
        self.temperature = temperature

    def forward(self, features: torch.Tensor, labels: Optional[torch.Tensor] = None,
                mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        n = features.shape[0]
        if n < 2:
            return _zero(features)
        loss, has_pos = supcon_per_anchor(features, _pos_mask(n, labels, mask, features.device), self.temperature)
        return loss[has_pos].mean() if has_pos.any() else _zero(features)


class CPELoss(nn.Module):
    """Contrastive Proposal Encoding. `forward(features (N,D), labels (N,), ious (N,)) -> scalar`."""

    def __init__(self, temperature: float = 0.2, iou_threshold: float = 0.6):
        super().__init__()
        self.temperature, self.iou_threshold = temperature, iou_threshold

    def forward(self, features: torch.Tensor, labels: torch.Tensor, ious: torch.Tensor) -> torch.Tensor:
        n = features.shape[0]
        if n < 2:
            return _zero(features)
        ious = ious.detach().float().view(-1).to(features.device)
        loss, has_pos = supcon_per_anchor(features, _pos_mask(n, labels, None, features.device), self.temperature)
        keep = has_pos & (ious >= self.iou_threshold)
        return (loss * ious)[keep].mean() if keep.any() else _zero(features)

