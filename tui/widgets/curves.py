"""Plotext curves per epoch: the live run's, and optionally those of runs finished since the app started."""

from __future__ import annotations

from typing import Any

from textual_plotext import PlotextPlot

OVERLAY_LIMIT = 4  # more overlaid runs than this turn the small plots into noise
MAX_TICKS = 6

Line = tuple[list[int], list[float], str]  # epochs, values, legend label


class Curves(PlotextPlot):
    """`series` are (history key, legend label) pairs drawn for the live run; overlays draw the last one only."""

    def __init__(self, title: str, series: list[tuple[str, str]], id: str):
        super().__init__(id=id)
        self.heading, self.series = title, series

    def draw(self, live: list[dict[str, Any]], epochs: int, overlays: list[tuple[str, list[dict[str, Any]]]]) -> None:
        lines = [line(history, self.series[-1][0], label) for label, history in overlays[-OVERLAY_LIMIT:]]
        lines += [line(live, key, label) for key, label in self.series]
        lines = [entry for entry in lines if entry[0]]  # plotext cannot draw a legend entry without points
        plt = self.plt
        plt.clear_data()
        plt.title(self.heading)
        plt.xlabel("epoch")
        longest = max([epochs, 2, *(max(xs) for xs, _, _ in lines)])
        plt.xlim(1, longest)
        plt.xticks(list(range(1, longest + 1, max(1, longest // MAX_TICKS))))
        values = [value for _, ys, _ in lines for value in ys]
        if values:
            # Plotext's own limits can cut the first, highest point of a falling loss.
            margin = (max(values) - min(values)) * 0.05 or 0.01
            plt.ylim(min(values) - margin, max(values) + margin)
        for xs, ys, label in lines:
            plt.plot(xs, ys, label=label, marker="braille")
        self.refresh()


def line(history: list[dict[str, Any]], key: str, label: str) -> Line:
    points = [(entry["epoch"], entry[key]) for entry in history if entry.get(key) is not None]
    return [x for x, _ in points], [y for _, y in points], label
