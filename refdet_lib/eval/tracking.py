"""One target through a video: associate each frame's candidates over time, score whole tracks, report one box per
frame and fill short gaps.

Association is ultralytics' BOT-SORT (ByteTrack's two-stage matching of high- and low-score detections with a Kalman
filter, plus global motion compensation from sparse optical flow: the drone's camera moves, the ground under it
does not). What is ours is the single-target decision on top of its tracks:

    track score  = mean(p over the track's detections) * n / (n + 3)      n = frames it was detected in
    frame f      -> the box of the best-scoring track alive at f (detected there, or inside a gap of <= max_gap
                    frames between two of its detections, where the box is interpolated linearly)
    its score    = (track score + p at f) / 2   (a filled frame: the track score)

so a distractor that fools the detector on a few frames loses to the object that is found frame after frame. A
frame's best candidate that no track kept (the tracker starts tracks at p >= 0.05 and confirms them on the next
frame) counts as a track of one: track score p / 4, frame score 0.625 p, so `conf 0` still reports a box on every
frame that has a candidate, and a lone confident detection can beat a long faint track.
"""
from __future__ import annotations

from types import SimpleNamespace
from typing import Optional

import numpy as np

# low thresholds: every plausible candidate may start a track; the track scores below decide which one is reported
TRACKER_ARGS = dict(tracker_type="botsort", track_high_thresh=0.05, track_low_thresh=0.01, new_track_thresh=0.05,
                    track_buffer=30, match_thresh=0.8, fuse_score=True, gmc_method="sparseOptFlow",
                    proximity_thresh=0.5, appearance_thresh=0.8, with_reid=False, model="auto")


def track_score(mean_p: float, n: int) -> float:
    """mean(p) * n / (n + 3): a track found on more frames outranks a brief one of the same mean (module docstring)."""
    return mean_p * n / (n + 3)


class _Detections:
    """The slice of ultralytics' Boxes a tracker reads: conf, xyxy, xywh, cls, boolean indexing, len."""

    def __init__(self, xyxy: np.ndarray, conf: np.ndarray, cls: Optional[np.ndarray] = None):
        self.xyxy = np.asarray(xyxy, np.float32).reshape(-1, 4)
        self.conf = np.asarray(conf, np.float32).reshape(-1)
        self.cls = np.zeros(len(self.conf), np.float32) if cls is None else np.asarray(cls, np.float32)

    @property
    def xywh(self) -> np.ndarray:
        b = self.xyxy
        return np.stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2, b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]], 1)

    def __len__(self) -> int:
        return len(self.conf)

    def __getitem__(self, k) -> "_Detections":
        return _Detections(self.xyxy[k], self.conf[k], self.cls[k])


class TargetTracker:
    """Feed frames in order with `update`; `result()` gives {frame: {"boxes": (0 or 1, 4), "scores": (0 or 1,)}}."""

    def __init__(self, fps: float = 25.0, max_gap: int = 8, **tracker_args):
        from ultralytics.trackers.bot_sort import BOTSORT

        self.max_gap = int(max_gap)
        self.tracker = BOTSORT(SimpleNamespace(**{**TRACKER_ARGS, **tracker_args}), frame_rate=int(round(fps or 25)))
        self.obs: dict[int, list[tuple[int, np.ndarray, float]]] = {}  # track id -> [(frame, box, p)]
        self.frames: list[int] = []
        self.top: dict[int, tuple[np.ndarray, float]] = {}  # frame -> its best candidate (box, p)
        self.latest: dict[int, tuple[int, np.ndarray, float, int]] = {}  # track id -> (last frame, box, sum p, n)

    def update(self, frame: int, det: dict, image: Optional[np.ndarray] = None) -> None:
        """One frame's candidates {"boxes" (n, 4), "scores" (n,)} (calibrated probabilities) and the frame itself
        (RGB; the motion compensation reads it)."""
        if not self.frames and image is not None and hasattr(self.tracker, "gmc"):
            # the camera's motion is global: ~80 px of width are plenty to estimate it (a few ms, not 10+)
            self.tracker.gmc.downscale = max(2, int(np.ceil(image.shape[1] / 80)))
        self.frames.append(int(frame))
        d = _Detections(det["boxes"], det["scores"])
        if len(d):
            k = int(np.argmax(d.conf))
            self.top[int(frame)] = (d.xyxy[k].copy(), float(d.conf[k]))
        img = image[..., ::-1] if image is not None else None  # the tracker's GMC takes OpenCV's BGR
        for row in self.tracker.update(d, img):
            tid, idx = int(row[4]), int(row[7])
            box = d.xyxy[idx] if 0 <= idx < len(d) else row[:4]
            p = float(d.conf[idx]) if 0 <= idx < len(d) else float(row[5])
            self.obs.setdefault(tid, []).append((int(frame), np.asarray(box, np.float32), p))
            _, _, total, n = self.latest.get(tid, (0, None, 0.0, 0))
            self.latest[tid] = (int(frame), np.asarray(box, np.float32), total + p, n + 1)

    def focus(self) -> Optional[np.ndarray]:
        """The last box (4,) of the best-scoring track seen within max_gap frames of the latest frame (the track
        score below), or None: where a search window looks next (eval/search.Looks)."""
        if not self.frames:
            return None
        now = self.frames[-1]
        live = [(track_score(total / n, n), box) for f, box, total, n in self.latest.values()
                if now - f <= self.max_gap]
        return max(live, key=lambda t: t[0])[1] if live else None

    def track_scores(self) -> dict[int, float]:
        return {t: track_score(float(np.mean([o[2] for o in ob])), len(ob)) for t, ob in self.obs.items()}

    def result(self) -> dict[int, dict]:
        scores = self.track_scores()
        best: dict[int, tuple[float, np.ndarray, float]] = {}  # frame -> (track score, box, frame score)
        for t, ob in self.obs.items():
            ob = sorted(ob, key=lambda o: o[0])
            ts = scores[t]
            cover = []
            for (f0, b0, p0), (f1, b1, _) in zip(ob, ob[1:]):
                cover.append((f0, b0, 0.5 * (ts + p0)))
                if 1 < f1 - f0 <= self.max_gap + 1:  # a short gap inside the track: the box moves on linearly
                    for f in range(f0 + 1, f1):
                        w = (f - f0) / (f1 - f0)
                        cover.append((f, (1 - w) * b0 + w * b1, ts))
            f, b, p = ob[-1]
            cover.append((f, b, 0.5 * (ts + p)))
            for f, b, s in cover:
                if f not in best or ts > best[f][0]:
                    best[f] = (ts, b, s)
        for f, (b, p) in self.top.items():  # a candidate no track kept: a track of one
            if f not in best or p / 4 > best[f][0]:
                best[f] = (p / 4, b, 0.625 * p)
        out = {}
        for f in self.frames:
            if f in best:
                out[f] = {"boxes": best[f][1][None].astype(np.float32), "scores": np.array([best[f][2]], np.float32)}
            else:
                out[f] = {"boxes": np.zeros((0, 4), np.float32), "scores": np.zeros(0, np.float32)}
        return out
