"""The library's messages: one `logging` logger, "refdet_lib", that every module writes to through a child
(`logging.getLogger(__name__)`), so a user quietens or redirects them in one place:

    refdet train -q ...                    # warnings only (no progress bars); -v: debug messages too
    refdet_lib.set_verbosity("warning")    # the same in a notebook or a script
    logging.getLogger("refdet_lib").addHandler(logging.FileHandler("run.log"))   # also to a file

Why a handler of our own: messages are written through `tqdm.write`, so they never tear a progress bar in half, and
to whatever `sys.stdout` is at that moment (Jupyter and pytest replace it after the library is imported). Progress
bars stay tqdm's; a command's results (its tables, the paths it wrote) are printed, not logged. Warnings (level
WARNING and above) read "warning: ..." and go to stderr.
"""
from __future__ import annotations

import logging
import sys

from tqdm import tqdm

from .errors import InputError

LOGGER = logging.getLogger("refdet_lib")
LEVELS = {"quiet": logging.WARNING, "warning": logging.WARNING, "info": logging.INFO, "debug": logging.DEBUG}


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        msg = super().format(record)
        return f"{record.levelname.lower()}: {msg}" if record.levelno >= logging.WARNING else msg


class TqdmStdout(logging.Handler):
    """One line per message, written with tqdm.write to the current sys.stdout (warnings: sys.stderr)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            out = sys.stderr if record.levelno >= logging.WARNING else sys.stdout  # warnings where warnings go
            tqdm.write(self.format(record), file=out)
        except Exception:  # noqa: BLE001 - logging's contract: a failing handler reports, never raises
            self.handleError(record)


def set_verbosity(level: str | int = "info") -> None:
    """"quiet" / "warning" (warnings only, no progress bars), "info" (the default), "debug", or a logging level."""
    if isinstance(level, str) and level not in LEVELS:
        raise InputError(f"verbosity {level!r}: choose one of {', '.join(LEVELS)}")
    LOGGER.setLevel(LEVELS[level] if isinstance(level, str) else int(level))


def bars(wanted: bool = True) -> bool:
    """Whether a progress bar is shown: where the caller wants one and the library is not quietened."""
    return bool(wanted) and LOGGER.isEnabledFor(logging.INFO)


def _install() -> None:
    if not any(isinstance(h, TqdmStdout) for h in LOGGER.handlers):
        h = TqdmStdout()
        h.setFormatter(_Formatter("%(message)s"))
        LOGGER.addHandler(h)
    LOGGER.propagate = False  # a root handler (logging.basicConfig) would print every message twice
    if LOGGER.level == logging.NOTSET:
        LOGGER.setLevel(logging.INFO)


_install()
