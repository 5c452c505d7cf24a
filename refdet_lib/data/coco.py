"""Stage 1 on a COCO-format detection json: the guide's own example, `--data_root coco/train --annotations x.json`.

    {"images": [{"id", "file_name", "width", "height"}], "categories": [{"id", "name"}],
     "annotations": [{"id", "image_id", "category_id", "bbox": [x, y, w, h], "iscrowd"}]}

bbox is top-left corner and size in absolute pixels; file_name is relative to the image folder (`--data_root`).
The guide's video annotations.json is a list, so the two formats cannot be confused. Items are the same as
`yolo.YoloDetectionDataset`'s, so `yolo.YoloBatches` batches both. Everything is checked when the dataset is built,
and the first problem is reported with the file and the field, so a broken export fails before training starts
rather than hours into it.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import InputError
from ..ops.images import read_rgb
from .video import resize_max_side

COCO_KEYS = ("images", "annotations", "categories")


def is_coco_json(path: str | Path) -> bool:
    """True for a .json whose top level is a dict with images, annotations and categories (a COCO detection set)."""
    path = Path(path)
    if path.suffix.lower() != ".json" or not path.is_file():
        return False
    with open(path, "rb") as f:
        head = f.read(4096).lstrip()
    if not head.startswith(b"{"):  # the guide's format is a list: no need to parse it here
        return False
    try:
        d = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError):
        return False  # not valid JSON: the caller's own parser reports it
    return isinstance(d, dict) and all(k in d for k in COCO_KEYS)


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


class CocoDetectionDataset:
    """Images and boxes of a COCO json; item = {video_id (file name without suffix), frame 0, query_frame RGB,
    bboxes (N, 4) xyxy float32 pixels, labels (N,) int64}.

    Category ids (often sparse, e.g. COCO's 1..90) become labels 0..nc-1 in sorted-id order, so `classes[label]` is
    the name and nc_base = len(classes). Crowd boxes (iscrowd=1) cover groups, not objects, and are skipped; images
    without boxes stay as negatives; boxes are clipped to the image and those left with no area are dropped.
    """

    def __init__(self, json_path: str | Path, image_root: str | Path, max_side: Optional[int] = None):
        self.json_path, self.image_root, self.max_side = Path(json_path), Path(image_root), max_side
        f = self.json_path
        if not f.exists():
            raise FileNotFoundError(f"COCO json not found: {f}")
        try:
            d = json.loads(f.read_text())
        except ValueError as e:
            raise InputError(f"{f}: not valid JSON ({e})") from None
        if not isinstance(d, dict):
            raise InputError(f"{f}: top level must be a dict with {', '.join(COCO_KEYS)}, got {type(d).__name__}")
        for k in COCO_KEYS:
            if k not in d:
                raise InputError(f"{f}: missing key '{k}' (a COCO json needs {', '.join(COCO_KEYS)})")
            if not isinstance(d[k], list):
                raise InputError(f"{f}: '{k}' must be a list, got {type(d[k]).__name__}")

        cats = {}
        for j, c in enumerate(d["categories"]):
            if not isinstance(c, dict) or not isinstance(c.get("id"), int):
                raise InputError(f"{f}: categories[{j}]: missing or non-integer 'id'")
            if c["id"] in cats:
                raise InputError(f"{f}: categories[{j}]: duplicate category id {c['id']}")
            cats[c["id"]] = str(c.get("name", c["id"]))
        if not cats:
            raise InputError(f"{f}: 'categories' is empty (stage 1 needs at least one base class)")
        self.cat_ids = sorted(cats)
        self.classes = [cats[i] for i in self.cat_ids]
        cat_to_label = {c: k for k, c in enumerate(self.cat_ids)}

        index, self.images, self.sizes = {}, [], []
        for j, im in enumerate(d["images"]):
            if not isinstance(im, dict):
                raise InputError(f"{f}: images[{j}] must be a dict, got {type(im).__name__}")
            for k in ("id", "file_name", "width", "height"):
                if k not in im:
                    raise InputError(f"{f}: images[{j}]: missing '{k}'")
            if im["id"] in index:
                raise InputError(f"{f}: images[{j}]: duplicate image id {im['id']}")
            if not (_number(im["width"]) and _number(im["height"]) and im["width"] > 0 and im["height"] > 0):
                raise InputError(f"{f}: images[{j}] ({im['file_name']}): width/height must be positive numbers, "
                                 f"got {im['width']!r} x {im['height']!r}")
            p = self.image_root / str(im["file_name"])
            if not p.is_file():
                raise FileNotFoundError(f"{f}: images[{j}]: image file {p} does not exist "
                                        f"(file_name is relative to the image folder {self.image_root})")
            index[im["id"]] = len(self.images)
            self.images.append(p)
            self.sizes.append((float(im["width"]), float(im["height"])))
        if not self.images:
            raise InputError(f"{f}: 'images' is empty")

        per_img: list[list[tuple[int, float, float, float, float]]] = [[] for _ in self.images]
        for j, a in enumerate(d["annotations"]):
            where = f"{f}: annotations[{j}]" + (f" (id {a['id']})" if isinstance(a, dict) and "id" in a else "")
            if not isinstance(a, dict):
                raise InputError(f"{where} must be a dict, got {type(a).__name__}")
            for k in ("image_id", "category_id", "bbox"):
                if k not in a:
                    raise InputError(f"{where}: missing '{k}'")
            if not isinstance(a["image_id"], (int, str)) or a["image_id"] not in index:
                raise InputError(f"{where}: image_id {a['image_id']!r} is not in 'images'")
            if not isinstance(a["category_id"], int) or a["category_id"] not in cat_to_label:
                raise InputError(f"{where}: category_id {a['category_id']!r} is not in 'categories' "
                                 f"(ids {self.cat_ids})")
            b = a["bbox"]
            if not (isinstance(b, (list, tuple)) and len(b) == 4 and all(_number(v) for v in b)):
                raise InputError(f"{where}: bbox must be 4 numbers [x, y, w, h] in pixels, got {b!r}")
            if a.get("iscrowd", 0):
                continue
            i = index[a["image_id"]]
            w, h = self.sizes[i]
            x1, y1 = min(max(b[0], 0.0), w), min(max(b[1], 0.0), h)
            x2, y2 = min(max(b[0] + b[2], 0.0), w), min(max(b[1] + b[3], 0.0), h)
            if x2 > x1 and y2 > y1:
                per_img[i].append((cat_to_label[a["category_id"]], x1, y1, x2, y2))
        rows = [np.array(r, np.float32).reshape(-1, 5) for r in per_img]
        self.boxes = [r[:, 1:].copy() for r in rows]  # xyxy pixels in the json's image size
        self.labels = [r[:, 0].astype(np.int64) for r in rows]

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> dict:
        img = read_rgb(self.images[i])
        boxes = self.boxes[i]
        h, w = img.shape[:2]
        jw, jh = self.sizes[i]
        if (w, h) != (jw, jh):  # images shrunk after export keep their boxes; a different shape is the wrong file
            if abs(w / h - jw / jh) > 0.01 * jw / jh:
                raise InputError(f"{self.images[i]} is {w}x{h} but {self.json_path} says {jw:g}x{jh:g}")
            boxes = boxes * np.array([w / jw, h / jh, w / jw, h / jh], np.float32)
        img, s = resize_max_side(img, self.max_side)
        if s != 1.0:
            boxes = boxes * np.float32(s)
        return {"video_id": Path(self.images[i]).relative_to(self.image_root).with_suffix("").as_posix(),
                "frame": 0, "query_frame": img, "bboxes": boxes.astype(np.float32), "labels": self.labels[i].copy()}
