"""Data: annotations, video frames and their cache, the dataset, sampling, augmentation, batching, synthetic videos."""
from .annotations import (
           DatasetError,
           DatasetSummary,
           Problem,
           VideoAnnotation,
           parse_annotations,
           validate_dataset,
)
from .augment import Augmenter
from .collate import EpisodeCollator, EpisodeDataset, TripletDataset, make_loader
from .dataset import RefDetDataset
from .sampling import Episode, EpisodeSampler, TripletSampler, mixed_schedule
from .video import DECODE_STATS, FrameCache, iter_frames, read_frame, video_info

__all__ = ["DatasetError", "DatasetSummary", "Problem", "VideoAnnotation", "parse_annotations", "validate_dataset",
           "Augmenter", "EpisodeCollator", "EpisodeDataset", "TripletDataset", "make_loader",
           "RefDetDataset", "Episode", "EpisodeSampler", "TripletSampler", "mixed_schedule", "DECODE_STATS",
           "FrameCache", "iter_frames", "read_frame", "video_info"]
