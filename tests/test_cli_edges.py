"""The command line at its edges: a reader that goes away, an 80-column terminal, a number that could be a run or
an experiment."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import REPO, noisy_predictions
from tui import exit_codes
from tui.cli.main import main
from tui.cli.progress import fold


@pytest.fixture
def two_runs(store_run):
    labels, probabilities = noisy_predictions(0)
    store_run(labels, probabilities, experiment_id=8, run_id="9abc0000")
    store_run(labels, noisy_predictions(1)[1], experiment_id=21, run_id="def00000")


@pytest.mark.slow
@pytest.mark.parametrize("args", [["results", "--format", "csv"], ["results"], ["compare"], ["ensemble", "9a", "de"],
                                  ["operating-point", "9a"], ["list", "--json"]])
def test_a_reader_that_goes_away_ends_the_command_quietly(two_runs, args):
    read, write = os.pipe()
    os.close(read)  # as `| head -1` does once it has its line
    try:
        done = subprocess.run([sys.executable, "-m", "tui.cli.main", *args], cwd=REPO, stdout=write,
                              stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write)
    assert (done.returncode, done.stderr) == (exit_codes.PIPE_CLOSED, "")


def test_tables_fit_the_terminal_unless_wide(two_runs, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    for command in (["compare"], ["results"], ["results", "--per-experiment"]):
        assert main(command) == exit_codes.OK
        lines = capsys.readouterr().out.splitlines()
        assert lines and all(len(line.rstrip()) <= 80 for line in lines), lines
    assert main(["compare", "--wide"]) == exit_codes.OK
    header = capsys.readouterr().out.splitlines()[0]
    assert len(header) > 80 and header.split()[-6:] == ["cancer", "page", "agrees", "unlike", "the", "page"]


def test_a_number_says_which_run_it_matched_and_experiments_have_their_option(two_runs, capsys):
    assert main(["results", "9"]) == exit_codes.OK
    out, err = capsys.readouterr()
    assert "9abc0000" in out
    assert err == ("dermalab: '9' is the start of run 9abc0000 (#8 BatchNorm); for experiment 9's runs, use "
                   "--experiment 9.\n")
    assert main(["results", "21"]) == exit_codes.BAD_INPUT
    assert "use 'dermalab results --experiment 21'" in capsys.readouterr().err
    assert main(["results", "--experiment", "21", "--format", "csv"]) == exit_codes.OK
    rows = capsys.readouterr().out.splitlines()[1:]
    assert [row.split(",")[0] for row in rows] == ["def00000"]


def test_result_lines_break_between_fields_on_a_narrow_terminal():
    fields = ["[21] Best Custom CNN seed 0:", "AUC 0.789", "mel rec 68%", "cancer 54%", "acc 35%", "38.4s training"]
    lines = fold(fields, 60).splitlines()
    assert all(len(line) <= 60 for line in lines) and len(lines) == 2
    assert " · ".join(field.strip() for line in lines for field in line.split(" · ")) == \
        "[21] Best Custom CNN seed 0: AUC 0.789 · mel rec 68% · cancer 54% · acc 35% · 38.4s training"
    assert fold(fields, None).count("\n") == 0  # a log or a pipe gets one line per run


def test_a_column_with_nothing_to_show_makes_way_for_figures():
    from tui.text.tables import Column, fitting

    columns = [Column("name", "name"), Column("acc", "accuracy", priority=1),
               Column("unlike the page", "differs", priority=1)]
    rows = [{"name": "Baseline", "accuracy": 0.67, "differs": None}]
    assert [c.header for c in fitting(columns, rows, 16)] == ["name", "acc"]  # 'unlike the page' would not fit
    rows[0]["differs"] = ["1/5 epochs"]
    assert [c.header for c in fitting(columns, rows, 16)] == ["name"]
