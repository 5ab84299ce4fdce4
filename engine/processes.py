"""Questions about the processes of this machine that dermalab starts: when one started, whether it is still alive,
and which processes another one started. The one place that asks the system (through psutil)."""

from __future__ import annotations

import psutil

# Two readings of one process's start time agree to the clock tick; a pid the system handed to another process
# started at another moment. A second leaves room for the wall clock being stepped between the two readings.
SAME_START_SECONDS = 1.0


def started(pid: int | None = None) -> float:
    """When a process (default: this one) started, in seconds since the epoch: recorded beside its pid, it tells the
    process apart from a later one given the same pid."""
    return psutil.Process(pid).create_time()


def alive(pid: int | None, started_at: float | None = None) -> bool:
    """Whether the process recorded as `pid`, started at `started_at`, still runs (None: no process was recorded).
    Without a start time (a row written before it was recorded), any live process with that pid counts; a process
    that has ended but is not yet reaped (a zombie) does not."""
    if not pid:
        return False
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        return started_at is None or abs(process.create_time() - started_at) < SAME_START_SECONDS
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:  # another user's: it exists; better left running than called dead on a guess
        return True


def children(pid: int) -> list[int]:
    """The pids of the processes `pid` started (none when it has ended)."""
    try:
        return [child.pid for child in psutil.Process(pid).children()]
    except psutil.NoSuchProcess:
        return []
