"""The verifier's metric-learning loss: SupCon over a batch of crops labelled by identity, plus batch-hard triplet.

    total = w_supcon * SupCon(e, identity) + w_triplet * BatchHardTriplet(e, identity)

Crops of no identity (the detector's false positives) carry labels of their own: they have no positive, so they
are never anchors, only negatives in every other anchor's denominator. Its components are its own two terms
(`components`): the trainer sums and history.csv records those, not the detector's six.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from ..config import LossWeights
from .contrastive import SupConLoss
from .triplet import batch_hard_triplet_loss


class VerifierCriterion(nn.Module):
    """`total, components = criterion({"embeddings": (N, D)}, {"labels": (N,)}, stage)`."""

    components = ("supcon", "triplet")

    def __init__(self, weights: LossWeights | None = None, temperature: float = 0.1, margin: float = 0.3):
        super().__init__()
        self.weights = weights or LossWeights(bbox=0, cls=0, dfl=0, supcon=1.0, cpe=0, triplet=0.5)
        self.supcon, self.margin = SupConLoss(temperature), margin

    def forward(self, out: dict, batch: dict, stage: int = 2):  # noqa: ARG002  (the trainer's criterion signature)
        e, y = out["embeddings"].float(), batch["labels"].to(out["embeddings"].device)
        zero = e.sum() * 0.0
        comp = {k: zero for k in self.components}
        if self.weights["supcon"]:
            comp["supcon"] = self.weights["supcon"] * self.supcon(e, y)
        if self.weights["triplet"]:
            comp["triplet"] = self.weights["triplet"] * batch_hard_triplet_loss(e, y, self.margin)
        total = zero + sum(comp.values())
        return total, {k: v.detach() for k, v in comp.items()}


def identity_auc(emb: torch.Tensor, labels: torch.Tensor, is_ref: torch.Tensor) -> float:
    """How well embeddings rank the right identity: over every (reference, crop) pair, the probability that a crop
    of the reference's own identity scores above a crop of another (distractors and negatives) - the ROC AUC."""
    e = torch.nn.functional.normalize(emb.float(), dim=-1)
    r, c = e[is_ref], e[~is_ref]
    lr, lc = labels[is_ref], labels[~is_ref]
    sim = r @ c.T  # (R, C)
    pos, neg = sim[lr[:, None] == lc[None]], sim[lr[:, None] != lc[None]]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    return float((pos[:, None] > neg[None]).float().mean() + 0.5 * (pos[:, None] == neg[None]).float().mean())
