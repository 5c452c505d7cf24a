"""Checkpoint -> model: rebuild the RefDet an artifact holds (model/artifact.py writes and reads the file), or say
in one line why not. Inference, evaluation and export all load through `load_model`, so a file that is truncated,
foreign, empty, partial, of a newer format or missing its config gets the same clear `CheckpointError` everywhere
instead of a traceback with thousands of keys.

The course weights (models/refdet_course.pt, made by `make weights`: the project's own "pretrained" model, as
ultralytics ships yolov8n.pt) load through `course_weights()`, which first requires the manifest beside them and
checks the file against the sha256 it records, so a missing, truncated or altered file says so instead of failing
somewhere later.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import torch

from .._env import PROJECT_ROOT
from ..errors import CheckpointError, InputError
from .artifact import (  # noqa: F401  (re-exported: the names every reader has imported from here)
    MAKE_WEIGHTS,
    Artifact,
    check_manifest,
    load_checkpoint,
    manifest_path,
    model_config,
    nonfinite,
    read_weights_only,
    sha256,
)
from .verifier import Decision

COURSE_WEIGHTS = PROJECT_ROOT / "models" / "refdet_course.pt"


def course_weights(path: str | Path = COURSE_WEIGHTS) -> Path:
    """The course weights' path, checked against the sha256 in their manifest (CheckpointError: missing/altered)."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"course weights not found: {path} (a checkout of the project has them: `git checkout "
                              f"-- {path.name}` in {path.parent}; {MAKE_WEIGHTS})")
    return check_manifest(path, required=True)


def load_course_model(device: str | torch.device = "cpu", path: str | Path = COURSE_WEIGHTS, **overrides):
    """The course weights as a RefDet (detector + verifier + calibrated decision), checked first; `overrides` as
    load_model's (e.g. imgsz=1280)."""
    return load_model(course_weights(path), device, **overrides)


def load_model(path: str | Path, device: str | torch.device = "cpu", **overrides):
    """Rebuild the RefDet model saved in a checkpoint, in eval mode (inference, evaluation, export); `overrides`:
    ModelConfig fields to change (e.g. imgsz=1280), checked as build_refdet checks them."""
    return build_from(Artifact.load(path), path, device, **overrides)


def build_from(art: Artifact, path: str | Path = "checkpoint", device: str | torch.device = "cpu", **overrides):
    """The RefDet an artifact describes, its weights and decision loaded, in eval mode (errors name `path`)."""
    from .refdet import RefDet, with_overrides

    cfg = with_overrides(art.model, overrides)
    # weights come from the checkpoint: no pretrained files (and no "random init" warnings) needed
    cfg.yolo_weights = cfg.dino_weights = None
    if cfg.verifier is not None:
        cfg.verifier.dino_weights = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            model = RefDet(cfg)
        except (ValueError, TypeError) as e:
            if overrides:  # the caller's values, not the file's, may be at fault: name them
                given = ", ".join(f"{k}={v!r}" for k, v in overrides.items())
                raise InputError(f"{path} with {given}: the model cannot be built ({e})") from None
            raise CheckpointError(f"{path}: its model config cannot be built ({e})") from None
    sd = {k: v.float() if torch.is_tensor(v) and v.is_floating_point() else v
          for k, v in art.state.items()}  # course weights are stored in float16
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
    model.decision = art.decision if art.decision is not None else Decision.from_dict(None)
    return model.to(device).eval()


def with_verifier(path: str | Path, verifier, device: str | torch.device = "cpu"):
    """The detector of checkpoint `path` with `verifier` (a trained module; its config is verifier.config) attached:
    a RefDet whose state dict, config and decision then carry both (train/verifier.py saves it)."""
    from .refdet import RefDet

    art = Artifact.load(path)
    cfg = art.model
    cfg.yolo_weights = cfg.dino_weights = None
    cfg.verifier = verifier.config
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = RefDet(cfg)
    sd = {k: v.float() if torch.is_tensor(v) and v.is_floating_point() else v
          for k, v in art.state.items() if not k.startswith(("verifier.", "cues."))}
    missing, unexpected = model.load_state_dict(sd, strict=False)
    if unexpected or any(not k.startswith(("verifier.", "cues.")) for k in missing):
        raise CheckpointError(f"{path}: the detector's weights do not fit its own config")
    model.verifier.load_state_dict(verifier.state_dict())  # (the frozen cues are the installed ImageNet net's)
    return model.to(device).eval()
