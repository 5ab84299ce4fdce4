"""Several runs' lines on one plotext plot, each with a letter in the legend and a glyph of its own, so they tell
apart without colour: the compare screen's loss, AUC and ROC."""

from __future__ import annotations

from dataclasses import dataclass

from textual import events
from textual_plotext import PlotextPlot

from tui.app.widgets.run.curves import CHROME_ROWS, auc_ticks, labels, loss_ticks

GLYPHS = ("•", "x", "+", "o", "*", "#", "@", "%")  # one per run, in the order the runs were marked
QUARTERS = [0.0, 0.25, 0.5, 0.75, 1.0]


@dataclass(frozen=True)
class RunLine:
    label: str  # the run's letter, with what the line is where a plot holds more than one kind
    xs: list[float]
    ys: list[float]
    glyph: str


@dataclass(frozen=True)
class Axes:
    """What the y axis holds: 'loss' (from 0), 'auc' (from chance) or 'rate' (0 to 1 both ways, a ROC)."""

    title: str
    x_label: str
    y: str


class RunLines(PlotextPlot):
    def __init__(self, axes: Axes, id: str):
        super().__init__(id=id)
        self.axes = axes
        self.lines: list[RunLine] = []

    def draw(self, lines: list[RunLine]) -> None:
        self.lines = [line for line in lines if line.xs]  # plotext cannot draw a legend entry without points
        plt, axes = self.plt, self.axes
        plt.clear_data()
        plt.title(axes.title)
        plt.xlabel(axes.x_label)
        values = [y for line in self.lines for y in line.ys]
        rows = max(2, self.size.height - CHROME_ROWS)
        if axes.y == "rate":
            plt.xlim(0, 1)
            plt.xticks(QUARTERS)
            ticks = QUARTERS
        else:
            longest = max([2, *(max(line.xs) for line in self.lines)])
            plt.xlim(1, longest)
            plt.xticks(list(range(1, int(longest) + 1, max(1, int(longest) // 6))))
            ticks = auc_ticks(values, rows) if axes.y == "auc" else loss_ticks(values, rows)
        plt.ylim(ticks[0], ticks[-1])
        plt.yticks(ticks, labels(ticks))
        for line in self.lines:
            plt.plot(line.xs, line.ys, label=line.label, marker=line.glyph)
        self.refresh()

    def on_resize(self, event: events.Resize) -> None:
        """The y labels are chosen for the height they are drawn at."""
        self.draw(self.lines)
