"""Snapshots of the experiments, leaderboard and recall grid screens at 80x24 and 120x40, on conftest's lab of fixed
results, and of the screens that need stored predictions or a queue, fixed as well."""

from __future__ import annotations

import time

import pytest

from engine.events import BatchProgress, RunStarted
from engine.experiments.load import load
from engine.jobs.queue import JobQueue, plan
from engine.store.runs import Store
from engine.training.options import RunOptions
from tests.conftest import ACCELERATOR, SIZES, fill_store, lab_app, noisy_predictions, start_run
from tui.app.main import DermalabApp, create_app
from tui.cli.main import build_parser

pytestmark = pytest.mark.slow  # each snapshot drives the app through Pilot for a second or more

STORED_AT = 1_750_000_000.0  # 2025-06-15 15:06:40 UTC: when one_run_app's run started and finished


@pytest.fixture(autouse=True)
def no_gpus(monkeypatch, tmp_path):
    """The header as on a machine without an NVIDIA driver, whatever this one has."""
    from engine.jobs import gpus

    monkeypatch.setattr(gpus, "DRIVER", tmp_path / "no driver")


@pytest.mark.parametrize("size", SIZES)
def test_experiments_screen(snap_compare, size):
    # Selects experiment 1, then highlights experiment 2, whose details show a change vs its parent.
    assert snap_compare(lab_app(), terminal_size=SIZES[size], press=["down", "space", "down", "down"])


def test_experiments_screen_in_a_tiny_terminal(snap_compare):
    # At 40x12 the list keeps half the height, with experiment 2 highlighted and its details below.
    assert snap_compare(lab_app(), terminal_size=(40, 12), press=["down", "down", "down"])


@pytest.mark.parametrize("size", SIZES)
def test_leaderboard_screen(snap_compare, size):
    assert snap_compare(lab_app(), terminal_size=SIZES[size], press=["l"])


@pytest.mark.parametrize("size", SIZES)
def test_leaderboard_per_experiment(snap_compare, size):
    assert snap_compare(lab_app(), terminal_size=SIZES[size], press=["l", "t"])


@pytest.mark.parametrize("size", SIZES)
def test_recall_grid_screen(snap_compare, size):
    assert snap_compare(lab_app(), terminal_size=SIZES[size], press=["g"])


def test_recall_grid_sorted_by_melanoma(snap_compare):
    assert snap_compare(lab_app(), terminal_size=SIZES["small"], press=["g", "s"])


def test_run_view_notices_leave_the_queue_clear(snap_compare):
    # o says whether it overlays: the notice shows over the curves' corner, not over the queue below them.
    assert snap_compare(lab_app(), terminal_size=SIZES["small"], press=["v", "o"])


def test_leaderboard_filtered(snap_compare):
    # Only experiment 8's three seeds; the bar shows the filter and the legend has no synth: none are shown.
    assert snap_compare(lab_app(), terminal_size=SIZES["small"], press=["l", "slash", *"batch", "enter"])


def test_missing_data_is_explained(snap_compare, monkeypatch):
    monkeypatch.setenv("DERMALAB_DATA_DIR", "/nonexistent/dermalab-data")
    fill_store()
    app = create_app(build_parser().parse_args([]), accelerator=ACCELERATOR)
    assert snap_compare(app, terminal_size=SIZES["small"])


def test_recall_grid_without_colour(snap_compare, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    assert snap_compare(lab_app(), terminal_size=SIZES["small"], press=["g"])


def one_run_app(store_run, monkeypatch, runs: int = 1) -> DermalabApp:
    """Runs of five epochs with stored predictions (the fixed noisy val sets of the tests), for the screens that
    need them; stored at a fixed time, since the run detail shows when it ran."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    with monkeypatch.context() as clock:
        clock.setattr(time, "time", lambda: STORED_AT)
        for number in range(runs):
            labels, probabilities = noisy_predictions(number)
            store_run(labels, probabilities, experiment_id=8, seed=number, run_id=f"fixed{number}run", epochs=5,
                      history=True)
    return create_app(build_parser().parse_args(["--data", "synthetic"]), accelerator=ACCELERATOR)


def test_run_detail_with_confusion_matrix(snap_compare, store_run, monkeypatch):
    assert snap_compare(one_run_app(store_run, monkeypatch), terminal_size=SIZES["small"], press=["l", "enter"])


def test_run_detail_curves_and_config(snap_compare, store_run, monkeypatch):
    app = one_run_app(store_run, monkeypatch)
    assert snap_compare(app, terminal_size=SIZES["small"], press=["l", "enter", "pagedown"])


def test_run_detail_without_colour(snap_compare, store_run, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    assert snap_compare(one_run_app(store_run, monkeypatch), terminal_size=SIZES["small"], press=["l", "enter"])


def test_ensemble_names_and_explains_its_measures(snap_compare, store_run, monkeypatch):
    app = one_run_app(store_run, monkeypatch, runs=2)
    assert snap_compare(app, terminal_size=SIZES["small"], press=["l", "m", "down", "m", "c"])


def test_operating_point_screen(snap_compare, store_run, monkeypatch):
    # 85 % for cancer: a point off the corner of the curve.
    app = one_run_app(store_run, monkeypatch)
    assert snap_compare(app, terminal_size=SIZES["small"], press=["l", "o", "c", "minus"])


def queued_app() -> DermalabApp:
    """Two jobs waiting in the store's queue (no worker takes them: none was started)."""
    fill_store()
    experiments, store = load(), Store()
    JobQueue(store).add(plan([experiments[8], experiments[20]], [3], "synthetic", None, RunOptions()))
    store.close()
    return create_app(build_parser().parse_args(["--data", "synthetic"]), accelerator=ACCELERATOR)


def test_run_view_of_a_waiting_queue(snap_compare):
    assert snap_compare(queued_app(), terminal_size=SIZES["small"], press=["v"])


def test_quitting_while_jobs_wait_asks_whether_they_keep_training(snap_compare):
    assert snap_compare(queued_app(), terminal_size=SIZES["small"], press=["q"])


def running_app() -> DermalabApp:
    """Two jobs training at once in two CPU slots (claimed by this process, which lives, so none is taken for
    interrupted), mid-epoch, and a third waiting."""
    fill_store()
    experiments, store = load(), Store()
    queue = JobQueue(store)
    queue.add(plan([experiments[8], experiments[20], experiments[21]], [3], "synthetic", None, RunOptions()))
    progress = ((8, 3, 110, 2150.0), (20, 1, 40, 870.0))  # experiment, epoch, batch, images per second
    for slot, (experiment_id, epoch, batch, speed) in zip(("cpu 1", "cpu 2"), progress):
        job = queue.claim(slot)
        start_run(store, experiments[experiment_id], job.job_id, 3, True)
        queue.started(RunStarted(job.job_id, experiment_id, job.name, 3, "CPU · 1 threads", "synthetic",
                                 experiments[experiment_id].spec.training.epochs, 220))
        queue.beat(BatchProgress(job.job_id, epoch, batch, 220, 0.9, speed))
    # Ten minutes into each run, at the pace of which the ETA is worked out.
    with store.transaction() as db:
        db.execute("UPDATE jobs SET started_at = beat_at - 600 WHERE status = 'running'")
    store.close()
    return create_app(build_parser().parse_args(["--data", "synthetic"]), accelerator=ACCELERATOR)


def test_run_view_of_two_jobs_at_once_follows_the_one_under_the_cursor(snap_compare):
    # The ETAs as at the last heartbeat: the seconds the test takes would otherwise tick them over, at times.
    app = running_app()
    beat_at = max(job["beat_at"] for job in app.lab.running())
    app.lab.etas.clock = lambda: beat_at
    assert snap_compare(app, terminal_size=SIZES["small"], press=["v", "down"])
