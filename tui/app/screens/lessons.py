"""The lessons × sets table in the app (`L`): each experiment against the one it changes, seed-paired, on every set
the store has runs of at the app's size; green or red where the change is outside the noise, dim where it is not."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from engine.analysis.paired import PairedDifference
from engine.classes import DEFAULT, label, names
from engine.store import lessons
from engine.store.lessons import Cell, Scope

WORDS = {"auc": "ΔAUC", "mel_recall": "Δrecall"}


class LessonsScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,L,q", "dismiss", "Close", id="close-lessons", tooltip="Close the lessons table")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Static(self.table(), id="lessons-table")

    def table(self) -> Table | Text:
        lab = self.app.lab  # type: ignore[attr-defined]
        size = lab.source.options.size
        held = {row["dataset"] for row in lab.store.execute("SELECT DISTINCT dataset FROM runs WHERE size = ?",
                                                             (size,))}
        scopes: list[Scope] = [(name, size) for name in names() if name in held] or [(DEFAULT, size)]
        found = {lesson: cells for lesson, cells in lessons.table(lab.store, lab.experiments, scopes).items() if cells}
        if not found:
            return Text("No lesson has runs of both its experiments yet (escape closes): select 7 and 8 on the "
                        "experiments screen, or 'dermalab run 7 8 --seeds 3', to fill BatchNorm's.")
        table = Table(title="Lessons × sets: seed-paired change against the experiment each changes, 95 % interval "
                            "(escape closes)", expand=True)
        table.add_column("lesson", style="bold")
        for scope in scopes:
            synthetic = any(scope in cells and cells[scope].synthetic for cells in found.values())
            table.add_column(label(*scope) + (" (synthetic)" if synthetic else ""))
        for lesson, cells in found.items():
            table.add_row(lesson, *(shown(cells.get(scope)) for scope in scopes))
        return table


def shown(cell: Cell | None) -> Text:
    text = Text()
    if cell is None:
        return text
    for figure, change in cell.changes.items():
        if change is not None:
            text.append(f"{WORDS[figure]} ").append(described(change), style=style(cell.beyond_noise(figure), change))
            text.append("\n")
    return text


def described(change: PairedDifference) -> str:
    interval = "" if change.low is None else f" [{change.low:+.3f}, {change.high:+.3f}]"
    return f"{change.mean:+.3f}{interval}"


def style(beyond: bool | None, change: PairedDifference) -> str:
    """Green for a change up outside the noise, red for one down, dim for one within it (or of unknown spread)."""
    if not beyond:
        return "dim"
    return "green" if (change.mean or 0) > 0 else "red"
