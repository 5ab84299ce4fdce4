"""The bottom line of every screen: its keys and what they do, drawn once as text.

Textual's Footer rebuilds a widget per key whenever the screen changes, which made switching views several
times slower; our keys never change while a screen lives, so one line of text does."""

from __future__ import annotations

from rich.text import Text
from textual.binding import ActiveBinding, Binding
from textual.widgets import Static

PALETTE = ("ctrl+p", "palette")


def our_bindings(active: dict[str, ActiveBinding]) -> list[Binding]:
    """The bindings this app declares (they all have an id), not the widgets' own scrolling keys."""
    return [entry.binding for entry in active.values() if entry.binding.id]


class KeyLine(Static):
    def on_mount(self) -> None:
        pairs = [(self.app.get_key_display(binding), binding.description)
                 for binding in our_bindings(self.screen.active_bindings) if binding.show]  # the rest: in '?' only
        line = Text(no_wrap=True, overflow="ellipsis")
        for key, description in [*pairs, PALETTE]:
            line.append(f" {key}", style="bold")
            line.append(f" {description} ")
        self.update(line)
