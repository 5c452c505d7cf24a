"""Data: annotations, video frames and their cache, the dataset, sampling, augmentation, batching, synthetic videos."""
from .annotations import DatasetError, DatasetSummary, Problem, VideoAnnotation, parse_annotations, validate_dataset
from .augment import Augmenter
from .collate import EpisodeCollator, EpisodeDataset, TripletDataset, make_loader, support_tensor
from .dataset import RefDetDataset
from .sampling import Episode, EpisodeSampler, TripletSampler, mixed_schedule
from .transforms import boxes_from_letterbox, boxes_to_letterbox, letterbox
from .video import DECODE_STATS, FrameCache, iter_frames, read_frame, video_info

__all__ = ["DatasetError", "DatasetSummary", "Problem", "VideoAnnotation", "parse_annotations", "validate_dataset",
           "Augmenter", "EpisodeCollator", "EpisodeDataset", "TripletDataset", "make_loader", "support_tensor",
           "RefDetDataset", "Episode", "EpisodeSampler", "TripletSampler", "mixed_schedule", "boxes_from_letterbox",
           "boxes_to_letterbox", "letterbox", "DECODE_STATS", "FrameCache", "iter_frames", "read_frame", "video_info"]
