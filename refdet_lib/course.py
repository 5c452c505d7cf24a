"""Course plumbing: the environment check of notebook 00, the shared run folder and its checkpoints, and running
every notebook headless in order with papermill (`refdet course run`)."""
from __future__ import annotations

import json
import os
import platform
import warnings
from pathlib import Path
from typing import Optional

from ._env import PROJECT_ROOT

NOTEBOOKS = ["00_setup", "01_dataset_validation", "02_stage1_base_pretraining", "03_stage2_fewshot_meta_learning",
             "04_hyperparameter_tuning", "05_monitoring_training", "06_triplet_finetuning", "07_troubleshooting",
             "08_jetson_export"]
DATA_SAMPLES = PROJECT_ROOT / "data_samples"
DEFAULT_RUNS = PROJECT_ROOT / "runs" / "course"


def checks(yolo_weights: Optional[str] = None, dino_weights: Optional[str] = None, verbose: bool = True) -> dict:
    """What a learner needs to know before training: versions, device, offline settings, weights, sample data."""
    import cv2
    import timm
    import torch
    import ultralytics

    from . import __version__
    from .train.trainer import cpu_has_native_bf16

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


def small_configs(run_dir, data_root=None, annotations=None, test_data_root=None, test_annotations=None,
                  imgsz: int = 320, support_size: int = 112, epochs: int = 2, n_way: int = 2, n_query: int = 4,
                  n_episodes: int = 20, stage: int = 2, lr: float = 1e-3, num_workers: int = 0,
                  reference_encoder: str = "dinov2", appearance_match: bool = False, train_crop: int = 0,
                  validate: bool = True, hard_episodes: float = 0.0, **train_kw):
    """CPU-sized configs on data_samples/ (what the notebooks' parameter cells default to); extra keywords go to
    TrainConfig. reference_encoder='siamese' needs a support_size that is a multiple of 32 (e.g. 32 or 64).
    validate=False trains without a validation set (no val curves, no best_model.pt by val loss)."""
    from .config import DataConfig, ModelConfig, TrainConfig, stage_weights

    tr = DATA_SAMPLES / "train"
    te = DATA_SAMPLES / "test"
    data = DataConfig(data_root=str(data_root or tr / "samples"),
                      annotations=str(annotations or tr / "annotations" / "annotations.json"),
                      test_data_root=str(test_data_root or te / "samples") if validate else None,
                      test_annotations=str(test_annotations or te / "annotations" / "annotations.json")
                      if validate else None,
                      imgsz=imgsz, train_crop=train_crop, support_size=support_size, n_way=n_way, n_query=n_query,
                      n_episodes=n_episodes, hard_episodes=hard_episodes, num_workers=num_workers)
    model = ModelConfig(imgsz=imgsz, support_size=support_size, reference_encoder=reference_encoder,
                        appearance_match=appearance_match)
    train = TrainConfig(stage=stage, epochs=epochs, lr=lr, checkpoint_dir=str(run_dir), save_interval=1,
                        warmup_epochs=0.5, **train_kw)
    return data, model, train, stage_weights(stage)


LEARNING_RUN = PROJECT_ROOT / "runs" / "learning"


def run_learning_benchmark(out=LEARNING_RUN, *args: str) -> Path:
    """Run `benchmarks/learning.py --out OUT [args]` in a child process from the project root, its output streamed
    here (the committed recipe: about 27 minutes of training and 12 of scoring on 2 CPU cores; "--quick" for a
    minutes-long check of the pipeline). Returns OUT, which `learning_report` reads. Raises if it fails."""
    import subprocess
    import sys

    out = Path(out).resolve()
    cmd = [sys.executable, str(PROJECT_ROOT / "benchmarks" / "learning.py"), "--out", str(out), *args]
    print("$", " ".join(cmd[1:]), flush=True)
    subprocess.run(cmd, cwd=PROJECT_ROOT, check=True)
    return out


def learning_report(out=LEARNING_RUN, verbose: bool = True) -> Optional[dict]:
    """What `python benchmarks/learning.py` measured, read from its run folder: {"table": DataFrame of mAP@0.5, P, R,
    ST-IoU for RefDet on the novel objects, the template-matching baseline and RefDet on its training objects;
    "settings": recipe and training time; "examples": example-frames image or None}. None when it has not run."""
    import pandas as pd

    p = Path(out) / "learning.json"
    if not p.exists():
        if verbose:
            print(f"no learning benchmark in {out}: run `python benchmarks/learning.py --out {out}` from the project "
                  "root (40-90 minutes on 2 CPU cores, depending on the CPU)")
        return None
    r = json.loads(p.read_text())
    rows = {"RefDet, novel objects": r["refdet"], "template-matching baseline": r["baseline"],
            "RefDet, its training objects": r["refdet_seen_objects"]}
    if "more_novel" in r:  # the larger generated novel set, scored beside data_samples/test
        rows |= {"RefDet, more novel videos": r["more_novel"]["refdet"],
                 "baseline, more novel videos": r["more_novel"]["baseline"]}
    table = pd.DataFrame(rows).T
    table = table.rename(columns={"map50": "mAP@0.5", "map50_videos": "mAP@0.5 per video", "st_iou": "ST-IoU"})
    ex = Path(out) / "novel_eval" / "examples.png"
    settings = {k: r[k] for k in ("reference_encoder", "appearance_match", "train_set", "train_minutes", "recipe")
                if k in r}
    return {"table": table, "settings": settings, "examples": ex if ex.exists() else None}


def ensure_checkpoint(run_dir=DEFAULT_RUNS / "stage2", name: str = "best_model.pt", verbose: bool = True,
                      **small_kw) -> Path:
    """The stage-2 checkpoint a later notebook needs: found in the shared run folder, else trained (small) now."""
    from .train.run import run_training

    p = Path(run_dir) / name
    if p.exists():
        if verbose:
            print(f"using {p}")
        return p
    if verbose:
        print(f"{p} not found: training a small stage-2 model now ({small_kw or 'default small settings'})")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_training(*small_configs(run_dir, **small_kw), verbose=verbose)
    return p


def run_course(out_dir=None, notebooks: Optional[list[str]] = None, parameters: Optional[dict] = None,
               kernel: str = "python3", timeout: int = 3600) -> list[Path]:
    """Execute the notebooks in order with papermill; executed copies go to `out_dir` (default runs/course/executed)."""
    import papermill as pm

    out = Path(out_dir or DEFAULT_RUNS / "executed")
    out.mkdir(parents=True, exist_ok=True)
    done = []
    for name in notebooks or NOTEBOOKS:
        src = PROJECT_ROOT / "notebooks" / f"{name}.ipynb"
        if not src.exists():
            raise FileNotFoundError(f"notebook not found: {src}")
        print(f"--- {name}", flush=True)
        dst = out / f"{name}.ipynb"
        pm.execute_notebook(str(src), str(dst), parameters=parameters or {}, kernel_name=kernel,
                            cwd=str(src.parent), progress_bar=False, execution_timeout=timeout)
        done.append(dst)
    return done


def cli_course(a) -> int:
    params = {}
    for kv in a.param or []:
        k, _, v = kv.partition("=")
        try:
            import ast
            params[k] = ast.literal_eval(v)
        except (ValueError, SyntaxError):
            params[k] = v
    nbs = None
    if a.only:
        nbs = [n for n in NOTEBOOKS if any(n.startswith(o) for o in a.only.split(","))]
    paths = run_course(a.out, nbs, params)
    print(f"executed {len(paths)} notebook(s) into {Path(paths[0]).parent if paths else a.out}")
    return 0
