"""Every key of the screen beneath, with what it does; built from the bindings themselves."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.app.widgets.frame.key_line import our_bindings

ALWAYS = (("↑ ↓ pgup pgdn", "Move", "Move the cursor; on the leaderboard ← → scroll sideways"),
          ("ctrl+p", "Palette", "Every main action by name"))


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close", id="close-help", tooltip="Close this list")]

    def __init__(self, bindings: dict[str, ActiveBinding]):
        super().__init__()
        self.bindings = bindings

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Static(self._table(), id="help-table")

    def _table(self) -> Table:
        table = Table(box=None, show_header=False, title="Keys (escape closes)", expand=True)
        table.add_column(style="bold", no_wrap=True)
        table.add_column(no_wrap=True)
        table.add_column(ratio=1)
        for binding in our_bindings(self.bindings):  # a widget's own scrolling keys are summed up in ALWAYS
            table.add_row(self.app.get_key_display(binding), binding.description, binding.tooltip)
        for row in ALWAYS:
            table.add_row(*row)
        return table
