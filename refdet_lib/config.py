"""Typed configuration, one dataclass per concern, holding the training guide's defaults.

Every CLI flag of the guide maps to one field here; notebooks build the same objects, so what a learner sets in a
`parameters` cell is exactly what `refdet train` would use.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields
from typing import Any, Optional

from .errors import InputError


@dataclass
class AugmentConfig:
    """Augmentation strengths. Every probability can be 0 (the guide's 'disable augmentation' troubleshooting step)."""

    # query frames (box-aware)
    color_p: float = 0.5          # brightness / contrast / hue-saturation jitter
    blur_p: float = 0.1           # gaussian or motion blur (drone vibration)
    affine_p: float = 0.5         # scale / translate / small rotation
    scale: tuple = (0.75, 1.25)
    translate: float = 0.1        # fraction of the image size
    rotate: float = 5.0           # degrees
    hflip_p: float = 0.5
    # reference images
    ref_crop_p: float = 0.5       # crop jitter around the object
    ref_rotate_p: float = 0.3
    ref_color_p: float = 0.5
    # whole episode: one hue rotation for every query frame and reference image of the episode (p, max degrees).
    # Frames and references change together, so the match is kept while the object's colour is one never shown:
    # a matcher meets the whole colour wheel, not only the hues of its training objects.
    episode_hue_p: float = 0.5
    episode_hue: float = 180.0

    @classmethod
    def off(cls) -> "AugmentConfig":
        """All probabilities 0: the guide's first check when the loss does not decrease."""
        return cls(color_p=0, blur_p=0, affine_p=0, hflip_p=0, ref_crop_p=0, ref_rotate_p=0, ref_color_p=0,
                   episode_hue_p=0)


@dataclass
class DataConfig:
    """Where the data is and how episodes are drawn from it (sizes: ModelConfig.imgsz / support_size)."""

    data_root: str = "data_samples/train/samples"
    annotations: str = "data_samples/train/annotations/annotations.json"
    test_data_root: Optional[str] = None
    test_annotations: Optional[str] = None
    train_crop: int = 0              # >0: train on train_crop x train_crop windows of the imgsz-scaled frame that hold
                                     # the object (same object pixels, a fraction of the cost); 0 = whole frames
    n_shot: int = 3                  # reference images per object
    n_way: int = 2                   # objects (videos) per episode
    n_query: int = 4                 # query frames per object per episode
    n_episodes: int = 100            # episodes per epoch
    hard_episodes: float = 0.0       # fraction of episodes made of look-alike objects (closest reference colours)
    fixed_episodes: bool = False     # every epoch draws epoch 0's episodes (and augmentations): a short fine-tune's
                                     # epochs are passes over one set, so its loss per epoch compares like with like
    batch_size: int = 4              # stage 1 only: frames per batch (stages 2-3: an episode, n_way x n_query)
    num_workers: int = 4
    cache_frames: bool = True        # on-disk frame cache: a second run decodes nothing
    cache_size: Optional[int] = None  # max frames kept per video (None = every annotated frame)
    cache_dir: Optional[str] = None  # default: <data_root>/../.refdet_cache
    negatives_per_video: int = 8     # sampled unannotated frames kept as background negatives
    augment: AugmentConfig = field(default_factory=AugmentConfig)


VERIFIER_KINDS = ("cnn", "dinov2", "mobilenetv2", "mobilenetv2_ft")  # model/verifier.py builds each
CUE_KINDS = ("mobilenetv2",)  # frozen embedders that can sit beside the verifier (VerifierConfig.cues)


@dataclass
class VerifierConfig:
    """The candidate verifier (model/verifier.py): a small embedding network for crops and reference photos."""

    kind: str = "cnn"                # cnn (trained by metric learning) | mobilenetv2_ft (ImageNet init, trained the
                                     # same way) | mobilenetv2 (ImageNet, frozen) | dinov2 (needs dino_weights)
    crop_size: int = 64              # crops and reference photos are resized to crop_size x crop_size
    context: float = 1.5             # a candidate's crop spans context x its box's longer side
    embed_dim: int = 128
    width: int = 16                  # channels of the first stage (x2 per stage, 4 stages): 0.28 M parameters
    top_k: int = 10                  # candidates per frame the verifier re-scores
    dino_weights: Optional[str] = None   # local DINOv2 ViT-S/14 file, for kind="dinov2"
    cues: tuple = ()                 # frozen pretrained embedders beside it, each one more cosine the decision
                                     # weighs: () or ("mobilenetv2",)
    cue_crop_size: int = 128         # the cues' crops (an ImageNet net wants more pixels than the 64 px CNN)
    cue_context: float = 1.6


# the calibration window: the first CALIB_FRAMES frames of the first CALIB_VIDEOS training videos (every caller's
# default: train-verifier, calibrate, the recipes, the card's decisions)
CALIB_VIDEOS, CALIB_FRAMES = 12, 60
IMGSZ_STRIDE = 32  # the head's coarsest stride (P5): a frame side must divide by it
IMGSZ_MIN = 64     # the smallest frame the network takes: P5 is then 2 x 2 cells


def check_imgsz(imgsz, what: str = "imgsz") -> int:
    """The one check of a frame size (ModelConfig.imgsz, --imgsz everywhere): InputError naming `what`."""
    if isinstance(imgsz, bool) or not isinstance(imgsz, int) or imgsz < IMGSZ_MIN or imgsz % IMGSZ_STRIDE:
        raise InputError(f"{what} must be a multiple of {IMGSZ_STRIDE}, at least {IMGSZ_MIN} (got {imgsz!r})")
    return imgsz


@dataclass
class ModelConfig:
    """The network and its input sizes (the one owner of imgsz and support_size: batches are made at the model's)."""

    imgsz: int = 640                 # query frames are letterboxed to imgsz x imgsz (multiple of 32)
    support_size: int = 518          # reference images resized for the ViT (multiple of 14); 518 on GPU as in the
                                     # guide, 224 or 112 for CPU lessons
    yolo_scale: str = "n"            # yolov8{n,s,m,...} (with backbone mobilenetv2: the neck's widths and depths)
    backbone: str = "yolov8"         # query backbone: yolov8 (random init or yolo_weights) | mobilenetv2 (the
                                     # ImageNet MobileNetV2 under YOLOv8's neck: model/mobilenet_backbone.py)
    p2: bool = False                 # a stride-4 level P2 in neck, fusion and head (yolov8-p2.yaml; mobilenetv2 only)
    yolo_weights: Optional[str] = None   # path to an ultralytics yolov8n.pt
    dino_model: str = "vit_small_patch14_dinov2"
    dino_weights: Optional[str] = None   # local file for timm's pretrained_cfg_overlay
    freeze_reference: bool = False
    appearance_match: bool = False  # add a low-level template-match score to the prototype score (model/match.py)
    reference_encoder: str = "dinov2"  # dinov2 (the guide's) | siamese (refs through the shared YOLO backbone;
                                     # support_size a multiple of 32, e.g. 64): see model/siamese.py | mobilenetv2
                                     # (the ImageNet MobileNetV2 in DINOv2's slot; a multiple of 32): reference.py
    reference_fusion: str = "mean"   # how K references of one object are fused: mean | tokens
    nc_base: int = 80                # standard-branch classes (base / stage 1 classes)
    embed_dim: int = 128             # prototype / anchor embedding width
    reg_max: int = 16
    head_mode: str = "dual"          # standard | prototype | dual
    num_ref_tokens: int = 16         # patch tokens kept per reference (pooled) for the fusion's attention
    bn_momentum: float = 0.1         # BatchNorm running-stat momentum (ultralytics uses 0.03, made for 100k+ steps;
                                     # 0.03 leaves eval-mode stats far off after the few hundred steps of a CPU lesson)
    verifier: Optional[VerifierConfig] = None  # a candidate verifier travelling with the detector (None: none)
    tiles: int = 0                   # inference: also look at every `tile_every`-th frame as tiles x tiles overlapping
    tile_every: int = 1              # tiles (ops/tiles.py; 0: off); set by `refdet calibrate --tiles`, which fits the
                                     # decision on those looks, so the scheme travels with the model it was fitted for
    window: float = 0.0              # inference: also look at a square `window` times smaller than the frame around the
                                     # best live track when its box is small (eval/search.Looks; 0: off)


@dataclass
class LossWeights:
    """Weights of the named loss components; a live mapping (the guide's dynamic weighting edits it in place)."""

    bbox: float = 7.5
    cls: float = 0.5
    dfl: float = 1.5
    supcon: float = 1.0
    cpe: float = 0.5
    triplet: float = 0.0

    def __getitem__(self, k: str) -> float:
        return getattr(self, k)

    def __setitem__(self, k: str, v: float) -> None:
        if k not in self.keys():
            raise KeyError(f"unknown loss component {k!r}; known: {', '.join(self.keys())}")
        setattr(self, k, float(v))

    def keys(self):
        return [f.name for f in fields(self)]

    def items(self):
        return [(k, getattr(self, k)) for k in self.keys()]

    def as_dict(self) -> dict:
        return dict(self.items())


LOSS_COMPONENTS: tuple[str, ...] = tuple(f.name for f in fields(LossWeights))  # the one list of component names


@dataclass
class LossConfig:
    supcon_temperature: float = 0.07
    cpe_temperature: float = 0.2
    cpe_iou_threshold: float = 0.6
    triplet_margin: float = 0.3
    triplet_batch_hard: bool = True
    wiou_momentum: float = 0.01      # running mean of L_IoU for WIoU v3's outlier degree
    tal_topk: int = 10
    tal_alpha: float = 0.5
    tal_beta: float = 6.0


# The guide's weights for each stage (stage 1: detection only; stage 3: reduced contrastive + triplet).
STAGE_PRESETS: dict[int, dict[str, float]] = {
    1: dict(bbox=7.5, cls=0.5, dfl=1.5, supcon=0.0, cpe=0.0, triplet=0.0),
    2: dict(bbox=7.5, cls=0.5, dfl=1.5, supcon=1.0, cpe=0.5, triplet=0.0),
    3: dict(bbox=7.5, cls=0.5, dfl=1.5, supcon=0.5, cpe=0.3, triplet=0.2),
}


def stage_weights(stage: int, **overrides: Optional[float]) -> LossWeights:
    """LossWeights for a stage, with explicit (non-None) overrides on top."""
    if stage not in STAGE_PRESETS:
        raise InputError(f"unknown stage {stage!r}: choose 1, 2 or 3")
    w = LossWeights(**STAGE_PRESETS[stage])
    for k, v in overrides.items():
        if v is not None:
            w[k] = v
    return w


@dataclass
class TrainConfig:
    stage: int = 2
    epochs: int = 100
    lr: float = 1e-4
    weight_decay: float = 0.05
    gradient_accumulation: int = 1
    mixed_precision: bool = False
    channels_last: bool = True       # NHWC activations: oneDNN (CPU) and tensor-core (CUDA) convs run faster
    checkpoint_dir: str = "./checkpoints"
    save_interval: int = 5
    warmup_epochs: float = 1.0
    grad_clip: float = 10.0
    lr_mult_reference: float = 0.1   # layer-wise LRs: DINOv2 x0.1, backbone x1, fusion x2, head x2
    lr_mult_backbone: float = 1.0
    lr_mult_fusion: float = 2.0
    lr_mult_head: float = 2.0
    lr_mult_pretrained: float = 0.1  # an ImageNet query backbone's pretrained layers (model/mobilenet_backbone.py)
    use_triplet: bool = False
    triplet_ratio: float = 0.3
    negative_strategy: str = "mixed"  # background | cross_class | mixed
    triplet_batch_size: int = 8
    resume: Optional[str] = None
    fine_tune: bool = False          # take only resume's weights and start at epoch 1 (a new run from trained weights)
    exist_ok: bool = False           # train into a folder that already holds a run, replacing it (train/run_folder.py)
    device: str = "auto"             # auto | cpu | cuda | cuda:N
    seed: int = 0


def to_dict(obj: Any) -> Any:
    """Dataclass (nested) -> plain dict, for saving next to checkpoints."""
    return dataclasses.asdict(obj) if dataclasses.is_dataclass(obj) else obj


def from_dict(cls, d: dict):
    """Build a dataclass from a dict, ignoring unknown keys (old checkpoints) and rebuilding nested dataclasses."""
    kw = {}
    for f in fields(cls):
        if f.name not in d:
            continue
        v = d[f.name]
        if f.name == "augment" and isinstance(v, dict):
            v = from_dict(AugmentConfig, v)
        if f.name == "verifier" and isinstance(v, dict):
            v = from_dict(VerifierConfig, v)
        if isinstance(v, list) and f.name in ("scale", "cues"):
            v = tuple(v)
        kw[f.name] = v
    return cls(**kw)
