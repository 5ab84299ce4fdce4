"""A sweep's charts (issue 26): each measure against each numeric axis and a heatmap over a grid of two axes, as
data for the app and the report; the report gives each sweep with a finished point a section, a CSV and PNGs."""

from __future__ import annotations

import pytest

from engine.experiments.load import load
from engine.store.runs import Store
from engine.store.sweep_results import sweep_results
from tests.conftest import QUESTION_GRID, store_finished, with_sweeps
from tui.report import chart_pngs, png
from tui.report import document as report
from tui.views import sweep_figures
from tui.views.sweep_figures import Heatmap


@pytest.fixture
def swept(tmp_path):
    """Three of the grid's four points finished, two seeds each; the fourth (lr 1e-2, batch 512) never ran."""
    from engine.experiments import sweeps

    path = with_sweeps(tmp_path, QUESTION_GRID)
    sweep = sweeps.named("grid", load(path), path)
    points = sweep.points()
    store = Store()
    try:
        for seed in (0, 1):
            for point, auc in zip(points[:3], (0.70, 0.75, 0.80)):
                store_finished(store, point, seed, auc + seed / 100)
        yield sweep, sweep_results(store, sweep, points), path
    finally:
        store.close()


def test_each_measure_is_charted_against_each_axis_and_over_the_grid(swept):
    sweep, found, _ = swept
    figures = sweep_figures.build(sweep, found)
    assert [figure.key for figure in figures[:3]] == ["sweep-grid-auc-lr", "sweep-grid-auc-batch_size",
                                                      "sweep-grid-auc-grid"]
    assert len(figures) == 9  # 3 measures x (2 axes + a heatmap)
    against_lr = figures[0]
    assert not isinstance(against_lr, Heatmap) and against_lr.log_x  # 1e-3 to 1e-2: a decade
    assert {series.name: [(p.x, round(p.y, 3)) for p in series.points] for series in against_lr.series} == {
        "batch_size=256": [(0.001, 0.705), (0.01, 0.805)], "batch_size=512": [(0.001, 0.755)]}
    heatmap = figures[2]
    assert isinstance(heatmap, Heatmap) and heatmap.x_values == ("0.001", "0.01")
    assert heatmap.y_values == ("512", "256")  # the first value at the bottom, as on a plot
    assert [[None if cell is None else round(cell, 3) for cell in row] for row in heatmap.cells] == [
        [0.755, None], [0.705, 0.805]]


def test_the_report_gives_each_sweep_a_section_its_csv_and_its_pictures(swept, tmp_path, monkeypatch):
    sweep, found, path = swept
    monkeypatch.setattr(png, "available", lambda: False)  # the tables only: drawing every figure takes seconds
    store = Store()
    try:
        written = report.write(tmp_path / "out", store, load(path), experiments_file=path)
    finally:
        store.close()
    text = written[0].read_text()
    assert "## Sweep grid" in text and "Do rate and batch size trade? Best point by mean val AUC: lr=0.01" in text
    assert (tmp_path / "out" / "sweep-grid.csv").read_text().count("\n") == 5  # a header and the 4 points
    pictures = {picture.file: picture for picture in chart_pngs.pngs(sweep_figures.build(sweep, found))}
    assert len(pictures) == 9
    monkeypatch.undo()
    if png.available():  # the heatmap, the one kind of figure only sweeps draw
        [drawn] = png.write(tmp_path, [pictures["sweep-grid-auc-grid.png"]])
        assert drawn.stat().st_size > 1000


def test_the_sweeps_points_go_on_the_clinical_chart_beside_the_experiments(swept):
    from tui.views import charts

    sweep, found, path = swept
    store = Store()
    try:
        groups, experiments = store.groups(), load(path)
    finally:
        store.close()
    clinical = charts.build(groups, experiments, sweep_points=sweep_figures.clinical_points([(sweep, found)]))[0]
    by_series = {series.name: sorted(point.label for point in series.points) for series in clinical.series}
    # lr 1e-3 at batch 512 is experiment 1 itself: drawn once, as the experiment
    assert by_series["ours"] == ["1"] and by_series["sweep points"] == ["1 lr=0.001, batch_size=256",
                                                                        "1 lr=0.01, batch_size=256"]
