"""How a chart is drawn in the terminal, on charts made by hand and drawn by plotext into text: bars of zero, the
page's points labelled, and x ticks on a log axis whose points lie within one decade."""

from __future__ import annotations

import math

import plotext
import pytest

from tui.app.widgets.pictures.chart_plot import FILLS, ZERO, _decade, _log_ticks, draw
from tui.views.charts import Chart, Point, Series

WIDTH, HEIGHT = 60, 20


@pytest.fixture
def plt():
    plotext.clear_figure()
    plotext.plotsize(WIDTH, HEIGHT)
    yield plotext
    plotext.clear_figure()


def drawn(plt, chart: Chart, page: bool = False) -> list[str]:
    draw(plt, chart, page, WIDTH, HEIGHT)
    return plotext.uncolorize(plt.build()).splitlines()


def test_a_bar_of_zero_is_a_line_on_the_floor_not_a_bar(plt):
    series = (Series("AUC", (Point("1", 1, 0.8), Point("2", 2, 0.9))),
              Series("mel recall", (Point("1", 1, 0.0), Point("2", 2, 0.4))))
    lines = drawn(plt, Chart("metrics", "t", "grouped_bars", "x", "y", series, "", ""))
    floor = next(line for line in lines if line.startswith("0.00"))
    assert ZERO in floor and floor.count(FILLS[1]) == floor.count(FILLS[1], floor.index(ZERO))  # 1's is flat
    above = [line for line in lines if FILLS[1] in line]
    assert len(above) > 1  # experiment 2's 0.4 stands several rows high


def test_the_pages_points_are_labelled_where_they_are_not_under_ours(plt):
    series = (Series("ours", (Point("8", 0.9, 0.2), Point("20", 0.93, 0.41))),
              Series("the page", (Point("8", 0.82, 0.6), Point("20", 0.93, 0.41)), page=True))
    lines = drawn(plt, Chart("clinical", "t", "scatter", "x", "y", series, "", ""), page=True)
    text = "\n".join(line[5:] for line in lines[:-3])  # the plane, without its y ticks, x ticks and labels
    assert "x8" in text or "8x" in text  # the page's 8 lies apart from ours: labelled
    assert text.count("20") == 1  # the page's 20 lies under ours: one label


@pytest.mark.parametrize(("low", "high", "ticks"), [
    (10, 14, ["10", "12", "14"]), (8, 120, ["10", "20", "50", "100"]),
    (90_000, 11_000_000, ["100k", "1M", "10M"])])
def test_a_log_axis_has_ticks_within_a_decade_too(low, high, ticks):
    assert [_decade(tick) for tick in _log_ticks(math.log10(low), math.log10(high))] == ticks
