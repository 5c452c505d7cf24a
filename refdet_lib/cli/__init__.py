"""`refdet` command line: train | evaluate | predict | export | synth | validate | demo | course.

The guide's `python train.py --stage 2 ...` and `python evaluate.py --checkpoint ...` flags are accepted unchanged
by `refdet train` / `refdet evaluate` (and by `python -m refdet_lib.train`). Wrong input gets one clear line on
stderr, never a traceback: exit code 2 for a wrong flag or value (UsageError, InputError) or a file that cannot be
read or written (OSError), 1 for bad data or a bad checkpoint (DatasetError, CheckpointError). The person at the
keyboard needs to know *what* to fix. Anything else is a bug in the library: its traceback, then a line asking for
a report, exit code 70 (refdet_lib/errors.py). REFDET_DEBUG=1 shows the traceback of an input error too.
"""
from __future__ import annotations

import argparse
import os
import sys
import traceback

from .. import _env  # noqa: F401
from ..errors import BUG_EXIT, BUG_REPORT, CheckpointError, DatasetError, InputError, UsageError
from ..log import set_verbosity
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
    for s in sub.choices.values():  # on every command, after its name: `refdet train ... -q`
        g = s.add_mutually_exclusive_group()
        g.add_argument("-q", "--quiet", action="store_true", help="the library's warnings only: no progress messages "
                       "or bars (a command's results are still printed)")
        g.add_argument("-v", "--verbose", action="store_true", help="the library's debug messages too")
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
    set_verbosity("warning" if a.quiet else "debug" if a.verbose else "info")
    try:
        return _dispatch(a)
    except UsageError as e:
        print(f"refdet {a.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"refdet {a.command}: interrupted", file=sys.stderr)
        return 130
    except (InputError, OSError) as e:
        if os.environ.get("REFDET_DEBUG"):
            raise
        # a DatasetError's own text lists every problem, each naming file, video and field
        print(str(e) if isinstance(e, DatasetError) else f"refdet {a.command}: error: {e}", file=sys.stderr)
        return 1 if isinstance(e, (DatasetError, CheckpointError)) else 2
    except Exception as e:  # noqa: BLE001 - not the user's input: a bug, shown whole
        import torch

        if isinstance(e, torch.OutOfMemoryError):  # the machine's limit, not a bug: say what to lower
            print(f"refdet {a.command}: error: out of memory ({str(e).splitlines()[0][:120]}); lower --batch_size "
                  "(or --n_way / --n_query) or --imgsz", file=sys.stderr)
            return 1
        traceback.print_exc()
        print(f"refdet {a.command}: {BUG_REPORT}", file=sys.stderr)
        return BUG_EXIT
