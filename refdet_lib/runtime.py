"""Where and how tensors run: device choice, bf16 capability, channels-last, batches to the device, CPU counts.

Every layer that runs a model (training, evaluation, inference, export, the course) takes these from here, so a
GPU is used when there is one and the CPU is picked quietly when there is not.
"""
from __future__ import annotations

import os

import torch
import torch.nn as nn

from .errors import InputError


def select_device(name: str = "auto") -> torch.device:
    """auto -> CUDA when there is one, else the CPU, without a word (CPU is a normal place to learn)."""
    if name in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise InputError(f"--device {name!r}: expected auto, cpu, cuda or cuda:N") from None
    if dev.type not in ("cpu", "cuda"):  # torch knows mps, meta, xpu...: the project runs on a CPU or CUDA
        raise InputError(f"--device {name}: expected auto, cpu, cuda or cuda:N (the project runs on a CPU or an "
                         "NVIDIA GPU)")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"--device {name}: CUDA is not available on this machine (use --device cpu or auto)")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise InputError(f"--device {name}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    return dev


def cpu_has_native_bf16() -> bool:
    """True where bfloat16 matmuls/convs run natively (Intel AMX or AVX512-BF16). Elsewhere (most laptops, AMD Zen 3)
    oneDNN emulates bf16 and an autocast training step runs ~10x slower than float32: measured on a 2-core EPYC."""
    cpu = getattr(torch, "cpu", None)
    checks = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    return any(getattr(cpu, c, lambda: False)() for c in checks)


def use_channels_last(model: nn.Module) -> nn.Module:
    """Convolution weights (and so activations) in NHWC. On a CPU oneDNN runs YOLOv8n's thin convs ~1.25x faster
    forward + backward (benchmarks/bench_train_step.py); on CUDA with AMP, tensor cores want NHWC. Only 4-D
    tensors change layout; values, state_dict keys and checkpoints are the same as with NCHW."""
    return model.to(memory_format=torch.channels_last)


def batch_to(batch: dict, device: torch.device, channels_last: bool = False) -> dict:
    """Every tensor of a batch on `device` (non-blocking from pinned memory on CUDA); query frames NHWC if asked."""
    nb = device.type == "cuda"
    out = {k: (v.to(device, non_blocking=nb) if torch.is_tensor(v) else v) for k, v in batch.items()}
    if channels_last and "query" in out:
        out["query"] = out["query"].contiguous(memory_format=torch.channels_last)
    return out


def available_cpus() -> int:
    """CPUs this process may run on (the affinity mask: a container's limit, not the host's core count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def usable_workers(requested: int, world: int = 1) -> int:
    """DataLoader workers per training process: at most the CPUs each process gets, as ultralytics does. The guide's
    default of 4 on a 2-core laptop would start 4 decoders fighting the training step (and torch warns about it)."""
    return max(0, min(requested, available_cpus() // max(world, 1)))


def machine_name() -> str:
    """The machine figures come from, as cards and benchmarks print it: CPU model, the cores this process may use,
    whether bf16 is native there (mixed precision then trains in bf16; else float32), and the GPU if any."""
    import platform

    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            name = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), name)
    except OSError:
        pass
    gpu = f", GPU {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""
    return f"{name}, {available_cpus()} cores, {'native' if cpu_has_native_bf16() else 'no native'} bf16{gpu}"
