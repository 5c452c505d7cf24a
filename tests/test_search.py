"""Reference search (eval/search.py): the one pipeline predict, evaluate and calibration run a video through, on
any engine of the declared interface."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import paths
from refdet_lib.eval.baseline import TemplateMatcher
from refdet_lib.eval.search import Looks, ReferenceSearch
from refdet_lib.model.refdet import CANDIDATE_CONF
from refdet_lib.model.verifier import Decision


def first_video(root):
    samples, ann = paths(root)
    vdir = sorted(p for p in samples.iterdir() if p.is_dir())[0]
    return samples, ann, vdir


class Recorder:
    """Wraps an engine's predict and records the keywords of each call."""

    def __init__(self, model, monkeypatch):
        self.calls, real = [], model.predict
        monkeypatch.setattr(model, "predict", lambda frames, **kw: self.calls.append(kw) or real(frames, **kw))


def test_looks_are_the_models_own_unless_given_and_follow_the_frame_number():
    tm = TemplateMatcher()
    assert Looks.of(tm) == Looks(0, 1) and Looks.of(tm).keywords([0, 1]) == {}
    looks = Looks.of(tm, tiles=2, tile_every=3)
    assert looks.keywords([4, 5, 6]) == {"tiles": 2, "tiled": [False, False, True]}
    assert Looks.of(tm, tiles=2, tile_every=0).tile_every == 1


def test_predict_video_and_calibration_go_through_one_search(tiny_checkpoint, tiny_root, monkeypatch):
    """predict_video is the search's run; collect_candidates streams the same search with Decision() passed (the
    model's own decision object untouched, even when the search fails mid-video), and under the tracker the
    candidates come down to CANDIDATE_CONF."""
    from refdet_lib.eval.calibration import collect_candidates
    from refdet_lib.eval.inference import predict_video
    from refdet_lib.model import load_model

    samples, ann, vdir = first_video(tiny_root)
    model = load_model(tiny_checkpoint)
    own = model.decision
    seen = []
    real = ReferenceSearch.candidates

    def spy(self, video, frames=None, bar=None, tracker=None):
        seen.append((self.decision, self.conf, self.track))
        return real(self, video, frames, bar, tracker)

    monkeypatch.setattr(ReferenceSearch, "candidates", spy)
    rec = Recorder(model, monkeypatch)
    model.set_references([np.full((40, 40, 3), 128, np.uint8)])
    dets, stats = predict_video(model, vdir / "drone_video.mp4", frames=list(range(5)), progress=False,
                                track=True, conf=0.4)
    assert sorted(dets) == list(range(5)) and stats["frames"] == 5
    assert seen[-1] == (None, 0.4, True) and all(c["conf"] == min(0.4, CANDIDATE_CONF) for c in rec.calls)
    assert all("decision" not in c for c in rec.calls)
    rec.calls.clear()
    cands = collect_candidates(model, samples, ann, videos=[vdir.name], max_frames=3)
    assert isinstance(seen[-1][0], Decision) and seen[-1][0] is not own
    assert rec.calls and all(isinstance(c["decision"], Decision) for c in rec.calls)
    assert model.decision is own and model.num_references == 0
    assert sorted(cands[vdir.name]["frames"]) == [0, 1, 2] == sorted(cands[vdir.name]["gt"])
    # a search that fails mid-video leaves the model as it was
    monkeypatch.setattr(model, "predict", lambda frames, **kw: (_ for _ in ()).throw(ValueError("mid-video")))
    with pytest.raises(ValueError, match="mid-video"):
        collect_candidates(model, samples, ann, videos=[vdir.name], max_frames=3)
    assert model.decision is own and model.num_references == 0


def test_the_baseline_runs_the_same_search(tiny_root):
    _, _, vdir = first_video(tiny_root)
    ref = sorted((vdir / "object_images").glob("*.jpg"))[0]
    from refdet_lib.ops.images import read_rgb

    tm = TemplateMatcher().set_references([read_rgb(ref)])
    search = ReferenceSearch(tm, conf=0.0, track=True, tiles=2, tile_every=2, batch_size=2)
    dets, stats = search.run(vdir / "drone_video.mp4", frames=[0, 1, 2], progress=False)
    assert sorted(dets) == [0, 1, 2] and stats["frames"] == 3
    assert all(len(d["scores"]) <= 1 for d in dets.values())  # the tracker: one box a frame


def test_a_search_without_references_says_so(tiny_root):
    _, _, vdir = first_video(tiny_root)
    with pytest.raises(RuntimeError, match="set_references"):
        ReferenceSearch(TemplateMatcher()).run(vdir / "drone_video.mp4", progress=False)
