"""One batch through model and criterion: the loss every training-side tool computes the same way (the trainer,
the LR finder, the memory and timing diagnostics)."""
from __future__ import annotations

import contextlib

import torch

from ..runtime import batch_to


def forward_batch(model, batch: dict, stage: int) -> dict:
    """The model's raw outputs for one batch of `stage`. Stage 1 is base detection (no references, no fusion);
    stages 2/3 score only the prototype branch, so the base-class branch (a full YOLOv8 class stack) is skipped.
    A batch of crops (data/crops.py) goes through the verifier, whatever the stage."""
    if "crops" in batch:
        return {"embeddings": model(batch["crops"])}
    if stage == 1:
        return model(batch["query"])
    return model(batch["query"], batch["support"], std=False)


def batch_loss(model, criterion, batch: dict, stage: int, device: torch.device | None = None,
               channels_last: bool = False, autocast=None):
    """batch -> device -> forward -> criterion: (total, weighted components). `autocast`: a context manager for the
    forward (mixed precision); the criterion always computes in float32."""
    device = device or next(model.parameters()).device
    batch = batch_to(batch, device, channels_last)
    with autocast if autocast is not None else contextlib.nullcontext():
        out = forward_batch(model, batch, stage)
    return criterion(out, batch, stage=stage)
