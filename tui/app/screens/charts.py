"""The charts view: the course page's charts made from the stored runs, one at a time, redrawn as runs finish."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from engine.errors import UserError
from engine.words import plural
from tui.app.lab_app import LabScreen
from tui.app.widgets.frame.header import LabHeader
from tui.app.widgets.frame.key_line import KeyLine
from tui.app.widgets.pictures.chart_plot import FILLS, ChartPlot
from tui.views import charts, sweep_figures


class ChartsScreen(LabScreen):
    BINDINGS = [
        Binding("right", "step(1)", "Next chart", id="next-chart", tooltip="Show the next of the page's charts"),
        Binding("left", "step(-1)", "Previous", id="previous-chart", tooltip="Show the previous chart"),
        Binding("p", "toggle_page", "Page's points", id="page-points",
                tooltip="Show the course page's published figures (×) beside ours, where the chart has them"),
        Binding("i", "toggle_quick_looks", "Quick looks", id="quick-looks",
                tooltip="Include the quick looks (runs with --epochs), each marked with its epochs: '8 5ep'"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.index = 0
        self.page = False
        self.charts: list[charts.Chart] = []
        self.synthetic = False
        self.quick_looks = False  # include the runs of fewer (or more) epochs than the page's, marked
        self.left_out = 0  # quick looks the charts leave out

    def compose(self) -> ComposeResult:
        yield LabHeader("charts")
        yield Static(id="chart-caption", classes="caption", markup=False)
        yield ChartPlot(id="chart-plot")
        yield Static(id="chart-empty", markup=False)
        yield Static(id="chart-reading", classes="legend", markup=False)
        yield KeyLine()

    def on_mount(self) -> None:
        self.app.lab_changed.subscribe(self, self.changed)
        self.load()

    def changed(self, what: str) -> None:
        if what == "store":
            self.load()

    def load(self) -> None:
        """The charts from the stored runs: built when the view opens and after each run ends."""
        lab = self.app.lab
        groups, self.synthetic = charts.one_data_kind(lab.store.groups())
        self.charts = charts.build(groups, lab.experiments, self.quick_looks, self.sweep_points(), lab.dataset)
        self.left_out = 0 if self.quick_looks else charts.quick_looks_left_out(groups, lab.experiments)
        self.show()

    def sweep_points(self) -> list[dict[str, Any]]:
        """The sweeps' finished points, for the clinical chart; none while a sweep of the file is wrong (the sweeps
        view, or `dermalab sweep`, says what)."""
        lab = self.app.lab
        try:
            return sweep_figures.clinical_points(sweep_figures.swept(lab.store, lab.experiments,
                                                                     lab.source.experiments_file))
        except UserError:
            return []

    def show(self) -> None:
        chart = self.charts[self.index]
        plot, empty = self.query_one(ChartPlot), self.query_one("#chart-empty", Static)
        plot.display, empty.display = chart.has_points, not chart.has_points
        plot.show(chart, self.page)
        empty.update(self.empty(chart))
        self.query_one("#chart-caption", Static).update(self.caption(chart))
        self.query_one("#chart-reading", Static).update(chart.reading)

    def caption(self, chart: charts.Chart) -> str:
        parts = [f"{self.index + 1}/{len(self.charts)} {chart.title}", "mean ± std over seeds"]
        if self.synthetic and chart.has_points:
            parts.append("synthetic data")
        if chart.kind == "grouped_bars":  # the bars of a group told apart by their fill, with or without colour
            parts.append(" ".join(f"{fill} {s.name}" for fill, s in zip(FILLS, chart.series)))
        if any(s.page for s in chart.series):
            parts.append("× the page" if self.page else "p: the page's points")
        if self.quick_looks:
            parts.append("quick looks in: 5ep = 5 epochs")
        elif self.left_out and chart.has_points:
            parts.append(f"i: + {plural(self.left_out, 'quick look')}")
        return " · ".join(parts)

    def empty(self, chart: charts.Chart) -> str:
        """What to run to fill the chart; when quick looks are all there is, that they were left out and why."""
        if not self.left_out:
            return chart.empty
        return (f"The charts draw runs made as the page made them (its epochs and weights), and none is stored "
                f"yet; {plural(self.left_out, 'quick look')} (--epochs) left out: i includes them, each marked "
                "with its epochs (8 5ep). " + chart.empty.removeprefix("No finished runs yet: "))

    def action_toggle_quick_looks(self) -> None:
        self.quick_looks = not self.quick_looks
        self.load()

    def action_step(self, by: int) -> None:
        self.index = (self.index + by) % len(self.charts)
        self.show()

    def action_toggle_page(self) -> None:
        self.page = not self.page
        self.show()
