"""The training loop for stages 1, 2 and 3.

One `Trainer` serves all three stages; what differs is data (stage 1: every frame labelled with its base class;
stages 2/3: episodes), the loss weights (`STAGE_PRESETS`) and, for stage 3, the checkpoint it starts from.

What the loop guarantees:
- layer-wise learning rates (reference encoder x0.1, backbone x1, fusion x2, head x2), linear warm-up then cosine;
- AMP with GradScaler on CUDA (`mixed_precision`); on the CPU bf16 autocast when asked and the CPU computes bf16
  natively (AMX or AVX512-BF16), else float32 (emulated bf16 is ~10x slower); either way said once (precision.py);
- gradient accumulation and clipping; a guard that skips (and counts) steps whose loss or gradients are not finite;
- `history.csv`, `training.log`, `checkpoint_epoch_N.pt`, `last.pt`, `best_model.pt`, `config.json` in the run
  folder, all written atomically; Ctrl-C keeps `last.pt` (the last finished epoch) and saves `interrupted.pt`;
- resume restores model, optimizer, scheduler, scaler, RNG states and epoch: 2 epochs + resume to 4 gives the same
  weights as 4 unbroken epochs on the CPU (best_model.pt and checkpoint_epoch_N.pt hold the model only);
- SIGTERM is handled as Ctrl-C; temporary files of a write killed mid-way are removed at the next start.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import sys
import time
from pathlib import Path
from typing import Optional

import torch
import torch.nn as nn
from tqdm.auto import tqdm

from ..config import LOSS_COMPONENTS as COMPONENTS
from ..config import TrainConfig, to_dict
from ..data.sampling import interleave
from ..log import bars
from ..model.artifact import TRAINING_KEYS
from ..runtime import batch_to, use_channels_last
from .callbacks import Callback
from .checkpoint import atomic_save, atomic_write_text
from .history import History
from .optim import param_groups, warmup_cosine
from .precision import Precision
from .run_state import resume_run, run_state
from .signals import StopSignal
from .step import batch_loss

log = logging.getLogger(__name__)




def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Trainer:
    """Runs epochs of a model + criterion over episode (and triplet) loaders, writing the run folder.

    Args:
        model: a RefDet (or DDP-wrapped RefDet).
        criterion: `refdet_lib.losses.Criterion`; its `.weights` is the live LossWeights mapping.
        train_loader / val_loader: DataLoaders of collated batches (docs/contracts.md); val optional.
        triplet_loader: DataLoader of triplet batches, used when `cfg.use_triplet`.
        configs: dict of the DataConfig / ModelConfig / LossWeights used, saved with every checkpoint.
    """

    def __init__(self, model, criterion, train_loader, cfg: TrainConfig, val_loader=None, triplet_loader=None,
                 configs: Optional[dict] = None, callbacks: Optional[list[Callback]] = None, rank: int = 0,
                 world_size: int = 1, verbose: bool = True):
        # its own copy: a time budget or a resume re-plans the epochs (replan), never the caller's config
        self.model, self.criterion, self.cfg = model, criterion, dataclasses.replace(cfg)
        self.train_loader, self.val_loader, self.triplet_loader = train_loader, val_loader, triplet_loader
        self.configs = configs or {}
        self.callbacks = list(callbacks or [])
        self.rank, self.world_size = rank, world_size
        self.is_main = rank == 0
        self.verbose = verbose and self.is_main
        self.stop = StopSignal()  # SIGTERM as Ctrl-C, acted on between steps (signals.py)
        self.device = next(model.parameters()).device
        if cfg.channels_last and not isinstance(model, nn.parallel.DistributedDataParallel):
            use_channels_last(model)  # (run_training converts before wrapping in DDP)
        self.run_dir = Path(cfg.checkpoint_dir)
        # the loss terms are the criterion's own (Criterion: the guide's six; the crop verifier's: supcon, triplet)
        self.components = tuple(getattr(criterion, "components", COMPONENTS))
        self.history = History(self.run_dir, components=self.components)
        self.epoch = 0                      # last finished epoch
        self.best_val = float("inf")
        self.skipped_steps = 0
        self.stop_training = False          # a callback may set it (early stopping)
        self.loss_fn = criterion            # the guide's recipes say `self.loss_fn.weights[...]`

        self.optimizer = torch.optim.AdamW(param_groups(self.raw_model, cfg), lr=cfg.lr,
                                           weight_decay=cfg.weight_decay)
        self.steps_per_epoch = max(1, math.ceil(self.batches_per_epoch / cfg.gradient_accumulation))
        total = self.steps_per_epoch * cfg.epochs
        warm = int(round(self.steps_per_epoch * cfg.warmup_epochs))
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, warmup_cosine(total, min(warm, total)))

        self.precision = Precision(self.device, cfg.mixed_precision, self.say)  # autocast dtype, scaler (precision.py)

    # ------------------------------------------------------------------ helpers
    @property
    def n_triplet_batches(self) -> int:
        """Triplet batches per epoch: the triplet loader's length when mixed batches are on (else 0)."""
        return len(self.triplet_loader) if self.cfg.use_triplet and self.triplet_loader is not None else 0

    @property
    def batches_per_epoch(self) -> int:
        """Every episode of the train loader plus the triplet batches: none decoded and thrown away."""
        return len(self.train_loader) + self.n_triplet_batches

    @property
    def raw_model(self):
        return getattr(self.model, "module", self.model)

    def say(self, msg: str) -> None:
        if self.verbose:
            log.info(msg)

    @property
    def amp_dtype(self):
        return self.precision.amp_dtype

    @property
    def scaler(self):
        return self.precision.scaler

    def _autocast(self):
        return self.precision.autocast()

    def _cb(self, hook: str, *args):
        for cb in self.callbacks:
            getattr(cb, hook)(self, *args)

    def _reduce(self, d: dict) -> dict:
        if self.world_size == 1:
            return d
        keys = sorted(d)
        t = torch.tensor([float(d[k]) for k in keys], device=self.device)
        torch.distributed.all_reduce(t)
        return {k: v / self.world_size for k, v in zip(keys, t.tolist())}

    # ------------------------------------------------------------------ one batch
    def episode_loss(self, batch: dict):
        return batch_loss(self.model, self.criterion, batch, self.cfg.stage, self.device, self.cfg.channels_last,
                          self._autocast())

    def triplet_loss(self, batch: dict):
        """Dedicated triplet batch: anchor = reference photo, positive = the object cut from a frame, negative =
        background or another object, all embedded by the reference encoder."""
        batch = batch_to(batch, self.device)
        m = self.raw_model
        with self._autocast():
            # (T, 3, R, R) -> (T, 1, 3, R, R): each image is its own one-shot "object"; ref_emb (T, 1, D)
            emb = [m.encode_references(batch[k][:, None])["ref_emb"][:, 0] for k in ("anchor", "positive",
                                                                                       "negative")]
        return self.criterion.triplet_from_embeddings(*[e.float() for e in emb])  # (total, weighted components)

    def _backward_step(self, loss: torch.Tensor, do_step: bool) -> bool:
        """Backward (scaled, accumulated) and, on the last micro-batch, clip + step. False if the step was skipped."""
        return self.precision.step(loss, self.optimizer, self.scheduler, self.raw_model.parameters(),
                                   self.cfg.gradient_accumulation, self.cfg.grad_clip, do_step)

    # ------------------------------------------------------------------ epochs
    def _set_epoch(self, epoch: int) -> None:
        for ld in (self.train_loader, self.triplet_loader):
            if ld is not None and hasattr(ld.dataset, "set_epoch"):
                ld.dataset.set_epoch(epoch)

    def train_epoch(self, epoch: int) -> dict:
        self.model.train()
        self.criterion.train()
        self._set_epoch(epoch)
        n_ep, n_tri = len(self.train_loader), self.n_triplet_batches
        n = n_ep + n_tri
        # which steps are triplet batches; episodes and triplets each come from their own loader, in order, so every
        # episode a worker decoded and augmented is trained on (a triplet step does not throw one away)
        kinds = interleave(n_ep, n_tri, self.cfg.seed, epoch)
        loaders = {"episode": iter(self.train_loader), "triplet": iter(self.triplet_loader) if n_tri else None}
        sums = {k: 0.0 for k in ("loss",) + self.components}
        counted, skipped, tri_steps = 0, 0, 0
        bar = tqdm(total=n, desc=f"Episode [{epoch}/{self.cfg.epochs}]", disable=not bars(self.verbose),
                   leave=True, file=sys.stdout, dynamic_ncols=True,
                   mininterval=0.5 if sys.stdout.isatty() else 30.0)  # logs and papermill: few redraws
        self.optimizer.zero_grad(set_to_none=True)
        for i, kind in enumerate(kinds):
            self.stop.check()
            batch = next(loaders[kind])
            if kind == "triplet":
                loss, comps = self.triplet_loss(batch)
                tri_steps += 1
            else:
                loss, comps = self.episode_loss(batch)
            loss = self._inject(loss, epoch, i)
            do_step = (i + 1) % self.cfg.gradient_accumulation == 0 or i + 1 == n
            if not self._backward_step(loss, do_step):
                skipped += 1
                self.skipped_steps += 1
                self.say(f"  step {i + 1}: non-finite loss or gradients, step skipped "
                          f"({self.skipped_steps} so far)")
                continue
            counted += 1
            sums["loss"] += float(loss.detach())
            for k in self.components:
                sums[k] += float(comps[k])
            if self.verbose:
                bar.set_postfix_str(" | ".join([f"Loss: {sums['loss'] / counted:.4f}"] +
                                               [f"{k}: {sums[k] / counted:.4f}" for k in self.components
                                                if self.criterion.weights[k] > 0]), refresh=False)
            self._cb("on_step_end", i, comps)
            bar.update(1)
        bar.close()
        avg = {k: v / max(counted, 1) for k, v in sums.items()}
        avg = self._reduce(avg)
        avg.update(skipped=skipped, triplet_steps=tri_steps)
        return avg

    def _inject(self, loss, epoch, i):
        """Test hook: `trainer.inject_nonfinite = {(epoch, step), ...}` turns those losses into NaN."""
        bad = getattr(self, "inject_nonfinite", None)
        if bad and (epoch, i) in bad:
            return loss * float("nan")
        return loss

    @torch.no_grad()
    def validate(self) -> Optional[dict]:
        if self.val_loader is None:
            return None
        self.model.eval()
        self.criterion.eval()  # WIoU v3's running mean learns from training batches only
        sums = {k: 0.0 for k in ("loss",) + self.components}
        n = 0
        for batch in self.val_loader:
            self.stop.check()
            loss, comps = self.episode_loss(batch)
            if not torch.isfinite(loss):
                continue
            n += 1
            sums["loss"] += float(loss)
            for k in self.components:
                sums[k] += float(comps[k])
        if n == 0:  # every val batch was non-finite: say so, never report a perfect 0.0
            self.say("  ! validation: every batch gave a non-finite loss")
            return {k: float("nan") for k in sums}
        return self._reduce({k: v / n for k, v in sums.items()})

    # ------------------------------------------------------------------ checkpoints
    def state(self, epoch: int) -> dict:
        """The run at `epoch`, training state included (run_state.py: the schema)."""
        return run_state(self, epoch)

    def save(self, name: str, epoch: int, resumable: bool = True) -> Optional[Path]:
        """resumable=False (best_model.pt, checkpoint_epoch_N.pt): the model and its record without optimizer,
        scheduler, scaler and RNG states, a fraction of the size; last.pt and interrupted.pt keep them all."""
        if not self.is_main:
            return None
        st = self.state(epoch)
        if not resumable:
            st = {k: v for k, v in st.items() if k not in TRAINING_KEYS}
        return atomic_save(st, self.run_dir / name)

    def _clean_stale_tmp(self) -> None:
        """Temporary checkpoint files of a process that died mid-write (kill -9): removed at the next start."""
        for tmp in self.run_dir.glob(".*.tmp*"):
            pid = tmp.name.rpartition(".tmp")[2].split(".")[0]
            if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
                tmp.unlink(missing_ok=True)
                self.say(f"removed {tmp.name}, left by an interrupted checkpoint write")

    def resume(self, path: str | Path, ckpt: dict | None = None) -> None:
        """Continue from a checkpoint: exactly, model only, or as a fine-tune (run_state.resume_run says which);
        `ckpt`: the file already read."""
        resume_run(self, path, ckpt)

    def replan(self, epochs: int) -> None:
        """End the run after `epochs` epochs: the warm-up + cosine schedule is laid over the new length from the
        current step on (a resumed, longer run; a time budget that measured the epochs it can afford)."""
        self.cfg.epochs = int(epochs)
        total = self.steps_per_epoch * self.cfg.epochs
        f = warmup_cosine(total, min(int(round(self.steps_per_epoch * self.cfg.warmup_epochs)), total))
        self.scheduler.lr_lambdas = [f] * len(self.optimizer.param_groups)

    # ------------------------------------------------------------------ the run
    def fit(self) -> History:
        with self.stop:
            return self._fit()

    def _fit(self) -> History:
        if self.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self._clean_stale_tmp()
            cfg = {**{k: to_dict(v) for k, v in self.configs.items()}, "train": to_dict(self.cfg)}
            atomic_write_text(json.dumps(cfg, indent=2, default=str), self.run_dir / "config.json")
        self._cb("on_train_begin")
        epoch = self.epoch
        try:
            for epoch in range(self.epoch + 1, self.cfg.epochs + 1):
                self.stop.check()
                if self.stop_training or epoch > self.cfg.epochs:  # a callback stopped or shortened the run
                    break
                self._cb("on_epoch_begin", epoch)
                self.say(f"\n{'=' * 60}\nEpoch {epoch}/{self.cfg.epochs}\n{'=' * 60}")
                t0 = time.time()
                tr = self.train_epoch(epoch)
                va = self.validate()
                secs = time.time() - t0
                row = {"epoch": epoch, "train_loss": tr["loss"], **{f"train_{k}": tr[k] for k in self.components},
                       "val_loss": va["loss"] if va else None,
                       **{f"val_{k}": (va[k] if va else None) for k in self.components},
                       "lr": self.optimizer.param_groups[0]["lr"] / self._mult0(), "seconds": round(secs, 3),
                       "skipped_steps": tr["skipped"], "triplet_steps": tr["triplet_steps"]}
                key = row["val_loss"] if va else row["train_loss"]
                improved = key < self.best_val
                self.epoch = epoch
                lines = [f"Epoch {epoch} Summary ({secs:.2f}s):", f"  Train Loss: {tr['loss']:.4f}"]
                if va:
                    lines.append(f"  Val Loss: {va['loss']:.4f}")
                if improved:
                    self.best_val = key
                    lines.append("  ✓ New best model!")
                if tr["skipped"]:
                    lines.append(f"  ! {tr['skipped']} step(s) skipped: non-finite loss or gradients")
                if self.is_main:
                    self.history.append(row)
                    save_epoch = epoch % self.cfg.save_interval == 0 or epoch == self.cfg.epochs or epoch == 1
                    if save_epoch:
                        p = self.save(f"checkpoint_epoch_{epoch}.pt", epoch, resumable=False)
                        lines.append(f"Saved checkpoint: {p}")
                    if improved:
                        p = self.save("best_model.pt", epoch, resumable=False)
                        lines.append(f"Saved best model: {p}")
                    self.save("last.pt", epoch)
                    self.history.log("\n".join(lines))
                self.say("\n".join(lines))
                self._cb("on_epoch_end", epoch, row)
        except KeyboardInterrupt:
            if self.is_main:
                p = self.save("interrupted.pt", self.epoch)
                self.say(f"\nInterrupted during epoch {epoch}. last.pt holds epoch {self.epoch} (resume with "
                          f"--resume {self.run_dir / 'last.pt'}); the partial epoch's weights are in {p}.")
            raise
        finally:
            self._cb("on_train_end")
        return self.history

    def _mult0(self) -> float:
        g = self.optimizer.param_groups[0]
        return g["initial_lr"] / self.cfg.lr if self.cfg.lr else 1.0
