"""Checkpoints that survive crashes, and everything a resume needs to continue exactly.

A checkpoint is written to a temporary file in the same folder, flushed to disk, then renamed over the target:
rename is atomic, so a crash or Ctrl-C at any moment leaves either the old file or the new one, never half of one.

Everything saved is a plain type (dicts, lists, numbers, strings, tensors): `model/loading.py` reads checkpoints with
`torch.load(weights_only=True)`, which runs no code from the file and refuses any other class, so `plain()` turns what
a writer may hand over (a `torch.__version__`, a Path, numpy scalars and arrays, dataclasses) into plain types here,
once, for every writer. A model whose weights hold NaN or inf is never written (it would find nothing, silently).
"""
from __future__ import annotations

import dataclasses
import os
import random
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import CheckpointError
from ..model.loading import nonfinite

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


def rng_state() -> dict:
    """Every generator's state, in plain types (numpy's key array as an int64 tensor)."""
    kind, key, pos, has_gauss, gauss = np.random.get_state()
    st = {"python": random.getstate(), "numpy": (kind, torch.from_numpy(key.astype(np.int64)), int(pos),
                                                   int(has_gauss), float(gauss)),
          "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        st["cuda"] = torch.cuda.get_rng_state_all()
    return st


def set_rng_state(st: dict) -> None:
    random.setstate(st["python"])
    kind, key, *rest = st["numpy"]  # an int64 tensor (plain types), or a numpy array in older files
    np.random.set_state((kind, np.asarray(key, dtype=np.int64).astype(np.uint32), *rest))
    torch.set_rng_state(st["torch"])
    if "cuda" in st and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(st["cuda"])
