"""Starts the background worker (`dermalab worker`) when none serves the store: in a session of its own, without a
terminal, so closing the terminal or losing SSH leaves it training; its output goes to a log under
$DERMALAB_HOME/logs."""

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
from engine.paths import REPOSITORY, data_dir, home, stamp


@dataclass(frozen=True)
class WorkerProcess:
    """The worker serving the store: its pid, its log when this process started it, and the process handle then."""

    pid: int
    log: Path | None = None
    process: subprocess.Popen | None = None


def ensure_worker(store_path: Path, slots: SlotRequest = SlotRequest()) -> WorkerProcess:
    """The worker serving the store; one started now takes the slots asked for (one already there keeps its own)."""
    pid = worker_pid(store_path)
    if pid is not None:
        return WorkerProcess(pid)
    logs = home() / "logs"
    log = logs / f"worker-{stamp()}.log"
    try:
        logs.mkdir(parents=True, exist_ok=True)
        out = open(log, "ab")
    except OSError as error:
        raise UserError(f"The worker's log {log} could not be written ({error.strerror}); set DERMALAB_HOME to a "
                        "writable folder, then run again.") from None
    with out:
        process = subprocess.Popen([sys.executable, "-m", "tui.cli.main", "worker", *slots.arguments()], stdin=subprocess.DEVNULL, stdout=out,
                                   stderr=subprocess.STDOUT, env=child_environment(), cwd=logs, start_new_session=True)
    return WorkerProcess(process.pid, log, process)


def child_environment() -> dict[str, str]:
    """This environment, with the project importable however this process was started, and its folders as this
    process reads them (a child starts elsewhere, where a relative DERMALAB_HOME would name another folder)."""
    path = os.environ.get("PYTHONPATH")
    folders = {"DERMALAB_HOME": str(home()), **({"DERMALAB_DATA_DIR": str(data_dir())}
                                                 if os.environ.get("DERMALAB_DATA_DIR") else {})}
    return {**os.environ, **folders, "PYTHONPATH": f"{REPOSITORY}{os.pathsep}{path}" if path else str(REPOSITORY)}
