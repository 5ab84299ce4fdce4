"""Starts the background worker (`dermalab worker`) when none serves the store: detached from the terminal (a session
of its own on POSIX, a process group without a console on Windows: engine.jobs.start.detached), so closing the
terminal or losing SSH leaves it training; its output goes to a log under $DERMALAB_HOME/logs."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from engine.errors import UserError
from engine.jobs.lock import worker_pid
from engine.jobs.slots import SlotRequest
from engine.jobs.start import detached
from engine.paths import REPOSITORY, data_dir, home, stamp

START_SECONDS = 60.0  # a worker takes its lock before it imports torch: under a second, unless the machine is swamped
POLL_SECONDS = 0.05


@dataclass(frozen=True)
class WorkerProcess:
    """The worker serving the store: its pid, its log when this process started it, and the process handle then."""

    pid: int
    log: Path | None = None
    process: subprocess.Popen | None = None


def ensure_worker(store_path: Path, slots: SlotRequest | None = None) -> WorkerProcess:
    """The worker serving the store; one started now takes the slots asked for (one already there keeps its own;
    None: the worker's defaults)."""
    slots = slots or SlotRequest()
    pid = worker_pid(store_path)
    if pid is not None:
        return WorkerProcess(pid)
    logs = home() / "logs"
    log = logs / f"worker-{stamp()}.log"
    try:
        logs.mkdir(parents=True, exist_ok=True)
        out = open(log, "ab")  # noqa: SIM115 (closed by the with below, once the child has its copy)
    except OSError as error:
        raise UserError(f"The worker's log {log} could not be written ({error.strerror}); set DERMALAB_HOME to a "
                        "writable folder, then run again.") from None
    with out:
        process = subprocess.Popen([sys.executable, "-m", "tui.cli.main", "worker", *slots.arguments()],
                                   stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                   env=child_environment(), cwd=logs, **detached())
    return WorkerProcess(confirmed(store_path, process, log), log, process)


def confirmed(store_path: Path, process: subprocess.Popen, log: Path) -> int:
    """The pid of the worker serving the store once the one just started holds the lock (or another that won the
    race to it does); a worker that exits first is said as the sentence it printed, so nobody is told a worker
    started that did not."""
    deadline = time.monotonic() + START_SECONDS
    while (pid := worker_pid(store_path)) is None:
        if (code := process.poll()) is not None:
            why = last_sentence(log) or f"it exited with code {code} (its log {log} says why)."
            raise UserError(f"No worker could start: {why}")
        if time.monotonic() > deadline:  # stopped, so that no late worker serves jobs its starter gave up on
            process.kill()
            raise UserError(f"No worker could start: it did not take the store within {START_SECONDS:.0f} s (its log "
                            f"{log} says how far it got).")
        time.sleep(POLL_SECONDS)
    return pid


def last_sentence(log: Path) -> str | None:
    """The sentence a worker that refused to serve printed last (as 'dermalab: ...'), its first letter lowered to
    follow a colon."""
    said = [line.removeprefix("dermalab: ") for line in log.read_text(errors="replace").splitlines()
            if line.startswith("dermalab: ")]
    return said[-1][0].lower() + said[-1][1:] if said else None


def child_environment() -> dict[str, str]:
    """This environment, with the project importable however this process was started, and its folders as this
    process reads them (a child starts elsewhere, where a relative DERMALAB_HOME would name another folder)."""
    path = os.environ.get("PYTHONPATH")
    folders = {"DERMALAB_HOME": str(home()), **({"DERMALAB_DATA_DIR": str(data_dir())}
                                                 if os.environ.get("DERMALAB_DATA_DIR") else {})}
    return {**os.environ, **folders, "PYTHONPATH": f"{REPOSITORY}{os.pathsep}{path}" if path else str(REPOSITORY)}
