"""Margin triplet loss on L2-normalised embeddings, plain and batch-hard (Hermans et al. 2017).

    d(x, y) = ||x/|x| - y/|y|||_2
    L       = mean( max(0, d(a, p) - d(a, n) + margin) )

Batch-hard: for each anchor, p is its *farthest* same-label candidate and n its *closest* other-label candidate;
anchors lacking either are skipped. Why: with few references per object most random triplets already satisfy the
margin and give no gradient; the hardest pair is the one that still confuses the object with the background or with
another object.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F


def _dist(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pairwise Euclidean distance of normalised rows: (M, D), (N, D) -> (M, N); sqrt kept away from 0."""
    a, b = F.normalize(a.float(), dim=-1), F.normalize(b.float(), dim=-1)
    return (2.0 - 2.0 * a @ b.T).clamp_min(1e-12).sqrt()


def triplet_loss(anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor,
                 margin: float = 0.3) -> torch.Tensor:
    """anchor, positive, negative (N, D) row-aligned triplets -> scalar."""
    if not anchor.shape == positive.shape == negative.shape:
        raise ValueError(f"triplet shapes differ: anchor {tuple(anchor.shape)}, positive {tuple(positive.shape)}, "
                         f"negative {tuple(negative.shape)}")
    if anchor.shape[0] == 0:
        return anchor.float().sum() * 0.0
    a, p, n = (F.normalize(x.float(), dim=-1) for x in (anchor, positive, negative))
    d_ap = (a - p).pow(2).sum(-1).clamp_min(1e-12).sqrt()
    d_an = (a - n).pow(2).sum(-1).clamp_min(1e-12).sqrt()
    return F.relu(d_ap - d_an + margin).mean()


def batch_hard_triplet_loss(embeddings: torch.Tensor, labels: torch.Tensor, margin: float = 0.3,
                            anchors: Optional[torch.Tensor] = None,
                            anchor_labels: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Batch-hard triplet loss.

    embeddings (N, D) with labels (N,) are the candidates. Without `anchors`, every embedding is an anchor (itself
    excluded from its positives); with anchors (M, D) and anchor_labels (M,), those are the anchors (e.g. prototypes)
    and the candidates only supply positives / negatives (a label that no anchor has, e.g. -1, is a pure negative).
    """
    labels = labels.to(embeddings.device).view(-1)
    self_set = anchors is None
    if self_set:
        anchors, anchor_labels = embeddings, labels
    elif anchor_labels is None:
        raise ValueError("batch_hard_triplet_loss: `anchor_labels` is required with `anchors`")
    anchor_labels = anchor_labels.to(embeddings.device).view(-1)
    zero = embeddings.float().sum() * 0.0 + anchors.float().sum() * 0.0
    if anchors.shape[0] == 0 or embeddings.shape[0] == 0:
        return zero
    d = _dist(anchors, embeddings)  # (M, N)
    same = anchor_labels[:, None] == labels[None, :]
    pos = same.clone()
    if self_set:
        pos.fill_diagonal_(False)
    neg = ~same
    hardest_pos = d.masked_fill(~pos, -1.0).amax(1)  # distances are >= 0, so -1 marks "none"
    hardest_neg = d.masked_fill(~neg, 1e4).amin(1)
    valid = pos.any(1) & neg.any(1)
    if not valid.any():
        return zero
    return F.relu(hardest_pos - hardest_neg + margin)[valid].mean()


class TripletLoss(nn.Module):
    """`forward(anchor, positive, negative)` plain triplets; `batch_hard(embeddings, labels, ...)` mined ones."""

    def __init__(self, margin: float = 0.3):
        super().__init__()
        self.margin = margin

    def forward(self, anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor) -> torch.Tensor:
        return triplet_loss(anchor, positive, negative, self.margin)

    def batch_hard(self, embeddings: torch.Tensor, labels: torch.Tensor, anchors: Optional[torch.Tensor] = None,
                   anchor_labels: Optional[torch.Tensor] = None) -> torch.Tensor:
        return batch_hard_triplet_loss(embeddings, labels, self.margin, anchors, anchor_labels)
