"""The errors a person sees. Each is printed as one line (or one list) by the CLI, never as a traceback.

- `UsageError`: a flag or argument the user got wrong (exit code 2).
- `InputError`: something the user gave is wrong: a config value, an argument of a public function, a file's
  content (exit code 2). The two below are kinds of it.
- `DatasetError`: every problem found in a dataset, each naming file, video, frame and field (exit code 1).
- `CheckpointError`: a checkpoint that cannot be used (missing, unreadable, not a RefDet model, altered) (exit 1).

Anything else that escapes a command is a bug in the library, not the user's input: the CLI shows its traceback and
asks for a report (`BUG_REPORT`, exit code 70, sysexits' EX_SOFTWARE). So a check of what the user gave raises one
of these; a check of the library's own invariants (a loss handed mismatched tensors) raises a plain ValueError.
All but UsageError are ValueErrors, so code that catches ValueError keeps working.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


class UsageError(Exception):
    """A problem with the user's input: printed as one line, exit code 2."""


BUG_EXIT = 70
BUG_REPORT = ("this is a bug in refdet_lib, not a problem with your input: please report it with the traceback above "
              "and the command you ran")


class InputError(ValueError):
    """Something the user gave (a config value, an argument, a file's content) is wrong: one line, exit code 2."""


class CheckpointError(InputError):
    """A checkpoint file that cannot be loaded as a RefDet model: printed as one line naming the file, exit code 1."""


@dataclass
class Problem:
    """One thing wrong with the dataset, located as precisely as we can."""

    file: str
    message: str
    video_id: Optional[str] = None
    frame: Optional[int] = None
    field: Optional[str] = None

    def __str__(self) -> str:
        where = [self.file]
        if self.video_id is not None:
            where.append(f"video_id={self.video_id}")
        if self.frame is not None:
            where.append(f"frame={self.frame}")
        if self.field is not None:
            where.append(f"field={self.field}")
        return f"{' | '.join(where)}: {self.message}"


MAX_SHOWN = 50  # problems printed; DatasetError.problems keeps every one


class DatasetError(InputError):
    """Raised with the full list of problems found in a dataset."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        lines = [f"{len(problems)} problem(s) in the dataset:"] + [f"  - {p}" for p in problems[:MAX_SHOWN]]
        if len(problems) > MAX_SHOWN:  # a 53 MB file of bad boxes listed 900,000 lines: the first ones say enough
            lines.append(f"  ... and {len(problems) - MAX_SHOWN} more (the first {MAX_SHOWN} shown; "
                         "`.problems` holds them all)")
        super().__init__("\n".join(lines))
