"""Everything a resume needs to continue exactly: the random generators' states, in plain types.

Checkpoints themselves (the typed artifact, atomic plain-type writes, safe reads) are written and read by one module,
model/artifact.py; its writers are re-exported here for the training code that has always imported them from here.
"""
from __future__ import annotations

import random

import numpy as np
import torch

from ..model.artifact import atomic_save, atomic_write_text, plain  # noqa: F401  (re-exported)


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
