"""Course set-up: the environment check of notebook 00 and the checkpoints later lessons share."""
from __future__ import annotations

import os
import platform
import warnings
from pathlib import Path
from typing import Optional

from .._env import PROJECT_ROOT
from ..train.recipes import DATA_SAMPLES, small_configs

DEFAULT_RUNS = PROJECT_ROOT / "runs" / "course"


def checks(yolo_weights: Optional[str] = None, dino_weights: Optional[str] = None, verbose: bool = True) -> dict:
    """What a learner needs to know before training: versions, device, offline settings, weights, sample data."""
    import cv2
    import timm
    import torch
    import ultralytics

    from .. import __version__
    from ..runtime import cpu_has_native_bf16

    cuda = torch.cuda.is_available()
    res = {
        "python": platform.python_version(), "refdet_lib": __version__, "torch": torch.__version__,
        "ultralytics": ultralytics.__version__, "timm": timm.__version__, "opencv": cv2.__version__,
        "device": torch.cuda.get_device_name(0) if cuda else f"CPU ({os.cpu_count()} cores)",
        "cuda": cuda, "amp": "float16 + GradScaler" if cuda else
        "bfloat16 autocast (native on this CPU)" if cpu_has_native_bf16() else
        "float32 (this CPU has no native bfloat16: --mixed_precision stays float32)",
        "offline": {k: os.environ.get(k) for k in ("YOLO_OFFLINE", "YOLO_AUTOINSTALL", "NO_ALBUMENTATIONS_UPDATE",
                                                   "HF_HUB_OFFLINE", "YOLO_CONFIG_DIR")},
        "yolo_weights": _weights_status(yolo_weights, "YOLOv8n backbone"),
        "dino_weights": _weights_status(dino_weights, "DINOv2 reference encoder"),
        "data_samples": (DATA_SAMPLES / "train" / "annotations" / "annotations.json").exists(),
    }
    if verbose:
        w = 16
        for k in ("python", "refdet_lib", "torch", "ultralytics", "timm", "opencv", "device", "amp"):
            print(f"{k:<{w}}{res[k]}")
        print(f"{'offline':<{w}}" + ", ".join(f"{k}={v}" for k, v in res["offline"].items()))
        print(f"{'yolo_weights':<{w}}{res['yolo_weights']}")
        print(f"{'dino_weights':<{w}}{res['dino_weights']}")
        print(f"{'data_samples':<{w}}{'found' if res['data_samples'] else 'MISSING: run refdet synth'}")
    return res


def _weights_status(path: Optional[str], what: str) -> str:
    if not path:
        return f"none given: {what} starts from random initialisation (fine for the CPU lessons)"
    p = Path(path)
    return f"found {p} ({p.stat().st_size / 1e6:.1f} MB)" if p.exists() else f"NOT FOUND: {p}"


def ensure_checkpoint(run_dir=DEFAULT_RUNS / "stage2", name: str = "best_model.pt", verbose: bool = True,
                      **small_kw) -> Path:
    """The stage-2 checkpoint a later notebook needs: found in the shared run folder, else trained (small) now."""
    from ..train.run import run_training

    p = Path(run_dir) / name
    if p.exists():
        if verbose:
            print(f"using {p}")
        return p
    if verbose:
        print(f"{p} not found: training a small stage-2 model now ({small_kw or 'default small settings'})")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_training(*small_configs(run_dir, **small_kw), verbose=verbose)
    return p
