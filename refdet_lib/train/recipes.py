"""Ready-made configurations: the CPU-sized ones the notebooks, the demo and the learning benchmark start from.

They are plain `DataConfig / ModelConfig / TrainConfig / LossWeights` objects (the guide's defaults with CPU sizes),
so anything built here can be printed as a `refdet train ...` command (`refdet_lib.cli.train_command`).
"""
from __future__ import annotations

from .._env import PROJECT_ROOT
from ..config import DataConfig, ModelConfig, TrainConfig, stage_weights

DATA_SAMPLES = PROJECT_ROOT / "data_samples"


def small_configs(run_dir, data_root=None, annotations=None, test_data_root=None, test_annotations=None,
                  imgsz: int = 320, support_size: int = 112, epochs: int = 2, n_way: int = 2, n_query: int = 4,
                  n_episodes: int = 20, stage: int = 2, lr: float = 1e-3, num_workers: int = 0,
                  reference_encoder: str = "dinov2", appearance_match: bool = False, train_crop: int = 0,
                  validate: bool = True, hard_episodes: float = 0.0, **train_kw):
    """CPU-sized configs on data_samples/ (what the notebooks' parameter cells default to); extra keywords go to
    TrainConfig. reference_encoder='siamese' needs a support_size that is a multiple of 32 (e.g. 32 or 64).
    validate=False trains without a validation set (no val curves, no best_model.pt by val loss)."""
    tr, te = DATA_SAMPLES / "train", DATA_SAMPLES / "test"
    data = DataConfig(data_root=str(data_root or tr / "samples"),
                      annotations=str(annotations or tr / "annotations" / "annotations.json"),
                      test_data_root=str(test_data_root or te / "samples") if validate else None,
                      test_annotations=str(test_annotations or te / "annotations" / "annotations.json")
                      if validate else None,
                      train_crop=train_crop, n_way=n_way, n_query=n_query, n_episodes=n_episodes,
                      hard_episodes=hard_episodes, num_workers=num_workers)
    model = ModelConfig(imgsz=imgsz, support_size=support_size, reference_encoder=reference_encoder,
                        appearance_match=appearance_match)
    train = TrainConfig(stage=stage, epochs=epochs, lr=lr, checkpoint_dir=str(run_dir), save_interval=1,
                        warmup_epochs=0.5, **train_kw)
    return data, model, train, stage_weights(stage)
