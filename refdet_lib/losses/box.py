"""Box regression losses: Wise-IoU v3 (Tong et al. 2023) and Distribution Focal Loss (Li et al. 2020).

WIoU v3, for a predicted box and its ground truth (both x1y1x2y2)::

    L_IoU = 1 - IoU
    R     = exp(((xc - xc_gt)^2 + (yc - yc_gt)^2) / (Wg^2 + Hg^2)*)     Wg, Hg: smallest enclosing box, * = detached
    L_v1  = R * L_IoU                                                  distance attention, R in [1, e)
    beta  = L_IoU* / mean(L_IoU)                                       outlier degree; mean = running mean (buffer)
    r     = beta / (delta * alpha^(beta - delta))                      non-monotonic focus, alpha=1.9, delta=3
    L_v3  = r * L_v1

Why: R amplifies the loss of ordinary-quality boxes whose centres are off, without the enclosing box pulling the
gradient (it is detached). r gives the largest gradient gain to boxes of ordinary quality (beta near delta, r = 1
exactly at beta == delta) and shrinks it both for very good boxes (beta -> 0) and for outliers (large beta, e.g.
low-quality or mislabelled boxes). r is built from detached quantities, so it is a per-box weight, not a gradient
path. The running mean of L_IoU is an exponential moving average updated with `momentum` in training mode only,
before beta is computed (as in the authors' implementation); it starts at 1.

DFL: the box side distance t (in grid units, in [0, reg_max - 1)) lies between bins tl = floor(t) and tr = tl + 1;
the loss is the cross-entropy to both, weighted by linear interpolation::

    DFL(S, t) = -((tr - t) * log S_tl + (t - tl) * log S_tr),  S = softmax(logits)
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from ultralytics.utils.metrics import bbox_iou

from ..errors import InputError


class WIoUv3Loss(nn.Module):
    """Wise-IoU v3 per box. `forward(pred (n,4), target (n,4)) -> (n,)`, both x1y1x2y2 in the same units."""

    def __init__(self, momentum: float = 0.01, alpha: float = 1.9, delta: float = 3.0, eps: float = 1e-7):
        super().__init__()
        if not 0.0 <= momentum <= 1.0:
            raise InputError(f"wiou_momentum must be in [0, 1], got {momentum}")
        self.momentum, self.alpha, self.delta, self.eps = momentum, alpha, delta, eps
        self.register_buffer("iou_mean", torch.tensor(1.0))  # running mean of L_IoU

    def focus(self, l_iou: torch.Tensor) -> torch.Tensor:
        """Non-monotonic focusing coefficient r(beta) for (detached) L_IoU values, using the current running mean."""
        beta = l_iou.detach() / self.iou_mean.clamp_min(self.eps)
        return beta / (self.delta * torch.pow(self.alpha, beta - self.delta))

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        pred, target = pred.float(), target.float()
        l_iou = 1.0 - bbox_iou(pred, target, xywh=False, eps=self.eps).squeeze(-1)  # (n,)
        if self.training and l_iou.numel() > 0:
            with torch.no_grad():
                self.iou_mean.mul_(1.0 - self.momentum).add_(self.momentum * l_iou.detach().mean())
        # distance attention: centre distance over the (detached) enclosing-box diagonal
        cp = (pred[..., :2] + pred[..., 2:]) / 2
        ct = (target[..., :2] + target[..., 2:]) / 2
        enc_wh = torch.max(pred[..., 2:], target[..., 2:]) - torch.min(pred[..., :2], target[..., :2])  # (n, 2)
        diag2 = enc_wh.pow(2).sum(-1).detach() + self.eps
        r_wiou = torch.exp((cp - ct).pow(2).sum(-1) / diag2)
        return self.focus(l_iou) * r_wiou * l_iou


def dfl_loss(pred_dist: torch.Tensor, target: torch.Tensor, reg_max: int = 16) -> torch.Tensor:
    """Distribution Focal Loss. pred_dist (..., reg_max) logits, target (...) distances -> (...) per-side loss."""
    pred_dist = pred_dist.float()
    target = target.float().clamp(0, reg_max - 1 - 0.01)
    tl = target.long()
    tr = tl + 1
    wl = tr.float() - target
    wr = 1.0 - wl
    logp = F.log_softmax(pred_dist, dim=-1)
    return -(logp.gather(-1, tl.unsqueeze(-1)).squeeze(-1) * wl + logp.gather(-1, tr.unsqueeze(-1)).squeeze(-1) * wr)
