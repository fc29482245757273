"""One running system per state directory.

Two live processes on one state directory would both send orders for the same
ledger and both rewrite ``trading_state.json`` and the journal's open orders.
``run`` therefore holds an exclusive ``flock`` on ``<state dir>/run.lock`` for
its whole life. The kernel drops the lock when the process ends, however it
ends (a crash or ``kill -9`` included), so a stale lock file never blocks the
next start.
"""

from __future__ import annotations

import fcntl
import os

from cryptoj_actors.state.layout import StateDir


class StateDirLocked(Exception):
    """Another process holds the state directory; the message names its pid."""


class StateDirLock:
    """An exclusive lock on a state directory, from :meth:`acquire` to
    :meth:`release`. The lock file holds the owner's pid, for the error
    message of the process that is refused."""

    def __init__(self, state_dir: StateDir) -> None:
        self.path = state_dir.lock
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock without waiting.

        Raises:
            StateDirLocked: another process holds it.
            OSError: the lock file cannot be created or opened.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            self._take(fd)
        except OSError as exc:
            os.close(fd)
            raise OSError(exc.errno, exc.strerror, str(self.path)) from None
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def _take(self, fd: int) -> None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
            raise StateDirLocked(f"state directory {self.path.parent} is in use by another "
                                 f"running system (pid {owner}); stop it first") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None
