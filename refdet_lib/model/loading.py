"""Checkpoint -> model: read a file the trainer wrote and rebuild the RefDet it holds, or say in one line why not.

A checkpoint is a dict with `model_state_dict` and `config` (the ModelConfig it was built with; docs/contracts.md).
Inference, evaluation and export all load through `load_model`, so a file that is truncated, foreign, empty, partial
or missing its config gets the same clear `CheckpointError` everywhere instead of a traceback with thousands of keys.

The course weights (models/refdet_course.pt, made by `make weights`: the project's own "pretrained" model, as
ultralytics ships yolov8n.pt) load through `course_weights()`, which first checks the file against the sha256 its
manifest records, so a missing, truncated or altered file says so instead of failing somewhere later.

Loading runs no code from the file: `torch.load(weights_only=True)` rebuilds tensors and plain types only and refuses
any other class, so a shared `.pt` whose pickle calls `os.system` is refused before anything runs. The project's own
checkpoints are written in plain types (train/checkpoint.py); files written before that hold two classes, allowed by
name and nothing more (`LEGACY_GLOBALS`). Every file is also checked against a manifest beside it (`name.json` with
its sha256, as models/refdet_course.json), and refused when a weight is NaN or inf (it would silently find nothing).
Only ultralytics' yolov8n.pt, which pickles whole modules, needs trust: model/backbone.py, never this path.
"""
from __future__ import annotations

import hashlib
import json
import pickle
import re
import warnings
from dataclasses import fields
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


def _legacy_globals() -> list:
    """The classes files written before checkpoints held only plain types need, each allowed by its exact name:
    the course weights' recorded `torch.__version__` (a TorchVersion, a str) and last.pt's numpy RNG key array."""
    import numpy as np
    from torch.torch_version import TorchVersion

    core = getattr(np, "_core", None) or np.core  # numpy 2 / 1.x
    rebuild = core.multiarray._reconstruct
    allowed = [TorchVersion, np.ndarray, np.dtype, (rebuild, "numpy.core.multiarray._reconstruct"),
               (rebuild, "numpy._core.multiarray._reconstruct")]
    dtypes = getattr(np, "dtypes", None)
    return allowed + ([dtypes.UInt32DType] if dtypes is not None else [])


def read_weights_only(path: str | Path, map_location: Optional[str | torch.device] = "cpu"):
    """torch.load with weights_only=True: nothing in the file runs. A file that needs any other class is refused
    (CheckpointError naming the file and the class; the file is never loaded another way)."""
    try:
        with torch.serialization.safe_globals(_legacy_globals()):
            return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        names = sorted(set(re.findall(r"GLOBAL ([\w.]+)", str(e)))) or ["a class no checkpoint needs"]
        raise CheckpointError(f"{path} is not a RefDet checkpoint: it asks to run {', '.join(names)}, which a "
                              "checkpoint never needs; refused without running it") from None


def nonfinite(state_dict: dict) -> list[str]:
    """Names of the floating-point tensors of a state dict holding NaN or inf."""
    return [k for k, v in state_dict.items()
            if torch.is_tensor(v) and v.is_floating_point() and not bool(torch.isfinite(v).all())]


def check_manifest(path: str | Path, required: bool = False) -> Path:
    """`path`, checked against the sha256 of the manifest beside it (name.json, {"sha256": ...}) when there is one
    (CheckpointError: altered or truncated; with required=True, also when it is missing)."""
    path, man = Path(path), manifest_path(path)
    if not man.is_file():
        if required:
            raise CheckpointError(f"{man} is missing: cannot check {path} ({MAKE_WEIGHTS})")
        return path
    try:
        record = json.loads(man.read_text(encoding="utf-8-sig"))
    except (ValueError, OSError) as e:
        raise CheckpointError(f"{man}: the manifest of {path.name} is unreadable ({e})") from None
    if not isinstance(record, dict) or "sha256" not in record or record.get("file", path.name) != path.name:
        if required:
            raise CheckpointError(f"{man} records no sha256 for {path.name}: cannot check it ({MAKE_WEIGHTS})")
        return path  # another kind of json that happens to share the name
    want, got = str(record["sha256"]), sha256(path)
    if got != want:
        fix = f"`git checkout -- {path.name}` restores it; {MAKE_WEIGHTS}" if required else \
            f"copy it again, with {man.name}"
        raise CheckpointError(f"{path} was altered or truncated: its sha256 is {got[:12]}..., {man.name} records "
                              f"{want[:12]}... ({fix})")
    return path


def manifest_path(weights: str | Path) -> Path:
    """The manifest beside a weights file: {"sha256", "bytes", ...} (models/refdet_course.json)."""
    return Path(weights).with_suffix(".json")


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


def load_checkpoint(path: str | Path, map_location: Optional[str | torch.device] = "cpu") -> dict:
    """Load a checkpoint written by the trainer, safely (FileNotFoundError / CheckpointError naming the file): no
    code from the file runs, a manifest beside it must match, and every weight must be finite."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    if path.is_dir():
        raise CheckpointError(f"{path} is a folder, not a checkpoint file (try {path / 'best_model.pt'})")
    check_manifest(path)
    try:
        ckpt = read_weights_only(path, map_location)
    except CheckpointError:
        raise
    except Exception as e:  # truncated or foreign file
        raise CheckpointError(f"{path} is not a readable checkpoint ({type(e).__name__}: {str(e)[:200]})") from None
    if not isinstance(ckpt, dict) or "model_state_dict" not in ckpt:
        raise CheckpointError(f"{path} has no 'model_state_dict': not a RefDet checkpoint")
    if not isinstance(ckpt["model_state_dict"], dict) or not ckpt["model_state_dict"]:
        raise CheckpointError(f"{path}: 'model_state_dict' is empty: the file holds no model weights")
    bad = nonfinite(ckpt["model_state_dict"])
    if bad:
        raise CheckpointError(f"{path}: {len(bad)} of {len(ckpt['model_state_dict'])} weight tensors hold NaN or inf "
                              f"(first: {bad[0]}): a broken model, it would find nothing")
    return ckpt


def model_config(ckpt: dict, path: str | Path = "checkpoint") -> ModelConfig:
    """The ModelConfig a checkpoint was trained with (CheckpointError when it is not recorded)."""
    cfg = (ckpt.get("config") or {}).get("model") if isinstance(ckpt.get("config"), dict) else None
    if not isinstance(cfg, dict) or not cfg:
        raise CheckpointError(f"{path}: no model config recorded (config.model): cannot tell how to build the network "
                              "(a checkpoint written by `refdet train` always has one)")
    mc = from_dict(ModelConfig, cfg)
    for f in fields(ModelConfig):  # an edited file ("imgsz": "160") fails later with an unrelated message
        v, default = getattr(mc, f.name), f.default
        kind = type(default) if isinstance(default, (bool, int, float, str)) else None
        if kind is None or v is None or isinstance(v, kind) and (kind is not int or not isinstance(v, bool)):
            continue
        if kind is float and isinstance(v, int) and not isinstance(v, bool):
            continue
        raise CheckpointError(f"{path}: config.model.{f.name} is {v!r} ({type(v).__name__}): a {kind.__name__} is "
                              "expected (the file was edited or written by something else)")
    return mc


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
    sd = {k: v for k, v in sd.items() if not k.startswith("cues.")}
    missing, unexpected = model.load_state_dict(sd, strict=False)
    if unexpected or any(not k.startswith(("verifier.", "cues.")) for k in missing):
        raise CheckpointError(f"{path}: the detector's weights do not fit its own config")
    model.verifier.load_state_dict(verifier.state_dict())  # (the frozen cues are the installed ImageNet net's)
    return model.to(device).eval()
