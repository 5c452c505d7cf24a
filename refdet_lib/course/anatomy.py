"""Inside the model, on one real frame and one reference set: what each part computes, as arrays a lesson draws.

    a = open_model(model, frame, photos)      one forward pass with hooks, nothing changed in the model
    a.feats[i]          P3/P4/P5 backbone maps (c_i, h_i, w_i), before the fusion
    a.channel_gate[i]   CHEAF's channel gate (c_i,) and a.spatial_gate[i] its spatial gate (h_i, w_i): where and in
                        which channels reference evidence enters  out_i = x_i + g_c * g_s * evidence_i
    a.heat[i]           the prototype probability per anchor cell (h_i, w_i): sigma(s cos(e_a, p) + b_i (+ match))
    a.best              the best anchor: level, cell, box (input pixels), score
    a.dfl               that anchor's DFL distributions (4, reg_max): softmax over the distance bins of each side
    a.candidates        the frame's top-k candidates with detector score, verifier cosine and decision p
`embedding_points` collects anchor embeddings of objects and their reference prototypes over many frames (the space
SupCon and CPE shape); `project_2d` lays them flat (PCA) for a scatter plot.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from ..ops.boxes import letterbox


@dataclass
class Anatomy:
    image: np.ndarray                    # the letterboxed frame the network saw (H, W, 3)
    ratio: float
    pad: tuple
    strides: tuple
    feats: list = field(default_factory=list)
    fused: list = field(default_factory=list)
    channel_gate: list = field(default_factory=list)
    spatial_gate: list = field(default_factory=list)
    heat: list = field(default_factory=list)
    best: dict = field(default_factory=dict)
    dfl: Optional[np.ndarray] = None
    candidates: dict = field(default_factory=dict)


@torch.no_grad()
def open_model(model, frame: np.ndarray, photos: list[np.ndarray]) -> Anatomy:
    """Run `model` once on `frame` (RGB uint8) with the reference `photos` of one object, recording every part."""
    model.eval()
    dev = model.device
    model.set_references(photos)
    img, ratio, pad = letterbox(frame, model.config.imgsz, stride=max(model.strides))
    x = torch.from_numpy(img).to(dev).permute(2, 0, 1)[None].float() / 255
    rec: dict = {"gc": {}, "gs": {}}
    hooks = [model.backbone.register_forward_hook(lambda _m, _i, o: rec.__setitem__("feats", o))]
    for i, g in enumerate(model.fusion.gates):
        hooks.append(g.channel.register_forward_hook(lambda _m, _i, o, i=i: rec["gc"].__setitem__(i, o)))
        hooks.append(g.spatial.register_forward_hook(lambda _m, _i, o, i=i: rec["gs"].__setitem__(i, o)))
    hooks.append(model.fusion.register_forward_hook(lambda _m, _i, o: rec.__setitem__("fused", o)))
    try:
        out = model(x, refs=model._refs, std=False)
    finally:
        for h in hooks:
            h.remove()
    feats = rec["feats"][0] if isinstance(rec["feats"], tuple) else rec["feats"]
    a = Anatomy(image=img, ratio=ratio, pad=pad, strides=tuple(model.strides))
    a.feats = [f[0].float().cpu().numpy() for f in feats]
    a.fused = [f[0].float().cpu().numpy() for f in rec["fused"]]
    a.channel_gate = [torch.sigmoid(rec["gc"][i][0]).float().cpu().numpy() for i in range(len(feats))]
    a.spatial_gate = [torch.sigmoid(rec["gs"][i][0, 0]).float().cpu().numpy() for i in range(len(feats))]
    p = torch.sigmoid(out["proto_logits"][0, 0].float())  # (A,) for the one object
    sizes = [h * w for h, w in out["feat_shapes"]]
    a.heat = [m.view(h, w).cpu().numpy() for m, (h, w) in zip(p.split(sizes), out["feat_shapes"])]
    k = int(p.argmax())
    level = int(np.searchsorted(np.cumsum(sizes), k, side="right"))
    cell = k - int(sum(sizes[:level]))
    h, w = out["feat_shapes"][level]
    box = model.head.decode_boxes(out["box_dist"], out["anchor_points"], out["stride_tensor"])[0, k]
    a.best = {"level": level, "stride": a.strides[level], "cell": (cell // w, cell % w), "score": float(p[k]),
              "box": box.float().cpu().numpy()}
    reg = model.head.reg_max
    a.dfl = torch.softmax(out["box_dist"][0, :, k].float().view(4, reg), -1).cpu().numpy()  # (4, reg_max)
    c = model.predict([frame], conf=0.0)[0]  # candidates with the detector's score, the verifier's cosine, p
    a.candidates = {k2: c[k2] for k2 in ("boxes", "scores", "det_scores", "cosines")}
    model.clear_references()
    return a


def wiou_focus_curve(alpha: float = 1.9, delta: float = 3.0, beta: Optional[np.ndarray] = None):
    """WIoU v3's focusing coefficient r(beta) = beta / (delta alpha^(beta - delta)) (losses.box.WIoUv3Loss.focus)."""
    from ..losses.box import WIoUv3Loss

    beta = np.linspace(0, 12, 241) if beta is None else np.asarray(beta, np.float32)
    m = WIoUv3Loss(alpha=alpha, delta=delta)  # iou_mean starts at 1: focus(l) is r at beta = l
    return beta, m.focus(torch.tensor(beta, dtype=torch.float32)).numpy()


@torch.no_grad()
def embedding_points(model, data_root, annotations, videos: Optional[list[str]] = None, frames: int = 6,
                     shots: int = 3) -> dict:
    """For each video: the prototype of its reference photos and the anchor embeddings at its object's centre in
    `frames` annotated frames -> {"emb": (N, D), "video": (N,) index, "is_proto": (N,) bool, "names": [...]}"""
    from ..data.annotations import list_reference_images, parse_annotations
    from ..data.video import iter_frames
    from ..ops.images import read_rgb

    anns = parse_annotations(annotations)
    names = sorted(anns) if videos is None else list(videos)
    model.eval()
    embs, vid, proto = [], [], []
    for j, v in enumerate(names):
        root = Path(data_root) / v
        model.set_references([read_rgb(p) for p in list_reference_images(root)[:shots]])
        protos = model._refs["prototypes"]  # (1, D)
        embs.append(torch.nn.functional.normalize(protos.float(), dim=-1)[0].cpu().numpy())
        vid.append(j)
        proto.append(True)
        ann = sorted(anns[v].boxes)
        picks = [ann[int(i)] for i in np.linspace(0, len(ann) - 1, min(frames, len(ann)))]
        for f, img in iter_frames(root / "drone_video.mp4", picks):
            lb, r, pad = letterbox(img, model.config.imgsz, stride=max(model.strides))
            x = torch.from_numpy(lb).to(model.device).permute(2, 0, 1)[None].float() / 255
            out = model(x, refs=model._refs, std=False)
            b = anns[v].boxes[f][0]
            cx, cy = (b[0] + b[2]) / 2 * r + pad[0], (b[1] + b[3]) / 2 * r + pad[1]
            pts = out["anchor_points"] * out["stride_tensor"]  # (A, 2) anchor centres in input pixels
            d = (pts[:, 0] - cx) ** 2 + (pts[:, 1] - cy) ** 2
            d = d + 1e9 * (out["stride_tensor"][:, 0] != out["stride_tensor"].min())  # the finest level (P3)
            embs.append(out["anchor_emb"][0, int(d.argmin())].float().cpu().numpy())
            vid.append(j)
            proto.append(False)
        model.clear_references()
    return {"emb": np.stack(embs), "video": np.array(vid), "is_proto": np.array(proto), "names": names}


def project_2d(emb: np.ndarray) -> np.ndarray:
    """(N, D) -> (N, 2): the two principal directions of the centred embeddings (PCA by SVD)."""
    x = emb - emb.mean(0, keepdims=True)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    return x @ vt[:2].T


def separation(points: dict) -> float:
    """How well the space groups each object with its own photos: the mean over objects of (cosine of its frame
    embeddings to its own prototype) - (their best cosine to another object's prototype). > 0: own photos closer."""
    e = points["emb"] / np.linalg.norm(points["emb"], axis=1, keepdims=True)
    protos = {int(v): e[i] for i, (v, p) in enumerate(zip(points["video"], points["is_proto"])) if p}
    gaps = []
    for i, (v, p) in enumerate(zip(points["video"], points["is_proto"])):
        if p:
            continue
        own = float(e[i] @ protos[int(v)])
        other = max(float(e[i] @ q) for k, q in protos.items() if k != int(v)) if len(protos) > 1 else 0.0
        gaps.append(own - other)
    return float(np.mean(gaps)) if gaps else float("nan")
