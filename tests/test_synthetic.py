"""The synthetic drone-video generator: format, determinism, boxes that cover the drawn object, disjoint splits."""
import json

import cv2
import numpy as np
import pytest
import yaml
from conftest import ROOT

from refdet_lib.data import synthetic as S
from refdet_lib.data.annotations import parse_annotations, validate_dataset

W, H, N = 320, 180, 24
SIZE = (12, 40)


def _ident(name, hue, shape="box", texture="solid"):
    # strong, non-ground hues so colour can tell the object from fields, roads and trees
    return S.ObjectIdentity(name=name, shape=shape, primary=S._hsv_to_rgb(hue, 0.9, 0.9),
                            secondary=S._hsv_to_rgb(hue, 0.9, 0.7), texture=texture, aspect=0.7)


IDENTS = [_ident("Backpack_0", 300), _ident("Helmet_0", 225, "ellipse"), _ident("Jacket_0", 190, "cross")]


def _read_video(path):
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(f, cv2.COLOR_BGR2RGB))
    cap.release()
    return frames


def _gen(out, **kw):
    args = dict(n_videos=3, n_frames=N, seed=3, width=W, height=H, identities=IDENTS, n_distractors=2,
                split="any", object_size=SIZE)
    args.update(kw)
    return S.generate_dataset(out, **args)


@pytest.fixture(scope="module")
def small_ds(tmp_path_factory):
    return _gen(tmp_path_factory.mktemp("synth") / "ds")


def test_format_and_schema(small_ds):
    ann_file = small_ds / "annotations" / "annotations.json"
    raw = json.loads(ann_file.read_text())
    assert [e["video_id"] for e in raw] == [i.name for i in IDENTS]
    anns, summary = validate_dataset(small_ds / "samples", ann_file, min_refs=3)   # the library's own checks
    assert summary.videos == 3 and summary.boxes > 0
    for entry in raw:
        vdir = small_ds / "samples" / entry["video_id"]
        refs = sorted(p.name for p in (vdir / "object_images").iterdir())
        assert refs == ["img_1.jpg", "img_2.jpg", "img_3.jpg"]
        for p in (vdir / "object_images").iterdir():
            img = cv2.imread(str(p))
            assert img is not None and 120 <= min(img.shape[:2]) and max(img.shape[:2]) <= 220
        frames = _read_video(vdir / "drone_video.mp4")
        assert len(frames) == N and frames[0].shape == (H, W, 3)
        assert 1 <= len(entry["annotations"]) <= 3, entry["video_id"]
        for interval in entry["annotations"]:
            fr = [b["frame"] for b in interval["bboxes"]]
            assert fr == list(range(fr[0], fr[0] + len(fr)))          # one interval = consecutive frames
            for b in interval["bboxes"]:
                assert set(b) == {"frame", "x1", "y1", "x2", "y2"}
                assert all(type(b[k]) is int for k in b)
                assert 0 <= b["frame"] < len(frames)
                assert 0 <= b["x1"] < b["x2"] <= W and 0 <= b["y1"] < b["y2"] <= H


def test_target_colour_dominates_inside_box(small_ds):
    """End to end on the decoded mp4: the target's hue fills its box and is rare around it."""
    anns = parse_annotations(small_ds / "annotations" / "annotations.json")
    for ident in IDENTS:
        frames = _read_video(small_ds / "samples" / ident.name / "drone_video.mp4")
        inside, ring = [], []
        for f, boxes in anns[ident.name].boxes.items():
            hsv = cv2.cvtColor(frames[f].astype(np.float32) / 255, cv2.COLOR_RGB2HSV)
            dh = np.abs((hsv[..., 0] - ident.hue + 180) % 360 - 180)
            hit = (dh < 25) & (hsv[..., 1] > 0.35)
            x1, y1, x2, y2 = boxes[0].astype(int)
            w, h = x2 - x1, y2 - y1
            big = np.zeros_like(hit)
            big[max(y1 - h, 0):y2 + h, max(x1 - w, 0):x2 + w] = True
            big[y1:y2, x1:x2] = False
            inside.append(hit[y1:y2, x1:x2].mean())
            ring.append(hit[big].mean() if big.any() else 0.0)
        assert np.mean(inside) > 0.3, ident.name
        assert np.mean(inside) > 4 * np.mean(ring), ident.name


def test_box_is_tight_box_of_visible_object_pixels():
    scene = S.make_video_scene(IDENTS[0], IDENTS[1:], N, W, H, seed=[5, 0], object_size=SIZE)
    n_boxed = 0
    for fr in scene.frames():
        b = fr.box(1)
        mask = fr.labels == 1
        if b is None:
            assert fr.visible[1] < 0.3 or mask.sum() < 4
            continue
        n_boxed += 1
        ys, xs = np.nonzero(mask)
        ref = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
        ix = max(0, min(b[2], ref[2]) - max(b[0], ref[0])) * max(0, min(b[3], ref[3]) - max(b[1], ref[1]))
        union = (b[2] - b[0]) * (b[3] - b[1]) + (ref[2] - ref[0]) * (ref[3] - ref[1]) - ix
        assert ix / union >= 0.9
        # the masked pixels are where the object was drawn: its hue, not the ground's
        hsv = cv2.cvtColor(fr.image.astype(np.float32) / 255, cv2.COLOR_RGB2HSV)
        dh = np.abs((hsv[..., 0] - IDENTS[0].hue + 180) % 360 - 180)
        assert ((dh < 25) & (hsv[..., 1] > 0.35))[mask].mean() > 0.6
    assert 0 < n_boxed < N          # visible for a stretch, hidden for another


def test_object_size_range():
    lo, hi = SIZE
    sides = []
    for k, ident in enumerate(IDENTS):
        scene = S.make_video_scene(ident, [], N, W, H, seed=[11, k], object_size=SIZE)
        for fr in scene.frames():
            b = fr.box(1)
            if b is None or fr.visible[1] < 0.97 or b[0] == 0 or b[1] == 0 or b[2] == W or b[3] == H:
                continue
            sides.append(max(b[2] - b[0], b[3] - b[1]))
    assert sides, "no fully visible target"
    assert lo - 2 <= min(sides) and max(sides) <= hi + 2


def test_deterministic_for_a_seed(tmp_path, small_ds):
    again = _gen(tmp_path / "again")
    a = (small_ds / "annotations" / "annotations.json").read_bytes()
    assert (again / "annotations" / "annotations.json").read_bytes() == a
    vid = IDENTS[1].name
    fa = _read_video(small_ds / "samples" / vid / "drone_video.mp4")
    fb = _read_video(again / "samples" / vid / "drone_video.mp4")
    assert len(fa) == len(fb) and all(np.array_equal(x, y) for x, y in zip(fa, fb))
    ref = f"samples/{vid}/object_images/img_2.jpg"
    assert (small_ds / ref).read_bytes() == (again / ref).read_bytes()
    other = _gen(tmp_path / "other", seed=4, n_videos=1)
    assert json.loads((other / "annotations" / "annotations.json").read_text())[0] != json.loads(a)[0]


def test_distractors_are_other_identities(small_ds):
    meta = S.load_meta(small_ds)
    for v in meta["videos"]:
        assert len(v["distractors"]) == 2
        assert all(d.appearance != v["target"].appearance for d in v["distractors"])
    with pytest.raises(ValueError, match="appearance"):
        S.make_video_scene(IDENTS[0], [IDENTS[0]], N, W, H, seed=0)


def test_train_and_test_identities_disjoint(tmp_path):
    train = S.sample_identities(8, 0, split="train")
    test = S.sample_identities(4, 1000, exclude=train, split="test")
    assert len({i.appearance for i in train}) == 8 and len({i.name for i in train + test}) == 12
    assert not {i.shape for i in train} & {i.shape for i in test}
    bins = lambda ids: {int(((i.hue + 15) % 360) // 30) for i in ids}  # noqa: E731
    assert not bins(train) & bins(test)
    # whole generated splits, distractors included
    a = S.generate_dataset(tmp_path / "tr", n_videos=2, n_frames=8, seed=0, width=160, height=96, n_refs=1,
                           split="train", style="simple")
    ta = S.load_meta(a)
    seen = [v["target"] for v in ta["videos"]] + [d for v in ta["videos"] for d in v["distractors"]]
    b = S.generate_dataset(tmp_path / "te", n_videos=2, n_frames=8, seed=1000, width=160, height=96, n_refs=1,
                           split="test", exclude=seen, style="simple")
    tb = S.load_meta(b)
    used = [v["target"] for v in tb["videos"]] + [d for v in tb["videos"] for d in v["distractors"]]
    assert not {i.appearance for i in seen} & {i.appearance for i in used}
    assert not {i.shape for i in seen} & {i.shape for i in used}
    assert not {v["video_id"] for v in ta["videos"]} & {v["video_id"] for v in tb["videos"]}


def test_write_base_set(tmp_path):
    yml = S.write_base_set(tmp_path / "base", n_images=6, n_classes=3, imgsz=128, seed=0)
    data = yaml.safe_load(yml.read_text())
    assert len(data["names"]) == 3
    n_boxes = 0
    for sub in ("train", "val"):
        imgs = sorted((tmp_path / "base" / "images" / sub).glob("*.jpg"))
        assert imgs
        for p in imgs:
            assert cv2.imread(str(p)).shape == (128, 128, 3)
            for line in (tmp_path / "base" / "labels" / sub / (p.stem + ".txt")).read_text().split("\n"):
                if not line:
                    continue
                c, *xywh = line.split()
                assert 0 <= int(c) < 3 and all(0 < float(v) <= 1 for v in xywh)
                n_boxes += 1
    assert n_boxes >= 6


def test_bad_input(tmp_path, small_ds):
    with pytest.raises(ValueError, match="n_frames"):
        S.generate_dataset(tmp_path / "x", n_frames=1)
    with pytest.raises(FileExistsError, match="overwrite"):
        S.generate_dataset(small_ds, n_videos=1, n_frames=4, overwrite=False)
    with pytest.raises(ValueError, match="unknown shape"):
        S.ObjectIdentity("X_0", "blob", (1, 0, 0), (0, 0, 0), "solid", 0.5)


def test_training_set_avoids_the_test_identities_and_is_reused(tmp_path, capsys):
    """A bigger train split for the learning benchmark: none of the avoided dataset's identities (targets or
    distractors) comes back, and a second call with the same settings reuses the files."""
    from refdet_lib.cli import main

    test_ids = S.seen_identities(ROOT / "data_samples" / "test")
    assert len(test_ids) >= 8
    out = S.make_training_set(tmp_path / "tr", avoid=[ROOT / "data_samples" / "test"], n_videos=3, n_frames=3)
    made = S.seen_identities(out)
    assert {i.appearance for i in made}.isdisjoint(i.appearance for i in test_ids)
    test_bins = set(range(3, S.HUE_BINS, 2))  # the realistic test split's hue bins: never a training identity's
    assert all(i.style == "realistic" and not (max(i.primary) - min(i.primary) > 0.1 and
                                               round(i.hue / 30) % S.HUE_BINS in test_bins) for i in made)
    stamp = (out / "annotations" / "annotations.json").stat().st_mtime_ns
    S.make_training_set(tmp_path / "tr", avoid=[ROOT / "data_samples" / "test"], n_videos=3, n_frames=3)
    assert (out / "annotations" / "annotations.json").stat().st_mtime_ns == stamp
    # the same from the command line
    assert main(["synth", str(tmp_path / "cli"), "--videos", "2", "--frames", "3", "--avoid",
                 str(ROOT / "data_samples" / "test")]) == 0
    assert {i.appearance for i in S.seen_identities(tmp_path / "cli")}.isdisjoint(i.appearance for i in test_ids)
    assert main(["synth", str(tmp_path / "bad"), "--avoid", str(tmp_path / "nowhere")]) == 2
    assert "synth_meta.json" in capsys.readouterr().err


def test_training_set_object_size_is_drawn_and_part_of_its_settings(tmp_path, capsys):
    """make_training_set(object_size=...) (make weights OBJECT_SIZE=): the boxes stay in the range, the settings
    stamp records it, so a set drawn at other sizes is never reused for it; refdet weights refuses a bad range."""
    from refdet_lib.cli import main

    avoid = [ROOT / "data_samples" / "test"]
    out = S.make_training_set(tmp_path / "tr", avoid=avoid, n_videos=2, n_frames=6, object_size=(8, 14))
    sides = [max(b[2] - b[0], b[3] - b[1]) for v in parse_annotations(out / "annotations" / "annotations.json").values()
             for bs in v.boxes.values() for b in bs]
    assert sides and max(sides) <= 14 + 2
    assert json.loads((out / "training_set.json").read_text())["object_size"] == [8.0, 14.0]
    stamp = (out / "annotations" / "annotations.json").stat().st_mtime_ns
    S.make_training_set(tmp_path / "tr", avoid=avoid, n_videos=2, n_frames=6)  # the default sizes: drawn anew
    assert (out / "annotations" / "annotations.json").stat().st_mtime_ns != stamp
    assert "object_size" not in json.loads((out / "training_set.json").read_text())
    assert main(["weights", "--object_size", "40", "8", "--work", str(tmp_path / "w")]) == 2
    assert "--object_size" in capsys.readouterr().err


def test_more_novel_videos_for_a_larger_test_set(tmp_path):
    """split="test": more videos of novel objects (test-split hues, none of data_samples/test's identities), which
    the learning benchmark scores beside data_samples/test."""
    avoid = [ROOT / "data_samples" / "test"]
    out = S.make_training_set(tmp_path / "nv", avoid=avoid, n_videos=2, n_frames=3, seed=3000, split="test")
    made = S.seen_identities(out)
    chromatic = [i for i in made if max(i.primary) - min(i.primary) > 0.1]
    assert chromatic and all(round(i.hue / 30) % S.HUE_BINS in range(3, S.HUE_BINS, 2) for i in chromatic)
    assert {i.appearance for i in made}.isdisjoint(i.appearance for i in S.seen_identities(avoid[0]))
    train = [i for i in S.seen_identities(ROOT / "data_samples" / "train") if max(i.primary) - min(i.primary) > 0.1]
    train_hues = {round(i.hue / 30) % S.HUE_BINS for i in train}
    targets = [v["target"] for v in S.load_meta(out)["videos"]]
    assert train_hues.isdisjoint(round(i.hue / 30) % S.HUE_BINS for i in targets)


@pytest.mark.slow
def test_make_data_samples_reproduces_the_committed_annotations(tmp_path):
    """`make_data_samples` is the one command that made data_samples/: run again, it writes the committed
    annotations and generator metadata exactly, and the reference photos up to one level of rounding (measured:
    on a Zen 3 EPYC one of 37 photos differs by 1 at a few pixels from the ones made on AVX-512 machines)."""
    out = S.make_data_samples(tmp_path / "ds")
    for split in ("train", "test"):
        for rel in ("annotations/annotations.json", S.META_NAME):
            assert (out / split / rel).read_text() == (ROOT / "data_samples" / split / rel).read_text(), (split, rel)
        mine = sorted((out / split / "samples").glob("*/object_images/*.jpg"))
        theirs = sorted((ROOT / "data_samples" / split / "samples").glob("*/object_images/*.jpg"))
        assert [p.relative_to(out / split) for p in mine] == [p.relative_to(ROOT / "data_samples" / split)
                                                              for p in theirs]
        for a, b in zip(mine, theirs):  # the same photo; a pixel may differ by one level where the rendering's
            if a.read_bytes() != b.read_bytes():  # float maths rounds otherwise on another CPU's SIMD width
                x, y = (cv2.imread(str(f)).astype(np.int16) for f in (a, b))
                d = np.abs(x - y)
                assert x.shape == y.shape and d.max() <= 2 and d.mean() < 0.01, (a, int(d.max()), float(d.mean()))
