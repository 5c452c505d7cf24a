"""Reference branch: DINOv2 ViT-S/14 (timm) turns each reference image into what the query branch looks for.

Why DINOv2: its self-supervised features describe *any* object (not a fixed class list), which is what a matcher for
never-seen objects needs. From the class token and patch tokens of each reference we derive:
  - `ref_emb`  (C, K, D): one L2-normalised embedding per reference image (contrastive losses work on these);
  - `prototypes` (C, D): the fused (mean) embedding of each object, compared with every anchor by the head;
  - `scale_protos`: per scale a (C, c_i) vector (c_i = P3/P4/P5 channels) that modulates the fusion's convs/gates;
  - `tokens`: per scale (C, M, c_i) pooled patch tokens the fusion's attention reads (M = num_ref_tokens, or
    K * num_ref_tokens when references are kept as tokens).
Everything here depends only on the references, so `RefDet.set_references` computes it once per video.
"""
from __future__ import annotations

import math
import warnings
from pathlib import Path

import timm
import torch
import torch.nn as nn
import torch.nn.functional as F

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def check_support(support: torch.Tensor, size: int, who: str) -> tuple[int, int]:
    """(C, K, 3, R, R) with R == size, else a ValueError saying what was expected; returns (C, K)."""
    if support.ndim != 5 or support.shape[2] != 3:
        raise ValueError(f"support must be (C, K, 3, R, R), got {tuple(support.shape)}")
    c, k, _, h, w = support.shape
    if (h, w) != (size, size):
        raise ValueError(f"support images are {h}x{w}, the {who} expects {size}x{size} (ModelConfig.support_size)")
    return c, k


class ReferenceEncoder(nn.Module):
    """(C, K, 3, R, R) RGB in [0, 1] -> dict of ref_emb, prototypes, scale_protos, tokens (see module docstring)."""

    def __init__(self, channels=(64, 128, 256), embed_dim: int = 128, support_size: int = 518,
                 model_name: str = "vit_small_patch14_dinov2", weights: str | Path | None = None,
                 num_ref_tokens: int = 16, fusion: str = "mean", freeze: bool = False):
        super().__init__()
        if fusion not in ("mean", "tokens"):
            raise ValueError(f"reference_fusion {fusion!r}: choose 'mean' or 'tokens'")
        if support_size % 14:
            raise ValueError(f"support_size {support_size} must be a multiple of 14 (ViT patch size)")
        if weights is not None and not Path(weights).is_file():
            raise FileNotFoundError(f"dino_weights: no such file {str(weights)!r}")
        if weights is None:
            warnings.warn(
                f"{model_name} reference encoder is randomly initialised (no dino_weights given): prototypes carry "
                "little meaning until trained; pass ModelConfig.dino_weights='path/to/model.safetensors'.",
                UserWarning, stacklevel=2)
        # img_size resizes the position embedding (timm resamples pretrained ones to this grid when loading).
        self.vit = timm.create_model(
            model_name, pretrained=weights is not None, num_classes=0, img_size=support_size,
            pretrained_cfg_overlay=dict(file=str(weights)) if weights is not None else None)
        self.support_size = support_size
        self.fusion = fusion
        self.num_ref_tokens = num_ref_tokens
        self.frozen = False
        e = self.vit.embed_dim  # 384 for ViT-S
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        # global descriptor = [class token ; mean patch token] (2e): identity (cls) + appearance (patches)
        self.emb_proj = nn.Sequential(nn.Linear(2 * e, e), nn.GELU(), nn.Linear(e, embed_dim))
        self.scale_proj = nn.ModuleList(nn.Linear(2 * e, c) for c in channels)
        self.token_norm = nn.LayerNorm(e)
        self.token_proj = nn.ModuleList(nn.Linear(e, c) for c in channels)
        if freeze:
            self.freeze()

    def freeze(self) -> "ReferenceEncoder":
        """Freeze the ViT (its projections stay trainable); it then runs without autograd and stays in eval mode."""
        self.vit.requires_grad_(False)
        self.vit.eval()
        self.frozen = True
        return self

    def train(self, mode: bool = True):
        super().train(mode)
        if self.frozen:
            self.vit.eval()
        return self

    def _pool_tokens(self, patches: torch.Tensor) -> torch.Tensor:
        """(N, P, e) patch tokens on a g x g grid -> (N, M, e), M = num_ref_tokens, by adaptive average pooling."""
        n, p, e = patches.shape
        g = int(round(math.sqrt(p)))
        m = self.num_ref_tokens
        s = int(round(math.sqrt(m)))
        if s * s == m:  # pool on the 2-D grid: each token summarises one region of the reference
            grid = patches.transpose(1, 2).reshape(n, e, g, g)
            return F.adaptive_avg_pool2d(grid, s).flatten(2).transpose(1, 2)
        return F.adaptive_avg_pool1d(patches.transpose(1, 2), m).transpose(1, 2)

    def forward(self, support: torch.Tensor) -> dict:
        c, k = check_support(support, self.support_size, "reference encoder")
        x = (support.flatten(0, 1) - self.mean) / self.std  # (C*K, 3, R, R)
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.frozen):
            t = self.vit.forward_features(x)  # (C*K, prefix + P, e), final norm applied
        cls_tok = t[:, 0]  # (C*K, e)
        patches = t[:, self.vit.num_prefix_tokens:]  # (C*K, P, e)
        g = torch.cat([cls_tok, patches.mean(1)], -1)  # (C*K, 2e)

        ref_emb = F.normalize(self.emb_proj(g), dim=-1).view(c, k, -1)  # (C, K, D)
        prototypes = F.normalize(ref_emb.mean(1), dim=-1)  # (C, D): mean of K, back on the sphere
        scale_protos = [p(g).view(c, k, -1).mean(1) for p in self.scale_proj]  # [(C, c_i)]
        pooled = self.token_norm(self._pool_tokens(patches))  # (C*K, M, e)
        tokens = []
        for proj in self.token_proj:
            tk = proj(pooled).view(c, k, pooled.shape[1], -1)  # (C, K, M, c_i)
            tokens.append(tk.mean(1) if self.fusion == "mean" else tk.flatten(1, 2))  # (C, M or K*M, c_i)
        return {"ref_emb": ref_emb, "prototypes": prototypes, "scale_protos": scale_protos, "tokens": tokens}
