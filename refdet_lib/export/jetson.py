"""The TensorRT recipe written beside the exported graphs (JETSON.md)."""

JETSON_RECIPE = """\
TensorRT on a Jetson (JetPack 5/6, trtexec ships with it):

  # FP16 engines, built on the Jetson itself (engines are not portable between GPUs)
  trtexec --onnx=reference_encoder.onnx --saveEngine=reference_encoder_fp16.engine --fp16 \\
          --minShapes=support:1x1x3x{R}x{R} --optShapes=support:1x3x3x{R}x{R} --maxShapes=support:4x5x3x{R}x{R}
  trtexec --onnx=detector.onnx --saveEngine=detector_fp16.engine --fp16 \\
          --minShapes=images:1x3x{S}x{S},prototypes:1x{D} --optShapes=images:1x3x{S}x{S},prototypes:1x{D} \\
          --maxShapes=images:8x3x{S}x{S},prototypes:4x{D}
          (give the same min/opt/max object count for sp3..sp5 and tok3..tok5; with the appearance match also
          parts:Cx(K*9)x32, whose second axis grows with the number of reference photos)
  # INT8: use the QDQ model written by `refdet export --int8` (calibration already inside)
  trtexec --onnx=detector_int8.onnx --saveEngine=detector_int8.engine --int8 --fp16 ...same shapes...
  # measure: trtexec --loadEngine=detector_fp16.engine --shapes=images:1x3x{S}x{S},... --iterations=200

New target: run reference_encoder once on the new photos and feed its outputs (seven, or eight with the appearance
match) to the detector engine.
No re-export, no rebuild. Set the Jetson to max clocks first (sudo nvpmodel -m 0 && sudo jetson_clocks).

The whole pipeline on the Jetson, with this project's own code (what `refdet predict --onnx` runs anywhere):
  pip install onnxruntime-gpu        # the Jetson Zoo / JetPack wheel, which has the TensorRT execution provider
  pip install -e .                   # refdet_lib, from a checkout of this project
  refdet predict --onnx . --video drone_video.mp4 --references img_1.jpg img_2.jpg img_3.jpg
It runs these graphs under onnxruntime with the TensorRT provider first (then CUDA, then CPU): letterbox, box
decoding, NMS, the verifier on each frame's top candidates (verifier.onnx), the calibrated decision (export.json)
and the tracker around them, the same functions as the PyTorch path; `refdet evaluate --onnx .` scores it.
"""
