"""The `refdet train ...` command line equivalent to a set of configs.

A notebook trains by building configs and calling `run_training`; a person then wants the same run on a GPU box from
a shell. `train_command` writes that command (only the flags that differ from the CLI's defaults, so it reads like
the guide's examples), and parsing it back with `refdet_lib.cli` gives the same configs.
"""
from __future__ import annotations

import shlex
from typing import Optional, Sequence

from .config import AugmentConfig, DataConfig, LossWeights, ModelConfig, TrainConfig, stage_weights

DATA_FLAGS = ("data_root", "annotations", "test_data_root", "test_annotations", "imgsz", "support_size", "n_shot",
              "n_way", "n_query", "n_episodes", "hard_episodes", "batch_size", "num_workers")
TRAIN_FLAGS = ("stage", "epochs", "lr", "weight_decay", "gradient_accumulation", "checkpoint_dir", "save_interval",
               "resume", "device", "seed", "triplet_ratio", "negative_strategy", "triplet_batch_size")
MODEL_FLAGS = ("yolo_weights", "dino_weights", "reference_encoder")
ALWAYS = ("stage", "epochs", "n_way", "n_query", "checkpoint_dir")  # the guide always spells these out


def _fmt(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def train_command(data: DataConfig, model: ModelConfig, train: TrainConfig, weights: Optional[LossWeights] = None,
                  program: str = "refdet train", full: bool = False, include: Sequence[str] = (),
                  multiline: bool = True) -> str:
    """`refdet train ...` reproducing these configs (flags equal to the CLI defaults are left out unless `full`,
    or named in `include`, e.g. ("weight_decay", "bbox_weight") to spell out what the guide's examples spell out).

    Not expressible as flags (and so not in the command): TrainConfig.warmup_epochs, grad_clip, the lr multipliers
    and individual augmentation strengths (only all-on / all-off: `--no-augment`).
    """
    d0, t0 = DataConfig(), TrainConfig()
    args: list[tuple[str, Optional[str]]] = []

    def add(flag, value, default):
        if value is None or isinstance(value, bool):
            return
        if full or flag in ALWAYS or flag in include or value != default:
            args.append((f"--{flag}", _fmt(value)))

    for f in DATA_FLAGS:
        add(f, getattr(data, f), getattr(d0, f))
    for f in TRAIN_FLAGS:
        add(f, getattr(train, f), getattr(t0, f))
    m0 = ModelConfig()
    for f in MODEL_FLAGS:
        add(f, getattr(model, f), getattr(m0, f))
    if model.imgsz != data.imgsz or model.support_size != data.support_size:
        raise ValueError(f"DataConfig and ModelConfig disagree on imgsz/support_size ({data.imgsz}/{data.support_size}"
                         f" vs {model.imgsz}/{model.support_size}); the command line has one value for each")
    for flag, on in (("mixed_precision", train.mixed_precision), ("use_triplet", train.use_triplet),
                     ("freeze_reference", model.freeze_reference), ("appearance_match", model.appearance_match)):
        if on:
            args.append((f"--{flag}", None))
    if not data.cache_frames:
        args.append(("--no-cache_frames", None))
    if not train.channels_last:
        args.append(("--no-channels_last", None))
    if data.augment == AugmentConfig.off():
        args.append(("--no-augment", None))
    if weights is not None:
        preset = stage_weights(train.stage)
        for k, v in weights.items():
            if full or f"{k}_weight" in include or v != preset[k]:
                args.append((f"--{k}_weight", _fmt(v)))
    parts = [program] + [f"{k} {shlex.quote(v)}" if v is not None else k for k, v in args]
    return (" \\\n    " if multiline else " ").join(parts)
