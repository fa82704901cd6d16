"""Stopping a run cleanly, and one run per folder.

SIGINT (Ctrl+C) and SIGTERM (a scheduler's pre-emption) both stop training at the next batch boundary, where
the state is whole; ``last.ckpt`` is saved there and :class:`RunInterrupted` says how to resume; the command
exits with ``128 + signal number`` (130, 143), so schedulers and ``&&`` chains see that the run did not finish.
A second Ctrl+C stops at once. :class:`RunLock` keeps a second process from training in the same folder.
"""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; runs are not guarded there
    fcntl = None

LOCK_FILE = "train.lock"


class RunInterrupted(BaseException):
    """A run stopped by a signal after saving ``last.ckpt``; ``exit_status`` is ``128 + signum``.

    Not an ``Exception``, as ``KeyboardInterrupt`` is not: a stop is not a failure, and no ``except Exception``
    takes it for one. Hydra records a job's ``Exception`` and its launchers start the sweep's next run; this
    stops the sweep with the run.
    """

    def __init__(self, signum: int, out_dir: str | Path, step: int):
        self.signum = signum
        self.exit_status = 128 + signum
        last = Path(out_dir) / "checkpoints" / "last.ckpt"
        name = signal.Signals(signum).name
        super().__init__(f"stopped by {name} at step {step} with {last} saved; run the same command again to resume")


class RunLockedError(OSError):
    """Another live process is training in the folder."""


class StopSignals:
    """While active (a context manager, in the main thread only): records which of SIGINT and SIGTERM arrived
    first, and turns the first SIGINT into SIGTERM, which Lightning (its handler composes with this one) answers
    by stopping at the next batch boundary. Outside Lightning's training loop, where there is nothing to save, and
    at a second SIGINT, the process exits at once with ``128 + signum``."""

    def __init__(self):
        self.received: int | None = None
        self._previous: dict[int, object] = {}

    def _training(self) -> bool:
        """Whether Lightning's SIGTERM handler is installed, i.e. the training loop is running."""
        return signal.getsignal(signal.SIGTERM) != self._on_sigterm

    def _on_sigint(self, signum, frame) -> None:
        if self.received == signal.SIGINT or not self._training():
            raise SystemExit(128 + signum)
        self.received = self.received or signal.SIGINT
        signal.raise_signal(signal.SIGTERM)

    def _on_sigterm(self, signum, frame) -> None:
        self.received = self.received or signal.SIGTERM
        if not self._training():
            raise SystemExit(128 + signum)

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            self._previous = {
                signal.SIGINT: signal.signal(signal.SIGINT, self._on_sigint),
                signal.SIGTERM: signal.signal(signal.SIGTERM, self._on_sigterm),
            }
        return self

    def __exit__(self, *exc) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)


class RunLock:
    """An exclusive lock on ``out_dir/train.lock`` for the life of a run (a context manager).

    The kernel holds the lock (``flock``) and drops it when the process ends however it ends, so the lock of
    a dead process is taken over at once. The file holds the owner's pid, for the error message.
    """

    def __init__(self, out_dir: str | Path):
        self.path = Path(out_dir) / LOCK_FILE
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        if fcntl is None:
            return self
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise RunLockedError(
                f"another seqvae process (pid {owner}) is training in {self.path.parent}; wait for it to end or "
                "stop it (Ctrl+C or kill saves its last checkpoint), or choose another out_dir"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
