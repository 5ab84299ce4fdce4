"""The app's own failures (issue 23, class 5): a key on a widget hidden since it took the focus does nothing, and an
error nobody foresaw ends the app with exit 1 and one sentence after Textual's traceback, never exit 0."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual import constants

from engine.jobs.queue import Job, JobQueue
from engine.store.runs import Store
from tests.conftest import SIZE, app_on_tiny, one_sentence, synchronous
from tui.app.screens.experiments import ExperimentsScreen
from tui.app.widgets.run.running_jobs import RunningJobs
from tui.cli.main import main


@synchronous
async def test_keys_on_a_list_hidden_since_it_took_the_focus_do_nothing(tiny_experiments: Path):
    """With one job running, the running jobs' list hides (it shows only when several run). Textual's own focus on
    opening a screen gave it the focus in the frame that hid it, before the run view named the queue to focus; then
    PageUp raised KeyError in Textual's option list, and the app died. Any code may give a hidden widget the focus
    so: here the test does, as that auto-focus did."""
    queue = JobQueue(Store())
    queue.add([Job.new(2, "Tiny, long enough to interrupt", 0, "synthetic", str(tiny_experiments), {})])
    assert queue.claim("cpu 1") is not None  # running, under this process, which lives: no worker is needed
    app = app_on_tiny(tiny_experiments)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("v")
        hidden = app.screen.query_one(RunningJobs)
        assert not hidden.display
        hidden.focus()
        await pilot.pause()
        for key in ("pageup", "pagedown", "end", "home", "down", "up"):
            await pilot.press(key)
        assert app.current_mode == "run" and app.screen.focused in app.screen.focus_chain  # a widget shown


@pytest.mark.processes
@pytest.mark.slow  # the app's accelerator probe, a child importing torch
def test_an_unforeseen_error_in_the_app_exits_1_with_one_sentence(tiny_experiments: Path, monkeypatch, capsys):
    def fail(screen: ExperimentsScreen) -> None:
        raise KeyError(0)  # as the option list's did

    monkeypatch.setattr(ExperimentsScreen, "on_mount", fail)
    monkeypatch.setattr(constants, "DRIVER", "textual.drivers.headless_driver:HeadlessDriver")  # no terminal here
    assert main(["--device", "cpu", "--data", "synthetic", "--experiments", str(tiny_experiments)]) == 1
    said = capsys.readouterr().err
    assert "KeyError" in said  # Textual's traceback, for a bug report
    assert one_sentence(said[said.index("dermalab: "):]) == (
        "the app stopped on an error it did not expect (its traceback is above); the runs it started go on, "
        "and 'dermalab' opens it again.")
