"""The experiments screen: the list grouped by chapter, selection keys, and the highlighted one's details."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container
from textual.widgets import DataTable, Input, Static

from engine.errors import UserError
from engine.experiments import sweeps
from tui.app.lab_app import LabScreen
from tui.app.widgets.experiments.experiment_detail import ExperimentDetail
from tui.app.widgets.experiments.experiment_table import ExperimentTable
from tui.app.widgets.frame.filter_bar import FILTER, FilterBar
from tui.app.widgets.frame.header import LabHeader
from tui.app.widgets.frame.key_line import KeyLine


class ExperimentsScreen(LabScreen):
    AUTO_FOCUS = "#experiment-table"  # not the filter bar, hidden until / opens it
    BINDINGS = [
        Binding("space", "toggle_highlighted", "Select", id="select",
                tooltip="Select or unselect the highlighted experiment (on a chapter row: the chapter)"),
        Binding("c", "toggle_chapter", "Chapter", id="select-chapter",
                tooltip="Select or unselect every experiment of the highlighted one's chapter"),
        Binding("a", "toggle_all", "All", id="select-all", tooltip="Select all experiments, or none when all are"),
        Binding("r", "run", "Run", id="run", tooltip="Queue the selected experiments in id order and start them"),
        Binding("p", "preview", "Preview aug", id="augment-preview",
                tooltip="Four train images, each as it goes in and after four draws of the highlighted "
                        "experiment's train transform"),
        FILTER,
    ]

    file_sweeps: list[sweeps.Sweep] = []  # the experiments file's sweeps, read when the screen mounts

    def compose(self) -> ComposeResult:
        yield LabHeader("experiments")
        yield FilterBar()
        with Container(id="experiments-body"):
            yield ExperimentTable(self.app.lab)
            yield ExperimentDetail()
        yield Static(id="selection-line", markup=False)
        yield KeyLine()

    def on_mount(self) -> None:
        self.app.lab_changed.subscribe(self, self.changed)
        lab = self.app.lab
        try:  # listed under the experiment each extends; a sweep the file gets wrong is said by the sweeps view
            self.file_sweeps = sweeps.every(lab.experiments, lab.source.experiments_file)
        except UserError:
            self.file_sweeps = []

    def changed(self, what: str) -> None:
        if what in ("store", "queue", "selection"):
            self.query_one(ExperimentTable).redraw()
        if what in ("store", "selection"):
            self._say_selection()

    def _say_selection(self) -> None:
        """How many runs are selected and how long they would train, while any are."""
        line = self.query_one("#selection-line", Static)
        line.display = bool(self.app.lab.selected)
        line.update(self.app.lab.selection_estimate()[0] if self.app.lab.selected else "")

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        chapter, ids = self.query_one(ExperimentTable).highlighted()
        experiments = self.app.lab.experiments
        detail = self.query_one(ExperimentDetail)
        if chapter is None:
            detail.show_experiment(experiments[ids[0]], experiments, self.file_sweeps)
        else:
            detail.show_chapter(chapter, [experiments[i] for i in ids])

    def action_toggle_highlighted(self) -> None:
        self._toggle(self.query_one(ExperimentTable).highlighted()[1])

    def action_toggle_chapter(self) -> None:
        _, ids = self.query_one(ExperimentTable).highlighted()
        self._toggle(self.app.lab.chapter_of(ids[0]) if ids else [])

    def action_toggle_all(self) -> None:
        """All experiments, or all that the filter shows."""
        self._toggle([i for ids in self.query_one(ExperimentTable).shown.values() for i in ids])

    def action_filter(self) -> None:
        self.query_one(FilterBar).open()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.query_one(ExperimentTable).show(event.value)

    def _toggle(self, ids: list[int]) -> None:
        self.app.lab.toggle(ids)
        self.app.lab_changed.publish("selection")

    def action_run(self) -> None:
        self.app.run_selection()

    def action_preview(self) -> None:
        from tui.app.screens.gallery import AugmentPreviewScreen

        chapter, ids = self.query_one(ExperimentTable).highlighted()
        if chapter is not None or not ids:
            self.notify("Highlight one experiment first: its train transform is what p shows.", severity="warning")
            return
        self.app.push_screen(AugmentPreviewScreen(self.app.lab.experiments[ids[0]], self.app.lab.source))
