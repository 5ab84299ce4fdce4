"""The clinical operating point of one run: the threshold that reaches a target sensitivity, what it costs, and
where it lies on the run's ROC curve. The target and the condition screened for change with keys. On another set
than DermaMNIST it screens for the set's critical classes; a set that declares none has no operating point.

The ranked screens import this module only when it opens: scikit-learn would slow the app's first screen."""

from __future__ import annotations

from sklearn.metrics import roc_curve
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container
from textual.screen import Screen
from textual.widgets import Static

from engine.analysis import screening
from engine.errors import UserError
from tui.app.widgets.frame.header import LabHeader
from tui.app.widgets.frame.key_line import BACK, KeyLine, retitle
from tui.app.widgets.results.figures import FigureTable
from tui.app.widgets.results.roc_plot import RocPlot
from tui.text import numbers
from tui.text import screening as words

STEP = 0.05  # of the target sensitivity, per key press


class OperatingPointScreen(Screen):
    BINDINGS = [
        Binding("plus", "step(1)", "Target +5", id="target-up", tooltip="Raise the target sensitivity by 5 points"),
        Binding("minus", "step(-1)", "Target −5", id="target-down", tooltip="Lower the target sensitivity by 5 points"),
        Binding("c", "toggle_condition", "Mel/cancer", id="condition",
                tooltip="Screen for melanoma, or for any cancer (P(akiec)+P(bcc)+P(mel))"),
        BACK,
    ]

    def __init__(self, predictions: screening.Predictions):
        super().__init__()
        self.predictions = predictions
        # The first point is found here: a run that has none (no melanomas in its val set, or no critical class on
        # its set) fails before opening.
        self.point = screening.operating_point(predictions, 0.9, "mel")
        retitle(self, "toggle_condition", words.condition_key(predictions.dataset))

    def compose(self) -> ComposeResult:
        yield LabHeader("operating point")
        yield Static(id="point-title", classes="title", markup=False)
        with Container(id="point-body"):
            yield FigureTable(id="point-figures")
            yield RocPlot(id="roc-plot")
        yield KeyLine()

    def on_mount(self) -> None:
        self.redraw()

    def choose(self, target: float, condition: str) -> None:
        try:
            self.point = screening.operating_point(self.predictions, target, condition)
        except UserError as error:
            self.notify(str(error), severity="warning")
            return
        self.redraw()

    def redraw(self) -> None:
        predictions, point = self.predictions, self.point
        condition, dataset = point.condition, predictions.dataset
        self.query_one("#point-title", Static).update(f"{predictions.name} · run {predictions.run_id} · screening for "
                                                      f"{words.condition_name(dataset, condition)}")
        self.query_one(FigureTable).show([f"target {numbers.percent(point.target)}"], [
            ("threshold", [f"{point.threshold:.3f}"]), ("sensitivity", [numbers.percent(point.sensitivity)]),
            ("specificity", [numbers.percent(point.specificity)]),
            (f"{words.spared(dataset)} flagged per 1,000", [f"{point.flagged_per_1000:.0f}"])])
        false_positive, true_positive = roc(predictions, condition)
        specificity = 1.0 if point.specificity is None else point.specificity
        self.query_one(RocPlot).draw(false_positive, true_positive, (1 - specificity, point.sensitivity),
                                     f"ROC for {words.condition_short(dataset, condition)} · X: threshold "
                                     f"{point.threshold:.3f}")

    def action_step(self, direction: int) -> None:
        # Whole steps from 0 keep the targets at 0.85, 0.90, ... without floating-point drift.
        steps = min(max(round(self.point.target / STEP) + direction, 1), round(1 / STEP))
        self.choose(round(steps * STEP, 2), self.point.condition)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """c is there only where the set's focus class and critical group differ."""
        return action != "toggle_condition" or words.switches(self.predictions.dataset)

    def action_toggle_condition(self) -> None:
        self.choose(self.point.target, "cancer" if self.point.condition == "mel" else "mel")


def roc(predictions: screening.Predictions, condition: str) -> tuple[list[float], list[float]]:
    """The condition's ROC curve: false and true positive rates over every threshold."""
    false_positive, true_positive, _ = roc_curve(screening.has_condition(predictions, condition),
                                                 screening.score(predictions, condition))
    return false_positive.tolist(), true_positive.tolist()
