"""Plotext curves per epoch: the live run's (its training loss batch by batch too, so a short run is a line, not a
dot), and optionally those of runs finished since the app started. Every line's legend says what it is, and every
line has a glyph of its own, so they tell apart without colour. The y axes hold still: AUC from 0.5 (chance) to 1.0
unless a value lies below, loss from 0, each with labels at round values on evenly spaced rows."""

from __future__ import annotations

import math
from typing import Any

from textual import events
from textual_plotext import PlotextPlot

OVERLAY_LIMIT = 4  # more overlaid runs than this turn the small plots into noise
MAX_TICKS = 6
# Rows of a plot that are not the plotting area: the title, the frame's top and bottom, the x ticks and the label.
CHROME_ROWS = 5
CHANCE_AUC = 0.5
# The live run's lines, then the overlaid runs': a glyph each. The loss by batch has many points: braille draws
# them finest, and no other line uses it.
LIVE_MARKERS = ("•", "x")
OVERLAY_MARKERS = ("+", "o", "*", "#")
BEATS_MARKER = "braille"
NICE_STEPS = (1, 2, 2.5, 5)  # times a power of ten: the steps between loss labels

Line = tuple[list[float], list[float], str, str]  # epochs, values, legend label, marker
Beat = tuple[float, float]  # (epochs done, counting the current one's batches; training loss)


class Curves(PlotextPlot):
    """`series` are (history key, legend label) pairs drawn for the live run; overlays draw the last one only.
    `beats_label`: the legend of the live run's loss by batch, on the plot that shows it."""

    def __init__(self, title: str, series: list[tuple[str, str]], id: str, beats_label: str | None = None):
        super().__init__(id=id)
        self.heading, self.series, self.beats_label = title, series, beats_label
        self.drawn: tuple[Any, ...] | None = None  # the last draw's arguments, drawn again at a new size
        self.shown: list[Line] = []  # what it draws now

    def draw(self, live: list[dict[str, Any]], epochs: int, overlays: list[tuple[str, list[dict[str, Any]]]],
             beats: list[Beat] | None = None, own: str = "") -> None:
        """`own`: what the live run's legends begin with ('this run '), when other runs' lines stand beside them."""
        self.drawn = (live, epochs, overlays, beats, own)
        beats = beats if self.beats_label else None
        lines = self.shown = self.lines(live, overlays, beats, own)
        plt = self.plt
        plt.clear_data()
        plt.title(self.heading)
        plt.xlabel("epoch")
        # the loss by batch has fractional epochs: the axis ends at the whole epoch after the last
        longest = math.ceil(max([epochs, 2, *(max(xs) for xs, _, _, _ in lines)]))
        plt.xlim(0 if beats else 1, longest)
        plt.xticks(list(range(1, longest + 1, max(1, longest // MAX_TICKS))))
        values = [value for _, ys, _, _ in lines for value in ys if math.isfinite(value)]  # a diverging loss: inf
        rows = max(2, self.size.height - CHROME_ROWS)
        ticks = auc_ticks(values, rows) if self.is_auc else loss_ticks(values, rows)
        plt.ylim(ticks[0], ticks[-1])
        plt.yticks(ticks, labels(ticks))
        for xs, ys, name, marker in lines:
            plt.plot(xs, ys, label=name, marker=marker)
        self.refresh()

    @property
    def is_auc(self) -> bool:
        return self.series[-1][0].endswith("auc")

    def on_resize(self, event: events.Resize) -> None:
        """Labels fall on evenly spaced rows only for the height they were chosen for."""
        if self.drawn is not None:
            self.draw(*self.drawn)

    def lines(self, live: list[dict[str, Any]], overlays: list[tuple[str, list[dict[str, Any]]]],
              beats: list[Beat] | None, own: str = "") -> list[Line]:
        """What is drawn, each line with its legend and glyph: overlays' last series ('#8 s0 val'), the loss by
        batch, then the live run's series."""
        key, what = self.series[-1]
        lines = [line(history, key, f"{label} {what}", marker)
                 for (label, history), marker in zip(overlays[-OVERLAY_LIMIT:], OVERLAY_MARKERS)]
        if beats:
            lines.append(([x for x, _ in beats], [y for _, y in beats], f"{own}{self.beats_label}", BEATS_MARKER))
        lines += [line(live, series_key, f"{own}{label}", marker)
                  for (series_key, label), marker in zip(self.series, LIVE_MARKERS)]
        return [entry for entry in lines if entry[0]]  # plotext cannot draw a legend entry without points


def line(history: list[dict[str, Any]], key: str, label: str, marker: str) -> Line:
    points = [(entry["epoch"], entry[key]) for entry in history if entry.get(key) is not None]
    return [x for x, _ in points], [y for _, y in points], label, marker


def gaps(rows: int) -> list[int]:
    """How many equal gaps between labels put each label on a row, all rows apart alike: divisors of the rows
    from the top to the bottom, at most MAX_TICKS; those leaving a blank row between labels when any do, most
    first."""
    span = rows - 1
    divisors = [n for n in range(MAX_TICKS, 0, -1) if span % n == 0]
    roomy = [n for n in divisors if n >= 2 and span // n >= 2]
    return roomy or divisors


def auc_ticks(values: list[float], rows: int) -> list[float]:
    """From chance (or the tenth below the lowest value) to 1.0, at labels of two places, else three."""
    low = min([CHANCE_AUC, *(math.floor(value * 10) / 10 for value in values)])
    for places, n in ((places, n) for places in (2, 3) for n in gaps(rows)):
        step = (1.0 - low) / n
        if abs(step * 10**places - round(step * 10**places)) < 1e-9:
            return [round(low + i * step, places) for i in range(n + 1)]
    return [low, 1.0]


def loss_ticks(values: list[float], rows: int) -> list[float]:
    """From 0 to the lowest top above every value that round steps reach (in two steps or more where the rows
    allow), the most labels on a tie."""
    top = max(values, default=1.0) or 1.0
    counts = [n for n in gaps(rows) if n >= 2] or [1]
    n, step = min(((n, nice_step(top / n)) for n in counts), key=lambda pair: (pair[0] * pair[1], -pair[0]))
    return [round(i * step, 6) for i in range(n + 1)]


def nice_step(least: float) -> float:
    """The smallest of 1, 2, 2.5 and 5 times a power of ten that is at least `least`."""
    power = 10 ** math.floor(math.log10(least))
    return next(step * power for step in (*NICE_STEPS, 10) if step * power >= least * (1 - 1e-9))


def labels(ticks: list[float]) -> list[str]:
    """Every label with as many places as the one that needs the most: 0.50, 0.75, 1.00."""
    places = max(len(f"{tick:g}".partition(".")[2]) for tick in ticks)
    return [f"{tick:.{places}f}" for tick in ticks]
