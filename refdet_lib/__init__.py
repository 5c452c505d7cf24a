"""refdet_lib: few-shot, reference-based object detection on drone video (YOLOv8n-RefDet).

    from refdet_lib.data import RefDetDataset
    from refdet_lib.model import build_refdet
"""
from . import _env  # noqa: F401  (offline settings first, before ultralytics/timm/albumentations load)
from .config import (AugmentConfig, DataConfig, LossConfig, LossWeights, ModelConfig, STAGE_PRESETS, TrainConfig,
                     stage_weights)

__version__ = "0.1.0"


def checks(**kw) -> dict:
    """Environment summary for notebook 00 and bug reports (see refdet_lib.course.checks)."""
    from .course import checks as _checks
    return _checks(**kw)


__all__ = ["checks", "AugmentConfig", "DataConfig", "LossConfig", "LossWeights", "ModelConfig", "STAGE_PRESETS", "TrainConfig",
           "stage_weights", "__version__"]
