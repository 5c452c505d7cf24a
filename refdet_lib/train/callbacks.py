"""Hooks into the training loop for notebooks and recipes (live curves, the guide's dynamic loss weighting, ...)."""
from __future__ import annotations

import time


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


class TimeBudget(Callback):
    """Train for what `minutes` of wall clock afford, on whatever machine runs it: after each epoch the epochs that
    fit are re-estimated (the configured epochs are the ceiling) and the warm-up + cosine schedule is laid over that
    length (Trainer.replan), so the learning rate still anneals to its end instead of being cut off mid-run.

    The estimate is cautious on purpose: an epoch costs the larger of the mean so far and the latest epoch, plus 10 %.
    Planning one epoch too few costs a little training; planning one too many and finding out after it ran ends the
    run mid-schedule, because a plan can only change the epochs still to come. `clock` is for tests."""

    margin = 1.10

    def __init__(self, minutes: float, clock=time.monotonic):
        self.seconds, self.clock = float(minutes) * 60, clock
        self.t0, self.last, self.first, self.ceiling = 0.0, 0.0, 0, 0

    def on_train_begin(self, trainer):
        self.t0 = self.last = self.clock()
        self.first, self.ceiling = trainer.epoch, trainer.cfg.epochs

    def on_epoch_end(self, trainer, epoch: int, _row: dict):
        now = self.clock()
        spent, latest, self.last = now - self.t0, now - self.last, now
        per_epoch = self.margin * max(spent / max(1, epoch - self.first), latest)
        fit = min(self.ceiling, max(epoch, epoch + int((self.seconds - spent) // per_epoch)))
        if fit != trainer.cfg.epochs:
            trainer.replan(fit)
            trainer.say(f"time budget {self.seconds / 60:.1f} min at {per_epoch:.0f} s an epoch: {fit} epochs")
