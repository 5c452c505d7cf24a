"""A finer look at each frame (ten-pixel objects): overlapping tiles from SAHI's slicer, each tile's candidates moved
back to the frame's pixels, every look merged by class-wise NMS with its magnification kept (refdet_lib/ops/tiles.py,
RefDet.predict(tiles=...))."""
from __future__ import annotations

import numpy as np
import pytest

from refdet_lib.errors import InputError
from refdet_lib.ops.tiles import magnification, merge_looks, tile_windows


@pytest.mark.parametrize("h, w", [(576, 1024), (640, 640), (360, 640)])
def test_tiles_are_one_size_overlap_and_cover_the_frame(h, w):
    t = tile_windows(h, w, 2)
    assert len(t) == 4 and len({(x1 - x0, y1 - y0) for x0, y0, x1, y1 in t}) == 1
    cover = np.zeros((h, w), bool)
    for x0, y0, x1, y1 in t:
        assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
        cover[y0:y1, x0:x1] = True
    assert cover.all()
    x0, y0, x1, y1 = t[0]
    assert t[1][0] < x1  # neighbours overlap: an object cut by one tile's edge is whole in the next
    assert 1.7 < magnification(h, w, t[0]) < 1.9  # 2 x 2 with 20 % overlap: tiles of 1/1.8 of the frame
    assert tile_windows(h, w, 1).tolist() == [[0, 0, w, h]] and len(tile_windows(h, w, 3)) == 9
    with pytest.raises(InputError):
        tile_windows(h, w, 0)


def test_merge_keeps_the_best_box_of_each_object_and_its_look():
    whole = (np.array([[100, 100, 110, 110], [300, 300, 340, 340]], np.float32), np.array([0.2, 0.9], np.float32),
             np.array([0, 0]), np.ones(2, np.float32))
    tile = (np.array([[101, 100, 111, 110], [101, 100, 111, 110]], np.float32), np.array([0.6, 0.5], np.float32),
            np.array([0, 1]), np.full(2, 1.8, np.float32))
    boxes, scores, labels, scale = merge_looks([whole, tile], iou=0.5, k=10)
    assert scores.tolist() == pytest.approx([0.9, 0.6, 0.5])  # the tile's 0.6 replaces the whole frame's 0.2
    assert labels.tolist() == [0, 0, 1] and scale.tolist() == pytest.approx([1.0, 1.8, 1.8])
    assert len(merge_looks([whole, tile], iou=0.5, k=2)[0]) == 2


def test_predict_moves_tile_boxes_to_the_frame_and_only_where_asked(monkeypatch):
    """A detector stub that finds one box at (10, 10, 20, 20) of whatever image it is given: on a tile that box is
    (x0 + 10, y0 + 10, ...) in the frame; frames not chosen get no tiles; scale says which look."""
    from refdet_lib.model import build_refdet

    model = build_refdet(imgsz=64, support_size=32, reference_encoder="siamese", head_mode="prototype").eval()
    seen = []

    def stub(images, conf, iou, k):
        seen.append([im.shape for im in images])
        return [(np.array([[10, 10, 20, 20]], np.float32),  # the whole frame's box wins where a tile's coincides
                 np.array([0.5 if im.shape[1] == 640 else 0.4], np.float32), np.array([0])) for im in images]

    monkeypatch.setattr(model, "propose", stub)
    model._refs = {"prototypes": np.zeros((1, 1))}  # predict only checks that references are there
    frames = [np.zeros((360, 640, 3), np.uint8) for _ in range(2)]
    r = model.predict(frames, conf=0.0, tiles=2, tiled=[True, False])
    windows = tile_windows(360, 640, 2)
    assert seen[0] == [(360, 640, 3)] * 2 and len(seen[1]) == 4  # two whole frames, then the first frame's tiles
    got = {tuple(b) for b in r[0]["boxes"].round().astype(int).tolist()}
    want = {(10, 10, 20, 20)} | {(x0 + 10, y0 + 10, x0 + 20, y0 + 20) for x0, y0, *_ in windows}
    assert got == want
    assert sorted(set(r[0]["scale"].tolist())) == pytest.approx([1.0, magnification(360, 640, windows[0])])
    assert r[1]["boxes"].tolist() == [[10, 10, 20, 20]] and r[1]["scale"].tolist() == [1.0]


def test_the_look_is_a_decision_input_only_when_asked():
    """Candidates collected with tiles carry `scale`; the calibration fits `log_scale` only with scale=True (a
    whole-frame look has log_scale 0, so such a decision reads frames without tiles as before)."""
    from refdet_lib.eval.calibration import decision_inputs, fit_decision
    from refdet_lib.model.verifier import Decision, decision_features

    rng = np.random.default_rng(0)
    frames = {}
    for f in range(60):
        scale = np.array([1.8, 1.0, 1.0], np.float32)  # the hit comes from a tile, its look-alikes from the frame
        frames[f] = {"boxes": np.zeros((3, 4), np.float32), "det_scores": rng.uniform(0.2, 0.4, 3).astype(np.float32),
                     "cosines": rng.uniform(0.2, 0.4, 3).astype(np.float32), "cue_cosines": {},
                     "rel_size": np.full(3, 0.02, np.float32), "scale": scale, "hit": np.array([True, False, False])}
    cands = {"v": {"frames": frames, "gt": {}}}
    assert "log_scale" not in decision_inputs(cands) and "log_scale" in decision_inputs(cands, scale=True)
    dec = fit_decision(cands, True, decision_inputs(cands, scale=True))
    assert dec.w["log_scale"] > 0
    whole = decision_features(np.full(2, 0.02), np.zeros(2), {}, np.ones(2))
    assert whole["log_scale"].tolist() == [0.0, 0.0] and "log_scale" not in decision_features(np.full(2, 0.02))
    assert Decision.from_dict(dec.to_dict()) == dec


def test_the_scheme_travels_with_the_checkpoint_and_is_predicts_default(tiny_checkpoint, tiny_root, tmp_path,
                                                                         monkeypatch):
    """`refdet calibrate --tiles 2 --tile_every 3` stores the scheme with the decision fitted on it: the saved model
    reports it (`looks`), predict_video uses it unless told otherwise (tiles=0 turns it off), and a bad scheme is
    one InputError."""
    from conftest import paths
    from refdet_lib.eval.inference import predict_video
    from refdet_lib.model import load_model
    from refdet_lib.train.verifier import save_refdet

    model = load_model(tiny_checkpoint, tiles=2, tile_every=3)
    out = save_refdet(model, tiny_checkpoint, tmp_path / "tiled.pt")
    tiled = load_model(out)
    assert tiled.looks == {"tiles": 2, "tile_every": 3, "window": 0.0}
    assert load_model(tiny_checkpoint).looks["tiles"] == 0
    windowed = load_model(save_refdet(load_model(tiny_checkpoint, window=2.0), tiny_checkpoint, tmp_path / "w.pt"))
    assert windowed.looks["window"] == 2.0  # the track window travels the same way
    calls = []
    real = tiled.predict
    monkeypatch.setattr(tiled, "predict", lambda frames, **kw: calls.append(kw) or real(frames, **kw))
    samples, _ = paths(tiny_root)
    vdir = sorted(p for p in samples.iterdir() if p.is_dir())[0]
    tiled.set_references([np.full((40, 40, 3), 128, np.uint8)])
    predict_video(tiled, vdir / "drone_video.mp4", frames=list(range(7)), progress=False, batch_size=4)
    assert [c["tiled"] for c in calls] == [[True, False, False, True], [False, False, True]]
    calls.clear()
    predict_video(tiled, vdir / "drone_video.mp4", frames=list(range(4)), progress=False, tiles=0)
    assert calls and all("tiles" not in c for c in calls)
    with pytest.raises(InputError, match="tiles 0 \\(off\\) or 2-8"):
        load_model(tiny_checkpoint, tiles=1)
    with pytest.raises(InputError, match="window .*0 \\(off\\)"):
        load_model(tiny_checkpoint, window=0.5)
