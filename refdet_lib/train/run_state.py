"""The run's checkpoint schema, and resuming from one: what a training run writes (the model's artifact plus the
training state: optimizer, scheduler, scaler, criterion, RNG) and how each kind of file continues.

    last.pt, interrupted.pt          everything: resume continues exactly (2 + 2 epochs == 4 unbroken on the CPU)
    best_model.pt, checkpoint_N.pt   model only: the next epoch with a fresh optimizer
    another stage, the course weights, fine_tune: the weights, epoch 1

The loop (trainer.py) calls these; the artifact itself is model/artifact.py's.
"""
from __future__ import annotations

import warnings
from pathlib import Path

from ..config import ModelConfig, to_dict
from ..errors import UsageError
from ..model.artifact import Artifact
from ..model.loading import load_checkpoint
from ..model.verifier import Decision
from .checkpoint import rng_state, set_rng_state


def run_state(trainer, epoch: int) -> dict:
    """The run at `epoch`, training state included. A RefDet is written as its artifact (model/artifact.py; a
    verifier's calibrated decision travels on with the model it was fitted for, fine-tuning keeps it); any other
    module the loop trains (the crop verifier) as its weights with the same record."""
    record = {"best_val": trainer.best_val, "skipped_steps": trainer.skipped_steps,
              "loss_weights": trainer.criterion.weights.as_dict(),
              "config": {k: to_dict(v) for k, v in trainer.configs.items() if k != "model"}
              | {"train": to_dict(trainer.cfg)}}
    training = {"optimizer_state_dict": trainer.optimizer.state_dict(),
                "scheduler_state_dict": trainer.scheduler.state_dict(),
                "scaler_state_dict": trainer.scaler.state_dict(),
                "criterion_state_dict": trainer.criterion.state_dict(), "rng_state": rng_state()}
    net = trainer.raw_model
    if isinstance(getattr(net, "config", None), ModelConfig):
        return Artifact(net.state_dict(), net.config, getattr(net, "decision", None), trainer.cfg.stage, epoch,
                        trainer.history.rows, record, training).to_dict()
    return {"model_state_dict": net.state_dict(), "epoch": epoch, "stage": trainer.cfg.stage,
            "history": trainer.history.rows, **record, **training}


def resume_run(trainer, path: str | Path, ckpt: dict | None = None) -> None:
    """Continue from a checkpoint. Same stage, last.pt (optimizer state inside): everything restored, the next
    epoch, exactly as an unbroken run. Same stage, best_model.pt / checkpoint_epoch_N.pt (model only, as
    ultralytics strips them): the next epoch with a fresh optimizer. Another stage, or weights that are not a
    training run (the course weights): a fine-tune from epoch 1. `ckpt`: the file as run_training already read it
    (read once)."""
    ckpt = load_checkpoint(path, map_location=trainer.device) if ckpt is None else ckpt
    missing, unexpected = trainer.raw_model.load_state_dict(ckpt["model_state_dict"], strict=False)
    if ckpt.get("decision") and hasattr(trainer.raw_model, "decision"):
        trainer.raw_model.decision = Decision.from_dict(ckpt["decision"])
    if missing or unexpected:
        warnings.warn(f"{path}: {len(missing)} missing and {len(unexpected)} unexpected model tensors")
    cfg = trainer.cfg
    if cfg.fine_tune or ckpt.get("stage", cfg.stage) != cfg.stage or "course_weights" in ckpt or "epoch" not in ckpt:
        what = "the course weights" if "course_weights" in ckpt else f"stage-{ckpt.get('stage')} checkpoint"
        trainer.say(f"Fine-tuning from {what} {path} (weights only, epoch 1)")
        return
    done = int(ckpt["epoch"])
    if done >= trainer.cfg.epochs:
        raise UsageError(f"--resume {path} has already trained {done} epoch(s): --epochs {trainer.cfg.epochs} "
                         f"leaves nothing to do (give --epochs above {done} to continue)")
    if "optimizer_state_dict" not in ckpt:  # a model-only file of this stage: continue, fresh optimizer
        trainer.epoch, trainer.best_val = done, float(ckpt.get("best_val", float("inf")))
        trainer.history.rows = [r for r in ckpt.get("history", []) if r["epoch"] <= done]
        trainer.scheduler.last_epoch = done * trainer.steps_per_epoch  # the schedule where the run was
        for g, lr in zip(trainer.optimizer.param_groups, trainer.scheduler.get_lr()):
            g["lr"] = lr
        trainer.say(f"Continuing from {path} (epoch {done}, model only: a fresh optimizer; last.pt resumes "
                    f"exactly) to epoch {trainer.cfg.epochs}")
        return
    trainer.optimizer.load_state_dict(ckpt["optimizer_state_dict"])
    # a longer run (the guide's curriculum: --epochs 60 after 30) re-plans the schedule from here
    trainer.scheduler.load_state_dict(ckpt["scheduler_state_dict"])
    trainer.replan(trainer.cfg.epochs)
    if ckpt.get("scaler_state_dict"):
        trainer.scaler.load_state_dict(ckpt["scaler_state_dict"])
    if ckpt.get("criterion_state_dict"):
        trainer.criterion.load_state_dict(ckpt["criterion_state_dict"])
    set_rng_state(ckpt["rng_state"])
    trainer.epoch = int(ckpt["epoch"])
    trainer.best_val = float(ckpt.get("best_val", float("inf")))
    trainer.skipped_steps = int(ckpt.get("skipped_steps", 0))
    trainer.history.rows = [r for r in ckpt.get("history", []) if r["epoch"] <= trainer.epoch]
    trainer.say(f"Resumed from {path}: epoch {trainer.epoch} done, continuing to {trainer.cfg.epochs}")
