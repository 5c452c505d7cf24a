"""The CUDA path (run by benchmarks/gpu_check.sh on a machine with a GPU; skipped where there is none): a real
training epoch under float16 autocast with a GradScaler, pinned host memory, channels-last, then inference."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from conftest import paths

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")


def test_cuda_amp_epoch_scaler_pinned_memory_and_predict(tiny_root, tmp_path):
    from refdet_lib.config import DataConfig, ModelConfig, TrainConfig, stage_weights
    from refdet_lib.model import load_model
    from refdet_lib.train.run import run_training

    samples, ann = paths(tiny_root)
    data = DataConfig(data_root=str(samples), annotations=str(ann), n_way=2, n_query=2, n_episodes=4, num_workers=2)
    train = TrainConfig(stage=2, epochs=1, lr=1e-3, mixed_precision=True, device="cuda",
                        checkpoint_dir=str(tmp_path / "run"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tr = run_training(data, ModelConfig(imgsz=128, support_size=112), train, stage_weights(2), verbose=False)
    assert tr.device.type == "cuda" and tr.amp_dtype == torch.float16 and tr.scaler.is_enabled()
    assert tr.train_loader.pin_memory
    assert next(tr.raw_model.backbone.parameters()).is_contiguous(memory_format=torch.channels_last)
    assert np.isfinite(tr.history.rows[-1]["train_loss"]) and tr.history.rows[-1]["skipped_steps"] < 4
    model = load_model(tmp_path / "run" / "last.pt", "cuda")
    model.set_references([np.full((60, 50, 3), 120, np.uint8)])
    out = model.predict([np.zeros((180, 320, 3), np.uint8)], conf=0.0)[0]
    assert out["boxes"].shape[1] == 4 and np.all(out["boxes"][:, 2] <= 320)
