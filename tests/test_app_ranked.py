"""The leaderboard and the recall grid driven by their keys over fixed stored results: both sort by the same keys,
and the grid's `s` goes to melanoma first."""

from __future__ import annotations

import pytest

from tests.conftest import SIZES, lab_app, synchronous
from tui.app.widgets.results.recall_grid import RecallGrid


def grid_column(grid: RecallGrid, key: str) -> list[float]:
    return [float(str(cell)) for cell in grid.get_column(key)]


@pytest.mark.slow
@synchronous
async def test_the_recall_grid_sorts_by_melanoma_reverses_and_shows_experiments():
    app = lab_app()
    async with app.run_test(size=SIZES["small"]) as pilot:
        await pilot.press("g", "s")
        grid = app.screen.query_one(RecallGrid)
        assert (app.ranking.key, app.ranking.descending) == ("mel_recall", True)
        melanoma = grid_column(grid, "mel_recall")
        assert melanoma == sorted(melanoma, reverse=True) and len(set(melanoma)) > 1
        assert "sorted by mel recall, descending" in str(app.screen.query_one("#order-caption").render())
        await pilot.press("S")
        assert grid_column(grid, "mel_recall") == sorted(melanoma)
        await pilot.press("s")  # then cancer sensitivity, best first
        cancer = grid_column(grid, "cancer_sensitivity")
        assert app.ranking.key == "cancer_sensitivity" and cancer == sorted(cancer, reverse=True)
        await pilot.press("s")  # then the other classes, as the CSV names them
        akiec = grid_column(grid, "recall_akiec")
        assert app.ranking.key == "recall_akiec" and akiec == sorted(akiec, reverse=True)
        runs = grid.row_count
        await pilot.press("t")
        assert app.ranking.per_experiment and grid.row_count < runs
        assert all(" n=" in str(grid.get_row_at(index)[1]) for index in range(grid.row_count))
        await pilot.press("l")  # the leaderboard keeps the grid's order
        assert app.ranking.key == "recall_akiec"


def test_rows_sort_by_one_class_of_their_recall():
    from tui.text.tables import sort_rows

    rows = [{"name": name, "recall": {"bcc": bcc}} for name, bcc in (("a", 0.2), ("b", None), ("c", 0.9))]
    assert [row["name"] for row in sort_rows(rows, "recall_bcc", descending=True)] == ["c", "a", "b"]


@pytest.mark.slow
@synchronous
async def test_slash_filters_the_experiments_and_the_leaderboard():
    from tui.app.screens.run_detail import RunDetailScreen
    from tui.app.widgets.experiments.experiment_table import ExperimentTable
    from tui.app.widgets.frame.filter_bar import FilterBar
    from tui.app.widgets.results.leaderboard_table import LeaderboardTable

    app = lab_app()
    async with app.run_test(size=SIZES["small"]) as pilot:
        table = app.screen.query_one(ExperimentTable)
        everything = table.row_count
        await pilot.press("slash", *"resnet", "enter")
        assert table.shown == {"Transfer Learning": [23, 24]} and table.row_count == 3  # its chapter's row too
        await pilot.press("a")  # all: all that the filter shows
        assert app.lab.selected == {23, 24}
        await pilot.press("slash", "escape")
        assert table.row_count == everything and not app.screen.query_one(FilterBar).display

        await pilot.press("l", "slash", *"batchnorm", "enter")
        assert not isinstance(app.screen, RunDetailScreen)  # enter ends the typing; it opens nothing
        names = [str(cell) for cell in app.screen.query_one(LeaderboardTable).get_column("name")]
        assert names == ["BatchNorm"] * 3
        assert "filter 'batchnorm': 3 shown" in str(app.screen.query_one("#order-caption").render())
        await pilot.press("g")  # the grid shows the same rows, and its bar says why
        assert app.screen.query_one(RecallGrid).row_count == 3 and app.screen.query_one(FilterBar).display
        await pilot.press("slash", "escape")
        assert app.screen.query_one(RecallGrid).row_count == 12  # every finished run, the one from scratch too


@pytest.mark.slow
@synchronous
async def test_a_narrow_leaderboard_shortens_names_and_drops_whole_columns_never_cutting_a_figure():
    from tui.app.widgets.results.leaderboard_table import LeaderboardTable

    app = lab_app()
    async with app.run_test(size=(60, 20)) as pilot:
        for keys in (("l",), ("t",)):  # per run, then per experiment with its wider ± cells
            await pilot.press(*keys)
            await pilot.pause()
            table = app.screen.query_one(LeaderboardTable)
            assert table.virtual_size.width <= table.scrollable_content_region.width  # nothing off to the right
            keys_shown = [column.key for column in table.shown]
            assert {"auc", "mel_recall"} <= set(keys_shown)
            assert any(str(cell).endswith("…") for cell in table.get_column("name"))  # the words gave way
            caption = str(app.screen.query_one("#order-caption").render())
            assert "cancer: no room" in caption and not caption.endswith("…"), caption  # what it left out, said
            assert "0.893±0.025" in [str(cell) for cell in table.get_column("auc")] or keys == ("l",)
        await pilot.press("t", "g")  # the grid, per run: every class whole, names shortened before the seeds
        await pilot.pause()
        grid = app.screen.query_one(RecallGrid)
        assert grid.virtual_size.width <= grid.scrollable_content_region.width
        assert "mel_recall" in [str(column.value) for column in grid.columns]
        assert all(str(grid.get_row_at(index)[1]).rstrip().endswith(f" s{row['seed']}")
                   for index, row in enumerate(grid.rows_shown))
        assert "cancer: no room" in str(app.screen.query_one("#order-caption").render())
