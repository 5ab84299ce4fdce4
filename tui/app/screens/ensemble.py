"""Two marked runs combined from their stored predictions, beside each alone: the page's OR-ensemble, or the
mean of their probabilities. On another set the OR rule flags its critical classes; a set that declares none has the
mean rule alone, and AUC and accuracies in place of the clinical figures."""

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
from tui.text import screening as words

MEAN = "the argmax of the mean probabilities"


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
        self.dataset = first.dataset
        # Every rule at once: runs that cannot be combined fail here, before the screen opens.
        self.results = {rule: screening.ensemble(first, second, rule) for rule in screening.rules(self.dataset)}
        self.rule = next(iter(self.results))

    def compose(self) -> ComposeResult:
        yield LabHeader("ensemble")
        for title in self.titles():
            yield Static(title, classes="title", markup=False)
        yield Static(id="ensemble-rule", classes="legend", markup=False)
        yield FigureTable(id="ensemble-figures")
        yield Static(words.legend(self.dataset), id="ensemble-legend", classes="legend", markup=False)
        yield KeyLine()

    def titles(self) -> list[str]:
        return [f"{letter}: {member.name} · run {member.run_id}" for letter, member in zip("AB", self.members)]

    def on_mount(self) -> None:
        self.redraw()

    def redraw(self) -> None:
        result = self.results[self.rule]
        meaning = words.or_rule(self.dataset) if self.rule == "or" else MEAN
        self.query_one("#ensemble-rule", Static).update(f"rule {self.rule}: {meaning}")
        columns = [member.figures for member in result.members] + [result.figures]
        named = words.measures(self.dataset)
        self.query_one(FigureTable).show(["A", "B", f"{self.rule} ensemble"], [
            (named[key].name, [(numbers.percent if named[key].percent else numbers.auc)(getattr(figures, key))
                               for figures in columns]) for key in words.figure_keys(self.dataset)])

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """r and i are there only where the set declares critical classes: the or rule and the lesions one run
        catches are about them."""
        return action not in ("toggle_rule", "differences") or len(self.results) > 1

    def action_toggle_rule(self) -> None:
        self.rule = "mean" if self.rule == "or" else "or"
        self.redraw()

    def action_differences(self) -> None:
        from tui.app.screens.gallery import DifferenceScreen
        from tui.views import galleries

        first, second = (member.run_id for member in self.members)
        path = self.app.lab.store.path
        self.app.push_screen(DifferenceScreen(self.titles(), lambda: galleries.differences(path, first, second),
                                              self.dataset))
