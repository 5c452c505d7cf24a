"""Hooks into the training loop for notebooks and recipes (live curves, the guide's dynamic loss weighting, ...)."""
from __future__ import annotations


class Callback:
    """Hooks for notebooks and recipes (live curves, the guide's dynamic loss weighting, ...)."""

    def on_train_begin(self, trainer): ...
    def on_epoch_begin(self, trainer, epoch: int): ...
    def on_step_end(self, trainer, step: int, components: dict): ...
    def on_epoch_end(self, trainer, epoch: int, row: dict): ...
    def on_train_end(self, trainer): ...


class LambdaCallback(Callback):
    """Callback from plain functions: LambdaCallback(on_epoch_end=lambda tr, epoch, row: ...)."""

    def __init__(self, **fns):
        for k, f in fns.items():
            if not hasattr(Callback, k):
                raise ValueError(f"unknown callback hook {k!r}")
            setattr(self, k, f)
