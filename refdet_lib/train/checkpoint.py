"""Checkpoints that survive crashes, and everything a resume needs to continue exactly.

A checkpoint is written to a temporary file in the same folder, flushed to disk, then renamed over the target:
rename is atomic, so a crash or Ctrl-C at any moment leaves either the old file or the new one, never half of one.
"""
from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch


def atomic_save(obj: Any, path: str | Path) -> Path:
    """torch.save to `path` atomically (temp file + fsync + os.replace)."""
    path = Path(path)
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


def rng_state() -> dict:
    st = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        st["cuda"] = torch.cuda.get_rng_state_all()
    return st


def set_rng_state(st: dict) -> None:
    random.setstate(st["python"])
    np.random.set_state(st["numpy"])
    torch.set_rng_state(st["torch"])
    if "cuda" in st and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(st["cuda"])


def load_checkpoint(path: str | Path, map_location: Optional[str | torch.device] = "cpu") -> dict:
    """Load a checkpoint written by the trainer (raises FileNotFoundError / ValueError naming the file)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as e:  # truncated or foreign file
        raise ValueError(f"{path} is not a readable checkpoint ({type(e).__name__}: {e})") from e
    if not isinstance(ckpt, dict) or "model_state_dict" not in ckpt:
        raise ValueError(f"{path} has no 'model_state_dict': not a RefDet checkpoint")
    return ckpt


def load_model(path: str | Path, device: str | torch.device = "cpu", **overrides):
    """Rebuild the RefDet model saved in a checkpoint, in eval mode (inference, evaluation, export)."""
    from ..config import ModelConfig, from_dict
    from ..model import RefDet

    ckpt = load_checkpoint(path)
    cfg = from_dict(ModelConfig, ckpt.get("config", {}).get("model", {}))
    for k, v in overrides.items():
        setattr(cfg, k, v)
    # weights come from the checkpoint: no pretrained files (and no "random init" warnings) needed
    cfg.yolo_weights = cfg.dino_weights = None
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = RefDet(cfg)
    model.load_state_dict(ckpt["model_state_dict"])
    return model.to(device).eval()
