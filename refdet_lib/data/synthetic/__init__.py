"""Synthetic drone videos in the guide's dataset format, for lessons and tests that must run without real footage.

    <out>/samples/<video_id>/drone_video.mp4
    <out>/samples/<video_id>/object_images/img_1.jpg ... img_K.jpg
    <out>/annotations/annotations.json

What makes the task few-shot and drone-like, and so what this package models (one module per concern:
identities, shapes, canvas, ground, camera, plan, scene, references, writers):
- every video has one *target identity* (shape, two colours, a texture), seen small (about 12-60 px in a 640-wide
  frame) from a camera flying over textured ground (fields, roads, grass, roofs) with slow translation, heading and
  zoom drift, moving cloud shadows, tree canopies that occlude by parallax, blur, sensor noise and mp4 compression;
- the target is in view only for 1-3 stretches of frames (the annotation's intervals); only frames where enough of
  it is visible get a box, the tight box of its visible pixels;
- distractors of *other* identities (never the target's) share the ground, so "some object" is not enough: the
  detector must match the reference images;
- the references are close-ups of the same object under another angle, scale, tilt and light, on a plain or
  blurred background, as a person photographs a backpack before a search flight;
- train and test identities can be made disjoint in shape kind and colour hue (`split="train" | "test"`), so the
  test split measures generalisation to objects never seen in training.

Speed: the ground, its objects and the tree canopy are painted once per video on a "world" canvas; each frame is
a few `cv2.warpAffine` calls plus cheap effects: a 150-frame 640x360 video takes a few seconds on one core.
Determinism: one `np.random.default_rng([seed, video_index])` per video; the same seed gives identical annotations,
references and decoded frames.
"""
from .camera import CameraPath
from .identities import (  # noqa: F401
                         CATEGORY_WORDS,
                         HUE_BINS,
                         SHAPES,
                         TEST_SHAPES,
                         TEST_TEXTURES,
                         TEXTURES,
                         TRAIN_SHAPES,
                         TRAIN_TEXTURES,
                         ObjectIdentity,
                         _hsv_to_rgb,
                         _rgb_to_hsv,
                         sample_identities,
                         split_attributes,
)
from .plan import Placement, VideoPlan, intervals_ok, plan_video
from .references import render_reference
from .scene import RenderedFrame, VideoScene, default_object_size, make_video_scene
from .shapes import render_sprite, shape_polygons
from .writers import (
                         DATA_SAMPLES,
                         META_NAME,
                         generate_dataset,
                         load_meta,
                         make_data_samples,
                         make_training_set,
                         seen_identities,
                         write_base_set,
)

__all__ = ["CameraPath", "CATEGORY_WORDS", "HUE_BINS", "SHAPES", "TEST_SHAPES", "TEST_TEXTURES", "TEXTURES",
           "TRAIN_SHAPES", "TRAIN_TEXTURES", "ObjectIdentity", "sample_identities", "split_attributes", "Placement",
           "VideoPlan", "intervals_ok", "plan_video", "render_reference", "RenderedFrame", "VideoScene",
           "default_object_size", "make_video_scene", "render_sprite", "shape_polygons", "DATA_SAMPLES", "META_NAME",
           "generate_dataset", "load_meta", "make_data_samples", "make_training_set", "seen_identities",
           "write_base_set"]
