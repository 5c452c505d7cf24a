"""`python -m refdet_lib.data.synthetic [ROOT] [--style realistic|simple]`: regenerate data_samples/ exactly, with
the contact sheets its README shows."""
import argparse
from pathlib import Path

from .preview import preview_sheet
from .writers import make_data_samples

p = argparse.ArgumentParser(prog="python -m refdet_lib.data.synthetic", description=__doc__)
p.add_argument("root", nargs="?", default="data_samples")
p.add_argument("--style", default="realistic", choices=["realistic", "simple"])
a = p.parse_args()
root = make_data_samples(a.root, style=a.style)
for split in ("train", "test"):  # the pictures data_samples/README.md shows
    preview_sheet(Path(root) / split, Path(root) / f"preview_{split}.jpg")
print(f"wrote {root} (and its preview_train.jpg, preview_test.jpg)")
