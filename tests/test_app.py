"""The app driven by its keys (Pilot), with a real worker (started by the app, or by `dermalab run --detach`)
training on synthetic data into a real store."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import pytest
from textual.command import CommandPalette
from textual.widgets import ProgressBar, Static

from tests.conftest import CHILD_SECONDS, SIZE, app_on_tiny, app_with, ended, job_of, notices, synchronous, wait_for
from tui.app.screens.help import HelpScreen
from tui.app.screens.quit import QuitScreen
from tui.app.widgets.results.leaderboard_table import LeaderboardTable

pytestmark = pytest.mark.slow  # the app under Pilot, most tests with a worker training beside it


async def until(condition, timeout: float = CHILD_SECONDS) -> None:
    """Outside the app: wait for something another process does."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.1)


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


@pytest.mark.processes
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
        assert [job["experiment_id"] for job in app.lab.jobs] == [1, 2, 3, 4, 5]
        await wait_for(pilot, lambda: not app.lab.active_jobs() and app.lab.overview.stored == 5,
                       timeout=5 * CHILD_SECONDS)
        assert [job["status"] for job in app.lab.jobs] == ["finished"] * 5
        assert "The queue is done: 5 runs finished of 5." in notices(app)

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


@pytest.mark.processes
@synchronous
async def test_a_failure_a_cancel_and_quitting_leave_the_store_consistent(tiny_experiments, stored):
    app = app_on_tiny(tiny_experiments)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("a", "down", "space", "r")  # all, less #1 (row 0 is its chapter's heading)
        assert [job["experiment_id"] for job in app.lab.jobs] == [2, 3, 4]
        trains, diverges, waits = (job["job_id"] for job in app.lab.jobs)

        # Cancel the long run once it is training: it is stored as cancelled by the user, short of its epochs.
        await wait_for(pilot, lambda: app.lab.live.job["job_id"] == trains and app.lab.live.job["batch"])
        await pilot.press("x", "y")  # y confirms the cancel
        await wait_for(pilot, lambda: ended(app, trains))
        cancelled = stored.get(trains)
        assert (job_of(app, trains)["status"], cancelled["status"]) == ("cancelled", "cancelled")
        assert cancelled["reason"] == "cancelled by the user" and len(cancelled["history"]) < cancelled["epochs"]

        # The queue went on: the next run diverges and is stored so.
        await wait_for(pilot, lambda: ended(app, diverges))
        assert job_of(app, diverges)["status"] == "diverged" and "loss" in job_of(app, diverges)["reason"]
        assert stored.status(diverges) == "diverged"

        # The queue went on again; quitting now asks first, and "c" cancels that run too.
        await wait_for(pilot, lambda: job_of(app, waits)["status"] == "running")
        await pilot.press("q")
        assert isinstance(app.screen, QuitScreen)
        await pilot.press("c")
        await wait_for(pilot, lambda: not app.is_running, timeout=10)
    await until(lambda: stored.status(waits) == "cancelled")  # the worker stores it


@pytest.mark.processes
@synchronous
async def test_the_app_follows_a_run_started_elsewhere_keeps_it_on_quit_and_shows_a_cancel_from_elsewhere(
        tiny_experiments, cli, stored):
    # One detached run for both apps: a worker each would cost a second torch import and its synthetic set.
    detached = cli("run", "2", "--detach", "--data", "synthetic", "--experiments", str(tiny_experiments))
    assert detached.returncode == 0, detached.stderr
    [job_id] = detached.stdout.split()
    app = app_on_tiny(tiny_experiments)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("v")
        epochs = app.screen.query_one("#epoch-bar", ProgressBar)
        await wait_for(pilot, lambda: app.lab.live.job["job_id"] == job_id and epochs.progress >= 1)
        assert epochs.total == 10000 and "Tiny, long" in str(app.screen.query_one("#run-title", Static).content)
        reached = epochs.progress
        await wait_for(pilot, lambda: epochs.progress > reached)  # the bar follows the store as the worker trains

        await pilot.press("q")
        assert isinstance(app.screen, QuitScreen)
        await pilot.press("k")  # keep training
        await wait_for(pilot, lambda: not app.is_running, timeout=10)
    beat = stored.jobs()[job_id]["beat_at"]
    await until(lambda: stored.jobs()[job_id]["beat_at"] > beat)
    assert stored.jobs()[job_id]["status"] == "running"

    app = app_on_tiny(tiny_experiments)  # a second app, open while the run goes on
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: (job_id, "running") in {(job["job_id"], job["status"]) for job in app.lab.jobs})
        cancelled = await asyncio.to_thread(cli, "cancel", job_id)  # as from a second SSH session
        assert cancelled.returncode == 0, cancelled.stderr
        await wait_for(pilot, lambda: job_of(app, job_id)["status"] == "cancelled")
        await pilot.press("q")  # nothing runs any more: the app quits without asking
        await wait_for(pilot, lambda: not app.is_running, timeout=10)
    assert stored.status(job_id) == "cancelled"


@pytest.mark.processes
@synchronous
async def test_without_data_a_run_says_how_to_get_it(monkeypatch, stored):
    monkeypatch.setenv("DERMALAB_DATA_URL", "file:///nonexistent/dermamnist.npz")
    app = app_with()
    async with app.run_test(size=SIZE) as pilot:
        assert "DermaMNIST missing" in app.data_label and "--data synthetic" in app.data_warning
        await pilot.press("down", "space", "down", "down", "down", "space", "r")
        first, second = (job["job_id"] for job in app.lab.jobs)
        await wait_for(pilot, lambda: ended(app, first) and ended(app, second))
        for job in app.lab.jobs:  # each fails before its run starts, with the sentence, said once
            assert (job["status"], job["started_at"]) == ("failed", None) and "--data synthetic" in job["reason"]
        assert " ".join(notices(app)).count("--data synthetic") == 1
        # Each is kept as a run that never started, failed with that sentence.
        assert [(run["status"], run["started_at"], run["reason"]) for run in stored.runs()] == [
            ("failed", None, job["reason"]) for job in app.lab.jobs]


@pytest.mark.processes
@synchronous
async def test_header_names_the_accelerator_found_after_the_first_frame():
    app = app_with("--data", "synthetic", accelerator=None)
    async with app.run_test(size=SIZE) as pilot:
        assert "finding" in app.accelerator
        await wait_for(pilot, lambda: "finding" not in app.accelerator)  # the probe imports torch: slow when busy
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
        assert notices(app) == ["No run is going."]
        assert app.current_mode == "leaderboard" and app.lab.live is None and app.is_running
        await pilot.press("q")  # no run going: no question
        await wait_for(pilot, lambda: not app.is_running, timeout=5)


def test_the_app_leaves_torch_to_its_child_processes():
    """Importing torch would cost seconds before the first screen; only the probe and the runs need it."""
    heavy = ("torch", "engine.training.train", "engine.training.models", "medmnist")
    code = f"import sys, tui.app.main; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    imported = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert imported.stdout.strip() == "[]"
