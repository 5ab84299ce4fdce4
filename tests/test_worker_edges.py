"""Issue 23's smaller queue and worker edges, with real processes and a real store: a job named twice in one cancel,
a worker stopped by SIGTERM (not a user's cancel), a foreground run whose waiting jobs another terminal
cancelled; a store file deleted under a worker, or a folder in its place; a worker that cannot start."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from engine.errors import UserError
from engine.experiments.load import load
from engine.jobs.lock import worker_pid
from engine.jobs.queue import JobQueue, plan
from engine.store.runs import Store
from engine.training.options import RunOptions
from tests.conftest import REPO, StoredRuns, app_on_tiny, notices, one_sentence, synchronous, wait_for, workers_of
from tui.app.background import confirmed

WAIT_SECONDS = 300  # a worker imports torch and trains a tiny run on a busy 2-core box


@pytest.fixture
def tiny(tiny_experiments) -> str:
    return str(tiny_experiments)


def wait_until(condition, what: str, timeout: float = WAIT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"no {what} after {timeout} s; the jobs: {StoredRuns().jobs()}"
        time.sleep(0.1)


def beating(job_id: str) -> bool:
    """Whether the job's run has sent a heartbeat with its pace (so it trains, past its start)."""
    return (StoredRuns().jobs().get(job_id, {}).get("images_per_second") or 0) > 0


@pytest.mark.slow
def test_a_job_named_twice_is_cancelled_and_listed_once(tiny, cli):
    store = Store()
    [job, other] = plan([load(tiny)[1]], [0, 1], "synthetic", tiny, RunOptions(device="cpu"))
    JobQueue(store).add([job, other])  # waiting; no worker is started by this
    store.close()
    done = cli("cancel", job.job_id, job.job_id, job.job_id[:6])
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [f"{job.job_id} #1 Tiny seed 0: was queued, now cancelled"]
    assert StoredRuns().jobs()[other.job_id]["status"] == "queued"


@pytest.mark.processes
@pytest.mark.slow
@pytest.mark.starts_jobs
def test_a_worker_stopped_by_sigterm_says_so_rather_than_a_users_cancel(tiny, cli, dermalab_home):
    queued = cli("run", "2", "--detach", "--data", "synthetic", "--experiments", tiny)
    assert queued.returncode == 0, queued.stderr
    [job_id] = queued.stdout.split()
    wait_until(lambda: beating(job_id), "heartbeat")
    os.kill(worker_pid(dermalab_home / "runs.sqlite"), signal.SIGTERM)  # a shutdown, say
    wait_until(lambda: StoredRuns().status(job_id) not in (None, "running"), "stored end")
    run = StoredRuns().get(job_id)
    assert (run["status"], run["reason"]) == ("cancelled", "the process training it was stopped by SIGTERM (a "
                                                           "shutdown, or a kill)")


@pytest.mark.processes
@pytest.mark.slow
def test_a_foreground_run_names_its_waiting_jobs_another_terminal_cancelled(tiny, cli):
    foreground = subprocess.Popen([sys.executable, "-m", "tui.cli.main", "run", "2", "1", "--data", "synthetic",
                                   "--experiments", tiny], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True)
    try:
        wait_until(lambda: any(job["experiment_id"] == 2 and beating(job["job_id"])
                               for job in StoredRuns().jobs().values()), "heartbeat")
        assert cli("cancel", "--all").returncode == 0
        _, said = foreground.communicate(timeout=WAIT_SECONDS)
    finally:
        foreground.kill()
    assert "[1] Tiny seed 0: cancelled before it started: cancelled by the user" in said.splitlines(), said
    assert foreground.returncode == 1  # not every run asked for finished


def test_a_folder_in_the_store_files_place_is_named_without_disk_advice(refused, dermalab_home):
    store = dermalab_home / "runs.sqlite"
    store.mkdir(parents=True)
    assert refused("results") == (f"The run store {store} could not be opened ({store} is a folder, not the store's "
                                  "file); move it aside (or remove it), then run again.")


@pytest.mark.processes
@pytest.mark.slow
def test_a_store_file_deleted_under_an_idle_worker_is_opened_afresh_and_served(tiny, cli, dermalab_home):
    first = cli("run", "1", "--detach", "--data", "synthetic", "--experiments", tiny)
    assert first.returncode == 0, first.stderr
    wait_until(lambda: StoredRuns().status(first.stdout.strip()) == "finished", "first run")
    worker = worker_pid(dermalab_home / "runs.sqlite")
    (dermalab_home / "runs.sqlite").unlink()  # its log and index stay, held open by the worker, idle, as its lock
    second = cli("run", "1", "--detach", "--data", "synthetic", "--experiments", tiny)
    assert second.returncode == 0 and f"worker {worker} takes them" in second.stderr, second.stderr
    wait_until(lambda: StoredRuns().status(second.stdout.strip()) == "finished", "run in the new store", 120)


@pytest.mark.processes
@pytest.mark.slow
def test_a_folder_put_in_the_store_files_place_under_an_idle_worker_stops_it_with_that_sentence(tiny, cli,
                                                                                                  dermalab_home):
    first = cli("run", "1", "--detach", "--data", "synthetic", "--experiments", tiny)
    assert first.returncode == 0, first.stderr
    wait_until(lambda: StoredRuns().status(first.stdout.strip()) == "finished", "first run")
    store = dermalab_home / "runs.sqlite"
    store.unlink()
    store.mkdir()
    wait_until(lambda: not workers_of(dermalab_home), "end of the worker", 60)
    [log] = (dermalab_home / "logs").glob("worker-*.log")
    assert log.read_text().splitlines()[-1] == (f"dermalab: The run store {store} could not be opened ({store} is a "
                                                "folder, not the store's file); move it aside (or remove it), then "
                                                "run again.")


@pytest.mark.slow
def test_a_worker_that_cannot_take_its_lock_is_never_said_to_have_started(tiny, cli, child_cli, dermalab_home):
    lock = dermalab_home / "runs.sqlite.worker"
    lock.mkdir(parents=True)
    queued = cli("run", "1", "--detach", "--data", "synthetic", "--experiments", tiny)
    expected = f"The worker's lock {lock} is a folder, not a file; move it aside (or remove it), then run again"
    assert (queued.returncode, queued.stdout) == (2, ""), queued.stderr
    assert one_sentence(queued.stderr) == f"{expected}; nothing stays queued (1 job cancelled)."
    [run] = StoredRuns().runs()  # nothing waits for a worker that will never come
    assert (run["status"], run["reason"]) == ("cancelled", f"{expected}.")
    assert not workers_of(dermalab_home)
    served = child_cli("worker", "--idle", "0")
    assert (served.returncode, one_sentence(served.stderr)) == (2, f"{expected}.")


@pytest.mark.slow
def test_a_worker_that_exits_before_taking_the_store_is_said_with_its_sentence(tmp_path, dermalab_home):
    log = tmp_path / "worker.log"
    with log.open("w") as out:  # stands for a worker refusing to serve: it prints its sentence and exits 2
        process = subprocess.Popen([sys.executable, "-c", "import sys; print('dermalab: The store is a cat.', "
                                    "file=sys.stderr); sys.exit(2)"], stdout=out, stderr=out)
    with pytest.raises(UserError, match=r"^No worker could start: the store is a cat\.$"):
        confirmed(dermalab_home / "runs.sqlite", process, log)


@pytest.mark.slow  # a dermalab child
def test_a_store_deleted_under_an_open_connection_leaves_a_log_set_aside_not_disk_advice(tiny, child_cli,
                                                                                          dermalab_home):
    store = Store()
    JobQueue(store).add(plan([load(tiny)[1]], [0], "synthetic", tiny, RunOptions()))  # a write: the log has it
    (dermalab_home / "runs.sqlite").unlink()  # by hand, while this process has it open: its -wal and -shm stay
    looked = child_cli("results")
    store.close()
    assert looked.returncode == 0, looked.stderr
    [orphan] = dermalab_home.glob("runs.sqlite.orphan-*-wal")
    assert looked.stderr == (f"dermalab: warning: the run store's file had been deleted while a process had it open, "
                             f"so what was left of it (its write-ahead log) was kept as {orphan} and a fresh store "
                             "was started.\n")


@synchronous
async def test_the_app_says_why_no_worker_could_start_and_goes_on(tiny_experiments, dermalab_home):
    lock = dermalab_home / "runs.sqlite.worker"
    lock.mkdir(parents=True)
    app = app_on_tiny(tiny_experiments)
    async with app.run_test(size=(80, 24)) as pilot:
        app.lab.toggle([1])
        await pilot.press("r")
        expected = f"The worker's lock {lock} is a folder, not a file; move it aside (or remove it), then run again."
        await wait_for(pilot, lambda: expected in notices(app))
        assert app.is_running and not workers_of(dermalab_home)
