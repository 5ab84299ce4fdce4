"""The charts of `tui.views.charts` (and a sweep's, `tui.views.sweep_figures`) drawn by matplotlib, as pictures for
the report; the page's points always shown."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from math import nan
from typing import Any

from tui.report.png import Png
from tui.views.charts import Chart, Series
from tui.views.sweep_figures import Figure, Heatmap

OURS = "#1f77b4"
PAGE = "#7f7f7f"
TARGET = "#d62728"
ZONE = "#f4b6c2"  # the page's pink
GROUPED = ("#1f77b4", "#d62728", "#ff7f0e")  # AUC blue, cancer metrics red and orange, as on the page
ERRORS = {"capsize": 2, "elinewidth": 0.8}


def pngs(charts: Sequence[Figure]) -> list[Png]:
    """A picture for each chart with points; an empty chart has nothing to show on paper."""
    return [Png(f"{chart.key}.png", chart.title, chart.reading,
                partial(heatmap, chart) if isinstance(chart, Heatmap) else partial(draw, chart))
            for chart in charts if chart.has_points]


def heatmap(chart: Heatmap, figure: Any) -> None:
    """Cells shaded by their value (blank where no run finished), each with its value written in it."""
    axes = figure.add_subplot()
    axes.set_title(chart.title)
    axes.set_xlabel(chart.x_label)
    axes.set_ylabel(chart.y_label)
    values = [[nan if cell is None else cell for cell in row] for row in chart.cells]
    image = axes.imshow(values, cmap="viridis", aspect="auto")
    figure.colorbar(image, ax=axes)
    axes.set_xticks(range(len(chart.x_values)), chart.x_values)
    axes.set_yticks(range(len(chart.y_values)), chart.y_values)
    for (row, column), cell in ((place, cell) for place, cell in _cells(chart) if cell is not None):
        axes.text(column, row, f"{cell:.3f}", ha="center", va="center", color="white", fontsize=8)


def _cells(chart: Heatmap) -> list[tuple[tuple[int, int], float | None]]:
    return [((row, column), cell) for row, cells in enumerate(chart.cells) for column, cell in enumerate(cells)]


def draw(chart: Chart, figure: Any) -> None:
    axes = figure.add_subplot()
    axes.set_title(chart.title)
    axes.set_xlabel(chart.x_label)
    axes.set_ylabel(chart.y_label)
    if chart.zone:
        zone = chart.zone
        axes.fill_between(zone.x, *zone.y, color=ZONE, alpha=0.5, linewidth=0, label=zone.name)
    if chart.log_x:
        axes.set_xscale("log")
        axes.xaxis.set_major_formatter(_engineering())  # 10k and 1M rather than 10⁴ and 10⁶
    DRAW[chart.kind](chart, axes)
    if chart.log_x and _within_a_decade(axes):  # matplotlib labels the minor ticks there: in the same words
        axes.xaxis.set_minor_formatter(_engineering())  # 300µ beside 100µ, not 3×10⁻⁴
    if chart.target is not None:
        axes.axhline(chart.target, color=TARGET, linestyle="--", linewidth=1, label=f"target {chart.target:.2f}")
    if len(axes.get_legend_handles_labels()[0]) > 1:
        outside = chart.kind in ("bars", "grouped_bars")  # beside the bars, never over them
        axes.legend(fontsize="small", **({"loc": "upper left", "bbox_to_anchor": (1, 1)} if outside else {}))


def _engineering() -> Any:
    from matplotlib.ticker import EngFormatter  # only drawing needs matplotlib, which is an extra

    return EngFormatter(sep="")


def _within_a_decade(axes: Any) -> bool:
    low, high = axes.get_xlim()
    return high < 10 * low


def scatter(chart: Chart, axes: Any) -> None:
    for series in chart.series:
        xs, ys = _values(series)
        if series.page:
            axes.scatter(xs, ys, marker="x", color=PAGE, label=series.name, zorder=2)
            continue
        axes.errorbar(xs, ys, xerr=_spreads(series, "x"), yerr=_spreads(series, "y"), fmt="o", color=OURS,
                      label=series.name, zorder=3, **ERRORS)
        for point in series.points:
            axes.annotate(point.label, (point.x, point.y), xytext=(4, 3), textcoords="offset points", fontsize=8)


def line(chart: Chart, axes: Any) -> None:
    for series in chart.series:
        xs, ys = _values(series)
        if series.page:
            axes.plot(xs, ys, "--x", color=PAGE, linewidth=1, label=series.name)
        else:
            axes.errorbar(xs, ys, yerr=_spreads(series, "y"), fmt="-o", color=OURS, label=series.name, **ERRORS)
    _ticks(chart, axes)


def bars(chart: Chart, axes: Any) -> None:
    for series in chart.series:
        xs, ys = _values(series)
        axes.bar(xs, ys, yerr=_spreads(series, "y"), label=series.name, error_kw=ERRORS,
                 **({"color": OURS} if len(chart.series) == 1 else {}))
    _ticks(chart, axes)
    _floor(chart, axes)


def grouped_bars(chart: Chart, axes: Any) -> None:
    width = 0.8 / len(chart.series)
    for index, series in enumerate(chart.series):
        xs, ys = _values(series)
        shift = (index - (len(chart.series) - 1) / 2) * width
        axes.bar([x + shift for x in xs], ys, width, yerr=_spreads(series, "y"), label=series.name,
                 color=GROUPED[index % len(GROUPED)], error_kw=ERRORS)
    _ticks(chart, axes)
    _floor(chart, axes)


def _values(series: Series) -> tuple[list[float], list[float]]:
    return [p.x for p in series.points], [p.y for p in series.points]


def _spreads(series: Series, axis: str) -> list[float]:
    """A lone run's missing spread as NaN, which matplotlib leaves out, rather than 0, which it draws as a cap."""
    return [nan if (spread := getattr(p, f"{axis}_spread")) is None else spread for p in series.points]


def _ticks(chart: Chart, axes: Any) -> None:
    slots = chart.slots
    axes.set_xticks([x for x, _ in slots], [label for _, label in slots], fontsize=8 if len(slots) > 15 else None)


def _floor(chart: Chart, axes: Any) -> None:
    lowest = min(p.y - (p.y_spread or 0) for s in chart.series for p in s.points)
    axes.set_ylim(bottom=min(chart.y_from, lowest - 0.02))


DRAW = {"scatter": scatter, "line": line, "bars": bars, "grouped_bars": grouped_bars}
