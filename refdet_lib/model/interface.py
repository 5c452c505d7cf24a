"""The one interface a reference detector implements: what every face above the model (predict_video, evaluate,
calibrate, the demo, the notebooks) calls, whichever engine runs underneath.

    RefDet (model/refdet.py)           PyTorch, training and inference
    OnnxRefDet (export/runner.py)      the exported graphs under onnxruntime (a Jetson's TensorRT provider)
    TemplateMatcher (eval/baseline.py) the training-free floor, OpenCV's normalised cross-correlation

Each splits a frame's path the same way (detectron2's preprocess -> inference -> postprocess):

    set_references(images)    the K photos embedded once a video (the detector's prototypes, the verifier's and the
                              cues' embeddings)
    propose(images, ...)      letterbox -> network -> NMS: per image (boxes, det_scores, labels), the k best
    predict(frames, ...)      propose on the frame and the chosen looks (ops/tiles.frame_candidates merges them),
                              then the verifier, the cues and the calibrated decision (model/verifier.decide_candidates)
                              -> per frame {boxes, scores, labels, det_scores, cosines, scale}, best first

and the reference search (eval/search.ReferenceSearch: the looks per frame, batches, tracking) runs above it, for
every face and every engine alike. `decision` is passed,
never swapped on the model: `predict(..., decision=Decision())` gives the detector's raw candidates, which is what
calibration (eval/calibration.py) collects before it fits the decision the checkpoint then carries.
"""
from __future__ import annotations

import inspect
from typing import Optional, Protocol, runtime_checkable

import numpy as np

Candidates = tuple[np.ndarray, np.ndarray, np.ndarray]  # boxes (n, 4) xyxy image pixels, det_scores (n,), labels (n,)


@runtime_checkable
class ReferenceDetector(Protocol):
    @property
    def num_references(self) -> int:
        """Reference objects cached by set_references (0: none yet)."""

    @property
    def looks(self) -> dict:
        """{"tiles", "tile_every", "window"}: the proposal scheme the decision was calibrated with (the search's
        default)."""

    def set_references(self, images: list[np.ndarray]) -> "ReferenceDetector":
        """RGB uint8 photos of one object, embedded once; returns self."""

    def clear_references(self) -> None:
        """Forget the cached references."""

    def propose(self, images: list[np.ndarray], conf: float, iou: float, k: int) -> list[Candidates]:
        """Preprocess -> inference -> postprocess: per image its k best candidates in the image's own pixels."""

    def predict(self, frames, conf: float = 0.25, iou: float = 0.5, max_det: int = 100, batch_size: int = 16,
                tiles: int = 0, tiled=None, windows=None,
                decision: Optional[object] = None) -> list[dict]:
        """Per frame {boxes, scores, labels, det_scores, cosines, scale}, scores >= conf, best first."""


# predict's parameters by name, as every engine must spell them (tests/test_interface.py compares signatures)
PREDICT_PARAMETERS = tuple(inspect.signature(ReferenceDetector.predict).parameters)[1:]
