"""refdet_lib: few-shot, reference-based object detection on drone video (YOLOv8n-RefDet).

    from refdet_lib.data import RefDetDataset
    from refdet_lib.model import build_refdet

Layers (imports run downward only; docs/contracts.md): config, errors, runtime, ops -> data -> model -> losses ->
eval, export -> train -> course, cli.
"""
from . import _env  # noqa: F401  (offline settings first, before ultralytics/timm/albumentations load)
from .log import set_verbosity
from .config import (
                     LOSS_COMPONENTS,
                     STAGE_PRESETS,
                     AugmentConfig,
                     DataConfig,
                     LossConfig,
                     LossWeights,
                     ModelConfig,
                     TrainConfig,
                     stage_weights,
)

__version__ = "0.1.0"

__all__ = ["AugmentConfig", "DataConfig", "LossConfig", "LossWeights", "LOSS_COMPONENTS", "ModelConfig",
           "STAGE_PRESETS", "TrainConfig", "set_verbosity", "stage_weights", "__version__"]
