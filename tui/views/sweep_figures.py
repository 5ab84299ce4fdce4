"""A sweep's results in words and pictures, for `results --sweep`, the report and the app alike: its answer in a
sentence (the best point on val against its base, paired by seed), what its rows leave out, and its charts: each
measure against each axis (mean ± std over seeds, one series per combination of the other axes) and, for a grid of
two axes, a heatmap of each measure over it. The app draws them with plotext (and the heatmap as coloured cells),
the report with matplotlib; neither computes anything itself."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.experiments import sweeps
from engine.experiments.spec import Experiment
from engine.experiments.sweeps import Sweep
from engine.store.runs import Store
from engine.store.sweep_results import SweepResults, context, sweep_results
from engine.words import plural
from tui.text.measures import MEASURES
from tui.text.numbers import signed_auc
from tui.views.charts import Chart, Point, Series

SHOWN = ("auc", "mel_recall", "cancer_sensitivity")  # the measures charted, as results --sweep shows them
LOG_SPAN = 10  # an axis whose values span this factor or more (a learning rate) is drawn on a log scale

Row = dict[str, Any]


@dataclass(frozen=True)
class Heatmap:
    """A measure over a grid of two axes: a cell per pair of values, None where that point has no finished run."""

    key: str  # names it in tests and its PNG beside the report
    title: str
    x_label: str
    y_label: str
    x_values: tuple[str, ...]  # the columns' values, as the file gives them
    y_values: tuple[str, ...]  # the rows', top first
    cells: tuple[tuple[float | None, ...], ...]  # [row][column]
    reading: str

    @property
    def has_points(self) -> bool:
        return any(cell is not None for row in self.cells for cell in row)


Figure = Chart | Heatmap


def swept(store: Store, experiments: dict[int, Experiment],
          path: Path | str | None) -> list[tuple[Sweep, SweepResults]]:
    """Each sweep of the file at `path` with a finished point, and its results."""
    found = [(sweep, sweep_results(store, sweep, sweep.points())) for sweep in sweeps.every(experiments, path)]
    return [(sweep, results) for sweep, results in found if results.best is not None]


def clinical_points(found: list[tuple[Sweep, SweepResults]]) -> list[Row]:
    """The sweeps' points that finished, labelled for the clinical chart: '20 lr=0.003'."""
    return [{**row, "label": f"{row['experiment_id']} {row['point']}"}
            for _, results in found for row in results.rows if row["n"]]


def best_versus_base(sweep: Sweep, found: SweepResults, named: bool = False) -> str:
    """The sweep's answer in a sentence: its best point's AUC (or, `named`, the point the user named) against its
    base's, paired by seed."""
    base = f"experiment {sweep.base.id} ({sweep.base.spec.name})"
    if found.best is None:
        return f"No point of sweep '{sweep.name}' has finished yet; 'dermalab sweep {sweep.name}' runs them."
    lead = "The point named" if named else "Best point by mean val AUC"
    best = f"{lead}: {found.best['point']} ({spread(found.best)})"
    versus = found.versus_base
    if found.base is None or versus is None or versus["mean"] is None:
        return f"{best}; {base} has no finished run of the same seeds on the same data to compare it with."
    interval = ("" if versus["low"] is None else
                f", 95 % CI {signed_auc(versus['low'])} to {signed_auc(versus['high'])}")
    return (f"{best}, against {base} ({spread(found.base)}): ΔAUC {signed_auc(versus['mean'])}{interval}, "
            f"paired over {plural(len(versus['seeds']), 'seed')}.")


def spread(row: Row) -> str:
    std = "" if row["auc_std"] is None else f" ± {row['auc_std']:.3f}"
    return f"AUC {row['auc']:.3f}{std}, n {row['n']}"


def notes(sweep: Sweep, found: SweepResults) -> list[str]:
    """What a sweep's rows leave out: runs halving stopped, and runs of points whose config was edited since."""
    said = []
    if found.stopped:
        said.append(f"Halving stopped {plural(found.stopped, 'run')} of its points at a rung (column 'stopped'); "
                    "their epochs are kept, and a point's figures are those of its runs that finished.")
    if edited := sum(row["edited"] for row in found.rows):
        said.append(f"{plural(edited, 'run')} of its points ran before the file changed their config (column "
                    f"'edited'), so their figures are left out; 'dermalab sweep {sweep.name}' runs the points as "
                    "the file has them now.")
    if found.gone:
        points = ", ".join(f"{label} ({plural(count, 'run')})" for label, count in found.gone.items())
        said.append(f"Points the file no longer has, left out: {points}.")
    return said


def build(sweep: Sweep, found: SweepResults) -> list[Figure]:
    """Per measure, a chart against each numeric axis, then (for a grid of two axes) its heatmap. Only the points run
    on the data and settings of the best point (or, before any finished, none) are drawn: like with like."""
    rows = _alike(sweep, found)
    numeric = [axis for axis in sweep.axes if all(_number(row[axis]) for row in found.rows)]
    figures: list[Figure] = []
    for measure in SHOWN:
        figures += [_against(sweep, rows, measure, axis, _log_scale(found.rows, axis)) for axis in numeric]
        grid = [axis for axis, values in sweep.axes.items() if isinstance(values, list)]
        if len(sweep.axes) == 2 and len(grid) == 2:
            figures.append(_heatmap(sweep, rows, measure, *grid))
    return figures


def _alike(sweep: Sweep, found: SweepResults) -> list[Row]:
    if found.best is None:
        return []
    return [row for row in found.rows if row["n"] and context(sweep, row) == context(sweep, found.best)]


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _log_scale(rows: list[Row], axis: str) -> bool:
    """Whether the axis's values (every point's, run or not) span LOG_SPAN or more, all above 0."""
    values = [float(row[axis]) for row in rows]
    return bool(values) and min(values) > 0 and max(values) / min(values) >= LOG_SPAN


def _against(sweep: Sweep, rows: list[Row], measure: str, axis: str, log_x: bool) -> Chart:
    """`measure` against `axis`: a series per combination of the other axes' values, each point its mean ± std."""
    others = [other for other in sweep.axes if other != axis]
    series = []
    for values, members in itertools.groupby(sorted(rows, key=lambda row: _key(row, others)),
                                             key=lambda row: _key(row, others)):
        name = ", ".join(f"{_short(other)}={value}" for other, value in zip(others, values)) or sweep.name
        points = tuple(Point(name if others else "", float(row[axis]), row[measure], None, row[f"{measure}_std"],
                             row["n"]) for row in sorted(members, key=lambda row: row[axis])
                       if row[measure] is not None)
        series.append(Series(name, points))
    name = MEASURES[measure].name
    return Chart(f"sweep-{sweep.name}-{measure}-{_short(axis)}", f"{sweep.name}: {name} against {_short(axis)}",
                 "scatter", axis, name, tuple(series),
                 f"Each point: the mean over its seeds, ± their standard deviation; {_chose_on_val()}",
                 f"No point of sweep '{sweep.name}' has finished yet; 'dermalab sweep {sweep.name}' runs them.",
                 log_x=log_x)


def _heatmap(sweep: Sweep, rows: list[Row], measure: str, x_axis: str, y_axis: str) -> Heatmap:
    x_values, y_values = sweep.axes[x_axis], sweep.axes[y_axis]
    assert isinstance(x_values, list) and isinstance(y_values, list)
    at = {(_shown(row[x_axis]), _shown(row[y_axis])): row[measure] for row in rows}
    cells = tuple(tuple(at.get((_shown(x), _shown(y))) for x in x_values) for y in reversed(y_values))
    name = MEASURES[measure].name
    return Heatmap(f"sweep-{sweep.name}-{measure}-grid", f"{sweep.name}: {name} over {_short(x_axis)} × "
                   f"{_short(y_axis)}", x_axis, y_axis, tuple(map(_shown, x_values)),
                   tuple(map(_shown, reversed(y_values))), cells,
                   f"Each cell: the mean over its point's seeds (blank: not finished); {_chose_on_val()}")


def _key(row: Row, axes: list[str]) -> tuple[str, ...]:
    return tuple(_shown(row[axis]) for axis in axes)


def _shown(value: Any) -> str:
    return repr(value) if _number(value) else str(value)


def _short(axis: str) -> str:
    return axis.rsplit(".", 1)[-1]


def _chose_on_val() -> str:
    return "all on val, where the best point was chosen (its test figures stay sealed: dermalab test --unseal)."
