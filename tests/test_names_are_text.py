"""Names from the experiments file and the store are text wherever they are shown, never Rich/Textual markup: a
name holding a stray closing tag, a bracketed setting and a pipe is stored, listed, tabled, reported and drawn
verbatim, and breaks nothing afterwards (issue 12, class 1)."""

from __future__ import annotations

import json

import pytest
from rich.text import Text
from textual.widgets import DataTable

from tests.conftest import app_with, synchronous, wait_for
from tui import exit_codes
from tui.app.screens.ensemble import EnsembleScreen
from tui.app.screens.operating_point import OperatingPointScreen
from tui.app.screens.run_detail import RunDetailScreen
from tui.cli.main import main

pytestmark = pytest.mark.slow  # each test trains the tiny experiment under its odd name

# Markup would drop the brackets and the stray tag would raise; matplotlib would read $...$ as maths, and raise on
# the unclosed brace.
NAME = "Adam [lr=1e-3] [/bold] | [red]x $x^{$"
IN_MARKDOWN = NAME.replace("|", "\\|")  # a bare pipe would end the table cell


def poisoned(tiny_experiments) -> str:
    tiny_experiments.write_text(tiny_experiments.read_text().replace('name = "Tiny"', f'name = "{NAME}"'))
    return str(tiny_experiments)


def says(capsys, *args: str) -> str:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert code == exit_codes.OK, err
    return out + err


def test_every_command_shows_the_name_as_written(tiny_experiments, capsys, tmp_path):
    experiments = poisoned(tiny_experiments)
    assert NAME in says(capsys, "list", "--experiments", experiments)
    assert NAME in says(capsys, "run", "1", "--seeds", "2", "--data", "synthetic", "--experiments", experiments)
    # From here on the name comes from the store: the default experiments file knows nothing of it.
    runs = json.loads(says(capsys, "results", "--format", "json"))
    assert [run["name"] for run in runs] == [NAME, NAME]
    first, second = (run["run_id"] for run in runs)
    for args in (["results"], ["results", "--per-experiment"], ["results", first], ["ensemble", first, second]):
        assert NAME in says(capsys, *args), args
    assert IN_MARKDOWN in says(capsys, "results", "--format", "markdown")
    for args in (["compare"], ["results", first, "--confusion"], ["operating-point", first]):
        says(capsys, *args)
    says(capsys, "report", "--out", str(tmp_path / "report"), "--experiments", experiments)  # its charts name it too
    assert f"| {IN_MARKDOWN} |" in (tmp_path / "report" / "report.md").read_text()


def shown_text(table: DataTable) -> str:
    return " ".join(cell.plain if isinstance(cell, Text) else str(cell) for row in range(table.row_count)
                    for cell in table.get_row_at(row))


@synchronous
async def test_the_app_draws_the_name_as_written_on_every_screen(tiny_experiments, capsys):
    experiments = poisoned(tiny_experiments)
    says(capsys, "run", "1", "--seeds", "2", "--data", "synthetic", "--experiments", experiments)
    app = app_with("--data", "synthetic", "--experiments", experiments)
    async with app.run_test(size=(120, 40)) as pilot:
        assert NAME in shown_text(app.screen.query_one(DataTable))  # the experiments list
        for view in ("l", "g"):
            await pilot.press(view)
            assert NAME in shown_text(app.screen.query_one(DataTable)), view
        await pilot.press("l", "enter")
        assert isinstance(app.screen, RunDetailScreen)
        await pilot.press("escape", "o")
        assert isinstance(app.screen, OperatingPointScreen)
        await pilot.press("escape", "m", "down", "m", "c")
        assert isinstance(app.screen, EnsembleScreen)
        app.notify(f"A sentence quoting {NAME}.")  # notifications quote names and paths too
        await pilot.pause()
        await pilot.press("escape", "v", "e")
        await wait_for(pilot, lambda: app.current_mode == "experiments", timeout=5)
        assert app.is_running


def test_a_long_name_leaves_every_figure_in_view_in_piped_output(tiny_experiments, capsys):
    tiny_experiments.write_text(tiny_experiments.read_text().replace('name = "Tiny"', f'name = "{"Long " * 60}"'))
    says(capsys, "run", "1", "--data", "synthetic", "--experiments", str(tiny_experiments))
    [run] = json.loads(says(capsys, "results", "--format", "json"))
    [row] = [line for line in says(capsys, "results").splitlines() if "Long Long" in line]  # capsys: a pipe
    assert row.split()[0] == run["run_id"] and f"{run['auc']:.3f}" in row.split() and str(run["params"]) in row.split()
