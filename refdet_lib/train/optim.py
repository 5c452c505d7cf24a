"""The optimizer and its schedule: AdamW with the guide's layer-wise learning rates, linear warm-up then cosine.

    DINOv2 reference encoder x0.1, YOLOv8 backbone x1, CHEAF fusion (+ reference projections) x2, head x2

and, with an ImageNet query backbone (ModelConfig.backbone "mobilenetv2"), its pretrained layers x0.1 as a group of
their own, "pretrained" (the neck beside them is new: x1 with "backbone").

Biases and norm weights get no weight decay (decaying a bias or a LayerNorm gain only hurts).
"""
from __future__ import annotations

import math
from typing import Callable

import torch

from ..config import TrainConfig

# parameter-name prefix -> TrainConfig multiplier attribute (the guide's layer-wise learning rates)
LR_GROUPS = (("reference", "lr_mult_reference"), ("backbone", "lr_mult_backbone"), ("fusion", "lr_mult_fusion"),
             ("head", "lr_mult_head"), ("pretrained", "lr_mult_pretrained"))


def param_groups(model: torch.nn.Module, cfg: TrainConfig) -> list[dict]:
    """AdamW groups per component x (decay | no decay); biases and norm weights get no weight decay.

    Components come from `model.component_parameters()` (RefDet puts the new reference projections with the
    fusion, so only the pretrained ViT gets the x0.1 rate); other modules are grouped by parameter-name prefix.
    """
    if hasattr(model, "component_parameters"):
        comps = model.component_parameters()
    else:
        comps = {}
        for name, p in model.named_parameters():
            comps.setdefault(next((g for g, _ in LR_GROUPS if name.startswith(g)), "head"), []).append(p)
    mult = dict(LR_GROUPS)
    out = []
    for comp, ps in comps.items():
        for decay in (True, False):
            sel = [p for p in ps if p.requires_grad and (p.ndim > 1) == decay]
            if not sel:
                continue
            m = getattr(cfg, mult[comp])
            out.append({"params": sel, "lr": cfg.lr * m, "initial_lr": cfg.lr * m,
                        "weight_decay": cfg.weight_decay if decay else 0.0,
                        "name": f"{comp}{'' if decay else '_no_decay'}"})
    return out


def warmup_cosine(total_steps: int, warmup_steps: int, final_ratio: float = 0.01) -> Callable[[int], float]:
    def f(step: int) -> float:
        if warmup_steps and step < warmup_steps:
            return (step + 1) / warmup_steps
        t = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return final_ratio + (1 - final_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, t)))
    return f
