"""Hooks into the training loop for notebooks and recipes (live curves, the guide's dynamic loss weighting, ...)."""
from __future__ import annotations

import time

from ..errors import InputError


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
                raise InputError(f"unknown callback hook {k!r}")
            setattr(self, k, f)


class TimeBudget(Callback):
    """Train for what `minutes` of wall clock afford, on whatever machine runs it: after each epoch the epochs that
    fit are re-estimated (the configured epochs are the ceiling) and the warm-up + cosine schedule is laid over that
    length (Trainer.replan), so the learning rate still anneals to its end instead of being cut off mid-run.

    The plan is cautious on purpose. A plan can only change the epochs still to come, so the decision that matters
    is the one before the last epoch: plan one too many and find out after the next epoch ran, and the run ends
    mid-schedule. So an epoch costs the larger of the mean so far and the latest epoch (a machine that got busier),
    and a quarter of an epoch is held back for the next one running slow: at most a fraction of one epoch is given
    up, however long the run. `clock` is for tests."""

    reserve = 0.25  # of an epoch

    def __init__(self, minutes: float, clock=time.monotonic):
        self.seconds, self.clock = float(minutes) * 60, clock
        self.t0, self.last, self.first, self.ceiling = 0.0, 0.0, 0, 0

    def on_train_begin(self, trainer):
        self.t0 = self.last = self.clock()
        self.first, self.ceiling = trainer.epoch, trainer.cfg.epochs

    def on_epoch_end(self, trainer, epoch: int, _row: dict):
        now = self.clock()
        spent, latest, self.last = now - self.t0, now - self.last, now
        per_epoch = max(spent / max(1, epoch - self.first), latest)
        left = self.seconds - spent - self.reserve * per_epoch
        fit = min(self.ceiling, max(epoch, epoch + int(left // per_epoch)))
        if fit != trainer.cfg.epochs:
            trainer.replan(fit)
            trainer.say(f"time budget {self.seconds / 60:.1f} min at {per_epoch:.0f} s an epoch: {fit} epochs")
