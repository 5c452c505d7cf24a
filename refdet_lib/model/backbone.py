"""Query branch: the YOLOv8 backbone + PAN neck, built by ultralytics from its own yolov8.yaml.

We keep every layer of the yaml except the final Detect, so the three neck outputs (P3/8, P4/16, P5/32) feed our fusion
and head instead. Module names stay `model.<i>.*` exactly as in an ultralytics checkpoint, so a `yolov8n.pt` loads by
name with no key mapping, and its Detect box/class convs can be reused by our head (see `copy_matching`).

Loading yolov8n.pt is the one trust decision in the project: ultralytics pickles whole modules, which only
`torch.load(weights_only=False)` reads, and that runs whatever the pickle names. So `read_yolo_checkpoint` first tries
`weights_only=True` (a plain state dict needs no trust), then reads the pickle's imports without running it and refuses
any outside those an ultralytics checkpoint is made of (torch, ultralytics, collections, ...: `os.system` is refused),
and only then loads it fully, saying so in one line. Give `--yolo_weights` only a yolov8n.pt from ultralytics.
"""
from __future__ import annotations

import copy
import pickle
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn as nn
from ultralytics.nn.tasks import parse_model, yaml_model_load
from ultralytics.utils.torch_utils import initialize_weights

from ..errors import InputError

DETECT_INDEX = 22  # index of the Detect layer in yolov8.yaml; our head plays its role
LOW_INDEX = 2  # yolov8.yaml's first C2f: stride 4, the fine features the appearance match compares (model/match.py)


@dataclass
class LoadReport:
    """What a by-name copy did: loaded tensors, destination tensors left as they were, source tensors unused."""

    loaded: int = 0
    missing: list = field(default_factory=list)     # destination keys with no same-shape source tensor
    mismatched: list = field(default_factory=list)  # same name, different shape (e.g. a head with other classes)

    def __str__(self) -> str:
        return f"{self.loaded} loaded, {len(self.missing)} missing, {len(self.mismatched)} shape-mismatched"


def read_yolo_checkpoint(path: str | Path) -> dict[str, torch.Tensor]:
    """State dict of an ultralytics checkpoint (yolov8n.pt: a pickled model under 'ema'/'model') or a plain one."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"yolo_weights: no such file {str(path)!r} (expected an ultralytics yolov8n.pt)")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)  # a plain state dict: nothing to trust
    except pickle.UnpicklingError:
        ckpt = _trusted_load(path)
    except Exception as e:  # truncated, not a torch file
        raise InputError(f"yolo_weights {str(path)!r}: not a readable checkpoint ({type(e).__name__}: "
                         f"{str(e)[:160]})") from None
    if isinstance(ckpt, dict) and ("ema" in ckpt or "model" in ckpt):
        m = ckpt.get("ema") or ckpt.get("model")
        sd = m.state_dict() if isinstance(m, nn.Module) else m
    elif isinstance(ckpt, nn.Module):
        sd = ckpt.state_dict()
    elif isinstance(ckpt, dict) and all(isinstance(v, torch.Tensor) for v in ckpt.values()):
        sd = ckpt
    else:
        raise InputError(f"yolo_weights {str(path)!r}: not an ultralytics checkpoint (no 'model' key, no state dict)")
    return {k: v.float() if v.is_floating_point() else v for k, v in sd.items()}


# beyond what weights_only=True allows anyway, what an ultralytics checkpoint's pickle may import: module classes
# (below) and these helpers; no function that reads, writes or runs anything
TRUSTED_NAMES = {"builtins.set", "builtins.frozenset", "builtins.slice", "_codecs.encode", "types.SimpleNamespace",
                 "numpy.dtype", "numpy.ndarray", "numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar",
                 "numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct"}


def _trusted_class(name: str) -> bool:
    """`torch...`/`ultralytics...` names that resolve to a module class (or ultralytics' namespace of settings)."""
    import importlib
    import types

    module, _, attr = name.rpartition(".")
    if module.split(".")[0] not in ("torch", "ultralytics"):
        return False
    try:
        obj = getattr(importlib.import_module(module), attr, None)
    except ImportError:
        return False
    return isinstance(obj, type) and issubclass(obj, (nn.Module, types.SimpleNamespace))


def _trusted_load(path: Path):
    """An ultralytics checkpoint (it pickles modules): its imports vetted without running anything (module classes,
    TRUSTED_NAMES), then loaded with weights_only=False, announced in one line. Anything else (os.system, eval,
    torch.hub.load...) is refused."""
    try:
        names = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except Exception as e:
        raise InputError(f"yolo_weights {str(path)!r}: not a readable checkpoint ({type(e).__name__})") from None
    foreign = [n for n in names if n not in TRUSTED_NAMES and not _trusted_class(n)]
    if foreign:
        raise InputError(f"yolo_weights {str(path)!r}: refused, its pickle would run {', '.join(foreign[:3])}, which "
                         "no ultralytics checkpoint needs (nothing was run)")
    warnings.warn(f"{path}: trusted as ultralytics' yolov8n.pt, which pickles whole modules: loaded with "
                  "torch.load(weights_only=False) once its imports were checked (README: Checkpoints)",
                  UserWarning, stacklevel=3)
    return torch.load(path, map_location="cpu", weights_only=False)


def copy_matching(dst: nn.Module, src: dict[str, torch.Tensor], src_prefix: str = "",
                  dst_prefix: str = "") -> LoadReport:
    """Copy every tensor of `src` whose name (after swapping prefixes) and shape match a tensor of `dst`."""
    rep = LoadReport()
    with torch.no_grad():
        for k, t in dst.state_dict().items():
            if not k.startswith(dst_prefix):
                continue
            sk = src_prefix + k[len(dst_prefix):]
            if sk not in src:
                rep.missing.append(k)
            elif src[sk].shape != t.shape:
                rep.mismatched.append(k)
            else:
                t.copy_(src[sk])  # state_dict tensors share storage with the module's parameters/buffers
                rep.loaded += 1
    return rep


class YoloBackbone(nn.Module):
    """YOLOv8 backbone + neck. (B, 3, S, S) in [0, 1] -> [P3 (B, c3, S/8, S/8), P4 (B, c4, S/16, ..), P5 (.., S/32)].

    For scale 'n' the channels are (64, 128, 256).
    """

    def __init__(self, scale: str = "n"):
        super().__init__()
        d = yaml_model_load("yolov8.yaml")  # ultralytics' packaged yaml
        if scale not in d["scales"]:
            raise InputError(f"yolo_scale {scale!r}: choose one of {', '.join(d['scales'])}")
        d = copy.deepcopy(d)
        d["scale"] = scale
        detect = d["head"][-1]
        self.out_idx = list(detect[0])  # [15, 18, 21]: the layers that fed Detect
        d["head"] = d["head"][:-1]  # drop Detect
        self.model, save = parse_model(d, ch=3, verbose=False)
        self.save = set(save) | set(self.out_idx) | {LOW_INDEX}
        initialize_weights(self)  # ultralytics' BN eps/momentum and in-place activations
        with torch.no_grad():  # learn channels and strides from a tiny probe, so any yaml scale works
            was = self.training
            self.eval()
            feats = self(torch.zeros(1, 3, 64, 64))
            self.train(was)
        self.channels = tuple(f.shape[1] for f in feats)
        self.low_channels = self.model[LOW_INDEX].cv2.conv.out_channels  # C2f output width
        self.strides = tuple(64 // f.shape[-1] for f in feats)  # (8, 16, 32)

    def forward(self, x: torch.Tensor, low: bool = False):
        """-> [P3, P4, P5]; with low=True -> ([P3, P4, P5], stride-4 features (B, low_channels, S/4, S/4))."""
        if x.shape[-1] % 32 or x.shape[-2] % 32:
            raise InputError(f"query size {tuple(x.shape[-2:])} must be a multiple of 32 (strides 8/16/32)")
        y = []  # outputs kept for later Concat layers (ultralytics' BaseModel._predict_once, minus the extras)
        for m in self.model:
            if m.f != -1:
                x = y[m.f] if isinstance(m.f, int) else [x if j == -1 else y[j] for j in m.f]
            x = m(x)
            y.append(x if m.i in self.save else None)
        feats = [y[i] for i in self.out_idx]
        return (feats, y[LOW_INDEX]) if low else feats

    def stem(self, x: torch.Tensor) -> torch.Tensor:
        """Only the layers up to the stride-4 features: (N, 3, H, W) -> (N, low_channels, H/4, W/4)."""
        for m in self.model[:LOW_INDEX + 1]:
            x = m(x)
        return x


def build_backbone(scale: str = "n", weights: str | Path | dict | None = None) -> YoloBackbone:
    """YOLOv8 backbone + neck; `weights`: path to an ultralytics .pt (or its state dict); None: random init, warns."""
    bb = YoloBackbone(scale)
    if weights is None:
        warnings.warn(
            f"YOLOv8{scale} backbone is randomly initialised (no yolo_weights given): detection quality will be poor "
            "until trained; pass ModelConfig.yolo_weights='path/to/yolov8n.pt' to start from COCO weights.",
            UserWarning, stacklevel=2)
        bb.load_report = None
    else:
        sd = weights if isinstance(weights, dict) else read_yolo_checkpoint(weights)
        bb.load_report = copy_matching(bb, sd)
        if bb.load_report.loaded == 0:
            raise InputError(f"yolo_weights: no tensor matched the YOLOv8{scale} backbone (wrong scale or model?)")
    return bb
