"""Build everything a training run needs from the four configs, and run it (what `refdet train` calls); also the
multi-process set-up for `torchrun --nproc_per_node N -m refdet_lib.cli train ...`.

The caller's configs are never changed: a resumed run's architecture, stage 1's class count and the triplet weight
are settled on copies, so a notebook can reuse its config objects for the next run.
"""
from __future__ import annotations

import logging
import os
import time
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Optional

import torch

from ..config import DataConfig, LossConfig, LossWeights, ModelConfig, TrainConfig
from ..data import (
    Augmenter,
    EpisodeCollator,
    EpisodeDataset,
    EpisodeSampler,
    RefDetDataset,
    TripletDataset,
    TripletSampler,
    make_loader,
)
from ..data.sampling import split_batches
from ..errors import InputError
from ..model.loading import load_checkpoint, model_config
from ..runtime import available_cpus, select_device, usable_workers, use_channels_last
from .callbacks import Callback
from .history import append_experiment
from .run_folder import claim_run_folder
from .trainer import Trainer

log = logging.getLogger(__name__)

# model fields that define tensor shapes: a resumed run keeps the checkpoint's
ARCH_FIELDS = ("yolo_scale", "dino_model", "support_size", "nc_base", "embed_dim", "reg_max", "head_mode",
               "num_ref_tokens", "reference_fusion", "reference_encoder",
               "appearance_match", "verifier", "backbone", "p2")


def init_distributed() -> tuple[int, int, int]:
    """(rank, local_rank, world_size) from torchrun's environment; gloo on the CPU, nccl on GPUs."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 0, 1
    if not torch.distributed.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        torch.distributed.init_process_group(backend=backend)
    return torch.distributed.get_rank(), int(os.environ.get("LOCAL_RANK", "0")), world


def seed_everything(seed: int) -> None:
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def yolo_yaml(data: DataConfig) -> Optional[Path]:
    """The data.yaml of a YOLO-format base set (stage 1), given as --annotations or found in --data_root."""
    from ..data.yolo import is_yolo_dataset

    if is_yolo_dataset(data.annotations):
        return Path(data.annotations)
    cand = Path(data.data_root) / "data.yaml"
    return cand if cand.exists() else None


def build_yolo_datasets(data: DataConfig, imgsz: int, train: TrainConfig, yaml_path: Path):
    from ..data.yolo import YoloBatches, YoloDetectionDataset

    ds = YoloDetectionDataset(yaml_path, "train")
    aug = Augmenter(data.augment)
    tr = YoloBatches(ds, data.batch_size, imgsz, train.seed, aug if aug.enabled else None)
    va = None
    if "val" in ds.cfg:
        vds = YoloDetectionDataset(yaml_path, "val")
        va = YoloBatches(vds, data.batch_size, imgsz, train.seed, None, shuffle=False)
    return ds, tr, va, None


def build_coco_datasets(data: DataConfig, imgsz: int, train: TrainConfig):
    """Stage 1 on a COCO json (images under --data_root). A COCO json has no val split: validation only when
    --test_annotations is a COCO json too, with the same categories (else its labels would mean other classes)."""
    from ..data.coco import CocoDetectionDataset, is_coco_json
    from ..data.yolo import YoloBatches

    ds = CocoDetectionDataset(data.annotations, data.data_root)
    aug = Augmenter(data.augment)
    tr = YoloBatches(ds, data.batch_size, imgsz, train.seed, aug if aug.enabled else None)
    va = None
    if data.test_annotations and is_coco_json(data.test_annotations):
        vds = CocoDetectionDataset(data.test_annotations, data.test_data_root)
        if vds.cat_ids != ds.cat_ids:
            raise InputError(f"{data.test_annotations}: category ids {vds.cat_ids} differ from the training "
                             f"json's {ds.cat_ids}")
        va = YoloBatches(vds, data.batch_size, imgsz, train.seed, None, shuffle=False)
    return ds, tr, va, None


def build_datasets(data: DataConfig, model: ModelConfig, train: TrainConfig, rank: int = 0, world: int = 1,
                   verbose: bool = True):
    """Train/val episode datasets (+ triplet dataset) for stages 1-3 on the guide's annotations format, at the
    model's input sizes (stage 1 also takes a YOLO-format base set: a data.yaml as --annotations or inside
    --data_root, or a COCO json as --annotations). With mixed batches, round(n_episodes * triplet_ratio) of the
    epoch's n_episodes batches are triplet batches and the rest episodes."""
    from ..data.coco import is_coco_json

    imgsz, support = model.imgsz, model.support_size
    if train.stage == 1 and is_coco_json(data.annotations):
        return build_coco_datasets(data, imgsz, train)
    yml = yolo_yaml(data) if train.stage == 1 else None
    if yml is not None:
        return build_yolo_datasets(data, imgsz, train, yml)
    kw = dict(cache_frames=data.cache_frames, cache_size=data.cache_size, frame_size=imgsz,
              cache_dir=data.cache_dir, n_shot=data.n_shot, verbose=verbose)
    ds = RefDetDataset(data.data_root, data.annotations, mode="train",
                       negatives_per_video=data.negatives_per_video, **kw)
    if data.n_way > len(ds.classes):
        raise InputError(f"--n_way {data.n_way} is larger than the number of videos in {data.data_root} "
                         f"({len(ds.classes)})")
    n_episodes, n_triplets = split_batches(data.n_episodes, train.triplet_ratio) if train.use_triplet \
        else (data.n_episodes, 0)
    aug = Augmenter(data.augment)
    col = EpisodeCollator(imgsz, support, data.n_shot, aug if aug.enabled else None, ds.class_to_idx,
                          crop=data.train_crop)
    sampler = EpisodeSampler(ds, data.n_way, data.n_query, n_episodes, seed=train.seed, neg_fraction=0.25,
                             rank=rank, world_size=world, hard_fraction=data.hard_episodes,
                             fixed=data.fixed_episodes)
    train_eps = EpisodeDataset(ds, sampler, col)
    val_eps = None
    if data.test_data_root:
        vds = RefDetDataset(data.test_data_root, data.test_annotations, mode="val", **kw)
        vcol = EpisodeCollator(imgsz, support, data.n_shot, None, vds.class_to_idx)
        n_val = max(4, data.n_episodes // 5)
        vs = EpisodeSampler(vds, min(data.n_way, len(vds.classes)), data.n_query, n_val, seed=12345, rank=rank,
                            world_size=world)
        val_eps = EpisodeDataset(vds, vs, vcol)
    tri = None
    if n_triplets:
        tri = TripletDataset(ds, TripletSampler(ds, train.triplet_batch_size, train.negative_strategy,
                                                n_batches=n_triplets, seed=train.seed),
                             support, aug if aug.enabled else None)
    return ds, train_eps, val_eps, tri


def run_training(data: DataConfig, model_cfg: ModelConfig, train: TrainConfig, weights: LossWeights,
                 loss_cfg: Optional[LossConfig] = None, callbacks: Optional[list[Callback]] = None,
                 verbose: bool = True) -> Trainer:
    """Train as `refdet train` does; returns the Trainer (its history, run folder, model, and in `trainer.configs`
    the configs it actually used). The arguments are not modified. The run folder is locked for the run, and one
    that holds another run is refused unless `train.resume` continues it or `train.exist_ok` (train/run_folder.py)."""
    with claim_run_folder(train.checkpoint_dir, train.resume, train.exist_ok,
                          main=int(os.environ.get("RANK", "0")) == 0):
        return _run_training(data, model_cfg, train, weights, loss_cfg, callbacks, verbose)


def _run_training(data: DataConfig, model_cfg: ModelConfig, train: TrainConfig, weights: LossWeights,
                  loss_cfg: Optional[LossConfig], callbacks: Optional[list[Callback]], verbose: bool) -> Trainer:
    from ..losses import Criterion
    from ..model import RefDet

    rank, local_rank, world = init_distributed()
    if world > 1 and torch.cuda.is_available():
        train = replace(train, device=f"cuda:{local_rank}")
    device = select_device(train.device)
    seed_everything(train.seed)
    loss_cfg = loss_cfg or LossConfig()
    data, model_cfg, weights = replace(data), replace(model_cfg), replace(weights)
    if train.use_triplet and weights.triplet == 0:
        weights.triplet = 0.2
        if rank == 0 and verbose:
            log.info("--use_triplet with triplet weight 0: using the guide's stage-3 triplet weight 0.2")

    ckpt = load_checkpoint(train.resume) if train.resume else None
    if ckpt is not None:  # the network's shape is the checkpoint's
        model_cfg = replace(model_cfg, **{f: getattr(model_config(ckpt, train.resume), f) for f in ARCH_FIELDS})

    ds, train_eps, val_eps, tri = build_datasets(data, model_cfg, train, rank, world, verbose=verbose and rank == 0)
    if train.stage == 1 and ckpt is None:
        model_cfg.nc_base = len(ds.classes)  # base classes = the training videos' objects
    with warnings.catch_warnings():
        if rank != 0:
            warnings.simplefilter("ignore")
        elif ckpt is not None:  # the checkpoint's weights replace the random init at once: not worth a warning
            warnings.filterwarnings("ignore", message=".*randomly initialised", category=UserWarning)
        model = RefDet(model_cfg).to(device)
    if train.stage == 1 and ckpt is None and model_cfg.nc_base != len(ds.classes):
        raise InputError("stage 1 needs nc_base == number of training classes")
    criterion = Criterion(weights, loss_cfg, reg_max=model_cfg.reg_max).to(device)
    net = model
    if world > 1:
        if train.channels_last:
            use_channels_last(model)  # before DDP registers the parameters' storage
        net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None, find_unused_parameters=True)
    nw = usable_workers(data.num_workers, world)
    if nw < data.num_workers and rank == 0 and verbose:
        log.info(f"num_workers {data.num_workers} -> {nw}: this machine gives {available_cpus()} CPU(s) to "
              f"{world} training process(es); more loader processes would only compete with the training step")
    trainer = Trainer(net, criterion, make_loader(train_eps, nw), train,
                      val_loader=make_loader(val_eps, min(nw, 2)) if val_eps is not None else None,
                      triplet_loader=make_loader(tri, min(nw, 2)) if tri is not None else None,
                      configs={"data": data, "model": model_cfg, "loss_weights": weights, "loss": loss_cfg},
                      callbacks=callbacks, rank=rank, world_size=world, verbose=verbose)
    if ckpt is not None:
        trainer.resume(train.resume, ckpt)  # the file read once, above
    t0 = time.time()
    trainer.fit()
    if rank == 0:
        best = trainer.history.best("val_loss" if val_eps is not None else "train_loss")
        append_experiment(Path(train.checkpoint_dir).parent, {
            "run": Path(train.checkpoint_dir).name, "stage": train.stage, "epochs": trainer.cfg.epochs, "lr": train.lr,
            "n_way": data.n_way, "n_query": data.n_query, "n_episodes": data.n_episodes, "imgsz": model_cfg.imgsz,
            "weights": " ".join(f"{k}={v:g}" for k, v in weights.items()),
            "best_epoch": best["epoch"] if best else None,
            "best_val_loss": best.get("val_loss") if best else None,
            "best_train_loss": best.get("train_loss") if best else None,
            "minutes": round((time.time() - t0) / 60, 2)})
        if verbose and ckpt is not None and ckpt.get("decision"):
            _say_refit_the_decision(trainer, data, train)
    if world > 1:
        torch.distributed.barrier()
    return trainer


def _say_refit_the_decision(trainer: Trainer, data: DataConfig, train: TrainConfig) -> None:
    """A decision (probabilities + thresholds) came with the starting weights, fitted for *those* weights on their
    training videos. Training moves the scores (a fine-tune from the course weights reports a box in 69-78 % of the
    training frames at the stored threshold where the course weights report one in 52 %: benchmarks/README.md), so
    the kept decision is only a starting point: say how to refit it on this run's own training videos."""
    dec = trainer.raw_model.decision
    run = Path(train.checkpoint_dir)
    ckpt = run / ("best_model.pt" if (run / "best_model.pt").exists() else "last.pt")
    trainer.say(f"the decision (threshold {dec.threshold:.2f} tracked, {dec.frame_threshold:.2f} frames alone) came "
                f"with {train.resume}, fitted for those weights; refit it for these on your training videos:\n"
                f"  refdet calibrate --checkpoint {ckpt} --data_root {data.data_root} --annotations "
                f"{data.annotations}")
