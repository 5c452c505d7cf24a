"""Which evidence should the decision weigh? The course weights' detector and verifier, with the ImageNet MobileNetV2
cue beside them (model/imagenet.py), each decision fitted on the same training videos, scored side by side.

    python benchmarks/cues.py [--checkpoint models/refdet_course.pt] [--out benchmarks/results/cues.json]
                              [--frames N] [--sets test,novel,representative]

One pass of the model over each set collects every frame's top-k candidates with all the cosines (the verifier's
and the cue's) and sizes; every decision is then fitted on the same 12 training videos x 60 frames (the card's
calibration window), its thresholds chosen there, and scored on each novel set at them:

    stored              the checkpoint's own decision (the card's figures)
    refit               [logit s, cos] fitted again (the stored one, re-made: checks the pipeline)
    size                + log size, cos x log size
    cue                 + the ImageNet cosine
    cue + size          + both, and the cue x log size
    cue alone + size    the ImageNet cosine instead of the verifier's, with size

Rows hold verifier_track (tracked, what predict reports) and verifier (frames alone): map50, precision, recall,
st_iou. Nothing is fitted or chosen on a scored set. Results: benchmarks/results/cues.json.
"""
from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path

import numpy as np

import refdet_lib  # noqa: F401  (offline settings before anything imports ultralytics)
from refdet_lib.eval.calibration import (available_features, choose_thresholds, collect_candidates, decide,
                                         fit_decision, ground_truth)
from refdet_lib.eval.metrics import evaluate_videos
from refdet_lib.eval.scoring import row, split_paths
from refdet_lib.model.loading import COURSE_WEIGHTS, load_model
from refdet_lib.runtime import machine_name
from refdet_lib.train.recipes import DATA_SAMPLES, LEARNING, more_novel_set

ROOT = Path(__file__).resolve().parent.parent
CUE = "mobilenetv2"


def without(cands: dict, cue: bool) -> dict:
    """The same candidates with the cue's cosines dropped (cue=False) or put in the verifier's place (cue=True)."""
    out = {}
    for vid, v in cands.items():
        frames = {}
        for f, d in v["frames"].items():
            d = dict(d)
            if cue:
                d["cosines"] = d["cue_cosines"][CUE]
            d["cue_cosines"] = {}
            frames[f] = d
        out[vid] = {**v, "frames": frames}
    return out


def decisions(train: dict, stored) -> dict:
    """name -> (decision, candidate view): each fitted on the training candidates, thresholds chosen there."""
    plain, alone = without(train, cue=False), without(train, cue=True)
    size = [n for n in available_features(plain) if n in ("log_size", "cos*log_size")]
    specs = {"refit": (plain, []), "size": (plain, size),
             "cue": (train, [f"cos:{CUE}"]), "cue + size": (train, available_features(train)),
             "cue alone + size": (alone, size)}
    out = {"stored": (copy.deepcopy(stored), "plain")}
    for name, (view, feats) in specs.items():
        d = choose_thresholds(view, fit_decision(view, True, feats), True)
        out[name] = (d, "alone" if view is alone else "cue" if view is train else "plain")
    return out


def score(cands: dict, decs: dict) -> dict:
    views = {"plain": without(cands, cue=False), "cue": cands, "alone": without(cands, cue=True)}
    gts = ground_truth(cands)
    res = {}
    for name, (d, view) in decs.items():
        c = views[view]
        res[name] = {"verifier_track": row(evaluate_videos(decide(c, d, True, track=True), gts, conf=d.threshold)),
                     "verifier": row(evaluate_videos(decide(c, d, True), gts, conf=d.frame_threshold)),
                     "decision": d.to_dict()}
    return res


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", default=str(COURSE_WEIGHTS))
    ap.add_argument("--work", default="runs/weights", help="where the training and novel sets are made or found")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "cues.json"))
    ap.add_argument("--frames", type=int, default=None, help="frames per scored video (default: all)")
    ap.add_argument("--sets", default="test,novel,representative")
    a = ap.parse_args(argv)
    from refdet_lib.data.synthetic import make_training_set

    work = Path(a.work)
    t0 = time.time()
    model = load_model(a.checkpoint).set_cues([CUE])
    train_root = make_training_set(work / "train_set_realistic", avoid=[DATA_SAMPLES / "test"], style="realistic",
                                   **LEARNING["train_set"])
    samples, ann = split_paths(train_root)
    vids = sorted(p.name for p in samples.iterdir() if p.is_dir())[:12]
    train = collect_candidates(model, samples, ann, videos=vids, max_frames=60)
    decs = decisions(train, model.decision)
    print(f"fitted on {len(vids)} training videos ({(time.time() - t0) / 60:.1f} min)")
    for name, (d, _) in decs.items():
        print(f"  {name:18s} a {d.a:.2f} b {d.b:.2f} c {d.c:.2f} " + " ".join(f"{k} {v:+.2f}" for k, v in d.w.items())
              + f" | thr {d.threshold:.2f} / {d.frame_threshold:.2f}")
    roots = {"test": DATA_SAMPLES / "test", "novel": more_novel_set(work / "novel_set_realistic")}
    if "representative" in a.sets:
        from refdet_lib.train.recipes import representative_set

        roots["representative"] = representative_set(work / "representative_set_realistic")
    out = {"checkpoint": a.checkpoint, "cpu": machine_name(), "cue": CUE, "calibration": f"{len(vids)} training "
           "videos x 60 frames", "sets": {}}
    for key in a.sets.split(","):
        cands = collect_candidates(model, *split_paths(roots[key]), max_frames=a.frames)
        res = score(cands, decs)
        out["sets"][key] = {"n_videos": len(cands), "rows": res}
        print(f"\n{key} ({len(cands)} videos)  tracked: mAP@0.5 / P / R / ST-IoU   | frames alone: ST-IoU")
        for name, r in res.items():
            t, f = r["verifier_track"], r["verifier"]
            print(f"  {name:18s} {t['map50']:.3f} / {t['precision']:.3f} / {t['recall']:.3f} / {t['st_iou']:.3f}"
                  f"   | {f['st_iou']:.3f}")
    out["minutes"] = (time.time() - t0) / 60
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(out, indent=1, default=float) + "\n")
    print(f"\n{a.out} ({out['minutes']:.1f} min)")
    return out


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
