"""Model: YOLOv8n query branch, DINOv2 reference branch, CHEAF fusion, dual head (see contracts.md, "Model")."""
from .backbone import YoloBackbone, build_backbone, read_yolo_checkpoint
from .fusion import CHEAF
from .head import DualHead, nms_per_class
from .reference import ReferenceEncoder
from .refdet import RefDet, build_refdet

__all__ = ["RefDet", "build_refdet", "YoloBackbone", "build_backbone", "read_yolo_checkpoint", "ReferenceEncoder",
           "CHEAF", "DualHead", "nms_per_class"]
