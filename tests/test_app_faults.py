"""Issue 4's faults, in the app: a damaged store at start, and a terminal shrunk to 60x20 and back (with a quit
asked and declined) while the worker trains a run, which is then cancelled and stored. Quitting mid-run for good
is in test_app.py's test_a_failure_a_cancel_and_quitting_leave_the_store_consistent."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import (
    CHILD_SECONDS,
    app_on_tiny,
    app_with,
    ended,
    job_of,
    notices,
    synchronous,
    wait_for,
)
from tui.app.screens.quit import QuitScreen
from tui.app.screens.run import RunScreen

pytestmark = pytest.mark.slow  # the app under Pilot, the second test with a worker training beside it

SMALL, LARGE = (60, 20), (100, 30)


@synchronous
async def test_a_corrupt_store_at_start_is_said_in_one_sentence_and_a_fresh_one_used(dermalab_home: Path):
    dermalab_home.mkdir()
    damaged = b"this is not SQLite " * 300
    (dermalab_home / "runs.sqlite").write_bytes(damaged)
    app = app_with("--data", "synthetic")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("l")  # the app goes on, on an empty store
        aside = next(dermalab_home.glob("runs.sqlite.corrupt-*"))
        assert notices(app) == [f"Warning: the run store was damaged, so it was kept as {aside} and a fresh one was "
                                "started; nothing was deleted."]
        assert aside.read_bytes() == damaged and app.lab.overview.stored == 0 and app.current_mode == "leaderboard"


@pytest.mark.processes
@synchronous
async def test_shrinking_the_terminal_and_declining_to_quit_mid_run_break_nothing(tiny_experiments, stored):
    # Experiment 2 runs for 10000 epochs, far longer than the key presses below; the test cancels it once done.
    app = app_on_tiny(tiny_experiments)
    async with app.run_test(size=LARGE) as pilot:
        app.lab.toggle([2])
        await pilot.press("r")
        job = app.lab.jobs[0]["job_id"]
        await wait_for(pilot, lambda: app.lab.live.job["batch"])

        await pilot.resize_terminal(*SMALL)
        for key in ("l", "g", "e", "question_mark", "escape", "v"):  # every view draws at 60x20 mid-run
            await pilot.press(key)
            await pilot.pause()
        assert app.screen.size == SMALL and isinstance(app.screen, RunScreen)
        await pilot.press("q")
        assert isinstance(app.screen, QuitScreen)
        await pilot.press("escape")  # stay: the run goes on
        assert isinstance(app.screen, RunScreen) and job_of(app, job)["status"] == "running"

        await pilot.resize_terminal(*LARGE)
        await pilot.pause()
        assert job_of(app, job)["status"] == "running" and app.screen.size == LARGE
        await pilot.press("x", "y")  # y confirms the cancel
        await wait_for(pilot, lambda: ended(app, job), timeout=CHILD_SECONDS)
        assert app.is_running
    assert job_of(app, job)["status"] == "cancelled" and stored.status(job) == "cancelled"
