"""Find the referenced object in every frame of a video.

References are encoded once (`model.set_references`), then frames stream through the reference search
(eval/search.py: the detector, its verifier and decision, and with `track=True` the tracker: one box per frame, short
gaps filled, whole tracks scored). Outputs: per-frame detections, an annotated mp4, and a JSON in the challenge's
submission format.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import cv2
import numpy as np

from ..data.video import iter_frames, video_info
from ..ops.images import draw, read_rgb
from .search import Detections, ReferenceSearch


def predict_video(model, video: str | Path, conf: float = 0.25, iou: float = 0.5, batch_size: int = 8,
                  max_det: int = 20, progress: bool = True, frames: Optional[list[int]] = None, track: bool = False,
                  max_gap: int = 8, tiles: Optional[int] = None, tile_every: Optional[int] = None,
                  window: Optional[float] = None) -> tuple[Detections, dict]:
    """Run a model with cached references over a video; returns ({frame: detections}, {"fps", "frames", "seconds"}):
    the reference search of eval/search.py with these settings.

    tiles N >= 2: every `tile_every`-th frame is also looked at as N x N tiles (RefDet.predict, ops/tiles.py);
    window Z > 1: also a square Z times smaller than the frame around the best live track while its box is small
    (eval/search.Looks). None: the model's own scheme (`model.looks`, what its decision was calibrated with).

    track: one box per frame from the tracker (every candidate goes in; the tracked boxes scoring >= conf come
    out, as calibration chose the threshold); else every detection scoring >= conf."""
    search = ReferenceSearch(model, conf=conf, iou=iou, max_det=max_det, batch_size=batch_size, track=track,
                             max_gap=max_gap, tiles=tiles, tile_every=tile_every, window=window)
    return search.run(video, frames, progress)


def top_box(det: Optional[dict]) -> Optional[tuple[np.ndarray, float]]:
    if det is None or len(det["scores"]) == 0:
        return None
    k = int(np.argmax(det["scores"]))
    return det["boxes"][k], float(det["scores"][k])


def to_submission(video_id: str, dets: Detections, conf: float = 0.0) -> dict:
    """The challenge's format: one top box per frame that has one, as integers."""
    bxs = []
    for f in sorted(dets):
        tb = top_box(dets[f])
        if tb is None or tb[1] < conf:
            continue
        x1, y1, x2, y2 = (int(round(float(v))) for v in tb[0])
        bxs.append({"frame": int(f), "x1": x1, "y1": y1, "x2": x2, "y2": y2})
    return {"video_id": video_id, "detections": [{"bboxes": bxs}] if bxs else []}


def write_annotated_video(video: str | Path, dets: Detections, out_path: str | Path, gt: Optional[dict] = None,
                          conf: float = 0.0) -> Path:
    """mp4 (mp4v) of the video with the top detection per frame drawn (and ground truth, when given)."""
    info = video_info(video)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    w = cv2.VideoWriter(str(out_path), cv2.VideoWriter_fourcc(*"mp4v"), info["fps"] or 25.0,
                        (info["width"], info["height"]))
    if not w.isOpened():
        raise IOError(f"cannot write {out_path} with the mp4v codec")
    try:
        for i, frame in iter_frames(video):
            tb = top_box(dets.get(i))
            boxes, scores = ([tb[0]], [tb[1]]) if tb is not None and tb[1] >= conf else ([], [])
            img = draw(frame, boxes, scores, (gt or {}).get(i, ()), label=f"frame {i}")
            w.write(cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    finally:
        w.release()
    return out_path


def read_images(paths: list[str | Path]) -> list[np.ndarray]:
    return [read_rgb(p, "reference image") for p in paths]
