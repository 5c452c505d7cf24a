"""`python -m refdet_lib.train --stage 2 ...`: the guide's `python train.py` habit, same flags as `refdet train`."""
import sys

from ..cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
