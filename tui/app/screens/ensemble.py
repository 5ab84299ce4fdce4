"""Two marked runs combined from their stored predictions, beside each alone: the page's OR-ensemble, or the
mean of their probabilities."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from engine.analysis import screening
from tui.app.lab_app import LabScreen
from tui.app.widgets.frame.header import LabHeader
from tui.app.widgets.frame.key_line import BACK, KeyLine
from tui.app.widgets.results.figures import FigureTable
from tui.text import numbers
from tui.text.measures import MEASURES, explained

RULES = {"or": "flagged when either run calls it akiec, bcc or mel (no probabilities, so no AUC)",
         "mean": "the argmax of the mean probabilities"}
FIGURES = [("malignant_sensitivity", numbers.percent), ("specificity", numbers.percent),
           ("mel_recall", numbers.percent), ("auc", numbers.auc)]


class EnsembleScreen(LabScreen):
    BINDINGS = [
        Binding("r", "toggle_rule", "Or/mean", id="rule",
                tooltip="Switch between the OR rule and the mean of probabilities"),
        Binding("i", "differences", "Lesions", id="differences",
                tooltip="The val lesions one run catches and the other misses, as images: what the OR rule gains"),
        BACK,
    ]

    def __init__(self, first: screening.Predictions, second: screening.Predictions):
        super().__init__()
        self.members = (first, second)
        # Both rules at once: runs that cannot be combined fail here, before the screen opens.
        self.results = {rule: screening.ensemble(first, second, rule) for rule in RULES}
        self.rule = "or"

    def compose(self) -> ComposeResult:
        yield LabHeader("ensemble")
        for title in self.titles():
            yield Static(title, classes="title", markup=False)
        yield Static(id="ensemble-rule", classes="legend", markup=False)
        yield FigureTable(id="ensemble-figures")
        malignant, cancer = MEASURES["malignant_sensitivity"], MEASURES["cancer_sensitivity"]
        yield Static(f"{malignant.name}: {malignant.meaning} · unlike the leaderboard's {cancer.name}: "
                     f"{cancer.meaning} · {explained('specificity')}", id="ensemble-legend", classes="legend",
                     markup=False)
        yield KeyLine()

    def titles(self) -> list[str]:
        return [f"{letter}: {member.name} · run {member.run_id}" for letter, member in zip("AB", self.members)]

    def on_mount(self) -> None:
        self.redraw()

    def redraw(self) -> None:
        result = self.results[self.rule]
        self.query_one("#ensemble-rule", Static).update(f"rule {self.rule}: {RULES[self.rule]}")
        columns = [member.figures for member in result.members] + [result.figures]
        self.query_one(FigureTable).show(["A", "B", f"{self.rule} ensemble"], [
            (MEASURES[key].name, [show(getattr(figures, key)) for figures in columns]) for key, show in FIGURES])

    def action_toggle_rule(self) -> None:
        self.rule = "mean" if self.rule == "or" else "or"
        self.redraw()

    def action_differences(self) -> None:
        from tui.app.screens.gallery import DifferenceScreen
        from tui.views import galleries

        first, second = (member.run_id for member in self.members)
        path = self.app.lab.store.path
        self.app.push_screen(DifferenceScreen(self.titles(), lambda: galleries.differences(path, first, second)))
