"""Does it learn? Stage 2 from random initialisation on data_samples/train, then 3-shot evaluation on the novel
objects of data_samples/test, side by side with the training-free template-matching baseline.

Targets (issue "Proof that it learns"): mAP@0.5 >= 0.6 and mean ST-IoU >= 0.5 on the novel objects, and at least 2x
the baseline's mAP@0.5, within a CPU budget of 30 minutes on 2 cores. The settings below are the committed recipe;
`--quick` runs a minutes-long version that only checks the pipeline.

    python benchmarks/learning.py [--quick] [--out runs/learning]
"""
from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import refdet_lib  # noqa: F401
from refdet_lib.baseline import TemplateMatcher
from refdet_lib.course import small_configs
from refdet_lib.evaluate import evaluate_model
from refdet_lib.train import load_model
from refdet_lib.train.run import run_training

RECIPE = dict(imgsz=480, support_size=112, epochs=10, n_way=2, n_query=4, n_episodes=40, lr=2e-3)
QUICK = dict(imgsz=320, support_size=56, epochs=1, n_way=2, n_query=2, n_episodes=4, lr=2e-3)
TEST = ("data_samples/test/samples", "data_samples/test/annotations/annotations.json")
TRAIN = ("data_samples/train/samples", "data_samples/train/annotations/annotations.json")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default="runs/learning")
    ap.add_argument("--max_frames", type=int, default=None, help="score only the first N frames of each video")
    a = ap.parse_args()
    cfg = QUICK if a.quick else RECIPE
    out = Path(a.out)
    t0 = time.time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_training(*small_configs(out / "refdet", **cfg), verbose=True)
    train_min = (time.time() - t0) / 60
    # the recipe's final model: best_model.pt is chosen by the val loss on the *novel* objects, which is noisy with
    # 8 episodes and tends to pick an early epoch; both files are in the run folder
    model = load_model(out / "refdet" / "last.pt")
    mf = a.max_frames if a.max_frames is not None else (16 if a.quick else None)
    ours = evaluate_model(model, *TEST, shots=(3,), progress=False, verbose=False, max_frames=mf)["3-shot"]
    base = evaluate_model(TemplateMatcher(), *TEST, shots=(3,), progress=False, verbose=False,
                          max_frames=mf)["3-shot"]
    # diagnostic: the objects it trained on (first 60 frames of each training video): learning vs generalising
    seen = evaluate_model(model, *TRAIN, shots=(3,), progress=False, verbose=False, max_frames=60)["3-shot"]
    rows = [("mAP@0.5", "map50"), ("precision", "precision"), ("recall", "recall")]
    print(f"\n3-shot on novel objects ({TEST[0]}), training {train_min:.1f} min with {cfg}")
    print(f"{'':<14}{'RefDet':>10}{'baseline':>10}   {'RefDet on its training objects':>32}")
    for name, k in rows:
        print(f"{name:<14}{ours['overall'][k]:>10.3f}{base['overall'][k]:>10.3f}   {seen['overall'][k]:>32.3f}")
    print(f"{'mean ST-IoU':<14}{ours['mean_st_iou']:>10.3f}{base['mean_st_iou']:>10.3f}   "
          f"{seen['mean_st_iou']:>32.3f}")
    m, b = ours["overall"]["map50"], base["overall"]["map50"]
    ok = m >= 0.6 and ours["mean_st_iou"] >= 0.5 and m >= 2 * b
    print(f"targets (mAP@0.5 >= 0.6, ST-IoU >= 0.5, >= 2x baseline mAP): {'met' if ok else 'NOT met'}")
    (out / "learning.json").write_text(json.dumps({
        "recipe": cfg, "train_minutes": train_min,
        "refdet": {k: ours["overall"][k] for _, k in rows} | {"st_iou": ours["mean_st_iou"]},
        "baseline": {k: base["overall"][k] for _, k in rows} | {"st_iou": base["mean_st_iou"]},
        "refdet_seen_objects": {k: seen["overall"][k] for _, k in rows} | {"st_iou": seen["mean_st_iou"]}},
        indent=2))


if __name__ == "__main__":
    main()
