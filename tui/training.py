"""Runs one job in a child process (`dermalab run ID --events`) and turns its JSON lines into app messages.

A child process rather than a thread: a crash or out-of-memory kill in training cannot take the app down, and
the app never imports torch. SIGINT is the child's own Ctrl-C: it stores the run as cancelled and exits 130.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from argparse import Namespace
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from textual.message import Message

from engine.events import BatchProgress, Event, RunFailed, RunFinished, RunStarted, from_dict
from tui import exit_codes
from tui.lab import Job
from tui.messages import BatchEvent, ChildExited, RunEvent

ROOT = Path(__file__).resolve().parent.parent
# Training gives way to the app (and to other normal-priority work) when both want the CPU, so keys stay
# quick while it runs; on an otherwise idle machine it trains as fast as ever.
CHILD_NICENESS = 10


@dataclass(frozen=True)
class ChildOptions:
    """The app's own options that each child gets: the same ones `dermalab run` takes."""

    data: str = "auto"
    device: str = "auto"
    epochs: int | None = None
    pretrained: bool = True
    experiments: Path | None = None

    @classmethod
    def from_args(cls, args: Namespace) -> ChildOptions:
        experiments = getattr(args, "experiments", None)
        # Paths become absolute: the child may resolve them from another directory some day, and it costs nothing.
        data = args.data if args.data in ("auto", "synthetic") else str(Path(args.data).resolve())
        return cls(data, args.device, args.epochs, not args.no_pretrained, experiments and Path(experiments).resolve())

    def command(self, job: Job) -> list[str]:
        argv = [sys.executable, "-m", "tui.cli", "run", str(job.experiment_id), "--seed", str(job.seed), "--events",
                "--data", self.data, "--device", self.device]
        argv += ["--epochs", str(self.epochs)] if self.epochs else []
        argv += [] if self.pretrained else ["--no-pretrained"]
        argv += ["--experiments", str(self.experiments)] if self.experiments else []
        return argv


def child_environment() -> dict[str, str]:
    """This environment, with the project importable however the app was started."""
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{path}" if path else str(ROOT)}


class ChildRun:
    """One child process. `run` blocks until it ends (call it from a thread worker); `interrupt` may be called
    from any thread, once or many times."""

    def __init__(self, job: Job, options: ChildOptions, post: Callable[[Message], object]):
        self.job, self.options, self.post = job, options, post
        self.process: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()
        self._interrupted = False

    def run(self) -> None:
        with tempfile.TemporaryFile("w+") as errors:  # a file, so a chatty stderr can never block the child
            with self._lock:
                self.process = subprocess.Popen(self.options.command(self.job), stdin=subprocess.DEVNULL,
                                                stdout=subprocess.PIPE, stderr=errors, text=True,
                                                env=child_environment(), start_new_session=True)
                os.setpriority(os.PRIO_PROCESS, self.process.pid, CHILD_NICENESS)
                if self._interrupted:
                    self._signal()
            started, final = self._follow(self.process)
            code = self.process.wait()
            errors.seek(0)
            status, reason = outcome(code, final, errors.read())
        self.post(ChildExited(self.job, status, reason, before_start=not started and code == exit_codes.BAD_INPUT))

    def _follow(self, process: subprocess.Popen[str]) -> tuple[bool, Event | None]:
        """Post each event; return whether a run started and the run's last event."""
        started, final = False, None
        assert process.stdout is not None
        for line in process.stdout:
            event = parse(line)
            if event is None:
                continue
            started |= isinstance(event, RunStarted)
            if isinstance(event, (RunFinished, RunFailed)):
                final = event
            self.post(BatchEvent(self.job, event) if isinstance(event, BatchProgress) else RunEvent(self.job, event))
        return started, final

    def interrupt(self) -> None:
        """Ask the child to stop as Ctrl-C would; a second SIGINT could break its own clean-up, so send one."""
        with self._lock:
            if not self._interrupted:
                self._interrupted = True
                self._signal()

    def _signal(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)

    def wait(self, timeout: float) -> None:
        if self.process is not None:
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()


def parse(line: str) -> Event | None:
    """An event, or None for anything else a library might print on stdout."""
    try:
        return from_dict(json.loads(line))
    except (ValueError, TypeError, KeyError):
        return None


def outcome(code: int, final: Event | None, stderr: str) -> tuple[str, str]:
    """The job's status and reason, from the run's last event, else the exit code and stderr's last sentence."""
    if isinstance(final, RunFinished):
        return "finished", ""
    if isinstance(final, RunFailed):
        return final.status, final.reason
    if code == exit_codes.INTERRUPTED:
        return "cancelled", "cancelled before the run began"
    if code < 0:
        return "failed", f"the training process was killed by signal {-code} (out of memory?)"
    said = [line.strip() for line in stderr.splitlines() if line.strip()]
    if said:
        return "failed", said[-1].removeprefix("dermalab: ")
    return "failed", f"the training process ended with exit code {code} and said nothing"
