"""Stage 1 on a YOLO-format detection set (COCO / VisDrone exports, or `synthetic.write_base_set`).

Layout: a `data.yaml` with `path`, `train`, `val` (image folders) and `names`; labels beside the images in
`labels/<split>/<stem>.txt`, one "class cx cy w h" line per box (normalised). Base pre-training needs no references:
batches carry boxes and base classes only, and the model runs without its fusion (standard head).
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

import numpy as np
import torch

from ..errors import InputError
from ..ops.boxes import boxes_to_letterbox, letterbox
from ..ops.images import read_rgb, to_tensor
from .annotations import IMAGE_EXTS
from .augment import Augmenter

if TYPE_CHECKING:
    from .coco import CocoDetectionDataset


def read_data_yaml(path: str | Path) -> dict:
    import yaml

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"data.yaml not found: {path}")
    d = yaml.safe_load(path.read_text()) or {}
    for k in ("train", "names"):
        if k not in d:
            raise InputError(f"{path}: missing key '{k}' (a YOLO data.yaml needs path, train, val, names)")
    names = d["names"]
    d["names"] = [names[i] for i in sorted(names)] if isinstance(names, dict) else list(names)
    d["root"] = (path.parent / d.get("path", ".")).resolve() if not Path(d.get("path", ".")).is_absolute() \
        else Path(d["path"])
    return d


def is_yolo_dataset(annotations: str | Path) -> bool:
    return str(annotations).endswith((".yaml", ".yml"))


class YoloDetectionDataset:
    """Images and boxes of one split; item = {video_id (image stem), frame 0, query_frame RGB, bboxes, labels}."""

    def __init__(self, data_yaml: str | Path, split: str = "train"):
        self.cfg = read_data_yaml(data_yaml)
        if split not in self.cfg:
            raise InputError(f"{data_yaml}: no '{split}' split")
        img_dir = self.cfg["root"] / self.cfg[split]
        if not img_dir.is_dir():
            raise FileNotFoundError(f"{data_yaml}: image folder {img_dir} ({split}) not found")
        self.images = sorted(p for p in img_dir.iterdir() if p.suffix.lower() in IMAGE_EXTS)
        if not self.images:
            raise InputError(f"{img_dir}: no images")
        self.classes = self.cfg["names"]
        self.labels = [self._read_labels(p) for p in self.images]

    def _label_path(self, img: Path) -> Path:
        parts = list(img.parts)
        i = len(parts) - 1 - parts[::-1].index("images")
        parts[i] = "labels"
        return Path(*parts).with_suffix(".txt")

    def _read_labels(self, img: Path) -> np.ndarray:
        lp = self._label_path(img)
        if not lp.exists():
            return np.zeros((0, 5), np.float32)
        rows = []
        for ln, line in enumerate(lp.read_text().splitlines(), 1):
            if not line.strip():
                continue
            vals = line.split()
            try:
                c, cx, cy, w, h = int(vals[0]), *map(float, vals[1:5])
            except (ValueError, IndexError):
                raise InputError(f"{lp}: line {ln}: expected 'class cx cy w h', got {line!r}") from None
            if not 0 <= c < len(self.classes):
                raise InputError(f"{lp}: line {ln}: class {c} not in names (0..{len(self.classes) - 1})")
            rows.append((c, cx, cy, w, h))
        return np.array(rows, np.float32).reshape(-1, 5)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> dict:
        img = read_rgb(self.images[i])
        h, w = img.shape[:2]
        lab = self.labels[i]
        boxes = np.stack([(lab[:, 1] - lab[:, 3] / 2) * w, (lab[:, 2] - lab[:, 4] / 2) * h,
                          (lab[:, 1] + lab[:, 3] / 2) * w, (lab[:, 2] + lab[:, 4] / 2) * h], 1).astype(np.float32)
        return {"video_id": self.images[i].stem, "frame": 0, "query_frame": img, "bboxes": boxes,
                "labels": lab[:, 0].astype(np.int64)}


class YoloBatches(torch.utils.data.Dataset):
    """Batches of `batch_size` images for stage 1 (shuffled per epoch, reproducibly); support is empty.

    `ds` is any sized dataset whose items look like `YoloDetectionDataset`'s (`coco.CocoDetectionDataset` too)."""

    def __init__(self, ds: YoloDetectionDataset | CocoDetectionDataset, batch_size: int = 8, imgsz: int = 640,
                 seed: int = 0, augmenter: Optional[Augmenter] = None, shuffle: bool = True,
                 n_batches: Optional[int] = None):
        self.ds, self.bs, self.imgsz, self.seed, self.aug, self.shuffle = ds, batch_size, imgsz, seed, augmenter, shuffle
        self.n = n_batches or max(1, -(-len(ds) // batch_size))
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, k: int) -> dict:
        order = (np.random.default_rng((self.seed, self.epoch)).permutation(len(self.ds)) if self.shuffle
                 else np.arange(len(self.ds)))
        idx = [int(order[(k * self.bs + j) % len(order)]) for j in range(self.bs)]
        rng = np.random.default_rng((self.seed, self.epoch, k, 5))
        imgs, bxs, cls, bidx, meta = [], [], [], [], []
        for b, i in enumerate(idx):
            it = self.ds[i]
            frame, boxes, labels = it["query_frame"], it["bboxes"], it["labels"]
            if self.aug is not None:
                frame, boxes, labels = self.aug(frame, boxes, rng, labels=labels)
            img, r, pad = letterbox(frame, self.imgsz)
            imgs.append(img)
            lb = boxes_to_letterbox(boxes, r, pad)
            bxs.append(lb)
            cls += labels.tolist()
            bidx += [b] * len(lb)
            meta.append(dict(video_id=it["video_id"], frame=0, orig_shape=tuple(frame.shape[:2]), ratio=r, pad=pad))
        c = torch.tensor(cls, dtype=torch.long)
        return {"query": to_tensor(imgs), "support": torch.zeros(0, 0, 3, 1, 1),
                "bboxes": torch.from_numpy(np.concatenate(bxs).reshape(-1, 4)).float(), "cls": c, "base_cls": c,
                "batch_idx": torch.tensor(bidx, dtype=torch.long), "query_cls": torch.full((len(idx),), -1),
                "meta": meta}
