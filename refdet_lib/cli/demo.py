"""`refdet demo` (`make demo`): the README's main job, on the committed data_samples/ in a few minutes on a CPU.

1. The course weights (models/refdet_course.pt) find each novel object of data_samples/test from 3 reference photos,
   in every frame: the metrics table (the card's figures: same file, same scoring code), an annotated mp4 of one
   test video and a PNG contact sheet of frames with predicted (green) and true (red) boxes. Before them, the card's
   headline figures on the representative novel set (objects sized like the real task's), read from the manifest.
2. The guide's "start from pretrained": a short stage-2 fine-tune from the course weights on data_samples/train, its
   loss per epoch, WiSE-FT (halfway back to the start) with the threshold re-anchored to the new scores
   (train/finetune.py), and the same evaluation again.
"""
from __future__ import annotations

import time
from pathlib import Path


def _summary(res: dict) -> str:
    from ..eval.metrics import precision_text

    o = res["overall"]
    return (f"mAP@0.5 {o['map50']:.3f} (per video {res['mean_map50']:.3f})  {precision_text(o)}  recall "
            f"{o['recall']:.3f}  ST-IoU {res['mean_st_iou']:.3f}  (threshold {res['conf']:.2f})")


def _headline() -> str:
    """The card's figures on the representative novel set (verifier + tracking), read from the weights' manifest:
    `make weights` scored them once; scoring its videos live would add minutes to a demo meant to take about one."""
    import json

    from ..model.loading import COURSE_WEIGHTS, manifest_path

    figs = json.loads(manifest_path(COURSE_WEIGHTS).read_text()).get("figures", {})
    name = next((k for k in figs if k.startswith("representative")), None)
    if name is None:
        return "(no representative-set figures in the manifest yet: `make weights` scores them)"
    f = figs[name]["verifier_track"]
    return (f"on the {name}, objects sized like the real task's (the card's figures, scored by `make weights`): "
            f"mAP@0.5 {f['map50']:.3f}  precision {f['precision']:.3f}  recall {f['recall']:.3f}  ST-IoU "
            f"{f['st_iou']:.3f}  (verifier + tracking, threshold {f['conf']:.2f})")


def _score(model, test_root, out: Path, tag: str) -> tuple[dict, dict]:
    from ..eval.scoring import score_methods

    preds = {}
    res = score_methods(model, {"verifier": model.decision}, test_root, methods=("verifier_track",),
                        examples=out / f"{tag}_contact_sheet.png", predictions=preds)["verifier_track"]
    return res, preds["verifier_track"][0]


def demo(args) -> int:
    from ..data.annotations import VIDEO_NAME, parse_annotations
    from ..eval.inference import write_annotated_video
    from ..eval.metrics import format_table
    from ..model.loading import COURSE_WEIGHTS, load_course_model
    from ..runtime import machine_name, select_device
    from ..train.history import read_history
    from ..train.recipes import DATA_SAMPLES
    from ..train.run import run_training
    from ..errors import UsageError

    if args.epochs < 0:
        raise UsageError(f"--epochs must be >= 0 (got {args.epochs})")
    t0 = time.time()
    out, dev = Path(args.out), select_device(args.device)
    test = DATA_SAMPLES / "test"
    model = load_course_model(dev)
    print(f"1. The course weights ({COURSE_WEIGHTS.relative_to(COURSE_WEIGHTS.parent.parent)}, card: models/README.md)"
          f" look for each novel object of {test.relative_to(DATA_SAMPLES.parent)} from its 3 reference photos, in "
          f"every frame, on {machine_name()}\n")
    print(f"course weights {_headline()}\nlive here: data_samples/test, the tiny-object stress row (10-27 px)\n")
    res, preds = _score(model, test, out, "course_weights")
    print(format_table(res))
    print(f"\ncourse weights: {_summary(res)}")
    anns = parse_annotations(test / "annotations" / "annotations.json")
    vid = max(res["per_video"], key=lambda v: res["per_video"][v]["st_iou"])  # the clip that shows it best
    mp4 = write_annotated_video(test / "samples" / vid / VIDEO_NAME, preds[vid], out / f"{vid}_pred.mp4",
                                gt=anns[vid].boxes, conf=res["conf"])
    files = [("annotated video (green: found, red: truth)", mp4),
             ("contact sheet", out / "course_weights_contact_sheet.png")]
    if args.epochs:
        run_dir = out / "finetune"
        print(f"\n2. Fine-tune: stage 2 from the course weights on {DATA_SAMPLES.name}/train for {args.epochs} "
              "epoch(s) (the guide's 'start from pretrained weights')")
        run_training(*finetune_configs(run_dir, args.epochs, str(dev)), verbose=False)
        h = read_history(run_dir)
        # the run's loss terms as its criterion named them (history.csv's columns), those that were trained
        terms = [c[6:] for c in h.columns if c.startswith("train_") and c != "train_loss" and h[c].abs().sum() > 0]
        print("  epoch  train loss  " + "  ".join(f"{c:>7}" for c in terms))
        for _, r in h.iterrows():
            print(f"  {int(r.epoch):5d}  {r.train_loss:10.3f}  " + "  ".join(f"{r[f'train_{c}']:7.3f}" for c in terms))
        from ..model.loading import load_model
        from ..model.artifact import Artifact
        from ..eval.scoring import split_paths
        from ..train.finetune import interpolate_weights, keep_operating_point

        tuned = load_model(run_dir / "last.pt", dev)  # its verifier and decision came along from the course weights
        interpolate_weights(model.state_dict(), tuned, WISE_ALPHA)  # WiSE-FT: halfway back to the course weights
        # the stored threshold, re-anchored to the new scores
        op = keep_operating_point(tuned, model, *split_paths(DATA_SAMPLES / "train"))
        print(f"  WiSE-FT: weights {WISE_ALPHA:g} of the way from the course weights to the fine-tuned ones; threshold "
              f"{op['threshold'][0]:.3f} -> {op['threshold'][1]:.3f} (the course weights report a box in "
              f"{op['threshold_rate'][0]:.0%} of the training frames, the fine-tuned model did in "
              f"{op['threshold_rate'][1]:.0%} at the old threshold)")
        Artifact.from_model(tuned, stage=2).save(run_dir / "finetuned.pt")
        res2, _ = _score(tuned, test, out, "finetuned")
        print(f"\nafter the fine-tune: {_summary(res2)}")
        print(f"before it:           {_summary(res)}")
        files += [("fine-tuned model (refdet predict --checkpoint ...)", run_dir / "finetuned.pt"),
                  ("fine-tune run (last.pt, history.csv, training.log)", run_dir),
                  ("contact sheet after the fine-tune", out / "finetuned_contact_sheet.png")]
    print(f"\nDone in {(time.time() - t0) / 60:.1f} min. Files:")
    for what, p in files:
        print(f"  {what}: {p}")
    print("Next: `refdet predict --video V --references a.jpg b.jpg c.jpg` on your own footage; the notebooks "
          "(make lab) explain every step.")
    return 0


def finetune_configs(run_dir, epochs: int, device: str = "auto"):
    """The demo's fine-tune: the course weights' own model (their config: backbone, sizes, encoder), their recipe's
    frames and windows, a few episodes an epoch, the same
    ones every epoch (fixed_episodes: with 12 new episodes an epoch, the draw moves the loss by more than two epochs
    of training do: 10.17 -> 10.57 at lr 0), the guide's fine-tuning learning rate (1e-4: the weights are trained),
    no validation set (test objects stay unseen)."""
    from ..model.loading import course_weights
    from ..train.recipes import LEARNING, small_configs

    d = LEARNING["detector"]
    data, model, train, weights = small_configs(
        run_dir, epochs=epochs, n_episodes=DEMO_EPISODES, n_query=d["n_query"], imgsz=d["imgsz"],
        train_crop=d["train_crop"], lr=1e-4, validate=False, num_workers=2, device=device,
        start_from=course_weights())
    train.save_interval = max(1, epochs)
    data.fixed_episodes = True
    return data, model, train, weights


DEMO_EPISODES = 12
WISE_ALPHA = 0.5  # refdet_lib/train/finetune.py: why, and what it measured
