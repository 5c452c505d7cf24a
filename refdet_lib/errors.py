"""The errors a person sees. Each is printed as one line (or one list) by the CLI, never as a traceback.

- `UsageError`: a flag or argument the user got wrong (exit code 2).
- `DatasetError`: every problem found in a dataset, each naming file, video, frame and field (exit code 1).
- `CheckpointError`: a checkpoint that cannot be used (missing, unreadable, not a RefDet model, altered) (exit 1).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


class UsageError(Exception):
    """A problem with the user's input: printed as one line, exit code 2."""


class CheckpointError(ValueError):
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


class DatasetError(ValueError):
    """Raised with the full list of problems found in a dataset."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        lines = [f"{len(problems)} problem(s) in the dataset:"] + [f"  - {p}" for p in problems[:MAX_SHOWN]]
        if len(problems) > MAX_SHOWN:  # a 53 MB file of bad boxes listed 900,000 lines: the first ones say enough
            lines.append(f"  ... and {len(problems) - MAX_SHOWN} more (the first {MAX_SHOWN} shown; "
                         "`.problems` holds them all)")
        super().__init__("\n".join(lines))
