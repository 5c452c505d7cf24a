"""`refdet train` flags <-> configs, both ways, from one table: the parser.

Every flag's `dest` is the name of the config field it sets (one owner per field: DataConfig, ModelConfig or
TrainConfig), plus `--augment` (all augmentation on / off) and `--<component>_weight` (LossWeights, default: the
stage's preset). `configs_from_args` reads a parsed namespace into configs by those names; `train_command` walks the
same parser's actions to write the command that rebuilds given configs, so a flag added to the parser is known to
both at once.
"""
from __future__ import annotations

import argparse
import math
import shlex
import sys
from dataclasses import fields
from pathlib import Path
from typing import Optional, Sequence

from ..config import (
    LOSS_COMPONENTS,
    AugmentConfig,
    DataConfig,
    LossWeights,
    ModelConfig,
    TrainConfig,
    check_imgsz,
    stage_weights,
)
from ..errors import UsageError

CONFIGS = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig}
SPECIAL = ("augment",) + tuple(f"{k}_weight" for k in LOSS_COMPONENTS)
ALWAYS = ("stage", "epochs", "n_way", "n_query", "checkpoint_dir")  # the guide always spells these out


def _owner_of() -> dict[str, str]:
    """field name -> config ("data" | "model" | "train"); a name in two configs would be two owners."""
    owner: dict[str, str] = {}
    for name, cls in CONFIGS.items():
        for f in fields(cls):
            if f.name in owner and f.name != "augment":
                raise RuntimeError(f"config field {f.name!r} is owned by both {owner[f.name]} and {name}")
            owner.setdefault(f.name, name)
    return owner


OWNER = _owner_of()


def _bool(g, name: str, default: bool, help: str) -> None:
    g.add_argument(f"--{name}", action=argparse.BooleanOptionalAction, default=default, help=help)


def add_train_args(p: argparse.ArgumentParser) -> None:
    d, m, t = DataConfig(), ModelConfig(), TrainConfig()
    g = p.add_argument_group("data")
    g.add_argument("--data_root", default=d.data_root, help="folder of <video_id>/ sub-folders")
    g.add_argument("--annotations", default=d.annotations,
                   help="annotations.json (stage 1 also: a YOLO data.yaml or a COCO json)")
    g.add_argument("--test_data_root", default=None, help="validation videos (optional)")
    g.add_argument("--test_annotations", default=None, help="validation annotations (optional)")
    g.add_argument("--imgsz", type=int, default=m.imgsz, help="query frame size (a positive multiple of 32)")
    g.add_argument("--train_crop", type=int, default=d.train_crop,
                   help="stage 2/3: train on N x N windows of the imgsz-scaled frame holding the object (multiple "
                        "of 32, below imgsz; 0 = whole frames)")
    g.add_argument("--support_size", type=int, default=m.support_size,
                   help="reference image size (multiple of 14; of 32 with --reference_encoder siamese or "
                        "mobilenetv2)")
    g.add_argument("--n_shot", type=int, default=d.n_shot, help="reference images per object")
    g.add_argument("--n_way", type=int, default=d.n_way, help="objects per episode (2-4 recommended)")
    g.add_argument("--n_query", type=int, default=d.n_query, help="query frames per object (4-8 recommended)")
    g.add_argument("--n_episodes", type=int, default=d.n_episodes, help="episodes per epoch (100-200)")
    g.add_argument("--hard_episodes", type=float, default=d.hard_episodes,
                   help="fraction (0-1) of episodes whose objects are look-alikes (closest reference colours)")
    _bool(g, "fixed_episodes", d.fixed_episodes, "every epoch draws the same episodes (a short fine-tune's passes "
          "over one set)")
    g.add_argument("--batch_size", type=int, default=d.batch_size,
                   help="frames per batch, stage 1 only (stages 2-3 batch one episode: n_way x n_query frames)")
    g.add_argument("--num_workers", type=int, default=d.num_workers,
                   help="data loading workers (at most the CPUs each training process gets)")
    _bool(g, "cache_frames", d.cache_frames, "on-disk frame cache")
    _bool(g, "augment", True, "data augmentation (--no-augment: every probability 0)")
    g = p.add_argument_group("training")
    g.add_argument("--stage", type=int, default=t.stage, help="1 base, 2 few-shot meta-learning, 3 fine-tuning")
    g.add_argument("--epochs", type=int, default=t.epochs)
    g.add_argument("--lr", type=float, default=t.lr, help="base learning rate (layer-wise multipliers apply)")
    g.add_argument("--weight_decay", type=float, default=t.weight_decay)
    g.add_argument("--gradient_accumulation", type=int, default=t.gradient_accumulation)
    _bool(g, "mixed_precision", t.mixed_precision,
          "AMP on CUDA; on a CPU bf16 autocast where bf16 is native (AMX, AVX512-BF16), else float32")
    _bool(g, "channels_last", t.channels_last, "channels-last (NHWC) memory format for the convolutions")
    g.add_argument("--checkpoint_dir", default=t.checkpoint_dir)
    g.add_argument("--save_interval", type=int, default=t.save_interval)
    g.add_argument("--resume", default=None, help="checkpoint to continue from (stage 3: the stage-2 model)")
    _bool(g, "fine_tune", t.fine_tune, "take only --resume's weights and start at epoch 1 (a new run from a trained "
          "model; the course weights always start so)")
    _bool(g, "exist_ok", t.exist_ok, "train into a --checkpoint_dir that already holds a run, replacing its files "
          "(else refused; --resume of its last.pt continues it)")
    g.add_argument("--device", default=t.device, help="auto | cpu | cuda | cuda:N")
    g.add_argument("--seed", type=int, default=t.seed)
    g = p.add_argument_group("loss weights (default: the stage's preset)")
    for k in LOSS_COMPONENTS:
        g.add_argument(f"--{k}_weight", type=float, default=None)
    g = p.add_argument_group("triplet / mixed batches")
    _bool(g, "use_triplet", t.use_triplet, "mix triplet batches into training")
    g.add_argument("--triplet_ratio", type=float, default=t.triplet_ratio)
    g.add_argument("--negative_strategy", default=t.negative_strategy, choices=["background", "cross_class", "mixed"])
    g.add_argument("--triplet_batch_size", type=int, default=t.triplet_batch_size)
    g = p.add_argument_group("model")
    g.add_argument("--yolo_weights", default=None, help="ultralytics yolov8n.pt for the query backbone")
    g.add_argument("--dino_weights", default=None, help="local DINOv2 ViT-S/14 weights file for the reference encoder")
    _bool(g, "freeze_reference", m.freeze_reference, "freeze the reference encoder")
    _bool(g, "appearance_match", m.appearance_match, "add a low-level template-match score to the prototype score")
    g.add_argument("--reference_encoder", default=m.reference_encoder, choices=["dinov2", "siamese", "mobilenetv2"],
                   help="dinov2 (the guide's ViT), siamese (references through the shared YOLO backbone) or "
                        "mobilenetv2 (the installed ImageNet MobileNetV2 in the ViT's slot); with siamese and "
                        "mobilenetv2 --support_size is a multiple of 32, e.g. 64")
    g.add_argument("--backbone", default=m.backbone, choices=["yolov8", "mobilenetv2"],
                   help="query backbone: yolov8 (YOLOv8n) or mobilenetv2 (the installed ImageNet MobileNetV2 under "
                        "YOLOv8's neck; its pretrained layers learn at lr x0.1)")
    _bool(g, "p2", m.p2, "a stride-4 level P2 in the neck, fusion and head (yolov8-p2's layout; with --backbone "
          "mobilenetv2): anchors every 4 px for objects of a few pixels")


def train_parser(prog: str = "refdet train") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog)
    add_train_args(p)
    return p


def _check(a: argparse.Namespace) -> None:
    """Values a user can get wrong: one line naming the flag (UsageError, exit 2). NaN and inf first: they pass every
    comparison below (nan <= 0 is False), and `--lr inf` trained into a model of NaNs that found nothing."""
    for k, v in sorted(vars(a).items()):
        if isinstance(v, float) and not math.isfinite(v):
            raise UsageError(f"--{k} must be a finite number (got {v})")
    if a.stage not in (1, 2, 3):
        raise UsageError(f"--stage must be 1, 2 or 3 (got {a.stage})")
    check_imgsz(a.imgsz, "--imgsz")
    if a.train_crop and (a.train_crop % 32 or not 0 < a.train_crop < a.imgsz):
        raise UsageError(f"--train_crop must be a multiple of 32 below --imgsz {a.imgsz} (got {a.train_crop})")
    if not 0.0 <= a.hard_episodes <= 1.0:
        raise UsageError(f"--hard_episodes must be a fraction in [0, 1] (got {a.hard_episodes})")
    if a.support_size < 1:
        raise UsageError(f"--support_size must be positive (got {a.support_size})")
    if a.reference_encoder in ("siamese", "mobilenetv2") and a.support_size % 32:
        raise UsageError(f"--support_size must be a multiple of 32 with --reference_encoder {a.reference_encoder} "
                         f"(got {a.support_size}; try 64)")
    if a.reference_encoder == "dinov2" and a.support_size % 14:
        raise UsageError(f"--support_size must be a multiple of 14 (ViT patch size; got {a.support_size})")
    for k in ("epochs", "n_way", "n_query", "n_episodes", "batch_size", "gradient_accumulation", "save_interval",
              "n_shot", "triplet_batch_size"):
        if getattr(a, k) < 1:
            raise UsageError(f"--{k} must be >= 1 (got {getattr(a, k)})")
    if a.num_workers < 0:
        raise UsageError(f"--num_workers must be >= 0 (got {a.num_workers})")
    if a.lr <= 0:
        raise UsageError(f"--lr must be > 0 (got {a.lr})")
    if a.weight_decay < 0:
        raise UsageError(f"--weight_decay must be >= 0 (got {a.weight_decay})")
    if not 0 <= a.triplet_ratio <= 1:
        raise UsageError(f"--triplet_ratio must be between 0 and 1 (got {a.triplet_ratio})")
    for k in LOSS_COMPONENTS:
        v = getattr(a, f"{k}_weight")
        if v is not None and v < 0:
            raise UsageError(f"--{k}_weight must be >= 0 (got {v})")
    for flag in ("data_root", "annotations", "test_data_root", "test_annotations", "resume", "yolo_weights",
                 "dino_weights"):
        v = getattr(a, flag, None)
        if v and not Path(v).exists():
            raise UsageError(f"--{flag}: {v} does not exist")
    if bool(a.test_data_root) != bool(a.test_annotations):
        raise UsageError("--test_data_root and --test_annotations go together")


def configs_from_args(a: argparse.Namespace) -> tuple[DataConfig, ModelConfig, TrainConfig, LossWeights]:
    """Namespace -> (DataConfig, ModelConfig, TrainConfig, LossWeights): each flag sets the field of its name."""
    _check(a)
    if a.stage == 3 and not a.resume:
        print("note: stage 3 fine-tunes a stage-2 model; without --resume it starts from scratch", file=sys.stderr)
    ns = vars(a)
    kw = {name: {f.name: ns[f.name] for f in fields(cls) if f.name in ns and f.name not in SPECIAL}
          for name, cls in CONFIGS.items()}
    data = DataConfig(**kw["data"], augment=AugmentConfig() if a.augment else AugmentConfig.off())
    weights = stage_weights(a.stage, **{k: ns[f"{k}_weight"] for k in LOSS_COMPONENTS})
    return data, ModelConfig(**kw["model"]), TrainConfig(**kw["train"]), weights


def _fmt(v) -> str:
    """Short like the guide's flags (0.001, 7.5), exact when that would round."""
    if isinstance(v, float):
        return f"{v:g}" if float(f"{v:g}") == v else repr(v)
    return str(v)


def train_command(data: DataConfig, model: ModelConfig, train: TrainConfig, weights: Optional[LossWeights] = None,
                  program: str = "refdet train", full: bool = False, include: Sequence[str] = (),
                  multiline: bool = True) -> str:
    """`refdet train ...` reproducing these configs: every flag of the parser whose value differs from its default
    (all of them with `full`; the guide's always-spelled ones and those named in `include`, e.g.
    ("weight_decay", "bbox_weight"), too). Parsing it back with `configs_from_args` gives the same configs.

    Not expressible as flags (and so not in the command): TrainConfig.warmup_epochs, grad_clip, the lr multipliers,
    ModelConfig fields without a flag, and augmentation strengths other than all-on / all-off (`--no-augment`).
    """
    cfgs = {"data": data, "model": model, "train": train}
    preset = stage_weights(train.stage)
    args: list[str] = []
    for act in train_parser()._actions:
        dest = act.dest
        if dest == "help":
            continue
        if dest == "augment":
            value, default = data.augment != AugmentConfig.off(), True
        elif dest.endswith("_weight"):
            k = dest[: -len("_weight")]
            if weights is None:
                continue
            value, default = weights[k], preset[k]
        else:
            value, default = getattr(cfgs[OWNER[dest]], dest), act.default
        spelled = full or dest in ALWAYS or dest in include
        if isinstance(act, argparse.BooleanOptionalAction):
            if spelled or value != default:
                args.append(f"--{dest}" if value else f"--no-{dest}")
        elif value is not None and (spelled or value != default):
            args.append(f"--{dest} {shlex.quote(_fmt(value))}")
    return (" \\\n    " if multiline else " ").join([program] + args)
