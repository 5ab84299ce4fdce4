"""The worker lock: the one worker serving a store from this machine holds an exclusive lock on a file beside the
store (filelock: flock on POSIX, LockFileEx on Windows; the system frees it however the worker ends). The file names
the holder's pid and host, for those who ask who serves, after its first byte: Windows locks that byte, and no other
handle, not even the holder's own, may read or write it."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from filelock import FileLock, Timeout

from engine.errors import UserError
from engine.paths import why_not

# Someone asking whether a worker lives holds the lock for a moment (see `worker_pid`), so a worker starting at that
# moment tries again for this long before it gives way.
ACQUIRE_SECONDS = 1.0
POLL_SECONDS = 0.05
HOLDER_AT = 1  # the holder's words start after the byte Windows locks


def lock_path(store_path: Path) -> Path:
    return store_path.with_name(f"{store_path.name}.worker")


class WorkerLock:
    """Held by the worker serving a store. A child the worker forks does not keep it: filelock closes the child's
    copy of the descriptor (and on Linux the child dies with its worker anyway)."""

    def __init__(self, store_path: Path):
        self.path = lock_path(store_path)
        self.lock = FileLock(self.path)

    def acquire(self, seconds: float = ACQUIRE_SECONDS) -> bool:
        """Whether this process now holds the lock, having tried for `seconds` (0: once)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.lock.acquire(timeout=seconds, poll_interval=POLL_SECONDS)
        except Timeout:
            return False
        except OSError as error:
            raise unusable(self.path, error) from None
        with self.path.open("r+b") as file:  # not truncated from the start: that would write the locked byte
            file.seek(HOLDER_AT)
            file.write(f"{os.getpid()} {socket.gethostname()}\n".encode())
            file.truncate()
        return True

    def release(self) -> None:
        if self.lock.is_locked:
            self.lock.release()


def worker_pid(store_path: Path) -> int | None:
    """The pid of the worker serving this store from this machine (-1 when its file does not say), or None when
    there is none."""
    held = holder_of(store_path)
    return None if held is None else held[0]


def holder_of(store_path: Path) -> tuple[int, str] | None:
    """The pid and host name of the worker holding the store's lock (-1 and '' where its file does not say), or
    None when no worker holds it."""
    path = lock_path(store_path)
    if not path.exists():
        return None
    probe = FileLock(path)
    try:
        probe.acquire(timeout=0)
    except Timeout:  # held: a worker lives (Timeout is an OSError, so it is caught first)
        return holder(path)
    except OSError as error:
        raise unusable(path, error) from None
    probe.release()
    return None


def holder(path: Path) -> tuple[int, str]:
    """The pid and host the lock's holder wrote in it; -1 and '' when it has not yet, or it cannot be read."""
    try:
        with path.open("rb") as file:
            file.seek(HOLDER_AT)
            words = file.read().decode(errors="replace").split()
    except OSError:
        return -1, ""
    if len(words) != 2 or not words[0].isdigit():
        return -1, ""
    return int(words[0]), words[1]


def unusable(path: Path, error: OSError) -> UserError:
    """One sentence for a lock file that cannot be opened: a folder in its place, or the place's own trouble."""
    if path.is_dir():
        return UserError(f"The worker's lock {path} is a folder, not a file; move it aside (or remove it), then run "
                         "again.")
    return UserError(f"The worker's lock {path} cannot be opened ({why_not(path.parent, error)}); set DERMALAB_HOME "
                     "to a writable folder, then run again.")
