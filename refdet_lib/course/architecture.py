"""The pipeline drawn from a built model (notebook 00): what runs once per target, what runs on every frame, and what
turns the head's candidates into one box per frame. Every label is read from the model (its parts, their parameter
counts, the levels' strides and channels, the sizes), so the picture changes when the model does."""
from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.patches import FancyBboxPatch

ONCE, FRAME, AFTER = "#dbe9f6", "#fde2c8", "#e2f0d9"  # once per target / every frame / after the network


def _box(ax, x, y, w, h, title, lines, color):
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02,rounding_size=0.08", fc=color, ec="#444",
                                lw=1.0))
    ax.text(x + w / 2, y + h - 0.16, title, ha="center", va="top", fontsize=9, weight="bold")
    ax.text(x + w / 2, y + h - 0.46, "\n".join(lines), ha="center", va="top", fontsize=7.5, linespacing=1.35)


def _arrow(ax, a, b, text=""):
    ax.annotate("", xy=b, xytext=a, arrowprops=dict(arrowstyle="-|>", lw=1.1, color="#333"))
    if text:
        ax.text((a[0] + b[0]) / 2, (a[1] + b[1]) / 2 + 0.08, text, ha="center", va="bottom", fontsize=7,
                color="#333")


def draw_architecture(model, n_refs: int = 3):
    """The model's pipeline as a figure: reference branch (top), frame branch (middle), decision chain (bottom)."""
    cfg = model.config
    rep = model.parameter_report(verbose=False)
    count = {k.split(" (")[0]: (k, v["params"]) for k, v in rep.items()}
    S, R, d = cfg.imgsz, cfg.support_size, cfg.embed_dim
    strides, channels = tuple(model.strides), tuple(model.backbone.channels)
    anchors = sum((S // s) ** 2 for s in strides)

    def part(name):
        key, n = count[name]
        inner = key.split(" (", 1)[1][:-1] if " (" in key else ""
        return inner, f"{n:,} parameters"

    fig, ax = plt.subplots(figsize=(12.5, 5.6))
    ax.set_xlim(0, 12.5)
    ax.set_ylim(0, 5.6)
    ax.axis("off")
    enc_name, enc_n = part("reference encoder")
    _box(ax, 0.1, 4.1, 1.9, 1.3, "reference photos", [f"{n_refs} per object", f"3 x {R} x {R}"], ONCE)
    _box(ax, 2.6, 4.1, 2.6, 1.3, "reference encoder", [enc_name, enc_n, "set_references: once per target"], ONCE)
    _box(ax, 5.8, 4.1, 2.2, 1.3, "prototypes", [f"one {d}-d vector per object", "+ reference features"], ONCE)
    _arrow(ax, (2.0, 4.75), (2.6, 4.75))
    _arrow(ax, (5.2, 4.75), (5.8, 4.75))

    bb_name, bb_n = part("backbone + neck")
    lv = [f"P{s.bit_length() - 1} (/{s}): {c} ch" for s, c in zip(strides, channels)]
    levels = [", ".join(lv[i:i + 2]) for i in range(0, len(lv), 2)]
    _box(ax, 0.1, 2.2, 1.9, 1.3, "drone frame", ["letterboxed", f"3 x {S} x {S}"], FRAME)
    _box(ax, 2.6, 2.1, 2.6, 1.45, "backbone + neck", [bb_name, bb_n, *levels], FRAME)
    _box(ax, 5.8, 2.2, 2.2, 1.3, "fusion (CHEAF)", [part("fusion")[1], "gates each level by", "the prototypes"], FRAME)
    head_name, head_n = part("head")
    _box(ax, 8.6, 2.2, 2.3, 1.3, f"head ({head_name})", [head_n, f"{anchors:,} anchors:", "box + score per object"],
         FRAME)
    _arrow(ax, (2.0, 2.85), (2.6, 2.85))
    _arrow(ax, (5.2, 2.85), (5.8, 2.85), "maps")
    _arrow(ax, (8.0, 2.85), (8.6, 2.85))
    _arrow(ax, (6.9, 4.1), (6.9, 3.5), "")
    _arrow(ax, (7.6, 4.1), (9.4, 3.5), "prototype score")
    if "appearance match" in count:
        ax.text(3.9, 2.05, f"+ appearance match ({count['appearance match'][1]:,} parameters): stride-4 template "
                "match of each frame against parts of the photos", ha="center", va="top", fontsize=7, color="#555")

    verifier = getattr(model, "verifier", None)
    chain = [("candidates", ["NMS, top-k boxes", "in frame pixels"]),
             ("verifier", [f"crop embeddings ({verifier.config.kind})" if verifier is not None else "none in this model",
                           "cosine to the photos"]),
             ("decision", ["p = sigmoid(a logit(s)", "+ b cos + c) >= threshold"]),
             ("tracker", ["one box per frame", "gaps bridged"])]
    x = 1.2
    for i, (title, lines) in enumerate(chain):
        _box(ax, x, 0.2, 2.2, 1.25, title, lines, AFTER)
        if i:
            _arrow(ax, (x - 0.6, 0.82), (x, 0.82))
        x += 2.8
    _arrow(ax, (9.75, 2.1), (2.3, 1.45))
    ax.text(9.0, 5.2, "once per target", fontsize=9, color="#2b5d8a", va="top", style="italic")
    ax.text(11.0, 3.3, "every frame", fontsize=9, color="#a0521d", va="top", style="italic")
    ax.text(0.1, 1.0, "after the\nnetwork\n(predict)", fontsize=9, color="#3d7a2a", va="top", style="italic")
    fig.tight_layout()
    return fig
