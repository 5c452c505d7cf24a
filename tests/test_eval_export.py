"""Evaluation, video inference and ONNX export on a real (tiny) trained checkpoint."""
from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
from conftest import ROOT, paths

from refdet_lib.data import video_info
from refdet_lib.eval import evaluate_checkpoint
from refdet_lib.eval.inference import to_submission
from refdet_lib.model import load_model


class Oracle:
    """A detector that is always right (or, with `silent`, never answers): it recognises the video from its first
    reference photo and returns that video's ground-truth boxes frame by frame, in the order frames arrive."""

    def __init__(self, samples, anns, silent=False):
        from refdet_lib.data.annotations import list_reference_images
        from refdet_lib.ops import read_rgb

        self.refs = {v: read_rgb(list_reference_images(samples / v)[0]) for v in anns}
        self.anns, self.silent, self.video, self.frame = anns, silent, None, 0

    num_references = property(lambda self: int(self.video is not None))
    looks = {"tiles": 0, "tile_every": 1}  # model/interface.ReferenceDetector: the frame alone

    def set_references(self, images):
        self.video = next(v for v, r in self.refs.items() if np.array_equal(r, images[0]))
        self.frame = 0

    def clear_references(self):
        self.video = None

    def predict(self, frames, conf=0.25, iou=0.5, max_det=100, batch_size=16):
        out = []
        for _ in frames:
            b = np.zeros((0, 4), np.float32) if self.silent else self.anns[self.video].boxes.get(self.frame,
                                                                                                np.zeros((0, 4)))
            out.append({"boxes": np.asarray(b, np.float32), "scores": np.full(len(b), 0.9, np.float32),
                        "labels": np.zeros(len(b), np.int64)})
            self.frame += 1
        return out


def test_evaluation_of_a_perfect_and_of_a_silent_detector(tiny_root):
    """Every frame is scored at its own index: ground truth returned as predictions is a perfect score (AP 0.995 is
    ultralytics' 101-point integral of a perfect curve), and a detector that finds nothing scores 0, precision
    undefined."""
    from refdet_lib.data import validate_dataset
    from refdet_lib.eval import evaluate_model

    samples, ann = paths(tiny_root)
    anns, _ = validate_dataset(samples, ann)
    res = evaluate_model(Oracle(samples, anns), samples, ann, shots=(1, 3), progress=False, verbose=False)
    for r in res.values():
        assert r["overall"]["map50"] == pytest.approx(0.995) and r["mean_map50"] == pytest.approx(0.995)
        assert (r["overall"]["precision"], r["overall"]["recall"], r["mean_st_iou"]) == (1.0, 1.0, 1.0)
        assert r["overall"]["n_gt"] == sum(a.n_boxes for a in anns.values())
    r = evaluate_model(Oracle(samples, anns, silent=True), samples, ann, shots=(1,), progress=False,
                       verbose=False)["1-shot"]
    assert r["overall"]["map50"] == 0 and r["overall"]["recall"] == 0 and r["mean_st_iou"] == 0
    assert np.isnan(r["overall"]["precision"]) and r["overall"]["n_pred"] == 0


def test_evaluate_writes_metrics_and_plots(tiny_checkpoint, tiny_root, tmp_path, monkeypatch):
    from refdet_lib.eval import evaluate_videos

    samples, ann = paths(tiny_root)
    preds = {}
    res = evaluate_checkpoint(tiny_checkpoint, samples, ann, shots=(1, 3), out_dir=tmp_path / "ev",
                              progress=False, verbose=False, max_frames=8, predictions=preds)
    assert set(res) == {"1-shot", "3-shot"}
    for shot, r in res.items():
        assert len(r["per_video"]) == 3
        # the report is the metrics of the predictions the model made, every one of the first 8 frames scored
        p, g = preds[shot]
        assert all(sorted(p[v]) == list(range(8)) for v in p)
        again = evaluate_videos(p, g, conf=0.25)
        assert again["overall"]["map50"] == r["overall"]["map50"] and again["mean_st_iou"] == r["mean_st_iou"]
        assert r["overall"]["n_pred"] == sum(len(d["scores"]) for v in p.values() for d in v.values())
    saved = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert saved["3-shot"]["mean_st_iou"] == pytest.approx(res["3-shot"]["mean_st_iou"])
    for png in ("pr_curve.png", "st_iou_per_video.png", "examples.png"):
        assert cv2.imread(str(tmp_path / "ev" / png)) is not None
    # `refdet evaluate --imgsz`: the checkpoint is run at the size asked for, its own otherwise
    import refdet_lib.eval.evaluate as ev

    seen = []
    monkeypatch.setattr(ev, "evaluate_model", lambda model, *a, **kw: seen.append(model.config.imgsz) or {})
    evaluate_checkpoint(tiny_checkpoint, samples, ann)
    evaluate_checkpoint(tiny_checkpoint, samples, ann, imgsz=128)
    assert seen == [64, 128]  # the checkpoint's own size, then the one asked for


def test_cli_evaluate_prints_metrics(tiny_checkpoint, tiny_root, tmp_path):
    samples, ann = paths(tiny_root)
    r = subprocess.run([sys.executable, "-m", "refdet_lib.cli", "evaluate", "--checkpoint", str(tiny_checkpoint),
                        "--test_data_root", str(samples), "--test_annotations", str(ann), "--shots", "1",
                        "--out", str(tmp_path / "e")], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-2000:]
    for word in ("mAP@0.5", "recall", "ST-IoU"):
        assert word in r.stdout
    # precision is printed where there are detections; where there are none it says so, never "nan"
    assert ("precision" in r.stdout or "no detections" in r.stdout) and "nan" not in r.stdout


def test_predict_writes_playable_mp4_and_valid_json(tiny_checkpoint, tiny_root, tmp_path):
    samples, _ = paths(tiny_root)
    vdir = sorted(p for p in samples.iterdir() if p.is_dir())[0]
    refs = sorted((vdir / "object_images").glob("*.jpg"))
    r = subprocess.run([sys.executable, "-m", "refdet_lib.cli", "predict", "--checkpoint", str(tiny_checkpoint),
                        "--video", str(vdir / "drone_video.mp4"), "--references", *map(str, refs), "--conf", "0",
                        "--max_gap", "2", "--out", str(tmp_path / "p")], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "FPS" in r.stdout
    mp4 = tmp_path / "p" / f"{vdir.name}_pred.mp4"
    info, src = video_info(mp4), video_info(vdir / "drone_video.mp4")
    assert (info["frames"], info["width"], info["height"]) == (src["frames"], src["width"], src["height"])
    sub = json.loads((tmp_path / "p" / "submission.json").read_text())
    assert sub[0]["video_id"] == vdir.name
    # at conf 0 the untrained model's top box is reported on every frame (one box per frame)
    assert [b["frame"] for b in sub[0]["detections"][0]["bboxes"]] == list(range(src["frames"]))
    for d in sub[0]["detections"]:
        for b in d["bboxes"]:
            assert set(b) == {"frame", "x1", "y1", "x2", "y2"} and all(isinstance(v, int) for v in b.values())
            assert b["x1"] <= b["x2"] and 0 <= b["frame"] < src["frames"]


def test_submission_keeps_each_frames_top_box_as_integers():
    box = np.array([[10.4, 10.6, 20, 20]], np.float32)
    none = {"boxes": np.zeros((0, 4)), "scores": np.zeros(0)}
    dets = {0: {"boxes": np.concatenate([box + 50, box]), "scores": np.array([0.3, 0.9])}, 1: none,
            3: {"boxes": box + 2, "scores": np.array([0.1])}, 9: {"boxes": box, "scores": np.array([0.7])}}
    sub = to_submission("v", dets, conf=0.2)
    assert sub["video_id"] == "v"
    assert [b["frame"] for b in sub["detections"][0]["bboxes"]] == [0, 9]  # frame 3's box is below conf
    assert sub["detections"][0]["bboxes"][0] == {"frame": 0, "x1": 10, "y1": 11, "x2": 20, "y2": 20}  # the top one
    assert to_submission("v", {1: none}) == {"video_id": "v", "detections": []}


def test_onnx_two_graphs_parity_and_int8(tiny_checkpoint, tiny_root, tmp_path):
    from refdet_lib.export import OnnxRefDet, export_onnx, parity_check, quantize_int8

    model = load_model(tiny_checkpoint)
    paths_ = export_onnx(model, tmp_path / "onnx")
    par = parity_check(model, tmp_path / "onnx")
    assert max(par.values()) <= 1e-4, par
    import onnx
    det = onnx.load(str(paths_["detector"]))
    assert det.opset_import[0].version >= 17
    assert det.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    # a new target needs no re-export: the same detector graph serves other references
    samples, _ = paths(tiny_root)
    vids = sorted(p for p in samples.iterdir() if p.is_dir())
    refs = [cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB) for p in sorted((vids[0] / "object_images").glob("*.jpg"))]
    frame = np.zeros((180, 320, 3), np.uint8)
    ort = OnnxRefDet(tmp_path / "onnx")
    s1 = ort.set_references(refs).raw(np.zeros((1, 3, 64, 64), np.float32))[1]
    refs2 = [cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB) for p in sorted((vids[1] / "object_images").glob("*.jpg"))]
    s2 = ort.set_references(refs2).raw(np.zeros((1, 3, 64, 64), np.float32))[1]
    assert not np.allclose(s1, s2)
    model.set_references(refs2)
    pt = model.predict([frame], conf=0.0, max_det=5)[0]
    ox = ort.predict([frame], conf=0.0, max_det=5)[0]
    # the top detection agrees (an untrained model's near-zero scores and near-identical boxes make the NMS
    # decisions below it sensitive to float noise; the raw outputs are compared by parity_check above)
    np.testing.assert_allclose(pt["scores"][:1], ox["scores"][:1], atol=1e-6)
    np.testing.assert_allclose(pt["boxes"][:1], ox["boxes"][:1], atol=1e-2)
    q = quantize_int8(tmp_path / "onnx", calib_frames=[frame, frame + 60], calib_refs=refs2)
    qs = OnnxRefDet(tmp_path / "onnx", detector=q).set_references(refs2).raw(np.zeros((1, 3, 64, 64), np.float32))
    assert np.isfinite(qs[0]).all() and qs[1].shape == s2.shape
