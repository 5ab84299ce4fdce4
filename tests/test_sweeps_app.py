"""The sweeps view in the app (issue 26, from the palette): a sweep's points with their figures, its answer in a
sentence, its charts and heatmap, and r queueing the points × seeds that have not finished, seed by seed."""

from __future__ import annotations

import asyncio

from engine.experiments import sweeps
from engine.experiments.load import load
from engine.store.runs import Store
from tests.conftest import QUESTION_GRID, SIZES, app_with, store_finished, with_sweeps
from tui.app.screens.sweeps import SweepsScreen, heatmap_text
from tui.app.widgets.pictures.chart_plot import ChartPlot


def test_the_sweeps_view_shows_a_sweeps_points_charts_and_heatmap_and_r_queues_what_has_not_finished(tmp_path):
    path = with_sweeps(tmp_path, QUESTION_GRID)
    points = sweeps.named("grid", load(path), path).points()
    store = Store()
    try:
        for point, auc in zip(points[:3], (0.70, 0.75, 0.80)):
            store_finished(store, point, 0, auc)
    finally:
        store.close()

    async def drive():
        app = app_with("--data", "synthetic", "--experiments", str(path))
        app.start_worker = lambda: None  # type: ignore[method-assign]  # no worker: this only queues
        async with app.run_test(size=SIZES["large"]) as pilot:
            app.show_sweeps()
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, SweepsScreen) and screen.query_one("#sweep-points").row_count == 4
            assert "Best point by mean val AUC: lr=0.01" in str(screen.query_one("#sweep-answer").render())
            assert screen.query_one(ChartPlot).display  # AUC against the rate
            await pilot.press("right", "right")  # the heatmap over the grid
            assert not screen.query_one(ChartPlot).display and screen.query_one("#sweep-heatmap").display
            await pilot.press("r")
            queued = app.lab.queue.current(0)
        return queued

    queued = asyncio.run(drive())
    assert len(queued) == 1 and queued[0]["point"] is not None  # the one point not run yet, its one seed


def test_a_heatmap_reads_as_a_grid_of_values_with_its_axes():
    from tui.views.sweep_figures import Heatmap

    text = heatmap_text(Heatmap("k", "t", "optimizer.lr", "training.batch_size", ("0.001", "0.01"), ("512", "256"),
                                ((0.755, None), (0.705, 0.805)), "r")).plain
    assert text.splitlines() == ["training.batch_size ↓ · optimizer.lr →", "512 0.755         ",
                                 "256 0.705  0.805  ", "    0.001   0.01 "]  # each value under its column


def test_an_experiments_sweeps_are_listed_under_it(tmp_path):
    path = with_sweeps(tmp_path, QUESTION_GRID)

    async def drive():
        app = app_with("--data", "synthetic", "--experiments", str(path))
        async with app.run_test(size=SIZES["large"]) as pilot:
            await pilot.press("down")  # from the chapter's row to experiment 1
            await pilot.pause()
            return str(app.screen.query_one("#detail-text").render())

    said = asyncio.run(drive())
    assert "Sweeps of it (ctrl+p Sweeps" in said and "grid, 4 points × 1 seed: Do rate and batch size trade?" in said
