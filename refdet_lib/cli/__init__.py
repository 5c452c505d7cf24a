"""`refdet` command line: train | evaluate | predict | export | synth | validate | demo | course.

The guide's `python train.py --stage 2 ...` and `python evaluate.py --checkpoint ...` flags are accepted unchanged
by `refdet train` / `refdet evaluate` (and by `python -m refdet_lib.train`). Wrong input gets one clear line on
stderr, never a traceback: exit code 2 for a wrong flag, 1 for bad data or a bad checkpoint. The person at the
keyboard needs to know *what* to fix.
"""
from __future__ import annotations

import argparse
import os
import sys

from .. import _env  # noqa: F401
from ..errors import CheckpointError, DatasetError, UsageError
from .train_args import add_train_args, configs_from_args, train_command, train_parser

__all__ = ["main", "build_parser", "add_train_args", "configs_from_args", "train_command", "train_parser",
           "UsageError"]


def build_parser() -> argparse.ArgumentParser:
    from . import handlers

    p = argparse.ArgumentParser(prog="refdet", description="Few-shot, reference-based object detection on drone "
                                "video (YOLOv8n-RefDet).")
    sub = p.add_subparsers(dest="command", required=True)
    add_train_args(sub.add_parser("train", help="train stage 1, 2 or 3 (the guide's train.py flags)"))
    handlers.add_parsers(sub)
    return p


def _dispatch(a) -> int:
    from . import handlers
    from .checks import check_flags

    check_flags(a)  # NaN/inf, --conf/--iou/--max_gap ranges, --device: before anything is loaded

    if a.command == "train":
        from ..train.run import run_training

        run_training(*configs_from_args(a))
        return 0
    return handlers.HANDLERS[a.command](a)


def main(argv=None) -> int:
    a = build_parser().parse_args(argv)
    try:
        return _dispatch(a)
    except UsageError as e:
        print(f"refdet {a.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"refdet {a.command}: interrupted", file=sys.stderr)
        return 130
    except (DatasetError, CheckpointError) as e:
        if os.environ.get("REFDET_DEBUG"):
            raise
        print(str(e) if isinstance(e, DatasetError) else f"refdet {a.command}: error: {e}", file=sys.stderr)
        return 1
    except (FileNotFoundError, ValueError, IOError) as e:
        if os.environ.get("REFDET_DEBUG"):
            raise
        print(f"refdet {a.command}: error: {e}", file=sys.stderr)
        return 2
