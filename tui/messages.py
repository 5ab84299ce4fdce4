"""Messages the training thread sends the app: engine events of a child process, and how that process ended."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from engine.events import Event
from tui.lab import Job


@dataclass
class RunEvent(Message):
    """An engine event from the child process running `job`."""

    job: Job
    event: Event


@dataclass
class BatchEvent(RunEvent):
    """Batch progress: a newer one waiting in the queue replaces it, so floods never pile up."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, BatchEvent)


@dataclass
class ChildExited(Message):
    """The child process of `job` ended: its status, why, and whether it stopped before any run began."""

    job: Job
    status: str
    reason: str
    before_start: bool
