"""The sweeps view (from the palette: Sweeps): the experiments file's sweeps, one at a time (n: the next), each as a
row per point (mean ± std over seeds of AUC, melanoma recall and cancer sensitivity, its time, and how many of its
runs halving stopped; s sorts), its best point against its base in a sentence, and its charts (← →): each measure
against each axis, and a heatmap over a grid of two axes. r queues its points × seeds that have not finished."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from engine.errors import UserError
from engine.experiments import sweeps
from engine.store.sweep_results import SweepResults, sweep_results
from tui.app.lab_app import LabScreen
from tui.app.widgets.frame.header import LabHeader
from tui.app.widgets.frame.key_line import BACK, KeyLine
from tui.app.widgets.pictures.chart_plot import ChartPlot
from tui.text.tables import cell
from tui.views import sweep_figures
from tui.views.sweep_figures import Heatmap

COLUMNS = (("point", "point"), ("n", "n"), ("AUC", "auc"), ("mel rec", "mel_recall"),
           ("cancer", "cancer_sensitivity"), ("time", "train_seconds"), ("stopped", "halved"))
SORTS = ("auc", "mel_recall", "cancer_sensitivity", "train_seconds", "point")
SHADES = ("#440154", "#3b528b", "#21918c", "#5ec962", "#fde725")  # viridis, low to high, as the report's heatmaps


class SweepsScreen(LabScreen):
    BINDINGS = [
        BACK,
        Binding("r", "run", "Run sweep", id="run-sweep",
                tooltip="Queue this sweep's points × seeds that have not finished, seed by seed"),
        Binding("n", "next_sweep", "Next sweep", id="next-sweep", tooltip="Show the experiments file's next sweep"),
        Binding("right", "step(1)", "Next chart", id="next-sweep-chart", tooltip="This sweep's next chart"),
        Binding("left", "step(-1)", "Previous", id="previous-sweep-chart", tooltip="This sweep's previous chart"),
        Binding("s", "cycle_sort", "Sort", id="sort-points", tooltip="Sort the points by the next column"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.sweeps: list[sweeps.Sweep] = []
        self.index = 0  # the sweep shown
        self.chart = 0  # its chart shown
        self.sort = 0  # SORTS[sort]: descending for figures, in file order for points
        self.found: SweepResults | None = None
        self.figures: list[sweep_figures.Figure] = []

    def compose(self) -> ComposeResult:
        yield LabHeader("sweeps")
        yield Static(id="sweep-caption", classes="caption", markup=False)
        yield DataTable(id="sweep-points", cursor_type="row", zebra_stripes=True)
        yield Static(id="sweep-answer", classes="legend", markup=False)
        yield ChartPlot(id="sweep-plot")
        yield Static(id="sweep-heatmap")
        yield Static(id="sweep-reading", classes="legend", markup=False)
        yield KeyLine()

    def on_mount(self) -> None:
        self.app.lab_changed.subscribe(self, self.changed)
        lab = self.app.lab
        try:
            self.sweeps = sweeps.every(lab.experiments, lab.source.experiments_file)
        except UserError as error:  # a sweep the file gets wrong: said, and the view stays empty
            self.notify(str(error), title="The sweeps cannot be read", severity="error", timeout=30)
        self.load()

    def changed(self, what: str) -> None:
        if what == "store":
            self.load()

    def load(self) -> None:
        if not self.sweeps:
            self.query_one("#sweep-caption", Static).update(
                "The experiments file has no sweeps: add a [[sweeps]] table (README: 'Your own questions: sweeps').")
            for part in ("#sweep-points", "#sweep-plot", "#sweep-heatmap"):
                self.query_one(part).display = False
            return
        sweep = self.sweeps[self.index]
        self.found = sweep_results(self.app.lab.store, sweep, sweep.points())
        self.figures = sweep_figures.build(sweep, self.found)
        self.chart %= max(1, len(self.figures))
        question = f" · {' '.join(sweep.question.split())}" if sweep.question else ""
        self.query_one("#sweep-caption", Static).update(
            f"sweep {self.index + 1}/{len(self.sweeps)} '{sweep.name}': {len(self.found.rows)} points of experiment "
            f"{sweep.base.id} {sweep.base.spec.name} × {sweep.seeds} seeds{question}")
        self.query_one("#sweep-answer", Static).update(
            " ".join([sweep_figures.best_versus_base(sweep, self.found), *sweep_figures.notes(sweep, self.found)]))
        self.show_points()
        self.show_chart()

    def show_points(self) -> None:
        assert self.found is not None
        table = self.query_one("#sweep-points", DataTable)
        table.clear(columns=True)
        table.add_columns(*(header for header, _ in COLUMNS))
        for row in sorted_points(self.found.rows, SORTS[self.sort]):
            table.add_row(*(shown(row, key) for _, key in COLUMNS))

    def show_chart(self) -> None:
        plot, heatmap = self.query_one(ChartPlot), self.query_one("#sweep-heatmap", Static)
        figure = self.figures[self.chart] if self.figures else None
        drawn = figure is not None and figure.has_points
        plot.display = drawn and not isinstance(figure, Heatmap)
        heatmap.display = drawn and isinstance(figure, Heatmap)
        if isinstance(figure, Heatmap):
            heatmap.update(heatmap_text(figure))
        elif figure is not None:
            plot.show(figure, page=False)
        reading = "" if figure is None else f"{self.chart + 1}/{len(self.figures)} {figure.title} · {figure.reading}"
        self.query_one("#sweep-reading", Static).update(reading if drawn else "Nothing to chart until a point "
                                                        "finishes: r queues the sweep.")

    def action_next_sweep(self) -> None:
        if self.sweeps:
            self.index, self.chart = (self.index + 1) % len(self.sweeps), 0
            self.load()

    def action_step(self, by: int) -> None:
        if self.figures:
            self.chart = (self.chart + by) % len(self.figures)
            self.show_chart()

    def action_cycle_sort(self) -> None:
        self.sort = (self.sort + 1) % len(SORTS)
        if self.found is not None:
            self.show_points()
        self.notify(f"Points sorted by {SORTS[self.sort].replace('_', ' ')}.")

    def action_run(self) -> None:
        if self.sweeps:
            self.app.run_sweep(self.sweeps[self.index])


def sorted_points(rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """Figures highest first (points not run last); 'point' keeps the file's order."""
    if key == "point":
        return rows
    return sorted(rows, key=lambda row: (row[key] is None, -(row[key] or 0.0)))


def shown(row: dict[str, Any], key: str) -> str:
    std = row.get(f"{key}_std")
    return cell(row[key], key) + (f"±{cell(std, key)}" if std is not None else "")


def heatmap_text(heatmap: Heatmap) -> Text:
    """The grid as coloured cells, each with its value: rows of the y axis's values (first at the bottom), columns
    of the x axis's, shaded from the lowest value to the highest."""
    known = [value for row in heatmap.cells for value in row if value is not None]
    low, high = min(known), max(known)
    width = max(6, *(len(value) for value in heatmap.x_values))
    label = max(len(value) for value in heatmap.y_values)
    text = Text(f"{heatmap.y_label} ↓ · {heatmap.x_label} →\n")
    for name, row in zip(heatmap.y_values, heatmap.cells):
        text.append(f"{name:>{label}} ")
        for value in row:
            if value is None:
                text.append(" " * width + " ")
                continue
            shade = SHADES[min(len(SHADES) - 1, int((value - low) / ((high - low) or 1) * len(SHADES)))]
            ink = "black" if shade in SHADES[3:] else "white"
            text.append(f"{value:^{width}.3f}", style=f"{ink} on {shade}")
            text.append(" ")
        text.append("\n")
    text.append(" " * (label + 1) + " ".join(f"{value:^{width}}" for value in heatmap.x_values))
    return text
