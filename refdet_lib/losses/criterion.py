"""The training criterion: task-aligned assignment, then the six named loss components.

    total = w_bbox * WIoUv3 + w_cls * BCE + w_dfl * DFL + w_supcon * SupCon + w_cpe * CPE + w_triplet * Triplet

Assignment follows ultralytics' v8DetectionLoss: TaskAlignedAssigner matches anchors to ground-truth boxes using the
predicted scores and the boxes decoded from the DFL distributions; it yields soft targets (alignment-weighted) and a
foreground mask. Stage 1 scores `std_logits` against `base_cls` (a plain detector); stages 2/3 score `proto_logits`
against the episode class `cls` (which reference object).

    bbox    sum_fg w_a * WIoUv3(pred_a, gt_a) / S          w_a = sum of a's soft targets, S = max(sum of targets, 1)
    cls     sum BCE(logits, soft targets) / S
    dfl     sum_fg w_a * mean_sides DFL(dist_a, ltrb(gt_a)) / S
    supcon  SupCon over [fg anchor embeddings labelled by their gt's episode class] + [reference embeddings]
    cpe     CPE over fg anchor embeddings, IoU = IoU(pred box, its gt)
    triplet batch-hard, anchors = prototypes, positives = fg embeddings of the class, negatives = background anchors
            (random subset) and fg embeddings of other classes

`components` holds the *weighted* terms (they sum to `total`), detached. All losses are computed in float32, outside
autocast. `criterion.weights` is the live LossWeights: editing it changes the next call.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from ultralytics.nn.modules import DFL
from ultralytics.utils.metrics import bbox_iou
from ultralytics.utils.tal import TaskAlignedAssigner, bbox2dist

from ..config import LOSS_COMPONENTS as COMPONENTS
from ..config import LossConfig, LossWeights
from ..errors import InputError
from ..ops.boxes import dfl_decode
from .box import WIoUv3Loss, dfl_loss
from .contrastive import CPELoss, SupConLoss
from .triplet import batch_hard_triplet_loss, triplet_loss


class Criterion(nn.Module):
    """`total, components = criterion(out, batch, stage)`; see the module docstring and docs/contracts.md."""

    num_bg_negatives = 256  # background anchors sampled as triplet negatives per call
    components = COMPONENTS  # the loss terms it returns by name: the trainer, history.csv and the widgets read these

    def __init__(self, weights: LossWeights, cfg: LossConfig = LossConfig(), reg_max: int = 16):
        super().__init__()
        self.weights = weights if isinstance(weights, LossWeights) else LossWeights(**dict(weights))
        self.cfg, self.reg_max = cfg, reg_max
        self.wiou = WIoUv3Loss(momentum=cfg.wiou_momentum)
        self.supcon = SupConLoss(cfg.supcon_temperature)
        self.cpe = CPELoss(cfg.cpe_temperature, cfg.cpe_iou_threshold)
        self.dfl = DFL(reg_max)  # the head's fixed 0..reg_max-1 expectation (no parameters to learn)

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _targets(batch: dict, bs: int, label_key: str, device):
        """Pad per-frame targets: boxes (B, M, 4), labels (B, M, 1), episode cls (B, M), valid mask (B, M, 1)."""
        for k in ("bboxes", "batch_idx", label_key):
            if k not in batch:
                raise KeyError(f"batch is missing field {k!r} needed by the criterion")
        boxes = torch.as_tensor(batch["bboxes"], dtype=torch.float32, device=device).view(-1, 4)
        idx = torch.as_tensor(batch["batch_idx"], device=device).long().view(-1)
        labels = torch.as_tensor(batch[label_key], device=device).long().view(-1)
        ep_cls = torch.as_tensor(batch.get("cls", batch[label_key]), device=device).long().view(-1)
        n = boxes.shape[0]
        if not (idx.numel() == labels.numel() == ep_cls.numel() == n):
            raise ValueError(f"batch fields disagree: bboxes has {n} rows, batch_idx {idx.numel()}, "
                             f"{label_key} {labels.numel()}, cls {ep_cls.numel()}")
        if n and (idx.min() < 0 or idx.max() >= bs):
            raise ValueError(f"batch['batch_idx'] must be in [0, {bs}), got range [{idx.min()}, {idx.max()}]")
        counts = torch.bincount(idx, minlength=bs) if n else torch.zeros(bs, dtype=torch.long, device=device)
        m = int(counts.max()) if n else 0
        gt_boxes = torch.zeros(bs, m, 4, device=device)
        gt_labels = torch.zeros(bs, m, 1, device=device)
        gt_ep = torch.zeros(bs, m, dtype=torch.long, device=device)
        valid = torch.zeros(bs, m, 1, device=device)
        if n:
            order = torch.argsort(idx, stable=True)
            idx_s = idx[order]
            starts = torch.cumsum(counts, 0) - counts
            slot = torch.arange(n, device=device) - starts[idx_s]
            gt_boxes[idx_s, slot] = boxes[order]
            gt_labels[idx_s, slot, 0] = labels[order].float()
            gt_ep[idx_s, slot] = ep_cls[order]
            valid[idx_s, slot] = 1.0
        return gt_boxes, gt_labels, gt_ep, valid

    def _weighted(self, name: str, value: torch.Tensor) -> torch.Tensor:
        return self.weights[name] * value

    # ------------------------------------------------------------------ forward
    def forward(self, out: dict, batch: dict, stage: int = 2):
        device = out["box_dist"].device
        dev_type = device.type if device.type in ("cuda", "cpu", "mps", "xpu") else "cpu"
        with torch.autocast(device_type=dev_type, enabled=False):
            return self._forward(out, batch, stage, device)

    def _forward(self, out: dict, batch: dict, stage: int, device):
        w = self.weights
        if self.wiou.iou_mean.device != device:  # the trainer forgot criterion.to(device): follow the outputs
            self.to(device)
        if stage == 1:
            logits, label_key = out.get("std_logits"), "base_cls"
            if logits is None:
                raise ValueError("stage 1 scores out['std_logits'], but the model returned None "
                                 "(head_mode='prototype'); use head_mode 'standard' or 'dual' for stage 1")
        elif stage in (2, 3):
            logits, label_key = out["proto_logits"], "cls"
        else:
            raise InputError(f"unknown stage {stage!r}: choose 1, 2 or 3")

        pred_dist = out["box_dist"].float().permute(0, 2, 1).contiguous()  # (B, A, 4*reg_max)
        pred_scores = logits.float().permute(0, 2, 1).contiguous()  # (B, A, nc)
        bs, na, nc = pred_scores.shape
        if pred_dist.shape[-1] != 4 * self.reg_max:
            raise ValueError(f"out['box_dist'] has {pred_dist.shape[-1]} channels, expected 4*reg_max = "
                             f"{4 * self.reg_max}")
        anchor_points = out["anchor_points"].float().to(device)  # (A, 2) grid units
        stride = out["stride_tensor"].float().to(device)  # (A, 1)

        gt_boxes, gt_labels, gt_ep, valid = self._targets(batch, bs, label_key, device)
        if gt_labels.numel() and valid.bool().any():
            lv = gt_labels[valid.bool()]
            if lv.min() < 0 or lv.max() >= nc:
                raise ValueError(f"batch[{label_key!r}] must be in [0, {nc}) for this stage's logits "
                                 f"({'std_logits' if stage == 1 else 'proto_logits'}), got [{int(lv.min())}, "
                                 f"{int(lv.max())}]")

        pred_boxes = dfl_decode(out["box_dist"].float(), anchor_points, self.dfl)  # (B, A, 4) grid units, as the head
        assigner = TaskAlignedAssigner(topk=min(self.cfg.tal_topk, na), num_classes=nc,
                                       alpha=self.cfg.tal_alpha, beta=self.cfg.tal_beta)
        _, target_boxes, target_scores, fg, target_gt_idx = assigner(
            pred_scores.detach().sigmoid(), pred_boxes.detach() * stride, anchor_points * stride,
            gt_labels, gt_boxes, valid)
        fg = fg.bool()
        target_gt_idx = target_gt_idx.long()
        target_scores = target_scores.float()
        ts_sum = target_scores.sum().clamp_min(1.0)
        any_fg = bool(fg.any())

        zero = pred_scores.sum() * 0.0 + pred_dist.sum() * 0.0  # keeps `total` in the graph
        comp = {k: zero for k in COMPONENTS}

        if w["cls"]:
            bce = F.binary_cross_entropy_with_logits(pred_scores, target_scores, reduction="none")
            comp["cls"] = self._weighted("cls", bce.sum() / ts_sum)

        if any_fg:
            weight = target_scores.sum(-1)[fg]  # (F,)
            tgt_grid = (target_boxes / stride)[fg]  # (F, 4) grid units
            if w["bbox"]:
                comp["bbox"] = self._weighted("bbox", (self.wiou(pred_boxes[fg], tgt_grid) * weight).sum() / ts_sum)
            if w["dfl"]:
                ltrb = bbox2dist(anchor_points, target_boxes / stride, self.reg_max - 1)[fg]  # (F, 4)
                d = dfl_loss(pred_dist[fg].view(-1, 4, self.reg_max), ltrb, self.reg_max).mean(-1)
                comp["dfl"] = self._weighted("dfl", (d * weight).sum() / ts_sum)

        need_emb = any(w[k] for k in ("supcon", "cpe", "triplet"))
        if need_emb and out.get("anchor_emb") is not None:
            emb = out["anchor_emb"].float()  # (B, A, D)
            if any_fg:
                b_ix = torch.arange(bs, device=device)[:, None].expand(bs, na)
                fg_emb = emb[fg]  # (F, D)
                fg_cls = gt_ep[b_ix[fg], target_gt_idx[fg]]  # (F,) episode class of each fg anchor's gt
            else:
                fg_emb, fg_cls = emb.new_zeros(0, emb.shape[-1]), torch.zeros(0, dtype=torch.long, device=device)

            if w["supcon"]:
                feats, labs = [fg_emb], [fg_cls]
                ref = out.get("ref_emb")
                if ref is not None:
                    c, k, dim = ref.shape
                    feats.append(ref.float().reshape(c * k, dim))
                    labs.append(torch.arange(c, device=device).repeat_interleave(k))
                comp["supcon"] = self._weighted("supcon", self.supcon(torch.cat(feats), torch.cat(labs)))

            if w["cpe"] and any_fg:
                ious = bbox_iou(pred_boxes[fg].detach(), (target_boxes / stride)[fg], xywh=False).squeeze(-1)
                comp["cpe"] = self._weighted("cpe", self.cpe(fg_emb, fg_cls, ious.clamp(0, 1)))

            if w["triplet"] and any_fg and out.get("prototypes") is not None:
                comp["triplet"] = self._weighted("triplet", self._proto_triplet(out["prototypes"].float(), emb,
                                                                                 fg, fg_emb, fg_cls))

        total = zero + sum(comp.values())
        return total, {k: v.detach() for k, v in comp.items()}

    def _proto_triplet(self, protos, emb, fg, fg_emb, fg_cls):
        """Prototype-anchored triplet: positives = fg embeddings of the class, negatives = bg + other classes."""
        bg_emb = emb[~fg]  # (Nb, D)
        if bg_emb.shape[0] > self.num_bg_negatives:
            bg_emb = bg_emb[torch.randperm(bg_emb.shape[0], device=emb.device)[: self.num_bg_negatives]]
        cand = torch.cat([fg_emb, bg_emb])
        cand_lab = torch.cat([fg_cls, fg_cls.new_full((bg_emb.shape[0],), -1)])
        proto_lab = torch.arange(protos.shape[0], device=emb.device)
        if self.cfg.triplet_batch_hard:
            return batch_hard_triplet_loss(cand, cand_lab, self.cfg.triplet_margin, protos, proto_lab)
        # plain: each fg embedding with its prototype and one random negative
        valid = fg_cls < protos.shape[0]
        neg_pool_mask = cand_lab[None, :] != fg_cls[valid][:, None]  # (F', N)
        if not valid.any() or not neg_pool_mask.any(1).all():
            return cand.sum() * 0.0
        pick = torch.multinomial(neg_pool_mask.float(), 1).squeeze(1)
        return triplet_loss(protos[fg_cls[valid]], fg_emb[valid], cand[pick], self.cfg.triplet_margin)

    # ------------------------------------------------------------------ triplet batches
    def triplet_from_embeddings(self, anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor):
        """The trainer's dedicated triplet batches: row-aligned (N, D) embeddings -> (total, components).

        total = w_triplet * margin triplet loss; the other components are 0. With weight 0 the total is a 0 that is
        still connected to the inputs, so backward() is harmless.
        """
        dev_type = anchor.device.type if anchor.device.type in ("cuda", "cpu", "mps", "xpu") else "cpu"
        with torch.autocast(device_type=dev_type, enabled=False):
            zero = (anchor.float().sum() + positive.float().sum() + negative.float().sum()) * 0.0
            comp = {k: zero for k in COMPONENTS}
            if self.weights["triplet"]:
                comp["triplet"] = self._weighted("triplet", triplet_loss(anchor, positive, negative,
                                                                         self.cfg.triplet_margin))
            total = zero + comp["triplet"]
        return total, {k: v.detach() for k, v in comp.items()}

