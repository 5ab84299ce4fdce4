"""Faults while runs go: Ctrl-C, kill -9, two writers, a damaged store, divergence, a crash inside training and a
full disk. Whatever happens, finished runs stay and the store opens cleanly afterwards.

Signals and file-size limits need real `dermalab run` processes; the rest runs the CLI or the runner in-process.
Experiments come from the tiny experiments file (under a second an epoch), each run on one thread because the tests
share a couple of cores with each other's children.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from engine.events import RunFailed
from engine.experiments.load import load
from engine.jobs import runner
from engine.jobs.queue import JobQueue, plan
from engine.store.runs import Store, StoreUnwritable
from engine.training import data
from engine.training.options import RunOptions
from tests.conftest import REPO, one_sentence
from tui import exit_codes
from tui.cli.main import main


@pytest.fixture
def tiny(tiny_experiments) -> str:
    return str(tiny_experiments)


def start(tiny: str, *args: str, file_size_limit: int | None = None) -> subprocess.Popen:
    """`dermalab run ARGS` on synthetic data as a child process with this test's DERMALAB_HOME."""

    def prepare() -> None:
        # A shell may start us with Ctrl-C ignored, and Python only turns SIGINT into KeyboardInterrupt when it
        # starts with the default action, so give the child what a terminal would.
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        if file_size_limit:
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, file_size_limit))

    return subprocess.Popen([sys.executable, "-m", "tui.cli.main", "run", *args, "--data", "synthetic",
                             "--experiments", tiny],
                            cwd=REPO, env={**os.environ, "OMP_NUM_THREADS": "1"}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=prepare)


def rows_as_left(home: Path, where: str = "1") -> list[sqlite3.Row]:
    """Rows read straight from the SQLite file, as a killed process left them: a Store would mark dead runs."""
    path = home / "runs.sqlite"
    if not path.exists():
        return []
    with sqlite3.connect(path) as db:
        db.row_factory = sqlite3.Row
        try:
            return db.execute(f"SELECT * FROM runs WHERE {where} ORDER BY started_at").fetchall()
        except sqlite3.OperationalError:  # the child has not created the table yet
            return []


def wait_for_row(child: subprocess.Popen, home: Path, where: str) -> None:
    deadline = time.monotonic() + 120
    while not rows_as_left(home, where):
        assert child.poll() is None, f"the run ended early: {child.communicate()}"
        assert time.monotonic() < deadline, f"no row with {where} after 120 s"
        time.sleep(0.05)


def statuses(runs: list[dict]) -> list[tuple[int, str]]:
    return [(run["experiment_id"], run["status"]) for run in runs]


@pytest.mark.processes
@pytest.mark.slow
def test_ctrl_c_keeps_finished_runs_and_stores_the_current_one_as_cancelled(tiny, dermalab_home, stored):
    child = start(tiny, "1", "2", "1", "--seed", "5")
    wait_for_row(child, dermalab_home, "experiment_id = 2 AND run_id IN (SELECT run_id FROM history)")
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=60)
    assert child.returncode == exit_codes.INTERRUPTED, err
    assert err.endswith("dermalab: interrupted; finished runs are stored.\n") and "Traceback" not in err

    runs = stored.runs()
    assert statuses(runs) == [(1, "finished"), (2, "cancelled")]  # the third run never started
    finished, cancelled = runs
    assert finished["auc"] is not None and cancelled["reason"] == "cancelled by the user"
    assert cancelled["stopped_epoch"] > len(stored.get(cancelled["run_id"])["history"]) >= 1
    # A second Ctrl-C landing just after a run finished (while its line prints) must not undo the result.
    with stored.opened() as store:
        store.fail(RunFailed(finished["run_id"], "cancelled", "cancelled by the user", 1))
    assert stored.status(finished["run_id"]) == "finished"


@pytest.mark.processes
@pytest.mark.slow
def test_kill_9_mid_epoch_leaves_a_store_that_shows_the_run_as_interrupted(tiny, dermalab_home, stored):
    child = start(tiny, "1", "2")
    wait_for_row(child, dermalab_home, "experiment_id = 2 AND run_id IN (SELECT run_id FROM history)")
    child.kill()
    child.communicate(timeout=60)
    assert [row["status"] for row in rows_as_left(dermalab_home)] == ["finished", "running"]  # as the kill left it

    assert stored.sound()
    runs = stored.runs()
    assert statuses(runs) == [(1, "finished"), (2, "interrupted")]
    assert stored.get(runs[1]["run_id"])["history"], "the epochs done before the kill are kept"


@pytest.mark.processes
@pytest.mark.slow
def test_two_runs_writing_one_store_at_once_both_keep_their_results(tiny, stored):
    children = [start(tiny, "1", "--seed", str(first), "--seeds", "2", "--json") for first in (0, 10)]
    outputs = [child.communicate(timeout=300) for child in children]
    assert [child.returncode for child in children] == [0, 0], [err for _, err in outputs]
    printed = {json.loads(line)["run_id"] for out, _ in outputs for line in out.splitlines()}

    assert stored.sound()
    runs = stored.runs()
    assert {run["run_id"] for run in runs} == printed
    assert sorted((run["seed"], run["status"]) for run in runs) == [(seed, "finished") for seed in (0, 1, 10, 11)]


def not_a_database(path: Path) -> None:
    path.write_bytes(b"this is not SQLite " * 300)
    Path(f"{path}-wal").write_bytes(b"a write-ahead log that might hold the last commits")


def a_malformed_page(path: Path) -> None:
    Store(path).close()
    damaged = bytearray(path.read_bytes())
    damaged[4096:8192] = b"\xff" * 4096  # page 2: the runs table
    path.write_bytes(bytes(damaged))


@pytest.mark.parametrize("damage", [not_a_database, a_malformed_page])
def test_a_corrupt_store_is_kept_aside_said_so_and_replaced_by_a_fresh_one(dermalab_home, capsys, damage, stored):
    path = dermalab_home / "runs.sqlite"
    dermalab_home.mkdir()
    damage(path)
    damaged = {p.name: p.read_bytes() for p in dermalab_home.iterdir()}

    assert main(["results", "--format", "json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out) == []
    aside = next(dermalab_home.glob("runs.sqlite.corrupt-*[0-9]"))
    assert one_sentence(err).startswith(f"warning: the run store was damaged, so it was kept as {aside} ")
    kept = {p.name.replace(aside.name, path.name): p.read_bytes() for p in dermalab_home.glob(f"{aside.name}*")}
    assert kept == {name: content for name, content in damaged.items() if not name.endswith("-shm")}
    assert stored.sound()  # the fresh store is sound: nothing more is moved


@pytest.mark.slow
def test_a_diverging_run_is_stored_as_diverged_at_its_epoch_and_the_queue_goes_on(tiny, one_thread, capsys, stored):
    assert main(["run", "3", "1", "--data", "synthetic", "--experiments", tiny]) == exit_codes.RUN_FAILED
    diverged, finished = stored.runs()
    assert (diverged["status"], diverged["stopped_epoch"]) == ("diverged", 1)
    assert diverged["reason"] == "the training loss became nan in epoch 1"
    assert finished["status"] == "finished"
    assert "[3] Diverges seed 0: diverged at epoch 1" in capsys.readouterr().err


@pytest.mark.slow
def test_an_exception_inside_training_fails_that_run_with_the_reason_and_the_queue_goes_on(tiny, one_thread, capsys,
                                                                                        stored):
    def out_of_memory_once(module, inputs):
        hook.remove()
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    # A crash only a real device can cause, injected at the first forward pass of the first run.
    hook = torch.nn.modules.module.register_module_forward_pre_hook(out_of_memory_once)
    assert main(["run", "1", "--seeds", "2", "--data", "synthetic", "--experiments", tiny]) == exit_codes.RUN_FAILED
    failed, finished = stored.runs()
    assert (failed["status"], failed["reason"]) == ("failed",
                                                    "OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB")
    assert finished["status"] == "finished"
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.processes
@pytest.mark.slow
def test_a_full_disk_while_saving_stops_with_one_sentence_and_no_half_written_run(tiny, dermalab_home, stored):
    # A file-size limit fails writes the way a full disk does, without needing a tiny file system. The store is
    # made first, so the limit meets only the child's write-ahead log: 110 kB of it holds the job, the run's row
    # and its epochs (about 80 kB), not also the finished run's figures and predictions (about 150 kB in all).
    # Heartbeats while it trains only fill it sooner.
    with stored.opened() as store:
        JobQueue(store)
    child = start(tiny, "1", "--seeds", "2", "--epochs", "2", "--json", file_size_limit=110_000)
    out, err = child.communicate(timeout=120)
    assert (child.returncode, out) == (2, "")
    message = one_sentence(err)
    assert message.startswith(f"The run store {dermalab_home / 'runs.sqlite'} could not be written (")
    assert "free some disk space" in message

    assert stored.sound()
    [run] = (stored.get(run["run_id"]) for run in stored.runs())  # the second seed never started
    assert run["metrics"] is None and [e["epoch"] for e in run["history"]] == list(range(1, len(run["history"]) + 1))
    # Which write meets the full disk depends on the machine's pace, since the heartbeat writes twice a second.
    # After the per-image results failed, the small update that marks the run failed still fits; after a heartbeat
    # failed, nothing does, and the next open says the run was interrupted.
    interrupted = "the process running it ended without finishing (killed or crashed)"
    assert (run["status"], run["reason"]) in (("failed", message), ("interrupted", interrupted))


@pytest.mark.slow
def test_sqlite_full_mid_run_marks_the_run_failed_and_stops_the_queue(tiny, one_thread):
    store, experiments = Store(), load(tiny)
    queue = JobQueue(store)
    queue.add(plan([experiments[1]], [0, 1], "synthetic", tiny, RunOptions()), keep=True)
    # SQLITE_FULL, as on a full disk: the store may not grow past its present pages, which hold a run's row
    # and epochs but not its per-image results.
    store._db.execute(f"PRAGMA max_page_count = {store._db.execute('PRAGMA page_count').fetchone()[0]}")
    with pytest.raises(StoreUnwritable, match=r"could not be written \(database or disk is full\)"):
        runner.run_kept(queue, experiments, data.synthetic(), store, lambda event: None)
    # The second seed never started: its small row (no history, no results) still fits, and says why.
    run, never = (store.get(job["job_id"]) for job in queue.current(0))
    assert (run["status"], run["metrics"]) == ("failed", None) and "database or disk is full" in run["reason"]
    assert (never["status"], never["reason"], never["started_at"]) == ("failed", run["reason"], None)
    assert [(job["status"], job["reason"]) for job in queue.current(0)] == [("failed", run["reason"])] * 2
