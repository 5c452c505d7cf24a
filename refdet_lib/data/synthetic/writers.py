"""Writing datasets in the guide's layout (videos, references, annotations.json, synth_meta.json), the YOLO base
set for stage 1, the generated training set and the committed data_samples/."""
from __future__ import annotations

import dataclasses
import json
import logging
import math
import shutil
from pathlib import Path
from typing import Iterable, Optional, Sequence

import cv2
import numpy as np

from ...errors import InputError
from ...ops.runs import runs
from ..annotations import REF_DIR, VIDEO_NAME
from .camera import CameraPath
from .casting import extras_pool, pick_distractors, sample_targets
from .identities import ObjectIdentity, sample_identities
from .photos import render_ground_photo
from .plan import Placement, VideoPlan
from .realistic import identity_from_dict
from .references import render_reference
from .scene import VideoScene, make_video_scene
from .style import STYLES, Realism, default_object_size

log = logging.getLogger(__name__)

META_NAME = "synth_meta.json"


def _write_jpg(path: Path, rgb: np.ndarray, quality: int = 90) -> None:
    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]):
        raise OSError(f"could not write image {path}")


def _prepare_out(out: Path, overwrite: bool) -> None:
    ann = out / "annotations" / "annotations.json"
    if (ann.exists() or (out / "samples").exists()) and not overwrite:
        raise FileExistsError(f"{out} already holds a dataset (samples/ or annotations/); pass overwrite=True "
                              f"to replace it")
    for sub in ("samples", "annotations"):
        if (out / sub).exists():
            shutil.rmtree(out / sub)
    (out / "samples").mkdir(parents=True)
    (out / "annotations").mkdir(parents=True)


def _intervals(boxes: dict[int, tuple]) -> list[dict]:
    """Annotation entries, one per run of consecutive annotated frames."""
    return [{"bboxes": [{"frame": int(f), "x1": int(boxes[f][0]), "y1": int(boxes[f][1]), "x2": int(boxes[f][2]),
                         "y2": int(boxes[f][3])} for f in range(a, b + 1)]} for a, b in runs(boxes)]


def _n_refs(n_refs, rng) -> int:
    """An int, or a (lo, hi) range drawn per video (the realistic style: 1 to 5 photos per object)."""
    if isinstance(n_refs, (tuple, list)):
        return int(rng.integers(n_refs[0], n_refs[1] + 1))
    return int(n_refs)


def generate_dataset(out_dir, n_videos: int = 8, n_frames: int = 150, seed: int = 0, width: int = 640,
                     height: int = 360, fps: float = 25, identities: Optional[Sequence] = None,
                     n_refs: int | tuple = 3, n_distractors: int = 3, class_names: Optional[Sequence[str]] = None, *,
                     split: str = "train", exclude: Iterable = (), object_size: Optional[tuple] = None,
                     object_sizes: Optional[Sequence[tuple]] = None, min_visible: float = 0.3,
                     detail: float = 1.0, overwrite: bool = False, progress: bool = False, style: Optional[str] = None,
                     realism: Optional[Realism] = None) -> Path:
    """Write a synthetic dataset in the guide's layout under `out_dir` and return `out_dir` as a Path.

    One video per identity (`video_id` = identity name, made unique with a suffix if identities repeat).
    style: "realistic" (the default) or "simple" (style.py); with `identities` given, theirs.
    realism: which parts of the realistic scene are on (default: all of them for "realistic", none for "simple").
    identities: the targets; default drawn for the style (sample_real_identities / sample_identities).
    n_refs: reference photos per video, or a (lo, hi) range drawn per video.
    n_distractors: other identities on the ground of every video, drawn from the other targets and extra
    identities of the same split (never the target's appearance; the realistic style's first two are hard ones).
    object_size: (min, max) longest box side in px (default: 12-60 simple, 8-80 realistic, scaled to the width).
    object_sizes: one (min, max) per video instead (sizes.video_bands: a size distribution across videos, each
    video's band narrow); recorded in synth_meta.json per video. Without it nothing is written or drawn differently.
    min_visible: a frame gets a box when at least this fraction of the target's area is visible.
    detail: amplitude of fine ground texture (lower -> smaller mp4 files).
    overwrite: replace `samples/` and `annotations/` of an existing dataset in `out_dir` (else FileExistsError).
    Also writes `<out>/synth_meta.json` (identities, distractors, seeds) beside the guide's folders.
    """
    out = Path(out_dir)
    lo_refs = min(n_refs) if isinstance(n_refs, (tuple, list)) else n_refs
    if n_videos < 1 or n_frames < 2 or lo_refs < 0 or n_distractors < 0:
        raise InputError(f"generate_dataset: need n_videos >= 1, n_frames >= 2, n_refs >= 0, n_distractors >= 0; "
                         f"got {n_videos}, {n_frames}, {n_refs}, {n_distractors}")
    if object_sizes is not None and (object_size is not None or len(object_sizes) != n_videos):
        raise InputError(f"generate_dataset: object_sizes needs one (min, max) per video ({n_videos}) and no "
                         f"object_size; got {len(object_sizes)} and {object_size}")
    if identities is not None and len(identities):
        style = getattr(identities[0], "style", "simple")
    style = style or "realistic"
    if style not in STYLES:
        raise InputError(f"generate_dataset: style must be one of {', '.join(STYLES)}, got {style!r}")
    realism = realism if realism is not None else Realism.for_style(style)
    exclude = list(exclude)
    if identities is None:
        identities = sample_targets(style, n_videos, seed, exclude, split, class_names)
    identities = list(identities)
    if not identities:
        raise InputError("generate_dataset: `identities` is empty")
    targets = [identities[i % len(identities)] for i in range(n_videos)]
    extras = extras_pool(style, max(2 * n_distractors, 4), seed, list(identities) + exclude, split, class_names)
    _prepare_out(out, overwrite)
    entries, meta = [], {"seed": seed, "n_frames": n_frames, "width": width, "height": height, "fps": fps,
                         "split": split, "style": style, "realism": dataclasses.asdict(realism), "videos": []}
    seen: dict[str, int] = {}
    for i, target in enumerate(targets):
        vid = target.name if target.name not in seen else f"{target.name}_v{seen[target.name]}"
        seen[target.name] = seen.get(target.name, 0) + 1
        rng = np.random.default_rng([int(seed), i, 1])
        distractors = pick_distractors(target, list(identities) + extras, n_distractors, rng, realism, exclude, split)
        size = tuple(float(x) for x in object_sizes[i]) if object_sizes is not None else object_size
        scene = make_video_scene(target, distractors, n_frames, width, height, [int(seed), i, 2], size,
                                 min_visible, detail, realism)
        vdir = out / "samples" / vid
        (vdir / REF_DIR).mkdir(parents=True)
        writer = cv2.VideoWriter(str(vdir / VIDEO_NAME), cv2.VideoWriter_fourcc(*"mp4v"), float(fps),
                                 (width, height))
        if not writer.isOpened():
            raise OSError(f"OpenCV cannot write mp4v video {vdir / VIDEO_NAME}")
        boxes = {}
        for f in range(n_frames):
            fr = scene.render(f)
            writer.write(cv2.cvtColor(fr.image, cv2.COLOR_RGB2BGR))
            b = fr.box(1, min_visible)
            if b is not None:
                boxes[f] = b
        writer.release()
        photo = render_ground_photo if style == "realistic" and realism.ref_settings else render_reference
        for k in range(_n_refs(n_refs, rng)):
            _write_jpg(vdir / REF_DIR / f"img_{k + 1}.jpg", photo(target, rng))
        entries.append({"video_id": vid, "annotations": _intervals(boxes)})
        meta["videos"].append({"video_id": vid, "target": target.to_dict(),
                               "distractors": [d.to_dict() for d in distractors]}
                              | ({"object_size": list(size)} if object_sizes is not None else {}))
        if progress:
            log.info(f"[synth] {vid}: {len(boxes)}/{n_frames} frames with a box, "
                  f"{len(entries[-1]['annotations'])} interval(s)")
    (out / "annotations" / "annotations.json").write_text(json.dumps(entries, indent=1))
    (out / META_NAME).write_text(json.dumps(meta, indent=1))
    return out


def load_meta(root) -> dict:
    """The generator's side file: identities of each video's target and distractors."""
    p = Path(root) / META_NAME
    if not p.exists():
        raise FileNotFoundError(f"{p}: not a dataset written by generate_dataset (no {META_NAME})")
    meta = json.loads(p.read_text())
    for v in meta["videos"]:
        v["target"] = identity_from_dict(v["target"])
        v["distractors"] = [identity_from_dict(d) for d in v["distractors"]]
    return meta


def write_base_set(out_dir, n_images: int = 96, identities: Optional[Sequence[ObjectIdentity]] = None,
                   n_classes: int = 6, imgsz: int = 320, seed: int = 0, val_fraction: float = 0.25,
                   objects_per_image: tuple[int, int] = (1, 4), split: str = "train",
                   object_size: Optional[tuple] = None) -> Path:
    """A small YOLO-format detection set for stage-1 base training; returns the path of its data.yaml.

    images/{train,val}/*.jpg, labels/{train,val}/*.txt ("class cx cy w h", normalised), data.yaml with the class
    names (the identities' names). Every image is a drone-like view with 1..k objects of the classes.
    """
    import yaml

    out = Path(out_dir)
    ids = list(identities) if identities is not None else sample_identities(n_classes, seed, split=split)
    rng = np.random.default_rng([int(seed), 99])
    n_val = int(round(n_images * val_fraction))
    size = object_size or default_object_size(imgsz * 2)
    for sub in ("train", "val"):
        (out / "images" / sub).mkdir(parents=True, exist_ok=True)
        (out / "labels" / sub).mkdir(parents=True, exist_ok=True)
    for i in range(n_images):
        sub = "val" if i < n_val else "train"
        k = int(rng.integers(objects_per_image[0], objects_per_image[1] + 1))
        chosen = [ids[j] for j in rng.choice(len(ids), size=min(k, len(ids)), replace=False)]
        W = H = imgsz
        path = CameraPath(np.array([[W * 0.75, H * 0.75]]), np.array([rng.uniform(-np.pi, np.pi)]),
                          np.array([rng.uniform(0.9, 1.1)]))
        objects = []
        for j, ident in enumerate(chosen):
            for _ in range(50):
                L = math.exp(rng.uniform(math.log(size[0]), math.log(size[1] / 1.45)))
                p = path.center[0] + rng.uniform(-0.4, 0.4, 2) * [W, H]
                if all(np.hypot(*(p - o.center)) > 0.8 * (L + o.length) for o in objects):
                    objects.append(Placement(ident, p, L, float(rng.uniform(0, 2 * np.pi)), j + 1))
                    break
        plan = VideoPlan(path, objects, [], (int(H * 1.5), int(W * 1.5)), np.ones(1))
        fr = VideoScene(plan, W, H, rng).render(0)
        lines = []
        for o in objects:
            b = fr.box(o.label, min_visible=0.3)
            if b is not None:
                x1, y1, x2, y2 = b
                lines.append(f"{ids.index(o.identity)} {(x1 + x2) / 2 / W:.6f} {(y1 + y2) / 2 / H:.6f} "
                             f"{(x2 - x1) / W:.6f} {(y2 - y1) / H:.6f}")
        _write_jpg(out / "images" / sub / f"{i:05d}.jpg", fr.image, 92)
        (out / "labels" / sub / f"{i:05d}.txt").write_text("\n".join(lines) + ("\n" if lines else ""))
    data = {"path": str(out.resolve()), "train": "images/train", "val": "images/val",
            "names": {j: ident.name for j, ident in enumerate(ids)}}
    yml = out / "data.yaml"
    yml.write_text(yaml.safe_dump(data, sort_keys=False))
    return yml


# ----------------------------------------------------------------------------------------------------------------
# The committed samples
# ----------------------------------------------------------------------------------------------------------------
DATA_SAMPLES = dict(train=dict(n_videos=8, n_frames=150, seed=0), test=dict(n_videos=4, n_frames=150, seed=1000))
# photos per object: the realistic style's 1 to 5 (>= 3 in the test split, so its 3-shot figures are honest)
SAMPLE_REFS = {"realistic": {"train": (1, 5), "test": (3, 5)}, "simple": {"train": 3, "test": 3}}


def seen_identities(root) -> list[ObjectIdentity]:
    """Every identity a generated dataset shows (targets and distractors), from its synth_meta.json."""
    vids = load_meta(root)["videos"]
    return [d for v in vids for d in [v["target"], *v["distractors"]]]


def make_training_set(out_dir, avoid=("data_samples/test",), n_videos: int = 48, n_frames: int = 60,
                      seed: int = 2000, detail: float = 0.5, overwrite: bool = False, progress: bool = False,
                      split: str = "train", style: str = "realistic",
                      object_size: Optional[tuple] = None, object_sizes: Optional[Sequence[tuple]] = None) -> Path:
    """A larger train split for few-shot learning: many train-split identities (never a test-split hue bin; in the
    simple style not its shapes and zigzag texture either), none of them shown in the generated datasets `avoid`
    (targets or distractors), in `style`.

    A matcher learns to compare from variety: data_samples/train has 8 identities, which a model memorises.
    split="test" makes more *novel* videos instead (test-split shapes and hues), e.g. a larger test set than
    data_samples/test's 4 videos, so that two models can be told apart from noise.
    object_size: (min, max) longest box side in px (default: the style's, generate_dataset).
    object_sizes: one (min, max) per video instead (the representative novel set: recipes.representative_set).
    Returns `out_dir`; reuses an existing set made with the same settings unless `overwrite`.
    """
    out = Path(out_dir)
    settings = {"n_videos": n_videos, "n_frames": n_frames, "seed": seed, "detail": detail,
                "avoid": [str(a) for a in avoid], "style": style} | ({"split": split} if split != "train" else {}) \
        | ({"object_size": [float(x) for x in object_size]} if object_size else {}) \
        | ({"object_sizes": [[float(x) for x in b] for b in object_sizes]} if object_sizes is not None else {})
    stamp = out / "training_set.json"
    if not overwrite and stamp.exists() and json.loads(stamp.read_text()) == settings:
        return out
    exclude = [i for a in avoid for i in seen_identities(a)]
    generate_dataset(out, n_videos=n_videos, n_frames=n_frames, seed=seed, width=640, height=360, fps=25,
                     split=split, exclude=exclude, detail=detail, overwrite=True, progress=progress, style=style,
                     n_refs=(1, 5) if style == "realistic" and split == "train" else 3,
                     object_size=tuple(object_size) if object_size else None, object_sizes=object_sizes)
    stamp.write_text(json.dumps(settings))
    return out


def make_data_samples(root="data_samples", detail: float = 0.5, style: str = "realistic") -> Path:
    """Regenerate `data_samples/` exactly (`python -m refdet_lib.data.synthetic data_samples`): train (8 videos,
    seed 0, train identities) and test (4 videos, seed 1000, identities in hues never used in train and none of
    the train split's targets or distractors), in `style`."""
    root = Path(root)
    tr = DATA_SAMPLES["train"]
    train_ids = sample_targets(style, tr["n_videos"], tr["seed"], (), "train")
    generate_dataset(root / "train", identities=train_ids, width=640, height=360, fps=25, split="train",
                     detail=detail, overwrite=True, n_refs=SAMPLE_REFS[style]["train"], **tr)
    te = DATA_SAMPLES["test"]
    # every identity the train split shows (targets and distractors) is excluded from the test split
    seen = seen_identities(root / "train")
    test_ids = sample_targets(style, te["n_videos"], te["seed"], seen, "test")
    generate_dataset(root / "test", identities=test_ids, width=640, height=360, fps=25, split="test",
                     exclude=seen, detail=detail, overwrite=True, n_refs=SAMPLE_REFS[style]["test"], **te)
    return root
