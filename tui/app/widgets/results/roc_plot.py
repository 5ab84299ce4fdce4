"""A ROC curve in plotext, with the chosen operating point marked on it."""

from __future__ import annotations

from textual_plotext import PlotextPlot


class RocPlot(PlotextPlot):
    def draw(self, false_positive: list[float], true_positive: list[float], point: tuple[float, float],
             title: str) -> None:
        """`point` is (1 − specificity, sensitivity) of the operating point. No legend: plotext puts it in the
        top-left corner, just where a good curve and its point are."""
        plt = self.plt
        plt.clear_data()
        plt.title(title)
        plt.xlabel("1 − specificity")
        plt.ylabel("sensitivity")
        plt.xlim(0, 1)
        plt.ylim(0, 1)
        quarters = [0, 0.25, 0.5, 0.75, 1]
        plt.xticks(quarters)
        plt.yticks(quarters)
        plt.plot(false_positive, true_positive, marker="braille")
        plt.scatter([point[0]], [point[1]], marker="X", color="red")
        self.refresh()
