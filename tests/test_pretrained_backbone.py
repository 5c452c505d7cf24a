"""The installed ImageNet MobileNetV2 elsewhere in the detector: as the query backbone (under YOLOv8's PAN neck,
ModelConfig.backbone "mobilenetv2") and as the reference encoder (DINOv2's slot, reference_encoder "mobilenetv2").
Both keep the pretrained weights and BatchNorm settings through RefDet's construction, train (the pretrained layers at
lr x0.1), save, load, and export to ONNX; the default model and the committed course weights are untouched."""
from __future__ import annotations

import warnings

import pytest
import torch
from conftest import paths

from refdet_lib.cli import main
from refdet_lib.cli.train_args import configs_from_args, train_command, train_parser
from refdet_lib.config import DataConfig, ModelConfig, TrainConfig, stage_weights
from refdet_lib.losses import Criterion
from refdet_lib.model import build_refdet, load_model
from refdet_lib.model.backbone import YoloBackbone
from refdet_lib.model.imagenet import load_mobilenet_v2
from refdet_lib.model.mobilenet_backbone import MobileNetBackbone, query_backbone
from refdet_lib.train.optim import param_groups
from refdet_lib.train.recipes import LEARNING, small_configs
from refdet_lib.train.run import build_datasets
from refdet_lib.train.step import batch_loss

S, R = 96, 64  # query and reference sizes of the small models (multiples of 32)


def quiet(**kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the random-init notes of the other parts
        return build_refdet(**{"imgsz": S, "support_size": R, **kw})


@pytest.fixture(scope="module")
def installed() -> dict[str, torch.Tensor]:
    """torchvision-named tensors of the installed ImageNet file (features.0 ... features.18)."""
    return load_mobilenet_v2().state_dict()


def bns(m: torch.nn.Module) -> list[torch.nn.BatchNorm2d]:
    return [x for x in m.modules() if isinstance(x, torch.nn.BatchNorm2d)]


# ------------------------------------------------------------------------------------------ the query backbone
def test_backbone_gives_yolov8n_channels_and_strides_on_a_320_frame():
    bb, yolo = MobileNetBackbone("n").eval(), YoloBackbone("n")
    assert bb.channels == yolo.channels == (64, 128, 256) and bb.strides == yolo.strides == (8, 16, 32)
    x = torch.rand(2, 3, 320, 320)
    with torch.no_grad():
        feats, low = bb(x, low=True)
        assert [tuple(f.shape) for f in feats] == [(2, 64, 40, 40), (2, 128, 20, 20), (2, 256, 10, 10)]
        assert low.shape == (2, bb.low_channels, 80, 80) and bb.low_channels == 24
        assert torch.equal(bb.stem(x), low)  # the appearance match's crops go through the same layers
        # ImageNet normalisation inside: the first map is the installed net's on a normalised [0, 1] frame
        ref = load_mobilenet_v2().eval()[:4]((x - torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
                                              / torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))
    assert torch.allclose(low, ref, atol=1e-5)
    with pytest.raises(ValueError, match="multiple of 32"):
        bb(torch.rand(1, 3, 100, 96))


def test_pretrained_layers_survive_refdet_construction(installed):
    """RefDet's ultralytics initialize_weights and BatchNorm loop run after the backbone is built: the ImageNet
    layers keep their tensors and eps 1e-5 (momentum: the model's bn_momentum); the new neck gets ultralytics'."""
    m = quiet(backbone="mobilenetv2", reference_encoder="mobilenetv2", bn_momentum=0.2)
    got = m.backbone.features.state_dict()
    assert len(got) == 306  # features.0-17: the 1280-wide last conv (6 tensors) stays out
    for k, v in got.items():
        assert torch.equal(v, installed[k]), k
    for k, v in m.reference.features.state_dict().items():  # all 19 layers, 312 tensors
        assert torch.equal(v, installed[k]), k
    assert {(b.eps, b.momentum) for b in bns(m.backbone.features)} == {(1e-5, 0.2)}
    assert {b.eps for b in bns(m.reference.features)} == {1e-5}
    assert {b.eps for b in bns(m.backbone) if not any(b is p for p in bns(m.backbone.features))} == {1e-3}
    with pytest.raises(ValueError, match="yolo_weights"):
        query_backbone("mobilenetv2", "n", {"model.0.conv.weight": torch.zeros(1)})
    with pytest.raises(ValueError, match="backbone 'resnet'"):
        quiet(backbone="resnet")


# ------------------------------------------------------------------------------------------ the reference encoder
def test_reference_encoder_gives_what_dinov2_gives():
    m = quiet(reference_encoder="mobilenetv2").eval()
    with torch.no_grad():
        refs = m.encode_references(torch.rand(3, 2, 3, R, R))
        out = m(torch.rand(2, 3, S, S), torch.rand(3, 2, 3, R, R))
    assert refs["ref_emb"].shape == (3, 2, 128) and refs["prototypes"].shape == (3, 128)
    assert torch.allclose(refs["prototypes"].norm(dim=-1), torch.ones(3), atol=1e-5)
    assert [tuple(p.shape) for p in refs["scale_protos"]] == [(3, 64), (3, 128), (3, 256)]
    assert [tuple(t.shape) for t in refs["tokens"]] == [(3, 16, 64), (3, 16, 128), (3, 16, 256)]
    assert out["proto_logits"].shape == (2, 3, sum((S // s) ** 2 for s in (8, 16, 32)))
    tok = quiet(reference_encoder="mobilenetv2", reference_fusion="tokens", support_size=128).eval()
    with torch.no_grad():
        assert tok.encode_references(torch.rand(2, 3, 3, 128, 128))["tokens"][0].shape == (2, 3 * 16, 64)
    with pytest.raises(ValueError, match="multiple of 32"):
        quiet(reference_encoder="mobilenetv2", support_size=56)


def test_reference_batchnorm_keeps_imagenet_statistics_in_training():
    """A step's few small reference photos make noisy batch statistics: the encoder normalises with its running
    (ImageNet) ones also in training, so a photo's encoding does not depend on the photos beside it."""
    m = quiet(reference_encoder="mobilenetv2").train()
    before = {k: v.clone() for k, v in m.reference.features.state_dict().items() if "running" in k}
    a = torch.rand(1, 2, 3, R, R)
    alone = m.encode_references(a)["ref_emb"]
    together = m.encode_references(torch.cat([a, torch.rand(2, 2, 3, R, R)]))["ref_emb"][:1]
    assert torch.allclose(alone, together, atol=1e-5)
    assert all(torch.equal(v, m.reference.features.state_dict()[k]) for k, v in before.items())
    assert not any(b.training for b in bns(m.reference.features)) and m.backbone.training


# ------------------------------------------------------------------------------------------ training
@pytest.fixture(scope="module")
def batch(tiny_root, tmp_path_factory):
    samples, ann = paths(tiny_root)
    data = DataConfig(data_root=str(samples), annotations=str(ann), n_way=2, n_query=2, n_episodes=1,
                      num_workers=0, cache_dir=str(tmp_path_factory.mktemp("cache")))
    _, eps, _, _ = build_datasets(data, ModelConfig(imgsz=S, support_size=R), TrainConfig(), verbose=False)
    return eps[0]


@pytest.mark.parametrize("option", ["backbone", "reference_encoder"])
def test_one_training_step_reaches_the_pretrained_layers(option, batch):
    torch.manual_seed(0)  # the backbone with the siamese encoder: references go through it too (support 64)
    m = quiet(**{option: "mobilenetv2"}, **({"reference_encoder": "siamese"} if option == "backbone" else {})).train()
    pretrained = m.backbone.features if option == "backbone" else m.reference.features
    opt = torch.optim.AdamW(param_groups(m, TrainConfig(lr=1e-3)))
    w0 = pretrained[0][0].weight.detach().clone()
    total, parts = batch_loss(m, Criterion(stage_weights(2)), batch, stage=2)
    assert torch.isfinite(total) and total > 0
    total.backward()
    grads = [p.grad for p in pretrained.parameters() if p.grad is not None]
    assert len(grads) == len(list(pretrained.parameters()))
    assert all(torch.isfinite(g).all() for g in grads) and sum(g.abs().sum() for g in grads) > 0
    opt.step()
    assert not torch.equal(w0, pretrained[0][0].weight)


def test_pretrained_layers_learn_at_a_tenth_of_the_rate():
    m = quiet(backbone="mobilenetv2", reference_encoder="mobilenetv2")
    groups = param_groups(m, TrainConfig(lr=1e-3))
    lr_of = {id(p): g["lr"] for g in groups for p in g["params"]}
    trainable = [p for p in m.parameters() if p.requires_grad]
    assert sum(len(g["params"]) for g in groups) == len(lr_of) == len(trainable)  # each once
    assert all(lr_of[id(p)] == pytest.approx(1e-4) for p in m.backbone.features.parameters())
    assert all(lr_of[id(p)] == pytest.approx(1e-4) for p in m.reference.features.parameters())
    assert all(lr_of[id(p)] == pytest.approx(1e-3) for p in m.backbone.top4.parameters())  # the new neck: x1
    assert {g["name"].removesuffix("_no_decay") for g in groups} == {"pretrained", "reference", "backbone",
                                                                    "fusion", "head"}
    default = {g["name"] for g in param_groups(quiet(reference_encoder="siamese"), TrainConfig())}
    assert not any(n.startswith("pretrained") for n in default)  # optimizer states of existing runs still fit


# ------------------------------------------------------------------------------------------ flags, recipe, files
def test_flags_and_the_learning_recipe_reach_model_config(tmp_path):
    a = train_parser().parse_args(["--backbone", "mobilenetv2", "--reference_encoder", "mobilenetv2",
                                   "--support_size", "64"])
    data, model, train, w = configs_from_args(a)
    assert model.backbone == "mobilenetv2" and model.reference_encoder == "mobilenetv2"
    cmd = train_command(data, model, train, w, multiline=False)
    assert "--backbone mobilenetv2" in cmd and "--reference_encoder mobilenetv2" in cmd
    assert "--backbone" not in train_command(DataConfig(), ModelConfig(), TrainConfig(), multiline=False)
    _, model, _, _ = small_configs(tmp_path, validate=False, **{**LEARNING["detector"], "backbone": "mobilenetv2"})
    assert model.backbone == "mobilenetv2" and LEARNING["detector"].get("backbone", "yolov8") == "yolov8"
    assert main(["train", "--reference_encoder", "mobilenetv2", "--support_size", "56"]) == 2


def test_cli_trains_saves_loads_and_exports_both_options(tiny_root, tmp_path):
    from refdet_lib.export import export_onnx, parity_check
    from refdet_lib.train.verifier import save_refdet

    samples, ann = paths(tiny_root)
    run = tmp_path / "run"
    assert main(["train", "--data_root", str(samples), "--annotations", str(ann), "--epochs", "1", "--n_episodes",
                 "1", "--n_query", "2", "--imgsz", str(S), "--support_size", str(R), "--num_workers", "0",
                 "--backbone", "mobilenetv2", "--reference_encoder", "mobilenetv2", "--appearance_match",
                 "--checkpoint_dir", str(run)]) == 0
    m = load_model(run / "last.pt")
    assert m.config.backbone == "mobilenetv2" and isinstance(m.backbone, MobileNetBackbone)
    with torch.no_grad():  # weights unlike the installed file's: the checkpoint's must win over it when loaded
        m.backbone.features[0][0].weight.mul_(1.5)
        m.reference.features[5].conv[0][1].running_mean.add_(0.1)
    save_refdet(m, run / "last.pt", tmp_path / "edited.pt")
    m2 = load_model(tmp_path / "edited.pt")
    q, sup = torch.rand(2, 3, S, S), torch.rand(2, 3, 3, R, R)
    with torch.no_grad():
        a, b = m(q, sup), m2(q, sup)
    for k in ("proto_logits", "box_dist", "std_logits"):
        assert torch.equal(a[k], b[k]), k
    assert {b.eps for b in bns(m2.backbone.features)} == {1e-5}
    export_onnx(m2, tmp_path / "onnx")
    par = parity_check(m2, tmp_path / "onnx")
    assert max(par.values()) <= 1e-4, par


def test_default_model_is_yolov8_and_the_course_weights_load_their_imagenet_backbone():
    """The default query backbone is YOLOv8 with ultralytics' key names; the committed course weights (strictly
    loaded: a missing or unexpected key is refused) carry the ImageNet MobileNetV2 backbone (course_weights.BACKBONE)
    and run."""
    from refdet_lib.model.loading import load_course_model
    from refdet_lib.train.course_weights import BACKBONE

    assert ModelConfig().backbone == "yolov8" and TrainConfig().lr_mult_pretrained == 0.1
    keys = quiet(support_size=56).state_dict().keys()
    bb = [k for k in keys if k.startswith("backbone.")]
    assert bb and all(k.startswith("backbone.model.") for k in bb)
    assert any(k.startswith("reference.vit.") for k in keys) and not any(".features." in k for k in keys)
    m = load_course_model(imgsz=S)
    assert BACKBONE == "mobilenetv2" == m.config.backbone and isinstance(m.backbone, MobileNetBackbone)
    assert m.component_parameters()["pretrained"]  # its layers train at lr x0.1 when fine-tuned
    with torch.no_grad():
        out = m(torch.rand(1, 3, S, S), torch.rand(1, 3, 3, m.config.support_size, m.config.support_size))
    assert torch.isfinite(out["proto_logits"]).all()


# ------------------------------------------------------------------------------------------ the stride-4 level (P2)
def test_p2_level_shapes_strides_and_one_training_step(batch):
    """p2 adds a stride-4 map (MobileNetV2's pretrained 24-channel block under a yolov8-p2 neck): four levels, their
    anchors in the head, a finite loss whose gradient reaches the new level; only on the mobilenetv2 backbone."""
    bb = MobileNetBackbone("n", p2=True).eval()
    assert bb.channels == (32, 64, 128, 256) and bb.strides == (4, 8, 16, 32)
    with torch.no_grad():
        feats = bb(torch.rand(1, 3, 320, 320))
    assert [tuple(f.shape) for f in feats] == [(1, 32, 80, 80), (1, 64, 40, 40), (1, 128, 20, 20), (1, 256, 10, 10)]
    with pytest.raises(ValueError, match="p2"):
        query_backbone("yolov8", "n", None, p2=True)
    torch.manual_seed(0)
    m = quiet(backbone="mobilenetv2", reference_encoder="siamese", p2=True).train()
    assert m.strides == (4, 8, 16, 32)
    out = m(torch.rand(1, 3, S, S), torch.rand(1, 3, 3, R, R))
    assert out["proto_logits"].shape[-1] == sum((S // s) ** 2 for s in (4, 8, 16, 32))
    total, _ = batch_loss(m, Criterion(stage_weights(2)), batch, stage=2)
    assert torch.isfinite(total) and total > 0
    total.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in m.backbone.top2.parameters())


def test_p2_flag_reaches_the_model_and_its_command(tmp_path, capsys):
    a = train_parser().parse_args(["--backbone", "mobilenetv2", "--p2", "--checkpoint_dir", str(tmp_path)])
    _, model, _, _ = configs_from_args(a)
    assert model.p2 and ModelConfig().p2 is False
    assert "--p2" in train_command(*configs_from_args(a)[:3])
    assert main(["train", "--p2", "--imgsz", str(S), "--checkpoint_dir", str(tmp_path / "x")]) != 0  # on yolov8
    assert "p2 (a stride-4 level) is built on backbone 'mobilenetv2'" in capsys.readouterr().err
