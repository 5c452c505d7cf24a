"""After a fine-tune (train/finetune.py): WiSE-FT weight interpolation and the threshold re-anchored to the same
report rate, on a real tiny checkpoint and real mp4 files."""
from __future__ import annotations

import pytest
import torch

from conftest import paths
from refdet_lib.model import load_course_model, load_model
from refdet_lib.model.loading import COURSE_WEIGHTS
from refdet_lib.train.recipes import DATA_SAMPLES
from refdet_lib.train.finetune import interpolate_weights, keep_operating_point, top_scores


def test_interpolation_is_the_start_the_end_and_the_midpoint(tiny_checkpoint):
    start, tuned = load_model(tiny_checkpoint), load_model(tiny_checkpoint)
    with torch.no_grad():
        for p in tuned.parameters():
            p.add_(1.0)
    sd0 = {k: v.clone() for k, v in start.state_dict().items()}
    sd1 = {k: v.clone() for k, v in tuned.state_dict().items()}
    name = next(k for k, v in sd0.items() if v.is_floating_point() and k in dict(start.named_parameters()))
    ints = [k for k, v in sd1.items() if not v.is_floating_point()]

    interpolate_weights(sd0, tuned, 0.5)
    mid = tuned.state_dict()
    assert torch.allclose(mid[name], sd0[name] + 0.5, atol=1e-5)
    assert ints and all(torch.equal(mid[k], sd1[k]) for k in ints)  # integer buffers stay the fine-tuned model's

    m = load_model(tiny_checkpoint)
    m.load_state_dict(sd1)
    assert torch.equal(interpolate_weights(sd0, m, 0.0).state_dict()[name], sd0[name])
    m.load_state_dict(sd1)
    assert torch.equal(interpolate_weights(sd0, m, 1.0).state_dict()[name], sd1[name])
    with pytest.raises(ValueError, match="alpha"):
        interpolate_weights(sd0, m, 1.5)
    with pytest.raises(ValueError, match="same architecture"):
        interpolate_weights({k: v for k, v in sd0.items() if k != name}, m, 0.5)


@pytest.mark.slow
@pytest.mark.skipif(not COURSE_WEIGHTS.exists(), reason="needs the committed course weights")
def test_operating_point_gives_the_start_report_rate_back():
    """A model whose scores all rose (as a fine-tune's do) reports more frames at the old thresholds; re-anchored,
    it reports the start's share again, with higher thresholds (the course weights on two training videos)."""
    samples, ann = paths(DATA_SAMPLES / "train")
    vids = ["Helmet_0", "Person_0"]  # the course weights report some of their first frames, not all
    start, tuned = load_course_model(), load_course_model()
    tuned.decision.c = start.decision.c + 1.0  # every probability up: logit + 1
    s0 = top_scores(start, samples, ann, vids, max_frames=15)
    s1 = top_scores(tuned, samples, ann, vids, max_frames=15)
    rep = keep_operating_point(tuned, start, samples, ann, vids, max_frames=15)
    old, new = rep["threshold"]  # tracked, as refdet predict reports
    rate0 = float((s0["tracked"] >= start.decision.threshold).mean())
    assert 0 < rate0 < 1, rate0  # the start reports some frames, not all: a rate to match
    assert (s1["tracked"] >= old).mean() > rate0  # what the fix is for
    assert new > old and rep["threshold_rate"][0] == pytest.approx(rate0)
    assert abs(float((s1["tracked"] >= new).mean()) - rate0) <= 1.5 / len(s1["tracked"])
    # frames alone: same rule
    rate0 = float((s0["frames"] >= start.decision.frame_threshold).mean())
    assert 0 < rate0 < 1 and tuned.decision.frame_threshold > start.decision.frame_threshold, rate0
    assert abs(float((s1["frames"] >= tuned.decision.frame_threshold).mean()) - rate0) <= 1.5 / len(s1["frames"])
