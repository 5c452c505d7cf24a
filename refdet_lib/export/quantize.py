"""INT8 quantisation of the detector graph with onnxruntime (QDQ, what TensorRT consumes)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from .runner import OnnxRefDet


class _FrameReader:
    """Calibration data for static INT8: letterboxed frames, each with the reference tensors of its own target."""

    def __init__(self, items: list[tuple[np.ndarray, dict]], imgsz: int):
        from ..ops.boxes import letterbox

        self.items = [{"images": (letterbox(f, imgsz)[0].transpose(2, 0, 1)[None].astype(np.float32) / 255), **refs}
                      for f, refs in items]
        self.i = 0

    def get_next(self):
        if self.i >= len(self.items):
            return None
        self.i += 1
        return self.items[self.i - 1]

    def rewind(self):
        self.i = 0


def calibration_set(data_root, n: int = 64, shots: int = 3,
                    seed: int = 0) -> list[tuple[np.ndarray, list[np.ndarray]]]:
    """n frames spread over a dataset's videos (the training data: calibration must not see the test split), each
    with its video's reference photos: [(frame RGB, [photo, ...]), ...]."""
    from ..data.annotations import list_reference_images
    from ..data.video import iter_frames, video_info
    from ..ops.images import read_rgb

    root = Path(data_root)
    vids = sorted(p for p in root.iterdir() if p.is_dir() and (p / "drone_video.mp4").exists())
    if not vids:
        raise FileNotFoundError(f"{root}: no <video_id>/drone_video.mp4 to calibrate on")
    rng = np.random.default_rng(seed)
    per = [n // len(vids) + (i < n % len(vids)) for i in range(len(vids))]
    out = []
    for v, k in zip(vids, per):
        if k == 0:
            continue
        photos = [read_rgb(p, "reference image") for p in list_reference_images(v)[:shots]]
        nf = video_info(v / "drone_video.mp4")["frames"]
        picks = sorted(rng.choice(nf, size=min(k, nf), replace=False).tolist())
        out += [(f, photos) for _, f in iter_frames(v / "drone_video.mp4", picks)]
    return out


def quantize_int8(export_dir: str | Path, calib: Optional[list[tuple[np.ndarray, list[np.ndarray]]]] = None,
                  calib_frames: Optional[list[np.ndarray]] = None,
                  calib_refs: Optional[list[np.ndarray]] = None) -> Path:
    """INT8 detector, detector_int8.onnx: static QDQ quantisation (weights and activations, what TensorRT's --int8
    consumes) calibrated on real frames: `calib` = [(frame, its reference photos)] (calibration_set), or
    `calib_frames` with one set of `calib_refs` for all; without frames, dynamic (weights only, uncalibrated)."""
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
    if calib is None and calib_frames:
        calib = [(f, calib_refs) for f in calib_frames]
    try:
        if calib:
            m = OnnxRefDet(d)
            items, cache = [], {}
            for f, photos in calib:  # each target's references encoded once
                key = id(photos)
                if key not in cache:
                    cache[key] = dict(m.set_references(photos).refs)
                items.append((f, cache[key]))
            quantize_static(str(pre), str(dst), _FrameReader(items, m.meta["imgsz"]), quant_format=QuantFormat.QDQ,
                            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True)
        else:
            quantize_dynamic(str(pre), str(dst), weight_type=QuantType.QInt8)
    finally:
        if pre != src and pre.exists():
            pre.unlink()
    return dst


def int8_accuracy(export_dir: str | Path, test_data_root, test_annotations, max_frames: Optional[int] = None,
                  shots: int = 3) -> dict:
    """FP32 vs INT8 detector on a test split, the rest (references, verifier, tracker, decision) the same:
    {"fp32": {map50, precision, recall, st_iou}, "int8": {...}, "map50_delta": int8 - fp32}."""
    from ..eval.evaluate import evaluate_model

    d = Path(export_dir)
    out = {}
    for name, det in (("fp32", d / "detector.onnx"), ("int8", d / "detector_int8.onnx")):
        r = evaluate_model(OnnxRefDet(d, detector=det), test_data_root, test_annotations, shots=(shots,),
                           max_frames=max_frames, progress=False, verbose=False, track=True)[f"{shots}-shot"]
        o = r["overall"]
        out[name] = {"map50": o["map50"], "precision": o["precision"], "recall": o["recall"],
                     "st_iou": r["mean_st_iou"]}
    out["map50_delta"] = out["int8"]["map50"] - out["fp32"]["map50"]
    return out
