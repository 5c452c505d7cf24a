"""CHEAF: Cross-scale Hybrid Efficient Attention Fusion of reference evidence into the query features.

Per scale i (x_i: (B, c_i, h_i, w_i), N_i = h_i * w_i positions):
  local  : depthwise 3x3 ("short") + depthwise dilated 5x5 ("long", 9x9 reach) convs, FiLM-modulated by the reference
           prototype. Cheap context around each position, tuned to what we look for.
  global : cross attention from the N_i query positions to the M reference tokens: O(N_i * M), linear in N_i
           (M = C objects x num_ref_tokens is small and fixed), so it scales to 640 px where N x N attention would not.
  one 1x1 Conv mixes local and global evidence (one conv instead of two: on a CPU the per-op cost dominates).
then a top-down (P5 -> P4 -> P3) and bottom-up (P3 -> P4 -> P5) pass shares evidence across scales (a small object
seen at P3 and its context at P5), and finally two gates decide how much evidence each position takes:
  channel gate (B, c_i, 1, 1) from the prototype and the pooled evidence; spatial gate (B, 1, h_i, w_i) from the
  evidence map. out_i = x_i + gate_c * gate_s * evidence_i, so the pretrained YOLO features stay the base.
With C reference objects in an episode, the tokens of all C objects are concatenated and the prototypes averaged, so
one forward serves the whole n_way episode (the head separates the objects).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from ultralytics.nn.modules import Conv, DWConv


class LocalBranch(nn.Module):
    """Short + long depthwise convs modulated (FiLM) by the prototype. (B, c, h, w), (c,) -> (B, c, h, w)."""

    def __init__(self, c: int):
        super().__init__()
        self.short = nn.Conv2d(c, c, 3, padding=1, groups=c, bias=False)
        self.long = nn.Conv2d(c, c, 5, padding=4, dilation=2, groups=c, bias=False)
        self.film = nn.Linear(c, 2 * c)
        nn.init.zeros_(self.film.weight)  # start as identity modulation (scale 1, shift 0)
        nn.init.zeros_(self.film.bias)

    def forward(self, x: torch.Tensor, proto: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.film(proto).chunk(2, -1)  # (c,), (c,)
        u = self.short(x) + self.long(x)  # (B, c, h, w)
        return u * (1 + gamma.view(1, -1, 1, 1)) + beta.view(1, -1, 1, 1)


class GlobalBranch(nn.Module):
    """Query positions attend to reference tokens (multi-head). (B, c, h, w), (M, c) -> (B, c, h, w); cost O(N*M*c).

    No output projection here: CHEAF's shared 1x1 mix plays that role."""

    def __init__(self, c: int, head_dim: int = 32):
        super().__init__()
        self.heads = max(1, c // head_dim)
        self.q = nn.Conv2d(c, c, 1)
        self.kv = nn.Linear(c, 2 * c)

    def forward(self, x: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        nh, dh = self.heads, c // self.heads
        q = self.q(x).view(b, nh, dh, h * w).transpose(2, 3)  # (B, nh, N, dh)
        k, v = self.kv(tokens).to(q.dtype).chunk(2, -1)  # (M, c) each
        k = k.view(1, -1, nh, dh).transpose(1, 2).expand(b, -1, -1, -1)  # (B, nh, M, dh)
        v = v.view(1, -1, nh, dh).transpose(1, 2).expand(b, -1, -1, -1)  # (B, nh, M, dh)
        o = F.scaled_dot_product_attention(q, k, v)  # (B, nh, N, dh): softmax over the M tokens only
        return o.transpose(2, 3).reshape(b, c, h, w)


class Gates(nn.Module):
    """Channel gate (from prototype + pooled evidence) and spatial gate (from the evidence map)."""

    def __init__(self, c: int):
        super().__init__()
        self.channel = nn.Linear(2 * c, c)
        self.spatial = nn.Conv2d(2, 1, 7, padding=3)

    def forward(self, e: torch.Tensor, proto: torch.Tensor) -> torch.Tensor:
        b, c = e.shape[:2]
        pooled = e.mean((2, 3))  # (B, c)
        gc = torch.sigmoid(self.channel(torch.cat([proto.to(e.dtype).expand(b, c), pooled], -1)))  # (B, c)
        gs = torch.sigmoid(self.spatial(torch.cat([e.mean(1, keepdim=True), e.amax(1, keepdim=True)], 1)))  # (B,1,h,w)
        return e * gc.view(b, c, 1, 1) * gs


class CHEAF(nn.Module):
    """[P3, P4, P5] + reference dict (scale_protos, tokens) -> [P3', P4', P5'] of the same shapes."""

    def __init__(self, channels=(64, 128, 256)):
        super().__init__()
        self.channels = tuple(channels)
        n = len(channels)
        self.local = nn.ModuleList(LocalBranch(c) for c in channels)
        self.glob = nn.ModuleList(GlobalBranch(c) for c in channels)
        self.mix = nn.ModuleList(Conv(2 * c, c, 1) for c in channels)  # [local ; global] -> evidence
        # top-down: coarse (i+1) -> fine (i), 1x1 channel match then nearest upsample
        self.top_down = nn.ModuleList(Conv(channels[i + 1], channels[i], 1) for i in range(n - 1))
        # bottom-up: fine (i) -> coarse (i+1), grouped 3x3 stride-2 conv (ultralytics DWConv: groups = gcd(c1, c2))
        self.bottom_up = nn.ModuleList(DWConv(channels[i], channels[i + 1], 3, 2) for i in range(n - 1))
        self.gates = nn.ModuleList(Gates(c) for c in channels)

    def forward(self, feats: list[torch.Tensor], scale_protos: list[torch.Tensor],
                tokens: list[torch.Tensor]) -> list[torch.Tensor]:
        # scale_protos[i]: (C, c_i) -> episode prototype (c_i,); tokens[i]: (C, M, c_i) -> (C*M, c_i)
        protos = [p.mean(0) for p in scale_protos]
        toks = [t.reshape(-1, t.shape[-1]) for t in tokens]
        z = [x + self.mix[i](torch.cat([self.local[i](x, protos[i]), self.glob[i](x, toks[i])], 1))
             for i, x in enumerate(feats)]  # (B, c_i, h_i, w_i)
        for i in range(len(z) - 2, -1, -1):  # top-down
            z[i] = z[i] + F.interpolate(self.top_down[i](z[i + 1]), size=z[i].shape[-2:], mode="nearest")
        for i in range(1, len(z)):  # bottom-up
            z[i] = z[i] + self.bottom_up[i - 1](z[i - 1])
        return [x + self.gates[i](z[i] - x, protos[i]) for i, x in enumerate(feats)]
