"""onnxruntime inference with the exported graphs: the same set_references / predict interface as RefDet, so the
evaluation and video inference code runs an exported model unchanged (what a Jetson runs, with TensorRT's provider).
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from .graphs import REF_OUTPUTS, DetectorGraph, ReferenceGraph, ref_outputs


def _session(path, providers=None):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3
    return ort.InferenceSession(str(path), so, providers=providers or ["CPUExecutionProvider"])


class OnnxRefDet:
    """Inference with the two ONNX graphs: set_references() once, then predict() frames (same API as RefDet)."""

    def __init__(self, export_dir: str | Path, detector: Optional[str | Path] = None):
        d = Path(export_dir)
        self.meta = json.loads((d / "export.json").read_text())
        self.ref = _session(d / "reference_encoder.onnx")
        self.det = _session(detector or d / "detector.onnx")
        self.refs = None

    def set_references(self, images: list[np.ndarray]) -> "OnnxRefDet":
        from ..ops.images import support_tensor

        sup = support_tensor(images, self.meta["support_size"])[None].numpy()  # (1, K, 3, R, R)
        self.refs = dict(zip(self.meta.get("reference_outputs", REF_OUTPUTS), self.ref.run(None, {"support": sup})))
        return self

    def raw(self, images: np.ndarray):
        return self.det.run(None, {"images": images.astype(np.float32), **self.refs})

    def predict(self, frames: list[np.ndarray], conf: float = 0.25, iou: float = 0.5, max_det: int = 100):
        from ..ops.boxes import boxes_from_letterbox, letterbox, nms_per_class

        lb = [letterbox(f, self.meta["imgsz"]) for f in frames]
        x = np.stack([l[0] for l in lb]).transpose(0, 3, 1, 2).astype(np.float32) / 255
        boxes, scores = self.raw(x)
        res = []
        for f, (_, r, pad), b, s in zip(frames, lb, boxes, scores):
            d = nms_per_class(torch.from_numpy(b), torch.from_numpy(s), conf, iou, max_det)
            res.append({"boxes": boxes_from_letterbox(d["boxes"], r, pad, f.shape[:2]).numpy(),
                        "scores": d["scores"].numpy(), "labels": d["labels"].numpy()})
        return res


def parity_check(model, export_dir: str | Path, n_frames: int = 2, seed: int = 0) -> dict:
    """Max absolute difference between PyTorch and onnxruntime on the decoded outputs (boxes in pixels, scores)."""
    model = model.cpu().float().eval()
    cfg = model.config
    g = torch.Generator().manual_seed(seed)
    support = torch.rand(1, 3, 3, cfg.support_size, cfg.support_size, generator=g)
    images = torch.rand(n_frames, 3, cfg.imgsz, cfg.imgsz, generator=g)
    with torch.no_grad():
        refs = ReferenceGraph(model)(support)
        tb, ts = DetectorGraph(model)(images, *refs)
    d = Path(export_dir)
    ort_refs = _session(d / "reference_encoder.onnx").run(None, {"support": support.numpy()})
    ob, os_ = _session(d / "detector.onnx").run(None, {"images": images.numpy(),
                                                         **dict(zip(ref_outputs(model), ort_refs))})
    return {"reference_max_abs": float(max(np.abs(a.numpy() - b).max() for a, b in zip(refs, ort_refs))),
            "boxes_max_abs": float(np.abs(tb.numpy() - ob).max()),
            "scores_max_abs": float(np.abs(ts.numpy() - os_).max())}


def latency(fn, reps: int = 10, warmup: int = 2) -> float:
    """Median seconds of fn() over reps."""
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts))
