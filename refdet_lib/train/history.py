"""The training record: `history.csv` (one row per epoch), `training.log` (the guide's parse_logs.py reads it) and
the experiments table in the runs folder (the guide's "document your experiments", done for the user)."""
from __future__ import annotations

import csv
import io
import logging
import time
from pathlib import Path
from typing import Optional

from ..config import LOSS_COMPONENTS as COMPONENTS
from .checkpoint import atomic_write_text

log = logging.getLogger(__name__)


def columns(components=COMPONENTS) -> list[str]:
    """history.csv's header for a criterion whose loss terms are `components` (its `components` attribute)."""
    return (["epoch", "train_loss"] + [f"train_{c}" for c in components] + ["val_loss"] +
            [f"val_{c}" for c in components] + ["lr", "seconds", "skipped_steps", "triplet_steps"])



class History:
    """Rows of per-epoch metrics, rewritten atomically to history.csv after every epoch; one column per loss term
    of the run's criterion (`components`: the detector's six by default, the crop verifier's two)."""

    def __init__(self, run_dir: str | Path, rows: Optional[list[dict]] = None, components=COMPONENTS):
        self.run_dir = Path(run_dir)
        self.rows: list[dict] = list(rows or [])
        self.columns = columns(components)

    def append(self, row: dict) -> None:
        self.rows = [r for r in self.rows if r["epoch"] < row["epoch"]] + [row]
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=self.columns, extrasaction="ignore")
        w.writeheader()
        for r in self.rows:
            w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in self.columns})
        atomic_write_text(buf.getvalue(), self.run_dir / "history.csv")

    def log(self, text: str) -> None:
        with open(self.run_dir / "training.log", "a") as f:
            f.write(text.rstrip("\n") + "\n")

    def best(self, key: str = "val_loss") -> Optional[dict]:
        rows = [r for r in self.rows if r.get(key) is not None]
        return min(rows, key=lambda r: r[key]) if rows else None


def read_history(path: str | Path):
    """history.csv (or its run folder) -> pandas DataFrame."""
    import pandas as pd

    p = Path(path)
    if p.is_dir():
        p = p / "history.csv"
    if not p.exists():
        raise FileNotFoundError(f"no history.csv at {p}")
    return pd.read_csv(p)


def append_experiment(runs_root: str | Path, row: dict) -> Path:
    """One row per run in <runs_root>/experiments.csv (created with a header the first time)."""
    path = Path(runs_root) / "experiments.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    row = {"date": time.strftime("%Y-%m-%d %H:%M"), **row}
    new = not path.exists()
    if not new:
        try:
            with open(path, encoding="utf-8") as f:
                header = next(csv.reader(f), [])
        except (UnicodeDecodeError, csv.Error) as e:  # the run is saved: a log it cannot extend must not fail it
            log.warning(f"{path} is not a CSV text file ({type(e).__name__}): this run's row was not added (its own "
                        "files are saved; move that file away to start a new log)")
            return path
        if header != list(row):
            new_keys = header + [k for k in row if k not in header]
            import pandas as pd
            try:
                df = pd.read_csv(path)
            except ValueError as e:  # pandas' ParserError: rows it cannot split
                log.warning(f"{path} cannot be read as a table ({str(e)[:120]}): this run's row was not added")
                return path
            df = pd.concat([df, pd.DataFrame([row])], ignore_index=True)[new_keys]
            atomic_write_text(df.to_csv(index=False), path)
            return path
    with open(path, "a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(row))
        if new:
            w.writeheader()
        w.writerow(row)
    return path
