"""Asks before a queue estimated longer than ten minutes starts: how many runs, and about how long on this machine."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class ConfirmQueueScreen(ModalScreen[bool]):
    BINDINGS = [
        Binding("y,r", "answer(True)", "Queue them", id="queue-them", tooltip="Queue the selected runs and start them"),
        Binding("escape,n", "answer(False)", "Not now", id="not-now", tooltip="Back, with the selection kept"),
    ]

    def __init__(self, question: str):
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box"):
            yield Static(self.question, markup=False)
            with Horizontal(id="confirm-buttons"):
                yield Button("Queue them (y)", variant="primary", id="yes")
                yield Button("Not now (esc)", id="no")

    def on_mount(self) -> None:
        self.query_one("#yes", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)
