"""Course set-up: the environment check of notebook 00 and the checkpoints later lessons share."""
from __future__ import annotations

import os
import platform
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from .._env import PROJECT_ROOT
from ..errors import InputError
from ..train.recipes import DATA_SAMPLES, small_configs

if TYPE_CHECKING:
    import torch

DEFAULT_RUNS = PROJECT_ROOT / "runs" / "course"


def checks(yolo_weights: Optional[str] = None, dino_weights: Optional[str] = None, verbose: bool = True) -> dict:
    """What a learner needs to know before training: versions, device, offline settings, weights, sample data."""
    import cv2
    import timm
    import torch
    import ultralytics

    from .. import __version__
    from ..runtime import cpu_has_native_bf16

    cuda = torch.cuda.is_available()
    res = {
        "python": platform.python_version(), "refdet_lib": __version__, "torch": torch.__version__,
        "ultralytics": ultralytics.__version__, "timm": timm.__version__, "opencv": cv2.__version__,
        "device": torch.cuda.get_device_name(0) if cuda else f"CPU ({os.cpu_count()} cores)",
        "cuda": cuda, "amp": "float16 + GradScaler" if cuda else
        "bfloat16 autocast (native on this CPU)" if cpu_has_native_bf16() else
        "float32 (this CPU has no native bfloat16: --mixed_precision stays float32)",
        "offline": {k: os.environ.get(k) for k in ("YOLO_OFFLINE", "YOLO_AUTOINSTALL", "NO_ALBUMENTATIONS_UPDATE",
                                                   "HF_HUB_OFFLINE", "YOLO_CONFIG_DIR")},
        "yolo_weights": _weights_status(yolo_weights, "YOLOv8n backbone"),
        "dino_weights": _weights_status(dino_weights, "DINOv2 reference encoder"),
        "data_samples": (DATA_SAMPLES / "train" / "annotations" / "annotations.json").exists(),
    }
    if verbose:
        w = 16
        for k in ("python", "refdet_lib", "torch", "ultralytics", "timm", "opencv", "device", "amp"):
            print(f"{k:<{w}}{res[k]}")
        print(f"{'offline':<{w}}" + ", ".join(f"{k}={v}" for k, v in res["offline"].items()))
        print(f"{'yolo_weights':<{w}}{res['yolo_weights']}")
        print(f"{'dino_weights':<{w}}{res['dino_weights']}")
        print(f"{'data_samples':<{w}}{'found' if res['data_samples'] else 'MISSING: run refdet synth'}")
    return res


def _weights_status(path: Optional[str], what: str) -> str:
    if not path:
        return f"none given: {what} starts from random initialisation (fine for the CPU lessons)"
    p = Path(path)
    return f"found {p} ({p.stat().st_size / 1e6:.1f} MB)" if p.exists() else f"NOT FOUND: {p}"


START_FROM = ("course", "scratch")


def start_weights(start_from: str = "course") -> Optional[Path]:
    """Where a lesson's training starts: "course" -> the course weights (models/refdet_course.pt, checked: the
    guide's "start from pretrained weights"), "scratch" -> None (random initialisation)."""
    from ..model.loading import course_weights

    if start_from not in START_FROM:
        raise InputError(f"start_from={start_from!r}: choose 'course' (the course weights) or 'scratch'")
    return course_weights() if start_from == "course" else None


def best_test_video() -> str:
    """The data_samples/test video the course weights find best (highest ST-IoU on their card, per video): the
    lessons open the model and show predictions there first, where every picture shows a model that works."""
    import json

    from ..model.loading import COURSE_WEIGHTS, manifest_path

    per_video = json.loads(manifest_path(COURSE_WEIGHTS).read_text())["per_video"]
    return max(per_video, key=lambda v: per_video[v]["st_iou"])


def start_config(start_from: str = "course", imgsz: Optional[int] = None, lr: Optional[float] = None,
                 train_crop: Optional[int] = None, verbose: bool = True) -> dict:
    """A lesson's starting point and the sizes that go with it, for the parameters left None:
    from the course weights, their own training scale (imgsz 640 on 320-pixel windows) and the guide's fine-tuning
    learning rate 1e-4; from scratch, the CPU lesson sizes (imgsz 320, whole frames) and 1e-3 (nothing to protect,
    few epochs to learn in). -> {"start_from", "weights" (Path or None), "imgsz", "lr", "train_crop"}"""
    from ..train.recipes import LEARNING

    w = start_weights(start_from)
    d = LEARNING["detector"]
    out = {"start_from": start_from, "weights": w,
           "imgsz": imgsz or (d["imgsz"] if w else 320), "lr": lr or (1e-4 if w else 1e-3),
           "train_crop": train_crop if train_crop is not None else (d["train_crop"] if w else 0)}
    if verbose:
        print(f"start: {'the course weights ' + str(w) if w else 'random initialisation'}; imgsz {out['imgsz']}"
              f"{', trained on ' + str(out['train_crop']) + '-pixel windows' if out['train_crop'] else ''}, "
              f"lr {out['lr']:g}")
    return out


def ensure_checkpoint(run_dir=DEFAULT_RUNS / "stage2", name: str = "best_model.pt", verbose: bool = True,
                      start_from: str = "course", train_dir=None, **small_kw) -> Path:
    """The stage-2 model a later notebook needs: notebook 03's (found in the shared run folder `run_dir`), else the
    course weights (start_from="course"), else a small model trained from scratch now.

    train_dir: where that small model is trained (default `run_dir`). A lesson passes a folder of its own, so that
    the shared run folder is only ever read: a model trained because notebook 03 was skipped stays that lesson's, and
    is never taken for notebook 03's by another lesson. A model already in train_dir (an earlier run of the same
    lesson) is used again rather than trained twice."""
    from ..train.run import run_training

    p = Path(run_dir) / name
    if p.exists():
        if verbose:
            print(f"using {p}")
        return p
    w = start_weights(start_from)
    if w is not None:
        if verbose:
            print(f"{p} not found (notebook 03 makes it): using the course weights {w}")
        return w
    own_dir = Path(train_dir) if train_dir is not None else Path(run_dir)
    q = own_dir / name
    if q.exists():
        if verbose:
            print(f"{p} not found (notebook 03 makes it): using {q}, trained from scratch by an earlier run")
        return q
    if verbose:
        print(f"{p} not found: training a small stage-2 model from scratch now in {own_dir} "
              f"({small_kw or 'default settings'})")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_training(*small_configs(own_dir, **small_kw), verbose=verbose)
    return q


def reference_size(ckpt) -> int:
    """The reference-photo size a checkpoint's model was built for (episodes for it must use this support_size)."""
    from ..model.artifact import Artifact

    return Artifact.load(ckpt).model.support_size


@dataclass
class Lesson:
    """What `lesson_setup` resolves for one of lessons 04-08, as one object the notebook keeps in a variable of its
    own (`lesson = course.lesson_setup(globals(), lesson="05")`) and names at every use: `lesson.runs`,
    `lesson.ckpt`, `lesson.imgsz`. No hidden names: nothing is written into the notebook's namespace, so a reader
    finds where every name comes from, and the parameters cell keeps its own values (`imgsz = None` stays None;
    the size the lesson runs at is `lesson.imgsz`).

        dev          the torch device (`select_device(device)`)
        runs         Path(run_dir), the course's shared run folder (the lesson's runs go in subfolders of it)
        imgsz, lr, train_crop   resolved for the start (`start_config`: the parameter, else the default of the
                     course weights or of scratch)
        start        start_config's dict: "start_from", "weights" (the course weights' Path, or None), "imgsz",
                     "lr", "train_crop"
        paths        dict(data_root, annotations, test_data_root, test_annotations), for small_configs
        ckpt         the stage-2 model (`ensure_checkpoint`: notebook 03's in runs/stage2, else the course weights,
                     else a small one trained now in the lesson's own runs/nb<lesson>_stage2); None with stage2=False
        support_size the reference size of that model (the parameter where there is none, or with ckpt_sizes=False)
        size         dict(imgsz, support_size, n_way, n_query, n_episodes, num_workers, train_crop), for small_configs
    """

    dev: torch.device
    runs: Path
    imgsz: int
    lr: float
    train_crop: int
    start: dict
    paths: dict
    ckpt: Optional[Path]
    support_size: int
    size: dict


def lesson_setup(params: dict, lesson: str, stage2: bool = True, start_from: Optional[str] = None,
                 ckpt_sizes: bool = True, verbose: bool = True) -> Lesson:
    """The set-up lessons 04-08 share, from their parameters cell (pass `globals()`; it is only read): returns a
    `Lesson` (its fields are listed there), which the notebook keeps and names, `lesson.runs`, `lesson.ckpt`.

    lesson: the lesson's own name ("04" ... "08"). Where no stage-2 model can be found (notebook 03 skipped, and no
    course weights to fall back on: start_from="scratch"), the small model trained now goes in that lesson's own
    folder, runs/nb<lesson>_stage2, never in the shared runs/stage2 that notebook 03 writes: skipping a notebook
    never changes what another one uses.
    start_from: overrides the parameter (lessons about a run's own curves and logs use "scratch"); ckpt_sizes=False
    keeps the parameter's support_size (a lesson that builds its own fresh model beside the stage-2 run);
    stage2=False finds no stage-2 model at all (ckpt None, nothing trained)."""
    from ..runtime import select_device

    if not isinstance(lesson, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", lesson):
        raise InputError(f"lesson={lesson!r}: give the lesson's own name, e.g. lesson=\"05\" (letters, digits, _ or -)")
    p = dict(params)
    sf = start_from or p.get("start_from", "course")
    start = start_config(sf, p.get("imgsz"), p.get("lr"), p.get("train_crop"), verbose=verbose)
    runs = Path(p.get("run_dir", DEFAULT_RUNS))
    paths = {k: p[k] for k in ("data_root", "annotations", "test_data_root", "test_annotations")}
    support, ckpt = p.get("support_size", 112), None
    if stage2:
        ckpt = ensure_checkpoint(runs / "stage2", start_from=sf, train_dir=runs / f"nb{lesson}_stage2",
                                 imgsz=start["imgsz"], support_size=support, epochs=p.get("epochs", 2),
                                 n_episodes=p.get("n_episodes", 8), n_query=p.get("n_query", 4),
                                 device=p.get("device", "auto"), verbose=verbose, **paths)
        if ckpt_sizes:
            support = reference_size(ckpt)
    size = {"imgsz": start["imgsz"], "support_size": support, "n_way": p.get("n_way", 2),
            "n_query": p.get("n_query", 4), "n_episodes": p.get("n_episodes", 8),
            "num_workers": p.get("num_workers", 0), "train_crop": start["train_crop"]}
    out = Lesson(dev=select_device(p.get("device", "auto")), runs=runs, imgsz=start["imgsz"], lr=start["lr"],
                 train_crop=start["train_crop"], start=start, paths=paths, ckpt=ckpt, support_size=support, size=size)
    if verbose:
        print(f"device: {out.dev}")
    return out
