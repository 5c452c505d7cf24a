"""The representative novel set: object sizes drawn per video from the real task's distribution (sizes.py), made by
the generator with one size band per video, deterministic, and the sets made before it unchanged."""
from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import ROOT

from refdet_lib.data import synthetic as S
from refdet_lib.data.annotations import parse_annotations
from refdet_lib.data.synthetic import sizes as Z

AVOID = [ROOT / "data_samples" / "test"]


def _sides(root) -> dict[str, np.ndarray]:
    out = {}
    for vid, a in parse_annotations(root / "annotations" / "annotations.json").items():
        b = np.concatenate([np.asarray(x, np.float64).reshape(-1, 4) for x in a.boxes.values()])
        out[vid] = np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1])
    return out


def test_sizes_are_drawn_from_the_real_task_distribution_deterministically():
    # the quantile function passes through the measured figures, and is monotone beyond them
    knots = [q for q, _ in Z.REAL_TASK_SIZES]
    np.testing.assert_allclose(Z.size_quantile(knots), [f for _, f in Z.REAL_TASK_SIZES])
    assert np.all(np.diff(Z.size_quantile(np.linspace(0, 1, 101))) > 0)
    a, b = Z.draw_sizes(16, 4000), Z.draw_sizes(16, 4000)
    assert np.array_equal(a, b) and not np.array_equal(a, Z.draw_sizes(16, 4001))
    # stratified: n videos put one size in each n-th of the distribution, so a sorted draw brackets its quantiles
    q = np.arange(16) / 16
    s = np.sort(Z.draw_sizes(16, 4000, width=640))
    assert np.all(s >= Z.size_quantile(q) * 640 - 1e-9) and np.all(s <= Z.size_quantile(q + 1 / 16) * 640 + 1e-9)
    many = Z.draw_sizes(2000, 1) / 640
    np.testing.assert_allclose(np.quantile(many, knots), [f for _, f in Z.REAL_TASK_SIZES], rtol=0.01)
    bands = Z.video_bands(16, 4000)
    assert len(bands) == 16 and all(hi / lo == pytest.approx(Z.BAND ** 2, rel=1e-3) for lo, hi in bands)


def test_representative_set_keeps_each_video_in_its_band_and_is_reused(tmp_path):
    """Real mp4 files: each video's annotated boxes lie in the size band drawn for it (a box cut by the frame's
    border or a bush may be smaller: a few px of slack), the bands are recorded, and a second call reuses the set."""
    from refdet_lib.train.recipes import representative_set

    sizes = {"n_videos": 2, "n_frames": 16, "seed": 4000}
    root = representative_set(tmp_path / "rep", sizes=sizes)
    bands = Z.video_bands(2, 4000)
    meta = json.loads((root / S.META_NAME).read_text())
    assert [v["object_size"] for v in meta["videos"]] == [list(b) for b in bands]
    assert json.loads((root / "training_set.json").read_text())["object_sizes"] == [list(b) for b in bands]
    sides = _sides(root)
    for v, (lo, hi) in zip(meta["videos"], bands):
        s = sides[v["video_id"]]
        assert len(s) and np.mean((s >= lo - 3) & (s <= hi + 2)) >= 0.9, (v["video_id"], lo, hi, s)
    # novel identities only: test-split, none of data_samples/test's
    assert {i.appearance for i in S.seen_identities(root)}.isdisjoint(i.appearance for i in S.seen_identities(AVOID[0]))
    stamp = (root / "annotations" / "annotations.json").stat().st_mtime_ns
    assert representative_set(tmp_path / "rep", sizes=sizes) == root
    assert (root / "annotations" / "annotations.json").stat().st_mtime_ns == stamp


def test_sets_made_without_per_video_sizes_are_unchanged(tmp_path):
    """object_sizes is drawn nowhere unless given: one band per video equal to object_size gives the same boxes and
    the same frames, the stamp and the metadata of a set made without it hold nothing new (so the stamps of the
    sets made before still match them), and a wrong count is refused."""
    kw = {"n_videos": 2, "n_frames": 4, "seed": 5, "width": 160, "height": 96, "n_refs": 1, "detail": 0.2}
    a = S.generate_dataset(tmp_path / "a", object_size=(10, 30), **kw)
    b = S.generate_dataset(tmp_path / "b", object_sizes=[(10, 30)] * 2, **kw)
    rel = "annotations/annotations.json"
    assert (a / rel).read_text() == (b / rel).read_text()
    for p in sorted((a / "samples").rglob("*.*")):
        assert p.read_bytes() == (b / p.relative_to(a)).read_bytes(), p
    assert all("object_size" not in v for v in json.loads((a / S.META_NAME).read_text())["videos"])
    out = S.make_training_set(tmp_path / "t", avoid=AVOID, n_videos=1, n_frames=3)
    assert json.loads((out / "training_set.json").read_text()) == {
        "n_videos": 1, "n_frames": 3, "seed": 2000, "detail": 0.5, "avoid": [str(AVOID[0])], "style": "realistic"}
    with pytest.raises(ValueError, match="one \\(min, max\\) per video"):
        S.generate_dataset(tmp_path / "c", object_sizes=[(10, 30)], **kw)


def test_recall_by_size_splits_the_recall_by_the_objects_longest_side():
    from refdet_lib.eval.scoring import recall_by_size

    gts = {"v": {0: np.array([[0, 0, 10, 8]]), 1: np.array([[0, 0, 30, 20]]), 2: np.array([[0, 0, 50, 50]]),
                 3: np.zeros((0, 4))}}
    preds = {"v": {0: {"boxes": np.array([[0, 0, 10, 8]]), "scores": np.array([0.9])},
                   1: {"boxes": np.array([[0, 0, 30, 20]]), "scores": np.array([0.1])},  # below the threshold
                   2: {"boxes": np.array([[60, 60, 90, 90]]), "scores": np.array([0.9])}}}  # elsewhere
    r = recall_by_size(preds, gts, conf=0.5)
    assert list(r) == ["< 16 px", "16-28 px", "28-45 px", ">= 45 px"]
    assert r["< 16 px"] == {"n_gt": 1, "recall": 1.0} and r["28-45 px"] == {"n_gt": 1, "recall": 0.0}
    assert r["16-28 px"]["n_gt"] == 0 and r[">= 45 px"] == {"n_gt": 1, "recall": 0.0}


def test_the_card_and_the_demo_lead_with_the_representative_set():
    """The committed manifest scores the representative set first (the headline), the card prints it, and the demo
    reads its figures from the manifest instead of scoring 16 videos live."""
    from refdet_lib.cli.demo import _headline
    from refdet_lib.model.loading import COURSE_WEIGHTS, manifest_path
    from refdet_lib.train.recipes import REPRESENTATIVE, representative_name

    man = json.loads(manifest_path(COURSE_WEIGHTS).read_text())
    name = representative_name(REPRESENTATIVE["n_videos"])
    assert next(iter(man["figures"])) == name and {"data_samples/test", "12 more novel videos"} <= set(man["figures"])
    f = man["figures"][name]["verifier_track"]
    card = (COURSE_WEIGHTS.parent / "README.md").read_text()
    assert f"| {name} | verifier_track | {f['map50']:.3f} |" in card and man["recall_by_size"]["set"] == name
    assert name in _headline() and f"ST-IoU {f['st_iou']:.3f}" in _headline()
