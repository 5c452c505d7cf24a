"""Evaluate a model on a test split: mAP@0.5 (and 0.5:0.95), precision, recall and ST-IoU, per video and overall,
for 1-shot and 3-shot references.

Every frame of every test video is scored, not only annotated ones: a detection where the object is absent is a
false positive, and ST-IoU counts it against the score, as the challenge does. The formulas live in
`refdet_lib.eval.metrics`; this module runs the model and writes the report (dict, printed table, metrics.json, plots).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from ..data.annotations import VIDEO_NAME, list_reference_images, validate_dataset
from ..errors import InputError
from .inference import predict_video, read_images
from .metrics import evaluate_videos, format_table, save_json

log = logging.getLogger(__name__)

MAP_CONF = 0.001  # mAP needs the whole ranking: keep low-score detections (as ultralytics' val does)


def evaluate_model(model, data_root: str | Path, annotations: str | Path, shots: Sequence[int] = (1, 3),
                   conf: Optional[float] = None, iou: float = 0.5, out_dir: Optional[str | Path] = None,
                   progress: bool = True, verbose: bool = True, max_frames: Optional[int] = None,
                   videos: Optional[Sequence[str]] = None, predictions: Optional[dict] = None,
                   track: bool = False, tiles: Optional[int] = None, tile_every: Optional[int] = None,
                   window: Optional[float] = None) -> dict:
    """{f"{k}-shot": evaluate_videos(...) results} for each k in `shots`; writes metrics.json and plots to out_dir.

    conf: the operating point of precision, recall and ST-IoU; None = the model's calibrated threshold
    (`model.decision`: tracked or frame one), 0.25 for a model without one. mAP uses every candidate.
    track: one box per frame from the tracker (eval/tracking.py), as `refdet predict` reports.

    max_frames: score only the first N frames of each video (quick checks in lessons and tests).
    videos: score only these video ids (default: every video of the annotations).
    tiles, tile_every, window: the finer looks (predict_video), e.g. tiles=2, tile_every=4 (None: the model's own).
    predictions: a dict to fill with {"k-shot": (predictions, ground truth) per video}, to score again at other
    confidence thresholds with `metrics.evaluate_videos` without running the model again.
    """
    if conf is None:
        dec = getattr(model, "decision", None)
        conf = (dec.threshold if track else dec.frame_threshold) if dec is not None else 0.25
    anns, _ = validate_dataset(data_root, annotations)
    if videos is not None:
        missing = sorted(set(videos) - set(anns))
        if missing:
            raise InputError(f"videos not in {annotations}: {', '.join(missing)}")
        anns = {v: anns[v] for v in videos}
    data_root = Path(data_root)
    results, preds_by_shot = {}, {}
    for k in shots:
        preds, gts = {}, {}
        for vid in sorted(anns):
            refs = read_images(list_reference_images(data_root / vid)[:k])
            model.set_references(refs)
            video = data_root / vid / VIDEO_NAME
            frames = None if max_frames is None else list(range(max_frames))
            dets, _ = predict_video(model, video, conf=MAP_CONF, iou=iou, progress=progress, frames=frames,
                                    track=track, tiles=tiles, tile_every=tile_every, window=window)
            preds[vid] = dets
            gts[vid] = {f: np.zeros((0, 4), np.float32) for f in dets}
            gts[vid].update({f: b for f, b in anns[vid].boxes.items() if max_frames is None or f < max_frames})
        res = evaluate_videos(preds, gts, conf=conf)
        results[f"{k}-shot"] = res
        preds_by_shot[f"{k}-shot"] = (preds, gts)
        if verbose:
            log.info(f"\n{k}-shot ({len(refs)} reference image(s) per object)\n{format_table(res)}")
    model.clear_references()
    if predictions is not None:
        predictions.update(preds_by_shot)
    if out_dir is not None:
        out = Path(out_dir)
        save_json(results, out / "metrics.json")
        from .plots import save_evaluation_plots
        save_evaluation_plots(results, preds_by_shot, data_root, out, conf=conf)
        if verbose:
            log.info(f"\nmetrics.json and plots written to {out}")
    return results


def summary_row(results: dict) -> dict:
    """One flat row (per shot: mAP50, P, R, mean ST-IoU) for tables and the experiments log."""
    row = {}
    for shot, r in results.items():
        o = r["overall"]
        row.update({f"{shot} mAP@0.5": o["map50"], f"{shot} P": o["precision"], f"{shot} R": o["recall"],
                    f"{shot} ST-IoU": r["mean_st_iou"]})
    return row


def evaluate_checkpoint(checkpoint: str | Path, data_root: str | Path, annotations: str | Path,
                        shots: Sequence[int] = (1, 3), conf: Optional[float] = None, iou: float = 0.5,
                        out_dir: Optional[str | Path] = None, device: str = "auto", imgsz: Optional[int] = None,
                        **kw) -> dict:
    """evaluate_model on the checkpoint's model (`imgsz`: another inference size than the one it was saved with)."""
    from ..model.loading import load_model
    from ..runtime import select_device

    model = load_model(checkpoint, select_device(device), **({"imgsz": imgsz} if imgsz else {}))
    return evaluate_model(model, data_root, annotations, shots, conf, iou, out_dir, **kw)
