"""The app's smaller words (issue 22 item 16): the leaderboard's legend explains only the marks its rows carry, the
recall grid says when it is sorted by a figure it has no column of, `/` filters on the data set too, the quit dialog
counts only what there is, and an app opened on real data shows no synthetic score."""

from __future__ import annotations

import pytest
from textual.widgets import Static

from tests.conftest import SIZES, app_with, lab_app, noisy_predictions, synchronous
from tui.app.screens.quit import going_words
from tui.app.widgets.experiments.experiment_table import ExperimentTable
from tui.app.widgets.results.leaderboard_table import LeaderboardTable


def said(screen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


@pytest.mark.slow
@synchronous
async def test_legends_captions_and_the_filter_say_what_the_rows_hold():
    # About 5 s: one app for two views and the filter, each key a redraw from the store (three apps would cost more)
    app = lab_app()
    async with app.run_test(size=SIZES["small"]) as pilot:
        await pilot.press("l")
        legend = said(app.screen, "#legend")
        assert "after a name: unlike the page, so no Δ" in legend and "from scratch: no ImageNet weights" in legend
        assert "●" not in legend  # nothing is marked
        await pilot.press("m")
        assert "●: marked (m)" in said(app.screen, "#legend")
        await pilot.press("slash", *"synth", "enter")  # no experiment is called that: the data set is
        table = app.screen.query_one(LeaderboardTable)
        assert [str(cell) for cell in table.get_column("synthetic")] == ["synth"]
        await pilot.press("slash", "escape", "slash", "8", "enter")  # experiment 8's runs: all real, as the page
        assert "after a name" not in said(app.screen, "#legend")
        await pilot.press("g")
        assert "sorted by AUC (not shown), descending" in said(app.screen, "#order-caption")
        await pilot.press("s")
        assert "sorted by mel recall, descending" in said(app.screen, "#order-caption")


def test_the_quit_dialog_counts_only_what_there_is():
    running, waiting = {"status": "running"}, {"status": "queued"}
    assert going_words([running]) == "1 run training goes on"
    assert going_words([waiting, waiting]) == "2 runs waiting go on"
    assert going_words([running, waiting, waiting]) == "1 run training and 2 waiting go on"


@pytest.mark.slow
@synchronous
async def test_an_app_on_real_data_shows_no_synthetic_score(store_run, lesion_file):
    labels, probabilities = noisy_predictions(0)
    store_run(labels, probabilities, experiment_id=8, synthetic=True)
    store_run(labels, probabilities, experiment_id=10, synthetic=False, auc=0.812)
    for data, expected in (("auto", {"8": "–", "10": "0.812"}), ("synthetic", {"8": None, "10": "0.812"})):
        app = app_with("--data", data)
        async with app.run_test(size=SIZES["small"]):
            table = app.screen.query_one(ExperimentTable)
            best = {key: str(table.get_cell(key, "best")) for key in expected}
            assert best["10"] == expected["10"] and (best["8"] == expected["8"] or expected["8"] is None)
            assert data == "auto" or best["8"].endswith(" syn")  # on synthetic data its score is marked
