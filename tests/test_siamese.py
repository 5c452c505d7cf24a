"""The two options for never-seen objects: the siamese reference encoder (references through the detector's own
backbone and embedding convs) and the appearance match (a learned low-level template match added to the scores)."""
from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest
import torch
from conftest import paths

from refdet_lib.cli import main
from refdet_lib.model import build_refdet
from refdet_lib.model.siamese import SiameseReference
from refdet_lib.ops import reference_tensors

S, R = 128, 64
A = sum((S // s) ** 2 for s in (8, 16, 32))


def siamese(**kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build_refdet(imgsz=S, support_size=R, reference_encoder="siamese", **kw)


def settled(m):
    """A few train-mode forwards (no grad): BatchNorm running stats as after the first training steps. At init they
    are (0, 1) while activations are tiny, so in eval mode every embedding is its layers' bias and all look alike."""
    m.train()
    with torch.no_grad():
        for _ in range(8):
            m(torch.rand(4, 3, S, S), torch.rand(2, 2, 3, m.config.support_size, m.config.support_size))
    return m.eval()


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return settled(siamese())


def test_outputs_follow_the_reference_contract(model):
    out = model(torch.rand(2, 3, S, S), torch.rand(3, 2, 3, R, R))
    assert out["proto_logits"].shape == (2, 3, A) and out["ref_emb"].shape == (3, 2, 128)
    assert torch.allclose(out["prototypes"].norm(dim=-1), torch.ones(3), atol=1e-5)
    refs = model.encode_references(torch.rand(3, 2, 3, R, R))
    assert [tuple(p.shape) for p in refs["scale_protos"]] == [(3, 64), (3, 128), (3, 256)]
    assert [tuple(t.shape) for t in refs["tokens"]] == [(3, 16, 64), (3, 16, 128), (3, 16, 256)]
    # no second network: the reference branch owns only its token norms
    rep = model.parameter_report(verbose=False)
    assert rep["reference encoder (siamese: shares the backbone)"]["params"] == 0
    assert rep["total"]["params"] == sum(p.numel() for p in model.parameters())
    assert model.component_parameters()["reference"] == []


def test_references_are_embedded_by_the_shared_backbone_and_head(model):
    support = torch.rand(1, 3, 3, R, R)
    base = model.encode_references(support)["prototypes"]
    for name in ("backbone.model.15.cv2.conv", "head.cv4.0.1.conv"):  # P3 output of the neck; embedding conv
        m = copy.deepcopy(model)
        w = dict(m.named_modules())[name].weight
        with torch.no_grad():
            w.copy_(torch.randn_like(w) * w.std())
        assert (m.encode_references(support)["prototypes"] - base).abs().max() > 1e-3, name  # float noise: 1e-6


def test_reference_pass_leaves_batchnorm_running_stats_to_the_queries():
    torch.manual_seed(1)
    a = siamese().train()
    b = copy.deepcopy(a)
    q = torch.rand(2, 3, S, S)
    a(q, torch.rand(2, 2, 3, R, R) * 0.1 + 0.9)  # very bright references: their stats would show
    b.backbone(q)
    for (n, x), y in zip(a.backbone.named_buffers(), b.backbone.buffers()):
        if "running" in n:
            assert torch.allclose(x, y), n
    assert all(m.training for m in a.modules() if isinstance(m, torch.nn.BatchNorm2d))  # restored afterwards


def test_gradients_reach_the_backbone_through_the_references():
    m = siamese().train()
    q = torch.rand(1, 3, S, S)
    with torch.no_grad():
        feats = m.backbone(q)
    refs = m.encode_references(torch.rand(2, 2, 3, R, R))
    m.head(m.fusion(feats, refs["scale_protos"], refs["tokens"]), refs["prototypes"])["proto_logits"].sum().backward()
    assert m.backbone.model[0].conv.weight.grad.abs().sum() > 0  # only the reference pass had autograd


def test_cached_predict_equals_forward(model):
    rng = np.random.default_rng(0)
    refs = [rng.integers(0, 256, (90, 70, 3), dtype=np.uint8) for _ in range(3)]
    frame = rng.integers(0, 256, (S, S, 3), dtype=np.uint8)
    model.set_references(refs)
    pred = model.predict([frame], conf=0.0, max_det=A)[0]
    support = reference_tensors(refs, model.config.support_size)[0].unsqueeze(0)
    with torch.no_grad():
        out = model(torch.from_numpy(frame).permute(2, 0, 1)[None].float() / 255, support, std=False)
    assert np.isclose(pred["scores"].max(), out["proto_logits"].sigmoid().max().item(), atol=1e-5)


def test_support_size_must_suit_the_backbone(capsys):
    with pytest.raises(ValueError, match="multiple of 32"):
        SiameseReference(support_size=56)
    with pytest.raises(ValueError, match="head_mode"):
        siamese(head_mode="standard")
    assert main(["train", "--reference_encoder", "siamese", "--support_size", "56"]) == 2
    err = capsys.readouterr().err
    assert "multiple of 32 with --reference_encoder siamese" in err and "Traceback" not in err


def test_cli_trains_saves_and_exports_a_siamese_model(tiny_root, tmp_path):
    from refdet_lib.export import export_onnx, parity_check
    from refdet_lib.model import load_checkpoint, load_model

    samples, ann = paths(tiny_root)
    assert main(["train", "--data_root", str(samples), "--annotations", str(ann), "--epochs", "1", "--n_episodes", "2",
                 "--n_query", "2", "--imgsz", "96", "--train_crop", "64", "--support_size", "32", "--num_workers",
                 "0", "--reference_encoder", "siamese", "--appearance_match", "--hard_episodes", "1",
                 "--mixed_precision", "--checkpoint_dir", str(tmp_path / "run")]) == 0
    ck = load_checkpoint(tmp_path / "run" / "last.pt")  # trained on 64 px windows, a model for 96 px frames
    assert ck["config"]["data"]["train_crop"] == 64 and ck["config"]["model"]["imgsz"] == 96
    assert ck["config"]["data"]["hard_episodes"] == 1 and ck["config"]["train"]["mixed_precision"]
    m = load_model(tmp_path / "run" / "last.pt")
    assert m.config.reference_encoder == "siamese" and isinstance(m.reference, SiameseReference)
    assert m.config.appearance_match and m.match is not None
    export_onnx(m, tmp_path / "onnx")
    par = parity_check(m, tmp_path / "onnx")
    assert max(par.values()) <= 1e-4, par


# ------------------------------------------------------------------------------------------ appearance match
def _scene():
    """A grey frame with a red and a blue square; the reference photo shows a red square."""
    frame = np.full((S, S, 3), 128, np.uint8)
    frame[16:48, 16:48] = (220, 30, 30)
    frame[80:112, 80:112] = (30, 30, 220)
    ref = np.full((96, 96, 3), 128, np.uint8)
    ref[16:80, 16:80] = (220, 30, 30)
    return frame, ref


@pytest.mark.parametrize("encoder, support", [("siamese", 64), ("dinov2", 56)])
def test_appearance_match_prefers_the_matching_patch_untrained(encoder, support):
    """Even at random init the low-level match is a template match: the red square outscores the blue one."""
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = build_refdet(imgsz=S, support_size=support, reference_encoder=encoder, appearance_match=True).eval()
    frame, ref = _scene()
    m.set_references([ref])
    q = torch.from_numpy(frame).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        feats, low = m.backbone(q, low=True)
        app = m.match(low, m._refs["parts"], [s // 4 for s in m.strides])[0, 0]  # (A,)
    p3 = (app[: (S // 8) ** 2].view(S // 8, S // 8) / m.match.weight).detach()  # standardised match on P3
    row, col = divmod(int(p3.argmax()), S // 8)
    assert 2 <= row <= 5 and 2 <= col <= 5, (row, col)  # the best match of the whole frame is on the red square
    red, blue = p3[2:6, 2:6].max(), p3[10:14, 10:14].max()
    assert red > blue + 0.2, (float(red), float(blue))


def test_appearance_match_parts_pad_for_different_shot_counts():
    m = siamese(appearance_match=True).eval()
    rng = np.random.default_rng(0)
    ims = [rng.integers(0, 256, (70, 60, 3), dtype=np.uint8) for _ in range(3)]
    m.set_references([ims[:1], ims])  # 1 and 3 references
    parts = m._refs["parts"]
    assert parts.shape == (2, 3 * 9, 32)
    assert torch.equal(parts[0, 9:], parts[0, :1].expand(18, -1))  # padded with its own first part
    with torch.no_grad():  # the padding changes no score: the match takes the best part
        low = m.backbone(torch.rand(1, 3, S, S), low=True)[1]
        k = [s // 4 for s in m.strides]
        assert torch.allclose(m.match(low, parts[:1], k), m.match(low, parts[:1, :9], k))


def test_appearance_match_is_trained():
    m = siamese(appearance_match=True).train()
    out = m(torch.rand(2, 3, S, S), torch.rand(2, 2, 3, R, R))
    out["proto_logits"].logsumexp(-1).sum().backward()
    assert m.match.weight.grad is not None and m.match.proj[0].conv.weight.grad.abs().sum() > 0
    assert any(p is m.match.weight for p in m.component_parameters()["head"])
    assert "appearance match" in m.parameter_report(verbose=False)
