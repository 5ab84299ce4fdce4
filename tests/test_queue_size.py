"""A queue with a sense of size: the selection's count and time on this machine (from stored runs' speed, else the
page's times, said to be rough), a question before a queue over ten minutes, and dropping or clearing waiting jobs."""

from __future__ import annotations

import asyncio

import pytest
from textual.widgets import Static

from engine.experiments.load import load
from engine.jobs.estimate import TRAIN_IMAGES, estimate
from tui.app.main import create_app
from tui.app.screens.confirm_queue import ConfirmQueueScreen
from tui.cli.main import build_parser

EXPERIMENTS = load()


def test_a_stored_speed_counts_for_its_experiment_and_scales_the_page_times_of_the_others():
    one, two = EXPERIMENTS[1].spec, EXPERIMENTS[2].spec
    assert estimate([EXPERIMENTS[1]], EXPERIMENTS, []).rough  # nothing run here: the page's time, said so
    assert estimate([EXPERIMENTS[1]], EXPERIMENTS, []).seconds == one.published.time_s

    page_speed = TRAIN_IMAGES * one.training.epochs / one.published.time_s
    runs = [{"experiment_id": 1, "images_per_second": page_speed / 3}]  # this machine: 3 times slower than the page
    here = estimate([EXPERIMENTS[1], EXPERIMENTS[2]], EXPERIMENTS, runs)
    assert not here.rough
    assert abs(here.seconds - 3 * (one.published.time_s + two.published.time_s)) < 1e-6


@pytest.mark.slow
def test_the_selection_is_counted_timed_and_confirmed_and_waiting_jobs_can_be_dropped(monkeypatch):
    async def drive() -> None:
        app = create_app(build_parser().parse_args(["--data", "synthetic"]), accelerator="CPU · test")
        monkeypatch.setattr(app, "start_worker", lambda: None)  # the queue is what is tested: nothing trains
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("a")
            said = str(app.screen.query_one("#selection-line", Static).content)
            assert said.startswith("25 runs selected · about ") and said.endswith("(rough: the page's times, as "
                                                                                 "nothing ran here yet)"), said
            await pilot.press("r")  # the page's times add up to over ten minutes
            assert isinstance(app.screen, ConfirmQueueScreen)
            question = str(app.screen.query_one(Static).content)
            assert question.startswith("Queue 25 runs selected · about ")
            await pilot.press("n")
            assert not app.lab.jobs and len(app.lab.selected) == 25  # nothing queued, the selection kept
            await pilot.press("r", "y")
            await pilot.pause()
            assert [job["status"] for job in app.lab.jobs] == ["queued"] * 25

            await pilot.press("v", "d")
            await pilot.pause()
            statuses = {job["experiment_id"]: job["status"] for job in app.lab.jobs}
            assert statuses[25] == "cancelled" and list(statuses.values()).count("queued") == 24
            await pilot.press("D", "y")  # D asks first: one more key confirms
            await pilot.pause()
            assert not app.lab.active_jobs()

    asyncio.run(drive())
