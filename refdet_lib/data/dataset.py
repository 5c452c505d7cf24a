"""RefDetDataset: one item = a query frame of a video + that video's reference images + the frame's boxes.

The API is the training guide's:

    ds = RefDetDataset(data_root=".../samples", annotations_file=".../annotations.json", mode="train")
    len(ds); ds.classes; ds[0] -> {"video_id", "query_frame", "support_images", "bboxes"}

Items are ordered annotated frames first (video by video, frame by frame), then the sampled background frames
(negatives, train mode only), so `ds[0]` is always a frame with a box, as the guide's snippets expect.
"""
from __future__ import annotations

import zlib
from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import InputError
from ..log import bars
from ..ops.images import read_rgb
from .annotations import VIDEO_NAME, list_reference_images, validate_dataset
from .video import FrameCache, max_side_scale, read_frame, resize_max_side, video_info

MODES = ("train", "val", "test")


def _pick_negatives(n_frames: int, annotated: set[int], k: int, video_id: str) -> list[int]:
    """k unannotated frames spread over the video, chosen the same way every run (seeded by the video id)."""
    free = np.array(sorted(set(range(n_frames)) - annotated), dtype=np.int64)
    if k <= 0 or len(free) == 0:
        return []
    rng = np.random.default_rng(zlib.crc32(video_id.encode()))
    return sorted(rng.choice(free, size=min(k, len(free)), replace=False).tolist())


class RefDetDataset:
    """Frames of drone videos with reference images of the object to find.

    Args:
        data_root: folder with one sub-folder per video (`<video_id>/drone_video.mp4`, `<video_id>/object_images/`).
        annotations_file: the guide's annotations.json.
        mode: "train" (annotated + sampled negative frames) or "val"/"test" (annotated frames only).
        cache_frames: keep decoded frames in an on-disk cache (decode each video once, ever).
        cache_size: frames also kept in RAM in front of the disk cache (the guide's `cache_size=1000`).
        frame_size: stored longer side of frames (None = original size; the trainer uses its imgsz).
        negatives_per_video: background frames per video kept as negatives in train mode.
        cache_dir: where the frame cache lives (default `<data_root>/../.refdet_cache`).
        validate: run the full dataset validation first (raises DatasetError listing every problem).
    """

    def __init__(self, data_root: str | Path, annotations_file: str | Path, mode: str = "train",
                 cache_frames: bool = True, cache_size: Optional[int] = None, frame_size: Optional[int] = None,
                 negatives_per_video: int = 8, cache_dir: Optional[str | Path] = None, validate: bool = True,
                 n_shot: Optional[int] = None, verbose: bool = False):
        if mode not in MODES:
            raise InputError(f"mode must be one of {MODES}, got {mode!r}")
        self.data_root = Path(data_root)
        self.annotations_file = Path(annotations_file)
        self.mode = mode
        self.frame_size = frame_size
        self.n_shot = n_shot
        if validate:
            self.annotations, self.summary = validate_dataset(self.data_root, self.annotations_file)
        else:
            from .annotations import parse_annotations
            self.annotations, self.summary = parse_annotations(self.annotations_file), None
        self.classes: list[str] = sorted(self.annotations)
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}
        self.video_paths = {v: self.data_root / v / VIDEO_NAME for v in self.classes}
        self.ref_paths = {v: list_reference_images(self.data_root / v) for v in self.classes}
        short = sorted(v for v, p in self.ref_paths.items() if n_shot and len(p) < n_shot)
        if short:
            import warnings

            warnings.warn(f"n_shot {n_shot}: {len(short)} of {len(self.classes)} videos have fewer reference photos "
                          f"(e.g. {self.data_root / short[0] / 'object_images'}: {len(self.ref_paths[short[0]])}); "
                          "their photos are repeated to make up the count", stacklevel=2)
        known = self.summary.per_video if self.summary is not None else {}
        self.info = {v: ({k: known[v][k] for k in ("frames", "width", "height")} if v in known else video_info(p))
                     for v, p in self.video_paths.items()}  # validation already opened every video: reuse that

        pos, neg = [], []
        self.negatives: dict[str, list[int]] = {}
        for v in self.classes:
            ann = self.annotations[v]
            pos += [(v, f) for f in ann.frames]
            k = negatives_per_video if mode == "train" else 0
            self.negatives[v] = _pick_negatives(self.info[v]["frames"], set(ann.frames), k, v)
            neg += [(v, f) for f in self.negatives[v]]
        self.items: list[tuple[str, int]] = pos + neg
        self.n_positive = len(pos)
        self._refs: dict[str, list[np.ndarray]] = {}

        self.cache: Optional[FrameCache] = None
        if cache_frames:
            root = Path(cache_dir) if cache_dir else self.data_root.parent / ".refdet_cache"
            self.cache = FrameCache(root, memory_frames=cache_size or 0)
            self.prepare(verbose=verbose)

    # ------------------------------------------------------------------ frames
    def frames_of(self, video_id: str) -> list[int]:
        return self.annotations[video_id].frames + self.negatives[video_id]

    def prepare(self, verbose: bool = False) -> int:
        """Fill the frame cache (one sequential pass per video that is not cached yet); returns frames decoded."""
        from tqdm.auto import tqdm

        decoded = 0
        bar = tqdm(self.classes, desc="frame cache", disable=not bars(verbose), leave=False)
        for v in bar:
            decoded += self.cache.prepare(v, self.video_paths[v], self.frames_of(v), self.frame_size)
        return decoded

    def load_frame(self, video_id: str, frame: int) -> np.ndarray:
        if self.cache is not None:
            return self.cache.get(video_id, self.video_paths[video_id], frame, self.frame_size)
        img = read_frame(self.video_paths[video_id], frame)
        return resize_max_side(img, self.frame_size)[0]

    def frame_scale(self, video_id: str) -> float:
        """Stored size / original size (1.0 when frames are kept at original size)."""
        i = self.info[video_id]
        return max_side_scale(i["height"], i["width"], self.frame_size)

    def boxes(self, video_id: str, frame: int) -> np.ndarray:
        """Boxes of a frame in the stored frame's pixels, (N, 4) float32 (N = 0 for a negative)."""
        b = self.annotations[video_id].boxes.get(int(frame))
        if b is None:
            return np.zeros((0, 4), np.float32)
        return (b * self.frame_scale(video_id)).astype(np.float32)

    def support_images(self, video_id: str) -> list[np.ndarray]:
        """The video's reference images (RGB uint8), read once and kept in memory."""
        if video_id not in self._refs:
            self._refs[video_id] = [read_rgb(p, f"reference image of video_id={video_id}")
                                    for p in self.ref_paths[video_id][: self.n_shot or None]]
        return self._refs[video_id]

    # ------------------------------------------------------------------ sequence protocol
    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict:
        if not -len(self) <= i < len(self):
            raise IndexError(f"index {i} out of range for a dataset of {len(self)} items")
        v, f = self.items[i]
        return {"video_id": v, "frame": f, "query_frame": self.load_frame(v, f),
                "support_images": self.support_images(v), "bboxes": self.boxes(v, f)}

    def indices_by_video(self, positives_only: bool = False) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {v: [] for v in self.classes}
        for i, (v, _) in enumerate(self.items):
            if positives_only and i >= self.n_positive:
                continue
            out[v].append(i)
        return out

    def __repr__(self) -> str:
        return (f"RefDetDataset(mode={self.mode!r}, videos={len(self.classes)}, items={len(self)} "
                f"({self.n_positive} annotated), root={str(self.data_root)!r})")
