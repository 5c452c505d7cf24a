"""Losses: WIoU v3, DFL, SupCon, CPE, triplet against hand/naive formulas; Criterion on contract-shaped outputs."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from ultralytics.utils.loss import DFLoss
from ultralytics.utils.metrics import bbox_iou
from ultralytics.utils.tal import make_anchors

from refdet_lib.config import LossConfig, LossWeights, stage_weights
from refdet_lib.losses import (
    COMPONENTS,
    CPELoss,
    Criterion,
    SupConLoss,
    WIoUv3Loss,
    batch_hard_triplet_loss,
    dfl_loss,
    triplet_loss,
)

# ----------------------------------------------------------------------------------------------------- WIoU v3


def _hand_wiou(pred, gt, iou_mean, alpha=1.9, delta=3.0):
    """WIoU v3 of one pair of boxes, written out with plain floats."""
    ix = max(0.0, min(pred[2], gt[2]) - max(pred[0], gt[0]))
    iy = max(0.0, min(pred[3], gt[3]) - max(pred[1], gt[1]))
    inter = ix * iy
    union = (pred[2] - pred[0]) * (pred[3] - pred[1]) + (gt[2] - gt[0]) * (gt[3] - gt[1]) - inter
    l_iou = 1 - inter / union
    cxp, cyp = (pred[0] + pred[2]) / 2, (pred[1] + pred[3]) / 2
    cxg, cyg = (gt[0] + gt[2]) / 2, (gt[1] + gt[3]) / 2
    wg = max(pred[2], gt[2]) - min(pred[0], gt[0])
    hg = max(pred[3], gt[3]) - min(pred[1], gt[1])
    r_wiou = math.exp(((cxp - cxg) ** 2 + (cyp - cyg) ** 2) / (wg ** 2 + hg ** 2))
    beta = l_iou / iou_mean
    r = beta / (delta * alpha ** (beta - delta))
    return r * r_wiou * l_iou, l_iou, r


def test_wiou_v3_matches_hand_computation():
    pred, gt = [0.0, 0.0, 2.0, 2.0], [1.0, 1.0, 3.0, 3.0]
    loss_fn = WIoUv3Loss().eval()  # eval: the running mean stays at its initial 1.0
    expected, _, r = _hand_wiou(pred, gt, 1.0)
    assert r != pytest.approx(1.0)
    got = loss_fn(torch.tensor([pred]), torch.tensor([gt]))
    assert got.shape == (1,)
    assert got.item() == pytest.approx(expected, rel=1e-5)


def test_wiou_v3_focus_is_one_at_beta_equal_delta():
    pred, gt = [0.0, 0.0, 2.0, 2.0], [1.0, 1.0, 3.0, 3.0]
    _, l_iou, _ = _hand_wiou(pred, gt, 1.0)
    loss_fn = WIoUv3Loss().eval()
    loss_fn.iou_mean.fill_(l_iou / 3.0)  # beta = 3 = delta -> r = 1, so L_v3 = L_v1 = R * L_IoU
    expected, _, r = _hand_wiou(pred, gt, l_iou / 3.0)
    assert r == pytest.approx(1.0)
    assert loss_fn.focus(torch.tensor([l_iou])).item() == pytest.approx(1.0, rel=1e-5)
    assert loss_fn(torch.tensor([pred]), torch.tensor([gt])).item() == pytest.approx(expected, rel=1e-5)
    assert expected == pytest.approx(math.exp(2 / 18) * 6 / 7)


def test_wiou_v3_running_mean_updates_in_training_only():
    pred = torch.tensor([[0.0, 0.0, 2.0, 2.0], [0.0, 0.0, 4.0, 4.0]])
    gt = torch.tensor([[1.0, 1.0, 3.0, 3.0], [0.0, 0.0, 4.0, 2.0]])
    loss_fn = WIoUv3Loss(momentum=0.1)
    l_iou = torch.tensor([_hand_wiou(p, g, 1.0)[1] for p, g in zip(pred.tolist(), gt.tolist())])
    loss_fn.eval()(pred, gt)
    assert loss_fn.iou_mean.item() == pytest.approx(1.0)
    loss_fn.train()(pred, gt)
    assert loss_fn.iou_mean.item() == pytest.approx(0.9 * 1.0 + 0.1 * l_iou.mean().item(), rel=1e-6)
    assert "iou_mean" in loss_fn.state_dict()


def test_wiou_v3_moving_toward_gt_lowers_loss_and_gradient_points_there():
    gt = torch.tensor([[10.0, 10.0, 30.0, 30.0]])
    loss_fn = WIoUv3Loss().eval()
    losses = [loss_fn(torch.tensor([[x, 10.0, x + 20.0, 30.0]]), gt).item() for x in (0.0, 4.0, 8.0)]
    assert losses[0] > losses[1] > losses[2]
    pred = torch.tensor([[0.0, 10.0, 20.0, 30.0]], requires_grad=True)
    loss_fn(pred, gt).sum().backward()
    assert pred.grad[0, 0] < 0 and pred.grad[0, 2] < 0  # increasing x (toward the gt) lowers the loss


def test_wiou_v3_degenerate_boxes_are_finite():
    loss_fn = WIoUv3Loss()
    pred = torch.tensor([[5.0, 5.0, 5.0, 9.0], [3.0, 3.0, 3.0, 3.0], [0.0, 0.0, 4.0, 4.0]], requires_grad=True)
    gt = torch.tensor([[5.0, 5.0, 5.0, 9.0], [3.0, 3.0, 3.0, 3.0], [10.0, 10.0, 10.0, 20.0]])
    loss = loss_fn(pred, gt)
    loss.sum().backward()
    assert torch.isfinite(loss).all() and torch.isfinite(pred.grad).all()
    assert torch.isfinite(loss_fn.iou_mean)


# ----------------------------------------------------------------------------------------------------- DFL


def test_dfl_matches_direct_formula_and_ultralytics():
    torch.manual_seed(0)
    reg_max = 16
    logits = torch.randn(5, 4, reg_max)
    target = torch.tensor([[0.0, 3.3, 7.5, 14.2], [15.5, 20.0, 1.01, 9.99], [2.0, 2.5, 0.2, 13.0],
                           [14.99, 0.0, 5.5, 6.5], [1.0, 1.0, 1.0, 1.0]])
    got = dfl_loss(logits, target, reg_max)
    assert got.shape == (5, 4)
    logp = logits.log_softmax(-1)
    for i in range(5):
        for j in range(4):
            t = min(max(target[i, j].item(), 0.0), reg_max - 1 - 0.01)
            tl = int(math.floor(t))
            want = -((tl + 1 - t) * logp[i, j, tl] + (t - tl) * logp[i, j, tl + 1])
            assert got[i, j].item() == pytest.approx(want.item(), rel=1e-5, abs=1e-6)
    ref = DFLoss(reg_max)(logits.view(-1, reg_max), target.clone()).squeeze(-1)  # mean over the 4 sides
    assert torch.allclose(got.mean(-1), ref, atol=1e-5)


# ----------------------------------------------------------------------------------------------------- SupCon / CPE


def _naive_supcon_terms(z, labels, tau):
    """Per-anchor SupCon L_out with explicit loops; None for anchors without positives."""
    z = F.normalize(z, dim=-1)
    n = len(labels)
    out = []
    for i in range(n):
        pos = [p for p in range(n) if p != i and labels[p] == labels[i]]
        if not pos:
            out.append(None)
            continue
        denom = sum(math.exp(float(z[i] @ z[a]) / tau) for a in range(n) if a != i)
        out.append(-sum(math.log(math.exp(float(z[i] @ z[p]) / tau) / denom) for p in pos) / len(pos))
    return out


def test_supcon_matches_naive_double_loop():
    torch.manual_seed(1)
    z = torch.randn(9, 8)
    labels = torch.tensor([0, 0, 1, 1, 1, 2, 0, 3, 2])  # class 3 has one member: skipped as an anchor
    terms = [t for t in _naive_supcon_terms(z, labels.tolist(), 0.07) if t is not None]
    want = sum(terms) / len(terms)
    assert SupConLoss(0.07)(z, labels).item() == pytest.approx(want, rel=1e-4)
    mask = (labels[:, None] == labels[None, :]).float()
    assert SupConLoss(0.07)(z, mask=mask).item() == pytest.approx(want, rel=1e-4)


def test_supcon_prefers_clustered_embeddings_and_handles_no_positive():
    labels = torch.tensor([0, 0, 1, 1])
    clustered = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    mixed = clustered[[0, 2, 1, 3]]
    assert SupConLoss()(clustered, labels) < SupConLoss()(mixed, labels)
    z = torch.randn(3, 4, requires_grad=True)
    loss = SupConLoss()(z, torch.tensor([0, 1, 2]))
    loss.backward()
    assert loss.item() == 0.0 and torch.isfinite(z.grad).all()
    with pytest.raises(ValueError, match="labels"):
        SupConLoss()(z)


def test_cpe_thresholds_and_weights_by_iou():
    torch.manual_seed(2)
    z = torch.randn(6, 8)
    labels = torch.tensor([0, 0, 0, 1, 1, 1])
    ious = torch.tensor([0.9, 0.5, 0.7, 0.65, 0.2, 0.59])
    terms = _naive_supcon_terms(z, labels.tolist(), 0.2)
    kept = [i for i in range(6) if ious[i] >= 0.6]
    want = sum(ious[i].item() * terms[i] for i in kept) / len(kept)
    cpe = CPELoss(temperature=0.2, iou_threshold=0.6)
    assert cpe(z, labels, ious).item() == pytest.approx(want, rel=1e-4)
    # an anchor below the threshold does not contribute (only sits in the denominators)
    ious2 = ious.clone()
    ious2[4] = 0.1
    assert cpe(z, labels, ious2).item() == pytest.approx(want, rel=1e-5)
    # nothing above the threshold -> 0
    zg = z.clone().requires_grad_(True)
    low = cpe(zg, labels, torch.full((6,), 0.3))
    low.backward()
    assert low.item() == 0.0 and torch.isfinite(zg.grad).all()


# ----------------------------------------------------------------------------------------------------- triplet


def test_triplet_zero_when_margin_satisfied_positive_otherwise():
    a = torch.tensor([[1.0, 0.0]])
    assert triplet_loss(a, torch.tensor([[2.0, 0.0]]), torch.tensor([[0.0, 1.0]]), margin=0.3).item() == 0.0
    bad = triplet_loss(a, torch.tensor([[0.0, 1.0]]), torch.tensor([[1.0, 0.0]]), margin=0.3)
    assert bad.item() == pytest.approx(math.sqrt(2) + 0.3, rel=1e-5)


def _unit(deg):
    return [math.cos(math.radians(deg)), math.sin(math.radians(deg))]


def test_batch_hard_picks_hardest_pairs():
    chord = lambda deg: 2 * math.sin(math.radians(deg) / 2)  # distance of unit vectors `deg` apart
    emb = torch.tensor([_unit(0), _unit(10), _unit(60), _unit(90), _unit(120)])
    labels = torch.tensor([0, 0, 0, 1, 1])
    anchor = torch.tensor([_unit(0)])
    # anchor at 0 deg: hardest positive is at 60 deg, hardest negative at 90 deg
    got = batch_hard_triplet_loss(emb, labels, margin=0.5, anchors=anchor, anchor_labels=torch.tensor([0]))
    assert got.item() == pytest.approx(chord(60) - chord(90) + 0.5, rel=1e-5)
    # self-set form: every embedding is an anchor, itself excluded from its positives
    angles = [0, 10, 60, 90, 120]
    want = []
    for i, ai in enumerate(angles):
        pos = [chord(abs(aj - ai)) for j, aj in enumerate(angles) if j != i and labels[j] == labels[i]]
        neg = [chord(abs(aj - ai)) for j, aj in enumerate(angles) if labels[j] != labels[i]]
        want.append(max(0.0, max(pos) - min(neg) + 0.5))
    assert batch_hard_triplet_loss(emb, labels, margin=0.5).item() == pytest.approx(sum(want) / 5, rel=1e-5)
    # an anchor with no positive or no negative is skipped; all skipped -> 0
    assert batch_hard_triplet_loss(emb[:3], labels[:3], margin=0.5).item() == 0.0


# ----------------------------------------------------------------------------------------------------- Criterion

IMGSZ, C, K, D, NC_BASE, REG_MAX = 64, 2, 3, 16, 5, 16


def _out(bs=2, dtype=torch.float32, seed=0, requires_grad=True):
    """Random raw outputs shaped per docs/contracts.md for a 64 px query (strides 8, 16, 32 -> A = 84)."""
    g = torch.Generator().manual_seed(seed)
    feats = [torch.zeros(bs, 1, IMGSZ // s, IMGSZ // s) for s in (8, 16, 32)]
    anchor_points, stride_tensor = make_anchors(feats, torch.tensor([8.0, 16.0, 32.0]), 0.5)
    a = anchor_points.shape[0]

    def leaf(*shape, norm=False):
        t = torch.randn(*shape, generator=g)
        t = F.normalize(t, dim=-1) if norm else t
        return t.to(dtype).requires_grad_(requires_grad)

    return {"box_dist": leaf(bs, 4 * REG_MAX, a), "proto_logits": leaf(bs, C, a), "std_logits": leaf(bs, NC_BASE, a),
            "anchor_emb": leaf(bs, a, D, norm=True), "ref_emb": leaf(C, K, D, norm=True),
            "prototypes": leaf(C, D, norm=True), "anchor_points": anchor_points, "stride_tensor": stride_tensor,
            "feat_shapes": [tuple(f.shape[2:]) for f in feats]}


def _batch(boxes, batch_idx, cls, base_cls=None):
    n = len(boxes)
    return {"bboxes": torch.tensor(boxes, dtype=torch.float32).view(n, 4),
            "batch_idx": torch.tensor(batch_idx, dtype=torch.long), "cls": torch.tensor(cls, dtype=torch.long),
            "base_cls": torch.tensor(base_cls if base_cls is not None else cls, dtype=torch.long)}


NORMAL = ([[8, 8, 40, 40], [20, 10, 50, 30], [30, 30, 60, 60]], [0, 1, 1], [0, 1, 0], [3, 4, 3])
CASES = {
    "normal": NORMAL,
    "frame_without_object": ([[8, 8, 40, 40]], [0], [1], [2]),
    "no_targets": ([], [], [], []),
    "zero_width": ([[10, 10, 10, 30], [20, 20, 44, 20], [8, 8, 40, 40]], [0, 1, 1], [0, 1, 1], [0, 1, 1]),
    "no_anchor_assigned": ([[1, 1, 2, 2], [62, 62, 63, 63]], [0, 1], [0, 1], [0, 1]),
}


def _grads_finite(out):
    leaves = [v for v in out.values() if isinstance(v, torch.Tensor) and v.requires_grad]
    return all(t.grad is None or torch.isfinite(t.grad).all() for t in leaves)


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("stage", [1, 2, 3])
def test_criterion_finite_on_edge_cases(case, stage):
    out = _out()
    crit = Criterion(stage_weights(stage), LossConfig(), reg_max=REG_MAX)
    total, comp = crit(out, _batch(*CASES[case]), stage)
    assert set(comp) == set(COMPONENTS)
    assert all(v.ndim == 0 and not v.requires_grad and torch.isfinite(v) for v in comp.values())
    assert torch.isfinite(total) and total.ndim == 0
    total.backward()
    assert _grads_finite(out)
    assert torch.isfinite(crit.wiou.iou_mean)
    assert total.item() == pytest.approx(sum(v.item() for v in comp.values()), rel=1e-5, abs=1e-6)
    if case in ("no_targets", "no_anchor_assigned"):
        assert comp["bbox"] == 0 and comp["dfl"] == 0 and comp["cpe"] == 0 and comp["triplet"] == 0
        assert comp["cls"] > 0  # everything is pushed toward background
    if case == "normal":
        assert comp["bbox"] > 0 and comp["dfl"] > 0 and comp["cls"] > 0
        assert (comp["supcon"] > 0) == (stage != 1) and (comp["triplet"] > 0) == (stage == 3)
    if stage == 1:
        assert comp["supcon"] == 0 and comp["cpe"] == 0 and comp["triplet"] == 0


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_criterion_half_precision_under_autocast(dtype):
    out = _out(dtype=dtype)
    crit = Criterion(stage_weights(3), LossConfig(cpe_iou_threshold=0.0))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        total, comp = crit(out, _batch(*NORMAL), 3)
    assert total.dtype == torch.float32 and torch.isfinite(total)
    total.backward()
    assert _grads_finite(out) and out["box_dist"].grad.abs().sum() > 0
    assert comp["cpe"] > 0 and comp["triplet"] > 0


def test_criterion_grads_reach_every_output_used():
    out = _out()
    crit = Criterion(stage_weights(3), LossConfig(cpe_iou_threshold=0.0))
    total, _ = crit(out, _batch(*NORMAL), 3)
    total.backward()
    for k in ("box_dist", "proto_logits", "anchor_emb", "ref_emb", "prototypes"):
        assert out[k].grad is not None and out[k].grad.abs().sum() > 0, k
    assert out["std_logits"].grad is None


def test_criterion_weights_live_edit_changes_total():
    out, batch = _out(requires_grad=False), _batch(*NORMAL)
    crit = Criterion(stage_weights(2)).eval()  # eval: WIoU's running mean is frozen, so calls are comparable
    total1, comp1 = crit(out, batch, 2)
    assert comp1["supcon"] > 0
    crit.weights["supcon"] *= 0.5
    total2, comp2 = crit(out, batch, 2)
    assert comp2["supcon"].item() == pytest.approx(0.5 * comp1["supcon"].item(), rel=1e-5)
    assert total2.item() == pytest.approx(total1.item() - 0.5 * comp1["supcon"].item(), rel=1e-5)
    crit.weights["bbox"] = 0.0
    total3, comp3 = crit(out, batch, 2)
    assert comp3["bbox"] == 0 and total3.item() == pytest.approx(total2.item() - comp2["bbox"].item(), rel=1e-5)


def test_stage1_scores_std_logits_against_base_cls():
    batch = _batch(*NORMAL)
    crit = Criterion(stage_weights(1)).eval()
    out = _out()
    total, comp = crit(out, batch, 1)
    total.backward()
    assert out["std_logits"].grad.abs().sum() > 0 and out["proto_logits"].grad is None
    # changing proto_logits does not change stage 1; changing std_logits does
    out2 = dict(out, proto_logits=out["proto_logits"].detach() + 5.0)
    assert crit(out2, batch, 1)[1]["cls"].item() == pytest.approx(comp["cls"].item(), rel=1e-6)
    out3 = dict(out, std_logits=out["std_logits"].detach() + 1.0)
    assert crit(out3, batch, 1)[1]["cls"].item() != pytest.approx(comp["cls"].item(), rel=1e-3)
    with pytest.raises(ValueError, match="std_logits"):
        crit(dict(out, std_logits=None), batch, 1)
    with pytest.raises(ValueError, match="base_cls"):
        crit(out, dict(batch, base_cls=torch.tensor([0, NC_BASE, 1])), 1)
    with pytest.raises(ValueError, match="cls"):
        crit(out, dict(batch, cls=torch.tensor([0, C, 1])), 2)


def test_stage1_target_class_is_base_cls():
    """Raising the logit of the boxes' base class everywhere lowers the stage-1 cls loss less than another class."""
    out = _out(requires_grad=False)
    batch = _batch([[8, 8, 40, 40]], [0], [0], [3])
    crit = Criterion(LossWeights(bbox=0, cls=1, dfl=0, supcon=0, cpe=0, triplet=0)).eval()
    base = crit(out, batch, 1)[1]["cls"].item()
    up = out["std_logits"].clone()
    up[0, 3] = 8.0  # the true class fires at every anchor of frame 0
    other = out["std_logits"].clone()
    other[0, 1] = 8.0  # a wrong class fires everywhere
    assert crit(dict(out, std_logits=up), batch, 1)[1]["cls"].item() < crit(dict(out, std_logits=other), batch, 1)[1]["cls"].item()
    assert base > 0


def test_triplet_from_embeddings():
    crit = Criterion(stage_weights(3))
    a = torch.tensor([[1.0, 0.0], [0.0, 1.0]], requires_grad=True)
    p = torch.tensor([[0.0, 1.0], [0.0, 1.0]])
    n = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    total, comp = crit.triplet_from_embeddings(a, p, n)
    want = 0.2 * (math.sqrt(2) + 0.3 + 0.0) / 2
    assert total.item() == pytest.approx(want, rel=1e-5) and set(comp) == set(COMPONENTS)
    assert comp["triplet"].item() == pytest.approx(want, rel=1e-5) and comp["bbox"] == 0
    total.backward()
    assert torch.isfinite(a.grad).all() and a.grad.abs().sum() > 0
    crit.weights["triplet"] = 0.0
    total0, comp0 = crit.triplet_from_embeddings(a, p, n)
    total0.backward()
    assert total0.item() == 0.0 and comp0["triplet"] == 0


def test_criterion_plain_triplet_mode():
    out = _out()
    crit = Criterion(stage_weights(3), LossConfig(triplet_batch_hard=False, triplet_margin=2.0))
    total, comp = crit(out, _batch(*NORMAL), 3)
    total.backward()
    assert comp["triplet"] > 0 and out["prototypes"].grad.abs().sum() > 0 and _grads_finite(out)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_criterion_cuda_fp16_autocast():
    out = {k: (v.detach().cuda().half().requires_grad_(v.is_floating_point() and k not in
               ("anchor_points", "stride_tensor")) if isinstance(v, torch.Tensor) else v) for k, v in _out().items()}
    crit = Criterion(stage_weights(3))  # left on the CPU on purpose: it follows the outputs' device
    with torch.autocast("cuda", dtype=torch.float16):
        total, comp = crit(out, _batch(*NORMAL), 3)
    total.backward()
    assert total.dtype == torch.float32 and torch.isfinite(total) and _grads_finite(out)


# ----------------------------------------------------------------------------------------------------- overfit


def _square_scene(seed=0, s=128, r=56):
    """2 noise frames with the same two-colour square at different places; references = crops of that square."""
    rng = np.random.default_rng(seed)
    boxes = np.array([[24, 32, 72, 80], [56, 40, 104, 88]], np.float32)
    frames = rng.integers(0, 256, (2, s, s, 3), dtype=np.uint8)
    patch = np.zeros((48, 48, 3), np.uint8)
    patch[...] = (220, 30, 30)
    patch[12:36, 12:36] = (250, 230, 20)
    for f, b in zip(frames, boxes.astype(int)):
        f[b[1]:b[3], b[0]:b[2]] = patch
    crops = [frames[0][28:84, 20:76], frames[1][40:88, 56:104]]  # loose and tight crops
    support = torch.stack([F.interpolate(torch.from_numpy(np.ascontiguousarray(c)).permute(2, 0, 1)[None].float() / 255,
                                         size=(r, r), mode="bilinear", align_corners=False)[0] for c in crops])
    batch = {"query": torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255, "support": support[None],
             "bboxes": torch.from_numpy(boxes), "cls": torch.zeros(2, dtype=torch.long),
             "batch_idx": torch.arange(2), "base_cls": torch.zeros(2, dtype=torch.long)}
    return frames, boxes, batch


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_overfit_two_frames():
    """30 AdamW steps on 2 frames: the loss halves and predict() finds the square (IoU >= 0.5)."""
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the test box's cores are shared: one thread degrades least under contention
    try:
        _overfit_and_check()
    finally:
        torch.set_num_threads(threads)


def _overfit_and_check():
    from refdet_lib.model import build_refdet

    frames, boxes, batch = _square_scene()
    model = build_refdet(imgsz=128, support_size=56, nc_base=1, embed_dim=32, num_ref_tokens=4)
    crit = Criterion(stage_weights(2))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(30):
        total, _ = crit(model(batch["query"], batch["support"]), batch, 2)
        opt.zero_grad()
        total.backward()
        opt.step()
        losses.append(total.item())
    assert all(math.isfinite(x) for x in losses)
    assert losses[-1] <= 0.5 * losses[0], losses
    # 30 steps are too few for BatchNorm's running statistics to converge (momentum 0.03): recompute them exactly on
    # these frames, so eval mode (what predict uses) sees the statistics training saw
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None
    with torch.no_grad():
        model(batch["query"], batch["support"])
    model.set_references(batch["support"][0])
    dets = model.predict(list(frames), conf=0.0, max_det=1)
    for d, gt in zip(dets, boxes):
        assert len(d["boxes"]) == 1
        iou = bbox_iou(torch.from_numpy(d["boxes"]), torch.from_numpy(gt)[None], xywh=False).item()
        assert iou >= 0.5, (d, gt)
