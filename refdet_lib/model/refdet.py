"""RefDet: YOLOv8n query branch + DINOv2 reference branch + CHEAF fusion + dual head.

Training calls `model(query, support)` on a batch (contracts.md, "Model"). Inference on a video calls
`set_references(images)` once (the ViT runs only here) and then `predict(frames)` per frame, which runs backbone,
fusion and head only: the per-frame cost does not depend on how many reference images were given (with the default
reference_fusion='mean'; with 'tokens' the attention reads K * num_ref_tokens tokens per object, still O(N * M)).
"""
from __future__ import annotations

import dataclasses
import logging
from typing import Optional

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from ultralytics.utils.tal import make_anchors
from ultralytics.utils.torch_utils import initialize_weights

from ..config import ModelConfig, check_imgsz
from ..errors import InputError
from ..ops.boxes import boxes_from_letterbox, letterbox, nms_per_class
from ..ops.images import reference_tensors
from ..ops.tiles import frame_candidates
from .backbone import DETECT_INDEX, copy_matching, read_yolo_checkpoint
from .fusion import CHEAF
from .head import DualHead
from .match import AppearanceMatch
from .mobilenet_backbone import query_backbone
from .reference import ReferenceEncoder
from .siamese import SiameseReference, bn_running_stats
from .verifier import Cue, Decision, build_cues, build_verifier, decide_candidates, embed_images, inference_verifier

log = logging.getLogger(__name__)

LOW_STRIDE = 4  # stride of the backbone's low features (backbone.LOW_INDEX)
CANDIDATE_CONF = 0.001  # candidates below this detector score are never considered

REFERENCE_ENCODERS = ("dinov2", "siamese", "mobilenetv2")


class RefDet(nn.Module):
    """Reference-based detector. forward(query (B,3,S,S), support (C,K,3,R,R)) -> dict of raw head outputs."""

    def __init__(self, config: ModelConfig | None = None):
        super().__init__()
        cfg = self.config = config or ModelConfig()
        check_imgsz(cfg.imgsz, "ModelConfig.imgsz")
        if cfg.tiles not in (0, *range(2, 9)) or cfg.tile_every < 1:
            raise InputError(f"ModelConfig.tiles {cfg.tiles!r} / tile_every {cfg.tile_every!r}: tiles 0 (off) or "
                             "2-8, tile_every 1 or more")
        if cfg.window != 0 and not 1 < cfg.window <= 8:
            raise InputError(f"ModelConfig.window {cfg.window!r}: 0 (off) or a zoom in (1, 8]")
        yolo_sd = read_yolo_checkpoint(cfg.yolo_weights) if cfg.yolo_weights else None
        self.backbone = query_backbone(cfg.backbone, cfg.yolo_scale, yolo_sd, cfg.p2)  # yolov8 | mobilenetv2 + neck
        ch, self.strides = self.backbone.channels, self.backbone.strides
        if cfg.reference_encoder not in REFERENCE_ENCODERS:
            raise InputError(f"reference_encoder {cfg.reference_encoder!r}: choose one of "
                             f"{', '.join(REFERENCE_ENCODERS)}")
        if cfg.reference_encoder == "siamese":
            if cfg.head_mode == "standard":
                raise InputError("reference_encoder 'siamese' embeds references with the prototype head: "
                                 "head_mode must be 'prototype' or 'dual'")
            self.reference = SiameseReference(ch, cfg.support_size, cfg.num_ref_tokens, cfg.reference_fusion)
        else:
            self.reference = ReferenceEncoder(ch, cfg.embed_dim, cfg.support_size, cfg.dino_model, cfg.dino_weights,
                                              cfg.num_ref_tokens, cfg.reference_fusion, cfg.freeze_reference,
                                              network=cfg.reference_encoder)
        self.fusion = CHEAF(ch)
        # optional low-level template match next to the prototype score (model/match.py)
        self.match = AppearanceMatch(self.backbone.low_channels) if cfg.appearance_match else None
        self.head = DualHead(ch, self.strides, cfg.nc_base, cfg.reg_max, cfg.embed_dim, cfg.head_mode)
        # the candidate verifier and the calibrated decision travel with the detector (model/verifier.py)
        imagenet = cfg.verifier is not None and cfg.verifier.kind.startswith("mobilenetv2")
        self.verifier = build_verifier(cfg.verifier, pretrained=bool(cfg.verifier.dino_weights)) \
            if cfg.verifier is not None and not imagenet else None
        self.decision = Decision()
        initialize_weights(self)  # ultralytics' BatchNorm eps/momentum for our new Conv blocks too
        self.load_report = None
        if yolo_sd is not None:  # also reuse Detect's box (and, with nc_base 80, class) convs: same layout
            self.load_report = {"backbone": self.backbone.load_report,
                                "head_box": copy_matching(self.head.cv2, yolo_sd, f"model.{DETECT_INDEX}.cv2.")}
            if hasattr(self.head, "cv3"):
                self.load_report["head_cls"] = copy_matching(self.head.cv3, yolo_sd, f"model.{DETECT_INDEX}.cv3.")
            log.info(f"yolo_weights {cfg.yolo_weights}: " + "; ".join(f"{k} {v}" for k, v in self.load_report.items()))
        for m in self.modules():  # one momentum for every BatchNorm (backbone, fusion, head): see ModelConfig
            if isinstance(m, nn.BatchNorm2d):
                m.momentum = cfg.bn_momentum
        for part in (self.backbone, self.reference):  # ImageNet layers keep their BatchNorm eps (model/imagenet.py)
            if hasattr(part, "imagenet_batchnorm"):
                part.imagenet_batchnorm()
        # ImageNet-pretrained embedders come after ultralytics' BatchNorm settings: they keep the ones they were
        # trained with (eps 1e-5); the frozen cues beside the verifier each add one cosine to the decision
        if imagenet:
            self.verifier = build_verifier(cfg.verifier)
        self.cues = build_cues(cfg.verifier)
        self._refs = None  # cached encode_references() output, set by set_references()
        self._ref_emb = None  # per reference object, the verifier's (K, D) embeddings of its photos
        self._embed = None  # the verifier's frozen inference copy, made by set_references
        self._cue_emb = {}  # per cue, per reference object, (K, D) embeddings of its photos
        self._cue_run = {}  # per cue, its frozen inference copy (for_inference), made by set_references

    # ------------------------------------------------------------------ training / raw outputs
    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def encode_references(self, support: torch.Tensor) -> dict:
        """(C, K, 3, R, R) in [0, 1] -> {ref_emb (C,K,D), prototypes (C,D), scale_protos [(C,c_i)],
        tokens [(C,M,c_i)]}."""
        if not torch.is_tensor(support):
            raise TypeError(f"support must be a tensor (C, K, 3, R, R), got {type(support).__name__}")
        support = support.to(self.device, torch.float32)
        if isinstance(self.reference, SiameseReference):  # shares the detector's backbone and embedding convs
            refs = self.reference(support, self.backbone, self.head)
            low = refs.pop("low")  # its backbone pass already made the crops' stride-4 features
        else:
            refs, low = self.reference(support), None
        if self.match is not None:  # (C, K*P, d) parts of each object, through the same early layers as the frames
            with bn_running_stats(self.backbone, self.match):
                low = self.backbone.stem(support.flatten(0, 1)) if low is None else low
                refs["parts"] = self.match.parts(low, *support.shape[:2])
        return refs

    def forward(self, query: torch.Tensor, support: torch.Tensor | None = None, refs: dict | None = None,
                std: bool = True) -> dict:
        """query (B, 3, S, S) in [0, 1]; support (C, K, 3, R, R) or precomputed `refs` (encode_references output).

        Without references (stage 1 base training) the fusion is skipped and the prototype outputs are None.
        std=False skips the standard (base-class) branch when references are given: std_logits is then None.
        """
        if query.ndim != 4 or query.shape[1] != 3:
            raise InputError(f"query must be (B, 3, S, S), got {tuple(query.shape)}")
        if support is not None:
            refs = self.encode_references(support)
        matching = self.match is not None and refs is not None
        feats = self.backbone(query, low=matching)  # [(B, c_i, S/s_i, S/s_i)] (+ stride-4 features)
        if matching:
            feats, low = feats
        if refs is not None:
            feats = self.fusion(feats, refs["scale_protos"], refs["tokens"])
        out = self.head(feats, refs["prototypes"] if refs is not None else None, std=std)
        if matching:  # low-level appearance evidence per object, added to the prototype logits (B, C, A)
            out["proto_logits"] = out["proto_logits"] + self.match(low, refs["parts"],
                                                                   [s // LOW_STRIDE for s in self.strides])
        anchor_points, stride_tensor = make_anchors(feats, self.strides, 0.5)  # (A, 2), (A, 1)
        out.update(ref_emb=refs.get("ref_emb") if refs is not None else None,
                   prototypes=refs["prototypes"] if refs is not None else None,
                   anchor_points=anchor_points, stride_tensor=stride_tensor,
                   feat_shapes=[tuple(f.shape[-2:]) for f in feats])
        return out

    def postprocess(self, out: dict, conf: float = 0.25, iou: float = 0.5, max_det: int = 100) -> list[dict]:
        """Raw outputs -> per image {boxes (n,4) xyxy in network-input pixels, scores (n,), labels (n,)} (tensors).

        Scores come from the prototype branch when it ran (labels = reference objects), else the standard branch.
        """
        boxes = self.head.decode_boxes(out["box_dist"], out["anchor_points"], out["stride_tensor"])  # (B, A, 4)
        logits = out["proto_logits"] if out["proto_logits"] is not None else out["std_logits"]  # (B, C, A)
        if logits is None:
            raise RuntimeError("no class scores: head_mode 'prototype' needs references (call set_references first)")
        scores = logits.float().sigmoid()
        return [nms_per_class(boxes[i], scores[i], conf, iou, max_det) for i in range(boxes.shape[0])]

    # ------------------------------------------------------------------ inference on a video
    @torch.no_grad()
    def set_references(self, images) -> "RefDet":
        """Encode reference images once and cache what predict() needs (the ViT never runs per frame).

        images: list of K RGB uint8 arrays (one object), a list of such lists (several objects; K may differ), or a
        (K, 3, R, R) / (C, K, 3, R, R) tensor in [0, 1] (uint8 tensors are scaled). Labels in predict() index objects.
        """
        per_object = reference_tensors(images, self.config.support_size)
        was = self.training
        if was:  # toggling ~500 modules costs milliseconds: only when needed
            self.eval()
        try:
            if len({t.shape[0] for t in per_object}) == 1:
                refs = self.encode_references(torch.stack(per_object))
            else:  # different K per object: encode one by one, concatenate per object
                parts = [self.encode_references(t.unsqueeze(0)) for t in per_object]
                refs = {"ref_emb": None,
                        "prototypes": torch.cat([p["prototypes"] for p in parts]),
                        **({"parts": _pad_parts([p["parts"] for p in parts])} if "parts" in parts[0] else {}),
                        "scale_protos": [torch.cat(s) for s in zip(*(p["scale_protos"] for p in parts))],
                        # token counts may differ (reference_fusion='tokens'): fusion only needs all tokens together
                        "tokens": [torch.cat([t.flatten(0, 1) for t in ts]).unsqueeze(0)
                                   for ts in zip(*(p["tokens"] for p in parts))]}
            ref_emb = self._verifier_references(self.verifier, self.verifier.config.crop_size, images, per_object) \
                if self.verifier is not None else None
            cue_emb = {n: self._verifier_references(c, c.config.cue_crop_size, images, per_object)
                       for n, c in self.cues.items()}
        finally:
            if was:
                self.train()
        self._refs, self._ref_emb, self._cue_emb = refs, ref_emb, cue_emb
        # what scores each frame's candidates until the next set_references: a frozen copy of the verifier as it is
        self._embed = inference_verifier(self.verifier) if ref_emb is not None else None
        self._cue_run = {n: inference_verifier(c) for n, c in self.cues.items()}  # the cues' frozen copies
        return self

    def _verifier_references(self, net: nn.Module, size: int, images, per_object: list[torch.Tensor]) \
            -> list[torch.Tensor]:
        """An embedder's (K, D) embeddings of each object's photos (the verifier's or a cue's), from the photos
        themselves when they are arrays (letterboxed straight to its crop size, as in its training), else from the
        support tensors."""
        if torch.is_tensor(images):
            return [net(F.interpolate(t.to(self.device), size=(size, size), mode="bilinear",
                                      antialias=True, align_corners=False)) for t in per_object]
        photos = [[images]] if isinstance(images, np.ndarray) else \
            [list(o) for o in images] if isinstance(images[0], (list, tuple)) else [list(images)]
        return [embed_images(net, o, size, self.device) for o in photos]

    def _cached_refs(self, device, dtype) -> dict | None:
        """The cache follows the model: after .to(device) / .half() it is moved once, on first use."""
        r = self._refs
        if r is not None and (r["prototypes"].device != device or r["prototypes"].dtype != dtype):
            def mv(t):
                return t.to(device, dtype) if torch.is_tensor(t) else [mv(u) for u in t] if isinstance(t, list) else t

            r = self._refs = {k: mv(v) for k, v in r.items()}
        return r

    def set_cues(self, names) -> "RefDet":
        """Frozen pretrained embedders beside the verifier (VerifierConfig.cues, e.g. ("mobilenetv2",)): a model
        trained without them gains them here, and its decision must then be fitted again to weigh them
        (eval/calibration.calibrate). Clears the cached references."""
        if self.verifier is None:
            raise InputError("cues sit beside a verifier: this model has none")
        self.config.verifier = dataclasses.replace(self.config.verifier, cues=tuple(names))
        self.cues = build_cues(self.config.verifier).to(self.device)
        self.clear_references()
        return self

    @property
    def looks(self) -> dict:
        """The proposal scheme this model was calibrated with: {"tiles", "tile_every", "window"} (the search's
        default)."""
        return {"tiles": self.config.tiles, "tile_every": self.config.tile_every, "window": self.config.window}

    def clear_references(self) -> None:
        self._refs = self._ref_emb = self._embed = None
        self._cue_emb, self._cue_run = {}, {}

    @property
    def num_references(self) -> int:
        """Number of cached reference objects (0 when none)."""
        return 0 if self._refs is None else int(self._refs["prototypes"].shape[0])

    def _check_frame(self, i: int, f) -> np.ndarray:
        if not isinstance(f, np.ndarray) or f.ndim != 3 or f.shape[2] != 3 or f.dtype != np.uint8:
            desc = f"{f.dtype} {f.shape}" if isinstance(f, np.ndarray) else type(f).__name__
            raise InputError(f"frame {i}: expected an RGB uint8 (H, W, 3) array, got {desc}")
        return f

    @torch.no_grad()
    def predict(self, frames, conf: float = 0.25, iou: float = 0.5, max_det: int = 100, batch_size: int = 16,
                tiles: int = 0, tiled=None, windows=None, decision: Optional[Decision] = None) -> list[dict]:
        """RGB uint8 frames (any size; one array or a list) -> per frame {boxes (n,4) float32 xyxy original pixels,
        scores (n,) float32, labels (n,) int64 (index of the cached reference object), det_scores (n,) the
        detector's own, cosines (n,) the verifier's (0 without one), scale (n,) the look each came from (1: the
        whole frame)}, scores >= conf, best first.

        scores are the calibrated decision's probabilities (model.decision, from the checkpoint): with a verifier,
        the detector's top_k candidates of each frame are re-scored by their crops' likeness to the references.
        tiles N >= 2: frames also looked at as N x N overlapping tiles (ops/tiles.py), candidates merged across
        looks; `tiled` (one bool per frame): which frames get the tiles (default: all); `windows` (one (m, 4) array or
        None per frame): more looks at those windows (a track's search region, eval/search.Looks). `decision`: decide
        with this one instead of the model's (Decision(): the detector's own scores, what calibration collects)."""
        if self._refs is None and self.config.head_mode != "standard":
            raise RuntimeError("predict() needs references: call model.set_references(images) first")
        if isinstance(frames, np.ndarray) and frames.ndim == 3:
            frames = [frames]
        k = self.verifier.config.top_k if self.verifier is not None else max_det
        was = self.training
        if was:  # toggling ~500 modules costs milliseconds: only when needed
            self.eval()
        results = []
        try:
            for b0 in range(0, len(frames), batch_size):
                chunk = [self._check_frame(b0 + i, f) for i, f in enumerate(frames[b0:b0 + batch_size])]
                which = None if tiled is None else list(tiled[b0:b0 + batch_size])
                wins = None if windows is None else list(windows[b0:b0 + batch_size])
                for f, (boxes, det, labels, scale) in zip(chunk, frame_candidates(self.propose, chunk, conf, iou, k,
                                                                                   batch_size, tiles, which, wins)):
                    results.append(self._decide(f, boxes, det, labels, conf, max_det, scale, decision))
        finally:
            if was:
                self.train()
        return results

    @torch.no_grad()
    def propose(self, images: list[np.ndarray], conf: float, iou: float, k: int) -> list[tuple]:
        """Preprocess -> network -> postprocess: RGB uint8 images -> per image (boxes (n, 4) float32 in the image's
        own pixels, det_scores (n,), labels (n,)), the k best after class-wise NMS, none below CANDIDATE_CONF."""
        s, dev = self.config.imgsz, self.device
        dtype = next(self.parameters()).dtype
        refs = self._cached_refs(dev, dtype)
        # (img (H, W, 3), ratio, (pad_left, pad_top)): a rectangle of stride multiples (a video's frames share one),
        # the square only when images of different shapes come together
        lb = [letterbox(f, s, stride=max(self.strides)) for f in images]
        if len({l[0].shape for l in lb}) > 1:
            lb = [letterbox(f, s) for f in images]
        x = torch.from_numpy(np.stack([l[0] for l in lb])).to(dev).permute(0, 3, 1, 2)
        # (B, 3, H, W) in NHWC memory, as training feeds it: oneDNN's faster kernels for thin convs
        x = x.to(dtype).contiguous(memory_format=torch.channels_last) / 255
        dets = self.postprocess(self(x, refs=refs, std=False), min(conf, CANDIDATE_CONF), iou, k)
        out = []
        for f, (_, ratio, pad), d in zip(images, lb, dets):
            boxes = boxes_from_letterbox(d["boxes"].float().cpu(), ratio, pad, f.shape[:2]).numpy()
            out.append((boxes.astype(np.float32), d["scores"].float().cpu().numpy(),
                        d["labels"].cpu().numpy().astype(np.int64)))
        return out

    def _decide(self, frame, boxes, det_scores, labels, conf: float, max_det: int, scale=None,
                decision: Optional[Decision] = None) -> dict:
        """Candidates of one frame -> the verified, calibrated detections (see predict)."""
        v = self.verifier
        verifier = Cue(self._embed, self._ref_emb, v.config.crop_size, v.config.context) \
            if v is not None and self._ref_emb is not None else None
        cues = {n: Cue(self._cue_run[n], self._cue_emb[n], c.config.cue_crop_size, c.config.cue_context)
                for n, c in self.cues.items() if n in self._cue_emb}
        return decide_candidates(frame, boxes, det_scores, labels, decision or self.decision, conf, max_det, verifier,
                                 cues, scale)

    # ------------------------------------------------------------------ introspection
    def component_parameters(self) -> dict[str, list[nn.Parameter]]:
        """Parameters per component for layer-wise learning rates. The reference projections are new layers, so they
        go with the fusion (higher LR), not with the pretrained ViT. An ImageNet query backbone's pretrained layers are
        "pretrained" (x0.1, model/mobilenet_backbone.py says why), its new neck "backbone"."""
        vit = set(id(p) for p in self._vit_parameters())
        imagenet = list(self.backbone.imagenet.parameters()) if hasattr(self.backbone, "imagenet") else []
        pre = set(id(p) for p in imagenet)
        return {"reference": self._vit_parameters(),
                "pretrained": imagenet,
                "backbone": [p for p in self.backbone.parameters() if id(p) not in pre],
                "fusion": list(self.fusion.parameters()) + [p for p in self.reference.parameters() if id(p) not in vit],
                "head": list(self.head.parameters()) + (list(self.match.parameters()) if self.match else [])}

    def _vit_parameters(self) -> list[nn.Parameter]:
        """The reference encoder's own network (none for the siamese encoder: it shares the backbone)."""
        return list(self.reference.net.parameters()) if hasattr(self.reference, "net") else []

    @property
    def _reference_name(self) -> str:
        if not hasattr(self.reference, "net"):
            return "siamese: shares the backbone"
        return self.config.dino_model if self.reference.network == "dinov2" else "ImageNet MobileNetV2"

    def components(self) -> dict[str, list[nn.Parameter]]:
        """{component: its parameters}, the parts parameter_report counts (and exercise 6 with it)."""
        vit = set(id(p) for p in self._vit_parameters())
        rows = {
            f"reference encoder ({self._reference_name})": self._vit_parameters(),
            "reference projections": [p for p in self.reference.parameters() if id(p) not in vit],
            f"backbone + neck ({getattr(self.backbone, 'name', f'YOLOv8{self.config.yolo_scale}')})":
                list(self.backbone.parameters()),
            "fusion (CHEAF)": list(self.fusion.parameters()),
            f"head ({self.config.head_mode})": list(self.head.parameters()),
        }
        if self.match is not None:
            rows["appearance match"] = list(self.match.parameters())
        return rows

    def parameter_report(self, verbose: bool = True) -> dict[str, dict[str, int]]:
        """Parameters per component (total and trainable); prints a table when verbose."""
        rep = {k: {"params": sum(p.numel() for p in v), "trainable": sum(p.numel() for p in v if p.requires_grad)}
               for k, v in self.components().items()}
        rep["total"] = {k: sum(r[k] for r in rep.values()) for k in ("params", "trainable")}
        rep["total per frame (cached references)"] = {
            k: rep["total"][k] - rep[f"reference encoder ({self._reference_name})"][k]
            - rep["reference projections"][k] for k in ("params", "trainable")}
        if verbose:
            w = max(map(len, rep)) + 2
            log.info("\n".join([f"{'component':<{w}}{'params':>12}{'trainable':>12}"]
                               + [f"{k:<{w}}{r['params']:>12,}{r['trainable']:>12,}" for k, r in rep.items()]))
        return rep


def _pad_parts(parts: list[torch.Tensor]) -> torch.Tensor:
    """[(1, K_c*P, d)] of objects with different K -> (C, max K*P, d), each padded with its own first part (the match
    takes the best part, so a repeated part changes no score)."""
    n = max(p.shape[1] for p in parts)
    return torch.cat([torch.cat([p, p[:, :1].expand(1, n - p.shape[1], -1)], 1) for p in parts])


def build_refdet(config: ModelConfig | None = None, **overrides) -> RefDet:
    """RefDet from a ModelConfig (default: the guide's) with field overrides, e.g. build_refdet(imgsz=320)."""
    return RefDet(with_overrides(config or ModelConfig(), overrides))


def with_overrides(cfg: ModelConfig, overrides: dict) -> ModelConfig:
    """A copy of `cfg` with `overrides` (TypeError naming an unknown field, as a misspelt keyword would); the values
    are checked where the network is built (RefDet.__init__). Used by build_refdet and model/loading.load_model."""
    names = {f.name for f in dataclasses.fields(ModelConfig)}
    bad = sorted(set(overrides) - names)
    if bad:
        raise TypeError(f"unknown ModelConfig field(s): {', '.join(bad)}; known: {', '.join(sorted(names))}")
    return dataclasses.replace(cfg, **overrides)
