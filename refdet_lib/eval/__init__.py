"""Evaluation: metrics (ST-IoU, per-video pooling and the report are ours; IoU, matching and AP are ultralytics'),
running a model over test videos, the reference search every face runs a video through (search.py), video
inference and its outputs, the template-matching baseline, the plots;
tracking one target through a video and calibrating the decision on training videos."""
from .baseline import TemplateMatcher
from .calibration import calibrate, fit_decision
from .evaluate import MAP_CONF, evaluate_checkpoint, evaluate_model, summary_row
from .inference import (
                      predict_video,
                      read_images,
                      to_submission,
                      top_box,
                      write_annotated_video,
)
from .metrics import (
                      IOU_THRESHOLDS,
                      average_precision,
                      best_conf,
                      detection_metrics,
                      evaluate_videos,
                      format_table,
                      match_predictions,
                      mean_st_iou,
                      save_json,
                      st_iou,
)
from .search import Looks, ReferenceSearch
from .tracking import TargetTracker

__all__ = ["TemplateMatcher", "TargetTracker", "calibrate", "fit_decision", "MAP_CONF", "evaluate_checkpoint",
           "evaluate_model", "summary_row", "predict_video", "Looks", "ReferenceSearch",
           "read_images", "to_submission", "top_box", "write_annotated_video", "IOU_THRESHOLDS",
           "average_precision", "best_conf", "detection_metrics", "evaluate_videos", "format_table",
           "match_predictions", "mean_st_iou", "save_json", "st_iou"]
