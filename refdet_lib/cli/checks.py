"""Checks every command shares, made before any model is loaded or any frame is run, each failing in one line.

- Numbers: a NaN or inf passes every comparison (`nan < 0` is False), so finiteness is checked first, for every float
  flag of every command; then the ranges of the flags several commands share (--conf, --iou, --max_gap).
- --device: a name torch knows but the project cannot run on (mps, meta) is refused here, not deep in a model.
- predict's outputs: named after the *resolved* video (`drone_video.mp4` typed in its own folder, `x/../v.mp4`),
  and proven writable (folder, file names, the mp4 writer at the video's size) before the whole video is run, since
  an error after inference loses the run; then written under temporary names and renamed, so a failure never leaves
  half a set of outputs.
"""
from __future__ import annotations

import math
import os
import sys
from pathlib import Path

from ..errors import UsageError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
MIN_REFERENCE_SIDE = 8  # px: below it a reference photo cannot show the object (one pixel says nothing)


def check_flags(a) -> None:
    """Finite numbers, shared ranges and a usable --device, for any command's namespace (UsageError / ValueError)."""
    for k, v in sorted(vars(a).items()):
        for x in (v if isinstance(v, (list, tuple)) else [v]):
            if isinstance(x, float) and not math.isfinite(x):
                raise UsageError(f"--{k} must be a finite number (got {x})")
    conf, iou, gap = (getattr(a, k, None) for k in ("conf", "iou", "max_gap"))
    if conf is not None and not 0.0 <= conf <= 1.0:
        raise UsageError(f"--conf is a score threshold between 0 and 1 (got {conf:g})")
    if iou is not None and not 0.0 < iou <= 1.0:
        raise UsageError(f"--iou is an overlap between 0 and 1 (got {iou:g})")
    if gap is not None and gap < 0:
        raise UsageError(f"--max_gap is a number of frames, 0 or more (got {gap})")
    if isinstance(getattr(a, "device", None), str):
        from ..runtime import select_device

        select_device(a.device)  # ValueError, one line: exit 2


def reference_paths(refs: list[str]) -> list[Path]:
    """--references as image files: a folder stands for the image files in it (sorted)."""
    out = []
    for r in refs:
        p = Path(r)
        if p.is_dir():
            imgs = sorted(q for q in p.iterdir() if q.is_file() and q.suffix.lower() in IMAGE_SUFFIXES)
            if not imgs:
                raise UsageError(f"--references {p} is a folder with no image files ({', '.join(IMAGE_SUFFIXES)}): "
                                 "give reference photos, or a folder of them")
            out += imgs
        elif p.is_file():
            out.append(p)
        else:
            raise UsageError(f"--references: {p} does not exist")
    return out


def warn_small_references(paths: list[Path], images) -> None:
    """One line per reference photo too small to show anything (a 1x1 px file is read fine and then says nothing)."""
    for p, img in zip(paths, images):
        h, w = img.shape[:2]
        if min(h, w) < MIN_REFERENCE_SIDE:
            print(f"warning: --references {p} is {w}x{h} px: too small to show the object (a photo a few dozen "
                  "pixels a side or more)", file=sys.stderr)


def predict_names(video: str | Path, video_name: str) -> tuple[Path, str]:
    """The resolved video and its id: the folder's name for `<video_id>/drone_video.mp4`, else the file's stem."""
    video = Path(video).resolve()
    vid = video.parent.name if video.name == video_name and video.parent.name else video.stem
    return video, vid


def check_writable(out: Path, names: list[str], size: tuple[int, int], fps: float) -> None:
    """The output folder can be made and written, each name fits the file system, and the mp4 writer accepts the
    video's size: UsageError naming what fails, before any inference."""
    import cv2

    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"--out {out} cannot be created ({e.strerror or e})") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise UsageError(f"--out {out} is not writable: give a folder you can write to")
    try:
        limit = os.pathconf(out, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):
        limit = 255
    for n in names:
        if len(n.encode()) > limit:
            raise UsageError(f"the output file name {n[:40]}... is {len(n.encode())} bytes, over the file system's "
                             f"{limit}: give --out and a video with a shorter name")
    probe = out / f".probe{os.getpid()}.mp4"
    try:
        w = cv2.VideoWriter(str(probe), cv2.VideoWriter_fourcc(*"mp4v"), fps or 25.0, size)
        ok = w.isOpened()
        w.release()
    finally:
        probe.unlink(missing_ok=True)
    if not ok:
        raise UsageError(f"the mp4 writer refuses a {size[0]}x{size[1]} video (mp4v needs at least 2 px a side): "
                         "the annotated video could not be written")


def temp_name(path: Path) -> Path:
    """A temporary name beside `path` with its suffix (the mp4 writer picks the container from it)."""
    return path.with_name(f".tmp{os.getpid()}{path.suffix}")


def load_export(make, export_dir) -> object:
    """`make()` -> an OnnxRefDet, tried on one blank frame before the real work: an edited or truncated export
    (onnxruntime's InvalidProtobuf / InvalidArgument, a KeyError or bad JSON in export.json) is one UsageError
    naming the folder instead of a traceback, at load or halfway through a video."""
    import json

    import numpy as np

    try:
        model = make()
        side = int(model.meta["support_size"])
        model.set_references([np.full((side, side, 3), 127, np.uint8)])
        model.predict([np.zeros((int(model.meta["imgsz"]), int(model.meta["imgsz"]), 3), np.uint8)])
        model.clear_references()
        return model
    except Exception as e:  # noqa: BLE001 - only onnxruntime's errors and a damaged export.json are the user's
        theirs = type(e).__module__.startswith("onnxruntime") or isinstance(e, (KeyError, json.JSONDecodeError))
        if not theirs:
            raise
        first = (str(e).strip().splitlines() or [""])[0][:160]
        raise UsageError(f"--onnx {export_dir} is not a usable export ({type(e).__name__}: {first}): write it again "
                         "with `refdet export --checkpoint ...`") from None


def add_looks(s) -> None:
    s.add_argument("--tiles", type=int, default=None, metavar="N", help="also look at each frame as N x N "
                   "overlapping tiles at the full input size (2: about 1.8x larger objects, 4 more passes a frame; "
                   "0: off; default: the scheme the model was calibrated with, `refdet calibrate --tiles`)")
    s.add_argument("--tile_every", type=int, default=None, metavar="K", help="with --tiles: tile every Kth frame "
                   "only (default: the model's, else 1)")
    s.add_argument("--window", type=float, default=None, metavar="Z", help="also look at a square Z times smaller "
                   "than the frame around the best live track while its box is small (2: objects seen twice as large, "
                   "one more pass a frame; 0: off; default: the model's scheme)")


def looks_of(a) -> dict:
    """--tiles / --tile_every / --window as predict_video's keywords ({} when not given: the model's own scheme); a
    UsageError for impossible values."""
    if a.tiles is not None and (a.tiles < 0 or a.tiles > 8 or a.tiles == 1):
        raise UsageError(f"--tiles must be 0 (off) or 2-8 (got {a.tiles})")
    if a.tile_every is not None and a.tile_every < 1:
        raise UsageError(f"--tile_every must be 1 or more (got {a.tile_every})")
    if a.window is not None and a.window != 0 and not 1 < a.window <= 8:
        raise UsageError(f"--window must be 0 (off) or a zoom above 1 and at most 8 (got {a.window})")
    given = {"tiles": a.tiles, "tile_every": a.tile_every, "window": a.window}
    return {k: v for k, v in given.items() if v is not None}
