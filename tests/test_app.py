"""The app driven by its keys (Pilot), with real child processes training on synthetic data into a real store."""

from __future__ import annotations

import asyncio
import functools
import subprocess
import sys
import time
from pathlib import Path

from textual.command import CommandPalette

from engine.experiments import DEFAULT_EXPERIMENTS
from engine.store import Store
from tui.app import DermalabApp, create_app
from tui.cli import build_parser
from tui.screens.help import HelpScreen
from tui.widgets.leaderboard_table import LeaderboardTable

SIZE = (100, 30)
ACTIVE = ("queued", "running")
CHILD_SECONDS = 120  # one child imports torch, builds the synthetic data and trains an epoch on a busy 2-core box

# Three tiny experiments: one that diverges at once, then two that train normally for far longer than a test waits
# (the tests cancel them), so no speed-up of training can make one finish before its key press.
EXPERIMENTS = """
[[experiment]]
id = 1
name = "Diverges"
chapter = "Fails"
model = { arch = "cnn", channels = [8, 16], batchnorm = false, pool = "flatten", dropout = 0.0, hidden = 0, \
hidden_dropout = 0.0, pretrained = false, freeze_backbone = false, small_stem = false }
optimizer = { name = "sgd", lr = 1e30 }
training = { epochs = 1, batch_size = 256, scheduler = "none" }
loss = { class_weights = "none", label_smoothing = 0.0 }
augment = []

[[experiment]]
id = 2
extends = 1
name = "Trains"
chapter = "Works"
optimizer.lr = 0.1
training.epochs = 1000

[[experiment]]
id = 3
extends = 2
name = "Waits"
chapter = "Works"
"""


def app_with(*options: str, accelerator: str | None = "CPU · test") -> DermalabApp:
    return create_app(build_parser().parse_args(["--device", "cpu", *options]), accelerator=accelerator)


def app_on_experiments(tmp_path: Path) -> DermalabApp:
    """The app on synthetic data with the three tiny EXPERIMENTS above."""
    experiments = tmp_path / "experiments.toml"
    experiments.write_text(EXPERIMENTS)
    return app_with("--data", "synthetic", "--experiments", str(experiments))


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


def stored_status(run_id: str | None) -> str | None:
    store = Store()
    try:
        run = store.get(run_id) if run_id else None
    finally:
        store.close()
    return run and run["status"]


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


def quick_experiments(folder: Path) -> Path:
    """The real experiments file, but experiment 1 (which 2-5 inherit it from) trains in batches of 512 instead
    of 32: the same ids, names and chapters, in a sixteenth of the steps, so five runs fit the tests' time."""
    text = DEFAULT_EXPERIMENTS.read_text()
    quick = text.replace("training.batch_size = 32 ", "training.batch_size = 512 ", 1)
    assert quick != text, "experiment 1's batch size line changed; update quick_experiments"
    path = folder / "experiments.toml"
    path.write_text(quick)
    return path


@synchronous
async def test_select_run_and_sort_the_leaderboard(tmp_path: Path):
    app = app_with("--data", "synthetic", "--epochs", "1", "--experiments", str(quick_experiments(tmp_path)))
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
async def test_a_failure_a_cancel_and_quitting_leave_the_store_consistent(tmp_path: Path):
    app = app_on_experiments(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("a", "r")
        diverges, trains, waits = app.lab.jobs
        await wait_for(pilot, lambda: diverges.status not in ACTIVE)
        assert diverges.status == "diverged" and "loss" in diverges.reason

        # The queue went on: cancel the next run once it is training; it must be stored as cancelled within 2 s.
        await wait_for(pilot, lambda: app.lab.live.job is trains and app.lab.live.batch is not None)
        await pilot.press("x")
        cancelled_at = time.monotonic()
        await wait_for(pilot, lambda: trains.status not in ACTIVE)
        assert time.monotonic() - cancelled_at < 2
        assert trains.status == "cancelled" and stored_status(trains.run_id) == "cancelled"

        # The queue went on again; quitting now asks first, then cancels that run too.
        await wait_for(pilot, lambda: waits.run_id is not None)
        await pilot.press("q")
        assert app.screen.__class__.__name__ == "QuitScreen"
        await pilot.press("y")
        await wait_for(pilot, lambda: not app.is_running, timeout=10)
    assert stored_status(waits.run_id) == "cancelled"


@synchronous
async def test_without_data_a_run_says_how_to_get_it(monkeypatch):
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
        assert Store().runs() == []


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
        await pilot.press("q")  # no run going: no question
        await wait_for(pilot, lambda: not app.is_running, timeout=5)


def test_the_app_leaves_torch_to_its_child_processes():
    """Importing torch would cost seconds before the first screen; only the probe and the runs need it."""
    code = "import sys, tui.app; print(sorted(m for m in ('torch', 'engine.train', 'engine.models') if m in sys.modules))"
    imported = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert imported.stdout.strip() == "[]"
