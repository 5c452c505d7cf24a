#!/usr/bin/env bash
# One call, on a machine with an NVIDIA GPU: the CUDA path end to end, in one report (under 10 minutes on one GPU).
#   1. the CUDA test (tests/test_gpu.py: forward/backward, fp16 autocast + GradScaler, pinned memory, channels-last)
#   2. a two-epoch `refdet train --device cuda --mixed_precision` on a generated set
#   3. bench_train_step.py at the guide's sizes (imgsz 640, references 518)
#   4. predict FPS: PyTorch on CUDA and onnxruntime-gpu (CUDA / TensorRT providers where installed)
# Never part of `make test`. On a machine without a GPU it says so and exits 3 before doing anything else.
#   bash benchmarks/gpu_check.sh [OUT_DIR]        (default runs/gpu_check; the report is OUT_DIR/report.txt)
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-runs/gpu_check}"
PY="${PY:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}"
mkdir -p "$OUT"
REPORT="$OUT/report.txt"
: > "$REPORT"
say() { echo "$*" | tee -a "$REPORT"; }

if ! "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
  say "gpu_check: no CUDA GPU on this machine (torch.cuda.is_available() is False): nothing to check here."
  say "Run it where a GPU is at hand; the CPU path is what make test covers."
  exit 3
fi
say "gpu_check $(date -u +%FT%TZ) on $("$PY" -c 'import torch; print(torch.cuda.get_device_name(0), "| torch", torch.__version__, "| CUDA", torch.version.cuda)')"
status=0
step() {  # step NAME CMD...: run, append its output, keep going on failure
  local name="$1"; shift
  say ""; say "== $name"
  local t0=$SECONDS
  if "$@" >"$OUT/$name.log" 2>&1; then say "ok ($((SECONDS - t0)) s)"; else say "FAILED ($((SECONDS - t0)) s)"; status=1; fi
  tail -n "${TAIL:-15}" "$OUT/$name.log" | tee -a "$REPORT"
}

step cuda_test "$PY" -m pytest -q -p no:cacheprovider tests/test_gpu.py
step synth "$PY" -m refdet_lib.cli synth "$OUT/data" --videos 4 --frames 40 --seed 7
step train_amp "$PY" -m refdet_lib.cli train --stage 2 --epochs 2 --n_way 2 --n_query 4 --n_episodes 20 \
  --mixed_precision --device cuda --num_workers 4 --imgsz 640 --support_size 518 \
  --data_root "$OUT/data/samples" --annotations "$OUT/data/annotations/annotations.json" \
  --checkpoint_dir "$OUT/train"
step train_step_bench "$PY" benchmarks/bench_train_step.py --imgsz 640 --support_size 518 --reps 10 --device cuda
step inference_bench "$PY" benchmarks/bench_inference.py --imgsz 640 --support-size 518 --reps 50 --device cuda
step export "$PY" -m refdet_lib.cli export --checkpoint "$OUT/train/last.pt" --out "$OUT/onnx"
step predict_fps "$PY" benchmarks/bench_onnx.py --imgsz 640 --support_size 518 --reps 50 --device cuda
say ""
say "gpu_check: $([ $status = 0 ] && echo 'all steps passed' || echo 'some steps FAILED (logs in '"$OUT"')')"
exit $status
