"""Metrics: hand-computed cases, edge cases, and agreement with ultralytics' own AP / matching code."""
import json
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from ultralytics.engine.validator import BaseValidator
from ultralytics.utils.metrics import ap_per_class, compute_ap
from ultralytics.utils.metrics import box_iou as ul_box_iou

from refdet_lib.eval.metrics import (
    IOU_THRESHOLDS,
    average_precision,
    box_iou,
    detection_metrics,
    evaluate_videos,
    format_table,
    match_predictions,
    mean_st_iou,
    save_json,
    st_iou,
)

G = np.array([10.0, 10.0, 30.0, 30.0])  # a 20x20 gt box


def shifted(box, dx):
    """`box` moved right by dx pixels; for a 20-wide box IoU = (20-dx)/(20+dx)."""
    return np.asarray(box, dtype=float) + np.array([dx, 0, dx, 0])


def pred(boxes, scores):
    b = np.asarray(boxes, dtype=float)
    return {"boxes": b[None] if b.ndim == 1 else b, "scores": np.asarray(scores, dtype=float)}


def random_frames(rng, n_frames=12):
    """Frames with 0-3 gts and 0-5 predictions: jittered copies of gts (some good, some poor) and random boxes."""
    preds, gts = {}, {}
    for f in range(n_frames):
        xy = rng.uniform(0, 200, (rng.integers(0, 4), 2))
        g = np.concatenate([xy, xy + rng.uniform(10, 60, xy.shape)], 1)
        if len(g) or rng.random() < 0.5:
            gts[f] = g
        boxes = [gi + rng.normal(0, rng.choice([1, 4, 10]), 4) for gi in g for _ in range(rng.integers(0, 3))]
        boxes += [np.r_[c, c + rng.uniform(10, 60, 2)] for c in rng.uniform(0, 200, (rng.integers(0, 2), 2))]
        b = np.array(boxes).reshape(-1, 4)
        if len(b) or rng.random() < 0.5:
            preds[f] = pred(b, rng.uniform(0.01, 1, len(b)))
    return preds, gts


# ------------------------------------------------------------------------------------------------------ box_iou
def test_box_iou_hand_values_and_ultralytics():
    a = np.array([G, [0, 0, 0, 0]])
    b = np.array([shifted(G, 10), G, [100, 100, 120, 120], [0, 0, 0, 0]])
    iou = box_iou(a, b)
    assert iou.shape == (2, 4)
    np.testing.assert_allclose(iou[0], [200 / 600, 1.0, 0.0, 0.0])
    np.testing.assert_allclose(iou[1], 0.0)  # degenerate boxes: 0, not NaN
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 100, (20, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(1, 50, (20, 2))], 1)
    ref = ul_box_iou(torch.tensor(boxes[:7]), torch.tensor(boxes[7:]), eps=0).numpy()
    np.testing.assert_allclose(box_iou(boxes[:7], boxes[7:]), ref, atol=1e-6)  # ultralytics computes in float32
    from refdet_lib.ops.boxes import best_iou  # a candidate's cover test: its best IoU with any target, 0 for none

    np.testing.assert_allclose(best_iou(b, a), [200 / 600, 1.0, 0.0, 0.0])
    assert best_iou(b, np.zeros((0, 4))).tolist() == [0.0] * 4 and best_iou(np.zeros((0, 4)), a).shape == (0,)


# -------------------------------------------------------------------------------------------- match_predictions
def test_match_duplicate_is_false_positive_and_thresholds_per_column():
    # a loose box (IoU 17.5/22.5 = .778) outscores an exact copy: it takes the gt at thresholds .50-.75, and the
    # copy is then a duplicate (FP); from .80 up the loose box misses, so the copy gets the gt.
    tp = match_predictions([shifted(G, 2.5), G], [0.9, 0.8], [G], IOU_THRESHOLDS)
    assert tp.shape == (2, 10) and tp.dtype == bool
    assert tp[0].tolist() == [True] * 6 + [False] * 4  # 0.50 .. 0.75 <= 0.778
    assert tp[1].tolist() == [False] * 6 + [True] * 4  # gt free again once the first box misses the threshold
    assert tp.sum(0).max() == 1  # never two TPs for one gt


def test_match_is_in_score_order_without_fall_back():
    # g1 = G, g2 = G moved 8 px. A = G (IoU g1 1, g2 .43); B = G moved 3 px (IoU g1 .739, g2 .6): both favour g1.
    # The higher-scored one takes g1; the other is a false positive (ultralytics does not fall back to g2).
    g = [G, shifted(G, 8)]
    boxes, scores = [G, shifted(G, 3)], [0.9, 0.5]
    assert match_predictions(boxes, scores, g)[:, 0].tolist() == [True, False]
    assert match_predictions(boxes[::-1], scores[::-1], g)[:, 0].tolist() == [False, True]  # by score, not position
    assert match_predictions(boxes, [0.5, 0.9], g)[:, 0].tolist() == [False, True]
    with pytest.raises(ValueError, match="2 boxes but 1 scores"):
        match_predictions(boxes, [0.5], g)


def test_match_equals_ultralytics_validator_on_random_frames():
    """The wrapper hands ultralytics its IoU matrix the right way round (gts x predictions), in score order."""
    rng = np.random.default_rng(1)
    validator = SimpleNamespace(iouv=torch.linspace(0.5, 0.95, 10))  # the only attribute the method reads
    n_tp = n_fp = 0
    for _ in range(60):
        preds, gts = random_frames(rng, 1)
        p = preds.get(0, pred(np.zeros((0, 4)), []))
        g = np.asarray(gts.get(0, np.zeros((0, 4)))).reshape(-1, 4)
        order = np.argsort(-p["scores"])  # ultralytics receives NMS output, sorted by score
        boxes, scores = p["boxes"][order], p["scores"][order]
        ours = match_predictions(boxes, scores, g, IOU_THRESHOLDS)
        iou = ul_box_iou(torch.tensor(g), torch.tensor(boxes), eps=0)  # (M, N) labels x detections
        ref = BaseValidator.match_predictions(validator, torch.zeros(len(boxes)), torch.zeros(len(g)), iou).numpy()
        np.testing.assert_array_equal(ours, ref)
        n_tp, n_fp = n_tp + ours.sum(), n_fp + (~ours).sum()
    assert n_tp > 50 and n_fp > 50  # the random frames exercise both outcomes


# --------------------------------------------------------------------------------------------- average_precision
def test_average_precision_hand_values():
    # ranked TP, FP, TP with 2 gts: recall .5 .5 1, precision 1 .5 2/3 -> envelope 1 up to recall .5, then 2/3.
    r, p = np.array([0.5, 0.5, 1.0]), np.array([1.0, 0.5, 2 / 3])
    # interp: trapezoid over x = 0, .01, .., 1 of [1]*50 (x<.5), 2/3 for .5<=x<1, 0 at x=1 (the sentinel)
    assert average_precision(r, p) == pytest.approx(0.01 * (0.5 + 49 + 50 * 2 / 3 + 0))
    # perfect: ultralytics' quirk 0.995
    assert average_precision([1.0], [1.0]) == pytest.approx(0.995)
    assert average_precision([], []) == 0.0
    with pytest.raises(ValueError, match="differ"):
        average_precision(r, p[:2])


def test_average_precision_equals_ultralytics_compute_ap():
    rng = np.random.default_rng(2)
    for _ in range(20):
        tp = rng.random(rng.integers(1, 40)) < 0.6
        r = tp.cumsum() / max(tp.sum() + rng.integers(0, 5), 1)
        p = tp.cumsum() / np.arange(1, len(tp) + 1)
        assert average_precision(r, p) == pytest.approx(compute_ap(r, p)[0], abs=1e-12)


# -------------------------------------------------------------------------------------------- detection_metrics
def test_perfect_predictions():
    gts = {0: G[None], 1: np.zeros((0, 4)), 2: np.array([G, shifted(G, 100)])}
    preds = {k: pred(v, np.linspace(0.9, 0.8, len(v))) for k, v in gts.items()}
    m = detection_metrics(preds, gts)
    assert (m["precision"], m["recall"], m["f1"]) == (1.0, 1.0, 1.0)
    assert m["map50"] == pytest.approx(0.995) and m["map50_95"] == pytest.approx(0.995)
    assert (m["n_gt"], m["n_pred"], m["n_pred_conf"]) == (3, 3, 3)


def test_one_hit_one_miss():
    gts = {0: G[None], 1: shifted(G, 50)[None]}  # frame 1 has no predictions at all
    m = detection_metrics({0: pred(G, [0.7])}, gts)
    assert m["recall"] == 0.5 and m["precision"] == 1.0 and m["f1"] == pytest.approx(2 / 3)
    # curve: (r .5, p 1) then ultralytics' sentinel (1, 0); the envelope is 1 on [0, .5] then the straight line
    # down to 0 at r=1, which the 101-point trapezoid integrates exactly: .5 + .25
    assert m["map50"] == pytest.approx(0.75)


def test_false_positive_ranked_above_true_positive():
    gts = {1: G[None], 2: np.zeros((0, 4)), 3: shifted(G, 40)[None]}
    preds = {1: pred(G, [0.9]), 2: pred(G, [0.8]), 3: pred(shifted(G, 40), [0.7])}  # TP 0.9, FP 0.8, TP 0.7
    m = detection_metrics(preds, gts, conf=0.75)
    assert m["map50"] == pytest.approx(0.01 * (0.5 + 49 + 50 * 2 / 3))  # see test_average_precision_hand_values
    np.testing.assert_allclose(m["pr_recall"], [0.5, 0.5, 1.0])
    np.testing.assert_allclose(m["pr_precision"], [1.0, 0.5, 2 / 3])
    np.testing.assert_allclose(m["pr_scores"], [0.9, 0.8, 0.7])
    assert (m["precision"], m["recall"], m["f1"], m["n_pred_conf"]) == (0.5, 0.5, 0.5, 2)  # TP + FP kept
    m = detection_metrics(preds, gts, conf=0.5)
    assert m["precision"] == pytest.approx(2 / 3) and m["recall"] == 1.0 and m["f1"] == pytest.approx(0.8)


def test_map50_95_counts_thresholds_the_box_passes():
    m = detection_metrics({0: pred(shifted(G, 2.5), [0.6])}, {0: G[None]})  # IoU .778: TP at .50 .. .75
    np.testing.assert_allclose(m["ap"], [0.995] * 6 + [0.0] * 4)
    assert m["map50_95"] == pytest.approx(0.995 * 6 / 10)


def test_undefined_values_are_nan():
    no_gt = detection_metrics({0: pred(G, [0.9])}, {0: np.zeros((0, 4))})
    assert math.isnan(no_gt["map50"]) and math.isnan(no_gt["recall"]) and no_gt["precision"] == 0.0
    no_pred = detection_metrics({}, {0: G[None]})
    assert no_pred["map50"] == 0.0 and no_pred["recall"] == 0.0 and math.isnan(no_pred["precision"])
    assert no_pred["f1"] == 0.0 and no_pred["n_pred"] == 0


def test_bad_input_names_the_frame():
    with pytest.raises(ValueError, match=r"preds\[7\].*shape"):
        detection_metrics({7: pred(np.zeros((2, 3)), [0.1, 0.2])}, {})
    with pytest.raises(ValueError, match=r"preds\[7\].*1 boxes but 2 scores"):
        detection_metrics({7: {"boxes": G[None], "scores": [0.1, 0.2]}}, {})
    with pytest.raises(ValueError, match=r"gts\[3\]"):
        detection_metrics({}, {3: [1, 2, 3]})
    with pytest.raises(ValueError, match=r"preds\[1\].*scores"):
        detection_metrics({1: {"boxes": G[None]}}, {})


def test_map_equals_ultralytics_ap_per_class():
    rng = np.random.default_rng(3)
    for _ in range(15):
        preds, gts = random_frames(rng)
        m = detection_metrics(preds, gts)
        tp, conf, n_gt = [], [], 0
        for f in range(12):  # the same tp matrix, built frame by frame
            p = preds.get(f, pred(np.zeros((0, 4)), []))
            g = gts.get(f, np.zeros((0, 4)))
            tp.append(match_predictions(p["boxes"], p["scores"], g, IOU_THRESHOLDS))
            conf.append(p["scores"])
            n_gt += len(g)
        tp, conf = np.concatenate(tp), np.concatenate(conf)
        if n_gt == 0:
            assert math.isnan(m["map50"])
            continue
        ap = ap_per_class(tp, conf, np.zeros(len(conf)), np.zeros(n_gt))[5]  # (1, 10)
        assert m["map50"] == pytest.approx(ap[0, 0], abs=1e-6)
        assert m["map50_95"] == pytest.approx(ap[0].mean(), abs=1e-6)


def test_mean_map50_over_videos_equals_ultralytics_per_class_map():
    """Each video's target as its own class: mean_map50 is ultralytics' mAP@0.5 over classes; the pooled figure
    differs when one video's scores run higher than another's."""
    rng = np.random.default_rng(5)
    preds, gts = {}, {}
    for v, (lo, hi) in enumerate([(0.6, 1.0), (0.1, 0.5), (0.3, 0.9)]):  # calibrations differ between videos
        p, g = random_frames(rng)
        gts[f"v{v}"] = {f: b for f, b in g.items() if len(b)}
        preds[f"v{v}"] = {f: pred(x["boxes"], lo + (hi - lo) * np.asarray(x["scores"])) for f, x in p.items()}
    r = evaluate_videos(preds, gts)
    tp, conf, pcls, tcls = [], [], [], []
    for v, vid in enumerate(gts):
        for f in range(12):
            p = preds[vid].get(f, pred(np.zeros((0, 4)), []))
            g = gts[vid].get(f, np.zeros((0, 4)))
            tp.append(match_predictions(p["boxes"], p["scores"], g, IOU_THRESHOLDS))
            conf.append(p["scores"])
            pcls.append(np.full(len(p["scores"]), v))
            tcls.append(np.full(len(g), v))
    ap = ap_per_class(np.concatenate(tp), np.concatenate(conf), np.concatenate(pcls), np.concatenate(tcls))[5]
    assert r["mean_map50"] == pytest.approx(ap[:, 0].mean(), abs=1e-6)
    assert r["mean_map50"] == pytest.approx(np.mean([m["map50"] for m in r["per_video"].values()]), abs=1e-9)
    assert abs(r["overall"]["map50"] - r["mean_map50"]) > 1e-3


# ------------------------------------------------------------------------------------------------------ ST-IoU
def test_st_iou_perfect_and_partial_frames():
    gts = {0: G[None], 1: G[None], 2: G[None]}
    assert st_iou({k: pred(v, [0.5]) for k, v in gts.items()}, gts) == pytest.approx(1.0)
    # frame 0 only in gt, 3 only in pred, 1 IoU 1, 2 IoU 1/3 (dx=10): (1 + 1/3) / 4 frames
    preds = {1: pred(G, [0.9]), 2: pred(shifted(G, 10), [0.9]), 3: pred(G, [0.9])}
    assert st_iou(preds, gts) == pytest.approx((1 + 1 / 3) / 4)


def test_st_iou_edge_cases():
    assert st_iou({}, {}) == 0.0  # empty video
    assert st_iou({0: pred(np.zeros((0, 4)), [])}, {0: np.zeros((0, 4))}) == 0.0  # empty entries = nothing
    assert st_iou({}, {0: G[None], 1: G[None]}) == 0.0  # no predictions
    assert st_iou({0: pred(G, [0.9])}, {}) == 0.0  # predictions but no gt
    # only the top-scoring box counts, even when a lower-scored one fits better
    assert st_iou({0: pred([shifted(G, 10), G], [0.9, 0.4])}, {0: G[None]}) == pytest.approx(1 / 3)
    # a bare (4,) box per frame is accepted; several unscored boxes are ambiguous
    assert st_iou({0: G, 1: shifted(G, 10)}, {0: G[None], 1: G}) == pytest.approx((1 + 1 / 3) / 2)
    with pytest.raises(ValueError, match=r"preds\[0\].*without scores"):
        st_iou({0: np.array([G, G])}, {0: G[None]})
    # conf drops boxes before choosing: frame 1's only box is below conf -> a miss
    preds = {0: pred([G, shifted(G, 10)], [0.1, 0.6]), 1: pred(G, [0.2])}
    assert st_iou(preds, {0: G[None], 1: G[None]}, conf=0.25) == pytest.approx((1 / 3) / 2)


def test_mean_st_iou():
    assert mean_st_iou({"a": 1.0, "b": 0.0, "c": 0.5}) == pytest.approx(0.5)
    assert mean_st_iou({"a": {"st_iou": 0.2}, "b": {"st_iou": 0.4}}) == pytest.approx(0.3)
    with pytest.raises(ValueError, match="no videos"):
        mean_st_iou({})


# ------------------------------------------------------------------------------------------ videos, table, json
def two_videos():
    gt = {"Backpack_0": {0: G[None], 1: G[None]}, "Person_1": {5: shifted(G, 30)[None], 6: np.zeros((0, 4))}}
    preds = {"Backpack_0": {0: pred(G, [0.9]), 1: pred(G, [0.8])}}  # Person_1: nothing predicted
    return preds, gt


def test_evaluate_videos():
    preds, gt = two_videos()
    res = evaluate_videos(preds, gt)
    bp, pe = res["per_video"]["Backpack_0"], res["per_video"]["Person_1"]
    assert (bp["precision"], bp["recall"], bp["st_iou"]) == (1.0, 1.0, 1.0)
    assert bp["map50"] == pytest.approx(0.995)
    assert pe["recall"] == 0.0 and pe["map50"] == 0.0 and pe["st_iou"] == 0.0 and math.isnan(pe["precision"])
    assert res["mean_st_iou"] == pytest.approx(0.5)
    o = res["overall"]
    assert (o["n_gt"], o["n_pred"], o["recall"], o["precision"]) == (3, 2, pytest.approx(2 / 3), 1.0)
    # the same frame index in two videos is two frames once pooled
    res2 = evaluate_videos({"a": {0: pred(G, [0.9])}, "b": {0: pred(G, [0.9])}}, {"a": {0: G}, "b": {}})
    assert (res2["overall"]["n_pred"], res2["overall"]["precision"]) == (2, 0.5)


def test_evaluate_videos_errors_name_the_video():
    preds, gt = two_videos()
    with pytest.raises(ValueError, match="Backpak_0"):
        evaluate_videos({"Backpak_0": {}}, gt)
    preds["Backpack_0"][1] = pred(np.zeros((1, 5)), [0.3])
    with pytest.raises(ValueError, match=r"'Backpack_0'.*preds\[1\]"):
        evaluate_videos(preds, gt)
    with pytest.raises(ValueError, match="empty"):
        evaluate_videos({}, {})


def test_format_table_and_save_json(tmp_path):
    preds, gt = two_videos()
    res = evaluate_videos(preds, gt)
    table = format_table(res)
    lines = table.splitlines()
    assert "mAP50" in lines[1] and "ST-IoU" in lines[1]
    row = {ln.split()[0]: ln.split() for ln in lines if ln.split() and ln.split()[0] in ("Backpack_0", "Person_1", "all")}
    assert set(row) == {"Backpack_0", "Person_1", "all"}
    assert row["Person_1"][3] == "-"  # NaN precision
    assert row["all"][-1] == "0.500"  # mean ST-IoU
    assert lines[-1].startswith("mAP50 averaged over videos") and f"{res['mean_map50']:.3f}" in lines[-1]
    path = save_json(res, tmp_path / "out" / "metrics.json")
    data = json.loads(path.read_text())
    assert data["per_video"]["Person_1"]["precision"] is None
    assert data["overall"]["map50"] == pytest.approx(res["overall"]["map50"])
    assert data["overall"]["pr_scores"] == [0.9, 0.8] and isinstance(data["overall"]["n_gt"], int)
    assert len(data["overall"]["ap"]) == 10
