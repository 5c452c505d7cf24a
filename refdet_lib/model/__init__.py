"""Model: YOLOv8n query branch, DINOv2 (or siamese) reference branch, CHEAF fusion, dual head, appearance match,
the trained model as a file (`Artifact`, artifact.py) and checkpoint -> model loading (docs/contracts.md, "Model")."""
from .artifact import Artifact
from .backbone import YoloBackbone, build_backbone, read_yolo_checkpoint
from .fusion import CHEAF
from .head import DualHead
from .loading import COURSE_WEIGHTS, course_weights, load_checkpoint, load_course_model, load_model, model_config, \
    with_verifier
from .refdet import RefDet, build_refdet
from .reference import ReferenceEncoder
from .verifier import CropVerifier, Decision, build_verifier

__all__ = ["RefDet", "build_refdet", "YoloBackbone", "build_backbone", "read_yolo_checkpoint", "ReferenceEncoder",
           "CHEAF", "DualHead", "load_checkpoint", "load_model", "model_config", "with_verifier", "CropVerifier",
           "Decision", "build_verifier", "COURSE_WEIGHTS", "course_weights", "load_course_model", "Artifact"]
