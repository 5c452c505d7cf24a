"""Ready-made configurations: the CPU-sized ones the notebooks, the demo and the learning benchmark start from.

They are plain `DataConfig / ModelConfig / TrainConfig / LossWeights` objects (the guide's defaults with CPU sizes),
so anything built here can be printed as a `refdet train ...` command (`refdet_lib.cli.train_command`).
"""
from __future__ import annotations

import logging
from typing import Optional

from .._env import PROJECT_ROOT
from ..config import CALIB_FRAMES, CALIB_VIDEOS, DataConfig, ModelConfig, TrainConfig, stage_weights

log = logging.getLogger(__name__)

DATA_SAMPLES = PROJECT_ROOT / "data_samples"
# "the 12 more novel videos": test-split identities, none of data_samples/test's (4 videos are too few to tell two
# models apart): more_novel_set below
MORE_NOVEL = dict(n_videos=12, n_frames=60, seed=3000)


def more_novel_set(folder, style: str = "realistic", sizes: Optional[dict] = None):
    """The 12 more novel videos (or `sizes`' count) in `style`, generated once into `folder` and reused after."""
    from ..data.synthetic import make_training_set

    return make_training_set(folder, avoid=[DATA_SAMPLES / "test"], split="test", style=style,
                             **(sizes or MORE_NOVEL))


# "the representative novel set", the headline of the learning benchmark, the card and the demo: test-split identities,
# none of data_samples/test's, each video's object size drawn from the real task's (data/synthetic/sizes.py), a seed
# of its own (data_samples 0 and 1000, the training sets 2000, the more novel videos 3000)
REPRESENTATIVE = dict(n_videos=16, n_frames=60, seed=4000)


def representative_set(folder, style: str = "realistic", sizes: Optional[dict] = None):
    """The representative novel set (or `sizes`' count, frames and seed) in `style`: novel objects whose sizes,
    relative to the frame, follow the real task's boxes (sizes.REAL_TASK_SIZES, one size drawn per video from the
    seed); generated once into `folder` and reused after (make_training_set's settings stamp, which records every
    video's size band, so a change of the distribution makes it anew)."""
    from ..data.synthetic import make_training_set
    from ..data.synthetic.sizes import video_bands

    s = dict(sizes or REPRESENTATIVE)
    return make_training_set(folder, avoid=[DATA_SAMPLES / "test"], split="test", style=style,
                             object_sizes=video_bands(s["n_videos"], s["seed"], 640), **s)


def representative_name(n_videos: int) -> str:
    """The set's name in the card, the manifest and the printed tables."""
    return f"representative novel ({n_videos} videos)"


def small_configs(run_dir, data_root=None, annotations=None, test_data_root=None, test_annotations=None,
                  imgsz: int = 320, support_size: int = 112, epochs: int = 2, n_way: int = 2, n_query: int = 4,
                  n_episodes: int = 20, stage: int = 2, lr: float = 1e-3, num_workers: int = 0,
                  reference_encoder: str = "dinov2", appearance_match: bool = False, train_crop: int = 0,
                  backbone: str = "yolov8", p2: bool = False,
                  validate: bool = True, hard_episodes: float = 0.0, start_from=None, **train_kw):
    """CPU-sized configs on data_samples/ (what the notebooks' parameter cells default to); extra keywords go to
    TrainConfig. reference_encoder='siamese' or 'mobilenetv2' needs a support_size that is a multiple of 32 (e.g.
    32 or 64); backbone='mobilenetv2' puts the ImageNet MobileNetV2 under the query (model/mobilenet_backbone.py), p2=True adds
    the stride-4 level to its neck, fusion and head.
    validate=False trains without a validation set (no val curves, no best_model.pt by val loss).
    start_from: a checkpoint to fine-tune (the course weights, as the guide starts from pretrained ones): the model
    is then its architecture (support_size, reference_encoder, appearance_match and the rest are its own; imgsz is
    the caller's) and training resumes from its weights."""
    tr, te = DATA_SAMPLES / "train", DATA_SAMPLES / "test"
    data = DataConfig(data_root=str(data_root or tr / "samples"),
                      annotations=str(annotations or tr / "annotations" / "annotations.json"),
                      test_data_root=str(test_data_root or te / "samples") if validate else None,
                      test_annotations=str(test_annotations or te / "annotations" / "annotations.json")
                      if validate else None,
                      train_crop=train_crop, n_way=n_way, n_query=n_query, n_episodes=n_episodes,
                      hard_episodes=hard_episodes, num_workers=num_workers)
    model = ModelConfig(imgsz=imgsz, support_size=support_size, reference_encoder=reference_encoder,
                        appearance_match=appearance_match, backbone=backbone, p2=p2)
    if start_from is not None:
        from dataclasses import replace

        from ..model.artifact import Artifact

        model = replace(Artifact.load(start_from).model, imgsz=imgsz)
        train_kw.setdefault("resume", str(start_from))
        train_kw.setdefault("fine_tune", True)
    train_kw.setdefault("exist_ok", True)  # a notebook cell re-run re-trains its run folder on purpose
    train = TrainConfig(stage=stage, epochs=epochs, lr=lr, checkpoint_dir=str(run_dir), save_interval=1,
                        warmup_epochs=0.5, **train_kw)
    return data, model, train, stage_weights(stage)


# The learning recipe (benchmarks/learning.py, `make learning`; `make weights` trains the course weights with it):
# stage 2 from random initialisation on a generated training set, frames at their native 640 px trained on 320 px
# windows that hold the object, siamese references + appearance match; then the candidate verifier beside it.
LEARNING = {
    # 30 minutes of training in all, on whatever machine runs it: each part stops at its time budget (TimeBudget
    # re-plans the cosine schedule from the measured epoch time); epochs are the ceilings a fast machine reaches
    "minutes": dict(detector=23.0, verifier=4.5),
    "detector": dict(imgsz=640, train_crop=320, support_size=32, epochs=80, n_way=2, n_query=4, n_episodes=60,
                     lr=2e-3, mixed_precision=True, reference_encoder="siamese", appearance_match=True),
    # + the frozen ImageNet MobileNetV2 beside the crop CNN, one more input of the decision (benchmarks/README.md,
    # "Real-world eyes": adopted for the course weights)
    "verifier": dict(epochs=16, n_batches=60, n_ids=16, bank=200, n_fresh=2, lr=2e-3,
                     config=dict(cues=("mobilenetv2",))),
    "train_set": dict(n_videos=48, n_frames=60),
}
LEARNING_QUICK = {
    "minutes": dict(detector=None, verifier=None),
    "detector": dict(imgsz=320, train_crop=160, support_size=32, epochs=1, n_way=2, n_query=2, n_episodes=4,
                     lr=2e-3, reference_encoder="siamese", appearance_match=True),
    "verifier": dict(epochs=1, n_batches=3, n_ids=8, bank=4, n_fresh=1, lr=2e-3),
    "train_set": dict(n_videos=4, n_frames=30),
}


def train_recipe(out_dir, train_root, recipe: dict, style: str = "realistic", calib_videos: int = CALIB_VIDEOS,
                 calib_frames: int = CALIB_FRAMES, verbose: bool = True) -> dict:
    """Train the recipe's detector on `train_root` (a generated set: samples/ + annotations/, no validation set:
    test videos stay unseen), then its verifier, calibrated on the training videos, each inside the recipe's
    "minutes". Returns {"model": path of refdet.pt, "detector_minutes", "verifier_minutes", "epochs" (the
    detector's)}."""
    import time
    import warnings
    from pathlib import Path

    from ..config import TrainConfig, VerifierConfig
    from .callbacks import TimeBudget
    from .run import run_training
    from .verifier import train_verifier

    out, root = Path(out_dir), Path(train_root)
    d, v = dict(recipe["detector"]), dict(recipe["verifier"])
    epochs = d.pop("epochs")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data, model, train, weights = small_configs(out / "detector", root / "samples",
                                                    root / "annotations" / "annotations.json", validate=False,
                                                    epochs=epochs, num_workers=2, **d)
        train.save_interval = epochs  # last.pt is what is used; no per-epoch copies
        budget = recipe.get("minutes", {})
        done = finished_run(out / "detector")
        if done is None:
            run_training(data, model, train, weights, verbose=verbose,
                         callbacks=[TimeBudget(budget["detector"])] if budget.get("detector") else None)
            done = finished_run(out / "detector")
        elif verbose:
            log.info(f"detector: {out / 'detector' / 'last.pt'} finished its {done['epochs']} epochs: reused")
    t1 = time.time()
    vtrain = TrainConfig(epochs=v.pop("epochs"), lr=v.pop("lr"), checkpoint_dir=str(out / "verifier"),
                         save_interval=10 ** 6)
    vcfg = VerifierConfig(**v.pop("config", {}))  # the recipe's verifier kind and cues (default: the crop CNN)
    path = train_verifier(out / "detector" / "last.pt", data, vcfg, vtrain, style=style,
                          calib_videos=calib_videos, calib_frames=calib_frames, verbose=verbose,
                          callbacks=[TimeBudget(budget["verifier"])] if budget.get("verifier") else None, **v)
    return {"model": path, "detector_minutes": done["minutes"], "verifier_minutes": (time.time() - t1) / 60,
            "epochs": done["epochs"]}


def finished_run(run_dir) -> Optional[dict]:
    """{"epochs", "minutes" (the epochs' own seconds, as history.csv records them)} of a run whose last.pt reached
    the epochs its config planned (a time budget re-plans them), else None: a finished part of a recipe is reused."""
    from pathlib import Path

    from ..model.artifact import Artifact

    p = Path(run_dir) / "last.pt"
    if not p.exists():
        return None
    art = Artifact.load(p)
    planned = ((art.record.get("config") or {}).get("train") or {}).get("epochs")
    if planned is None or (art.epoch or 0) < int(planned):
        return None
    secs = sum(float(r.get("seconds") or 0) for r in art.history)
    return {"epochs": int(art.epoch), "minutes": secs / 60}
