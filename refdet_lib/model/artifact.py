"""A trained RefDet as a file: one typed, versioned object (`Artifact`) and the one module that writes and reads it.

    Artifact(state, model, decision, stage, epoch, history, record, training)
      state     the model's state dict (the guide's `model_state_dict`)
      model     the ModelConfig that builds the network (config.model on disk)
      decision  the calibrated Decision (None: a detector never calibrated)
      stage, epoch, history      where it came from in training
      record    everything else a run keeps: the other config sections (data, train, verifier, ...), loss_weights,
                best_val, skipped_steps, the course weights' provenance
      training  optimizer, scheduler, scaler, criterion and RNG states: only in last.pt / interrupted.pt

On disk it is a plain dict (the keys the guide and older files use) plus `format: {"name": "refdet", "version": N}`;
a file without it is the layout before versions (version 0, read the same way). A newer version or a missing field
is one CheckpointError naming the file. Writing is atomic (temp file, fsync, rename) and in plain types only, so
reading runs `torch.load(weights_only=True)`: no code from the file runs, a file that asks for any other class is
refused. Files written before plain types hold two classes, allowed by name (`_legacy_globals`). A manifest beside a
file (`name.json` with its sha256, as models/refdet_course.json) is checked on every read, and a model whose
weights hold NaN or inf is neither written nor read (it would silently find nothing). Only ultralytics' yolov8n.pt,
which pickles whole modules, needs trust: model/backbone.py, never this path.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pickle
import re
from collections import OrderedDict
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch

from ..config import ModelConfig, from_dict, to_dict
from ..errors import CheckpointError
from .verifier import Decision

FORMAT = "refdet"
VERSION = 1  # 1: the `format` record itself; the keys are those of version 0
TRAINING_KEYS = ("optimizer_state_dict", "scheduler_state_dict", "scaler_state_dict", "criterion_state_dict",
                 "rng_state")
_OWN_KEYS = {"format", "model_state_dict", "config", "decision", "stage", "epoch", "history", *TRAINING_KEYS}
MAKE_WEIGHTS = "`make weights` trains them again (models/README.md says how long)"



@dataclass
class Artifact:
    """One trained RefDet (see the module docstring): `Artifact.load(path)`, `art.save(path)`, `art.build()`."""

    state: dict
    model: ModelConfig
    decision: Optional[Decision] = None
    stage: int = 2
    epoch: Optional[int] = None
    history: list = field(default_factory=list)
    record: dict = field(default_factory=dict)
    training: dict = field(default_factory=dict)

    @classmethod
    def from_model(cls, model, **kw) -> "Artifact":
        """The artifact of a RefDet as it is now (its weights on the CPU, its config and decision)."""
        state = OrderedDict((k, v.detach().cpu()) for k, v in model.state_dict().items())
        return cls(state, model.config, getattr(model, "decision", None), **kw)

    def to_dict(self) -> dict:
        """The on-disk layout (plain types once saved)."""
        record = dict(self.record)
        config = {**(record.pop("config", None) or {}), "model": to_dict(self.model)}
        out = {"format": {"name": FORMAT, "version": VERSION}, "model_state_dict": self.state, "config": config,
               "stage": self.stage, "history": self.history, **record}
        if self.epoch is not None:
            out["epoch"] = self.epoch
        if self.decision is not None:
            out["decision"] = self.decision.to_dict()
        return {**out, **self.training}

    @classmethod
    def from_dict(cls, ckpt: dict, path: str | Path = "checkpoint") -> "Artifact":
        """A dict read from a file (load_checkpoint has checked the weights) -> the typed artifact; a format this
        code does not know, or a missing model config, is a CheckpointError naming `path`."""
        check_format(ckpt, path)
        record = {k: v for k, v in ckpt.items() if k not in _OWN_KEYS}
        config = {k: v for k, v in (ckpt.get("config") or {}).items() if k != "model"}
        if config:
            record["config"] = config
        dec = ckpt.get("decision")
        return cls(ckpt["model_state_dict"], model_config(ckpt, path), Decision.from_dict(dec) if dec else None,
                   int(ckpt.get("stage", 2)), int(ckpt["epoch"]) if ckpt.get("epoch") is not None else None,
                   list(ckpt.get("history") or []), record, {k: ckpt[k] for k in TRAINING_KEYS if k in ckpt})

    @classmethod
    def load(cls, path: str | Path, map_location: Optional[str | torch.device] = "cpu") -> "Artifact":
        return cls.from_dict(load_checkpoint(path, map_location), path)

    def save(self, path: str | Path) -> Path:
        return atomic_save(self.to_dict(), path)

    def without_training(self) -> "Artifact":
        """The model and its record only (best_model.pt, checkpoint_epoch_N.pt, the course weights): a fraction of
        the size, as ultralytics strips its checkpoints."""
        return dataclasses.replace(self, training={})


def check_format(ckpt: dict, path: str | Path = "checkpoint") -> int:
    """The file's format version (0: written before versions, the same keys); CheckpointError for another kind of
    file or a newer version than this code reads."""
    fmt = ckpt.get("format") or {"name": FORMAT, "version": 0}
    if not isinstance(fmt, dict) or fmt.get("name") != FORMAT or isinstance(fmt.get("version"), bool) \
            or not isinstance(fmt.get("version"), int):
        raise CheckpointError(f"{path}: format {fmt!r} is not a RefDet checkpoint's")
    if fmt["version"] > VERSION:
        raise CheckpointError(f"{path} was written by a newer refdet_lib (format version {fmt['version']}; this one "
                              f"reads up to {VERSION}): upgrade refdet_lib to read it")
    return fmt["version"]


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
    # what torch.load raises on a truncated or foreign file (zip reader, pickle, EOF); anything else is a bug
    except (RuntimeError, EOFError, pickle.UnpicklingError, OSError, ValueError, KeyError, IndexError) as e:
        raise CheckpointError(f"{path} is not a readable checkpoint ({type(e).__name__}: {str(e)[:200]})") from None
    if not isinstance(ckpt, dict) or "model_state_dict" not in ckpt:
        raise CheckpointError(f"{path} has no 'model_state_dict': not a RefDet checkpoint")
    if not isinstance(ckpt["model_state_dict"], dict) or not ckpt["model_state_dict"]:
        raise CheckpointError(f"{path}: 'model_state_dict' is empty: the file holds no model weights")
    check_format(ckpt, path)
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


_PLAIN = (type(None), bool, int, float, str, bytes, torch.Tensor, torch.dtype, torch.device, torch.Size)


def plain(obj: Any) -> Any:
    """`obj` with every value a type `torch.load(weights_only=True)` reads without an allow-list. State dicts
    (OrderedDicts) are kept as they are: their `_metadata` carries the modules' versions. Anything else is a bug in
    the writer, not the user's: TypeError."""
    if isinstance(obj, OrderedDict) or type(obj) in _PLAIN:
        return obj
    if isinstance(obj, dict):
        return {plain(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(plain(v) for v in obj) if type(obj) in (list, tuple) else [plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(obj).copy())
    if isinstance(obj, np.generic):
        return obj.item()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return plain(dataclasses.asdict(obj))
    for t in (bool, int, float, str):  # subclasses: torch.__version__ (TorchVersion is a str), IntEnum, ...
        if isinstance(obj, t):
            return t(obj)
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise TypeError(f"cannot save a {type(obj).__module__}.{type(obj).__qualname__} in a checkpoint: give a plain "
                    "type (the file must load with torch.load(weights_only=True))")


def atomic_save(obj: Any, path: str | Path) -> Path:
    """torch.save to `path` atomically (temp file + fsync + os.replace), in plain types; a model state with NaN or
    inf weights is refused (CheckpointError naming the file) and the file already there is left as it was."""
    path = Path(path)
    sd = obj.get("model_state_dict") if isinstance(obj, dict) else None
    bad = nonfinite(sd) if isinstance(sd, dict) else []
    if bad:
        raise CheckpointError(f"{path}: not saved: {len(bad)} of {len(sd)} weight tensors hold NaN or inf (first: "
                              f"{bad[0]}): training diverged (too high a learning rate?)")
    obj = plain(obj)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def atomic_write_text(text: str, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)
    return path


