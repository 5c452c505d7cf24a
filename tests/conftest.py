"""Shared fixtures: small real datasets written by the package's own generator (real mp4 files, real JPEGs)."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import refdet_lib  # noqa: F401  (applies the offline settings)

ROOT = Path(__file__).resolve().parent.parent



@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory) -> Path:
    """3 realistic videos x 24 frames at 320x180: the smallest dataset the pipeline is exercised on."""
    from refdet_lib.data.synthetic import generate_dataset

    out = tmp_path_factory.mktemp("tiny") / "train"
    generate_dataset(out, n_videos=3, n_frames=24, seed=3, width=320, height=180, n_refs=3, object_size=(10, 40))
    return out


@pytest.fixture
def tiny_copy(tiny_root, tmp_path) -> Path:
    """A private copy of the tiny dataset, free to break."""
    dst = tmp_path / "train"
    shutil.copytree(tiny_root, dst, ignore=shutil.ignore_patterns(".refdet_cache"))
    return dst


def paths(root: Path) -> tuple[Path, Path]:
    return root / "samples", root / "annotations" / "annotations.json"


@pytest.fixture(scope="session")
def tiny_checkpoint(tiny_root, tmp_path_factory) -> Path:
    """A 1-epoch stage-2 checkpoint on the tiny dataset (imgsz 64, support 56): real files for eval/predict/export."""
    import warnings

    from refdet_lib.config import DataConfig, ModelConfig, TrainConfig, stage_weights
    from refdet_lib.train.run import run_training

    samples, ann = paths(tiny_root)
    run = tmp_path_factory.mktemp("ckpt") / "run"
    data = DataConfig(data_root=str(samples), annotations=str(ann), n_way=2, n_query=2,
                      n_episodes=2, num_workers=0, cache_dir=str(run.parent / "cache"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_training(data, ModelConfig(imgsz=64, support_size=56),
                     TrainConfig(stage=2, epochs=1, lr=1e-3, checkpoint_dir=str(run)), stage_weights(2),
                     verbose=False)
    return run / "best_model.pt"
