"""Box, image and sequence operations every layer shares (data, model, inference, export): one copy of each.

- `boxes`:  letterbox and its inverse, training windows, box IoU, NMS, DFL box decoding
- `images`: image files as RGB, uint8 images -> float tensors, reference photos -> the model's support tensor
- `runs`:   runs of consecutive frames (annotation intervals, visibility stretches, tracks)
"""
from .boxes import (
                    PAD_VALUE,
                    box_iou,
                    boxes_from_letterbox,
                    boxes_to_letterbox,
                    dfl_decode,
                    letterbox,
                    letterbox_crop,
                    nms_per_class,
                    square_resize,
)
from .images import crop_patches, draw, read_rgb, reference_tensors, support_tensor, to_tensor
from .runs import runs

__all__ = ["PAD_VALUE", "box_iou", "boxes_from_letterbox", "boxes_to_letterbox", "dfl_decode", "letterbox",
           "letterbox_crop", "nms_per_class", "square_resize", "crop_patches", "draw", "read_rgb", "reference_tensors", "support_tensor",
           "to_tensor", "runs"]
