"""The charts view in the app: one key from every view, stepping through the charts, what an empty chart says,
redrawing when a run ends, and snapshots of the scatter and the ranked bars at 80x24."""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import ACCELERATOR, SIZES, fill_chart_runs, lab_app, noisy_predictions
from tui.app.main import create_app
from tui.app.screens.charts import ChartsScreen
from tui.app.screens.help import HelpScreen
from tui.app.widgets.frame.key_line import our_bindings
from tui.app.widgets.pictures.chart_plot import ChartPlot, thin
from tui.cli.main import build_parser

COUNT = 7  # the page's charts, less the recall grid the app has as a view of its own


@pytest.mark.slow
def test_scatter_snapshot(snap_compare):
    assert snap_compare(lab_app(), terminal_size=SIZES["small"], press=["f"])


@pytest.mark.slow
def test_scatter_with_the_pages_points(snap_compare, store_run):
    # The store of the chart data tests: its figures lie away from the page's, so both sets of points show.
    fill_chart_runs(store_run)
    assert snap_compare(empty_app(), terminal_size=SIZES["large"], press=["f", "p"])


@pytest.mark.slow
def test_ranked_bars_snapshot(snap_compare):
    assert snap_compare(lab_app(), terminal_size=SIZES["small"], press=["f", "right", "right"])


def empty_app():
    return create_app(build_parser().parse_args(["--data", "synthetic"]), accelerator=ACCELERATOR)


@pytest.mark.slow
def test_steps_through_every_chart_an_empty_one_says_what_to_run_and_one_key_opens_them_from_every_view():
    async def drive():
        app = empty_app()  # one app for both (an app each would cost a start-up each)
        async with app.run_test(size=SIZES["small"]) as pilot:
            await pilot.press("f")
            seen = []
            for _ in range(COUNT):
                screen = app.screen
                seen.append(screen.charts[screen.index].key)
                assert not screen.query_one(ChartPlot).display
                assert "dermalab run" in str(screen.query_one("#chart-empty").render())
                await pilot.press("right")
            assert len(set(seen)) == COUNT and app.screen.index == 0  # round the circle once
            await pilot.press("left")
            assert app.screen.index == COUNT - 1

            for view in ("e", "l", "g", "v"):
                await pilot.press(view)
                assert not isinstance(app.screen, ChartsScreen), view
                await pilot.press("f")
                assert isinstance(app.screen, ChartsScreen), view
            await pilot.press("question_mark")
            assert isinstance(app.screen, HelpScreen)
            assert "charts" in [binding.id for binding in our_bindings(app.screen.bindings)]

    asyncio.run(drive())


def test_a_finished_run_appears_without_reopening_the_view(store_run):
    async def drive():
        app = empty_app()
        async with app.run_test(size=SIZES["small"]) as pilot:
            await pilot.press("f")
            assert not app.screen.query_one(ChartPlot).display
            labels, probabilities = noisy_predictions(0)
            store_run(labels, probabilities, experiment_id=8, auc=0.9, mel_recall=0.3)
            app.lab.reload()  # what the app does when a run's end reaches it
            app.lab_changed.publish("store")
            await pilot.pause()
            plot = app.screen.query_one(ChartPlot)
            assert plot.display and [p.label for p in plot.chart.series[0].points] == ["8"]

    asyncio.run(drive())


def test_labels_never_cover_a_point_nor_touch_each_other():
    # Three labels of width 2 on one row: the second would touch the first, so it takes its second place.
    placed = thin([[(0, 0, 2)], [(0, 2, 2), (0, 6, 2)], [(0, 9, 2)], [(1, 0, 2)]], points={(1, 1)})
    assert placed == {0: 0, 1: 1, 2: 0}


@pytest.mark.slow
def test_a_store_of_quick_looks_says_they_are_left_out_and_i_draws_them_marked(store_run):
    labels, probabilities = noisy_predictions(0)
    store_run(labels, probabilities, experiment_id=8, epochs=1, auc=0.8, mel_recall=0.3)

    async def drive():
        app = empty_app()
        async with app.run_test(size=SIZES["small"]) as pilot:
            await pilot.press("f")
            empty = str(app.screen.query_one("#chart-empty").render())
            assert "runs made as the page made them" in empty and "1 quick look (--epochs) left out" in empty
            assert "No finished runs yet" not in empty
            await pilot.press("i")
            plot = app.screen.query_one(ChartPlot)
            assert plot.display and [p.label for p in plot.chart.series[0].points] == ["8 1ep"]
            await pilot.press("right")  # the AUC and cancer bars: a legend tells the three apart
            caption = str(app.screen.query_one("#chart-caption").render())
            assert "█ AUC ▓ mel recall ░ cancer sensitivity" in caption

    asyncio.run(drive())
