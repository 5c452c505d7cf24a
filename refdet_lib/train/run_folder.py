"""A run folder belongs to one run: an existing run is never replaced silently, two trainings never share a folder.

- Training into a folder that already holds a run (best_model.pt, last.pt, history.csv, ...) replaced all of it
  without a word (a new run's "New best model!" overwrote a better one). It is refused unless the run is continued
  (`--resume` of a checkpoint inside that folder) or replacing it is asked for (`--exist_ok`; the course's notebook
  helper `small_configs` asks, since re-running a notebook cell re-trains its run on purpose).
- Two trainings into one folder at once mixed their files (config from one, checkpoints from the other). A lock file,
  `<run>/.lock`, holds the PID of the run training there; the second is refused in one line naming it. The lock is
  an flock on that file, so the kernel releases it when the process dies however it dies (kill -9 included): a
  stale lock file is simply taken over. Where flock does not exist, a lock file whose PID is dead is taken over.
"""
from __future__ import annotations

import os
import socket
from contextlib import contextmanager
from pathlib import Path

from ..errors import UsageError

LOCK_NAME = ".lock"
RUN_FILES = ("best_model.pt", "last.pt", "interrupted.pt", "history.csv", "config.json")


def run_files(run_dir: Path) -> list[str]:
    """The files of a run a new run would overwrite (checkpoint_epoch_N.pt included)."""
    if not run_dir.is_dir():
        return []
    return sorted({p.name for p in run_dir.iterdir() if p.name in RUN_FILES or
                   (p.name.startswith("checkpoint_epoch_") and p.suffix == ".pt")})


def check_run_folder(run_dir: str | Path, resume: str | None = None, exist_ok: bool = False) -> None:
    """UsageError when `run_dir` holds a run that this one neither continues nor was told to replace."""
    run_dir = Path(run_dir)
    have = run_files(run_dir)
    if not have or exist_ok:
        return
    if resume and Path(resume).resolve().parent == run_dir.resolve():
        return  # --resume of its own checkpoint: this run continues that one
    shown = ", ".join(have[:4]) + (", ..." if len(have) > 4 else "")
    raise UsageError(f"--checkpoint_dir {run_dir} already holds a run ({shown}): --resume {run_dir / 'last.pt'} "
                     "continues it, --exist_ok replaces it, or give another --checkpoint_dir")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def _holder(path: Path) -> str:
    try:
        return path.read_text().strip() or "unknown"
    except OSError:
        return "unknown"


def _refuse(run_dir: Path, holder: str) -> UsageError:
    pid, _, host = holder.partition(" ")
    where = f" on {host}" if host and host != socket.gethostname() else ""
    return UsageError(f"--checkpoint_dir {run_dir} is in use by another training (PID {pid}{where}; its lock: "
                      f"{run_dir / LOCK_NAME}): wait for it to end, or give another --checkpoint_dir")


@contextmanager
def run_lock(run_dir: str | Path):
    """Hold `<run_dir>/.lock` (with this PID) while the body runs; UsageError naming the PID holding it."""
    run_dir = Path(run_dir)
    created = not run_dir.exists()
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        with _locked(run_dir) as path:
            yield path
    finally:
        if created and run_dir.is_dir() and not any(run_dir.iterdir()):
            run_dir.rmdir()  # a run that failed before writing anything leaves no empty folder behind


@contextmanager
def _locked(run_dir: Path):
    path = run_dir / LOCK_NAME
    me = f"{os.getpid()} {socket.gethostname()}"
    try:
        import fcntl
    except ImportError:  # no flock (Windows): the PID in the file decides
        fcntl = None
    if fcntl is None:
        if path.exists():
            pid = _holder(path).split(" ")[0]
            if pid.isdigit() and int(pid) != os.getpid() and _alive(int(pid)):
                raise _refuse(run_dir, _holder(path))
        path.write_text(me + "\n")
        try:
            yield path
        finally:
            path.unlink(missing_ok=True)
        return
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise _refuse(run_dir, _holder(path)) from None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:  # not a file its last holder removed between our open and our lock
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, (me + "\n").encode())
        yield path
    finally:
        path.unlink(missing_ok=True)  # while still locked: no one can hold the removed file's lock meanwhile
        os.close(fd)


@contextmanager
def claim_run_folder(run_dir: str | Path, resume: str | None = None, exist_ok: bool = False, main: bool = True):
    """Both checks for a training run: the folder is free of another run (or continued / replaced on purpose), and
    locked for this one. Only the main process of a multi-process run locks; every process checks."""
    if not main:
        check_run_folder(run_dir, resume, exist_ok)
        yield None
        return
    with run_lock(run_dir) as lock:  # first: a folder in use says by whom, whatever it holds yet
        check_run_folder(run_dir, resume, exist_ok)
        yield lock
