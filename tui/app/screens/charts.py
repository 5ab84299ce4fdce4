"""The charts view: the course page's charts made from the stored runs, one at a time, redrawn as runs finish."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from tui.app.lab_app import LabScreen
from tui.app.widgets.frame.header import LabHeader
from tui.app.widgets.frame.key_line import KeyLine
from tui.app.widgets.pictures.chart_plot import ChartPlot
from tui.views import charts


class ChartsScreen(LabScreen):
    BINDINGS = [
        Binding("right", "step(1)", "Next chart", id="next-chart", tooltip="Show the next of the page's charts"),
        Binding("left", "step(-1)", "Previous", id="previous-chart", tooltip="Show the previous chart"),
        Binding("p", "toggle_page", "Page's points", id="page-points",
                tooltip="Show the course page's published figures (×) beside ours, where the chart has them"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.index = 0
        self.page = False
        self.charts: list[charts.Chart] = []
        self.synthetic = False

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
        self.charts = charts.build(groups, lab.experiments)
        self.show()

    def show(self) -> None:
        chart = self.charts[self.index]
        plot, empty = self.query_one(ChartPlot), self.query_one("#chart-empty", Static)
        plot.display, empty.display = chart.has_points, not chart.has_points
        plot.show(chart, self.page)
        empty.update(chart.empty)
        self.query_one("#chart-caption", Static).update(self.caption(chart))
        self.query_one("#chart-reading", Static).update(chart.reading)

    def caption(self, chart: charts.Chart) -> str:
        parts = [f"{self.index + 1}/{len(self.charts)} {chart.title}", "mean ± std over seeds"]
        if self.synthetic and chart.has_points:
            parts.append("synthetic data")
        if any(s.page for s in chart.series):
            parts.append("× the page" if self.page else "p: the page's points")
        return " · ".join(parts)

    def action_step(self, by: int) -> None:
        self.index = (self.index + by) % len(self.charts)
        self.show()

    def action_toggle_page(self) -> None:
        self.page = not self.page
        self.show()
