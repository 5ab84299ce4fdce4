"""Messages the store feed's thread sends the app."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from tui.lab import StoreSnapshot


@dataclass
class StoreChanged(Message):
    """What the store feed read. A newer one waiting behind it supersedes it, so a busy screen never falls behind,
    unless it carries the runs (which a newer one leaves out when they have not changed since)."""

    snapshot: StoreSnapshot

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, StoreChanged) and self.snapshot.runs is None
