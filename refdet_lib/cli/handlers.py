"""The handlers of `refdet validate | synth | evaluate | predict | export | course | demo` and their flags.

Each checks what the user typed (UsageError, one line), calls the library, and says where its outputs went.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
from pathlib import Path

import numpy as np

from ..config import (
    CALIB_FRAMES,
    CALIB_VIDEOS,
    CUE_KINDS,
    VERIFIER_KINDS,
    DataConfig,
    VerifierConfig,
    check_imgsz,
)
from ..errors import DatasetError, UsageError
from .checks import add_looks, looks_of

log = logging.getLogger(__name__)


def add_parsers(sub) -> None:
    s = sub.add_parser("evaluate", help="mAP@0.5, precision, recall, ST-IoU on a test split")
    s.add_argument("--checkpoint", default=None, help="a RefDet checkpoint (or --onnx)")
    s.add_argument("--onnx", default=None, metavar="DIR",
                   help="an export folder (`refdet export`): the ONNX graphs under onnxruntime, as a Jetson runs them")
    s.add_argument("--test_data_root", default="data_samples/test/samples")
    s.add_argument("--test_annotations", default="data_samples/test/annotations/annotations.json")
    for k in ("n_way", "n_query"):
        s.add_argument(f"--{k}", type=int, default=None, help="the guide's lines carry it; no effect on evaluation")
    s.add_argument("--shots", default="1,3", help="reference counts to evaluate, e.g. 1,3")
    s.add_argument("--conf", type=float, default=None,
                   help="operating point for precision, recall and ST-IoU (default: the checkpoint's calibrated "
                        "threshold; 0.25 when it has none)")
    s.add_argument("--iou", type=float, default=0.5)
    s.add_argument("--track", action=argparse.BooleanOptionalAction, default=True,
                   help="one box per frame from the tracker (--no-track: every frame's detections alone)")
    s.add_argument("--out", default=None, help="folder for metrics.json and plots (default: next to the checkpoint)")
    s.add_argument("--imgsz", type=int, default=None, help="inference size, a multiple of 32 (default: the "
                   "checkpoint's)")
    add_looks(s)
    s.add_argument("--device", default="auto")

    s = sub.add_parser("predict", help="find the referenced object in every frame of a video")
    s.add_argument("--checkpoint", default=None,
                   help="a RefDet checkpoint (default: the course weights, models/refdet_course.pt)")
    s.add_argument("--onnx", default=None, metavar="DIR",
                   help="an export folder (`refdet export`): the ONNX graphs under onnxruntime, as a Jetson runs them")
    s.add_argument("--video", required=True)
    s.add_argument("--references", nargs="+", required=True, help="1 or more reference images of the object")
    s.add_argument("--out", default=None, help="output folder (annotated mp4 + submission JSON)")
    s.add_argument("--conf", type=float, default=None,
                   help="report the object where its score reaches this (default: the checkpoint's calibrated "
                        "threshold; 0.25 when it has none)")
    s.add_argument("--iou", type=float, default=0.5)
    s.add_argument("--track", action=argparse.BooleanOptionalAction, default=True,
                   help="one box per frame from the tracker, short gaps filled (--no-track: frames alone)")
    s.add_argument("--max_gap", type=int, default=8, help="the tracker fills gaps of up to N frames in a track")
    s.add_argument("--imgsz", type=int, default=None, help="inference size, a multiple of 32 (default: the "
                   "checkpoint's; larger finds smaller objects, slower; `refdet calibrate --imgsz` refits at it)")
    add_looks(s)
    s.add_argument("--device", default="auto")

    s = sub.add_parser("train-verifier", help="train the candidate verifier beside a detector, calibrate, save both")
    s.add_argument("--checkpoint", required=True, help="the trained detector (refdet train's best_model.pt / last.pt)")
    s.add_argument("--data_root", default=DataConfig().data_root)
    s.add_argument("--annotations", default=DataConfig().annotations)
    s.add_argument("--epochs", type=int, default=8)
    s.add_argument("--n_batches", type=int, default=60, help="batches of crops per epoch")
    s.add_argument("--n_ids", type=int, default=16, help="identities per batch")
    s.add_argument("--bank", type=int, default=200, help="generated identities rendered once for training")
    s.add_argument("--fresh", type=int, default=2, help="fresh generated identities rendered for every batch")
    s.add_argument("--style", default="realistic", choices=["realistic", "simple"],
                   help="the generator style of the generated identities")
    s.add_argument("--lr", type=float, default=2e-3)
    s.add_argument("--kind", default=VerifierConfig().kind, choices=VERIFIER_KINDS[:1] + VERIFIER_KINDS[2:],
                   help="cnn: trained from scratch; mobilenetv2_ft: ImageNet init, fine-tuned; mobilenetv2: frozen")
    s.add_argument("--cues", nargs="*", default=[], choices=CUE_KINDS,
                   help="frozen pretrained embedders beside it, each one more input of the decision")
    s.add_argument("--crop_size", type=int, default=VerifierConfig().crop_size)
    s.add_argument("--top_k", type=int, default=VerifierConfig().top_k, help="candidates per frame it re-scores")
    s.add_argument("--calib_videos", type=int, default=CALIB_VIDEOS, help="training videos the decision is "
                   "calibrated on")
    s.add_argument("--calib_frames", type=int, default=CALIB_FRAMES, help="frames of each (from the start)")
    s.add_argument("--checkpoint_dir", default="./checkpoints/verifier")
    s.add_argument("--resume", default=None, help="the verifier's last.pt to continue from")
    s.add_argument("--num_workers", type=int, default=DataConfig().num_workers)
    s.add_argument("--device", default="auto")
    s.add_argument("--seed", type=int, default=0)

    s = sub.add_parser("calibrate", help="fit a checkpoint's decision (probabilities + thresholds) on training videos")
    s.add_argument("--checkpoint", required=True)
    s.add_argument("--data_root", default=DataConfig().data_root)
    s.add_argument("--annotations", default=DataConfig().annotations)
    s.add_argument("--videos", type=int, default=CALIB_VIDEOS)
    s.add_argument("--frames", type=int, default=CALIB_FRAMES)
    s.add_argument("--out", default=None, help="the calibrated checkpoint (default: beside it, *_calibrated.pt)")
    s.add_argument("--imgsz", type=int, default=None, help="the inference size to fit the decision at, a multiple "
                   "of 32, stored in the calibrated checkpoint (default: the checkpoint's)")
    s.add_argument("--cues", nargs="*", default=None, choices=CUE_KINDS, help="frozen pretrained embedders to put "
                   "beside the verifier, each one more input of the decision (default: the checkpoint's; none: drop "
                   "them)")
    s.add_argument("--size", action="store_true", help="also fit on the candidates' size relative to the frame and "
                   "each cosine's product with it (where a cue's reliability changes with size)")
    add_looks(s)  # with --tiles: candidates from those looks, the look's magnification a decision input, stored
    s.add_argument("--device", default="auto")

    s = sub.add_parser("export", help="ONNX export: reference encoder + detector (+ verifier), parity check, INT8")
    s.add_argument("--checkpoint", required=True)
    s.add_argument("--format", default="onnx", choices=["onnx"])
    s.add_argument("--out", default=None)
    s.add_argument("--opset", type=int, default=17, help="ONNX opset, 17-20")
    s.add_argument("--int8", action="store_true",
                   help="also write detector_int8.onnx: static QDQ INT8 calibrated on training frames (TensorRT)")
    s.add_argument("--calib_data", default=None,
                   help="frames to calibrate on (default: the checkpoint's training data_root, else "
                        "data_samples/train/samples)")
    s.add_argument("--calib_frames", type=int, default=64, help="how many calibration frames")
    s.add_argument("--test_data_root", default="data_samples/test/samples",
                   help="where the FP32 vs INT8 accuracy is measured ('' to skip)")
    s.add_argument("--test_annotations", default="data_samples/test/annotations/annotations.json")
    s.add_argument("--eval_frames", type=int, default=None, help="score only the first N frames of each test video")

    s = sub.add_parser("synth", help="generate a synthetic drone-video dataset in the guide's format")
    s.add_argument("out")
    s.add_argument("--videos", type=int, default=8)
    s.add_argument("--frames", type=int, default=150)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--width", type=int, default=640)
    s.add_argument("--height", type=int, default=360)
    s.add_argument("--style", default="realistic", choices=["realistic", "simple"],
                   help="realistic: objects built from parts, a climbing, turning, tilted camera, clutter, hard "
                        "distractors, references at ground level; simple: flat shapes, the earlier style")
    s.add_argument("--split", default="train", choices=["train", "test", "any"],
                   help="attribute pool: train and test identities never share a hue bin (nor, simple, a shape)")
    s.add_argument("--refs", default=None, help="reference photos per video: N or LO-HI (default: realistic 1-5, "
                   "simple 3)")
    s.add_argument("--overwrite", action="store_true", help="replace the samples/ and annotations/ of a dataset "
                   "already in OUT")
    s.add_argument("--avoid", action="append", default=[], metavar="DATASET",
                   help="a generated dataset whose identities (targets and distractors) must not appear, e.g. "
                        "data_samples/test (repeatable)")

    s = sub.add_parser("validate", help="check a dataset: every problem listed with file, video, frame and field")
    s.add_argument("data_root")
    s.add_argument("annotations")
    s.add_argument("--min_refs", type=int, default=1)

    s = sub.add_parser("course", help="run the course notebooks headless (run), or build them as a static site (site)")
    s.add_argument("action", choices=["run", "site"])
    s.add_argument("--out", default=None, help="folder for the executed notebooks (default runs/course/executed; "
                   "site: site/)")
    s.add_argument("--only", default=None, help="comma-separated notebook prefixes, e.g. 00,01 (site: ex06, ex too)")
    s.add_argument("--publish", action="store_true", help="site: also the executed copies for the repository (executed/)")
    s.add_argument("-p", "--param", action="append", help="NAME=VALUE passed to every notebook's parameters cell")

    s = sub.add_parser("demo", help="the README's main job: the course weights find the novel objects of "
                       "data_samples/test; then a short fine-tune from them")
    s.add_argument("--epochs", type=int, default=2, help="fine-tune epochs (0: skip the fine-tune)")
    s.add_argument("--out", default="runs/demo")
    s.add_argument("--device", default="auto")

    s = sub.add_parser("weights", help="train the course weights (models/refdet_course.pt) and write their card")
    s.add_argument("--minutes", type=float, default=None,
                   help="training budget in all (default 60; the learning recipe alone: 27.5)")
    s.add_argument("--work", default="runs/weights", help="training sets and runs")
    s.add_argument("--out", default=None, help="the weights file (default models/refdet_course.pt)")
    s.add_argument("--style", default="realistic", choices=["realistic", "simple"])
    s.add_argument("--object_size", type=float, nargs=2, default=None, metavar=("MIN", "MAX"),
                   help="the training set's object sizes, longest box side in px (default: the course weights')")
    s.add_argument("--imgsz", type=int, default=None,
                   help="the frames' size in training and inference, a multiple of 32 (default: the recipe's 640)")
    s.add_argument("--backbone", default=None, choices=["yolov8", "mobilenetv2"],
                   help="the query backbone (default mobilenetv2: the ImageNet MobileNetV2 under YOLOv8's neck; "
                   "yolov8: YOLOv8n from random initialisation)")
    s.add_argument("--p2", action="store_true", help="a stride-4 level P2 in neck, fusion and head (mobilenetv2 only)")
    s.add_argument("--refit", action="store_true", help="no training: put --cues beside the committed weights' "
                   "verifier, fit their decision again on the card's training videos, pack, score, write the card")
    s.add_argument("--cues", nargs="*", default=["mobilenetv2"], choices=CUE_KINDS, help="with --refit: the frozen "
                   "pretrained cues (default: mobilenetv2)")
    s.add_argument("--size", action="store_true", help="with --refit: fit the size features too")


def cmd_validate(a) -> int:
    from ..data.annotations import validate_dataset

    for path in (a.data_root, a.annotations):
        if not Path(path).exists():
            raise UsageError(f"{path} does not exist")
    if a.min_refs < 1:
        raise UsageError(f"--min_refs must be >= 1 (got {a.min_refs})")
    try:  # decode=True: every frame once, its count against the header (a file corrupt mid-stream opens fine)
        _, summary = validate_dataset(a.data_root, a.annotations, min_refs=a.min_refs, decode=True)
    except DatasetError as e:
        print(str(e))
        return 1
    print(f"dataset OK: {a.data_root}")
    print(summary)
    return 0


def cmd_synth(a) -> int:
    from ..data.synthetic import META_NAME, generate_dataset, seen_identities

    if a.videos < 1 or a.frames < 1:
        raise UsageError("--videos and --frames must be >= 1")
    for d in a.avoid:
        if not (Path(d) / META_NAME).exists():
            raise UsageError(f"--avoid {d}: no {META_NAME} there (only datasets made by the generator can be avoided)")
    exclude = [i for d in a.avoid for i in seen_identities(d)]
    refs = a.refs or ("1-5" if a.style == "realistic" else "3")
    try:
        lo, _, hi = refs.partition("-")
        n_refs = (int(lo), int(hi)) if hi else int(lo)
    except ValueError:
        raise UsageError(f"--refs must be N or LO-HI, e.g. 3 or 1-5 (got {refs!r})") from None
    if min(np.atleast_1d(n_refs)) < 1 or (isinstance(n_refs, tuple) and n_refs[0] > n_refs[1]):
        raise UsageError(f"--refs needs at least 1 photo per object and LO <= HI (got {refs!r})")
    if not a.overwrite and any((Path(a.out) / d).exists() for d in ("samples", "annotations")):
        raise UsageError(f"{a.out} already holds a dataset (samples/ or annotations/): --overwrite replaces it, or "
                         "give another folder")
    out = generate_dataset(a.out, n_videos=a.videos, n_frames=a.frames, seed=a.seed, width=a.width, height=a.height,
                           split=a.split, exclude=exclude, style=a.style, n_refs=n_refs, overwrite=a.overwrite)
    print(f"wrote {a.videos} {a.style} videos x {a.frames} frames to {out}")
    print(f"  samples:     {Path(out) / 'samples'}")
    print(f"  annotations: {Path(out) / 'annotations' / 'annotations.json'}")
    return 0


def _shots(text: str) -> tuple[int, ...]:
    try:
        shots = tuple(int(s) for s in str(text).split(",") if s.strip())
    except ValueError:
        raise UsageError(f"--shots must be a comma-separated list of integers (got {text!r})") from None
    if not shots or min(shots) < 1:
        raise UsageError("--shots needs at least one count >= 1")
    return shots


def cmd_evaluate(a) -> int:
    from ..eval.evaluate import evaluate_checkpoint
    from ..eval.metrics import precision_text

    shots = _shots(a.shots)
    ignored = [f"--{f}" for f in ("n_way", "n_query") if getattr(a, f) is not None]
    if ignored:  # the guide's evaluate lines carry the training episode's shape: say it changes nothing here
        log.info(f"note: {' and '.join(ignored)} shape training episodes; evaluation runs every frame: no effect")
    if (a.checkpoint is None) == (a.onnx is None):
        raise UsageError("give --checkpoint (a PyTorch model) or --onnx (an export folder), one of the two")
    for flag in ("checkpoint", "onnx", "test_data_root", "test_annotations"):
        if getattr(a, flag) is not None and not Path(getattr(a, flag)).exists():
            raise UsageError(f"--{flag}: {getattr(a, flag)} does not exist")
    _check_shots(shots, a.test_data_root)
    size, looks = _imgsz(a), looks_of(a)
    src = Path(a.onnx) if a.onnx else Path(a.checkpoint).parent
    out = Path(a.out) if a.out else src / "eval"
    if a.onnx:
        from ..eval.evaluate import evaluate_model
        res = evaluate_model(onnx_model(a.onnx, a.device), a.test_data_root, a.test_annotations, shots, a.conf,
                             a.iou, out, track=a.track, **looks)
    else:
        res = evaluate_checkpoint(a.checkpoint, a.test_data_root, a.test_annotations, shots, a.conf, a.iou, out,
                                  a.device, track=a.track, **size, **looks)
    print()
    for shot, r in res.items():
        o = r["overall"]
        print(f"{shot}: mAP@0.5 {o['map50']:.3f} (videos averaged {r['mean_map50']:.3f})  mAP@0.5:0.95 "
              f"{o['map50_95']:.3f}  {precision_text(o)}  recall {o['recall']:.3f}  ST-IoU {r['mean_st_iou']:.3f}"
              f"  (at conf {r['conf']:.2f})")
    return 0


def onnx_model(export_dir, device: str = "auto"):
    """The exported graphs as a model (RefDet's interface): CUDA / TensorRT providers on a GPU machine."""
    import torch

    from ..export.runner import OnnxRefDet

    if not Path(export_dir).is_dir():
        raise UsageError(f"--onnx {export_dir} is not a folder (write one with `refdet export --checkpoint ...`)")
    from .checks import load_export

    gpu = device != "cpu" and torch.cuda.is_available()
    return load_export(lambda: OnnxRefDet(export_dir, providers=(["TensorrtExecutionProvider",
                                                                  "CUDAExecutionProvider"] if gpu else [])
                                          + ["CPUExecutionProvider"]), export_dir)


def _imgsz(a) -> dict:
    """--imgsz as load_model's override ({} when not given); a UsageError before any model is loaded (an ONNX
    export's size is fixed in its graphs)."""
    if a.imgsz is None:
        return {}
    if getattr(a, "onnx", None) is not None:
        raise UsageError("--imgsz applies to a checkpoint: an ONNX export keeps the size it was exported at")
    return {"imgsz": check_imgsz(a.imgsz, "--imgsz")}


def _check_shots(shots, data_root) -> None:
    """--shots K needs K reference photos in every video (else a '5-shot' row would really be 3-shot)."""
    from ..data.annotations import list_reference_images

    root = Path(data_root)
    have = {p.name: len(list_reference_images(p)) for p in sorted(root.iterdir()) if p.is_dir()}
    short = {v: n for v, n in have.items() if n < max(shots)}
    if short:
        v, n = next(iter(short.items()))
        raise UsageError(f"--shots {max(shots)}: {len(short)} video(s) have fewer reference photos, e.g. {root / v} "
                         f"has {n}")


def cmd_predict(a) -> int:
    from ..data.annotations import VIDEO_NAME
    from ..eval.inference import predict_video, read_images, to_submission, top_box, write_annotated_video
    from ..model.loading import load_course_model, load_model
    from ..data.video import video_info
    from ..runtime import select_device
    from .checks import check_writable, predict_names, reference_paths, temp_name, warn_small_references

    video, vid = predict_names(a.video, VIDEO_NAME)  # resolved: `drone_video.mp4` in its folder, `x/../v.mp4`
    if not video.exists():
        raise UsageError(f"--video {a.video} does not exist")
    try:  # video_info refuses a photo (a reference photo given as --video is a mistake)
        if video_info(video)["frames"] < 1:
            raise IOError
    except IOError:
        raise UsageError(f"--video {a.video} is not a video OpenCV can read (an mp4 file, e.g. drone_video.mp4)") \
            from None
    refs = reference_paths(a.references)  # a folder: its image files
    if a.out and Path(a.out).exists() and not Path(a.out).is_dir():
        raise UsageError(f"--out {a.out} is a file: give a folder for the annotated mp4 and submission.json")
    if a.checkpoint is not None and a.onnx is not None:
        raise UsageError("give --checkpoint or --onnx, not both")
    size, looks = _imgsz(a), looks_of(a)
    out, info = Path(a.out) if a.out else Path("runs/predict") / vid, video_info(video)
    check_writable(out, ["submission.json", f"{vid}_pred.mp4"], (info["width"], info["height"]), info["fps"])
    if a.onnx is not None:
        model = onnx_model(a.onnx, a.device)
        print(f"onnxruntime on {model.providers[0]}: {a.onnx}")
    elif a.checkpoint is None:
        model = load_course_model(select_device(a.device), **size)
        print("the course weights (models/refdet_course.pt; --checkpoint for your own model)")
    else:
        model = load_model(a.checkpoint, select_device(a.device), **size)
    images = read_images(refs)
    warn_small_references(refs, images)
    model.set_references(images)
    dec = model.decision
    conf = a.conf if a.conf is not None else (dec.threshold if a.track else dec.frame_threshold)
    dets, stats = predict_video(model, video, conf=conf, iou=a.iou, track=a.track, max_gap=a.max_gap, **looks)
    sub, mp4 = out / "submission.json", out / f"{vid}_pred.mp4"
    tmp_mp4, tmp_sub = temp_name(mp4), temp_name(sub)  # both written, then renamed: never half a set of outputs
    try:
        write_annotated_video(video, dets, tmp_mp4)
        tmp_sub.write_text(json.dumps([to_submission(vid, dets)], indent=1))
        os.replace(tmp_mp4, mp4)
        os.replace(tmp_sub, sub)
    finally:
        tmp_mp4.unlink(missing_ok=True)
        tmp_sub.unlink(missing_ok=True)
    found = sum(top_box(d) is not None for d in dets.values())
    ran_at = model.meta["imgsz"] if a.onnx is not None else model.config.imgsz
    print(f"{stats['frames']} frames at {stats['fps']:.1f} FPS (imgsz {ran_at}); object found in {found} frames "
          f"(score >= {conf:.2f}"
          f"{', tracked' if a.track else ''}{', verified' if model.verifier is not None else ''})")
    print(f"annotated video: {mp4}\nsubmission JSON: {sub}")
    return 0


def cmd_train_verifier(a) -> int:
    from ..config import TrainConfig
    from ..train.verifier import train_verifier

    for flag in ("checkpoint", "data_root", "annotations", "resume"):
        v = getattr(a, flag)
        if v and not Path(v).exists():
            raise UsageError(f"--{flag}: {v} does not exist")
    for flag in ("epochs", "n_batches", "n_ids", "crop_size", "top_k", "calib_videos", "calib_frames"):
        if getattr(a, flag) < 1:
            raise UsageError(f"--{flag} must be >= 1 (got {getattr(a, flag)})")
    if a.crop_size % 16:
        raise UsageError(f"--crop_size must be a multiple of 16 (four stride-2 stages; got {a.crop_size})")
    data = DataConfig(data_root=a.data_root, annotations=a.annotations, num_workers=a.num_workers)
    vcfg = VerifierConfig(kind=a.kind, crop_size=a.crop_size, top_k=a.top_k, cues=tuple(a.cues))
    train = TrainConfig(epochs=a.epochs, lr=a.lr, checkpoint_dir=a.checkpoint_dir, resume=a.resume, device=a.device,
                        seed=a.seed, save_interval=max(1, a.epochs))
    out = train_verifier(a.checkpoint, data, vcfg, train, n_batches=a.n_batches, n_ids=a.n_ids, bank=a.bank,
                         n_fresh=a.fresh, style=a.style, calib_videos=a.calib_videos, calib_frames=a.calib_frames)
    print(f"detector + verifier + calibrated decision: {out}")
    return 0


def cmd_calibrate(a) -> int:
    from ..data.annotations import parse_annotations
    from ..eval.calibration import calibrate, collect_candidates, has_hits
    from ..model.loading import load_model
    from ..runtime import select_device
    from ..train.verifier import save_refdet

    for flag in ("checkpoint", "data_root", "annotations"):
        if not Path(getattr(a, flag)).exists():
            raise UsageError(f"--{flag}: {getattr(a, flag)} does not exist")
    for flag in ("videos", "frames"):
        if getattr(a, flag) < 1:
            raise UsageError(f"--{flag} must be >= 1 (got {getattr(a, flag)})")
    looks = looks_of(a)  # the scheme to fit the decision for, stored in the calibrated checkpoint
    model = load_model(a.checkpoint, select_device(a.device), **_imgsz(a), **looks)
    if a.cues is not None:
        if model.verifier is None:
            raise UsageError(f"--cues: {a.checkpoint} has no verifier for them to sit beside (refdet train-verifier "
                             "adds one)")
        model.set_cues(a.cues)
    vids = sorted(parse_annotations(a.annotations))[: a.videos]
    cands = collect_candidates(model, a.data_root, a.annotations, vids, a.frames)
    if not has_hits(cands):
        raise UsageError(f"{a.checkpoint}: none of its candidates covers the object in the first {a.frames} frames "
                         f"of {len(vids)} video(s) of {a.annotations}: nothing to fit the decision on (more "
                         "--frames or --videos, or a model trained longer)")
    dec = calibrate(model, a.data_root, a.annotations, vids, a.frames, cands=cands, size=a.size,
                    scale=model.config.tiles >= 2 or model.config.window > 1)
    out = Path(a.out) if a.out else Path(a.checkpoint).with_name(Path(a.checkpoint).stem + "_calibrated.pt")
    save_refdet(model, a.checkpoint, out)
    print(f"{dec.formula()}; threshold {dec.threshold:.2f} (tracked), {dec.frame_threshold:.2f} (frames alone)\n"
          f"calibrated checkpoint: {out}")
    return 0


def cmd_export(a) -> int:
    from .export_cmd import export

    return export(a)


def cmd_course(a) -> int:
    import ast

    from ..course.runner import NOTEBOOKS, run_course

    params = {}
    for kv in a.param or []:
        k, _, v = kv.partition("=")
        try:
            params[k] = ast.literal_eval(v)
        except (ValueError, SyntaxError):
            params[k] = v
    nbs = None
    if a.only:
        nbs = [n for n in NOTEBOOKS if any(n.startswith(o) for o in a.only.split(","))]
    if a.action == "site":
        from ..course.published import PUBLISHED
        from ..course.site import SITE, build_site, select

        nbs = select(a.only) if a.only else None  # exercises too (ex06, ex: their solutions alone)

        print(f"open {build_site(a.out or SITE, nbs, params, publish_to=PUBLISHED if a.publish else None)}")
        return 0
    paths = run_course(a.out, nbs, params)
    print(f"executed {len(paths)} notebook(s) into {Path(paths[0]).parent if paths else a.out}")
    return 0


def cmd_demo(a) -> int:
    from .demo import demo

    return demo(a)


def cmd_weights(a) -> int:
    from ..model.loading import COURSE_WEIGHTS
    from ..train.course_weights import make_course_weights

    if a.refit:
        from ..train.course_refit import refit_course_weights

        refit_course_weights(a.cues, a.out or COURSE_WEIGHTS, a.work, a.size)
        return 0
    if a.minutes is not None and a.minutes <= 0:
        raise UsageError(f"--minutes must be > 0 (got {a.minutes})")
    if a.object_size is not None and not 0 < a.object_size[0] <= a.object_size[1]:
        raise UsageError(f"--object_size needs 0 < MIN <= MAX (got {a.object_size[0]:g} {a.object_size[1]:g})")
    kw = _imgsz(a)
    if kw.get("imgsz", 640) <= 320:
        raise UsageError(f"--imgsz must be above the recipe's 320 px windows (got {a.imgsz})")
    kw.update({"object_size": tuple(a.object_size)} if a.object_size is not None else {},
              **({"backbone": a.backbone} if a.backbone else {}))
    make_course_weights(a.work, a.out or COURSE_WEIGHTS, a.minutes, a.style, p2=a.p2, **kw)
    return 0


HANDLERS = {"validate": cmd_validate, "synth": cmd_synth, "evaluate": cmd_evaluate, "predict": cmd_predict,
            "export": cmd_export, "course": cmd_course, "demo": cmd_demo, "train-verifier": cmd_train_verifier,
            "calibrate": cmd_calibrate, "weights": cmd_weights}
