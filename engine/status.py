"""How a run or a job stands: one word from Status, stored as that word (a StrEnum, so the store's values are the
plain strings they always were). Every layer that keeps or shows a status imports it from here."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Status(StrEnum):
    """A job is queued, then running, then ends as one of the others; its run (once it exists) ends the same way."""

    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"  # an error stopped it (its reason says which)
    CANCELLED = "cancelled"  # someone asked it to stop, or it was never started
    DIVERGED = "diverged"  # the training loss stopped being a number
    INTERRUPTED = "interrupted"  # the process answering for it ended first (killed, crashed or closed)
    STOPPED = "stopped"  # a sweep's successive halving ended it at a rung: its epochs so far are kept, nothing failed


ACTIVE = (Status.QUEUED, Status.RUNNING)  # not ended yet: someone still answers for it
DONE = (Status.FINISHED, Status.STOPPED)  # ended as asked: trained to its end, or stopped at a rung by halving
ENDED = tuple(status for status in Status if status not in ACTIVE)


def sql_in(words: Iterable[StrEnum]) -> str:
    """An SQL list such as "('queued', 'running')", for `status IN ...` (or another enum's column): spelled from the
    enum, never by hand (its words are fixed and quote-free, so they are safe to write into a statement)."""
    return f"({', '.join(repr(str(word)) for word in words)})"
