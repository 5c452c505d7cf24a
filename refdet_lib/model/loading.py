"""Checkpoint -> model: read a file the trainer wrote and rebuild the RefDet it holds, or say in one line why not.

A checkpoint is a dict with `model_state_dict` and `config` (the ModelConfig it was built with; docs/contracts.md).
Inference, evaluation and export all load through `load_model`, so a file that is truncated, foreign, empty, partial
or missing its config gets the same clear `CheckpointError` everywhere instead of a traceback with thousands of keys.

The course weights (models/refdet_course.pt, made by `make weights`: the project's own "pretrained" model, as
ultralytics ships yolov8n.pt) load through `course_weights()`, which first checks the file against the sha256 its
manifest records, so a missing, truncated or altered file says so instead of failing somewhere later.
"""
from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path
from typing import Optional

import torch

from .._env import PROJECT_ROOT
from ..config import ModelConfig, from_dict
from ..errors import CheckpointError
from .verifier import Decision


COURSE_WEIGHTS = PROJECT_ROOT / "models" / "refdet_course.pt"
MAKE_WEIGHTS = "`make weights` trains them again (models/README.md says how long)"


def sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def manifest_path(weights: str | Path) -> Path:
    """The manifest beside a weights file: {"sha256", "bytes", ...} (models/refdet_course.json)."""
    return Path(weights).with_suffix(".json")


def course_weights(path: str | Path = COURSE_WEIGHTS) -> Path:
    """The course weights' path, checked against the sha256 in their manifest (CheckpointError: missing/altered)."""
    path, man = Path(path), manifest_path(path)
    if not path.exists():
        raise CheckpointError(f"course weights not found: {path} (a checkout of the project has them: `git checkout "
                              f"-- {path.name}` in {path.parent}; {MAKE_WEIGHTS})")
    if not man.exists():
        raise CheckpointError(f"{man} is missing: cannot check {path} ({MAKE_WEIGHTS})")
    want = json.loads(man.read_text()).get("sha256")
    got = sha256(path)
    if got != want:
        raise CheckpointError(f"{path} was altered or truncated: its sha256 is {got[:12]}..., {man.name} records "
                              f"{str(want)[:12]}... (`git checkout -- {path.name}` restores it; {MAKE_WEIGHTS})")
    return path


def load_course_model(device: str | torch.device = "cpu", path: str | Path = COURSE_WEIGHTS, **overrides):
    """The course weights as a RefDet (detector + verifier + calibrated decision), checked first; `overrides` as
    load_model's (e.g. imgsz=1280)."""
    return load_model(course_weights(path), device, **overrides)


def load_checkpoint(path: str | Path, map_location: Optional[str | torch.device] = "cpu") -> dict:
    """Load a checkpoint written by the trainer (FileNotFoundError / CheckpointError naming the file)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    if path.is_dir():
        raise CheckpointError(f"{path} is a folder, not a checkpoint file (try {path / 'best_model.pt'})")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as e:  # truncated or foreign file
        raise CheckpointError(f"{path} is not a readable checkpoint ({type(e).__name__}: {str(e)[:200]})") from None
    if not isinstance(ckpt, dict) or "model_state_dict" not in ckpt:
        raise CheckpointError(f"{path} has no 'model_state_dict': not a RefDet checkpoint")
    if not isinstance(ckpt["model_state_dict"], dict) or not ckpt["model_state_dict"]:
        raise CheckpointError(f"{path}: 'model_state_dict' is empty: the file holds no model weights")
    return ckpt


def model_config(ckpt: dict, path: str | Path = "checkpoint") -> ModelConfig:
    """The ModelConfig a checkpoint was trained with (CheckpointError when it is not recorded)."""
    cfg = (ckpt.get("config") or {}).get("model") if isinstance(ckpt.get("config"), dict) else None
    if not isinstance(cfg, dict) or not cfg:
        raise CheckpointError(f"{path}: no model config recorded (config.model): cannot tell how to build the network "
                              "(a checkpoint written by `refdet train` always has one)")
    return from_dict(ModelConfig, cfg)


def load_model(path: str | Path, device: str | torch.device = "cpu", **overrides):
    """Rebuild the RefDet model saved in a checkpoint, in eval mode (inference, evaluation, export)."""
    from .refdet import RefDet

    ckpt = load_checkpoint(path)
    cfg = model_config(ckpt, path)
    for k, v in overrides.items():
        setattr(cfg, k, v)
    # weights come from the checkpoint: no pretrained files (and no "random init" warnings) needed
    cfg.yolo_weights = cfg.dino_weights = None
    if cfg.verifier is not None:
        cfg.verifier.dino_weights = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            model = RefDet(cfg)
        except (ValueError, TypeError) as e:
            raise CheckpointError(f"{path}: its model config cannot be built ({e})") from None
    sd = {k: v.float() if torch.is_tensor(v) and v.is_floating_point() else v
          for k, v in ckpt["model_state_dict"].items()}  # course weights are stored in float16
    try:
        missing, unexpected = model.load_state_dict(sd, strict=False)
    except RuntimeError as e:  # same names, other shapes
        first = next((ln.strip() for ln in str(e).splitlines() if "size mismatch" in ln), str(e).splitlines()[0])
        raise CheckpointError(f"{path}: the weights do not fit the model its config describes ({first[:200]})") \
            from None
    if missing or unexpected:
        shape = lambda keys: ", ".join(keys[:3]) + (", ..." if len(keys) > 3 else "")  # noqa: E731
        raise CheckpointError(f"{path}: the weights do not fit the model its config describes ({len(missing)} "
                              f"missing [{shape(missing)}], {len(unexpected)} unexpected [{shape(unexpected)}])")
    model.decision = Decision.from_dict(ckpt.get("decision"))
    return model.to(device).eval()


def with_verifier(path: str | Path, verifier, device: str | torch.device = "cpu"):
    """The detector of checkpoint `path` with `verifier` (a trained module; its config is verifier.config) attached:
    a RefDet whose state dict, config and decision then carry both (train/verifier.py saves it)."""
    from .refdet import RefDet

    ckpt = load_checkpoint(path)
    cfg = model_config(ckpt, path)
    cfg.yolo_weights = cfg.dino_weights = None
    cfg.verifier = verifier.config
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = RefDet(cfg)
    sd = {k: v.float() if torch.is_tensor(v) and v.is_floating_point() else v
          for k, v in ckpt["model_state_dict"].items() if not k.startswith("verifier.")}
    missing, unexpected = model.load_state_dict(sd, strict=False)
    if unexpected or any(not k.startswith("verifier.") for k in missing):
        raise CheckpointError(f"{path}: the detector's weights do not fit its own config")
    model.verifier.load_state_dict(verifier.state_dict())
    return model.to(device).eval()
