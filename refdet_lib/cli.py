"""`refdet` command line: train | evaluate | predict | export | synth | validate | demo.

The guide's `python train.py --stage 2 ...` and `python evaluate.py --checkpoint ...` flags are accepted unchanged
by `refdet train` / `refdet evaluate` (and by `python -m refdet_lib.train`). Wrong input gets one clear line on
stderr and exit code 2, never a traceback: the person at the keyboard needs to know *what* to fix.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from . import _env  # noqa: F401
from .config import AugmentConfig, DataConfig, ModelConfig, TrainConfig, stage_weights


class UsageError(Exception):
    """A problem with the user's input: printed as one line, exit code 2."""


def _bool_flag(p, name, help):
    p.add_argument(f"--{name}", action=argparse.BooleanOptionalAction, default=None, help=help)


def add_train_args(p: argparse.ArgumentParser) -> None:
    d, t = DataConfig(), TrainConfig()
    g = p.add_argument_group("data")
    g.add_argument("--data_root", default=d.data_root, help="folder of <video_id>/ sub-folders")
    g.add_argument("--annotations", default=d.annotations,
                   help="annotations.json (stage 1 also: a YOLO data.yaml or a COCO json)")
    g.add_argument("--test_data_root", default=None, help="validation videos (optional)")
    g.add_argument("--test_annotations", default=None, help="validation annotations (optional)")
    g.add_argument("--imgsz", type=int, default=d.imgsz, help="query frame size (multiple of 32)")
    g.add_argument("--train_crop", type=int, default=d.train_crop,
                   help="stage 2/3: train on N x N windows of the imgsz-scaled frame holding the object (multiple "
                        "of 32, below imgsz; 0 = whole frames)")
    g.add_argument("--support_size", type=int, default=d.support_size, help="reference image size (multiple of 14)")
    g.add_argument("--n_shot", type=int, default=d.n_shot, help="reference images per object")
    g.add_argument("--n_way", type=int, default=d.n_way, help="objects per episode (2-4 recommended)")
    g.add_argument("--n_query", type=int, default=d.n_query, help="query frames per object (4-8 recommended)")
    g.add_argument("--n_episodes", type=int, default=d.n_episodes, help="episodes per epoch (100-200)")
    g.add_argument("--hard_episodes", type=float, default=d.hard_episodes,
                   help="fraction (0-1) of episodes whose objects are look-alikes (closest reference colours)")
    g.add_argument("--batch_size", type=int, default=d.batch_size, help="frames per batch (stage 1)")
    g.add_argument("--num_workers", type=int, default=d.num_workers,
                   help="data loading workers (at most the CPUs each training process gets)")
    _bool_flag(g, "cache_frames", "on-disk frame cache (default on)")
    _bool_flag(g, "augment", "data augmentation (default on)")
    g = p.add_argument_group("training")
    g.add_argument("--stage", type=int, default=t.stage, help="1 base, 2 few-shot meta-learning, 3 fine-tuning")
    g.add_argument("--epochs", type=int, default=t.epochs)
    g.add_argument("--lr", type=float, default=t.lr, help="base learning rate (layer-wise multipliers apply)")
    g.add_argument("--weight_decay", type=float, default=t.weight_decay)
    g.add_argument("--gradient_accumulation", type=int, default=t.gradient_accumulation)
    g.add_argument("--mixed_precision", action="store_true",
                   help="AMP on CUDA; on a CPU bf16 autocast where bf16 is native (AMX, AVX512-BF16), else float32")
    _bool_flag(g, "channels_last", "channels-last (NHWC) memory format for the convolutions (default on)")
    g.add_argument("--checkpoint_dir", default=t.checkpoint_dir)
    g.add_argument("--save_interval", type=int, default=t.save_interval)
    g.add_argument("--resume", default=None, help="checkpoint to continue from (stage 3: the stage-2 model)")
    g.add_argument("--device", default=t.device, help="auto | cpu | cuda | cuda:N")
    g.add_argument("--seed", type=int, default=t.seed)
    g = p.add_argument_group("loss weights (default: the stage's preset)")
    for k in ("bbox", "cls", "dfl", "supcon", "cpe", "triplet"):
        g.add_argument(f"--{k}_weight", type=float, default=None)
    g = p.add_argument_group("triplet / mixed batches")
    g.add_argument("--use_triplet", action="store_true", help="mix triplet batches into training")
    g.add_argument("--triplet_ratio", type=float, default=t.triplet_ratio)
    g.add_argument("--negative_strategy", default=t.negative_strategy, choices=["background", "cross_class", "mixed"])
    g.add_argument("--triplet_batch_size", type=int, default=t.triplet_batch_size)
    g = p.add_argument_group("model")
    g.add_argument("--yolo_weights", default=None, help="ultralytics yolov8n.pt for the query backbone")
    g.add_argument("--dino_weights", default=None, help="local DINOv2 ViT-S/14 weights file for the reference encoder")
    _bool_flag(g, "freeze_reference", "freeze the reference encoder")
    _bool_flag(g, "appearance_match", "add a low-level template-match score to the prototype score")
    g.add_argument("--reference_encoder", default="dinov2", choices=["dinov2", "siamese"],
                   help="dinov2 (the guide's ViT) or siamese (references through the shared YOLO backbone; "
                        "--support_size a multiple of 32, e.g. 64)")


def configs_from_args(a: argparse.Namespace) -> tuple[DataConfig, ModelConfig, TrainConfig, object]:
    """Namespace -> (DataConfig, ModelConfig, TrainConfig, LossWeights), checking values a user can get wrong."""
    if a.stage not in (1, 2, 3):
        raise UsageError(f"--stage must be 1, 2 or 3 (got {a.stage})")
    if a.imgsz % 32:
        raise UsageError(f"--imgsz must be a multiple of 32 (got {a.imgsz})")
    if a.train_crop and (a.train_crop % 32 or not 0 < a.train_crop < a.imgsz):
        raise UsageError(f"--train_crop must be a multiple of 32 below --imgsz {a.imgsz} (got {a.train_crop})")
    if not 0.0 <= a.hard_episodes <= 1.0:
        raise UsageError(f"--hard_episodes must be a fraction in [0, 1] (got {a.hard_episodes})")
    if a.reference_encoder == "siamese" and a.support_size % 32:
        raise UsageError(f"--support_size must be a multiple of 32 with --reference_encoder siamese "
                         f"(got {a.support_size}; try 64)")
    if a.reference_encoder == "dinov2" and a.support_size % 14:
        raise UsageError(f"--support_size must be a multiple of 14 (ViT patch size; got {a.support_size})")
    for k in ("epochs", "n_way", "n_query", "n_episodes", "batch_size", "gradient_accumulation", "save_interval",
              "n_shot", "triplet_batch_size"):
        if getattr(a, k) < 1:
            raise UsageError(f"--{k} must be >= 1 (got {getattr(a, k)})")
    if a.lr <= 0:
        raise UsageError(f"--lr must be > 0 (got {a.lr})")
    if not 0 <= a.triplet_ratio <= 1:
        raise UsageError(f"--triplet_ratio must be between 0 and 1 (got {a.triplet_ratio})")
    for flag in ("data_root", "annotations", "test_data_root", "test_annotations", "resume", "yolo_weights",
                 "dino_weights"):
        v = getattr(a, flag, None)
        if v and not Path(v).exists():
            raise UsageError(f"--{flag}: {v} does not exist")
    if bool(a.test_data_root) != bool(a.test_annotations):
        raise UsageError("--test_data_root and --test_annotations go together")
    if a.stage == 3 and not a.resume:
        print("note: stage 3 fine-tunes a stage-2 model; without --resume it starts from scratch", file=sys.stderr)
    aug = AugmentConfig() if a.augment is not False else AugmentConfig.off()
    data = DataConfig(data_root=a.data_root, annotations=a.annotations, test_data_root=a.test_data_root,
                      test_annotations=a.test_annotations, imgsz=a.imgsz, train_crop=a.train_crop,
                      support_size=a.support_size,
                      n_shot=a.n_shot, n_way=a.n_way, n_query=a.n_query, n_episodes=a.n_episodes,
                      hard_episodes=a.hard_episodes,
                      batch_size=a.batch_size, num_workers=a.num_workers,
                      cache_frames=a.cache_frames is not False, augment=aug)
    model = ModelConfig(imgsz=a.imgsz, support_size=a.support_size, yolo_weights=a.yolo_weights,
                        dino_weights=a.dino_weights, freeze_reference=bool(a.freeze_reference),
                        reference_encoder=a.reference_encoder, appearance_match=bool(a.appearance_match))
    train = TrainConfig(stage=a.stage, epochs=a.epochs, lr=a.lr, weight_decay=a.weight_decay,
                        gradient_accumulation=a.gradient_accumulation, mixed_precision=a.mixed_precision,
                        channels_last=a.channels_last is not False,
                        checkpoint_dir=a.checkpoint_dir, save_interval=a.save_interval, resume=a.resume,
                        device=a.device, seed=a.seed, use_triplet=a.use_triplet, triplet_ratio=a.triplet_ratio,
                        negative_strategy=a.negative_strategy, triplet_batch_size=a.triplet_batch_size)
    weights = stage_weights(a.stage, **{k: getattr(a, f"{k}_weight") for k in
                                        ("bbox", "cls", "dfl", "supcon", "cpe", "triplet")})
    return data, model, train, weights


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="refdet", description="Few-shot, reference-based object detection on drone "
                                "video (YOLOv8n-RefDet).")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("train", help="train stage 1, 2 or 3 (the guide's train.py flags)")
    add_train_args(s)

    s = sub.add_parser("evaluate", help="mAP@0.5, precision, recall, ST-IoU on a test split")
    s.add_argument("--checkpoint", required=True)
    s.add_argument("--test_data_root", default="data_samples/test/samples")
    s.add_argument("--test_annotations", default="data_samples/test/annotations/annotations.json")
    s.add_argument("--n_way", type=int, default=None, help="accepted for the guide's command lines")
    s.add_argument("--n_query", type=int, default=None, help="accepted for the guide's command lines")
    s.add_argument("--shots", default="1,3", help="reference counts to evaluate, e.g. 1,3")
    s.add_argument("--conf", type=float, default=0.25)
    s.add_argument("--iou", type=float, default=0.5)
    s.add_argument("--out", default=None, help="folder for metrics.json and plots (default: next to the checkpoint)")
    s.add_argument("--device", default="auto")

    s = sub.add_parser("predict", help="find the referenced object in every frame of a video")
    s.add_argument("--checkpoint", required=True)
    s.add_argument("--video", required=True)
    s.add_argument("--references", nargs="+", required=True, help="1 or more reference images of the object")
    s.add_argument("--out", default=None, help="output folder (annotated mp4 + submission JSON)")
    s.add_argument("--conf", type=float, default=0.25)
    s.add_argument("--iou", type=float, default=0.5)
    s.add_argument("--smooth", type=int, default=0, help="keep the last box through gaps of up to N frames")
    s.add_argument("--device", default="auto")

    s = sub.add_parser("export", help="ONNX export: reference encoder + detector, parity check, INT8")
    s.add_argument("--checkpoint", required=True)
    s.add_argument("--format", default="onnx", choices=["onnx"])
    s.add_argument("--out", default=None)
    s.add_argument("--opset", type=int, default=17)
    s.add_argument("--int8", action="store_true", help="also write an INT8 (dynamic) quantised detector")

    s = sub.add_parser("synth", help="generate a synthetic drone-video dataset in the guide's format")
    s.add_argument("out")
    s.add_argument("--videos", type=int, default=8)
    s.add_argument("--frames", type=int, default=150)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--width", type=int, default=640)
    s.add_argument("--height", type=int, default=360)
    s.add_argument("--split", default="train", choices=["train", "test", "any"],
                   help="attribute pool: train and test identities never share shape kind or hue")
    s.add_argument("--avoid", action="append", default=[], metavar="DATASET",
                   help="a generated dataset whose identities (targets and distractors) must not appear, e.g. "
                        "data_samples/test (repeatable)")

    s = sub.add_parser("validate", help="check a dataset: every problem listed with file, video, frame and field")
    s.add_argument("data_root")
    s.add_argument("annotations")
    s.add_argument("--min_refs", type=int, default=1)

    s = sub.add_parser("course", help="run the course notebooks headless, in order, with papermill")
    s.add_argument("action", choices=["run"])
    s.add_argument("--out", default=None, help="folder for the executed notebooks (default runs/course/executed)")
    s.add_argument("--only", default=None, help="comma-separated notebook prefixes, e.g. 00,01")
    s.add_argument("-p", "--param", action="append", help="NAME=VALUE passed to every notebook's parameters cell")

    s = sub.add_parser("demo", help="the README's main job: brief stage-2 training on data_samples + evaluation")
    s.add_argument("--epochs", type=int, default=2)
    s.add_argument("--out", default="runs/demo")
    return p


def cmd_validate(a) -> int:
    from .data.annotations import DatasetError, validate_dataset

    for path in (a.data_root, a.annotations):
        if not Path(path).exists():
            raise UsageError(f"{path} does not exist")
    try:
        _, summary = validate_dataset(a.data_root, a.annotations, min_refs=a.min_refs)
    except DatasetError as e:
        print(str(e))
        return 1
    print(f"dataset OK: {a.data_root}")
    print(summary)
    return 0


def cmd_synth(a) -> int:
    from .data.synthetic import META_NAME, generate_dataset, seen_identities

    if a.videos < 1 or a.frames < 1:
        raise UsageError("--videos and --frames must be >= 1")
    for d in a.avoid:
        if not (Path(d) / META_NAME).exists():
            raise UsageError(f"--avoid {d}: no {META_NAME} there (only datasets made by the generator can be avoided)")
    exclude = [i for d in a.avoid for i in seen_identities(d)]
    out = generate_dataset(a.out, n_videos=a.videos, n_frames=a.frames, seed=a.seed, width=a.width, height=a.height,
                           split=a.split, exclude=exclude)
    print(f"wrote {a.videos} videos x {a.frames} frames to {out}")
    print(f"  samples:     {Path(out) / 'samples'}")
    print(f"  annotations: {Path(out) / 'annotations' / 'annotations.json'}")
    return 0


def _dispatch(a) -> int:
    if a.command == "validate":
        return cmd_validate(a)
    if a.command == "synth":
        return cmd_synth(a)
    if a.command == "train":
        from .train.run import run_training
        cfgs = configs_from_args(a)
        run_training(*cfgs)
        return 0
    if a.command == "evaluate":
        from .evaluate import cli_evaluate
        return cli_evaluate(a)
    if a.command == "predict":
        from .inference import cli_predict
        return cli_predict(a)
    if a.command == "export":
        from .export import cli_export
        return cli_export(a)
    if a.command == "course":
        from .course import cli_course
        return cli_course(a)
    if a.command == "demo":
        from .train.run import demo
        return demo(a)
    raise UsageError(f"unknown command {a.command}")


def main(argv=None) -> int:
    a = build_parser().parse_args(argv)
    try:
        return _dispatch(a)
    except UsageError as e:
        print(f"refdet {a.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"refdet {a.command}: interrupted", file=sys.stderr)
        return 130
    except (FileNotFoundError, ValueError, IOError) as e:
        if os.environ.get("REFDET_DEBUG"):
            raise
        from .data.annotations import DatasetError
        if isinstance(e, DatasetError):
            print(str(e), file=sys.stderr)
            return 1
        print(f"refdet {a.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
