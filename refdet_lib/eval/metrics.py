"""Detection metrics for one referenced object: box IoU, matching, AP/mAP, precision/recall, ST-IoU.

No model and no I/O except `save_json`. `refdet_lib.eval.evaluate` runs a model over a dataset and hands its
predictions here. What ultralytics already computes (box IoU, prediction matching, AP) is ultralytics' own code, so
our numbers are `yolo val`'s; what is ours is the per-video pooling, ST-IoU and the report. Inputs, in original pixels (docs/contracts.md, "Predictions for evaluation"):

    preds: {key: {"boxes": (n, 4) x1y1x2y2, "scores": (n,)}}     gts: {key: (m, 4) x1y1x2y2}

A key is a frame (frame index inside one video, or (video_id, frame) when videos are pooled). A key missing from one
side means "nothing there": a frame with predictions and no gt contributes false positives, a frame with gt and no
predictions contributes misses. There is a single class: the object shown by the reference images.

Formulas (one IoU threshold t; TP/FP decided by `match_predictions`):
    precision = TP / n_pred            recall = TP / n_gt            F1 = 2 TP / (n_pred + n_gt)
    AP        = area under the precision envelope of the score-ranked PR curve (`average_precision`)
    mAP50     = AP at t = 0.5;  mAP50-95 = mean AP over t = 0.50, 0.55, ..., 0.95 (COCO)
    ST-IoU    = sum_{f in G and P} IoU(g_f, p_f) / |G or P|       (G, P: frames with a gt / a predicted box)

Conventions. mAP uses *every* prediction it is given (keep low-score ones, e.g. conf 0.001, as ultralytics' val
does): dropping them cuts the PR curve short. Precision, recall and F1 are read at one operating point, the
predictions with score >= `conf`, because that is what a deployed detector outputs. A ratio with a zero denominator
is undefined and reported as NaN (precision with no predictions, recall/AP with no gt), never as a made-up 0 or 1;
`format_table` prints it as "-" and `save_json` writes null.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Hashable, Mapping, Sequence

import numpy as np
import torch
from ultralytics.engine.validator import BaseValidator
from ultralytics.utils.metrics import compute_ap

from ..errors import InputError
from ..ops.boxes import box_iou

IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)  # COCO's 0.50:0.05:0.95, same values as np.arange(0.5, 0.96, 0.05)


# ------------------------------------------------------------------------------------------ matching and AP
def match_predictions(pred_boxes: np.ndarray, pred_scores: np.ndarray, gt_boxes: np.ndarray,
                      iou_thresholds=(0.5,)) -> np.ndarray:
    """Mark each prediction of ONE frame true/false positive at each IoU threshold -> tp (n, T) bool.

    ultralytics' own matching (`BaseValidator.match_predictions`, what `yolo val` runs on NMS output, which comes
    sorted by score): each prediction wants the gt it overlaps most (IoU >= t); when a higher-scored prediction
    already holds that gt it is a false positive, with no fall-back. So a duplicate detection of a matched object is
    a false positive (that is what NMS is judged on). Predictions are put in score order first, as in `yolo val`.
    """
    pred_boxes = np.asarray(pred_boxes, dtype=np.float64).reshape(-1, 4)
    pred_scores = np.asarray(pred_scores, dtype=np.float64).reshape(-1)
    gt_boxes = np.asarray(gt_boxes, dtype=np.float64).reshape(-1, 4)
    thresholds = np.atleast_1d(np.asarray(iou_thresholds, dtype=np.float64))
    if len(pred_scores) != len(pred_boxes):
        raise InputError(f"match_predictions: {len(pred_boxes)} boxes but {len(pred_scores)} scores")
    if len(pred_boxes) == 0 or len(gt_boxes) == 0:
        return np.zeros((len(pred_boxes), len(thresholds)), dtype=bool)
    order = np.argsort(-pred_scores, kind="stable")
    iou = torch.from_numpy(box_iou(gt_boxes, pred_boxes[order]))  # (m, n): labels x detections, as ultralytics takes it
    validator = SimpleNamespace(iouv=torch.from_numpy(thresholds))  # the one attribute the method reads
    one_class = torch.zeros(len(pred_boxes)), torch.zeros(len(gt_boxes))
    tp = np.zeros((len(pred_boxes), len(thresholds)), dtype=bool)
    tp[order] = BaseValidator.match_predictions(validator, *one_class, iou).numpy()
    return tp


def average_precision(recall: np.ndarray, precision: np.ndarray) -> float:
    """Area under a PR curve given as cumulative (recall, precision) of the score-ranked predictions: ultralytics'
    `compute_ap` (sentinels (0, 1) and (1, 0), the precision envelope, 101-point interpolation, trapezoid rule), so
    numbers match `yolo val`, with its two quirks: a perfect detector scores 0.995, and the straight line from the
    last point down to (1, 0) credits recall never reached (one hit of two gts at precision 1 scores 0.75)."""
    recall = np.asarray(recall, dtype=np.float64).reshape(-1)
    precision = np.asarray(precision, dtype=np.float64).reshape(-1)
    if recall.shape != precision.shape:
        raise ValueError(f"average_precision: recall {recall.shape} and precision {precision.shape} differ")
    if len(recall) == 0:
        return 0.0  # no predictions: no curve (ultralytics' ap_per_class skips the class, leaving AP 0)
    return float(compute_ap(recall, precision)[0])


# ------------------------------------------------------------------------------------------------- input checking
def _as_boxes(x: Any, where: str) -> np.ndarray:
    """Any (4,) / (m, 4) / empty array-like -> float64 (m, 4); a clear error naming `where` otherwise."""
    if x is None:
        return np.zeros((0, 4))
    arr = np.asarray(x, dtype=np.float64)
    if arr.size == 0:
        return np.zeros((0, 4))
    if arr.shape == (4,):
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise InputError(f"{where}: boxes must have shape (n, 4) x1y1x2y2, got {arr.shape}")
    if not np.isfinite(arr).all():
        raise InputError(f"{where}: boxes contain NaN or inf")
    return arr


def _as_pred(p: Any, where: str) -> tuple[np.ndarray, np.ndarray]:
    """One frame's prediction -> (boxes (n, 4), scores (n,)).

    Accepts {"boxes", "scores"}, or a bare box array: one (4,) box gets score 1; several boxes without scores are
    rejected because nothing says which one the detector prefers.
    """
    if isinstance(p, Mapping):
        missing = {"boxes", "scores"} - set(p)
        if missing:
            raise InputError(f"{where}: prediction dict lacks {sorted(missing)} (needs 'boxes' and 'scores')")
        boxes = _as_boxes(p["boxes"], f"{where}['boxes']")
        scores = np.asarray(p["scores"], dtype=np.float64).reshape(-1)
        if len(scores) != len(boxes):
            raise InputError(f"{where}: {len(boxes)} boxes but {len(scores)} scores")
        if not np.isfinite(scores).all():
            raise InputError(f"{where}['scores']: contains NaN or inf")
        return boxes, scores
    boxes = _as_boxes(p, where)
    if len(boxes) > 1:
        raise InputError(f"{where}: {len(boxes)} boxes given without scores; pass {{'boxes': ..., 'scores': ...}}")
    return boxes, np.ones(len(boxes))


def _check_mapping(x: Any, name: str) -> Mapping:
    if not isinstance(x, Mapping):
        raise TypeError(f"{name} must be a dict keyed by frame, got {type(x).__name__}")
    return x


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den > 0 else float("nan")


# ------------------------------------------------------------------------------------------------ detection metrics
def detection_metrics(
    preds: Mapping[Hashable, Any],
    gts: Mapping[Hashable, Any],
    conf: float = 0.25,
    iou_thresholds=IOU_THRESHOLDS,
) -> dict:
    """Pool all frames of `preds`/`gts` (see module doc) and compute single-class detection metrics.

    Returns {"map50" (AP at the first threshold), "map50_95" (mean AP over all thresholds), "precision", "recall",
    "f1" (these three for predictions with score >= conf, matched at the first threshold), "n_gt", "n_pred" (all
    predictions), "n_pred_conf" (those with score >= conf), "conf", "ap" (T,) AP per threshold, "pr_recall", "pr_precision", "pr_scores" (n,) the raw PR curve at the first
    threshold with predictions ranked by score, for plotting}. AP values are NaN when there is no gt at all.
    """
    preds, gts = _check_mapping(preds, "preds"), _check_mapping(gts, "gts")
    thresholds = np.atleast_1d(np.asarray(iou_thresholds, dtype=np.float64))
    tps, scores, n_gt = [], [], 0
    for key in list(gts) + [k for k in preds if k not in gts]:
        g = _as_boxes(gts.get(key), f"gts[{key!r}]")
        b, s = _as_pred(preds[key], f"preds[{key!r}]") if key in preds else (np.zeros((0, 4)), np.zeros(0))
        tps.append(match_predictions(b, s, g, thresholds))
        scores.append(s)
        n_gt += len(g)
    tp = np.concatenate(tps) if tps else np.zeros((0, len(thresholds)), dtype=bool)  # (n, T)
    score = np.concatenate(scores) if scores else np.zeros(0)  # (n,)
    order = np.argsort(-score, kind="stable")
    tp, score = tp[order], score[order]

    tpc = tp.cumsum(0)  # (n, T) true positives among the top-k predictions
    fpc = (~tp).cumsum(0)
    recall = tpc / n_gt if n_gt else np.full(tpc.shape, np.nan)
    precision = tpc / np.maximum(tpc + fpc, 1)
    if n_gt == 0:
        ap = np.full(len(thresholds), np.nan)
    else:
        ap = np.array([average_precision(recall[:, j], precision[:, j]) for j in range(len(thresholds))])

    keep = score >= conf
    tp_conf, n_conf = int(tp[keep, 0].sum()), int(keep.sum())
    return {
        "map50": float(ap[0]),
        "map50_95": float(ap.mean()),
        "precision": _ratio(tp_conf, n_conf),
        "recall": _ratio(tp_conf, n_gt),
        "f1": _ratio(2 * tp_conf, n_conf + n_gt),
        "n_gt": int(n_gt),
        "n_pred": int(len(score)),
        "n_pred_conf": n_conf,
        "conf": float(conf),
        "ap": ap,
        "pr_recall": recall[:, 0].copy(),
        "pr_precision": precision[:, 0].copy(),
        "pr_scores": score,
    }


# ---------------------------------------------------------------------------------------------------------- ST-IoU
def st_iou(preds: Mapping[Hashable, Any], gts: Mapping[Hashable, Any], conf: float = 0.0) -> float:
    """Spatio-temporal IoU of ONE video (AeroEyes challenge): where and *when* the object is found.

        ST-IoU = sum_{f in G and P} IoU(g_f, p_f) / |G or P|

    G = frames with a gt box, P = frames with a predicted box. A frame only in P (false alarm) or only in G (miss)
    adds 0 to the sum and 1 to the denominator, so the score falls both for boxes off the object and for detections
    at the wrong time. The challenge submits one box per frame, so each frame keeps only its top-scoring prediction
    with score >= `conf` (a bare (4,) box per frame is accepted as is). If a frame has several gt boxes, the
    prediction is scored against the one it overlaps most. Defined as 0.0 when neither G nor P has any frame.
    """
    preds, gts = _check_mapping(preds, "preds"), _check_mapping(gts, "gts")
    total, frames = 0.0, 0
    for key in set(gts) | set(preds):
        g = _as_boxes(gts.get(key), f"gts[{key!r}]")
        b, s = _as_pred(preds[key], f"preds[{key!r}]") if key in preds else (np.zeros((0, 4)), np.zeros(0))
        b, s = b[s >= conf], s[s >= conf]
        if len(g) == 0 and len(b) == 0:
            continue
        frames += 1
        if len(g) and len(b):
            best = b[int(np.argmax(s))]  # argmax: the first of tied scores, deterministic
            total += float(box_iou(best[None], g).max())
    return total / frames if frames else 0.0


def mean_st_iou(per_video: Mapping[str, Any]) -> float:
    """Mean ST-IoU over videos (each video weighs the same, however long): the challenge's final score.

    Values are floats or per-video metric dicts holding "st_iou" (as in `evaluate_videos(...)["per_video"]`).
    """
    if not per_video:
        raise InputError("mean_st_iou: no videos given")
    vals = [v["st_iou"] if isinstance(v, Mapping) else v for v in per_video.values()]
    return float(np.mean(np.asarray(vals, dtype=np.float64)))


# ------------------------------------------------------------------------------------------------- several videos
def evaluate_videos(
    pred_by_video: Mapping[str, Mapping],
    gt_by_video: Mapping[str, Mapping],
    conf: float = 0.25,
    iou_thresholds=IOU_THRESHOLDS,
) -> dict:
    """Metrics over many videos: {video_id: {frame: pred}} and {video_id: {frame: (m, 4)}}.

    Returns {"overall": detection_metrics over the frames of all videos pooled (keys (video_id, frame)),
             "per_video": {video_id: {map50, map50_95, precision, recall, f1, n_gt, n_pred, n_pred_conf, st_iou}},
             "mean_st_iou": mean over videos, "mean_map50": mean over videos of their AP@0.5, "conf": conf}.
    Two mAPs, because each video searches for its own object: "mean_map50" treats every video's target as its own
    class, as ultralytics and COCO average AP over classes; overall["map50"] ranks all videos' boxes in one list, so
    it also asks that scores mean the same in every video (one threshold for all searches): the stricter figure.
    ST-IoU uses the predictions with score >= conf, like a submission would. Every video of `gt_by_video` is scored
    (one without predictions scores as all misses); a predicted video absent from the ground truth is an error,
    since it usually means mismatched video ids.
    """
    _check_mapping(pred_by_video, "pred_by_video")
    _check_mapping(gt_by_video, "gt_by_video")
    if not gt_by_video:
        raise InputError("evaluate_videos: gt_by_video is empty")
    unknown = sorted(map(str, set(pred_by_video) - set(gt_by_video)))
    if unknown:
        raise InputError(f"evaluate_videos: predictions for videos without ground truth: {unknown}")
    pooled_p, pooled_g, per_video = {}, {}, {}
    for vid, gts in gt_by_video.items():
        preds = _check_mapping(pred_by_video.get(vid, {}), f"pred_by_video[{vid!r}]")
        gts = _check_mapping(gts, f"gt_by_video[{vid!r}]")
        try:
            m = detection_metrics(preds, gts, conf, iou_thresholds)
            s = st_iou(preds, gts, conf)
        except ValueError as e:
            raise InputError(f"video {vid!r}: {e}") from None
        per_video[vid] = {k: m[k] for k in ("map50", "map50_95", "precision", "recall", "f1", "n_gt", "n_pred",
                                            "n_pred_conf")}
        per_video[vid]["st_iou"] = s
        pooled_p.update({(vid, f): p for f, p in preds.items()})
        pooled_g.update({(vid, f): g for f, g in gts.items()})
    overall = detection_metrics(pooled_p, pooled_g, conf, iou_thresholds)
    aps = [v["map50"] for v in per_video.values() if v["n_gt"] > 0]  # a video with no object has no AP
    return {"overall": overall, "per_video": per_video, "mean_st_iou": mean_st_iou(per_video),
            "mean_map50": float(np.mean(aps)) if aps else float("nan"), "conf": float(conf)}


def best_conf(pred_by_video: Mapping[str, Mapping], gt_by_video: Mapping[str, Mapping], metric: str = "f1",
              grid: Sequence[float] = tuple(np.round(np.arange(0.01, 0.51, 0.01), 2))) -> float:
    """The confidence threshold on `grid` that maximises `metric` ("f1" overall, or "st_iou" for the mean ST-IoU).

    Choose it on data the model trained on (or a validation split), never on the test videos it is reported on."""
    def score(c):
        r = evaluate_videos(pred_by_video, gt_by_video, conf=c, iou_thresholds=(0.5,))
        v = r["mean_st_iou"] if metric == "st_iou" else r["overall"][metric]
        return -1.0 if v != v else v  # NaN (nothing above c) ranks last

    return float(max(grid, key=score))


# ------------------------------------------------------------------------------------------------------- reporting
_COLUMNS = (("n_gt", "GT"), ("n_pred_conf", "Pred"), ("precision", "P"), ("recall", "R"), ("f1", "F1"),
            ("map50", "mAP50"), ("map50_95", "mAP50-95"), ("st_iou", "ST-IoU"))


def format_table(results: Mapping) -> str:
    """`evaluate_videos` results -> a fixed-width text table: one row per video, then the pooled "all" row.

    "Pred" counts predictions with score >= conf (those P, R, F1 and ST-IoU see); the "all" row's ST-IoU is the
    mean over videos. Undefined values (NaN) print as "-". A last line gives mAP50 averaged over videos.
    """
    def cell(v) -> str:
        if isinstance(v, (int, np.integer)):
            return str(int(v))
        return "-" if v is None or math.isnan(v) else f"{v:.3f}"

    overall = dict(results["overall"], st_iou=results["mean_st_iou"])
    rows = [(str(vid), m) for vid, m in results["per_video"].items()] + [("all", overall)]
    w0 = max(5, *(len(name) for name, _ in rows))
    head = f"{'video':<{w0}}" + "".join(f"{title:>10}" for _, title in _COLUMNS)
    lines = [f"conf = {results['conf']:g}", head, "-" * len(head)]
    for i, (name, m) in enumerate(rows):
        if i == len(rows) - 1:
            lines.append("-" * len(head))
        lines.append(f"{name:<{w0}}" + "".join(f"{cell(m[k]):>10}" for k, _ in _COLUMNS))
    if "mean_map50" in results:
        lines.append(f"mAP50 averaged over videos (each video's object its own class): {cell(results['mean_map50'])}"
                     f"; the 'all' row ranks every video's boxes in one list")
    return "\n".join(lines)


def _plain(x: Any) -> Any:
    """numpy -> JSON-ready python: arrays to lists, numpy scalars to int/float, NaN/inf to None, keys to str."""
    if isinstance(x, Mapping):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, np.ndarray):
        return [_plain(v) for v in x.tolist()]
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(x) else None
    return x


def save_json(results: Mapping, path) -> Path:
    """Write `results` (any nesting of dicts/arrays/numpy scalars) as strict JSON; NaN becomes null."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_plain(results), indent=2, allow_nan=False))
    return path


def precision_text(o: dict) -> str:
    """`precision 0.812`, or `no detections` when nothing reached the threshold (never `precision nan`)."""
    return "no detections" if not o.get("n_pred_conf") else f"precision {o['precision']:.3f}"
