"""Deployment: ONNX graphs (reference encoder + detector), the onnxruntime runner with RefDet's interface, parity
against PyTorch, INT8 quantisation and the Jetson / TensorRT recipe."""
from .graphs import REF_OUTPUTS, DetectorGraph, ReferenceGraph, export_onnx, ref_outputs
from .jetson import JETSON_RECIPE
from .quantize import quantize_int8
from .runner import OnnxRefDet, latency, parity_check

__all__ = ["REF_OUTPUTS", "DetectorGraph", "ReferenceGraph", "export_onnx", "parity_check", "ref_outputs",
           "JETSON_RECIPE", "quantize_int8", "OnnxRefDet", "latency"]
