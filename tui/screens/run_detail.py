"""One stored run in detail: its figures with bootstrap 95 % intervals, per-class recall and confusion matrix."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Static

from engine.experiments import CLASSES
from tui import numbers
from tui.widgets.confusion_matrix import ConfusionMatrix
from tui.widgets.figures import FigureTable
from tui.widgets.header import LabHeader
from tui.widgets.key_line import KeyLine
from tui.widgets.leaderboard_table import unlike_page

BACK = Binding("escape", "app.pop_screen", "Back", id="back", tooltip="Back to the leaderboard or recall grid")
# (label, row key, how it reads): the figures that have a bootstrap interval carry it in `{key}_ci`.
FIGURES = [("AUC (macro)", "auc", numbers.auc), ("melanoma recall", "mel_recall", numbers.percent),
           ("cancer sensitivity", "cancer_sensitivity", numbers.percent), ("accuracy", "accuracy", numbers.percent),
           ("balanced accuracy", "balanced_accuracy", numbers.percent)]


def run_title(row: dict[str, Any]) -> str:
    data = "synthetic data" if row["synthetic"] else "real data"
    return f"#{row['experiment_id']} {row['name']}{unlike_page(row)} · seed {row['seed']} · {data} · run {row['run_id']}"


MISSED_MELANOMAS = Binding("M", "missed_melanomas", "Missed mel", id="missed-melanomas",
                           tooltip="The run's missed melanomas as images, the nearest misses first")


def missed_melanomas(screen: Screen, row: dict[str, Any]) -> None:
    """Open the gallery of a run's melanomas called something else."""
    from tui import galleries
    from tui.screens.gallery import GalleryScreen

    path = screen.app.lab.store.path
    screen.app.push_screen(GalleryScreen("lesions", [run_title(row)],
                                         lambda: galleries.missed_melanomas(path, row["run_id"])))


class RunDetailScreen(Screen):
    BINDINGS = [
        Binding("enter", "cell_lesions", "Lesions", id="cell-lesions",
                tooltip="The val images of the highlighted cell of the confusion matrix (arrow keys move)"),
        MISSED_MELANOMAS,
        BACK,
    ]

    def __init__(self, row: dict[str, Any], confusion: list[dict[str, Any]]):
        super().__init__()
        self.row, self.confusion = row, confusion

    def compose(self) -> ComposeResult:
        yield LabHeader("run detail")
        yield Static(run_title(self.row), classes="title", markup=False)
        yield FigureTable(id="run-figures")
        yield Static(id="run-recall", markup=False)
        yield Static("confusion matrix: count, share of the true row (shade) · arrows, enter: images",
                     classes="caption", markup=False)
        yield ConfusionMatrix(id="confusion-matrix")
        yield KeyLine()

    def on_mount(self) -> None:
        row = self.row
        self.query_one(FigureTable).show(["val", "95 % interval"], [
            (label, [show(row[key]), numbers.interval(row.get(f"{key}_ci"), show)]) for label, key, show in FIGURES])
        recalls = " · ".join(f"{name} {numbers.percent(row['recall'].get(name))}" for name in CLASSES)
        self.query_one("#run-recall", Static).update(f"recall: {recalls}")
        self.query_one(ConfusionMatrix).show(self.confusion)

    def action_cell_lesions(self) -> None:
        from tui import galleries
        from tui.screens.gallery import GalleryScreen

        true, predicted = self.query_one(ConfusionMatrix).cursor
        run_id, path = self.row["run_id"], self.app.lab.store.path
        self.app.push_screen(GalleryScreen("lesions", [run_title(self.row)],
                                           lambda: galleries.confusion_cell(path, run_id, true, predicted)))

    def action_missed_melanomas(self) -> None:
        missed_melanomas(self, self.row)
