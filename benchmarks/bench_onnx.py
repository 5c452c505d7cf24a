"""Detector latency: onnxruntime (FP32 and INT8) vs PyTorch eager, same input, side by side.

The detector graph is what runs per frame (references cached). Target: onnxruntime FP32 >= 1.5x faster than eager.

    python benchmarks/bench_onnx.py [--imgsz 320] [--batch 1] [--reps 20] [--device cuda]
    (cuda: PyTorch on the GPU, onnxruntime-gpu with the TensorRT / CUDA execution providers where installed)
"""
from __future__ import annotations

import argparse
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch

import refdet_lib  # noqa: F401
from refdet_lib.export import (
    DetectorGraph,
    ReferenceGraph,
    export_onnx,
    latency,
    quantize_int8,
)
from refdet_lib.export.runner import REF_OUTPUTS, _session
from refdet_lib.model import build_refdet


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--imgsz", type=int, default=320)
    ap.add_argument("--support_size", type=int, default=112)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    a = ap.parse_args()
    dev = torch.device(a.device)
    providers = (["TensorrtExecutionProvider", "CUDAExecutionProvider"] if dev.type == "cuda" else []) + \
        ["CPUExecutionProvider"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = build_refdet(imgsz=a.imgsz, support_size=a.support_size).eval()
    out = Path(tempfile.mkdtemp(prefix="refdet_onnx_"))
    export_onnx(model, out)
    frames = [np.random.default_rng(i).integers(0, 255, (360, 640, 3), np.uint8) for i in range(8)]
    refs = [np.random.default_rng(9).integers(0, 255, (160, 160, 3), np.uint8)] * 3
    q = quantize_int8(out, calib_frames=frames, calib_refs=refs)
    g = torch.Generator().manual_seed(0)
    support = torch.rand(1, 3, 3, a.support_size, a.support_size, generator=g)
    x = torch.rand(a.batch, 3, a.imgsz, a.imgsz, generator=g)
    det = DetectorGraph(model).eval()
    with torch.no_grad():
        refs_t = ReferenceGraph(model)(support)
    feeds = {"images": x.numpy(), **{k: v.numpy() for k, v in zip(REF_OUTPUTS, refs_t)}}
    s32, s8 = _session(out / "detector.onnx", providers), _session(q, providers)
    det_d, x_d, refs_d = det.to(dev), x.to(dev), [t.to(dev) for t in refs_t]

    def eager():
        with torch.no_grad():
            det_d(x_d, *refs_d)
        if dev.type == "cuda":
            torch.cuda.synchronize()

    t_pt = latency(eager, a.reps)
    t32 = latency(lambda: s32.run(None, feeds), a.reps)
    t8 = latency(lambda: s8.run(None, feeds), a.reps)
    b32, sc32 = s32.run(None, feeds)
    b8, sc8 = s8.run(None, feeds)
    print(f"detector, batch {a.batch} at {a.imgsz} px, median of {a.reps} ({torch.get_num_threads()} threads; "
          f"PyTorch on {dev}, onnxruntime {s32.get_providers()[0]})")
    print(f"  PyTorch eager FP32    {1000 * t_pt:8.2f} ms   1.00x")
    print(f"  onnxruntime FP32      {1000 * t32:8.2f} ms   {t_pt / t32:5.2f}x faster   (target >= 1.5x)")
    print(f"  onnxruntime INT8      {1000 * t8:8.2f} ms   {t_pt / t8:5.2f}x faster")
    print(f"  INT8 vs FP32 output: max |score diff| {np.abs(sc32 - sc8).max():.4f}, "
          f"max |box diff| {np.abs(b32 - b8).max():.2f} px")


if __name__ == "__main__":
    main()
