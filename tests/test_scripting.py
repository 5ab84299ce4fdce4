"""The command line as a script reads it: `run --json` answers on stdout whatever stderr is, for every seed asked
for; commands work on a store where nothing has finished yet; and every count says what it counts, alike
everywhere."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

from tests.conftest import REPO, SIZES, app_with, dermalab_here, noisy_predictions, one_sentence, synchronous
from tui import exit_codes
from tui.cli.main import main


def run_with_stderr_on_a_terminal(*args: str) -> tuple[subprocess.CompletedProcess, bytes]:
    """`dermalab ARGS > file` in an interactive shell: stdout a pipe, stderr a pseudo-terminal (drained as it is
    written, as a terminal would be, so the bars never block the command). Returns the run and what the terminal
    showed."""
    master, terminal = pty.openpty()
    shown = bytearray()

    def drain() -> None:
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: every writer of the terminal has closed it
                return
            if not chunk:
                return
            shown.extend(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        done = subprocess.run([sys.executable, "-m", "tui.cli.main", *args], cwd=REPO, stdout=subprocess.PIPE,
                              stderr=terminal, text=True, timeout=300)
    finally:
        os.close(terminal)
    reader.join(timeout=30)
    os.close(master)
    return done, bytes(shown)


@pytest.mark.processes
@pytest.mark.slow
def test_run_json_goes_to_stdout_when_stderr_is_a_terminal_and_a_finished_seed_answers_reused(tiny_experiments,
                                                                                              dermalab_home):
    args = ("run", "1", "--data", "synthetic", "--experiments", str(tiny_experiments), "--json")
    done, shown = run_with_stderr_on_a_terminal(*args)
    assert done.returncode == 0, shown
    [trained] = [json.loads(line) for line in done.stdout.splitlines()]
    assert trained["status"] == "finished" and trained["reused"] is False
    assert trained["run_id"].encode() not in shown  # the bars' terminal got no JSON

    again, shown = run_with_stderr_on_a_terminal(*args)
    assert again.returncode == 0, shown
    [reused] = [json.loads(line) for line in again.stdout.splitlines()]
    assert reused == {**trained, "reused": True}
    assert b"skipped #1 Tiny seed 0" in shown
    detached = dermalab_here(*args, "--detach")  # queues nothing, and says so in JSON
    assert (detached.returncode, json.loads(detached.stdout)) == (0, []), detached.stderr


@pytest.fixture
def nothing_finished(dermalab_home) -> Iterator[None]:
    """A store as it is while its first runs go: one running (in this process, which is alive) and one job
    cancelled before it started, so stored as a cancelled run that never began."""
    from engine.events import RunStarted
    from engine.experiments.load import load
    from engine.jobs.queue import JobQueue, plan
    from engine.store.runs import Store
    from engine.training.options import RunOptions

    experiments, store = load(), Store()
    spec = experiments[8].spec
    store.start(RunStarted("running00001", 8, spec.name, 0, "cpu", "synthetic", spec.training.epochs, 1), spec.chapter,
                spec.run_config(spec.training.epochs, spec.model.pretrained, "fp32"), True, "synthetic")
    queue = JobQueue(store)
    [job] = plan([experiments[9]], [0], "synthetic", None, RunOptions())
    queue.add([job])
    queue.cancel([job.job_id])
    yield
    store.close()


@pytest.mark.parametrize("args", [["results"], ["results", "--per-experiment"], ["results", "--format", "json"],
                                  ["compare"]])
def test_a_store_where_nothing_finished_yet_answers_without_an_error(nothing_finished, capsys, args):
    assert main(args) == exit_codes.OK, capsys.readouterr().err
    out, err = capsys.readouterr()
    assert err == "" and out


def test_sorting_by_a_column_of_names_is_still_refused(nothing_finished, capsys):
    assert main(["results", "--sort", "name"]) == exit_codes.BAD_INPUT
    assert one_sentence(capsys.readouterr().err).startswith("--sort name: not a column of numbers; use one of ")


COUNTED = "2 runs stored: 1 running, 1 cancelled"  # the nothing_finished store, as every count says it


def test_compare_and_results_say_what_is_stored_when_nothing_finished(nothing_finished, capsys):
    assert main(["compare"]) == exit_codes.OK
    assert capsys.readouterr().out == f"No finished runs to set beside the page's figures ({COUNTED}).\n"
    assert main(["results", "--per-experiment"]) == exit_codes.OK
    assert capsys.readouterr().out == f"No finished runs to average ({COUNTED}).\n"
    assert main(["results", "--experiment", "21"]) == exit_codes.OK
    assert capsys.readouterr().out == f"No runs of experiment 21 ({COUNTED}).\n"


def test_prune_counts_the_stored_runs_as_every_command_does(nothing_finished, capsys):
    assert main(["prune", "--yes"]) == exit_codes.OK
    assert capsys.readouterr().out.splitlines()[0] == f"1 run that did not finish would be deleted ({COUNTED})."
    assert main(["prune", "--yes"]) == exit_codes.OK  # a running run is no run to prune, and is counted as such
    assert capsys.readouterr().out == ("Nothing to prune (1 run stored: 1 running): prune deletes the runs that ended "
                                       "without finishing (failed, cancelled, diverged, interrupted).\n")


@synchronous
async def test_the_header_counts_the_stored_runs_by_status(nothing_finished):
    app = app_with("--data", "synthetic")
    async with app.run_test(size=SIZES["small"]):
        # a part of its own, the last at 80 columns (the accelerator, after it, is left out whole there)
        assert f"│ {COUNTED} │" in f"{app.screen.query_one('#header-line').render()} │"


@pytest.mark.parametrize("args", [["list"], ["results"], ["results", "9a"], ["results", "9a", "--confusion"],
                                  ["results", "--per-experiment"], ["compare"], ["operating-point", "9a"],
                                  ["operating-point", "9a", "--class", "cancer", "--target", "0.95"],
                                  ["ensemble", "9a", "de"]])
def test_every_table_fits_80_columns_or_names_what_it_left_out(store_run, capsys, monkeypatch, args):
    labels, probabilities = noisy_predictions(0)
    store_run(labels, probabilities, experiment_id=8, run_id="9abc0000")
    store_run(labels, noisy_predictions(1)[1], experiment_id=21, run_id="def00000", synthetic=False, epochs=2)
    monkeypatch.setenv("COLUMNS", "80")
    assert main(args) == exit_codes.OK
    lines = capsys.readouterr().out.splitlines()
    assert lines and all(len(line) <= 80 for line in lines), "\n".join(lines)
    if args == ["compare"]:  # its rows' blank page figures are explained by a column it names as left out
        assert lines[-1] == "Left out at 80 columns: cancer, unlike the page; --wide shows every column."
    if args == ["list"]:  # the experiments, then the file's sweeps under them
        gap = lines.index("")
        assert lines[gap - 1] == "Left out at 80 columns: chapter; --wide shows every column."
        assert lines[gap + 1].split() == ["sweep", "#", "varies", "points", "seeds", "runs"]
        assert lines[gap + 3].split() == ["batch-cosine", "20", "batch_size", "(3)", "×", "lr", "(3)", "9", "3", "27"]
