"""Checks for the course exercises (exercises/*.ipynb), one module per exercise; each compares a learner's answer
with the library itself (see `_check` for how a check reports)."""
from ._check import ExerciseFailed
from .ex01_bbox_validator import check_bbox_validator
from .ex02_iou_st_iou import check_iou, check_st_iou
from .ex03_wiou_v3 import (
           check_beta_peak,
           check_distance_attention,
           check_wiou_focus,
           check_wiou_v3,
)
from .ex04_build_episode import check_build_episode
from .ex05_learning_rate import check_pick_learning_rate, lr_finder_curve, plot_lr_curve
from .ex06_frozen_encoder import check_count_trainable, check_frozen_vs_trained
from .ex07_batch_hard_triplet import check_batch_hard_triplet
from .ex08_unletterbox import check_unletterbox
from .ex09_prototype_logit import check_prototype_logits
from .ex10_cheaf_gate import check_cheaf_gates
from .ex11_diagnose_history import check_loss_signs, check_train_val_gap
from .ex12_nan_guard import check_guarded_step

__all__ = ["ExerciseFailed", "check_bbox_validator", "check_iou", "check_st_iou", "check_wiou_focus",
           "check_distance_attention", "check_wiou_v3", "check_beta_peak", "check_build_episode",
           "lr_finder_curve", "plot_lr_curve", "check_pick_learning_rate", "check_count_trainable",
           "check_frozen_vs_trained", "check_batch_hard_triplet", "check_unletterbox",
           "check_prototype_logits", "check_cheaf_gates", "check_train_val_gap", "check_loss_signs",
           "check_guarded_step"]
