"""Read and validate `annotations.json` in the guide's format.

    [{"video_id": "Backpack_0",
      "annotations": [{"bboxes": [{"frame": 3483, "x1": 321, "y1": 0, "x2": 381, "y2": 12}, ...]}, ...]}, ...]

Absolute pixels, 0-indexed frames, several intervals (entries of "annotations") and several boxes per frame allowed.

Validation collects *every* problem before reporting, each naming the file, the video, the frame and the field, so a
user fixes a broken dataset in one pass instead of one crash at a time (the guide's "NaN losses / invalid bbox"
troubleshooting step, done before training rather than during it).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import DatasetError, Problem

VIDEO_NAME = "drone_video.mp4"
REF_DIR = "object_images"
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
BOX_KEYS = ("frame", "x1", "y1", "x2", "y2")


@dataclass
class VideoAnnotation:
    """All boxes of one video: frame index -> (N, 4) float32 x1y1x2y2 array."""

    video_id: str
    boxes: dict[int, np.ndarray] = field(default_factory=dict)
    intervals: list[tuple[int, int]] = field(default_factory=list)  # (first, last) frame of each interval

    @property
    def frames(self) -> list[int]:
        return sorted(self.boxes)

    @property
    def n_boxes(self) -> int:
        return int(sum(len(b) for b in self.boxes.values()))


def _num(v) -> Optional[float]:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return float(v) if math.isfinite(v) else None


def video_id_problem(vid: str) -> Optional[str]:
    """Why `vid` cannot name a folder inside data_root (None when it can): every reader joins it to data_root and
    the frame cache names its folder after it, so `../../x` or `/abs` would read and write outside the dataset."""
    if vid in (".", ".."):
        return f"video_id {vid!r} is not a folder name: it must name one folder inside data_root"
    if "/" in vid or "\\" in vid or "\0" in vid or Path(vid).is_absolute():
        return (f"video_id {vid!r} is a path: it must name one folder inside data_root (no '/', '\\' or "
                "'..'), as the folder's name")
    return None


def parse_annotations(path: str | Path, problems: Optional[list[Problem]] = None) -> dict[str, VideoAnnotation]:
    """Parse annotations.json into {video_id: VideoAnnotation}.

    Structural problems (invalid JSON, missing keys, non-numeric values, x1>=x2 / y1>=y2) are appended to `problems`
    when a list is given; otherwise the first call that finds any raises DatasetError with all of them.
    Boxes with problems are dropped from the result so the rest can still be checked.
    """
    path = Path(path)
    own = problems is None
    problems = [] if own else problems
    f = str(path)
    out: dict[str, VideoAnnotation] = {}
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))  # a UTF-8 BOM (Windows editors) is fine
    except FileNotFoundError:
        problems.append(Problem(f, "annotations file not found"))
        data = None
    except json.JSONDecodeError as e:
        problems.append(Problem(f, f"invalid JSON: {e.msg} at line {e.lineno}, column {e.colno}"))
        data = None
    except UnicodeDecodeError:
        problems.append(Problem(f, "not a text file (binary data): annotations must be UTF-8 JSON"))
        data = None
    except IsADirectoryError:
        problems.append(Problem(f, "is a folder: expected the annotations JSON file"))
        data = None
    if data is not None and not isinstance(data, list):
        problems.append(Problem(f, f"top level must be a list of videos, got {type(data).__name__}"))
        data = None
    for vi, entry in enumerate(data or []):
        if not isinstance(entry, dict):
            problems.append(Problem(f, f"entry {vi} must be an object, got {type(entry).__name__}"))
            continue
        vid = entry.get("video_id")
        if not isinstance(vid, str) or not vid:
            problems.append(Problem(f, f"entry {vi}: missing or empty 'video_id'", field="video_id"))
            continue
        why = video_id_problem(vid)
        if why:
            problems.append(Problem(f, why, video_id=vid, field="video_id"))
            continue
        if vid in out:
            problems.append(Problem(f, "video_id appears twice", video_id=vid, field="video_id"))
        va = out.setdefault(vid, VideoAnnotation(vid))
        intervals = entry.get("annotations")
        if not isinstance(intervals, list):
            problems.append(Problem(f, "missing 'annotations' list", video_id=vid, field="annotations"))
            continue
        if not intervals:
            problems.append(Problem(f, "'annotations' is empty: no interval, so no frame shows the object",
                                    video_id=vid, field="annotations"))
            continue
        for ii, interval in enumerate(intervals):
            bxs = interval.get("bboxes") if isinstance(interval, dict) else None
            if not isinstance(bxs, list):
                problems.append(Problem(f, f"annotations[{ii}] has no 'bboxes' list", video_id=vid,
                                        field=f"annotations[{ii}].bboxes"))
                continue
            frames_here = []
            for bi, b in enumerate(bxs):
                if not isinstance(b, dict):
                    problems.append(Problem(f, f"annotations[{ii}].bboxes[{bi}] must be an object", video_id=vid))
                    continue
                frame = b.get("frame")
                fr = frame if isinstance(frame, int) and not isinstance(frame, bool) else None
                ok = True
                for k in BOX_KEYS:
                    if k not in b:
                        problems.append(Problem(f, f"missing key '{k}' in annotations[{ii}].bboxes[{bi}]",
                                                video_id=vid, frame=fr, field=k))
                        ok = False
                    elif _num(b[k]) is None:
                        problems.append(Problem(f, f"'{k}' must be a finite number, got {b[k]!r}",
                                                video_id=vid, frame=fr, field=k))
                        ok = False
                if not ok:
                    continue
                if fr is None:
                    if float(frame) != int(frame):
                        problems.append(Problem(f, f"'frame' must be an integer, got {frame!r}", video_id=vid,
                                                field="frame"))
                        continue
                    fr = int(frame)
                if fr < 0:
                    problems.append(Problem(f, "frame index is negative (frames are 0-indexed)", video_id=vid,
                                            frame=fr, field="frame"))
                    continue
                x1, y1, x2, y2 = (float(b[k]) for k in BOX_KEYS[1:])
                if x1 >= x2:
                    problems.append(Problem(f, f"x1 ({x1:g}) >= x2 ({x2:g})", video_id=vid, frame=fr, field="x1"))
                    continue
                if y1 >= y2:
                    problems.append(Problem(f, f"y1 ({y1:g}) >= y2 ({y2:g})", video_id=vid, frame=fr, field="y1"))
                    continue
                box = np.array([[x1, y1, x2, y2]], np.float32)
                if fr in va.boxes and (va.boxes[fr] == box).all(1).any():  # counted twice: halves recall and mAP
                    problems.append(Problem(f, f"duplicate box ({x1:g}, {y1:g}, {x2:g}, {y2:g}): the same box twice "
                                            "on one frame (remove one)", video_id=vid, frame=fr, field="bboxes"))
                    continue
                va.boxes[fr] = np.concatenate([va.boxes[fr], box]) if fr in va.boxes else box
                frames_here.append(fr)
            if frames_here:
                va.intervals.append((min(frames_here), max(frames_here)))
    if own and problems:
        raise DatasetError(problems)
    return out


def list_reference_images(video_dir: Path) -> list[Path]:
    """Reference images of one video, in natural order (img_1, img_2, ..., img_10)."""
    d = Path(video_dir) / REF_DIR
    if not d.is_dir():
        return []
    imgs = [p for p in d.iterdir() if p.suffix.lower() in IMAGE_EXTS]

    def key(p: Path):
        digits = "".join(ch for ch in p.stem if ch.isdigit())
        return (int(digits) if digits else 1 << 30, p.name)

    return sorted(imgs, key=key)


@dataclass
class DatasetSummary:
    videos: int
    frames_annotated: int
    boxes: int
    frames_total: int
    box_w: np.ndarray
    box_h: np.ndarray
    per_video: dict[str, dict]

    def __str__(self) -> str:
        lines = [f"videos: {self.videos}   annotated frames: {self.frames_annotated} of {self.frames_total}   "
                 f"boxes: {self.boxes}"]
        if self.boxes:
            area = np.sqrt(self.box_w * self.box_h)
            lines.append("box size (px)   min / median / max")
            for name, arr in (("width", self.box_w), ("height", self.box_h), ("sqrt(area)", area)):
                lines.append(f"  {name:<12}  {arr.min():6.1f} / {np.median(arr):6.1f} / {arr.max():6.1f}")
        lines.append(f"{'video_id':<20} {'frames':>7} {'size':>10} {'annotated':>10} {'boxes':>6} {'refs':>5} "
                     f"{'intervals':>9}")
        for vid, s in self.per_video.items():
            lines.append(f"{vid:<20} {s['frames']:>7} {s['width']:>4}x{s['height']:<5} {s['annotated']:>10} "
                         f"{s['boxes']:>6} {s['refs']:>5} {s['intervals']:>9}")
        return "\n".join(lines)


def decodable_frames(path: str | Path) -> int:
    """Frames that really decode, counted in one sequential pass (grab: no colour conversion, no copy)."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    n = 0
    try:
        while cap.isOpened() and cap.grab():
            n += 1
    finally:
        cap.release()
    return n


def validate_dataset(data_root: str | Path, annotations_file: str | Path, min_refs: int = 1,
                     check_images: bool = True, decode: bool = False) -> tuple[dict[str, VideoAnnotation],
                                                                            DatasetSummary]:
    """Check a dataset in the guide's layout; raise DatasetError listing *every* problem, else return a summary.

    Checks: JSON structure and values, x1<x2 and y1<y2, boxes inside the frame, frame index below the video's
    length, every video_id has a folder with a readable video, every folder has annotations, at least `min_refs`
    readable reference images. decode=True (`refdet validate`) also runs through every frame of each video once
    and compares the count with its header (a file corrupt mid-stream opens, and its first frame reads, fine).
    """
    import cv2

    data_root = Path(data_root)
    problems: list[Problem] = []
    anns = parse_annotations(annotations_file, problems)
    ann_file = str(annotations_file)
    if not data_root.is_dir():
        problems.append(Problem(str(data_root), "data_root is not a folder"))
        raise DatasetError(problems)
    folders = sorted(p.name for p in data_root.iterdir() if p.is_dir() and not p.name.startswith("."))
    for name in folders:
        if name not in anns and (data_root / name / VIDEO_NAME).exists():
            problems.append(Problem(str(data_root / name), "folder has a video but no entry in annotations",
                                    video_id=name, field="video_id"))
    per_video: dict[str, dict] = {}
    frames_total = 0
    ws, hs = [], []
    for vid, va in anns.items():
        vdir = data_root / vid
        vpath = vdir / VIDEO_NAME
        if not vdir.is_dir():
            problems.append(Problem(ann_file, f"no folder {vdir}", video_id=vid, field="video_id"))
            continue
        if not vpath.exists():
            problems.append(Problem(str(vpath), "video file missing", video_id=vid))
            continue
        cap = cv2.VideoCapture(str(vpath))
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) if cap.isOpened() else 0
        w = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        h = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        ok = cap.isOpened() and cap.read()[0]
        cap.release()
        if not ok or n <= 0:
            problems.append(Problem(str(vpath), "video cannot be read (corrupt or unsupported codec)", video_id=vid))
            continue
        if decode:
            m = decodable_frames(vpath)
            if m < n:
                problems.append(Problem(str(vpath), f"its header says {n} frames but only {m} decode (corrupt or "
                                        "truncated mid-stream)", video_id=vid, field="frames"))
                n = m
        frames_total += n
        for fr, boxes in sorted(va.boxes.items()):
            if fr >= n:
                problems.append(Problem(ann_file, f"frame index {fr} is beyond the video's length ({n} frames)",
                                        video_id=vid, frame=fr, field="frame"))
                continue
            for x1, y1, x2, y2 in boxes:
                for k, v, lim in (("x1", x1, w), ("y1", y1, h), ("x2", x2, w), ("y2", y2, h)):
                    if v < 0 or v > lim:
                        problems.append(Problem(ann_file, f"{k}={v:g} is outside the frame (0..{lim})",
                                                video_id=vid, frame=fr, field=k))
                ws.append(x2 - x1)
                hs.append(y2 - y1)
        refs = list_reference_images(vdir)
        readable = 0
        for p in refs:
            if not check_images or cv2.imread(str(p)) is not None:
                readable += 1
            else:
                problems.append(Problem(str(p), "reference image cannot be read", video_id=vid))
        if readable < min_refs:
            problems.append(Problem(str(vdir / REF_DIR), f"{readable} readable reference image(s), need at least "
                                    f"{min_refs}", video_id=vid))
        per_video[vid] = dict(frames=n, width=w, height=h, annotated=len(va.boxes), boxes=va.n_boxes,
                              refs=readable, intervals=len(va.intervals))
    if not anns and not problems:
        problems.append(Problem(ann_file, f"the dataset holds no video: the annotations list is empty and no folder of "
                                f"{data_root} has a {VIDEO_NAME}", field="video_id"))
    if problems:
        raise DatasetError(problems)
    summary = DatasetSummary(videos=len(anns), frames_annotated=sum(len(v.boxes) for v in anns.values()),
                             boxes=sum(v.n_boxes for v in anns.values()), frames_total=frames_total,
                             box_w=np.array(ws, np.float32), box_h=np.array(hs, np.float32), per_video=per_video)
    return anns, summary
