"""The track-centred search window (ten-pixel objects): a square around the best live track, looked at by the same
detector at its full input size, its candidates merged with the frame's (ops/tiles.window_around,
eval/search.Looks, eval/tracking.TargetTracker.focus)."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import paths
from refdet_lib.errors import InputError
from refdet_lib.eval.baseline import TemplateMatcher
from refdet_lib.eval.search import WINDOW_SMALL, Looks, ReferenceSearch
from refdet_lib.eval.tracking import TargetTracker
from refdet_lib.ops.tiles import frame_candidates, magnification, window_around


def test_the_window_is_a_square_around_the_box_inside_the_frame():
    w = window_around(np.array([300, 200, 310, 210]), 360, 640, 2.0)  # side 640 / 2 = 320, centred on (305, 205)
    assert w.tolist() == [145, 40, 465, 360]  # x centred on 305; y moved up inside the frame (205 + 160 > 360)
    corner = window_around(np.array([0, 0, 8, 8]), 360, 640, 2.0)
    assert corner.tolist() == [0, 0, 320, 320]
    assert magnification(360, 640, corner) == 2.0
    assert (window_around(np.array([0, 0, 8, 8]), 360, 640, 1.2)[2:] <= [640, 360]).all()  # capped by the frame
    with pytest.raises(InputError, match="zoom"):
        window_around(np.array([0, 0, 8, 8]), 360, 640, 0.5)


def test_window_candidates_come_back_in_frame_pixels_with_their_magnification():
    seen = []

    def propose(images, *_):  # (images, conf, iou, k): one box in the middle of every image it is shown
        seen.append([im.shape[:2] for im in images])
        return [(np.array([[im.shape[1] / 2 - 4, im.shape[0] / 2 - 4, im.shape[1] / 2 + 4, im.shape[0] / 2 + 4]],
                          np.float32), np.array([0.5 + 0.1 * (im.shape[1] < 640)], np.float32), np.zeros(1, np.int64))
                for im in images]

    frames = [np.zeros((360, 640, 3), np.uint8) for _ in range(2)]
    win = np.array([[100, 20, 420, 340]])
    out = frame_candidates(propose, frames, 0.1, 0.5, 10, 8, windows=[win, None])
    assert seen == [[(360, 640), (360, 640)], [(320, 320)]]  # the frames, then one window for the first frame only
    boxes, scores, _, scale = out[0]
    assert sorted(scale.tolist()) == [1.0, 2.0]
    assert boxes[scale == 2.0].tolist() == [[256, 176, 264, 184]]  # the window's centre, in the frame's pixels
    assert out[1][3].tolist() == [1.0]


def test_looks_put_the_window_on_a_small_tracked_box_only():
    frames = [np.zeros((360, 640, 3), np.uint8)] * 3
    looks = Looks(window=2.0)
    assert looks.keywords([0, 1, 2], frames, None) == {}  # nothing tracked yet: the frame alone
    small = np.array([300, 100, 310, 112], np.float32)
    kw = looks.keywords([0, 1, 2], frames, small)
    assert len(kw["windows"]) == 3 and all(w.shape == (1, 4) for w in kw["windows"])
    assert (kw["windows"][0][0] == window_around(small, 360, 640, 2.0)).all()
    big = np.array([0, 0, WINDOW_SMALL * 640 + 1, 20], np.float32)
    assert looks.keywords([0], frames[:1], big) == {}  # seen well enough in the whole frame
    assert Looks().keywords([0], frames[:1], small) == {}  # no window asked for
    assert Looks.of(TemplateMatcher(), window=2).window == 2.0 and Looks.of(TemplateMatcher()).window == 0.0


def test_the_trackers_focus_follows_the_best_live_track_and_expires():
    t = TargetTracker(25.0, max_gap=3)
    assert t.focus() is None
    for f in range(6):  # a box moving right, well scored; a faint one elsewhere
        t.update(f, {"boxes": np.array([[100 + 4 * f, 100, 110 + 4 * f, 110], [400, 300, 410, 310]], np.float32),
                     "scores": np.array([0.9, 0.1], np.float32)})
    assert np.allclose(t.focus(), [120, 100, 130, 110])
    for f in range(6, 11):  # nothing found for more than max_gap frames
        t.update(f, {"boxes": np.zeros((0, 4), np.float32), "scores": np.zeros(0, np.float32)})
    assert t.focus() is None


def test_a_search_with_a_window_looks_where_the_track_is(tiny_root, monkeypatch):
    """On a real mp4: the first batch is the frame alone (nothing tracked yet); later batches add one window per
    frame around the focus of the tracker fed with the earlier batches; predict_video, calibration and the CLI
    take the scheme as they take tiles."""
    from refdet_lib.data.video import video_info
    from refdet_lib.ops.images import read_rgb

    samples, _ = paths(tiny_root)
    vdir = sorted(p for p in samples.iterdir() if p.is_dir())[0]
    info = video_info(vdir / "drone_video.mp4")

    tm = TemplateMatcher().set_references([read_rgb(sorted((vdir / "object_images").glob("*.jpg"))[0])])
    calls, real = [], tm.predict
    monkeypatch.setattr(tm, "predict", lambda frames, **kw: calls.append(kw) or real(frames, **kw))
    focus = []
    real_focus = TargetTracker.focus
    monkeypatch.setattr(TargetTracker, "focus", lambda self: focus.append(real_focus(self)) or focus[-1])
    dets, stats = ReferenceSearch(tm, conf=0.0, track=True, window=2.0, batch_size=2).run(
        vdir / "drone_video.mp4", frames=range(8), progress=False)
    assert sorted(dets) == list(range(8)) and stats["frames"] == 8
    assert "windows" not in calls[0] and focus[0] is None
    windowed = [(c, f) for c, f in zip(calls, focus) if "windows" in c]
    assert windowed, "a tracked small box never got its window"
    for c, f in windowed:  # one window a frame, around the focus the tracker had before the batch
        want = window_around(f, info["height"], info["width"], 2.0)
        assert len(c["windows"]) == 2 and all(w.tolist() == [want.tolist()] for w in c["windows"])
