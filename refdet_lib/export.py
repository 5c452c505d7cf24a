"""ONNX export as two graphs, parity check with onnxruntime, INT8 quantisation, and the Jetson recipe.

Why two graphs: the reference encoder (DINOv2, the heavy part) runs once per target, the detector runs per frame.
Exporting them apart means a new target is a new set of reference images run through `reference_encoder.onnx`, with
no re-export of the detector (YOLOE bakes its text/visual prompt into the exported graph; we do not).

    reference_encoder.onnx: support (C, K, 3, R, R) in [0, 1]
                            -> prototypes (C, D), sp3 (C, c3), sp4 (C, c4), sp5 (C, c5), tok3/4/5 (C, M, c_i)
    detector.onnx:          images (B, 3, S, S) in [0, 1] + those six tensors
                            -> boxes (B, A, 4) x1y1x2y2 in input pixels, scores (B, C, A) probabilities
NMS and letterbox stay outside the graphs (numpy here, TensorRT's EfficientNMS plugin or your own on a Jetson).
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Optional

import numpy as np
import torch
import torch.nn as nn

REF_OUTPUTS = ["prototypes", "sp3", "sp4", "sp5", "tok3", "tok4", "tok5"]


def ref_outputs(model) -> list[str]:
    """Names of the reference tensors: REF_OUTPUTS, plus `parts` (C, K*P, d) with the appearance match."""
    return REF_OUTPUTS + (["parts"] if getattr(model, "match", None) is not None else [])


class ReferenceGraph(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.m = model

    def forward(self, support):  # (C, K, 3, R, R)
        r = self.m.encode_references(support)
        return (r["prototypes"], *r["scale_protos"], *r["tokens"], *([r["parts"]] if "parts" in r else []))


class DetectorGraph(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.m = model

    def forward(self, images, prototypes, sp3, sp4, sp5, tok3, tok4, tok5, *parts):
        refs = {"prototypes": prototypes, "scale_protos": [sp3, sp4, sp5], "tokens": [tok3, tok4, tok5],
                **({"parts": parts[0]} if parts else {})}
        out = self.m(images, refs=refs)
        boxes = self.m.head.decode_boxes(out["box_dist"], out["anchor_points"], out["stride_tensor"])  # (B, A, 4)
        return boxes, out["proto_logits"].float().sigmoid()  # (B, A, 4), (B, C, A)


def _export(module, args, path, input_names, output_names, dynamic_axes, opset):
    import warnings

    kw = dict(input_names=input_names, output_names=output_names, dynamic_axes=dynamic_axes, opset_version=opset,
              do_constant_folding=True)
    with warnings.catch_warnings():  # shape checks traced as constants: expected, and only here
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        try:
            torch.onnx.export(module, args, str(path), dynamo=False, **kw)
        except TypeError:  # older torch without the dynamo switch
            torch.onnx.export(module, args, str(path), **kw)


def export_onnx(model, out_dir: str | Path, opset: int = 17, n_refs: int = 3) -> dict:
    """Write reference_encoder.onnx and detector.onnx for a RefDet (eval mode, CPU, float32)."""
    model = model.cpu().float().eval()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cfg = model.config
    R, S = cfg.support_size, cfg.imgsz
    support = torch.rand(1, n_refs, 3, R, R)
    with torch.no_grad():
        refs = ReferenceGraph(model)(support)
    ref_path, det_path = out / "reference_encoder.onnx", out / "detector.onnx"
    names = ref_outputs(model)
    _export(ReferenceGraph(model), (support,), ref_path, ["support"], names,
            {"support": {0: "objects", 1: "shots"}, **{k: {0: "objects"} for k in names},
             **({"parts": {0: "objects", 1: "parts"}} if "parts" in names else {})}, opset)
    images = torch.rand(2, 3, S, S)
    _export(DetectorGraph(model), (images, *refs), det_path, ["images"] + names, ["boxes", "scores"],
            {"images": {0: "batch"}, **{k: {0: "objects"} for k in names},
             **({"parts": {0: "objects", 1: "parts"}} if "parts" in names else {}),
             "boxes": {0: "batch"}, "scores": {0: "batch", 1: "objects"}}, opset)
    meta = {"imgsz": S, "support_size": R, "embed_dim": cfg.embed_dim, "opset": opset,
            "inputs": "images float32 (B,3,S,S) in [0,1], RGB, letterboxed (pad 114)",
            "reference_outputs": names}
    (out / "export.json").write_text(json.dumps(meta, indent=2))
    return {"reference_encoder": ref_path, "detector": det_path}


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
        from .data.collate import support_tensor

        sup = support_tensor(images, self.meta["support_size"])[None].numpy()  # (1, K, 3, R, R)
        self.refs = dict(zip(self.meta.get("reference_outputs", REF_OUTPUTS), self.ref.run(None, {"support": sup})))
        return self

    def raw(self, images: np.ndarray):
        return self.det.run(None, {"images": images.astype(np.float32), **self.refs})

    def predict(self, frames: list[np.ndarray], conf: float = 0.25, iou: float = 0.5, max_det: int = 100):
        from .data.transforms import boxes_from_letterbox, letterbox
        from .model.head import nms_per_class

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


class _FrameReader:
    """Calibration data for static INT8: letterboxed frames with fixed reference tensors."""

    def __init__(self, frames: list[np.ndarray], refs: dict, imgsz: int):
        from .data.transforms import letterbox

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
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_dynamic, quantize_static
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


JETSON_RECIPE = """\
TensorRT on a Jetson (JetPack 5/6, trtexec ships with it):

  # FP16 engines, built on the Jetson itself (engines are not portable between GPUs)
  trtexec --onnx=reference_encoder.onnx --saveEngine=reference_encoder_fp16.engine --fp16 \\
          --minShapes=support:1x1x3x{R}x{R} --optShapes=support:1x3x3x{R}x{R} --maxShapes=support:4x5x3x{R}x{R}
  trtexec --onnx=detector.onnx --saveEngine=detector_fp16.engine --fp16 \\
          --minShapes=images:1x3x{S}x{S},prototypes:1x{D} --optShapes=images:1x3x{S}x{S},prototypes:1x{D} \\
          --maxShapes=images:8x3x{S}x{S},prototypes:4x{D}
          (give the same min/opt/max object count for sp3..sp5 and tok3..tok5; with the appearance match also
          parts:Cx(K*9)x32, whose second axis grows with the number of reference photos)
  # INT8: use the QDQ model written by `refdet export --int8` (calibration already inside)
  trtexec --onnx=detector_int8.onnx --saveEngine=detector_int8.engine --int8 --fp16 ...same shapes...
  # measure: trtexec --loadEngine=detector_fp16.engine --shapes=images:1x3x{S}x{S},... --iterations=200

New target: run reference_encoder once on the new photos and feed its outputs (seven, or eight with the appearance
match) to the detector engine.
No re-export, no rebuild. Set the Jetson to max clocks first (sudo nvpmodel -m 0 && sudo jetson_clocks).
"""


def cli_export(a) -> int:
    from .train.checkpoint import load_model

    model = load_model(a.checkpoint, "cpu")
    out = Path(a.out) if a.out else Path(a.checkpoint).parent / "onnx"
    paths = export_onnx(model, out, opset=a.opset)
    par = parity_check(model, out)
    print(f"reference encoder: {paths['reference_encoder']}\ndetector:          {paths['detector']}")
    print("parity (max |PyTorch - onnxruntime|): " + ", ".join(f"{k} {v:.2e}" for k, v in par.items()))
    ok = max(par.values()) <= 1e-3
    if a.int8:
        q = quantize_int8(out)
        print(f"INT8 detector (dynamic): {q}")
    cfg = model.config
    recipe = JETSON_RECIPE.format(R=cfg.support_size, S=cfg.imgsz, D=cfg.embed_dim)
    (out / "JETSON.md").write_text(recipe)
    print(f"TensorRT / Jetson recipe: {out / 'JETSON.md'}")
    return 0 if ok else 1
