"""SIGTERM (a scheduler or `kill` stopping the job) handled as Ctrl-C, at a safe point of the training loop.

The handler only records the signal, and the loop asks `check()` between steps, between validation batches and
between epochs: an exception raised wherever the signal lands was measured to be lost (inside torch.save's C++
writer, or in a `__del__` Python reports as "ignored"), and one raised mid-write could cut a checkpoint. So a
SIGTERM ends the run within one step: interrupted.pt is written, last.pt stays at the last finished epoch.

The state is the object's own (one per Trainer): no module-level list shared by every run in the process.
"""
from __future__ import annotations

import signal
import threading
from typing import Optional


class StopSignal:
    """`with stop:` installs the SIGTERM handler for a fit (main thread only, where Python delivers signals);
    `stop.check()` raises KeyboardInterrupt once a SIGTERM has arrived."""

    def __init__(self) -> None:
        self.received: Optional[int] = None
        self._old = self._mask = None

    def check(self) -> None:
        if self.received is not None:
            raise KeyboardInterrupt(f"signal {self.received}")

    def _record(self, signum, _frame) -> None:
        self.received = signum  # acted on by the next check()

    def __enter__(self) -> "StopSignal":
        self.received = None
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGTERM, self._record)
            # a parent that blocked SIGTERM passes its mask on to the processes it starts: unblock it for the run
            self._mask = signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM])
        return self

    def __exit__(self, *exc) -> None:
        if self._old is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, self._mask)
            signal.signal(signal.SIGTERM, self._old)
            self._old = self._mask = None
        self.received = None
