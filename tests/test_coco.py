"""Stage 1 on a COCO-format json (the guide's own stage-1 example): boxes land on the drawn pixels, sparse category
ids map to 0..nc-1, crowd and degenerate boxes are dropped, broken files name the file and the field, and
`refdet train --stage 1` runs on it end to end with nc_base = number of categories."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from refdet_lib.cli import main
from refdet_lib.config import DataConfig, ModelConfig, TrainConfig
from refdet_lib.data.coco import CocoDetectionDataset, is_coco_json
from refdet_lib.data.yolo import YoloBatches
from refdet_lib.model import load_checkpoint
from refdet_lib.train.run import build_datasets

# RGB colour of each category's rectangles; ids deliberately sparse and listed out of order
COLOURS = {3: (230, 30, 30), 7: (30, 220, 30), 12: (30, 30, 230)}
CATEGORIES = [{"id": 7, "name": "green"}, {"id": 3, "name": "red"}, {"id": 12, "name": "blue"}]
W, H = 160, 120


def _draw(path: Path, rects: list[tuple[int, list[int]]]) -> None:
    img = np.full((H, W, 3), 128, np.uint8)
    for cat, (x, y, w, h) in rects:
        img[y:y + h, x:x + w] = COLOURS[cat]
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])


def make_coco(root: Path) -> tuple[Path, Path, dict]:
    """4 real JPEGs (one in a sub-folder, one without boxes) and their COCO json."""
    images = root / "images"
    drawn = {  # file -> rectangles actually painted (category, [x, y, w, h])
        "a.jpg": [(3, [10, 20, 40, 30]), (7, [80, 50, 50, 40])],
        "b.jpg": [(12, [100, 10, 40, 60]), (3, [140, 90, 20, 30])],
        "empty.jpg": [],
        "sub/c.jpg": [(7, [30, 40, 60, 50]), (12, [5, 5, 20, 20])],
    }
    for name, rects in drawn.items():
        _draw(images / name, rects)
    ann = [
        (1, 3, [10, 20, 40, 30], 0), (1, 7, [80, 50, 50, 40], 0),
        (1, 12, [0, 0, 60, 60], 1),                                   # crowd: skipped
        (2, 12, [100, 10, 40, 60], 0), (2, 3, [140, 90, 40, 40], 0),  # second one runs off the image: clipped
        (2, 7, [50, 50, 0, 10], 0),                                   # zero width: dropped
        (4, 7, [30, 40, 60, 50], 0), (4, 12, [5, 5, 20, 20], 0),
    ]
    d = {"info": {"description": "tiny"},
         "images": [{"id": i, "file_name": n, "width": W, "height": H}
                    for i, n in zip((1, 2, 3, 4), drawn)],
         "annotations": [{"id": 100 + k, "image_id": im, "category_id": c, "bbox": b, "iscrowd": crowd,
                          "area": b[2] * b[3]} for k, (im, c, b, crowd) in enumerate(ann)],
         "categories": CATEGORIES}
    js = root / "instances.json"
    js.write_text(json.dumps(d))
    return images, js, d


@pytest.fixture
def coco(tmp_path):
    return make_coco(tmp_path / "coco")


def _assert_boxes_on_colours(ds: CocoDetectionDataset) -> int:
    """Every box's interior has its class's colour; returns the number of boxes checked."""
    name_to_colour = {c["name"]: COLOURS[c["id"]] for c in CATEGORIES}
    n = 0
    for i in range(len(ds)):
        it = ds[i]
        img = it["query_frame"]
        assert img.dtype == np.uint8 and img.ndim == 3 and it["bboxes"].dtype == np.float32
        for (x1, y1, x2, y2), lab in zip(it["bboxes"], it["labels"]):
            crop = img[int(y1) + 2:int(y2) - 2, int(x1) + 2:int(x2) - 2].reshape(-1, 3)
            assert len(crop) > 0
            np.testing.assert_allclose(crop.mean(0), name_to_colour[ds.classes[lab]], atol=25)
            n += 1
    return n


def test_items_have_boxes_on_the_drawn_pixels(coco):
    images, js, _ = coco
    ds = CocoDetectionDataset(js, images)
    assert ds.classes == ["red", "green", "blue"]  # sorted ids 3, 7, 12 -> labels 0, 1, 2
    assert len(ds) == 4
    by_name = {ds[i]["video_id"]: ds[i] for i in range(len(ds))}
    assert set(by_name) == {"a", "b", "empty", "sub/c"}
    a = by_name["a"]
    assert a["query_frame"].shape == (H, W, 3)
    np.testing.assert_array_equal(a["bboxes"], [[10, 20, 50, 50], [80, 50, 130, 90]])  # crowd box gone
    assert a["labels"].tolist() == [0, 1] and a["labels"].dtype == np.int64
    b = by_name["b"]
    np.testing.assert_array_equal(b["bboxes"], [[100, 10, 140, 70], [140, 90, 160, 120]])  # clipped; 0-width gone
    assert b["labels"].tolist() == [2, 0]
    assert by_name["empty"]["bboxes"].shape == (0, 4) and by_name["empty"]["labels"].shape == (0,)
    assert by_name["sub/c"]["labels"].tolist() == [1, 2]
    assert _assert_boxes_on_colours(ds) == 6


def test_max_side_scales_image_and_boxes(coco):
    images, js, _ = coco
    ds = CocoDetectionDataset(js, images, max_side=80)
    it = ds[0]
    assert it["query_frame"].shape == (60, 80, 3)
    np.testing.assert_allclose(it["bboxes"], [[5, 10, 25, 25], [40, 25, 65, 45]])
    assert _assert_boxes_on_colours(ds) == 6


def test_yolo_batches_take_a_coco_dataset(coco):
    images, js, _ = coco
    ds = CocoDetectionDataset(js, images)
    batches = YoloBatches(ds, batch_size=2, imgsz=64, shuffle=False)
    assert len(batches) == 2
    b0, b1 = batches[0], batches[1]
    assert b0["query"].shape == (2, 3, 64, 64)
    assert b0["cls"].tolist() == [0, 1, 2, 0] and b0["batch_idx"].tolist() == [0, 0, 1, 1]
    assert b1["cls"].tolist() == [1, 2] and b1["batch_idx"].tolist() == [1, 1]  # image 0 of batch 1 is empty
    # 160x120 letterboxed into 64: scale 0.4, 8 px of padding above
    np.testing.assert_allclose(b0["bboxes"][0].numpy(), [4, 16, 20, 28], atol=1e-4)


def test_is_coco_json(coco, tmp_path):
    _, js, d = coco
    assert is_coco_json(js)
    guide = tmp_path / "annotations.json"
    guide.write_text(json.dumps([{"video_id": "Backpack_0", "annotations": []}]))
    assert not is_coco_json(guide)
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps({k: v for k, v in d.items() if k != "categories"}))
    assert not is_coco_json(partial)
    yml = tmp_path / "data.yaml"
    yml.write_text("train: images/train\nnames: [a]\n")
    assert not is_coco_json(yml)


def _break_missing_key(d):
    del d["categories"]


def _break_image_id(d):
    d["annotations"][2]["image_id"] = 999


def _break_category(d):
    d["annotations"][0]["category_id"] = 4


def _break_bbox_len(d):
    d["annotations"][1]["bbox"] = [1, 2, 3]


def _break_bbox_type(d):
    d["annotations"][1]["bbox"] = ["10", 20, 30, 40]


def _break_file(d):
    d["images"][2]["file_name"] = "nowhere/missing_frame.jpg"


def _break_image_field(d):
    del d["images"][1]["file_name"]


@pytest.mark.parametrize("breaker, exc, pattern", [
    (_break_missing_key, ValueError, r"missing key 'categories'"),
    (_break_image_id, ValueError, r"annotations\[2\] \(id 102\): image_id 999 is not in 'images'"),
    (_break_category, ValueError, r"annotations\[0\] \(id 100\): category_id 4 is not in 'categories'"),
    (_break_bbox_len, ValueError, r"annotations\[1\] \(id 101\): bbox must be 4 numbers.*\[1, 2, 3\]"),
    (_break_bbox_type, ValueError, r"annotations\[1\] \(id 101\): bbox must be 4 numbers"),
    (_break_file, FileNotFoundError, r"images\[2\]: image file .*nowhere/missing_frame\.jpg does not exist"),
    (_break_image_field, ValueError, r"images\[1\]: missing 'file_name'"),
])
def test_bad_input_names_file_and_field(coco, tmp_path, breaker, exc, pattern):
    images, _, d = coco
    bad = copy.deepcopy(d)
    breaker(bad)
    js = tmp_path / "broken_instances.json"
    js.write_text(json.dumps(bad))
    with pytest.raises(exc, match=pattern) as e:
        CocoDetectionDataset(js, images)
    assert str(js) in str(e.value)


def test_image_of_another_shape_than_the_json_says(coco, tmp_path):
    images, _, d = coco
    bad = copy.deepcopy(d)
    bad["images"][0]["width"] = H  # a square image in the json, 160x120 on disk
    js = tmp_path / "wrong_size.json"
    js.write_text(json.dumps(bad))
    ds = CocoDetectionDataset(js, images)
    with pytest.raises(ValueError, match=r"a\.jpg is 160x120 but .*wrong_size\.json says 120x120"):
        ds[0]


def test_build_datasets_picks_coco_for_stage_1_only(coco, tmp_path):
    images, js, d = coco
    data = DataConfig(data_root=str(images), annotations=str(js), batch_size=2, num_workers=0)
    model = ModelConfig(imgsz=64)
    ds, tr, va, tri = build_datasets(data, model, TrainConfig(stage=1))
    assert isinstance(ds, CocoDetectionDataset) and isinstance(tr, YoloBatches) and va is None and tri is None
    # a second COCO json as the test set gives validation batches; other categories are refused
    val = copy.deepcopy(d)
    val["images"], val["annotations"] = val["images"][:2], val["annotations"][:3]
    (tmp_path / "val.json").write_text(json.dumps(val))
    data.test_data_root, data.test_annotations = str(images), str(tmp_path / "val.json")
    _, _, va, _ = build_datasets(data, model, TrainConfig(stage=1))
    assert isinstance(va, YoloBatches) and len(va.ds) == 2 and not va.shuffle
    val["categories"] = val["categories"][:2]
    val["annotations"] = [a for a in val["annotations"] if a["category_id"] != 12]
    (tmp_path / "val.json").write_text(json.dumps(val))
    with pytest.raises(ValueError, match=r"val\.json: category ids \[3, 7\] differ"):
        build_datasets(data, model, TrainConfig(stage=1))


def test_refdet_train_stage1_on_coco_json(coco, tmp_path):
    images, js, _ = coco
    assert main(["train", "--stage", "1", "--data_root", str(images), "--annotations", str(js),
                 "--epochs", "1", "--batch_size", "2", "--imgsz", "64", "--support_size", "56", "--num_workers", "0",
                 "--checkpoint_dir", str(tmp_path / "s1")]) == 0
    ck = load_checkpoint(tmp_path / "s1" / "last.pt")
    assert ck["config"]["model"]["nc_base"] == 3 and ck["stage"] == 1
