"""`refdet export`: the ONNX graphs, their parity with PyTorch, the Jetson recipe and (--int8) a calibrated QDQ INT8
detector with its accuracy cost measured, all recorded in export.json beside the graphs."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from ..errors import UsageError

OPSETS = (17, 20)  # LayerNorm needs 17; the exporter of the pinned torch writes up to 20


def export(a) -> int:
    from ..export import JETSON_RECIPE, export_onnx, parity_check
    from ..model.artifact import Artifact
    from ..model.loading import load_model

    if not OPSETS[0] <= a.opset <= OPSETS[1]:
        raise UsageError(f"--opset must be between {OPSETS[0]} and {OPSETS[1]} (got {a.opset})")
    if a.calib_frames < 1:
        raise UsageError(f"--calib_frames must be >= 1 (got {a.calib_frames})")
    if not Path(a.checkpoint).exists():
        raise UsageError(f"--checkpoint {a.checkpoint} does not exist")
    model = load_model(a.checkpoint, "cpu")
    calib = None
    if a.int8:  # find the calibration data before writing anything
        cfg = Artifact.load(a.checkpoint).record.get("config") or {}  # the run's data config
        root = Path(a.calib_data or (cfg.get("data") or {}).get("data_root") or "data_samples/train/samples")
        if not root.is_dir():
            raise UsageError(f"--calib_data {root} is not a folder of videos (the training data_root)")
    out = Path(a.out) if a.out else Path(a.checkpoint).parent / "onnx"
    fresh = not out.exists()
    try:
        paths = export_onnx(model, out, opset=a.opset)
    except Exception:
        if fresh:  # nothing half-written left behind
            shutil.rmtree(out, ignore_errors=True)
        raise
    par = parity_check(model, out)
    for k, p in paths.items():
        print(f"{k + ':':<19}{p}")
    print("parity (max |PyTorch - onnxruntime|): " + ", ".join(f"{k} {v:.2e}" for k, v in par.items()))
    ok = max(par.values()) <= 1e-3
    meta_path = out / "export.json"
    meta = json.loads(meta_path.read_text())
    meta["parity"] = par
    if a.int8:
        from ..export.quantize import calibration_set, int8_accuracy, quantize_int8

        calib = calibration_set(root, n=a.calib_frames)
        q = quantize_int8(out, calib=calib)
        print(f"INT8 detector (static QDQ, calibrated on {len(calib)} frames of {root}): {q}")
        meta["int8"] = {"file": q.name, "format": "QDQ static", "calibration": {"data": str(root),
                                                                                 "frames": len(calib)}}
        if a.test_data_root:
            acc = int8_accuracy(out, a.test_data_root, a.test_annotations, a.eval_frames)
            meta["int8"]["accuracy"] = {**acc, "test_data_root": a.test_data_root, "frames": a.eval_frames or "all"}
            print(f"accuracy on {a.test_data_root} (3-shot, tracked): mAP@0.5 FP32 {acc['fp32']['map50']:.3f}, "
                  f"INT8 {acc['int8']['map50']:.3f} (delta {acc['map50_delta']:+.3f}); ST-IoU "
                  f"{acc['fp32']['st_iou']:.3f} -> {acc['int8']['st_iou']:.3f}")
    meta_path.write_text(json.dumps(meta, indent=1, default=float))
    cfg = model.config
    (out / "JETSON.md").write_text(JETSON_RECIPE.format(R=cfg.support_size, S=cfg.imgsz, D=cfg.embed_dim))
    print(f"TensorRT / Jetson recipe: {out / 'JETSON.md'}; report: {meta_path}")
    return 0 if ok else 1
