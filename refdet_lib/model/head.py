"""Dual detection head: a standard branch for base classes and a prototype branch for the referenced objects.

Box regression is class-agnostic (DFL over reg_max bins, as in YOLOv8), so both branches share it. The standard branch
(`cv2` box + `cv3` class stacks, laid out like ultralytics' YOLOv8 Detect so `yolov8n.pt` head weights load by name)
classifies nc_base fixed classes: stage 1 / base training. The prototype branch (`cv4`) maps each anchor to an
embedding and scores it against each reference prototype by scaled cosine similarity, so it needs no class list and
works for objects never seen in training.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from ultralytics.nn.modules import DFL, Conv, DWConv

from ..errors import InputError
from ..ops.boxes import dfl_decode

HEAD_MODES = ("standard", "prototype", "dual")


class DualHead(nn.Module):
    """[P3, P4, P5] (+ prototypes (C, D)) -> box_dist (B, 4*reg_max, A), std_logits (B, nc, A),
    anchor_emb (B, A, D), proto_logits (B, C, A); A = sum of h_i * w_i."""

    def __init__(self, channels=(64, 128, 256), strides=(8, 16, 32), nc_base: int = 80, reg_max: int = 16,
                 embed_dim: int = 128, mode: str = "dual"):
        super().__init__()
        if mode not in HEAD_MODES:
            raise InputError(f"head_mode {mode!r}: choose one of {', '.join(HEAD_MODES)}")
        self.mode, self.nc, self.reg_max, self.embed_dim = mode, nc_base, reg_max, embed_dim
        self.strides = tuple(strides)
        ch = channels
        c2, c3 = max(16, ch[0] // 4, reg_max * 4), max(ch[0], min(nc_base, 100))  # YOLOv8 Detect widths
        self.cv2 = nn.ModuleList(  # box: 4*reg_max DFL logits
            nn.Sequential(Conv(x, c2, 3), Conv(c2, c2, 3), nn.Conv2d(c2, 4 * reg_max, 1)) for x in ch)
        if mode != "prototype":
            self.cv3 = nn.ModuleList(  # base classes
                nn.Sequential(Conv(x, c3, 3), Conv(c3, c3, 3), nn.Conv2d(c3, nc_base, 1)) for x in ch)
        if mode != "standard":
            ce = embed_dim  # light depthwise-separable stack: the prototype branch must cost little per frame
            self.cv4 = nn.ModuleList(
                nn.Sequential(DWConv(x, x, 3), Conv(x, ce, 1), nn.Conv2d(ce, embed_dim, 1)) for x in ch)
            self.logit_scale = nn.Parameter(torch.tensor(math.log(10.0)))  # temperature of the cosine similarity
            # per-level prior bias, like Detect.bias_init: ~5 objects in a 640 image spread over that level's anchors,
            # minus the scale: an untrained net's embeddings all point one way (cos ~ 1 everywhere), and without the
            # offset every anchor would start at p ~ 0.5 and the first epoch's class loss would be thousands
            self.proto_bias = nn.Parameter(torch.tensor([math.log(5 / (640 / s) ** 2) - 10.0 for s in strides]))
        self.dfl = DFL(reg_max) if reg_max > 1 else nn.Identity()
        self.bias_init()

    def bias_init(self):
        """Ultralytics Detect.bias_init: box bias 1, class bias = prior of ~5 objects per 640 image per level."""
        for i, s in enumerate(self.strides):
            self.cv2[i][-1].bias.data[:] = 1.0
            if hasattr(self, "cv3"):
                self.cv3[i][-1].bias.data[:] = math.log(5 / self.nc / (640 / s) ** 2)

    def embed(self, feats: list[torch.Tensor]) -> list[torch.Tensor]:
        """[P3, P4, P5] -> per level (B, D, h_i, w_i) anchor embeddings before normalisation (prototype branch).
        The siamese reference encoder embeds reference crops with these same convs."""
        return [m(x) for m, x in zip(self.cv4, feats)]

    def forward(self, feats: list[torch.Tensor], prototypes: torch.Tensor | None = None, std: bool = True) -> dict:
        """std=False skips the base-class branch when the prototype branch runs (video inference with references
        needs only boxes + prototype scores)."""
        cat = lambda ys: torch.cat([y.flatten(2) for y in ys], 2)  # [(B, k, h_i, w_i)] -> (B, k, A)
        out = {"box_dist": cat([m(x) for m, x in zip(self.cv2, feats)]),  # (B, 4*reg_max, A)
               "std_logits": None, "anchor_emb": None, "proto_logits": None}
        if hasattr(self, "cv3") and (std or prototypes is None or not hasattr(self, "cv4")):
            out["std_logits"] = cat([m(x) for m, x in zip(self.cv3, feats)])  # (B, nc, A)
        if hasattr(self, "cv4") and prototypes is not None:
            embs = self.embed(feats)
            emb = F.normalize(cat(embs).transpose(1, 2), dim=-1)  # (B, A, D)
            protos = F.normalize(prototypes.to(emb.dtype), dim=-1)  # (C, D)
            scale = self.logit_scale.clamp(max=math.log(100.0)).exp()
            bias = torch.cat([self.proto_bias[i].expand(e.shape[2] * e.shape[3]) for i, e in enumerate(embs)])  # (A,)
            out["anchor_emb"] = emb
            out["proto_logits"] = scale * torch.matmul(emb, protos.t()).transpose(1, 2) + bias  # (B, C, A)
        return out

    def decode_boxes(self, box_dist: torch.Tensor, anchor_points: torch.Tensor, stride_tensor: torch.Tensor):
        """(B, 4*reg_max, A) DFL logits -> (B, A, 4) x1y1x2y2 in input pixels (expected distance over the bins)."""
        return dfl_decode(box_dist, anchor_points, self.dfl) * stride_tensor.float()

