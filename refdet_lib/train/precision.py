"""What a training step computes in, and how its gradients reach the optimizer.

- CUDA with `mixed_precision`: float16 autocast and a GradScaler (float16's narrow range underflows small
  gradients; the scaler multiplies the loss up and the gradients back down, and skips a step whose gradients
  overflowed).
- CPU with `mixed_precision`: bfloat16 autocast, only where the CPU computes bf16 natively (AMX or AVX512-BF16);
  emulated bf16 runs ~10x slower than float32, so elsewhere float32, said once. bf16 has float32's range: no scaler.
- Otherwise float32.

`step` is the loop's one backward: loss / accumulation, backward, and on the last micro-batch unscale, clip, step,
schedule. A non-finite loss or gradient norm skips the step (gradients dropped) and returns False, so the loop can
count it instead of poisoning the weights.
"""
from __future__ import annotations

import contextlib
import logging

import torch

from ..runtime import cpu_has_native_bf16

log = logging.getLogger(__name__)


class Precision:
    def __init__(self, device: torch.device, mixed_precision: bool, say=log.info):
        cuda = device.type == "cuda"
        self.device_type = device.type
        self.amp_dtype = None
        if mixed_precision:
            if cuda:
                self.amp_dtype = torch.float16
            elif device.type == "cpu" and cpu_has_native_bf16():
                self.amp_dtype = torch.bfloat16
                say("mixed precision on the CPU: bfloat16 autocast (no GradScaler needed)")
            elif device.type == "cpu":
                say("mixed precision: this CPU has no native bfloat16 (AMX / AVX512-BF16), where bf16 autocast "
                    "runs ~10x slower than float32: training in float32")
        self.scaler = torch.amp.GradScaler("cuda", enabled=cuda and mixed_precision)

    def autocast(self):
        """The forward pass's context: autocast to amp_dtype, or nothing."""
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self.amp_dtype)

    def step(self, loss: torch.Tensor, optimizer, scheduler, params, accumulation: int, grad_clip: float,
             do_step: bool) -> bool:
        """Backward (scaled, accumulated) and, when do_step, unscale + clip + step + schedule. False: skipped."""
        if not torch.isfinite(loss):
            optimizer.zero_grad(set_to_none=True)
            return False
        self.scaler.scale(loss / accumulation).backward()
        if not do_step:
            return True
        self.scaler.unscale_(optimizer)
        norm = torch.nn.utils.clip_grad_norm_(params, grad_clip)
        if not torch.isfinite(norm):
            optimizer.zero_grad(set_to_none=True)
            self.scaler.update()
            return False
        self.scaler.step(optimizer)
        self.scaler.update()
        optimizer.zero_grad(set_to_none=True)
        scheduler.step()
        return True
