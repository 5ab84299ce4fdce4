"""Messages the app's feeds (the store's, the GPUs') send it from their threads."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from engine.jobs.gpus import GpuSample
from tui.app.lab import StoreSnapshot


@dataclass
class StoreChanged(Message):
    """What the store feed read. A newer one waiting behind it supersedes it, so a busy screen never falls behind,
    unless it carries the runs' overview (which a newer one leaves out when it has not changed since)."""

    snapshot: StoreSnapshot

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, StoreChanged) and self.snapshot.overview is None


@dataclass
class ResultsSkipped(Message):
    """A cluster's result files the store feed's sync could not take, a sentence each (each said once)."""

    sentences: list[str]


@dataclass
class GpusSampled(Message):
    """Each NVIDIA GPU's utilisation and memory now; a newer sample supersedes one still waiting."""

    samples: list[GpuSample]

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, GpusSampled)
