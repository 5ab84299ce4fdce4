"""Asks, when quitting while runs are going, whether they keep training in the background (the default) or stop."""

from __future__ import annotations

from typing import Any, Literal, cast

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from engine.status import Status
from tui.text import numbers

QuitAnswer = Literal["keep", "cancel", "stay"]


def going_words(going: list[dict[str, Any]]) -> str:
    """'1 run training goes on', '2 runs waiting go on', '1 run training and 2 waiting go on': no count of none."""
    running = sum(job["status"] == Status.RUNNING for job in going)
    waiting = len(going) - running
    if running and waiting:
        return f"{numbers.plural(running, 'run')} training and {waiting} waiting go on"
    count, state = (running, "training") if running else (waiting, "waiting")
    return f"{numbers.plural(count, 'run')} {state} {'goes' if count == 1 else 'go'} on"


class QuitScreen(ModalScreen[QuitAnswer]):
    BINDINGS = [
        Binding("k,q", "answer('keep')", "Keep training", id="keep",
                tooltip="Quit; the runs go on in the background, and reopening dermalab shows them"),
        Binding("c", "answer('cancel')", "Cancel runs", id="cancel-runs",
                tooltip="Cancel every waiting and running job (stored as cancelled), then quit"),
        Binding("escape,n", "answer('stay')", "Stay", id="stay", tooltip="Back to the app"),
    ]

    def __init__(self, going: list[dict[str, Any]]):
        super().__init__()
        self.going = going

    def compose(self) -> ComposeResult:
        with Vertical(id="quit-box"):
            yield Static(f"{going_words(self.going)} in the background after you quit (reopen dermalab to follow "
                         "them), unless you cancel them.", markup=False)
            with Horizontal(id="quit-buttons"):
                yield Button("Keep training (k)", variant="primary", id="keep")
                yield Button("Cancel them (c)", variant="error", id="cancel")
                yield Button("Stay (esc)", id="stay")

    def on_mount(self) -> None:
        self.query_one("#keep", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(cast(QuitAnswer, event.button.id))  # each button's id is its answer

    def action_answer(self, answer: QuitAnswer) -> None:
        self.dismiss(answer)
