"""One chart of `tui.views.charts` drawn by plotext at the widget's size, its labels thinned so that none covers a point
or touches another label: fewer labels at 80×24, all of them where there is room."""

from __future__ import annotations

import math
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, replace
from typing import Any

from textual.app import RenderResult
from textual_plotext import PlotextPlot

from tui.views.charts import Chart, Point, Series, Zone

Y_TICK_WIDTH = 4  # "0.90": every value of these charts is a share, written with two decimals
LEFT = Y_TICK_WIDTH + 2  # the y ticks, then the frame on either side
FRAME_ROWS = 4  # the frame's two lines, the x ticks and the axis labels
GAP = 1  # blank cells kept between two labels
BAR_SHARE = 0.6  # of a slot's columns, so neighbouring bars keep a gap
ROUND_STEPS = (0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 1.0)
OURS, PAGE, TARGET, ZONE = "blue+", "gray", "red", "red"
GROUPED = ("blue+", "red", "orange")  # AUC blue, cancer metrics red and orange, as on the page
FILLS = ("█", "▓", "░")  # and told apart without colour: each series of grouped bars in its own fill
ZERO = "▁"  # a bar of zero: a line on the floor, not a bar one row high
CHAPTERS = ("blue+", "green+", "magenta+", "cyan+", "orange")

Span = tuple[int, int, int]  # row, first column, width of a label


@dataclass(frozen=True)
class Frame:
    """The plotted ranges and the character cells they span: where a value lands on the screen."""

    x: tuple[float, float]
    y: tuple[float, float]
    columns: int
    rows: int

    def column(self, x: float) -> int:
        low, high = self.x
        return round((x - low) / (high - low) * (self.columns - 1))

    def row(self, y: float) -> int:
        low, high = self.y
        return round((high - y) / (high - low) * (self.rows - 1))

    @property
    def cell(self) -> float:
        """One character column, in x units."""
        return (self.x[1] - self.x[0]) / (self.columns - 1)


def thin(labels: list[list[Span]], points: AbstractSet[tuple[int, int]] = frozenset()) -> dict[int, int]:
    """Each label offers places in order of preference; labels earlier in the list choose first. Returns label
    index -> the place it got, for the labels placed on no point and no closer than a blank cell to another."""
    taken: set[tuple[int, int]] = set()
    placed = {}
    for index, places in enumerate(labels):
        for choice, (row, first, width) in enumerate(places):
            cells = {(row, column) for column in range(first, first + width)}
            near = {(row, column) for column in range(first - GAP, first + width + GAP)}
            if not cells & points and not near & taken:
                placed[index] = choice
                taken |= cells
                break
    return placed


class ChartPlot(PlotextPlot):
    def __init__(self, id: str):
        super().__init__(id=id)
        self.chart: Chart | None = None
        self.page = False  # show the page's points beside ours

    def show(self, chart: Chart, page: bool) -> None:
        self.chart, self.page = chart, page
        self.refresh()

    def render(self) -> RenderResult:
        # Drawn here, at the size being rendered: which labels fit depends on it. plotext gives a text the
        # background of the theme in force when it is drawn, so the app's theme goes first.
        self.plt.theme(self._get_plotext_theme_name(self.app.theme))
        if self.chart is not None:
            draw(self.plt, self.chart, self.page, self.size.width, self.size.height)
        return super().render()


def draw(plt: Any, chart: Chart, page: bool, width: int, height: int) -> None:
    plt.clear_data()
    plt.xlabel(chart.x_label)
    plt.ylabel(chart.y_label)
    # The page's points first, so that ours are drawn over them where the two coincide.
    series = sorted((_logged(s) if chart.log_x else s for s in chart.series if page or not s.page),
                    key=lambda s: not s.page)
    frame = _frame(chart, series, max(width - LEFT, 10), max(height - FRAME_ROWS, 4))
    plt.xlim(*frame.x)
    plt.ylim(*frame.y)
    ticks = _round_ticks(*frame.y, max(2, frame.rows // 2))
    plt.yticks(ticks, [f"{v:.2f}" for v in ticks])
    DRAW[chart.kind](plt, chart, series, frame)
    if chart.target is not None:
        plt.hline(chart.target, TARGET)


def scatter(plt: Any, chart: Chart, series: list[Series], frame: Frame) -> None:
    if chart.zone:
        _zone(plt, chart.zone, frame)
    for s in series:
        if not s.page:
            _errors(plt, s)
        plt.scatter(*_values(s), marker="x" if s.page else "dot", color=PAGE if s.page else OURS)
    every = [p for s in series for p in s.points]
    ours = [p for s in series if not s.page for p in s.points]
    at = {(frame.row(p.y), frame.column(p.x), p.label) for p in ours}
    # the page's point under ours of the same experiment needs no second label
    page = [p for s in series if s.page for p in s.points if (frame.row(p.y), frame.column(p.x), p.label) not in at]
    _point_labels(plt, ours + page, every, frame, len(ours))
    if chart.log_x:
        _ticks(plt, [(v, _decade(v)) for v in _log_ticks(*frame.x)], frame)
    else:
        _ticks(plt, [(v, f"{v:.2f}") for v in _round_ticks(*frame.x, max(2, frame.columns // 8))], frame)


def line(plt: Any, chart: Chart, series: list[Series], frame: Frame) -> None:
    for s in series:
        plt.plot(*_values(s), marker="braille", color=PAGE if s.page else OURS)
        if not s.page:
            _errors(plt, s)
            plt.scatter(*_values(s), marker="dot", color=OURS)
    _ticks(plt, chart.slots, frame)


def bars(plt: Any, chart: Chart, series: list[Series], frame: Frame) -> None:
    columns = max(1, math.floor(BAR_SHARE / frame.cell))
    for index, s in enumerate(series):
        color = OURS if len(series) == 1 else CHAPTERS[index % len(CHAPTERS)]
        for point in s.points:
            _bar(plt, point.x, point.y, columns, frame, color)
        _errors(plt, s)
    if len(series) > 1:
        _group_names(plt, series, frame)
    _ticks(plt, chart.slots, frame)


def grouped_bars(plt: Any, chart: Chart, series: list[Series], frame: Frame) -> None:
    """The series side by side within each slot, as many columns each as the slot affords."""
    columns = max(1, math.floor((1 - BAR_SHARE / 2) / frame.cell / len(series)))
    for index, s in enumerate(series):
        shift = (index - (len(series) - 1) / 2) * columns * frame.cell
        shifted = Series(s.name, tuple(replace(p, x=p.x + shift) for p in s.points))
        for point in shifted.points:
            _bar(plt, point.x, point.y, columns, frame, GROUPED[index % len(GROUPED)], FILLS[index % len(FILLS)])
        _errors(plt, shifted)
    _ticks(plt, chart.slots, frame)


def _bar(plt: Any, x: float, y: float, columns: int, frame: Frame, color: str, fill: str = "█") -> None:
    """A bar as whole character columns: plotext's own bars round their edges unevenly at this size. A value in the
    floor's row (0 %, or the chance AUC the bars start at) is a line on the floor: a bar would read as more."""
    flat = frame.row(y) >= frame.row(frame.y[0])
    for column in range(columns):
        at = x + (column - (columns - 1) / 2) * frame.cell
        if flat:
            plt.scatter([at], [frame.y[0]], marker=ZERO, color=color)
        else:
            plt.plot([at, at], [frame.y[0], y], marker=fill, color=color)


def _frame(chart: Chart, series: list[Series], columns: int, rows: int) -> Frame:
    points = [p for s in series for p in s.points]
    xs = [v for p in points for v in (p.x - (p.x_spread or 0), p.x + (p.x_spread or 0))]
    ys = [v for p in points for v in (p.y - (p.y_spread or 0), p.y + (p.y_spread or 0))]
    if chart.kind in ("bars", "grouped_bars"):
        xs += [min(xs) - 0.6, max(xs) + 0.6]  # room for the first and last bar
        ys += [chart.y_from, 1.0]
    if chart.zone:
        xs += list(chart.zone.x)
        ys += list(chart.zone.y)
    if chart.target is not None:
        ys.append(chart.target)
    x_pad = chart.kind in ("scatter", "line")
    return Frame(_padded(xs, x_pad), _padded(ys, chart.kind != "bars" and chart.kind != "grouped_bars"),
                 columns, rows)


def _padded(values: list[float], pad: bool) -> tuple[float, float]:
    low, high = min(values), max(values)
    if high == low:
        return low - 0.5, high + 0.5
    margin = (high - low) * 0.06 if pad else 0.0
    return low - margin, high + margin


def _logged(series: Series) -> Series:
    """x as log10(x), a spread as the wider side of its interval, in decades."""
    def logged(point: Point) -> Point:
        x, spread = max(point.x, 1e-9), point.x_spread
        if spread:
            spread = max(math.log10(x + spread) - math.log10(x), math.log10(x) - math.log10(max(x - spread, 1e-9)))
        return replace(point, x=math.log10(x), x_spread=spread)
    return replace(series, points=tuple(logged(p) for p in series.points))


def _round_ticks(low: float, high: float, most: int) -> list[float]:
    """Ticks at a round step (0.05, 0.1, 0.2, …) inside [low, high], at most `most` of them; none outside 0–1,
    where every share lies."""
    step = next((s for s in ROUND_STEPS if (high - low) / s < most), ROUND_STEPS[-1])
    values = [round(i * step, 6) for i in range(math.ceil(low / step - 1e-9), math.floor(high / step + 1e-9) + 1)]
    return [v for v in values if 0 <= v <= 1] or values


def _log_ticks(low: float, high: float) -> list[float]:
    """Ticks of a log axis (in decades) at 1, 10, 100…; where fewer than three decades fall inside, at 1, 2, 5, 10,
    20, 50… as well; where even those are fewer, at round steps in between (10, 12, 14 s), so that a span of
    seconds or parameters within one decade still reads."""
    decades = range(math.floor(low), math.ceil(high) + 1)
    for steps in ((1,), (1, 2, 5)):
        inside = [tick for tick in (math.log10(step) + decade for decade in decades for step in steps)
                  if low - 1e-9 <= tick <= high + 1e-9]
        if len(inside) >= 3:
            return inside
    first, last = 10 ** low * (1 - 1e-9), 10 ** high * (1 + 1e-9)
    rough = (last - first) / 4
    magnitude = 10 ** math.floor(math.log10(rough))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= rough)
    return [math.log10(k * step) for k in range(math.ceil(first / step), math.floor(last / step) + 1) if k > 0]


def _ticks(plt: Any, ticks: list[tuple[float, str]], frame: Frame) -> None:
    """The x ticks that fit side by side, from the left."""
    placed = thin([[(0, frame.column(x) - len(label) // 2, len(label))] for x, label in ticks])
    plt.xticks([ticks[i][0] for i in placed], [ticks[i][1] for i in placed])


def _errors(plt: Any, series: Series) -> None:
    """Mean ± spread; plotext takes an error bar's whole length, so twice the spread."""
    spread = [p for p in series.points if p.x_spread or p.y_spread]
    if spread:
        plt.error([p.x for p in spread], [p.y for p in spread], xerr=[2 * (p.x_spread or 0) for p in spread],
                  yerr=[2 * (p.y_spread or 0) for p in spread], color=OURS)


def _point_labels(plt: Any, labelled: list[Point], every: list[Point], frame: Frame, ours: int) -> None:
    """Each point gets its id to its right, or else to its left, where that covers no point: our `ours` first
    points first, then the page's (in its grey), where room is left."""
    points = {(frame.row(p.y), frame.column(p.x)) for p in every}
    places = [[(frame.row(p.y), frame.column(p.x) + 1, len(p.label)),
               (frame.row(p.y), frame.column(p.x) - len(p.label), len(p.label))] for p in labelled]
    for index, choice in thin(places, points).items():
        point = labelled[index]
        shift = 1 if choice == 0 else -len(point.label)
        plt.text(point.label, point.x + shift * frame.cell, point.y, alignment="left",
                 color=OURS if index < ours else PAGE)


def _zone(plt: Any, zone: Zone, frame: Frame) -> None:
    """The zone's outline, its name inside the top left corner."""
    plt.rectangle(list(zone.x), list(zone.y), color=ZONE, lines=True)
    row = (frame.y[1] - frame.y[0]) / (frame.rows - 1)
    plt.text(zone.name, zone.x[0] + 2 * frame.cell, zone.y[1] - row, alignment="left", color=ZONE)


def _group_names(plt: Any, series: list[Series], frame: Frame) -> None:
    """Each group's name along the top, cut to the group's width; where even its number does not fit, none."""
    top = frame.row(frame.y[1])
    places = []
    for s in series:
        first, last = frame.column(s.points[0].x) - 1, frame.column(s.points[-1].x) + 1
        number = s.name.split()[0]
        places.append([(top, first, max(len(number), min(len(s.name), last - first)))])
    for index in thin(places):
        s, width = series[index], places[index][0][2]
        plt.text(s.name[:width], s.points[0].x - frame.cell, frame.y[1], alignment="left")


def _values(series: Series) -> tuple[list[float], list[float]]:
    return [p.x for p in series.points], [p.y for p in series.points]


def _decade(exponent: float) -> str:
    value = round(10 ** exponent, 6)
    for size, suffix in ((1e6, "M"), (1e3, "k")):
        if value >= size:
            return f"{value / size:g}{suffix}"
    return f"{value:g}"


DRAW = {"scatter": scatter, "line": line, "bars": bars, "grouped_bars": grouped_bars}
