"""Video frames: one sequential decoding pass, exact single-frame seeks, and the on-disk frame cache.

Decoding is the slow part of training on video. Seeking an mp4 to frame N decodes from the previous key frame, so
reading annotated frames one by one decodes most of the video many times over. Instead we read each video once,
front to back, keep the frames we need (annotated ones plus a few sampled background frames as negatives) and store
them in a frame cache on disk, keyed by video, frame and stored size. Every later epoch and every later run reads
the cache (a memory-mapped .npy) and decodes nothing.
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Iterable, Optional

import cv2
import numpy as np

from ..errors import DatasetError, InputError, Problem
from .annotations import IMAGE_EXTS, video_id_problem

# Frames decoded by this process (tests and benchmarks read it to prove the cache works).
DECODE_STATS = {"frames": 0, "passes": 0}


def video_info(path: str | Path) -> dict:
    """Frame count, width, height and fps of a video (raises FileNotFoundError / IOError naming the file)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"video not found: {path}")
    if path.suffix.lower() in IMAGE_EXTS:  # OpenCV would open a photo as a one-frame "video"
        raise IOError(f"{path} is an image, not a video")
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise IOError(f"cannot open video {path} (corrupt file or unsupported codec)")
    info = dict(frames=int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), width=int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
                height=int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)), fps=float(cap.get(cv2.CAP_PROP_FPS) or 0.0))
    cap.release()
    return info


def max_side_scale(h: int, w: int, max_side: Optional[int]) -> float:
    """Scale that makes the longer side `max_side` (1.0 when it is already smaller, or no max is set)."""
    return 1.0 if not max_side else min(1.0, max_side / max(h, w))


def resize_max_side(img: np.ndarray, max_side: Optional[int]) -> tuple[np.ndarray, float]:
    """Resize so the longer side is `max_side` (never upscales); returns (image, scale)."""
    h, w = img.shape[:2]
    s = max_side_scale(h, w, max_side)
    if s >= 1.0:
        return img, 1.0
    nw, nh = max(1, round(w * s)), max(1, round(h * s))
    return cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA), s


def iter_frames(path: str | Path, frames: Optional[Iterable[int]] = None, rgb: bool = True):
    """Yield (index, frame) in one sequential pass; with `frames`, only those (decoding stops after the last one).

    Unwanted frames are `grab()`bed (demuxed and decoded but never converted or copied), the cheapest way OpenCV
    offers to move forward while staying frame-exact.
    """
    path = Path(path)
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise IOError(f"cannot open video {path} (corrupt file or unsupported codec)")
    wanted = None if frames is None else set(int(f) for f in frames)
    last = None if wanted is None else (max(wanted) if wanted else -1)
    DECODE_STATS["passes"] += 1
    i = 0
    try:
        while last is None or i <= last:
            if wanted is None or i in wanted:
                ok, img = cap.read()
                if not ok:
                    break
                DECODE_STATS["frames"] += 1
                yield i, (cv2.cvtColor(img, cv2.COLOR_BGR2RGB) if rgb else img)
            else:
                if not cap.grab():
                    break
                DECODE_STATS["frames"] += 1
            i += 1
    finally:
        cap.release()


def read_frame(path: str | Path, index: int, rgb: bool = True) -> np.ndarray:
    """One frame by exact seek (CAP_PROP_POS_FRAMES is exact for files written by OpenCV)."""
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise IOError(f"cannot open video {path} (corrupt file or unsupported codec)")
    try:
        cap.set(cv2.CAP_PROP_POS_FRAMES, int(index))
        ok, img = cap.read()
    finally:
        cap.release()
    if not ok:
        raise IndexError(f"frame {index} cannot be read from {path}")
    DECODE_STATS["frames"] += 1
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB) if rgb else img


def _video_signature(path: Path) -> str:
    st = path.stat()
    return hashlib.sha1(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:12]


class FrameCache:
    """On-disk cache of selected frames of each video, at a given stored size.

    Layout: `<root>/<video_id>-<signature>/<size>.npy` (uint8 (F, H, W, 3) RGB, memory-mapped on read) plus
    `<size>.json` (the frame indices in row order). `size` is the stored longer side ("orig" for original size).
    The signature hashes the video's path, size and mtime, so a changed video is decoded again. Files are written
    to a temporary name and renamed, so an interrupted preparation never leaves a half-written cache behind.
    An optional in-memory LRU (`memory_frames`) sits in front of the disk for the hottest frames.
    """

    def __init__(self, root: str | Path, memory_frames: int = 0):
        self.root = Path(root)
        self.memory_frames = int(memory_frames or 0)
        self._arrays: dict[tuple, tuple[np.ndarray, dict[int, int]]] = {}
        self._lru: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def _paths(self, video_id: str, video_path: Path, size: Optional[int]) -> tuple[Path, Path]:
        why = video_id_problem(video_id)  # its folder must stay inside the cache root
        if why:
            raise InputError(f"frame cache: {why}")
        d = self.root / f"{video_id}-{_video_signature(video_path)}"
        tag = "orig" if not size else str(int(size))
        return d / f"{tag}.npy", d / f"{tag}.json"

    def cached_frames(self, video_id: str, video_path: str | Path, size: Optional[int]) -> set[int]:
        npy, js = self._paths(video_id, Path(video_path), size)
        if not (npy.exists() and js.exists()):
            return set()
        return set(json.loads(js.read_text())["frames"])

    def prepare(self, video_id: str, video_path: str | Path, frames: Iterable[int], size: Optional[int]) -> int:
        """Make sure `frames` are cached; decode (one sequential pass) only if some are missing.

        Returns the number of frames decoded (0 when the cache already had them all).
        """
        video_path = Path(video_path)
        frames = sorted(set(int(f) for f in frames))
        have = self.cached_frames(video_id, video_path, size)
        if set(frames) <= have:
            return 0
        want = sorted(set(frames) | have)  # keep what was cached before: different negatives do not evict it
        npy, js = self._paths(video_id, video_path, size)
        npy.parent.mkdir(parents=True, exist_ok=True)
        before = DECODE_STATS["frames"]
        got: list[int] = []
        tmp_npy = npy.with_suffix(f".tmp{os.getpid()}.npy")
        f = None
        try:
            # stream frames into a .npy (header first, then raw rows): no memmap page faults, constant memory
            for i, img in iter_frames(video_path, want, rgb=False):
                img, _ = resize_max_side(img, size)
                img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)  # after the resize: fewer pixels to convert
                if f is None:
                    f = open(tmp_npy, "wb")
                    np.lib.format.write_array_header_1_0(f, {"descr": "|u1", "fortran_order": False,
                                                             "shape": (len(want),) + img.shape})
                f.write(img.tobytes())
                got.append(i)
        finally:
            if f is not None:
                f.close()
        if f is None:
            raise IOError(f"no frame could be decoded from {video_path} (video_id={video_id})")
        missing = sorted(set(want) - set(got))
        if missing:
            tmp_npy.unlink(missing_ok=True)
            n = video_info(video_path)["frames"]
            raise DatasetError([Problem(str(video_path), f"frames {missing[:5]}{'...' if len(missing) > 5 else ''} "
                                        f"do not decode: its header says {n} frames, decoding stopped after "
                                        f"{got[-1] + 1} (corrupt or truncated mid-stream)", video_id=video_id,
                                        field="frames")])
        os.replace(tmp_npy, npy)
        tmp_js = js.with_suffix(f".tmp{os.getpid()}.json")
        tmp_js.write_text(json.dumps({"frames": got, "video": str(video_path), "size": size}))
        os.replace(tmp_js, js)
        with self._lock:
            self._arrays.pop((video_id, size), None)
        return DECODE_STATS["frames"] - before

    def get(self, video_id: str, video_path: str | Path, frame: int, size: Optional[int]) -> np.ndarray:
        """A cached frame (a copy: safe to augment in place)."""
        key = (video_id, size, int(frame))
        if self.memory_frames:
            with self._lock:
                if key in self._lru:
                    self._lru.move_to_end(key)
                    return self._lru[key].copy()
        ak = (video_id, size)
        entry = self._arrays.get(ak)
        if entry is None:
            npy, js = self._paths(video_id, Path(video_path), size)
            if not npy.exists():
                raise KeyError(f"frame cache for video_id={video_id} at size={size} not prepared (call prepare())")
            index = {f: r for r, f in enumerate(json.loads(js.read_text())["frames"])}
            entry = (np.load(npy, mmap_mode="r"), index)
            with self._lock:
                self._arrays[ak] = entry
        arr, index = entry
        if int(frame) not in index:
            raise KeyError(f"frame {frame} of video_id={video_id} is not in the frame cache")
        img = np.array(arr[index[int(frame)]])
        if self.memory_frames:
            with self._lock:
                self._lru[key] = img
                while len(self._lru) > self.memory_frames:
                    self._lru.popitem(last=False)
            return img.copy()
        return img

    def __getstate__(self):  # DataLoader workers re-open memmaps lazily
        st = self.__dict__.copy()
        st["_arrays"], st["_lru"], st["_lock"] = {}, OrderedDict(), None
        return st

    def __setstate__(self, st):
        self.__dict__.update(st)
        self._lock = threading.Lock()
