"""INT8 quantisation of the detector graph with onnxruntime (QDQ, what TensorRT consumes)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from .runner import OnnxRefDet


class _FrameReader:
    """Calibration data for static INT8: letterboxed frames with fixed reference tensors."""

    def __init__(self, frames: list[np.ndarray], refs: dict, imgsz: int):
        from ..ops.boxes import letterbox

        self.items = [{"images": (letterbox(f, imgsz)[0].transpose(2, 0, 1)[None].astype(np.float32) / 255), **refs}
                      for f in frames]
        self.i = 0

    def get_next(self):
        if self.i >= len(self.items):
            return None
        self.i += 1
        return self.items[self.i - 1]

    def rewind(self):
        self.i = 0


def quantize_int8(export_dir: str | Path, calib_frames: Optional[list[np.ndarray]] = None,
                  calib_refs: Optional[list[np.ndarray]] = None) -> Path:
    """INT8 detector: static QDQ quantisation calibrated on real frames when given (what TensorRT consumes),
    else dynamic (weights only). Returns the path of detector_int8.onnx."""
    from onnxruntime.quantization import (
        QuantFormat,
        QuantType,
        quantize_dynamic,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    d = Path(export_dir)
    src, pre, dst = d / "detector.onnx", d / "detector_pre.onnx", d / "detector_int8.onnx"
    try:
        quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
    except Exception:
        pre = src
    if calib_frames:
        m = OnnxRefDet(d)
        m.set_references(calib_refs)
        quantize_static(str(pre), str(dst), _FrameReader(calib_frames, m.refs, m.meta["imgsz"]),
                        quant_format=QuantFormat.QDQ, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8, per_channel=True,
                        nodes_to_exclude=[])
    else:
        quantize_dynamic(str(pre), str(dst), weight_type=QuantType.QInt8)
    if pre != src and pre.exists():
        pre.unlink()
    return dst
