"""A training-free baseline: multi-scale normalised cross-correlation (colour) of the reference photos over each frame.

It is the floor a trained RefDet must clear: it knows what the object looks like (its photos) but learns nothing
about how a drone sees it. Each reference's central crop (the object; the photo's border is background) is resized
to a range of object sizes and slid over the frame with OpenCV's `matchTemplate` (TM_CCOEFF_NORMED); the best peaks
over references and scales, after NMS, are the detections. It implements the same interface as `RefDet`
(model/interface.ReferenceDetector: `propose` its matching, `predict` through the same frame_candidates, so tiles
work for it too), so `refdet_lib.evaluate.evaluate_model` scores it with the same metrics. It has no decision: the
correlation is the score.
"""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np
import torch
import torchvision


class TemplateMatcher:
    def __init__(self, sizes: Sequence[int] = (5, 7, 10, 14, 20, 28), crop: float = 0.6, peaks: int = 5,
                 ref_width: int = 320):
        self.sizes, self.crop, self.peaks, self.ref_width = tuple(sizes), crop, peaks, ref_width
        self.templates: list[np.ndarray] = []

    # model/interface.ReferenceDetector, what inference.predict_video / evaluate.evaluate_model call
    @property
    def num_references(self) -> int:
        return 1 if self.templates else 0

    @property
    def looks(self) -> dict:
        return {"tiles": 0, "tile_every": 1, "window": 0.0}

    def clear_references(self) -> None:
        self.templates = []

    def set_references(self, images: list[np.ndarray]) -> "TemplateMatcher":
        """K RGB photos of one object -> colour templates at every size (object's longer side = size px)."""
        self.templates = []
        for im in images:
            h, w = im.shape[:2]
            ch, cw = int(h * self.crop), int(w * self.crop)
            obj = im[(h - ch) // 2:(h + ch) // 2, (w - cw) // 2:(w + cw) // 2]  # colour: objects differ in hue
            for s in self.sizes:
                r = s / max(ch, cw)
                t = cv2.resize(obj, (max(3, round(cw * r)), max(3, round(ch * r))), interpolation=cv2.INTER_AREA)
                if t.std() > 1e-3:
                    self.templates.append(t)
        return self

    def _frame(self, frame: np.ndarray, conf: float, iou: float, max_det: int) -> dict:
        scale = self.ref_width / frame.shape[1]  # frames are matched at ref_width (template sizes are for it)
        g = frame
        if abs(scale - 1) > 1e-3:
            g = cv2.resize(g, (round(frame.shape[1] * scale), round(frame.shape[0] * scale)))
        boxes, scores = [], []
        for t in self.templates:
            th, tw = t.shape[:2]
            if th >= g.shape[0] or tw >= g.shape[1]:
                continue
            res = cv2.matchTemplate(g, t, cv2.TM_CCOEFF_NORMED)
            flat = res.ravel()
            k = min(self.peaks, flat.size)
            idx = np.argpartition(-flat, k - 1)[:k]
            ys, xs = np.unravel_index(idx, res.shape)
            for x, y, s in zip(xs, ys, flat[idx]):
                boxes.append((x, y, x + tw, y + th))
                scores.append(float(s))
        if not boxes:
            return {"boxes": np.zeros((0, 4), np.float32), "scores": np.zeros(0, np.float32),
                    "labels": np.zeros(0, np.int64)}
        b = torch.tensor(boxes, dtype=torch.float32) / scale
        s = torch.tensor(scores, dtype=torch.float32).clamp(0, 1)
        keep = s > conf
        b, s = b[keep], s[keep]
        k = torchvision.ops.nms(b, s, iou)[:max_det]
        return {"boxes": b[k].numpy(), "scores": s[k].numpy(), "labels": np.zeros(len(k), np.int64)}

    def propose(self, images: list[np.ndarray], conf: float, iou: float, k: int) -> list[tuple]:
        """Per image (boxes, scores, labels): its k best matches after NMS."""
        out = []
        for f in images:
            d = self._frame(f, conf, iou, k)
            out.append((d["boxes"].astype(np.float32), d["scores"].astype(np.float32), d["labels"]))
        return out

    def predict(self, frames, conf: float = 0.25, iou: float = 0.5, max_det: int = 100, batch_size: int = 16,
                tiles: int = 0, tiled=None, windows=None,
                decision=None) -> list[dict]:  # noqa: ARG002  (no decision: see above)
        """RefDet.predict's contract: per frame {boxes, scores, labels, det_scores, cosines (0), scale}."""
        from ..ops.tiles import frame_candidates

        if not self.templates:
            raise RuntimeError("call set_references(images) first")
        if isinstance(frames, np.ndarray) and frames.ndim == 3:
            frames = [frames]
        res = []
        for boxes, scores, labels, scale in frame_candidates(self.propose, list(frames), conf, iou, max_det,
                                                            batch_size, tiles, tiled, windows):  # all looks > conf
            res.append({"boxes": boxes, "scores": scores, "labels": labels, "det_scores": scores,
                        "cosines": np.zeros(len(scores), np.float32), "scale": scale})
        return res
