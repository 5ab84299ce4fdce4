"""Plotext curves per epoch: the live run's (its training loss batch by batch too, so a short run is a line, not a
dot), and optionally those of runs finished since the app started. Every line's legend says what it is."""

from __future__ import annotations

import math
from typing import Any

from textual_plotext import PlotextPlot

OVERLAY_LIMIT = 4  # more overlaid runs than this turn the small plots into noise
MAX_TICKS = 6

Line = tuple[list[float], list[float], str]  # epochs, values, legend label
Beat = tuple[float, float]  # (epochs done, counting the current one's batches; training loss)


class Curves(PlotextPlot):
    """`series` are (history key, legend label) pairs drawn for the live run; overlays draw the last one only.
    `beats_label`: the legend of the live run's loss by batch, on the plot that shows it."""

    def __init__(self, title: str, series: list[tuple[str, str]], id: str, beats_label: str | None = None):
        super().__init__(id=id)
        self.heading, self.series, self.beats_label = title, series, beats_label

    def draw(self, live: list[dict[str, Any]], epochs: int, overlays: list[tuple[str, list[dict[str, Any]]]],
             beats: list[Beat] | None = None) -> None:
        beats = beats if self.beats_label else None
        lines = self.lines(live, overlays, beats)
        plt = self.plt
        plt.clear_data()
        plt.title(self.heading)
        plt.xlabel("epoch")
        # the loss by batch has fractional epochs: the axis ends at the whole epoch after the last
        longest = math.ceil(max([epochs, 2, *(max(xs) for xs, _, _ in lines)]))
        plt.xlim(0 if beats else 1, longest)
        plt.xticks(list(range(1, longest + 1, max(1, longest // MAX_TICKS))))
        values = [value for _, ys, _ in lines for value in ys]
        if values:
            # Plotext's own limits can cut the first, highest point of a falling loss.
            margin = (max(values) - min(values)) * 0.05 or 0.01
            plt.ylim(min(values) - margin, max(values) + margin)
        for xs, ys, label in lines:
            plt.plot(xs, ys, label=label, marker="braille")
        self.refresh()

    def lines(self, live: list[dict[str, Any]], overlays: list[tuple[str, list[dict[str, Any]]]],
              beats: list[Beat] | None) -> list[Line]:
        """What is drawn, each line with its legend: overlays' last series ('#8 s0 val'), the loss by batch, then
        the live run's series."""
        key, what = self.series[-1]
        lines = [line(history, key, f"{label} {what}") for label, history in overlays[-OVERLAY_LIMIT:]]
        if beats:
            lines.append(([x for x, _ in beats], [y for _, y in beats], self.beats_label or ""))
        lines += [line(live, series_key, label) for series_key, label in self.series]
        return [entry for entry in lines if entry[0]]  # plotext cannot draw a legend entry without points


def line(history: list[dict[str, Any]], key: str, label: str) -> Line:
    points = [(entry["epoch"], entry[key]) for entry in history if entry.get(key) is not None]
    return [x for x, _ in points], [y for _, y in points], label
