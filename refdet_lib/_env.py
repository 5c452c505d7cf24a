"""Offline-friendly settings, applied before ultralytics, timm or albumentations are imported.

Users never set these by hand: ultralytics would otherwise try to download fonts and weights and to pip-install
missing packages, albumentations would check for updates, and huggingface_hub would reach for the hub.
OpenCV's FFmpeg log is quietened: bad input is reported once, as a DatasetError naming the file.
"""
from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def apply_offline_defaults() -> None:
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_AUTOINSTALL", "False")
    os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("YOLO_VERBOSE", "False")
    # FFmpeg's own decoder messages ("marker does not match f_code", one per damaged frame) would bury the one-line
    # error that names the video; the reader reports a damaged file itself (data/video.py, DatasetError)
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    # keep ultralytics' settings file inside the project (a source checkout) or the user's config dir
    cfg = PROJECT_ROOT / ".yolo_config" if (PROJECT_ROOT / "pyproject.toml").exists() else \
        Path.home() / ".config" / "refdet" / "yolo"
    os.environ.setdefault("YOLO_CONFIG_DIR", str(cfg))
    Path(os.environ["YOLO_CONFIG_DIR"]).mkdir(parents=True, exist_ok=True)


apply_offline_defaults()
