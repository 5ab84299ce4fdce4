"""Asks before quitting while a run is going: quitting cancels it (stored as cancelled)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class QuitScreen(ModalScreen[bool]):
    BINDINGS = [
        Binding("y", "answer(True)", "Quit", id="confirm-quit", tooltip="Cancel the run and quit"),
        Binding("n,escape", "answer(False)", "Stay", id="stay", tooltip="Keep the run going"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(id="quit-box"):
            yield Static("A run is going. Quit anyway? It will be stored as cancelled, and the queue dropped.",
                         markup=False)
            with Horizontal(id="quit-buttons"):
                yield Button("Quit (y)", variant="error", id="yes")
                yield Button("Stay (n)", variant="primary", id="no")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, quit: bool) -> None:
        self.dismiss(quit)
