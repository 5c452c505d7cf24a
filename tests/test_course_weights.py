"""The course weights: packed small (float16, no optimizer), checked against their manifest on every load, the
committed file finds novel objects out of the box (`refdet predict` with no checkpoint), and fine-tuning them (the
demo's run) lowers the training loss."""
from __future__ import annotations

import json
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

from conftest import ROOT
from refdet_lib.config import VerifierConfig
from refdet_lib.errors import CheckpointError
from refdet_lib.model import COURSE_WEIGHTS, Decision, build_verifier, course_weights, load_model, with_verifier
from refdet_lib.model.loading import load_checkpoint, manifest_path
from refdet_lib.train.course_weights import MAX_MB, pack_course_weights
from refdet_lib.train.verifier import save_refdet

COMMITTED = COURSE_WEIGHTS.exists()
needs_weights = pytest.mark.skipif(not COMMITTED, reason="models/refdet_course.pt not made yet (make weights)")


@pytest.fixture(scope="module")
def packed(tiny_root, tmp_path_factory):
    """A 1-epoch model with the course's siamese reference encoder (the DINOv2 ViT alone is 44 MB in float16: the
    course weights do not carry it), its verifier and a decision, packed."""
    from conftest import paths
    from refdet_lib.config import DataConfig, ModelConfig, TrainConfig, stage_weights
    from refdet_lib.train.run import run_training

    d = tmp_path_factory.mktemp("course")
    samples, ann = paths(tiny_root)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_training(DataConfig(data_root=str(samples), annotations=str(ann), n_way=2, n_query=2, n_episodes=1,
                                num_workers=0, cache_dir=str(d / "cache")),
                     ModelConfig(imgsz=64, support_size=32, reference_encoder="siamese"),
                     TrainConfig(epochs=1, checkpoint_dir=str(d / "run")), stage_weights(2), verbose=False)
        ckpt = d / "run" / "last.pt"
        model = with_verifier(ckpt, build_verifier(VerifierConfig(crop_size=32, width=8, top_k=5)))
    model.decision = Decision(a=1.2, b=3.0, c=-1.0, threshold=0.3, frame_threshold=0.4)
    full = save_refdet(model, ckpt, d / "refdet.pt")
    return full, pack_course_weights(full, d / "models" / "refdet_course.pt", {"note": "test"}), model


def test_packed_weights_are_float16_small_and_load_to_the_same_model(packed):
    full, small, model = packed
    ck = load_checkpoint(small)
    assert "optimizer_state_dict" not in ck and ck["decision"]["threshold"] == 0.3
    floats = [v for v in ck["model_state_dict"].values() if v.is_floating_point()]
    assert floats and all(v.dtype == torch.float16 for v in floats)
    assert small.stat().st_size < full.stat().st_size  # float16 and no optimizer state
    man = json.loads(manifest_path(small).read_text())
    assert man["bytes"] == small.stat().st_size and man["note"] == "test" and len(man["sha256"]) == 64
    back = load_model(course_weights(small))
    assert back.decision == model.decision and back.verifier is not None
    for k, v in model.state_dict().items():  # float32 again, within float16 rounding of the trained weights
        if v.is_floating_point():
            torch.testing.assert_close(back.state_dict()[k], v.half().float(), rtol=0, atol=0)


def test_missing_or_altered_weights_say_so(packed, tmp_path):
    _, small, _ = packed
    with pytest.raises(CheckpointError, match="course weights not found.*make weights"):
        course_weights(tmp_path / "refdet_course.pt")
    bad = tmp_path / "models" / "refdet_course.pt"
    bad.parent.mkdir()
    data = bytearray(small.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte
    bad.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="manifest|refdet_course.json"):
        course_weights(bad)  # no manifest beside it
    manifest_path(bad).write_text(manifest_path(small).read_text())
    with pytest.raises(CheckpointError, match="altered or truncated.*git checkout"):
        course_weights(bad)


@needs_weights
def test_committed_course_weights_match_their_manifest_and_card():
    man = json.loads(manifest_path(COURSE_WEIGHTS).read_text())
    assert COURSE_WEIGHTS.stat().st_size <= MAX_MB * 2 ** 20
    course_weights()  # sha256 as recorded
    card = (COURSE_WEIGHTS.parent / "README.md").read_text()
    assert man["sha256"] in card and "make weights" in card
    f = man["figures"]["data_samples/test"]["verifier_track"]
    assert f"| {f['map50']:.3f} |" in card and f"| {f['st_iou']:.3f} |" in card
    # trained on generated train-split identities, never on data_samples/test's
    assert "data_samples/test" in man["train_set"]["avoid"][0] and man["train_set"].get("split", "train") == "train"


@needs_weights
@pytest.mark.slow
def test_predict_without_a_checkpoint_marks_the_novel_object(tmp_path):
    """`refdet predict` with only a video and three photos: the course weights, verifier, tracker and calibrated
    threshold find a data_samples/test object (never trained on) where it is, and report little where it is not."""
    from refdet_lib.data import parse_annotations
    from refdet_lib.ops.boxes import box_iou

    test = ROOT / "data_samples" / "test"
    anns = parse_annotations(test / "annotations" / "annotations.json")
    man = json.loads(manifest_path(COURSE_WEIGHTS).read_text())
    # the video the card reports best found (the demo shows the same one); the CLI must reproduce that figure
    vid, per = max(man["per_video"].items(), key=lambda kv: kv[1]["st_iou"])
    assert per["recall"] >= 0.5, man["per_video"]  # the weights find at least one novel object most of the time
    vdir = test / "samples" / vid
    refs = sorted((vdir / "object_images").glob("*.jpg"))[:3]
    r = subprocess.run([sys.executable, "-m", "refdet_lib.cli", "predict", "--video", str(vdir / "drone_video.mp4"),
                        "--references", *map(str, refs), "--out", str(tmp_path / "p")], capture_output=True,
                       text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "course weights" in r.stdout and "tracked, verified" in r.stdout
    boxes = {b["frame"]: np.array([[b["x1"], b["y1"], b["x2"], b["y2"]]], np.float32)
             for d in json.loads((tmp_path / "p" / "submission.json").read_text())[0]["detections"]
             for b in d["bboxes"]}
    truth = anns[vid].boxes
    hits = sum(f in boxes and box_iou(boxes[f], truth[f]).max() >= 0.5 for f in truth)
    wrong = sum(f not in truth for f in boxes)
    assert hits >= 0.5 * len(truth) and abs(hits / len(truth) - per["recall"]) <= 0.1, (hits, len(truth), per)
    assert wrong <= 0.25 * len(boxes), (wrong, len(boxes))


@needs_weights
@pytest.mark.slow
def test_fine_tuning_the_course_weights_lowers_the_training_loss(tmp_path, capsys):
    """The demo's fine-tune (two epochs at its size, the guide's 1e-4 from trained weights) goes down, not up. The
    decision comes along, and the run says how to refit it for the new weights: the command it prints works."""
    import shlex

    from refdet_lib.cli import main
    from refdet_lib.cli.demo import finetune_configs
    from refdet_lib.train.run import run_training

    data, model, train, weights = finetune_configs(tmp_path / "ft", epochs=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tr = run_training(data, model, train, weights, verbose=True)
    h = [r["train_loss"] for r in tr.history.rows]
    assert len(h) == 2 and h[1] < h[0], h
    start = json.loads(manifest_path(COURSE_WEIGHTS).read_text())["decision"]
    assert load_checkpoint(tmp_path / "ft" / "last.pt")["decision"] == start  # the calibrated decision came along
    hint = [ln for ln in capsys.readouterr().out.splitlines() if ln.strip().startswith("refdet calibrate")]
    assert len(hint) == 1, "the fine-tune should say how to refit its decision"
    argv = shlex.split(hint[0])[1:] + ["--out", str(tmp_path / "cal.pt"), "--device", "cpu"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(argv + ["--videos", "1", "--frames", "10"]) == 2  # Backpack_0's first frames: nothing to fit
        assert "nothing to fit the decision on" in capsys.readouterr().err
        assert main(argv + ["--videos", "3", "--frames", "30"]) == 0
    refit = load_checkpoint(tmp_path / "cal.pt")["decision"]
    assert refit["b"] > 0 and refit != start  # fitted anew for the fine-tuned weights, the verifier's cosine in it


def test_scaled_recipe_scales_the_budget_and_sets_the_frame_size_not_the_windows():
    """`make weights MINUTES=60 IMGSZ=1280`: the budgets sum to 60 minutes, the frames are 1280 px while the windows a
    step trains on stay the recipe's (a step costs the same), and the learning recipe itself is left as it was."""
    from refdet_lib.train.course_weights import scaled_recipe
    from refdet_lib.train.recipes import LEARNING

    r = scaled_recipe(60, imgsz=1280)
    assert abs(sum(r["minutes"].values()) - 60) < 1e-9
    assert r["detector"]["imgsz"] == 1280 and r["detector"]["train_crop"] == LEARNING["detector"]["train_crop"]
    assert r["detector"]["epochs"] > LEARNING["detector"]["epochs"]  # a longer budget raises the ceiling
    assert LEARNING["detector"]["imgsz"] == 640 and scaled_recipe(None)["detector"] == LEARNING["detector"]


@needs_weights
@pytest.mark.slow
def _clip(src, dst, n):
    """The first n frames of the video `src`, written as a real mp4 at `dst`."""
    import cv2

    cap = cv2.VideoCapture(str(src))
    frames = [cap.read()[1] for _ in range(n)]
    cap.release()
    dst.parent.mkdir(parents=True)
    w = cv2.VideoWriter(str(dst), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, frames[0].shape[1::-1])
    for f in frames:
        w.write(f)
    w.release()
    return dst


def test_calibrate_at_another_imgsz_stores_it_and_predict_infers_at_it(tmp_path):
    """Small objects: `refdet calibrate --imgsz N` refits the decision for frames shown at N px and stores N, so
    `refdet predict` with that checkpoint infers at N; `predict --imgsz` overrides the size of any checkpoint."""
    train = ROOT / "data_samples" / "train"
    cal = tmp_path / "cal.pt"
    r = subprocess.run([sys.executable, "-m", "refdet_lib.cli", "calibrate", "--checkpoint", str(COURSE_WEIGHTS),
                        "--imgsz", "704", "--data_root", str(train / "samples"), "--annotations",
                        str(train / "annotations" / "annotations.json"), "--videos", "2", "--frames", "12",
                        "--out", str(cal)], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-2000:]
    ckpt = load_checkpoint(cal)
    assert ckpt["config"]["model"]["imgsz"] == 704 and load_model(cal).config.imgsz == 704
    assert ckpt["decision"] != load_checkpoint(COURSE_WEIGHTS)["decision"]  # fitted anew at that size
    vdir = sorted(p for p in (train / "samples").iterdir() if p.is_dir())[0]
    refs = [str(p) for p in sorted((vdir / "object_images").glob("*.jpg"))[:3]]
    clip = _clip(vdir / "drone_video.mp4", tmp_path / "clip" / "drone_video.mp4", 6)  # the size is what is checked
    for extra, size in (([], 704), (["--imgsz", "384"], 384)):
        r = subprocess.run([sys.executable, "-m", "refdet_lib.cli", "predict", "--checkpoint", str(cal), "--video",
                            str(clip), "--references", *refs, "--out", str(tmp_path / "p"),
                            *extra], capture_output=True, text=True, cwd=ROOT)
        assert r.returncode == 0, r.stderr[-2000:]
        assert f"(imgsz {size})" in r.stdout, r.stdout


def test_the_card_says_what_the_weights_start_from_and_is_written_from_the_manifest():
    """A recipe with the ImageNet backbone and the cue in the verifier's config is described as such; the per-video
    table comes from the manifest, so `refresh_card` rewrites the card without scoring again."""
    from refdet_lib.train.course_weights import card

    man = json.loads(manifest_path(COURSE_WEIGHTS).read_text())
    man.pop("refit", None)
    man["recipe"]["detector"]["backbone"] = "mobilenetv2"
    man["recipe"]["verifier"]["config"] = {"cues": ["mobilenetv2"]}
    man["per_video_table"] = "conf = 0.12\nvideo  GT\nall    316"
    text = card(man, {})
    assert "query backbone is the ImageNet MobileNetV2" in text and "ImageNet MobileNetV2 backbone" in text
    assert "as a cue (mobilenetv2" in text and "stage 2, from random init" not in text
    assert "Per video on data_samples/test" in text and "all    316" in text
    man["recipe"]["detector"].pop("backbone")
    assert "YOLOv8n-RefDet from random initialisation" in card(man, {})
