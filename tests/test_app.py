"""The app driven by its keys (Pilot), with real child processes training on synthetic data into a real store."""

from __future__ import annotations

import asyncio
import functools
import subprocess
import sys
import time
from pathlib import Path

from textual.command import CommandPalette

from tui.app import DermalabApp, create_app
from tui.cli import build_parser
from tui.screens.help import HelpScreen
from tui.widgets.leaderboard_table import LeaderboardTable

SIZE = (100, 30)
ACTIVE = ("queued", "running")
CHILD_SECONDS = 120  # one child imports torch, builds the synthetic data and trains an epoch on a busy 2-core box

def app_with(*options: str, accelerator: str | None = "CPU · test") -> DermalabApp:
    return create_app(build_parser().parse_args(["--device", "cpu", *options]), accelerator=accelerator)


def app_on_tiny(tiny_experiments: Path) -> DermalabApp:
    """The app on synthetic data with the tiny experiments file."""
    return app_with("--data", "synthetic", "--experiments", str(tiny_experiments))


def synchronous(test):
    """No asyncio plugin for pytest here: each test runs its coroutine to the end itself."""
    @functools.wraps(test)
    def run(*args, **kwargs):
        asyncio.run(test(*args, **kwargs))
    return run


async def wait_for(pilot, condition, timeout: float = CHILD_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting; the jobs: {pilot.app.lab.jobs}"
        await pilot.pause(0.1)


def header_x(table: LeaderboardTable, key: str) -> int:
    """The x of the middle of a column's header."""
    x = 0
    for column in table.ordered_columns:
        if column.key.value == key:
            return x + column.get_render_width(table) // 2
        x += column.get_render_width(table)
    raise KeyError(key)


def shown_numbers(table: LeaderboardTable, key: str) -> list[float]:
    return [float(str(cell).rstrip("%")) for cell in table.get_column(key)]


@synchronous
async def test_select_run_and_sort_the_leaderboard(edited_experiments):
    # Experiment 1 (which 2-5 inherit it from) in batches of 512 instead of 32: the same ids, names and chapters,
    # in a sixteenth of the steps, so five runs fit the tests' time.
    quick = edited_experiments(replace={"training.batch_size = 32 ": "training.batch_size = 512 "})
    app = app_with("--data", "synthetic", "--epochs", "1", "--experiments", str(quick))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("down", "space")  # row 0 is chapter 1's heading, row 1 experiment 1
        await pilot.press("down", "down", "c")  # experiment 2, and with c its whole chapter
        assert app.lab.selected == {1, 2, 3, 4, 5}
        await pilot.press("r")
        assert [job.experiment_id for job in app.lab.jobs] == [1, 2, 3, 4, 5]
        await wait_for(pilot, lambda: app.child is None and all(job.status not in ACTIVE for job in app.lab.jobs),
                       timeout=5 * CHILD_SECONDS)
        assert [job.status for job in app.lab.jobs] == ["finished"] * 5

        await pilot.press("l")
        table = app.screen.query_one(LeaderboardTable)
        assert table.row_count == 5
        aucs = shown_numbers(table, "auc")
        assert aucs == sorted(aucs, reverse=True) and len(set(aucs)) > 1
        await pilot.press("S")
        assert shown_numbers(table, "auc") == sorted(aucs)
        await pilot.press("s")  # the next column, best first
        assert (app.ranking.key, app.ranking.descending) == ("mel_recall", True)
        recalls = shown_numbers(table, "mel_recall")
        assert recalls == sorted(recalls, reverse=True)
        await pilot.press("S")
        assert shown_numbers(table, "mel_recall") == sorted(recalls)
        await pilot.click(LeaderboardTable, offset=(header_x(table, "auc"), 0))  # a header click sorts by it
        assert (app.ranking.key, shown_numbers(table, "auc")) == ("auc", sorted(aucs, reverse=True))


@synchronous
async def test_a_failure_a_cancel_and_quitting_leave_the_store_consistent(tiny_experiments, stored):
    app = app_on_tiny(tiny_experiments)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("a", "down", "space", "r")  # all, less #1 (row 0 is its chapter's heading)
        trains, diverges, waits = app.lab.jobs
        assert [job.experiment_id for job in app.lab.jobs] == [2, 3, 4]

        # Cancel the long run once it is training: it is stored as cancelled by the user, short of its epochs.
        await wait_for(pilot, lambda: app.lab.live.job is trains and app.lab.live.batch is not None)
        await pilot.press("x")
        await wait_for(pilot, lambda: trains.status not in ACTIVE)
        cancelled = stored.get(trains.run_id)
        assert (trains.status, cancelled["status"]) == ("cancelled", "cancelled")
        assert cancelled["reason"] == "cancelled by the user" and len(cancelled["history"]) < cancelled["epochs"]

        # The queue went on: the next run diverges and is stored so.
        await wait_for(pilot, lambda: diverges.status not in ACTIVE)
        assert diverges.status == "diverged" and "loss" in diverges.reason
        assert stored.status(diverges.run_id) == "diverged"

        # The queue went on again; quitting now asks first, then cancels that run too.
        await wait_for(pilot, lambda: waits.run_id is not None)
        await pilot.press("q")
        assert app.screen.__class__.__name__ == "QuitScreen"
        await pilot.press("y")
        await wait_for(pilot, lambda: not app.is_running, timeout=10)
    assert stored.status(waits.run_id) == "cancelled"


@synchronous
async def test_without_data_a_run_says_how_to_get_it(monkeypatch, stored):
    monkeypatch.setenv("DERMALAB_DATA_URL", "file:///nonexistent/dermamnist.npz")
    app = app_with()
    async with app.run_test(size=SIZE) as pilot:
        assert "DermaMNIST missing" in app.data_label and "--data synthetic" in app.data_warning
        await pilot.press("down", "space", "down", "down", "down", "space", "r")
        first, second = app.lab.jobs
        await wait_for(pilot, lambda: first.status not in ACTIVE)
        await pilot.pause()
        assert first.status == "failed" and "--data synthetic" in first.reason
        assert second.status == "failed" and second.run_id is None  # dropped, not started: it would fail the same way
        assert stored.runs() == []


@synchronous
async def test_header_names_the_accelerator_found_after_the_first_frame():
    app = app_with("--data", "synthetic", accelerator=None)
    async with app.run_test(size=SIZE) as pilot:
        assert "finding" in app.accelerator
        await wait_for(pilot, lambda: "finding" not in app.accelerator, timeout=60)
        assert app.accelerator.startswith("CPU · ")


@synchronous
async def test_keys_help_palette_and_plain_quit():
    app = app_with("--data", "synthetic")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape", "ctrl+p")
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"leaderboard", "enter")
        await wait_for(pilot, lambda: app.current_mode == "leaderboard", timeout=5)
        await pilot.press("x")  # nothing to cancel: says so, and nothing breaks
        await pilot.pause()
        assert [str(n.message) for n in app._notifications] == ["No run is going."]
        assert app.current_mode == "leaderboard" and app.child is None and app.is_running
        await pilot.press("q")  # no run going: no question
        await wait_for(pilot, lambda: not app.is_running, timeout=5)


def test_the_app_leaves_torch_to_its_child_processes():
    """Importing torch would cost seconds before the first screen; only the probe and the runs need it."""
    code = "import sys, tui.app; print(sorted(m for m in ('torch', 'engine.train', 'engine.models') if m in sys.modules))"
    imported = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert imported.stdout.strip() == "[]"
