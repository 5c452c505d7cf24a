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
    avail = ort.get_available_providers()
    chosen = [p for p in (providers or ["CPUExecutionProvider"]) if p in avail] or ["CPUExecutionProvider"]
    return ort.InferenceSession(str(path), so, providers=chosen)


class OnnxRefDet:
    """Inference with the exported graphs, RefDet's interface: set_references() once, then predict() frames.

    Letterbox, NMS, the verifier's crops and the calibrated decision run here in numpy (the same functions RefDet
    uses); the graphs are the network: reference_encoder.onnx once per target, detector.onnx per frame batch,
    verifier.onnx on each frame's top-k candidates. `providers`: onnxruntime's execution providers, e.g.
    ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"] on a Jetson."""

    def __init__(self, export_dir: str | Path, detector: Optional[str | Path] = None,
                 providers: Optional[list[str]] = None):
        from ..config import VerifierConfig, from_dict
        from ..model.verifier import Decision

        d = Path(export_dir)
        for need in ("export.json", "reference_encoder.onnx", "detector.onnx"):
            if not (d / need).exists():
                raise FileNotFoundError(f"{d}: no {need} (write an export with `refdet export --checkpoint ...`)")
        self.meta = json.loads((d / "export.json").read_text())
        self.ref = _session(d / "reference_encoder.onnx", providers)
        self.det = _session(detector or d / "detector.onnx", providers)
        self.verifier_config = from_dict(VerifierConfig, self.meta["verifier"]) if "verifier" in self.meta else None
        self.ver = _session(d / "verifier.onnx", providers) if self.verifier_config is not None else None
        # the frozen cues beside the verifier: one graph each, crops -> embeddings like verifier.onnx
        self.cue_sessions = {n: _session(d / f"cue_{n}.onnx", providers)
                             for n in (self.verifier_config.cues if self.verifier_config is not None else ())}
        self.decision = Decision.from_dict(self.meta.get("decision"))
        self.refs, self.ref_emb, self.cue_emb = None, None, {}

    @property
    def providers(self) -> list[str]:
        return self.det.get_providers()

    @property
    def verifier(self):
        """The verifier's session, or None (RefDet's attribute, for code that asks whether there is one)."""
        return self.ver

    @property
    def num_references(self) -> int:
        return 0 if self.refs is None else int(self.refs["prototypes"].shape[0])

    def clear_references(self) -> None:
        self.refs = self.ref_emb = None
        self.cue_emb = {}

    def _embed(self, crops: torch.Tensor, session=None) -> torch.Tensor:
        return torch.from_numpy((session or self.ver).run(None, {"crops": crops.float().numpy()})[0])

    def _cue_embed(self, name: str):
        return lambda crops: self._embed(crops, self.cue_sessions[name])

    def set_references(self, images: list[np.ndarray]) -> "OnnxRefDet":
        from ..model.verifier import embed_images
        from ..ops.images import support_tensor

        sup = support_tensor(images, self.meta["support_size"])[None].numpy()  # (1, K, 3, R, R)
        self.refs = dict(zip(self.meta.get("reference_outputs", REF_OUTPUTS), self.ref.run(None, {"support": sup})))
        if self.ver is not None:
            self.ref_emb = [embed_images(self._embed, images, self.verifier_config.crop_size)]
            self.cue_emb = {n: [embed_images(self._cue_embed(n), images, self.verifier_config.cue_crop_size)]
                            for n in self.cue_sessions}
        return self

    def raw(self, images: np.ndarray):
        return self.det.run(None, {"images": images.astype(np.float32), **self.refs})

    @property
    def looks(self) -> dict:
        """The proposal scheme the exported model was calibrated with (export.json; none in older exports)."""
        return dict(self.meta.get("looks") or {"tiles": 0, "tile_every": 1, "window": 0.0})

    def predict(self, frames: list[np.ndarray], conf: float = 0.25, iou: float = 0.5, max_det: int = 100,
                batch_size: int = 8, tiles: int = 0, tiled=None, windows=None, decision=None) -> list[dict]:
        """RefDet.predict's contract, run by onnxruntime (tiles, tiled: the finer looks, ops/tiles.py)."""
        from ..model.verifier import Cue, decide_candidates
        from ..ops.tiles import frame_candidates

        if self.refs is None:
            raise RuntimeError("predict() needs references: call set_references(images) first")
        if isinstance(frames, np.ndarray) and frames.ndim == 3:
            frames = [frames]
        vc = self.verifier_config
        k = vc.top_k if vc is not None else max_det
        verifier = Cue(self._embed, self.ref_emb, vc.crop_size, vc.context) if self.ver is not None else None
        cues = {n: Cue(self._cue_embed(n), self.cue_emb[n], vc.cue_crop_size, vc.cue_context) for n in self.cue_emb}
        res = []
        for b0 in range(0, len(frames), batch_size):
            chunk = frames[b0:b0 + batch_size]
            which = None if tiled is None else list(tiled[b0:b0 + batch_size])
            wins = None if windows is None else list(windows[b0:b0 + batch_size])
            for f, (boxes, det, labels, scale) in zip(chunk, frame_candidates(self.propose, chunk, conf, iou, k,
                                                                               batch_size, tiles, which, wins)):
                res.append(decide_candidates(f, boxes, det, labels, decision or self.decision, conf, max_det,
                                             verifier, cues, scale))
        return res

    def propose(self, images: list[np.ndarray], conf: float, iou: float, k: int) -> list[tuple]:
        """Letterbox to the export's square -> detector graph -> class-wise NMS -> per image (boxes in its own
        pixels, det_scores, labels), as RefDet.propose."""
        from ..model.refdet import CANDIDATE_CONF
        from ..ops.boxes import boxes_from_letterbox, letterbox, nms_per_class

        lb = [letterbox(f, self.meta["imgsz"]) for f in images]
        x = np.stack([l[0] for l in lb]).transpose(0, 3, 1, 2).astype(np.float32) / 255
        boxes, scores = self.raw(x)
        out = []
        for f, (_, r, pad), b, s in zip(images, lb, boxes, scores):
            d = nms_per_class(torch.from_numpy(b), torch.from_numpy(s), min(conf, CANDIDATE_CONF), iou, k)
            out.append((boxes_from_letterbox(d["boxes"], r, pad, f.shape[:2]).numpy().astype(np.float32),
                        d["scores"].numpy().astype(np.float32), d["labels"].numpy().astype(np.int64)))
        return out


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
    out = {"reference_max_abs": float(max(np.abs(a.numpy() - b).max() for a, b in zip(refs, ort_refs))),
           "boxes_max_abs": float(np.abs(tb.numpy() - ob).max()),
           "scores_max_abs": float(np.abs(ts.numpy() - os_).max())}
    if model.verifier is not None:  # the third graph
        s = model.verifier.config.crop_size
        crops = torch.rand(5, 3, s, s, generator=g)
        with torch.no_grad():
            e = model.verifier(crops).numpy()
        out["verifier_max_abs"] = float(np.abs(e - _session(d / "verifier.onnx").run(None, {"crops": crops.numpy()})
                                               [0]).max())
    for n, cue in model.cues.items():  # and one graph per frozen cue
        s = model.verifier.config.cue_crop_size
        crops = torch.rand(5, 3, s, s, generator=g)
        with torch.no_grad():
            e = cue(crops).numpy()
        out[f"cue_{n}_max_abs"] = float(np.abs(e - _session(d / f"cue_{n}.onnx").run(None, {"crops": crops.numpy()})
                                               [0]).max())
    return out


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
