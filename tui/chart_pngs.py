"""The charts of `tui.charts` drawn by matplotlib, as pictures for the report."""

from __future__ import annotations

from typing import Any

from tui.charts import Chart
from tui.png import Png

OURS = "#1f77b4"
TARGET = "#d62728"


def pngs(charts: list[Chart]) -> list[Png]:
    """A picture for each chart with points; an empty chart has nothing to show on paper."""
    return [Png(f"{chart.key}.png", chart.title, chart.reading, lambda figure, chart=chart: draw(chart, figure))
            for chart in charts if chart.has_points]


def draw(chart: Chart, figure: Any) -> None:
    axes = figure.add_subplot()
    axes.set_title(chart.title)
    axes.set_xlabel(chart.x_label)
    axes.set_ylabel(chart.y_label)
    DRAW[chart.kind](chart, axes)
    if chart.target is not None:
        axes.axhline(chart.target, color=TARGET, linestyle="--", linewidth=1, label=f"target {chart.target:.2f}")
        axes.legend(loc="best")


def bars(chart: Chart, axes: Any) -> None:
    for series in chart.series:
        points = series.points
        axes.bar([p.x for p in points], [p.y for p in points], color=OURS, label=series.name,
                 yerr=[p.y_spread or 0 for p in points], capsize=2, error_kw={"linewidth": 0.8})
        axes.set_xticks([p.x for p in points], [p.label for p in points])
    lowest = min(p.y - (p.y_spread or 0) for s in chart.series for p in s.points)
    axes.set_ylim(min(chart.y_from, lowest - 0.02), 1)


DRAW = {"bars": bars}
