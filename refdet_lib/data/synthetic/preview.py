"""A contact sheet of a generated dataset: per video, frames with the target's box and its reference photos (what
data_samples/README.md shows). Written with OpenCV alone, so making the data needs no plotting library."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..annotations import VIDEO_NAME, list_reference_images, parse_annotations
from ..video import iter_frames


def preview_sheet(root, out_png, videos: int = 4, frames: int = 3) -> Path:
    """For the first `videos` videos: `frames` annotated frames (the box drawn 3 px outside the object, so the
    object itself stays visible), the target enlarged from the middle frame, and the references. Returns the
    image's path (JPEG when it ends in .jpg)."""
    root = Path(root)
    anns = parse_annotations(root / "annotations" / "annotations.json")
    rows = []
    for vid in sorted(anns)[:videos]:
        fr = anns[vid].frames
        picks = [fr[int(k * (len(fr) - 1) / max(frames - 1, 1))] for k in range(frames)] if fr else list(range(frames))
        imgs = dict(iter_frames(root / "samples" / vid / VIDEO_NAME, picks))
        tiles = []
        for f in picks:
            im = imgs[f].copy()
            for x1, y1, x2, y2 in anns[vid].boxes.get(f, np.zeros((0, 4))).astype(int):
                cv2.rectangle(im, (x1 - 3, y1 - 3), (x2 + 2, y2 + 2), (255, 40, 40), 1, cv2.LINE_AA)
            cv2.putText(im, f"{vid}  frame {f}", (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1,
                        cv2.LINE_AA)
            tiles.append(cv2.resize(im, (im.shape[1] // 2, im.shape[0] // 2), interpolation=cv2.INTER_AREA))
        h = tiles[0].shape[0]
        # the target up close (the middle frame, enlarged): what the detector has to find
        f = picks[len(picks) // 2]
        b = anns[vid].boxes.get(f)
        if b is not None and len(b):
            x1, y1, x2, y2 = b[0]
            c, half = ((x1 + x2) / 2, (y1 + y2) / 2), max(x2 - x1, y2 - y1) * 1.2 + 12
            im = imgs[f]
            X0, Y0 = int(max(c[0] - half, 0)), int(max(c[1] - half, 0))
            patch = im[Y0:int(c[1] + half), X0:int(c[0] + half)]
            tiles.append(cv2.resize(patch, (h, h), interpolation=cv2.INTER_NEAREST))
        refs = []
        for p in list_reference_images(root / "samples" / vid)[:5]:
            r = cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB)
            refs.append(cv2.resize(r, (int(r.shape[1] * h / r.shape[0]), h), interpolation=cv2.INTER_AREA))
        rows.append(np.concatenate(tiles + refs, 1))
    width = max(r.shape[1] for r in rows)
    sheet = np.concatenate([np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows])
    out = Path(out_png)
    params = [cv2.IMWRITE_JPEG_QUALITY, 88] if out.suffix.lower() in (".jpg", ".jpeg") else []
    cv2.imwrite(str(out), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR), params)
    return out



