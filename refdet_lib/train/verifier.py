"""Train the candidate verifier beside a trained detector, calibrate the pair on training videos, save them as one.

    detector checkpoint --(mine its false positives on training frames)--> hard negatives
    training videos + a bank of generated identities + fresh ones per batch --> CropBatches (data/crops.py)
    CropVerifier <- Trainer (SupCon + batch-hard triplet; progress bar, history, atomic checkpoints, exact resume)
    detector + verifier --calibrate on training videos (eval/calibration.py)--> <checkpoint_dir>/refdet.pt

refdet.pt is an ordinary RefDet checkpoint whose model carries its verifier and whose `decision` is calibrated:
`refdet evaluate / predict / export` use them with no extra flag.
"""
from __future__ import annotations

import dataclasses
import logging
import time
import warnings
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from ..config import CALIB_FRAMES, CALIB_VIDEOS, DataConfig, TrainConfig, VerifierConfig
from ..data import RefDetDataset, make_loader
from ..data.annotations import list_reference_images
from ..data.crops import CropBatches, GeneratedBank
from ..losses.verifier import VerifierCriterion
from ..model.artifact import Artifact
from ..model.loading import load_model, with_verifier
from ..model.refdet import CANDIDATE_CONF
from ..model.verifier import Decision, build_verifier
from ..ops.boxes import best_iou
from ..ops.images import crop_patches, read_rgb
from ..runtime import select_device, usable_workers
from .trainer import Trainer

log = logging.getLogger(__name__)


def mine_false_positives(model, ds: RefDetDataset, size: int, context: float, per_video: int = 6,
                         per_frame: int = 3, max_iou: float = 0.1) -> np.ndarray:
    """The detector's own confident mistakes on training frames (its top candidates that miss the object), as
    crops: the hardest negatives a verifier meets. (N, size, size, 3) uint8."""
    out = []
    try:
        for v in ds.classes:
            model.set_references([read_rgb(p) for p in list_reference_images(ds.data_root / v)[:3]])
            idx = ds.indices_by_video()[v]
            for i in [idx[int(k)] for k in np.linspace(0, len(idx) - 1, min(per_video, len(idx)))]:
                it = ds[i]
                r = model.predict([it["query_frame"]], conf=CANDIDATE_CONF, max_det=per_frame * 3,
                                  decision=Decision())[0]  # the detector's own ranking
                if not len(r["boxes"]):
                    continue
                miss = r["boxes"][best_iou(r["boxes"], it["bboxes"]) < max_iou][:per_frame]
                if len(miss):
                    out.append(crop_patches(it["query_frame"], miss, size, context))
    finally:
        model.clear_references()
    return np.concatenate(out) if out else np.zeros((0, size, size, 3), np.uint8)


def train_verifier(detector: str | Path, data: DataConfig, vcfg: Optional[VerifierConfig] = None,
                   train: Optional[TrainConfig] = None, n_batches: int = 60, n_ids: int = 16, bank: int = 200,
                   n_fresh: int = 2, style: str = "realistic", calib_videos: int = CALIB_VIDEOS,
                   calib_frames: int = CALIB_FRAMES,
                   verbose: bool = True, callbacks: Optional[list] = None) -> Path:
    """Train a verifier for the detector checkpoint `detector` on `data`'s training videos (see the module
    docstring); returns the path of refdet.pt, the detector + verifier + calibrated decision."""
    vcfg = vcfg or VerifierConfig()
    train = dataclasses.replace(train or TrainConfig(epochs=8, lr=2e-3), channels_last=False, stage=2)
    device = select_device(train.device)
    torch.manual_seed(train.seed)
    run = Path(train.checkpoint_dir)
    det = load_model(detector, device)
    ds = RefDetDataset(data.data_root, data.annotations, mode="train", frame_size=None, cache_dir=data.cache_dir,
                       negatives_per_video=data.negatives_per_video, verbose=verbose)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        verifier = build_verifier(vcfg).to(device)
    if any(p.requires_grad for p in verifier.parameters()):  # a frozen kind (mobilenetv2) needs no training
        t0 = time.time()
        negatives = mine_false_positives(det, ds, vcfg.crop_size, vcfg.context)
        gen = GeneratedBank.build(bank, vcfg.crop_size, vcfg.context, style, train.seed) if bank else None
        if verbose:
            log.info(f"verifier data: {len(ds.classes)} training videos, {len(gen or [])} generated identities, "
                  f"{n_fresh} fresh per batch, {len(negatives)} hard negatives mined from the detector "
                  f"({time.time() - t0:.0f} s)")
        batches = CropBatches(ds, n_batches, n_ids, 2, 2, vcfg.crop_size, vcfg.context, gen, n_fresh, negatives,
                              style=style, seed=train.seed)
        trainer = Trainer(verifier, VerifierCriterion().to(device), make_loader(batches, usable_workers(
            data.num_workers)), train, configs={"verifier": vcfg, "data": data}, verbose=verbose,
                          callbacks=callbacks)
        if train.resume:
            trainer.resume(train.resume)
        trainer.fit()
        verifier = trainer.raw_model
    model = with_verifier(detector, verifier, device)
    from ..eval.calibration import calibrate

    dec = calibrate(model, data.data_root, data.annotations, sorted(ds.classes)[:calib_videos], calib_frames)
    if verbose:
        log.info(f"calibrated on {min(calib_videos, len(ds.classes))} training videos: {dec.formula()}; threshold "
              f"{dec.threshold:.2f} (tracked), {dec.frame_threshold:.2f} (frames alone)")
    return save_refdet(model, detector, run / "refdet.pt")


def save_refdet(model, base: str | Path, path: str | Path) -> Path:
    """A RefDet checkpoint of `model` (its verifier and decision included) on top of `base`'s record: its training
    epochs, history, run configs and loss weights (model/artifact.py)."""
    b = Artifact.load(base)
    record = {k: b.record[k] for k in ("config", "loss_weights") if k in b.record}
    return Artifact.from_model(model, stage=b.stage, epoch=b.epoch, history=b.history, record=record).save(path)
