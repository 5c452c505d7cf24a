"""The dataset format end to end: validation errors, frame cache, dataset API, sampling, augmentation, collate."""
from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
from conftest import ROOT, paths

from refdet_lib.config import AugmentConfig
from refdet_lib.data import (
    DECODE_STATS,
    Augmenter,
    DatasetError,
    EpisodeCollator,
    EpisodeDataset,
    EpisodeSampler,
    RefDetDataset,
    TripletDataset,
    TripletSampler,
    iter_frames,
    mixed_schedule,
    read_frame,
    validate_dataset,
)
from refdet_lib.ops import (
    boxes_from_letterbox,
    boxes_to_letterbox,
    letterbox,
    letterbox_crop,
)


# ---------------------------------------------------------------------------------------------- validation
def test_clean_dataset_validates(tiny_root):
    anns, summary = validate_dataset(*paths(tiny_root))
    assert summary.videos == 3 and summary.boxes > 0
    assert summary.frames_total == 3 * 24
    assert "box size" in str(summary) and "video_id" in str(summary)


def _load(root):
    return json.loads(paths(root)[1].read_text())


def _save(root, data):
    paths(root)[1].write_text(json.dumps(data) if not isinstance(data, str) else data)


def _first_box(data):
    return data[0]["annotations"][0]["bboxes"][0]


def _problems(root):
    with pytest.raises(DatasetError) as e:
        validate_dataset(*paths(root))
    return e.value.problems, str(e.value)


def test_invalid_json_names_file_and_position(tiny_copy):
    _save(tiny_copy, '[{"video_id": "x", ')
    probs, msg = _problems(tiny_copy)
    assert "invalid JSON" in msg and "annotations.json" in msg and "line 1" in msg


@pytest.mark.parametrize("breaker, field, text", [
    (lambda b: b.pop("x2"), "x2", "missing key 'x2'"),
    (lambda b: b.update(y1="ten"), "y1", "must be a finite number"),
    (lambda b: b.update(x1=b["x2"]), "x1", "x1"),
    (lambda b: b.update(y2=b["y1"] - 1), "y1", "y1"),
    (lambda b: b.update(x2=10_000), "x2", "outside the frame"),
    (lambda b: b.update(frame=10_000), "frame", "beyond the video's length"),
])
def test_each_bad_box_names_video_frame_field(tiny_copy, breaker, field, text):
    data = _load(tiny_copy)
    b = _first_box(data)
    frame, vid = b["frame"], data[0]["video_id"]
    breaker(b)
    _save(tiny_copy, data)
    probs, msg = _problems(tiny_copy)
    assert len(probs) == 1, msg
    p = probs[0]
    assert p.video_id == vid and p.field == field and text in p.message
    if field != "frame":
        assert p.frame == frame
    assert vid in msg and f"field={field}" in msg


def test_every_problem_reported_at_once(tiny_copy):
    data = _load(tiny_copy)
    data[0]["annotations"][0]["bboxes"][0]["x1"] = 1e6
    data[1]["annotations"][0]["bboxes"][0].pop("y2")
    _save(tiny_copy, data)
    probs, _ = _problems(tiny_copy)
    assert len(probs) == 2 and {p.video_id for p in probs} == {data[0]["video_id"], data[1]["video_id"]}


def test_video_id_without_folder_and_folder_without_annotations(tiny_copy):
    samples, _ = paths(tiny_copy)
    data = _load(tiny_copy)
    vid = data[0]["video_id"]
    (samples / vid).rename(samples / "Renamed_9")
    probs, msg = _problems(tiny_copy)
    kinds = {(p.video_id, p.message.split()[0]) for p in probs}
    assert (vid, "no") in kinds                       # video_id without a folder
    assert ("Renamed_9", "folder") in kinds            # folder without annotations


def test_missing_references_unreadable_image_and_video(tiny_copy):
    samples, _ = paths(tiny_copy)
    vids = [d["video_id"] for d in _load(tiny_copy)]
    for p in (samples / vids[0] / "object_images").iterdir():
        p.unlink()
    (samples / vids[1] / "object_images" / "img_1.jpg").write_bytes(b"not a jpeg")
    (samples / vids[2] / "drone_video.mp4").write_bytes(b"\x00" * 100)
    probs, msg = _problems(tiny_copy)
    by_vid = {p.video_id: p for p in probs}
    assert "0 readable reference image" in by_vid[vids[0]].message
    assert "img_1.jpg" in by_vid[vids[1]].file and "cannot be read" in by_vid[vids[1]].message
    assert "drone_video.mp4" in by_vid[vids[2]].file and "cannot be read" in by_vid[vids[2]].message


def test_cli_validate_clean_and_broken(tiny_copy):
    samples, ann = paths(tiny_copy)
    exe = [sys.executable, "-m", "refdet_lib.cli", "validate", str(samples), str(ann)]
    ok = subprocess.run(exe, capture_output=True, text=True, cwd=ROOT)
    assert ok.returncode == 0, ok.stderr
    assert "dataset OK" in ok.stdout and "boxes" in ok.stdout
    data = _load(tiny_copy)
    _first_box(data)["y1"] = "abc"
    _save(tiny_copy, data)
    bad = subprocess.run(exe, capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode == 1
    assert "Traceback" not in bad.stdout + bad.stderr
    assert "field=y1" in bad.stdout and data[0]["video_id"] in bad.stdout


# ---------------------------------------------------------------------------------------------- frames and cache
def test_sequential_pass_matches_exact_seek(tiny_root):
    samples, _ = paths(tiny_root)
    video = next(samples.iterdir()) / "drone_video.mp4"
    frames = dict(iter_frames(video, [0, 5, 17, 23]))
    assert sorted(frames) == [0, 5, 17, 23]
    for i, img in frames.items():
        assert np.array_equal(img, read_frame(video, i))


def test_frame_cache_byte_identical_and_second_pass_decodes_nothing(tiny_root, tmp_path):
    samples, ann = paths(tiny_root)
    before = DECODE_STATS["frames"]
    ds = RefDetDataset(samples, ann, mode="train", cache_dir=tmp_path / "cache", negatives_per_video=3)
    assert DECODE_STATS["frames"] > before
    for i in (0, len(ds) // 2, len(ds) - 1):
        v, f = ds.items[i]
        assert np.array_equal(ds[i]["query_frame"], read_frame(ds.video_paths[v], f))
    before = DECODE_STATS["frames"]
    ds2 = RefDetDataset(samples, ann, mode="train", cache_dir=tmp_path / "cache", negatives_per_video=3)
    for i in range(len(ds2)):
        ds2[i]
    assert DECODE_STATS["frames"] == before, "a second run must read every frame from the cache"


def test_cache_at_training_size_rescales_boxes(tiny_root, tmp_path):
    samples, ann = paths(tiny_root)
    full = RefDetDataset(samples, ann, cache_dir=tmp_path / "c")
    small = RefDetDataset(samples, ann, cache_dir=tmp_path / "c", frame_size=160)
    a, b = full[0], small[0]
    assert b["query_frame"].shape[:2] == (90, 160) and a["query_frame"].shape[:2] == (180, 320)
    np.testing.assert_allclose(b["bboxes"], a["bboxes"] * 0.5, rtol=1e-5)


def test_memory_lru_in_front_of_disk(tiny_root, tmp_path):
    samples, ann = paths(tiny_root)
    ds = RefDetDataset(samples, ann, cache_dir=tmp_path / "c", cache_size=4)
    x = ds[0]["query_frame"]
    x[:] = 0                                   # callers may modify what they get
    assert ds[0]["query_frame"].max() > 0
    assert len(ds.cache._lru) <= 4


# ---------------------------------------------------------------------------------------------- dataset API
def test_guide_snippet_runs_as_written(tiny_root):
    samples, ann = paths(tiny_root)
    code = f"""
from refdet_lib.data import RefDetDataset

# Load dataset
ds = RefDetDataset(
    data_root='{samples}',
    annotations_file='{ann}',
    mode='train'
)

print(f'Dataset loaded successfully!')
print(f'Total samples: {{len(ds)}}')
print(f'Classes: {{ds.classes}}')

# Test loading one sample
sample = ds[0]
print(f'\\nSample 0:')
print(f'  Video ID: {{sample["video_id"]}}')
print(f'  Query frame shape: {{sample["query_frame"].shape}}')
print(f'  Number of support images: {{len(sample["support_images"])}}')
print(f'  Bboxes: {{sample["bboxes"]}}')
assert len(sample['bboxes']) > 0, "No bboxes found!"
assert sample['query_frame'].max() > 0, "Query frame is all zeros!"
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert "Query frame shape: (180, 320, 3)" in r.stdout
    assert "Number of support images: 3" in r.stdout
    assert "Classes: ['" in r.stdout


def test_items_modes_and_boxes(tiny_root, tmp_path):
    samples, ann = paths(tiny_root)
    tr = RefDetDataset(samples, ann, mode="train", negatives_per_video=2, cache_dir=tmp_path / "c")
    te = RefDetDataset(samples, ann, mode="test", cache_dir=tmp_path / "c")
    assert len(tr) == len(te) + 2 * 3
    assert all(len(tr[i]["bboxes"]) == 0 for i in range(tr.n_positive, len(tr)))
    assert all(len(te[i]["bboxes"]) > 0 for i in range(len(te)))
    with pytest.raises(ValueError, match="mode"):
        RefDetDataset(samples, ann, mode="training")


# ---------------------------------------------------------------------------------------------- sampling
@pytest.fixture
def ds(tiny_root, tmp_path):
    samples, ann = paths(tiny_root)
    return RefDetDataset(samples, ann, mode="train", negatives_per_video=4, cache_dir=tmp_path / "c")


def test_episode_sampler_reproducible_and_shaped(ds):
    s1 = EpisodeSampler(ds, n_way=2, n_query=3, n_episodes=5, seed=1)
    s2 = EpisodeSampler(ds, n_way=2, n_query=3, n_episodes=5, seed=1)
    e1, e2 = list(s1), list(s2)
    assert [e.indices for e in e1] == [e.indices for e in e2]
    for e in e1:
        assert len(set(e.videos)) == 2 and len(e.indices) == 6
        for i, c in zip(e.indices, e.labels):
            assert ds.items[i][0] == e.videos[c]
    s1.set_epoch(1)
    assert [e.indices for e in s1] != [e.indices for e in e1]
    with pytest.raises(ValueError, match="n_way=4 is larger than the number of videos"):
        EpisodeSampler(ds, n_way=4)


def test_fixed_episodes_repeat_epoch_zero(ds):
    """fixed=True (DataConfig.fixed_episodes, the demo's fine-tune): every epoch is epoch 0's episodes, so a short
    fine-tune's loss per epoch is measured on one set."""
    fixed = EpisodeSampler(ds, n_way=2, n_query=3, n_episodes=5, seed=1, fixed=True)
    first = [e.indices for e in fixed]
    fixed.set_epoch(3)
    assert fixed.epoch == 0 and [e.indices for e in fixed] == first
    assert first == [e.indices for e in EpisodeSampler(ds, n_way=2, n_query=3, n_episodes=5, seed=1)]


def test_distributed_split_covers_episodes_once(ds):
    full = [EpisodeSampler(ds, 2, 2, 6, seed=2).episode(g).indices for g in range(6)]
    parts = [list(EpisodeSampler(ds, 2, 2, 6, seed=2, rank=r, world_size=2)) for r in range(2)]
    got = sorted(e.indices for p in parts for e in p)
    assert got == sorted(full)


def test_negatives_in_episodes(ds):
    s = EpisodeSampler(ds, n_way=2, n_query=4, n_episodes=3, neg_fraction=0.5)
    for e in s:
        assert sum(i >= ds.n_positive for i in e.indices) == 4


class _Looks:
    """Enough of a dataset for the sampler: 6 single-colour objects in 3 pairs of near hues (OpenCV units, 0-180),
    2 annotated frames each."""
    hues = {"red": 2, "orange": 12, "green": 62, "lime": 52, "blue": 122, "navy": 112}
    classes = list(hues)
    n_positive = 12
    data_root = "looks"

    def support_images(self, v):
        hsv = np.full((40, 40, 3), (self.hues[v], 220, 200), np.uint8)
        return [cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)] * 3

    def indices_by_video(self, positives_only=False):
        return {v: [2 * i, 2 * i + 1] for i, v in enumerate(self.classes)}


TWINS = {frozenset(p) for p in (("red", "orange"), ("green", "lime"), ("blue", "navy"))}


def test_look_alikes_rank_near_colours_first():
    from refdet_lib.data.sampling import look_alikes, reference_descriptors

    desc = reference_descriptors(_Looks())
    assert all(abs(d.sum() - 1) < 1e-5 for d in desc.values())
    alike = look_alikes(desc)
    for v, order in alike.items():
        assert frozenset((v, order[0])) in TWINS, (v, order)
        assert v not in order and len(order) == 5


def test_hard_episodes_pair_look_alikes():
    looks = _Looks()
    twin_share = {}
    for hard in (0.0, 1.0):
        s = EpisodeSampler(looks, n_way=2, n_query=2, n_episodes=200, seed=3, hard_fraction=hard)
        eps = list(s)
        if hard:
            assert all(e.videos[1] in s.alike[e.videos[0]][:2] for e in eps)
        twin_share[hard] = np.mean([frozenset(e.videos) in TWINS for e in eps])
    # random pairs are twins 1 time in 5; hard episodes draw the twin from the 2 nearest: 1 time in 2
    assert twin_share[0.0] < 0.3 and twin_share[1.0] > 0.4, twin_share
    with pytest.raises(ValueError, match="hard_fraction"):
        EpisodeSampler(looks, hard_fraction=1.5)


def test_triplet_sampler_strategies(ds):
    for strat in ("background", "cross_class", "mixed"):
        specs = TripletSampler(ds, batch_size=16, negative_strategy=strat, seed=0).batch(0)
        kinds = {s.neg_kind for s in specs}
        assert kinds == ({"background", "cross_class"} if strat == "mixed" else {strat})
        for s in specs:
            if s.neg_kind == "cross_class":
                assert ds.items[s.neg_index][0] != s.video
    with pytest.raises(ValueError, match="negative_strategy"):
        TripletSampler(ds, negative_strategy="hard")


def test_triplet_dataset_tensors(ds):
    td = TripletDataset(ds, TripletSampler(ds, batch_size=4, seed=0), support_size=56)
    b = td[0]
    assert b["anchor"].shape == b["positive"].shape == b["negative"].shape == (4, 3, 56, 56)
    assert not torch.equal(b["positive"], b["negative"])


def test_mixed_schedule_ratio():
    s = mixed_schedule(100, 0.3, seed=0)
    assert s.count("triplet") == 30 and s == mixed_schedule(100, 0.3, seed=0)
    assert s != mixed_schedule(100, 0.3, seed=0, epoch=1)


# ---------------------------------------------------------------------------------------------- collate / augment
def test_letterbox_round_trip_by_drawing():
    img = np.zeros((180, 320, 3), np.uint8)
    box = np.array([[40.0, 30.0, 90.0, 70.0]])
    cv2.rectangle(img, (40, 30), (89, 69), (255, 0, 0), -1)
    lb, r, pad = letterbox(img, 128)
    b = boxes_to_letterbox(box, r, pad)[0]
    ys, xs = np.nonzero(lb[..., 0] > 128)
    drawn = np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], np.float32)
    np.testing.assert_allclose(drawn, b, atol=1.5)
    np.testing.assert_allclose(boxes_from_letterbox(b[None], r, pad), box, atol=1e-4)


def test_episode_batch_layout_and_boxes_match_pixels(ds):
    col = EpisodeCollator(imgsz=160, support_size=56, n_shot=3, class_to_idx=ds.class_to_idx)
    ep = EpisodeDataset(ds, EpisodeSampler(ds, 2, 2, 2, seed=0), col)[0]
    assert ep["query"].shape == (4, 3, 160, 160) and ep["support"].shape == (2, 3, 3, 56, 56)
    assert ep["query"].dtype == torch.float32 and 0 <= ep["query"].min() and ep["query"].max() <= 1
    assert len(ep["bboxes"]) == len(ep["cls"]) == len(ep["batch_idx"]) >= 4
    # the letterboxed boxes sit on the same pixels as the original boxes
    for k, m in enumerate(ep["meta"]):
        item = ds[ds.items.index((m["video_id"], m["frame"]))]
        orig = item["query_frame"]
        for (x1, y1, x2, y2) in ep["bboxes"][ep["batch_idx"] == k].numpy():
            crop = (ep["query"][k].permute(1, 2, 0).numpy() * 255)[int(y1):int(np.ceil(y2)), int(x1):int(np.ceil(x2))]
            ob = item["bboxes"][0].astype(int)
            ocrop = orig[ob[1]:ob[3], ob[0]:ob[2]]
            assert abs(crop.mean() - ocrop.mean()) < 20


@pytest.mark.parametrize("size,crop", [(640, 320), (480, 320), (320, 128)])
def test_letterbox_crop_holds_the_box_at_the_letterbox_scale(size, crop):
    """A training window is a piece of what letterbox(frame, size) shows: same pixels, same box, mapped back exactly."""
    rng = np.random.default_rng(size + crop)
    img = rng.integers(0, 255, (360, 640, 3), dtype=np.uint8)
    full, r_full, pad_full = letterbox(img, size)
    positions = set()
    for _ in range(40):
        x1, y1 = rng.uniform(0, 600), rng.uniform(0, 330)
        box = np.array([[x1, y1, min(640, x1 + rng.uniform(6, 40)), min(360, y1 + rng.uniform(6, 30))]], np.float32)
        win, b, r, pad = letterbox_crop(img, box, size, crop, rng)
        assert win.shape == (crop, crop, 3) and len(b) == 1 and r == r_full
        np.testing.assert_allclose(boxes_from_letterbox(b, r, pad), box, atol=1e-3)
        # window pixel (x, y) is letterbox pixel (x - pad + pad_full) wherever both show the frame
        dx, dy = pad_full[0] - pad[0], pad_full[1] - pad[1]
        ys, xs = np.mgrid[0:crop:7, 0:crop:7]
        inside = (xs + dx >= pad_full[0]) & (xs + dx < size - pad_full[0]) & (ys + dy >= pad_full[1]) & \
                 (ys + dy < size - pad_full[1])
        np.testing.assert_array_equal(win[ys[inside], xs[inside]], full[ys[inside] + dy, xs[inside] + dx])
        positions.add(pad)
    assert len(positions) > 20  # windows are drawn at random positions, not always centred on the box
    win, b, _, _ = letterbox_crop(img, np.zeros((0, 4), np.float32), size, crop, rng)  # negative frame
    assert win.shape == (crop, crop, 3) and b.shape == (0, 4)


def test_episode_training_windows(ds):
    """EpisodeCollator(crop=...) gives crop-sized queries whose boxes sit on the object's pixels; the meta maps the
    boxes back to the frame's own coordinates."""
    col = EpisodeCollator(imgsz=320, support_size=56, n_shot=3, class_to_idx=ds.class_to_idx, crop=128)
    ep = EpisodeDataset(ds, EpisodeSampler(ds, 2, 2, 2, seed=0), col)[0]
    assert ep["query"].shape == (4, 3, 128, 128)
    assert len(ep["bboxes"]) >= 4
    for k, m in enumerate(ep["meta"]):
        item = ds[ds.items.index((m["video_id"], m["frame"]))]
        for b in ep["bboxes"][ep["batch_idx"] == k].numpy():
            back = boxes_from_letterbox(b[None], m["ratio"], m["pad"])[0]
            np.testing.assert_allclose(back, item["bboxes"][0], atol=1.0)
    assert EpisodeCollator(imgsz=320, crop=320).crop == 0  # a window as large as the frame is the frame


def test_augmenter_keeps_boxes_on_object():
    cfg = AugmentConfig(color_p=0, blur_p=0, affine_p=1.0, hflip_p=1.0)
    aug = Augmenter(cfg)
    img = np.full((180, 320, 3), 60, np.uint8)
    cv2.rectangle(img, (100, 60), (139, 99), (250, 250, 250), -1)
    out, boxes = aug(img, np.array([[100, 60, 140, 100]], np.float32), np.random.default_rng(0))
    assert len(boxes) == 1
    x1, y1, x2, y2 = boxes[0].astype(int)
    assert out[y1:y2, x1:x2].mean() > 180          # the box still covers the bright object
    off = Augmenter(AugmentConfig.off())
    same, b2 = off(img, np.array([[100, 60, 140, 100]], np.float32))
    assert same is img and not off.enabled


def test_episode_hue_turns_frames_and_references_together(ds):
    """One hue rotation per episode, the same for every query frame and reference: the match is kept."""
    from dataclasses import replace

    from refdet_lib.data.augment import rotate_hue

    img = np.zeros((4, 4, 3), np.uint8)
    img[...] = (200, 40, 40)  # red
    turned = rotate_hue(img, 120)
    assert turned[0, 0, 1] > 150 and turned[0, 0, 0] < 80  # red + 120 degrees = green
    assert rotate_hue(img, 0) is img
    aug = Augmenter(replace(AugmentConfig.off(), episode_hue_p=1.0))
    assert aug.enabled and 0 < abs(aug.episode_hue(np.random.default_rng(0))) <= 180
    plain = EpisodeCollator(160, 56, 3, None, ds.class_to_idx)
    hued = EpisodeCollator(160, 56, 3, aug, ds.class_to_idx)
    sampler = EpisodeSampler(ds, 2, 2, 1, seed=0)
    a, b = EpisodeDataset(ds, sampler, plain)[0], EpisodeDataset(ds, sampler, hued)[0]
    deg = aug.episode_hue(np.random.default_rng((sampler.seed, sampler.epoch, 0, 1)))  # the rng the episode used

    def hue_of(t):  # (N, 3, H, W) in [0, 1] -> rotate the plain episode's images by `deg`
        return [rotate_hue((x.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8), deg) for x in t]

    pairs = ((b["query"], hue_of(a["query"])), (b["support"].flatten(0, 1), hue_of(a["support"].flatten(0, 1))))
    for got, want in pairs:
        got = (got.permute(0, 2, 3, 1).numpy() * 255).round()
        err = np.abs(got - np.stack(want)).mean()
        assert err < 6, err  # rotate-then-resize vs resize-then-rotate: only interpolation differences
    assert not torch.allclose(a["query"], b["query"], atol=0.05)


@pytest.mark.parametrize("field", [f.name for f in __import__("dataclasses").fields(AugmentConfig)
                                   if f.name.endswith("_p")])
def test_every_augmentation_probability_changes_something(field):
    """No dead knob: each probability of AugmentConfig, alone at 1, changes a query frame, a reference or the
    episode's hue (a probability that does nothing, like the former mosaic_p, fails here)."""
    from dataclasses import replace

    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (96, 128, 3), dtype=np.uint8)
    frame[30:60, 40:80] = (230, 60, 40)
    box = np.array([[40, 30, 80, 60]], np.float32)
    aug = Augmenter(replace(AugmentConfig.off(), **{field: 1.0}))
    assert aug.enabled
    changed = False
    for seed in range(4):  # some transforms can draw a no-op (an affine of scale 1, a crop of the whole image)
        g = np.random.default_rng(seed)
        out, b = aug(frame, box, g)
        ref = aug.reference_image(frame, np.random.default_rng(seed))
        changed |= (out.shape != frame.shape or not np.array_equal(out, frame) or not np.allclose(b, box)
                    or ref.shape != frame.shape or not np.array_equal(ref, frame)
                    or aug.episode_hue(np.random.default_rng(seed)) != 0)
    assert changed, f"AugmentConfig.{field} = 1 changed nothing"
