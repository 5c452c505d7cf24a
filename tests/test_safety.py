"""Safe by default (issue 31): no file runs code when loaded, a damaged or diverged model is refused by name, a
dataset reads and writes only inside its folders, a run never silently replaces another."""
from __future__ import annotations

import os

import pytest
import torch

from conftest import paths
from refdet_lib.cli import main
from test_failsafe import one_line


class _RunsCode:
    """Pickles as a call of os.system: what a hostile .pt holds (torch.load(weights_only=False) would run it)."""

    def __init__(self, cmd: str):
        self.cmd = cmd

    def __reduce__(self):
        return os.system, (self.cmd,)


def hostile_pt(path, marker) -> None:
    """A file that looks like a RefDet checkpoint and writes `marker` when unpickled."""
    torch.save({"model_state_dict": {"w": torch.zeros(1)}, "config": {"model": {"imgsz": 64}},
                "payload": _RunsCode(f"touch {marker}")}, path)


@pytest.mark.parametrize("argv", [
    ["predict", "--checkpoint", "{evil}", "--video", "{mp4}", "--references", "{jpg}", "--out", "{tmp}/out"],
    ["evaluate", "--checkpoint", "{evil}", "--test_data_root", "{samples}", "--test_annotations", "{ann}"],
    ["export", "--checkpoint", "{evil}", "--out", "{tmp}/onnx"],
    ["calibrate", "--checkpoint", "{evil}", "--data_root", "{samples}", "--annotations", "{ann}"],
    ["train", "--resume", "{evil}", "--data_root", "{samples}", "--annotations", "{ann}", "--epochs", "1",
     "--imgsz", "64", "--support_size", "56", "--checkpoint_dir", "{tmp}/run"],
    ["train", "--yolo_weights", "{evil}", "--data_root", "{samples}", "--annotations", "{ann}", "--epochs", "1",
     "--imgsz", "64", "--support_size", "56", "--checkpoint_dir", "{tmp}/run"],
], ids=["predict", "evaluate", "export", "calibrate", "resume", "yolo_weights"])
def test_a_checkpoint_that_runs_code_is_refused_without_running_it(argv, tiny_root, tmp_path, capsys):
    samples, ann = paths(tiny_root)
    vdir = sorted(p for p in samples.iterdir() if p.is_dir())[0]
    marker, evil = tmp_path / "pwned", tmp_path / "best_model.pt"
    hostile_pt(evil, marker)
    f = dict(evil=evil, samples=samples, ann=ann, tmp=tmp_path, mp4=vdir / "drone_video.mp4",
             jpg=sorted((vdir / "object_images").glob("*.jpg"))[0])
    assert main([a.format(**f) for a in argv]) in (1, 2)
    err = capsys.readouterr().err
    assert not marker.exists(), "the checkpoint's pickle ran"
    assert "system" in err and "refused" in err and one_line(err), err


def test_the_trust_path_is_for_ultralytics_checkpoints_only_and_says_so(tmp_path):
    """yolov8n.pt pickles whole modules: loaded fully, with a one-line warning, once its imports are module classes;
    a plain state dict needs no trust (weights_only=True) and gets no warning."""
    import warnings

    from ultralytics.nn.tasks import DetectionModel

    from refdet_lib.model.backbone import read_yolo_checkpoint

    det = DetectionModel("yolov8n.yaml", verbose=False)
    torch.save({"model": det.half()}, tmp_path / "yolov8n.pt")
    with pytest.warns(UserWarning, match=r"trusted as ultralytics' yolov8n.pt.*weights_only=False") as rec:
        sd = read_yolo_checkpoint(tmp_path / "yolov8n.pt")
    assert len([w for w in rec if "trusted" in str(w.message)]) == 1 and "model.0.conv.weight" in sd
    torch.save(det.float().state_dict(), tmp_path / "plain.pt")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_yolo_checkpoint(tmp_path / "plain.pt").keys() == sd.keys()


def test_own_checkpoints_load_with_weights_only_and_old_ones_through_an_exact_allow_list(tiny_checkpoint,
                                                                                          tmp_path):
    import numpy as np

    from refdet_lib.model.loading import COURSE_WEIGHTS, load_checkpoint
    from refdet_lib.train.checkpoint import atomic_save, rng_state, set_rng_state

    for name in ("best_model.pt", "last.pt"):  # no allow-list at all: plain types only
        torch.load(tiny_checkpoint.parent / name, weights_only=True)
    ck = load_checkpoint(COURSE_WEIGHTS)  # committed before: its torch version is a TorchVersion, allowed by name
    assert ck["course_weights"]["torch"]
    last = torch.load(tiny_checkpoint.parent / "last.pt", weights_only=True)
    last["rng_state"]["numpy"] = np.random.get_state()  # as last.pt held it before: a numpy array
    torch.save(last, tmp_path / "old_last.pt")
    set_rng_state(load_checkpoint(tmp_path / "old_last.pt")["rng_state"])
    np.random.seed(4)
    st = rng_state()
    a = np.random.rand(3)
    set_rng_state(st)
    assert (np.random.rand(3) == a).all()
    from pathlib import Path
    last["extra"] = {"torch": torch.__version__, "where": Path("/x"), "n": np.float32(2.5)}
    atomic_save(last, tmp_path / "new.pt")  # plain types are stored
    assert torch.load(tmp_path / "new.pt", weights_only=True)["extra"] == {"torch": str(torch.__version__),
                                                                            "where": "/x", "n": 2.5}


def test_non_finite_weights_are_never_saved_nor_loaded_and_lr_inf_is_refused(tiny_root, tiny_checkpoint, tmp_path,
                                                                              capsys):
    from refdet_lib.errors import CheckpointError
    from refdet_lib.train.checkpoint import atomic_save

    ck = torch.load(tiny_checkpoint, weights_only=True)
    key = next(k for k, v in ck["model_state_dict"].items() if v.is_floating_point())
    ck["model_state_dict"][key] = ck["model_state_dict"][key].clone().fill_(float("nan"))
    out = tmp_path / "nan.pt"
    out.write_bytes(b"old")
    with pytest.raises(CheckpointError, match=r"nan.pt: not saved: 1 of \d+ weight tensors hold NaN or inf"):
        atomic_save(ck, out)
    assert out.read_bytes() == b"old"  # the file already there is left as it was
    torch.save(ck, out)
    assert main(["export", "--checkpoint", str(out), "--out", str(tmp_path / "onnx")]) == 1
    err = capsys.readouterr().err
    assert f"{out}: 1 of" in err and "NaN or inf" in err and key in err and one_line(err), err
    samples, ann = paths(tiny_root)
    for flag, v in (("--lr", "inf"), ("--lr", "nan"), ("--weight_decay", "nan"), ("--triplet_ratio", "nan")):
        assert main(["train", "--data_root", str(samples), "--annotations", str(ann), flag, v,
                     "--checkpoint_dir", str(tmp_path / "run")]) == 2
        err = capsys.readouterr().err
        assert f"{flag} must be a finite number" in err and one_line(err), err
    assert not (tmp_path / "run").exists()


def test_a_manifest_beside_a_checkpoint_is_checked(tiny_checkpoint, tmp_path, capsys):
    import json
    import shutil

    from refdet_lib.model.loading import load_checkpoint, sha256

    ck = tmp_path / "model.pt"
    shutil.copy(tiny_checkpoint, ck)
    (tmp_path / "model.json").write_text(json.dumps({"file": "model.pt", "sha256": sha256(ck)}))
    load_checkpoint(ck)
    data = bytearray(ck.read_bytes())
    data[len(data) // 2] ^= 0x01  # one flipped byte inside a weight
    ck.write_bytes(bytes(data))
    assert main(["export", "--checkpoint", str(ck), "--out", str(tmp_path / "onnx")]) == 1
    err = capsys.readouterr().err
    assert f"{ck} was altered or truncated" in err and "model.json records" in err and one_line(err), err


def test_a_run_folder_holding_a_run_is_refused_unless_continued_or_replaced(tiny_root, tiny_checkpoint, tmp_path,
                                                                            capsys):
    from refdet_lib.train.run_folder import check_run_folder

    samples, ann = paths(tiny_root)
    run = tiny_checkpoint.parent
    before = {p.name: p.stat().st_mtime_ns for p in run.iterdir()}
    assert main(["train", "--data_root", str(samples), "--annotations", str(ann), "--epochs", "1", "--imgsz", "64",
                 "--support_size", "56", "--checkpoint_dir", str(run)]) == 2
    err = capsys.readouterr().err
    assert f"--checkpoint_dir {run} already holds a run (best_model.pt" in err and "--exist_ok" in err, err
    assert one_line(err) and {p.name: p.stat().st_mtime_ns for p in run.iterdir()} == before
    check_run_folder(run, resume=str(run / "last.pt"))  # continuing it
    check_run_folder(run, exist_ok=True)  # replacing it, said so
    check_run_folder(tmp_path / "new")
    from refdet_lib.train.recipes import small_configs
    assert small_configs(tmp_path / "nb")[2].exist_ok  # notebooks re-run their cells into the same folder on purpose


def test_two_trainings_never_share_a_folder_and_a_stale_lock_is_taken_over(tiny_root, tmp_path, capsys):
    from refdet_lib.train.run_folder import run_lock

    samples, ann = paths(tiny_root)
    run = tmp_path / "run"
    with run_lock(run) as lock:
        assert lock.read_text().split()[0] == str(os.getpid())
        assert main(["train", "--data_root", str(samples), "--annotations", str(ann), "--epochs", "1", "--imgsz",
                     "64", "--support_size", "56", "--checkpoint_dir", str(run), "--exist_ok"]) == 2
        err = capsys.readouterr().err
        assert f"is in use by another training (PID {os.getpid()}" in err and one_line(err), err
    assert not run.exists()  # released, and the empty folder it made is gone
    run.mkdir()
    (run / ".lock").write_text("999999999 somehost\n")  # left by a run killed with kill -9
    with run_lock(run) as lock:
        assert lock.read_text().split()[0] == str(os.getpid())


def _edit_annotations(ann, fn):
    import json

    data = json.loads(ann.read_text())
    fn(data)
    ann.write_text(json.dumps(data))


def test_a_video_id_must_name_a_folder_inside_data_root(tiny_copy, tmp_path, capsys):
    from refdet_lib.data import DatasetError, RefDetDataset
    from refdet_lib.data.video import FrameCache

    samples, ann = paths(tiny_copy)
    outside = tmp_path / "outside"
    first = sorted(p for p in samples.iterdir() if p.is_dir())[0]
    import shutil
    shutil.copytree(first, outside)  # a real video there: only the id's form may refuse it

    def escape(data):
        data[0]["video_id"] = "../../outside"
        data[1]["video_id"] = str(outside)
    _edit_annotations(ann, escape)
    assert main(["validate", str(samples), str(ann)]) == 1
    out = capsys.readouterr().out
    assert "video_id '../../outside' is a path" in out and f"video_id {str(outside)!r} is a path" in out, out
    with pytest.raises(DatasetError, match="is a path"):
        RefDetDataset(samples, ann, cache_dir=str(tmp_path / "cache"))
    with pytest.raises(ValueError, match=r"video_id '\.\.' is not a folder name"):
        FrameCache(tmp_path / "cache").prepare("..", first / "drone_video.mp4", [0], 64)
    assert not (tmp_path / "cache").exists()


def test_duplicate_boxes_a_bom_an_empty_dataset_and_a_long_problem_list(tiny_copy, tmp_path, capsys):
    samples, ann = paths(tiny_copy)
    raw = ann.read_bytes()
    ann.write_bytes(b"\xef\xbb\xbf" + raw)  # a UTF-8 BOM, as Windows editors write
    assert main(["validate", str(samples), str(ann)]) == 0
    ann.write_bytes(raw)

    def dup(data):
        b = data[0]["annotations"][0]["bboxes"]
        b.append(dict(b[0]))
    _edit_annotations(ann, dup)
    assert main(["validate", str(samples), str(ann)]) == 1
    assert "duplicate box" in capsys.readouterr().out

    def many(data):
        data[0]["annotations"][0]["bboxes"] = [{"frame": i, "x1": 5, "y1": 5, "x2": 1, "y2": 9} for i in range(500)]
    _edit_annotations(ann, many)
    assert main(["validate", str(samples), str(ann)]) == 1
    out = capsys.readouterr().out
    assert "500 problem(s)" in out and "... and 450 more" in out and len(out.splitlines()) < 60

    empty = tmp_path / "empty"
    (empty / "samples").mkdir(parents=True)
    (empty / "annotations.json").write_text("[]")
    assert main(["validate", str(empty / "samples"), str(empty / "annotations.json")]) == 1
    out = capsys.readouterr().out
    assert "holds no video" in out and "OK" not in out


def _predict_files(root):
    samples, _ = paths(root)
    vdir = sorted(p for p in samples.iterdir() if p.is_dir())[0]
    return vdir, vdir / "drone_video.mp4", sorted((vdir / "object_images").glob("*.jpg"))


@pytest.mark.parametrize("flags, text", [
    (["--conf", "1.5"], "--conf is a score threshold between 0 and 1 (got 1.5)"),
    (["--conf", "-1"], "--conf is a score threshold between 0 and 1 (got -1)"),
    (["--conf", "nan"], "--conf must be a finite number"),
    (["--iou", "5"], "--iou is an overlap between 0 and 1 (got 5)"),
    (["--max_gap", "-3"], "--max_gap is a number of frames, 0 or more (got -3)"),
    (["--device", "mps"], "--device mps: expected auto, cpu, cuda or cuda:N"),
    (["--device", "meta"], "--device meta: expected auto, cpu, cuda or cuda:N"),
])
def test_out_of_range_flags_and_devices_are_one_line(flags, text, tiny_root, tiny_checkpoint, tmp_path, capsys):
    _, mp4, jpgs = _predict_files(tiny_root)
    assert main(["predict", "--checkpoint", str(tiny_checkpoint), "--video", str(mp4), "--references", str(jpgs[0]),
                 "--out", str(tmp_path / "out")] + flags) == 2
    err = capsys.readouterr().err
    assert text in err and one_line(err), err
    assert not (tmp_path / "out").exists()


def test_predict_names_outputs_after_the_resolved_video(tiny_copy, tiny_checkpoint, monkeypatch, capsys):
    import json

    vdir, _, jpgs = _predict_files(tiny_copy)
    monkeypatch.chdir(vdir)  # `refdet predict --video drone_video.mp4` typed in the video's own folder
    for video in ("drone_video.mp4", "object_images/../drone_video.mp4"):
        assert main(["predict", "--checkpoint", str(tiny_checkpoint), "--video", video,
                     "--references", str(jpgs[0])]) == 0, capsys.readouterr().err
        out = vdir / "runs" / "predict" / vdir.name
        assert (out / f"{vdir.name}_pred.mp4").is_file()
        assert json.loads((out / "submission.json").read_text())[0]["video_id"] == vdir.name
    assert sorted(p.name for p in out.iterdir()) == sorted(["submission.json", f"{vdir.name}_pred.mp4"])  # no tmp


def test_references_a_folder_of_photos_and_a_one_pixel_photo(tiny_root, tiny_checkpoint, tmp_path, capsys):
    import cv2
    import numpy as np

    vdir, mp4, jpgs = _predict_files(tiny_root)
    argv = ["predict", "--checkpoint", str(tiny_checkpoint), "--video", str(mp4), "--out", str(tmp_path / "out")]
    assert main(argv + ["--references", str(vdir / "object_images")]) == 0, capsys.readouterr().err
    capsys.readouterr()
    (tmp_path / "none").mkdir()
    assert main(argv + ["--references", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err
    assert "is a folder with no image files" in err and "does not exist" not in err and one_line(err), err
    cv2.imwrite(str(tmp_path / "dot.png"), np.zeros((1, 1, 3), np.uint8))
    assert main(argv + ["--references", str(jpgs[0]), str(tmp_path / "dot.png")]) == 0
    err = capsys.readouterr().err
    assert f"warning: --references {tmp_path / 'dot.png'} is 1x1 px" in err, err


def test_outputs_are_proven_writable_before_the_video_is_run(tiny_root, tiny_checkpoint, tmp_path, capsys):
    _, mp4, jpgs = _predict_files(tiny_root)
    base = ["predict", "--checkpoint", str(tiny_checkpoint), "--references", str(jpgs[0]), "--video", str(mp4)]
    (tmp_path / "file").write_text("x")
    assert main(base + ["--out", str(tmp_path / "file" / "out")]) == 2  # under a file: cannot be made
    err = capsys.readouterr().err
    assert f"--out {tmp_path / 'file' / 'out'} cannot be created" in err and "frame/s" not in err, err
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o555)
    if not os.access(ro, os.W_OK):  # (root writes anywhere)
        assert main(base + ["--out", str(ro)]) == 2
        err = capsys.readouterr().err
        assert f"--out {ro} is not writable" in err and one_line(err) and not list(ro.iterdir()), err


def test_a_video_the_mp4_writer_refuses_and_a_name_too_long_fail_before_inference(tiny_root, tiny_checkpoint,
                                                                                   tmp_path, capsys):
    import shutil

    import cv2
    import numpy as np

    _, mp4, jpgs = _predict_files(tiny_root)
    base = ["predict", "--checkpoint", str(tiny_checkpoint), "--references", str(jpgs[0])]
    thin = tmp_path / "thin.avi"  # 1 px high: OpenCV reads it, mp4v cannot write it
    w = cv2.VideoWriter(str(thin), cv2.VideoWriter_fourcc(*"MJPG"), 25, (64, 1))
    for _ in range(5):
        w.write(np.full((1, 64, 3), 128, np.uint8))
    w.release()
    assert main(base + ["--video", str(thin), "--out", str(tmp_path / "o1")]) == 2
    err = capsys.readouterr().err
    assert "the mp4 writer refuses a 64x1 video" in err and one_line(err), err
    assert list((tmp_path / "o1").iterdir()) == []
    long = tmp_path / ("v" * 250 + ".mp4")
    shutil.copy(mp4, long)
    assert main(base + ["--video", str(long), "--out", str(tmp_path / "o2")]) == 2
    err = capsys.readouterr().err
    assert "is 259 bytes, over the file system's 255" in err and one_line(err), err


def test_an_edited_or_truncated_onnx_export_is_one_line(tiny_root, tiny_checkpoint, tmp_path, capsys):
    import json
    import shutil

    _, mp4, jpgs = _predict_files(tiny_root)
    good = tmp_path / "onnx"
    assert main(["export", "--checkpoint", str(tiny_checkpoint), "--out", str(good)]) == 0
    capsys.readouterr()

    def truncated(d):
        f = d / "detector.onnx"
        f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])

    def garbage(d):
        (d / "reference_encoder.onnx").write_bytes(b"not a protobuf" * 100)

    def no_imgsz(d):
        meta = json.loads((d / "export.json").read_text())
        del meta["imgsz"]
        (d / "export.json").write_text(json.dumps(meta))

    for name, damage in (("truncated", truncated), ("garbage", garbage), ("no_imgsz", no_imgsz)):
        d = tmp_path / name
        shutil.copytree(good, d)
        damage(d)
        assert main(["predict", "--onnx", str(d), "--video", str(mp4), "--references", str(jpgs[0]), "--out",
                     str(tmp_path / "out")]) == 2, name
        err = capsys.readouterr().err
        assert f"--onnx {d} is not a usable export" in err and one_line(err), err


def test_an_edited_model_config_a_binary_log_and_synth_into_a_dataset(tiny_checkpoint, tmp_path, capsys):
    from refdet_lib.train.history import append_experiment

    ck = torch.load(tiny_checkpoint, weights_only=True)
    ck["config"]["model"]["imgsz"] = "160"
    torch.save(ck, tmp_path / "edited.pt")
    assert main(["export", "--checkpoint", str(tmp_path / "edited.pt"), "--out", str(tmp_path / "onnx")]) == 1
    err = capsys.readouterr().err
    assert "config.model.imgsz is '160' (str): a int is expected" in err and one_line(err), err

    log = tmp_path / "experiments.csv"
    log.write_bytes(bytes(range(256)) * 4)
    append_experiment(tmp_path, {"run": "r", "stage": 2})  # a finished run is not failed by its summary log
    err = capsys.readouterr().err
    assert f"warning: {log} is not a CSV text file" in err and log.read_bytes() == bytes(range(256)) * 4

    out = tmp_path / "ds"
    (out / "samples").mkdir(parents=True)
    assert main(["synth", str(out), "--videos", "1", "--frames", "2"]) == 2
    err = capsys.readouterr().err
    assert "--overwrite replaces it" in err and "overwrite=True" not in err and one_line(err), err


def test_every_entry_point_applies_the_offline_settings_first():
    """A script that imports ultralytics (or timm, albumentations) before refdet_lib lets it write its settings
    outside the project (YOLO_CONFIG_DIR is set by refdet_lib._env)."""
    import ast

    from conftest import ROOT

    late = []
    for f in sorted(p for d in ("benchmarks", "tools", "exercises", "solutions") for p in (ROOT / d).rglob("*.py")):
        order = [m.split(".")[0] for n in ast.parse(f.read_text()).body
                 for m in ([a.name for a in n.names] if isinstance(n, ast.Import) else
                           [n.module or ""] if isinstance(n, ast.ImportFrom) else [])]
        first = next((i for i, m in enumerate(order) if m in ("ultralytics", "timm", "albumentations")), None)
        if first is not None and "refdet_lib" not in order[:first]:
            late.append(f.relative_to(ROOT))
    assert late == []
    assert os.access(ROOT / "benchmarks" / "gpu_check.sh", os.X_OK)
