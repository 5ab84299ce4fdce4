"""Questions about the processes of this machine that dermalab starts: when one started, whether it is still alive,
which processes another one started, and signalling one only while it is still the one recorded. The one place
that asks the system (through psutil)."""

from __future__ import annotations

import os
import signal

import psutil

# Two readings of one process's start time agree to the clock tick; a pid the system handed to another process
# started at another moment. A second leaves room for the wall clock being stepped between the two readings.
SAME_START_SECONDS = 1.0


def started(pid: int | None = None) -> float:
    """When a process (default: this one) started, in seconds since the epoch: recorded beside its pid, it tells the
    process apart from a later one given the same pid."""
    return psutil.Process(pid).create_time()


def alive(pid: int | None, started_at: float | None = None, *, started_by: float | None = None,
          command: str | None = None) -> bool:
    """Whether the process recorded as `pid` still runs and is still that process (None: no process was recorded).
    It is told apart from a later one given the same pid (PIDs are reused, and from 1 in each container's PID
    namespace) by what was recorded: `started_at`, its start time; `started_by`, a moment it had started by (a pid
    written down after its process began, as a cluster task's); `command`, words its command line holds. Without
    any of them (a row written before they were recorded), any live process with that pid counts; a process that has
    ended but is not yet reaped (a zombie) never does."""
    return _is_recorded(pid, started_at, started_by, command, unreadable=True)


def _is_recorded(pid: int | None, started_at: float | None, started_by: float | None, command: str | None,
                 unreadable: bool) -> bool:
    """`alive`'s answer; `unreadable`: the answer for a process whose details the system will not show."""
    if not pid:
        return False
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        began = process.create_time()
        return ((started_at is None or abs(began - started_at) < SAME_START_SECONDS)
                and (started_by is None or began < started_by + SAME_START_SECONDS)
                and (command is None or command in " ".join(process.cmdline())))
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return unreadable


def interrupt(pid: int, signum: int = signal.SIGINT, *, started_at: float | None = None,
              started_by: float | None = None, command: str | None = None) -> bool:
    """Sends `signum` to `pid` only if it is still the process recorded (see `alive`); returns whether it was sent.
    On Linux the check and the signal go through one handle on the process (a pidfd), so a process that ends between
    them cannot pass its pid to another that then gets the signal."""
    opened = getattr(os, "pidfd_open", None)
    try:
        handle = opened(pid) if opened else None
    except ProcessLookupError:
        return False
    try:
        # a process whose details are hidden is never signalled: left running is better than signalled on a guess
        if not _is_recorded(pid, started_at, started_by, command, unreadable=False):
            return False
        if handle is None:
            os.kill(pid, signum)
        else:
            signal.pidfd_send_signal(handle, signum)
        return True
    except ProcessLookupError:  # it ended meanwhile
        return False
    finally:
        if handle is not None:
            os.close(handle)


def children(pid: int, command: str | None = None) -> list[int]:
    """The pids of the processes `pid` started (none when it has ended), those whose command line holds `command`
    when given."""
    try:
        kids = psutil.Process(pid).children()
    except psutil.NoSuchProcess:
        return []
    return [kid.pid for kid in kids if alive(kid.pid, command=command)]
