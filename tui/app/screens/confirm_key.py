"""Asks before a key throws work away (x cancels a running job, D clears the queue): one more key, y, confirms;
any other key keeps the work, and does nothing else. On a GPU server one stray keystroke could cost hours."""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

CONFIRM = "y"


class ConfirmKeyScreen(ModalScreen[bool]):
    def __init__(self, question: str, yes: str, no: str):
        """`question` ends with '?'; `yes` and `no` say what y and any other key do: 'cancels it', 'keeps it'."""
        super().__init__()
        self.question = f"{question}\n\n{CONFIRM} {yes}; any other key {no}."

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-key-box"):
            yield Static(self.question, markup=False)

    def on_key(self, event: events.Key) -> None:
        # Stopped here, so the key reaches no binding below: the answer is all it does.
        event.stop()
        event.prevent_default()
        self.dismiss(event.key == CONFIRM)
