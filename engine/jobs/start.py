"""How a job's process starts, decided here only. On Linux the worker forks (it imported torch once, and no CUDA
was initialised in it, so a child trains at once). Where `os.fork` is missing (Windows), or unsafe (macOS: a process
that loaded Apple's system libraries may crash in a child forked without an exec, which is why Python's
multiprocessing spawns there since 3.8), the child is a fresh interpreter (`python -m engine.jobs.child`) that reads
its job from a pipe and imports torch itself: seconds more per job. DERMALAB_START=spawn forces the fresh
interpreter on Linux too (CI runs the queue's tests so); DERMALAB_START=fork asks for fork where it exists.

A child never outlives its worker: a forked one asks Linux to kill it when its parent dies (PR_SET_PDEATHSIG); a
spawned one watches the pipe from its worker, which the system closes however the worker ends, and stops then (its
run is stored as interrupted by the next look at the queue, as after a kill -9). The same pipe carries the worker's
signals to a spawned child, so cancelling and stopping need no signal the platform lacks."""

from __future__ import annotations

import contextlib
import ctypes
import os
import pickle
import queue
import signal
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable
from typing import Any, Protocol

import psutil

from engine.errors import UserError

METHOD = "DERMALAB_START"  # fork or spawn; unset: fork on Linux, spawn elsewhere
METHODS = ("fork", "spawn")
CHILD_MODULE = "engine.jobs.child"
# On Windows a child of a worker without a console would open a window of its own; it needs none, as its output is
# the worker's log and the worker's Ctrl-C reaches it through the pipe.
NO_WINDOW = getattr(subprocess, "CREATE_NO_WINDOW", 0) if sys.platform == "win32" else 0


def method() -> str:
    """How this process starts a job's child: DERMALAB_START when set, else fork on Linux and spawn elsewhere. The
    commands that start jobs ask before they queue or claim any, so a bad setting is one sentence, not a job lost."""
    asked = os.environ.get(METHOD, "").strip().lower()
    if asked and asked not in METHODS:
        raise UserError(f"The environment's {METHOD}={asked} is no way to start a job; set fork or spawn, or unset "
                        "it.")
    if asked == "fork" and not hasattr(os, "fork"):
        raise UserError(f"The environment's {METHOD}=fork cannot be had, as this system has no fork; set spawn, or "
                        "unset it.")
    if asked:
        return asked
    return "fork" if sys.platform.startswith("linux") and hasattr(os, "fork") else "spawn"


class Started(Protocol):
    """A job's child process, however it started."""

    pid: int

    def poll(self) -> int | None:
        """Its exit code once it has ended (minus the signal that ended it, where signals end processes)."""

    def signal(self, signum: int) -> None:
        """Ask it to stop (SIGINT: a cancel; SIGTERM: the worker's own stop); it stores its run first."""

    def kill(self) -> None:
        """Stop it now, as the last resort."""


def start(how: str, payload: tuple[Any, ...], train: Callable[..., int]) -> Started:
    """A child that returns from `train(*payload)` into nothing but its own exit: forked from this process (`how`,
    as `method` answered), or a fresh interpreter given `train` (by its module and name) and the payload (which must
    pickle) through its pipe; there `train` gets the keyword `listening` too (see engine.jobs.child)."""
    if how == "fork":
        return Forked.start(payload, train)
    return Spawned(payload, train)


class Forked:
    """A child forked from the worker; its exit code comes from waitpid."""

    def __init__(self, pid: int):
        self.pid = pid

    @classmethod
    def start(cls, payload: tuple[Any, ...], train: Callable[..., int]) -> Forked:
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                die_with(parent)
                code = train(*payload)
            finally:
                os._exit(code)  # never back into the worker's loop
        return cls(pid)

    def poll(self) -> int | None:
        pid, status = os.waitpid(self.pid, os.WNOHANG)
        return None if pid == 0 else os.waitstatus_to_exitcode(status)

    def signal(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signum)

    def kill(self) -> None:
        self.signal(signal.SIGKILL)


def die_with(worker: int) -> None:
    """A forked child must not outlive its worker: after a kill -9 of the worker, nobody would answer for its run.
    Linux does it on request (fork is only chosen where Linux is, or where the user asked for it)."""
    if sys.platform.startswith("linux"):
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != worker:  # the worker died before the request took effect
            os._exit(1)


class Spawned:
    """A child started as a fresh interpreter. Its stdin is a pipe from the worker: first `train` and the payload,
    pickled, then one line per signal the worker sends (by a thread, so that a child still importing torch never
    holds up the worker's loop). Its output is the worker's own (the log)."""

    def __init__(self, payload: tuple[Any, ...], train: Callable[..., int]):
        self.process = subprocess.Popen([sys.executable, "-m", CHILD_MODULE], stdin=subprocess.PIPE,
                                        creationflags=NO_WINDOW)
        self.pid = self.process.pid
        self.orders: queue.SimpleQueue[int | None] = queue.SimpleQueue()
        threading.Thread(target=self._write, args=(train, payload), daemon=True, name=f"pipe to {self.pid}").start()

    def _write(self, train: Callable[..., int], payload: tuple[Any, ...]) -> None:
        pipe = self.process.stdin
        assert pipe is not None, "started with stdin=PIPE"
        try:
            pickle.dump((train, payload), pipe, protocol=pickle.HIGHEST_PROTOCOL)
            pipe.flush()
            while (signum := self.orders.get()) is not None:
                pipe.write(b"%d\n" % signum)
                pipe.flush()
        except OSError:  # the child has gone: nothing more to tell it
            pass
        except Exception:  # a job that will not pickle: the child, sent no job, exits, and the job fails (see the log)
            traceback.print_exc()
        finally:
            with contextlib.suppress(OSError):
                pipe.close()

    def poll(self) -> int | None:
        code = self.process.poll()
        if code is not None:
            self.orders.put(None)  # the writer closes the pipe and ends
        return code

    def signal(self, signum: int) -> None:
        self.orders.put(signum)

    def kill(self) -> None:
        self.process.kill()


def listen(pipe: Any, on_signal: Callable[[int], None], on_end: Callable[[], None]) -> threading.Thread:
    """In a spawned child, once the payload is read: a thread that passes each signal the worker sends to
    `on_signal`, and calls `on_end` when the pipe closes (the worker has ended, however)."""

    def follow() -> None:
        with contextlib.suppress(OSError, ValueError):
            for line in pipe:
                on_signal(int(line))
        on_end()

    thread = threading.Thread(target=follow, daemon=True, name="worker's pipe")
    thread.start()
    return thread


def lower_priority(niceness: int) -> None:
    """Training gives way to interactive programs: a niceness on POSIX, the class below normal on Windows."""
    process = psutil.Process()
    if sys.platform == "win32":
        process.nice(psutil.BELOW_NORMAL_PRIORITY_CLASS)
    else:
        process.nice(process.nice() + niceness)


def detached() -> dict[str, Any]:
    """Popen's options for a background worker that outlives its terminal: a session of its own on POSIX (a hang-up
    never reaches it); on Windows a process group of its own, without a console (a Ctrl-C in the terminal, or
    closing it, never reaches it)."""
    if sys.platform == "win32":
        flags = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0x200) | getattr(subprocess, "DETACHED_PROCESS", 0x8)
        return {"creationflags": flags}
    return {"start_new_session": True}
