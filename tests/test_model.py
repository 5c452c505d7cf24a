"""Model package: contract shapes, weight loading from real checkpoint files, reference caching, predict geometry."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import timm
import torch

from refdet_lib.model import CHEAF, DualHead, RefDet, build_backbone, build_refdet
from refdet_lib.model.reference import ReferenceEncoder
from refdet_lib.ops import boxes_from_letterbox, letterbox, square_resize

S, R = 128, 56  # query size (multiple of 32) and support size (multiple of 14): small for CPU tests
A = sum((S // s) ** 2 for s in (8, 16, 32))


def quiet(**kw) -> RefDet:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build_refdet(imgsz=S, support_size=R, **kw)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return quiet().eval()


def rgb(h, w, seed):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def support_from(images_per_object) -> torch.Tensor:
    """What set_references does to uint8 arrays, written out: square letterbox to R, scale to [0, 1]."""
    return torch.stack([torch.stack([torch.from_numpy(square_resize(im, R)).permute(2, 0, 1) for im in obj])
                        for obj in images_per_object]).float() / 255


@pytest.mark.parametrize("imgsz", [128, 160])
def test_backbone_levels(imgsz):
    with pytest.warns(UserWarning, match="yolo_weights"):
        bb = build_backbone("n")
    feats = bb(torch.rand(2, 3, imgsz, imgsz))
    assert bb.channels == (64, 128, 256) and bb.strides == (8, 16, 32)
    assert [tuple(f.shape) for f in feats] == [(2, c, imgsz // s, imgsz // s) for c, s in zip(bb.channels, bb.strides)]
    with pytest.raises(ValueError, match="multiple of 32"):
        bb(torch.rand(1, 3, 100, 100))


@pytest.mark.parametrize("fusion, m_tokens", [("mean", 16), ("tokens", 3 * 16)])
def test_reference_encoder_outputs(fusion, m_tokens):
    with pytest.warns(UserWarning, match="dino_weights"):
        enc = ReferenceEncoder((64, 128, 256), embed_dim=32, support_size=R, num_ref_tokens=16, fusion=fusion)
    out = enc(torch.rand(2, 3, 3, R, R))  # C=2 objects, K=3 references
    assert out["ref_emb"].shape == (2, 3, 32) and out["prototypes"].shape == (2, 32)
    assert torch.allclose(out["ref_emb"].norm(dim=-1), torch.ones(2, 3), atol=1e-5)
    assert torch.allclose(out["prototypes"].norm(dim=-1), torch.ones(2), atol=1e-5)
    assert [tuple(p.shape) for p in out["scale_protos"]] == [(2, 64), (2, 128), (2, 256)]
    assert [tuple(t.shape) for t in out["tokens"]] == [(2, m_tokens, c) for c in (64, 128, 256)]
    with pytest.raises(ValueError, match="support_size"):
        enc(torch.rand(1, 1, 3, 112, 112))


def test_fusion_keeps_shapes_and_uses_references():
    torch.manual_seed(0)
    fusion = CHEAF((64, 128, 256)).eval()
    feats = [torch.rand(2, c, S // s, S // s) for c, s in zip((64, 128, 256), (8, 16, 32))]
    protos = lambda: [torch.randn(3, c) for c in (64, 128, 256)]
    tokens = lambda: [torch.randn(3, 16, c) for c in (64, 128, 256)]
    a = fusion(feats, protos(), tokens())
    b = fusion(feats, protos(), tokens())
    assert [x.shape for x in a] == [f.shape for f in feats]
    assert all(not torch.allclose(x, y) for x, y in zip(a, b))  # other references -> other features, every level


def test_head_modes_and_bias_init():
    feats = [torch.rand(2, c, S // s, S // s) for c, s in zip((64, 128, 256), (8, 16, 32))]
    protos = torch.randn(3, 32)
    dual = DualHead(embed_dim=32, nc_base=5, mode="dual")
    out = dual(feats, protos)
    assert out["box_dist"].shape == (2, 64, A) and out["std_logits"].shape == (2, 5, A)
    assert out["proto_logits"].shape == (2, 3, A) and out["anchor_emb"].shape == (2, A, 32)
    assert torch.allclose(dual.cv2[0][-1].bias, torch.ones(64))
    assert dual.cv3[1][-1].bias[0].item() == pytest.approx(np.log(5 / 5 / (640 / 16) ** 2))
    std = DualHead(embed_dim=32, nc_base=5, mode="standard")(feats, protos, std=False)  # its only scores stay
    assert std["proto_logits"] is None and std["std_logits"].shape == (2, 5, A)
    assert dual(feats, protos, std=False)["std_logits"] is None  # skipped when prototype scores exist (predict)
    proto = DualHead(embed_dim=32, nc_base=5, mode="prototype")(feats, protos)
    assert proto["std_logits"] is None and proto["proto_logits"].shape == (2, 3, A)
    with pytest.raises(ValueError, match="head_mode"):
        DualHead(mode="both")


def test_forward_matches_contract(model):
    out = model(torch.rand(2, 3, S, S), torch.rand(3, 2, 3, R, R))  # B=2 frames, C=3 objects, K=2 references
    d = model.config.embed_dim
    assert out["box_dist"].shape == (2, 4 * 16, A)
    assert out["proto_logits"].shape == (2, 3, A)
    assert out["std_logits"].shape == (2, model.config.nc_base, A)
    assert out["anchor_emb"].shape == (2, A, d)
    assert torch.allclose(out["anchor_emb"].norm(dim=-1), torch.ones(2, A), atol=1e-4)
    assert out["ref_emb"].shape == (3, 2, d) and out["prototypes"].shape == (3, d)
    assert out["anchor_points"].shape == (A, 2) and out["stride_tensor"].shape == (A, 1)
    assert out["feat_shapes"] == [(16, 16), (8, 8), (4, 4)]
    assert sorted(out["stride_tensor"].unique().tolist()) == [8, 16, 32]
    assert out["anchor_points"][0].tolist() == [0.5, 0.5]  # ultralytics make_anchors, offset 0.5, grid units
    base = model(torch.rand(1, 3, S, S))  # no references: standard branch only (stage 1)
    assert base["proto_logits"] is None and base["std_logits"].shape == (1, model.config.nc_base, A)


def test_changing_references_changes_proto_logits(model):
    q = torch.rand(1, 3, S, S)
    with torch.no_grad():
        a = model(q, torch.rand(1, 2, 3, R, R))["proto_logits"]
        b = model(q, torch.rand(1, 2, 3, R, R))["proto_logits"]
    assert not torch.allclose(a, b)


def test_yolo_checkpoint_loads_by_name(tmp_path):
    from ultralytics.nn.tasks import DetectionModel
    torch.manual_seed(1)
    det = DetectionModel("yolov8n.yaml", verbose=False)
    path = tmp_path / "yolov8n.pt"
    torch.save({"model": det.half()}, path)  # as ultralytics saves it: pickled module, fp16
    det = det.float()
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        m = build_refdet(imgsz=S, support_size=R, yolo_weights=str(path))
    assert not any("yolo_weights" in str(w.message) for w in rec)
    assert torch.allclose(m.backbone.model[0].conv.weight, det.model[0].conv.weight.float())
    assert torch.allclose(m.backbone.model[21].cv2.bn.running_var, det.model[21].cv2.bn.running_var.float())
    assert torch.allclose(m.head.cv2[2][1].conv.weight, det.model[22].cv2[2][1].conv.weight.float())  # box convs too
    rep = m.load_report
    assert rep["backbone"].loaded == len(m.backbone.state_dict()) and not rep["backbone"].missing
    assert rep["head_box"].loaded == len(m.head.cv2.state_dict()) and rep["head_cls"].loaded > 0
    with pytest.raises(FileNotFoundError, match="yolo_weights"):
        build_refdet(imgsz=S, support_size=R, yolo_weights=str(tmp_path / "missing.pt"))


def test_dino_weights_load_from_local_file(tmp_path):
    torch.manual_seed(2)
    vit = timm.create_model("vit_small_patch14_dinov2", pretrained=False, num_classes=0)  # 518 px, as published
    path = tmp_path / "dinov2_vits14.safetensors"
    from safetensors.torch import save_file
    save_file(vit.state_dict(), str(path))
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        enc = ReferenceEncoder(support_size=R, weights=str(path))
    assert not any("dino_weights" in str(w.message) for w in rec)
    assert torch.equal(enc.vit.patch_embed.proj.weight, vit.patch_embed.proj.weight)
    assert torch.equal(enc.vit.blocks[-1].mlp.fc2.weight, vit.blocks[-1].mlp.fc2.weight)
    assert enc.vit.pos_embed.shape == (1, 1 + (R // 14) ** 2, 384)  # resampled from 37x37 to the support grid
    assert torch.equal(enc.vit.pos_embed[:, 0], vit.pos_embed[:, 0])  # class-token position kept


def test_random_init_warns_once_per_component():
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        build_refdet(imgsz=S, support_size=R)
    msgs = [str(w.message) for w in rec]
    assert sum("yolo_weights" in m for m in msgs) == 1
    assert sum("dino_weights" in m for m in msgs) == 1


def test_cached_predict_equals_uncached_forward(model):
    refs = [[rgb(70, 50, 1), rgb(40, 90, 2)], [rgb(64, 64, 3), rgb(30, 30, 4)]]  # 2 objects, K=2 each
    frame = rgb(96, 200, 5)  # not the network size: letterbox ratio 0.64, top/bottom padding
    model.set_references(refs)
    pred = model.predict([frame], conf=0.0, iou=0.5, max_det=30)[0]

    img, ratio, pad = letterbox(frame, S, stride=max(model.strides))  # a rectangle of stride multiples
    assert img.shape[:2] != (S, S)
    # the frame as predict feeds it (NHWC memory: a different layout moves logits by ~1e-6 and can swap NMS ties)
    q = torch.from_numpy(np.stack([img])).permute(0, 3, 1, 2).float().contiguous(memory_format=torch.channels_last)
    q = q / 255
    with torch.no_grad():
        out = model(q, support_from(refs))
        cached = model(q, refs=model._refs)
    assert torch.allclose(out["proto_logits"], cached["proto_logits"], atol=1e-5)
    det = model.postprocess(out, conf=0.0, iou=0.5, max_det=30)[0]
    boxes = boxes_from_letterbox(det["boxes"], ratio, pad, frame.shape[:2]).numpy()
    assert pred["boxes"].dtype == np.float32 and pred["labels"].dtype == np.int64
    assert 0 < len(pred["boxes"]) <= 30
    np.testing.assert_allclose(pred["boxes"], boxes, atol=1e-3)
    np.testing.assert_allclose(pred["scores"], det["scores"].numpy(), atol=1e-5)
    np.testing.assert_array_equal(pred["labels"], det["labels"].numpy())
    assert set(pred["labels"].tolist()) <= {0, 1}


def test_predict_boxes_in_original_pixels(model):
    model.set_references([rgb(50, 50, 6)])
    frame = rgb(96, 200, 7)
    pred = model.predict(frame, conf=0.0, max_det=300)[0]  # a single array is accepted too
    b = pred["boxes"]
    assert (b[:, [0, 2]] >= 0).all() and (b[:, [0, 2]] <= 200).all()
    assert (b[:, [1, 3]] >= 0).all() and (b[:, [1, 3]] <= 96).all()
    assert b[:, 2].max() > S  # reaches past the 128-px network input: scaled back to the 200-px frame


def test_vit_runs_only_in_set_references_and_cost_is_independent_of_k(model):
    calls = []
    h = model.reference.vit.patch_embed.register_forward_hook(lambda *a: calls.append(1))  # first ViT layer
    try:
        shapes = {}
        for k in (1, 3):
            model.set_references([rgb(60, 40, 10 + i) for i in range(k)])
            n = len(calls)
            model.predict([rgb(90, 120, 20), rgb(120, 90, 21)], conf=0.5)
            assert len(calls) == n  # predict never ran the ViT
            shapes[k] = [tuple(t.shape) for t in model._refs["tokens"]]
        assert len(calls) == 2  # once per set_references
        assert shapes[1] == shapes[3]  # the per-frame attention sees the same token count for K=1 and K=3
    finally:
        h.remove()


def test_references_of_different_counts_and_sizes(model):
    model.set_references([[rgb(40, 60, 1)], [rgb(80, 30, 2), rgb(25, 25, 3), rgb(90, 90, 4)]])
    assert model.num_references == 2
    pred = model.predict([rgb(64, 64, 5)], conf=0.0, max_det=50)[0]
    assert set(pred["labels"].tolist()) <= {0, 1}
    model.set_references(torch.rand(2, 3, 112, 112))  # a (K, 3, R', R') tensor of another size is resized
    assert model.num_references == 1


def test_bad_inputs_name_the_culprit(model):
    model.clear_references()
    with pytest.raises(RuntimeError, match="set_references"):
        model.predict([rgb(64, 64, 0)])
    model.set_references([rgb(30, 30, 0)])
    with pytest.raises(ValueError, match="frame 1"):
        model.predict([rgb(64, 64, 0), np.zeros((64, 64), np.uint8)])
    with pytest.raises(ValueError, match="object 0 image 1"):
        model.set_references([rgb(30, 30, 0), np.zeros((30, 30, 3), np.float32)])
    with pytest.raises(TypeError, match="imgsz_typo"):
        build_refdet(imgsz_typo=3)


def test_training_gradients_and_freeze():
    m = quiet(freeze_reference=True, embed_dim=32).train()
    out = m(torch.rand(2, 3, S, S), torch.rand(2, 2, 3, R, R))
    (out["proto_logits"].sigmoid().mean() + out["box_dist"].mean() + out["std_logits"].mean()).backward()
    assert all(p.grad is None for p in m.reference.vit.parameters())  # frozen ViT
    assert m.reference.emb_proj[0].weight.grad is not None  # its projections still learn
    assert m.fusion.glob[0].q.weight.grad.abs().sum() > 0
    assert m.head.cv4[0][-1].weight.grad.abs().sum() > 0
    assert m.backbone.model[0].conv.weight.grad.abs().sum() > 0
    assert not m.reference.vit.training  # stays in eval mode while frozen


def test_autocast_forward(model):
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(torch.rand(1, 3, S, S), torch.rand(1, 1, 3, R, R))
    assert out["proto_logits"].shape == (1, 1, A) and torch.isfinite(out["proto_logits"].float()).all()
    model.set_references([rgb(30, 30, 0)])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        pred = model.predict([rgb(64, 80, 1)], conf=0.0, max_det=5)[0]
    assert pred["boxes"].dtype == np.float32 and len(pred["boxes"]) == 5


def test_parameter_report(model, capsys):
    rep = model.parameter_report()
    printed = capsys.readouterr().out
    assert "backbone" in printed and "fusion" in printed and "total" in printed
    parts = [v["params"] for k, v in rep.items() if not k.startswith("total")]
    assert rep["total"]["params"] == sum(parts) == sum(p.numel() for p in model.parameters())
    groups = model.component_parameters()
    assert sum(p.numel() for ps in groups.values() for p in ps) == rep["total"]["params"]


def test_cached_references_follow_the_model_dtype(model):
    import copy
    m = copy.deepcopy(model)
    m.set_references([rgb(40, 40, 3)])
    frame = rgb(80, 100, 4)
    ref = m.predict([frame], conf=0.0, max_det=10)[0]
    m.double()  # references were cached in float32; predict must move them along
    out = m.predict([frame], conf=0.0, max_det=10)[0]
    np.testing.assert_allclose(out["scores"], ref["scores"], rtol=1e-4)


def test_batchnorm_momentum_from_config():
    """Short CPU runs need running stats that keep up: every BatchNorm follows ModelConfig.bn_momentum."""
    import warnings

    from refdet_lib.model import build_refdet

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = build_refdet(imgsz=64, support_size=56, bn_momentum=0.2)
    bns = [x for x in m.modules() if isinstance(x, torch.nn.BatchNorm2d)]
    assert len(bns) > 50 and {b.momentum for b in bns} == {0.2}


def test_cheaf_top_down_runs_coarse_to_fine_and_bottom_up_fine_to_coarse():
    from ultralytics.nn.modules import Conv, DWConv

    f = CHEAF((64, 128, 256))
    # top_down[i]: P(i+1) -> P(i), a 1x1 channel match (then nearest upsampling); bottom_up[i]: P(i) -> P(i+1) at stride 2
    for i, (lo, hi) in enumerate(((64, 128), (128, 256))):
        td, bu = f.top_down[i], f.bottom_up[i]
        assert isinstance(td, Conv) and (td.conv.in_channels, td.conv.out_channels) == (hi, lo)
        assert isinstance(bu, DWConv) and (bu.conv.in_channels, bu.conv.out_channels, bu.conv.stride) == (lo, hi, (2, 2))
