"""The candidate verifier: is this candidate *the* object of the reference photos, or just an object?

A one-stage matcher learns "an object is here" long before "it is this object": on novel objects the true box sits in
the detector's top 5 on most frames while distractors rank first (benchmarks/README.md). So the detector proposes and
a second, small network decides. It embeds each of a frame's top-k candidates (a square crop with some context,
resized to crop_size) and the reference photos (each letterboxed to crop_size) into one space:

    e = f(crop) / |f(crop)|           v = max_r e . e_r            (cosine to the closest reference photo)
    p = sigmoid(a * logit(s_det) + b * v + c)                      the calibrated decision (Decision)

It is trained by metric learning on crops (train/verifier.py), which is cheap: a crop is 64 x 64, so one step sees
dozens of identities where an episodic detector step sees two. `kind="dinov2"` is the training-free alternative for
when pretrained DINOv2 weights are at hand: the ViT's class token is the embedding.

`f` is built from ultralytics' Conv and C2f blocks (YOLOv8's own), four stride-2 stages, global average pooling and a
two-layer projection: 0.28 M parameters, ~4 ms for a frame's 10 crops on two CPU cores.
"""
from __future__ import annotations

import copy
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from ultralytics.nn.modules import C2f, Conv

from ..config import VerifierConfig
from ..ops.boxes import square_resize
from ..ops.images import crop_patches, to_tensor

VERIFIER_KINDS = ("cnn", "dinov2")


class CropVerifier(nn.Module):
    """(N, 3, S, S) RGB in [0, 1] -> (N, D) unit embeddings."""

    def __init__(self, cfg: VerifierConfig):
        super().__init__()
        self.config = cfg
        c = [cfg.width * 2 ** i for i in range(4)]
        self.backbone = nn.Sequential(Conv(3, c[0], 3, 2), Conv(c[0], c[1], 3, 2), C2f(c[1], c[1], 1, True),
                                      Conv(c[1], c[2], 3, 2), C2f(c[2], c[2], 1, True),
                                      Conv(c[2], c[3], 3, 2), C2f(c[3], c[3], 1, True))
        self.head = nn.Sequential(nn.Linear(c[3], c[3]), nn.SiLU(), nn.Linear(c[3], cfg.embed_dim))

    def forward(self, crops: torch.Tensor) -> torch.Tensor:
        x = (crops - 0.5) / 0.25
        if not self.training:  # channels-last: faster kernels for small inference batches
            x = x.contiguous(memory_format=torch.channels_last)
        x = self.backbone(x)  # (N, c3, S/16, S/16)
        return F.normalize(self.head(x.mean((2, 3))), dim=-1)

    def component_parameters(self) -> dict[str, list[nn.Parameter]]:
        return {"backbone": list(self.backbone.parameters()), "head": list(self.head.parameters())}

    def for_inference(self) -> "CropVerifier":
        """A frozen copy for per-frame scoring: BatchNorm folded into each conv (ultralytics' fuse_conv_and_bn) and
        channels-last memory. On 10 small crops the per-layer overhead dominates, and this cuts it by ~30 %."""
        from ultralytics.utils.torch_utils import fuse_conv_and_bn

        m = copy.deepcopy(self).eval()
        for conv in m.modules():
            if isinstance(conv, Conv) and isinstance(getattr(conv, "bn", None), nn.BatchNorm2d):
                conv.conv = fuse_conv_and_bn(conv.conv, conv.bn)
                del conv.bn
                conv.forward = conv.forward_fuse
        m.backbone.to(memory_format=torch.channels_last)
        return m.requires_grad_(False)


class DinoVerifier(nn.Module):
    """Training-free: the class token of a pretrained DINOv2 ViT-S/14 (timm, loaded from a local file)."""

    def __init__(self, cfg: VerifierConfig, size: int = 112, pretrained: bool = True):
        super().__init__()
        import timm

        if pretrained and (not cfg.dino_weights or not Path(cfg.dino_weights).is_file()):
            raise FileNotFoundError(f"verifier kind 'dinov2' needs dino_weights, a local DINOv2 file (got "
                                    f"{cfg.dino_weights!r})")
        self.config, self.size = cfg, size
        # pretrained=False when a checkpoint brings the weights (load_model)
        self.vit = timm.create_model("vit_small_patch14_dinov2", pretrained=pretrained, num_classes=0, img_size=size,
                                     pretrained_cfg_overlay=dict(file=str(cfg.dino_weights)) if pretrained else None)
        self.register_buffer("mean", torch.tensor((0.485, 0.456, 0.406)).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor((0.229, 0.224, 0.225)).view(1, 3, 1, 1), persistent=False)

    def forward(self, crops: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(crops, size=(self.size, self.size), mode="bilinear", align_corners=False)
        return F.normalize(self.vit.forward_features((x - self.mean) / self.std)[:, 0], dim=-1)


def inference_verifier(verifier: nn.Module) -> nn.Module:
    """What scores each frame's candidates: the CNN's fused copy (CropVerifier.for_inference), the ViT as it is."""
    return verifier.for_inference() if hasattr(verifier, "for_inference") else verifier


def build_verifier(cfg: Optional[VerifierConfig] = None, pretrained: bool = True) -> nn.Module:
    """The verifier a VerifierConfig describes (default: the trained CNN); pretrained=False builds the DINOv2 one
    without reading its file (its weights then come from a checkpoint)."""
    cfg = cfg or VerifierConfig()
    if cfg.kind not in VERIFIER_KINDS:
        raise ValueError(f"verifier kind {cfg.kind!r}: choose one of {', '.join(VERIFIER_KINDS)}")
    return CropVerifier(cfg) if cfg.kind == "cnn" else DinoVerifier(cfg, pretrained=pretrained)


@dataclass
class Decision:
    """How a candidate's evidence becomes one probability, and where the object is reported.

    p = sigmoid(a * logit(detector score) + b * verifier cosine + c), fitted on training videos by logistic
    regression (calibrated: p means the same in every video); the thresholds are chosen on training videos too
    (eval/calibration.py). Without a verifier b is 0; the defaults leave a detector's scores as they are."""

    a: float = 1.0
    b: float = 0.0
    c: float = 0.0
    threshold: float = 0.25        # for the tracked output, one box per frame (refdet predict / evaluate's default)
    frame_threshold: float = 0.25  # for frames taken alone (--no-track)

    def probability(self, det_scores: np.ndarray, cosines: Optional[np.ndarray] = None) -> np.ndarray:
        s = np.clip(np.asarray(det_scores, np.float64), 1e-6, 1 - 1e-6)
        z = self.a * np.log(s / (1 - s)) + self.c
        if cosines is not None and self.b:
            z = z + self.b * np.asarray(cosines, np.float64)
        return (1 / (1 + np.exp(-z))).astype(np.float32)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Optional[dict]) -> "Decision":
        return cls(**{k: float(v) for k, v in (d or {}).items() if k in cls.__dataclass_fields__})


def embed_images(embed: Callable[[torch.Tensor], torch.Tensor], images: list[np.ndarray], size: int,
                 device=None) -> torch.Tensor:
    """Reference photos (RGB uint8, any size) -> (K, D) embeddings, each photo letterboxed to size x size."""
    x = to_tensor([square_resize(im, size) for im in images])
    return embed(x.to(device) if device is not None else x)


def verify_candidates(frame: np.ndarray, boxes: np.ndarray, embed: Callable[[torch.Tensor], torch.Tensor],
                      ref_emb: torch.Tensor, cfg: VerifierConfig) -> np.ndarray:
    """Cosine of each candidate box's crop to its closest reference photo: (n,) in [-1, 1]."""
    if len(boxes) == 0:
        return np.zeros(0, np.float32)
    crops = to_tensor(list(crop_patches(frame, boxes, cfg.crop_size, cfg.context)))
    with torch.no_grad():
        e = embed(crops.to(ref_emb.device, ref_emb.dtype))  # (n, D)
        return (e @ ref_emb.T).amax(1).float().cpu().numpy()


def logit(p) -> np.ndarray:
    p = np.clip(np.asarray(p, np.float64), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def decide_candidates(frame: np.ndarray, boxes: np.ndarray, det_scores: np.ndarray, labels: np.ndarray,
                      decision: Decision, conf: float, max_det: int, embed=None, ref_emb=None,
                      cfg: Optional[VerifierConfig] = None) -> dict:
    """One frame's candidates (original pixels) -> the verified, calibrated detections, best first:
    {boxes, scores (the decision's p >= conf), labels, det_scores, cosines}. With `embed` (a crop -> embedding
    callable: the PyTorch verifier or its ONNX graph) each candidate is compared with the photos of the object it
    was proposed for (`ref_emb[label]`)."""
    cos = np.zeros(len(boxes), np.float32)
    if embed is not None and ref_emb is not None and len(boxes):
        for c in np.unique(labels):
            sel = labels == c
            cos[sel] = verify_candidates(frame, boxes[sel], embed, ref_emb[int(c)], cfg)
    p = decision.probability(det_scores, cos if embed is not None else None)
    order = [i for i in np.argsort(-p, kind="stable") if p[i] >= conf][:max_det]
    return {"boxes": boxes[order], "scores": p[order], "labels": labels[order], "det_scores": det_scores[order],
            "cosines": cos[order]}
