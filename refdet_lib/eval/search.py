"""Reference search: the one pipeline from a video and an object's photos to a box per frame.

    references  ->  proposals           ->  verification + decision   ->  tracking          ->  detections per frame
    set_references  model.propose           model.predict's decide        eval/tracking.py      {frame: boxes, scores}
                    (letterbox -> network   (verifier cosines, cues,      (one box a frame,
                     -> NMS, on the frame    calibrated probability)       gaps filled)
                     and its looks)                                      |
                          ^------------ the window: the live track's box steers a finer look at the next frames

Every face runs a video through `ReferenceSearch`: `refdet predict` and `evaluate` (eval/inference.predict_video),
calibration (eval/calibration.collect_candidates: `decision=Decision()`, the detector's raw candidates, which is what
a decision is fitted on), the demo and the notebooks, on any engine of model/interface.ReferenceDetector (RefDet,
the ONNX runner, the template-matching baseline). What a search does beyond the model is owned here once: which
frames get the finer looks and where (`Looks`), the batches, the lower candidate threshold under the tracker, and
the check that the video decoded to its last frame.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional, Sequence

import numpy as np

from ..data.video import iter_frames, video_info
from ..errors import DatasetError, Problem
from ..log import bars
from ..model.interface import ReferenceDetector
from ..model.refdet import CANDIDATE_CONF
from ..ops.tiles import window_around

Detections = dict[int, dict]  # frame -> {"boxes": (n, 4), "scores": (n,)}
# a tracked box below this fraction of the frame's longer side gets the window (45 px at 640: the smallest three
# size bins of benchmarks/cues.py, where recall falls; a larger object is seen well enough in the whole frame)
WINDOW_SMALL = 45 / 640


@dataclass(frozen=True)
class Looks:
    """The proposal scheme of a search: the whole frame; every `tile_every`-th frame also as tiles x tiles
    overlapping tiles (ops/tiles.py; tiles 0: none); and, with `window` > 1, a square `window` times smaller than
    the frame around the best live track while its box is small (longest side < WINDOW_SMALL of the frame's):
    a tracker's search region, where the object found on earlier frames is seen `window` times larger. A model's
    own scheme is the one its decision was calibrated with (`ReferenceDetector.looks`)."""

    tiles: int = 0
    tile_every: int = 1
    window: float = 0.0

    @classmethod
    def of(cls, model: ReferenceDetector, tiles: Optional[int] = None, tile_every: Optional[int] = None,
           window: Optional[float] = None) -> "Looks":
        """The model's own scheme, with what the caller gives instead."""
        own = model.looks
        return cls(int(own.get("tiles", 0) if tiles is None else tiles),
                   max(1, int(own.get("tile_every", 1) if tile_every is None else tile_every)),
                   float(own.get("window", 0.0) if window is None else window))

    def keywords(self, frame_indices: Sequence[int], frames: Sequence[np.ndarray] = (),
                 focus: Optional[np.ndarray] = None) -> dict:
        """predict's keywords for these frames ({} for the frame alone): the frame number decides the tiles; the
        tracker's focus box (frame pixels, from the frames before this batch) the window."""
        out = {}
        if self.tiles >= 2:
            out |= {"tiles": self.tiles, "tiled": [int(i) % self.tile_every == 0 for i in frame_indices]}
        if self.window > 1 and focus is not None and len(frames):
            h, w = frames[0].shape[:2]
            if max(focus[2] - focus[0], focus[3] - focus[1]) < WINDOW_SMALL * max(h, w):
                out["windows"] = [window_around(focus, h, w, self.window)[None]] * len(frames)  # one video, one size
        return out


class ReferenceSearch:
    """A model and the settings of one search. `candidates(video)` streams each frame's decided candidates;
    `run(video)` adds the tracker and returns the detections (see the module docstring).

    conf: the reported threshold (with track=True the tracker takes every candidate down to CANDIDATE_CONF and
    reports the tracked boxes scoring >= conf, as calibration chose it); decision: None for the model's own,
    Decision() for the detector's raw scores."""

    def __init__(self, model: ReferenceDetector, conf: float = 0.25, iou: float = 0.5, max_det: int = 20,
                 batch_size: int = 8, track: bool = False, max_gap: int = 8, tiles: Optional[int] = None,
                 tile_every: Optional[int] = None, window: Optional[float] = None, decision=None):
        self.model, self.conf, self.iou, self.max_det = model, conf, iou, max_det
        self.batch_size, self.track, self.max_gap, self.decision = batch_size, track, max_gap, decision
        self.looks = Looks.of(model, tiles, tile_every, window)

    def candidates(self, video: str | Path, frames: Optional[Sequence[int]] = None, bar=None, tracker=None
                   ) -> Iterator[tuple[int, np.ndarray, dict]]:
        """(frame index, RGB frame, predict's record) for each frame decoded, a batch through the model at a time.
        `tracker` (eval/tracking.TargetTracker), when given, is fed every frame's candidates in order; a search with
        a window makes its own when none is given, since the window goes where the tracks are."""
        from .tracking import TargetTracker

        if self.model.num_references == 0:
            raise RuntimeError("call model.set_references(images) before searching a video")
        conf = min(self.conf, CANDIDATE_CONF) if self.track else self.conf
        extra = {} if self.decision is None else {"decision": self.decision}
        if tracker is None and self.looks.window > 1:
            tracker = TargetTracker(video_info(video)["fps"] or 25.0, self.max_gap)
        idx, buf = [], []

        def flush():
            focus = tracker.focus() if tracker is not None else None  # from the frames before this batch
            recs = self.model.predict(buf, conf=conf, iou=self.iou, max_det=self.max_det, batch_size=self.batch_size,
                                      **self.looks.keywords(idx, buf, focus), **extra)
            done = list(zip(idx, buf, recs))
            if tracker is not None:
                for i, frame, r in done:
                    tracker.update(i, {"boxes": r["boxes"], "scores": r["scores"]}, frame)
            if bar is not None:
                bar.update(len(buf))
            idx.clear()
            buf.clear()
            return done

        for i, frame in iter_frames(video, frames):
            idx.append(i)
            buf.append(frame)
            if len(buf) == self.batch_size:
                yield from flush()
        if buf:
            yield from flush()

    def run(self, video: str | Path, frames: Optional[Sequence[int]] = None, progress: bool = True
            ) -> tuple[Detections, dict]:
        """({frame: {"boxes", "scores"}}, {"frames", "seconds", "fps"}) over the video (or the given frames)."""
        from tqdm.auto import tqdm

        from .tracking import TargetTracker

        info = video_info(video)
        total = info["frames"] if frames is None else len({int(f) for f in frames if 0 <= int(f) < info["frames"]})
        # the tracker that reports (track=True) also steers the window; one made here saves candidates() a header read
        tracker = TargetTracker(info["fps"] or 25.0, self.max_gap) if self.track or self.looks.window > 1 else None
        out: Detections = {}
        t0 = time.perf_counter()
        with tqdm(total=total, desc=f"predict {Path(video).parent.name or Path(video).name}", unit="frame",
                  disable=not bars(progress), leave=False) as bar:
            for i, _, r in self.candidates(video, frames, bar, tracker):
                out[i] = {"boxes": r["boxes"], "scores": r["scores"]}
        if len(out) < total:  # the header promised more: a file corrupt or truncated mid-stream, never silent
            raise DatasetError([Problem(str(video), f"its header says {info['frames']} frames but decoding stopped "
                                        f"after {max(out, default=-1) + 1} (corrupt or truncated mid-stream)",
                                        video_id=Path(video).parent.name, field="frames")])
        if self.track:
            out = {f: d if len(d["scores"]) and d["scores"][0] >= self.conf else empty()
                   for f, d in tracker.result().items()}
        secs = time.perf_counter() - t0
        return out, {"frames": len(out), "seconds": secs, "fps": len(out) / secs if secs > 0 else float("nan")}


def empty() -> dict:
    """A frame with no detection."""
    return {"boxes": np.zeros((0, 4), np.float32), "scores": np.zeros(0, np.float32)}
