"""Find the referenced object in every frame of a video.

References are encoded once (`model.set_references`), then frames stream through the detector (and its verifier:
`model.predict` returns calibrated, verified candidates) in one sequential decoding pass, a batch at a time. With
`track=True` the candidates go through the tracker frame by frame (eval/tracking.py): one box per frame, short gaps
filled, whole tracks scored. Outputs: per-frame detections, an annotated mp4, and a JSON in the challenge's
submission format.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import cv2
import numpy as np

from ..data.video import iter_frames, video_info
from ..errors import DatasetError, Problem
from ..log import bars
from ..model.refdet import CANDIDATE_CONF
from ..ops.images import draw, read_rgb

Detections = dict[int, dict]  # frame -> {"boxes": (n, 4), "scores": (n,)}


def predict_video(model, video: str | Path, conf: float = 0.25, iou: float = 0.5, batch_size: int = 8,
                  max_det: int = 20, progress: bool = True, frames: Optional[list[int]] = None, track: bool = False,
                  max_gap: int = 8, tiles: Optional[int] = None, tile_every: Optional[int] = None
                  ) -> tuple[Detections, dict]:
    """Run a model with cached references over a video; returns ({frame: detections}, {"fps", "frames", "seconds"}).

    tiles N >= 2: every `tile_every`-th frame is also looked at as N x N tiles (RefDet.predict, ops/tiles.py);
    None: the model's own scheme (`model.looks`, what its decision was calibrated with; none for a model without).

    track: one box per frame from the tracker (every candidate goes in; the tracked boxes scoring >= conf come
    out, as calibration chose the threshold); else every detection scoring >= conf."""
    from tqdm.auto import tqdm

    from .tracking import TargetTracker

    info = video_info(video)
    if model.num_references == 0:
        raise RuntimeError("call model.set_references(images) before predict_video")
    out: Detections = {}
    tracker = TargetTracker(info["fps"] or 25.0, max_gap) if track else None
    idx, buf = [], []
    t0 = time.perf_counter()
    total = info["frames"] if frames is None else len({int(f) for f in frames if 0 <= int(f) < info["frames"]})
    bar = tqdm(total=total, desc=f"predict {Path(video).parent.name or Path(video).name}", disable=not bars(progress),
               unit="frame", leave=False)

    conf_in = min(conf, CANDIDATE_CONF) if track else conf
    own = model.looks  # model/interface.ReferenceDetector
    tiles = own.get("tiles", 0) if tiles is None else tiles
    tile_every = own.get("tile_every", 1) if tile_every is None else tile_every

    def flush():
        looks = {"tiles": tiles, "tiled": [i % max(1, tile_every) == 0 for i in idx]} if tiles >= 2 else {}
        for i, f, r in zip(idx, buf, model.predict(buf, conf=conf_in, iou=iou, max_det=max_det,
                                                   batch_size=batch_size, **looks)):
            out[i] = {"boxes": r["boxes"], "scores": r["scores"]}
            if tracker is not None:
                tracker.update(i, out[i], f)
        bar.update(len(buf))
        idx.clear()
        buf.clear()

    for i, frame in iter_frames(video, frames):
        idx.append(i)
        buf.append(frame)
        if len(buf) == batch_size:
            flush()
    if buf:
        flush()
    bar.close()
    if len(out) < total:  # the header promised more: a file corrupt or truncated mid-stream, never a silent result
        raise DatasetError([Problem(str(video), f"its header says {info['frames']} frames but decoding stopped after "
                                    f"{max(out, default=-1) + 1} (corrupt or truncated mid-stream)",
                                    video_id=Path(video).parent.name, field="frames")])
    if tracker is not None:
        out = {f: d if len(d["scores"]) and d["scores"][0] >= conf else _empty() for f, d in tracker.result().items()}
    secs = time.perf_counter() - t0
    return out, {"frames": len(out), "seconds": secs, "fps": len(out) / secs if secs > 0 else float("nan")}


def _empty() -> dict:
    return {"boxes": np.zeros((0, 4), np.float32), "scores": np.zeros(0, np.float32)}


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
