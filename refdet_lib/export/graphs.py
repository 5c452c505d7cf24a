"""ONNX export as two graphs and the parity check of onnxruntime against PyTorch.

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

import dataclasses
import json
from pathlib import Path

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
    """Write reference_encoder.onnx and detector.onnx for a RefDet (eval mode, CPU, float32), and verifier.onnx when
    it has a verifier (and cue_<name>.onnx per frozen cue); export.json records sizes, the calibrated decision and
    the verifier's settings."""
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
    paths = {"reference_encoder": ref_path, "detector": det_path}
    meta = {"imgsz": S, "support_size": R, "embed_dim": cfg.embed_dim, "opset": opset,
            "inputs": "images float32 (B,3,S,S) in [0,1], RGB, letterboxed (pad 114)",
            "reference_outputs": names, "decision": model.decision.to_dict(),
            "looks": {"tiles": cfg.tiles, "tile_every": cfg.tile_every, "window": cfg.window}}
    if model.verifier is not None:  # the third graph: crops (and reference photos) -> unit embeddings
        v = model.verifier.config
        paths["verifier"] = out / "verifier.onnx"
        _export(model.verifier, (torch.rand(4, 3, v.crop_size, v.crop_size),), paths["verifier"], ["crops"],
                ["embeddings"], {"crops": {0: "n"}, "embeddings": {0: "n"}}, opset)
        meta["verifier"] = dataclasses.asdict(v)
        for n, cue in model.cues.items():  # one more graph per frozen cue (verifier.py: VerifierConfig.cues)
            paths[f"cue_{n}"] = out / f"cue_{n}.onnx"
            _export(cue, (torch.rand(4, 3, v.cue_crop_size, v.cue_crop_size),), paths[f"cue_{n}"], ["crops"],
                    ["embeddings"], {"crops": {0: "n"}, "embeddings": {0: "n"}}, opset)
    (out / "export.json").write_text(json.dumps(meta, indent=2))
    return paths
