"""Runs on a cluster through submitit, tested with its local executor (real controller and task processes, tiny
synthetic runs): a finished task and a cancelled one imported by `sync` exactly once, a task that fails with its own
sentence, and the refusals of --executor where submitit or sbatch is missing."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path

import numpy as np
import psutil
import pytest

from engine.errors import RunCancelled, UserError
from engine.events import BatchProgress, EpochEnded, RunFailed, RunStarted
from engine.experiments import sweeps
from engine.experiments.load import load
from engine.experiments.spec import Point
from engine.jobs import cluster, halving, runner, scheduler
from engine.jobs.queue import CANCELLED, Executor, Job, JobQueue, eta_seconds, plan
from engine.status import Status
from engine.store.runs import Store, StoreUnwritable
from engine.training import data
from engine.training.options import RunOptions, run_config
from tests import version_3_store as version_3
from tests.conftest import GRID, SMALLEST_SET, with_sweeps

WAIT_SECONDS = 240  # each task imports torch in a process of its own on a busy 2-core box


@pytest.fixture(autouse=True)
def no_task_left(dermalab_home: Path):
    """However a test ends, no local executor's controller or task of its home lives on."""
    yield
    for process in psutil.process_iter():
        try:
            command = " ".join(process.cmdline())
        except psutil.Error:  # one that has ended, or another user's
            continue
        if "submitit" in command and str(dermalab_home) in command:
            os.kill(process.pid, signal.SIGKILL)


def synced_jobs() -> dict[str, dict]:
    """The queue after a look, which imports what the tasks finished (as `dermalab queue` does)."""
    from engine.jobs.queue import JobQueue

    store = Store()
    try:
        cluster.sync(store)
        return {job["job_id"]: job for job in JobQueue(store).current(0)}
    finally:
        store.close()


def live_history(run_id: str) -> list[dict]:
    """A run's history rows after a look: those of its task's finished epochs while it trains."""
    synced_jobs()
    store = Store()
    try:
        return store.history(run_id)
    finally:
        store.close()


def wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"no {what} after {WAIT_SECONDS} s; the jobs: {synced_jobs()}"
        time.sleep(0.5)


@pytest.mark.processes
@pytest.mark.slow
@pytest.mark.parametrize("sigint", [signal.SIG_DFL, signal.SIG_IGN], ids=["from a terminal", "in the background"])
def test_tasks_finish_or_are_cancelled_and_each_result_is_imported_once(tiny_experiments, cli, stored, sigint):
    """In the background of a script (`nohup dermalab run ... &`), every process started inherits SIGINT ignored;
    the cancel, which reaches a task as SIGINT, must still stop it."""
    previous = signal.signal(signal.SIGINT, sigint)
    try:
        submitted = cli("run", "1", "2", "--executor", "local", "--detach", "--data", "synthetic", "--experiments",
                        str(tiny_experiments))
    finally:
        signal.signal(signal.SIGINT, previous)
    assert submitted.returncode == 0, submitted.stderr
    short, long = submitted.stdout.split()  # one epoch, and 10000 epochs
    wait_for(lambda: synced_jobs()[short]["status"] == "finished", "finished task")
    assert stored.status(short) == "finished" and len(stored.get(short)["history"]) == 1
    wait_for(lambda: synced_jobs()[long]["batch"], "heartbeat of the long task")  # from its progress file
    beating = synced_jobs()[long]
    assert (beating["status"], beating["epochs"]) == ("running", 10000) and beating["batches"] > 0
    wait_for(lambda: len(live_history(long)) >= 2, "live history of the long task")  # its curves, as it trains
    live = live_history(long)
    assert [row["epoch"] for row in live] == list(range(1, len(live) + 1)) and live[0]["val_auc"] is not None

    cancelled = cli("cancel", long, "--json")
    assert cancelled.returncode == 0, cancelled.stderr
    assert json.loads(cancelled.stdout)[0]["status"] == "cancelled"
    wait_for(lambda: synced_jobs() and stored.status(long) == "cancelled", "cancelled run")  # the task stored it so

    again = cli("sync")
    assert again.returncode == 0 and again.stdout.startswith("Imported 0 runs"), again.stdout + again.stderr
    assert sorted(run["run_id"] for run in stored.runs()) == sorted([short, long])
    history = stored.get(long)["history"]  # the task's own, in place of the live rows
    assert [row["epoch"] for row in history] == list(range(1, len(history) + 1)) and len(history) >= len(live)
    listed = json.loads(cli("queue", "--json").stdout)
    assert listed == []  # nothing left going


@pytest.mark.processes
@pytest.mark.slow
def test_a_failing_task_is_stored_failed_with_its_own_sentence(tiny_experiments, child_cli, stored, tmp_path):
    broken = tmp_path / "broken.npz"
    broken.write_text("not an npz")  # there at submission, unreadable on the node
    done = child_cli("run", "1", "--executor", "local", "--json", "--data", str(broken), "--experiments",
                     str(tiny_experiments), timeout=WAIT_SECONDS)
    assert done.returncode == 1, done.stderr
    [result] = map(json.loads, done.stdout.splitlines())
    assert result["status"] == "failed" and result["reason"].startswith(f"--data {broken}: not an .npz archive")
    run = stored.get(result["run_id"])
    assert (run["status"], run["reason"]) == ("failed", result["reason"])


@pytest.mark.slow
def test_a_result_file_is_imported_exactly_once(tiny_experiments, tmp_path):
    node = Store(tmp_path / "node.sqlite")
    runner.run_one("r1", load(tiny_experiments)[1], data.synthetic(), RunOptions(device="cpu"), node, lambda e: None)
    row = json.loads(json.dumps(node.exported("r1")))  # through a file's JSON
    home = Store(tmp_path / "home.sqlite")
    assert home.imported(row) is True
    assert home.imported(row) is False
    brought, sent = home.get("r1"), node.get("r1")
    arrays = ("labels", "probabilities")
    assert {k: v for k, v in brought.items() if k not in arrays} == {k: v for k, v in sent.items() if k not in arrays}
    assert all(np.array_equal(brought[key], sent[key]) for key in arrays) and len(home.runs()) == 1


def test_executor_refusals_are_one_sentence(refused, monkeypatch, tmp_path):
    local_with_slots = refused("run", "1", "--executor", "local", "--jobs", "2")
    assert local_with_slots.startswith("--jobs, --gpus, --per-gpu and --threads")
    assert refused("run", "1", "--runs-per-task", "3").startswith("--runs-per-task shares out a cluster's tasks")
    assert refused("run", "1", "--executor", "slurm", "--mem", "4GB") == (
        "--mem 4GB: give a size as Slurm writes it, a whole number and its unit (500M, 16G).")
    monkeypatch.setenv("PATH", str(tmp_path))  # no sbatch here
    assert refused("run", "1", "--executor", "slurm").startswith("--executor slurm: this machine has no 'sbatch'")
    monkeypatch.setitem(sys.modules, "submitit", None)  # as where the extra is not installed
    assert refused("run", "1", "--executor", "local") == (
        "--executor local needs submitit, which is an extra: pip install -e '.[slurm]', then run again.")


def test_a_task_that_ended_without_a_result_says_how_the_cluster_ended_it():
    assert cluster.ended_without_result("TIMEOUT", "4242_3").startswith(
        "the task ran out of its time on the cluster; give it more with --time MINUTES (its log: ")
    said = cluster.ended_without_result("OUT_OF_MEMORY", "4242_3")
    assert said.startswith("the cluster ended the task as out of memory")
    assert cluster.ended_without_result("INTERRUPTED", "17").startswith("the task ended without leaving a result")
    # Slurm's word for a task whose process exited 0 before it wrote its result (a signal too early to handle)
    assert cluster.ended_without_result("COMPLETED", "17").startswith("the task ended without leaving a result")


def test_slurms_listings_are_read_task_by_task():
    """sacct's and squeue's 'ID|STATE' lines: a cancel by user 0 is a cancel (sacct adds 'by 0', which once kept a job
    waiting for ever), and a pending array's tasks that share one line are each its own."""
    listing = "93|CANCELLED by 0\n94_0|RUNNING\n95_[1-3,7%2]|PENDING\n\n96|OUT_OF_MEMORY\n"
    assert scheduler.parse(listing) == {"93": "CANCELLED", "94_0": "RUNNING", "95_1": "PENDING", "95_2": "PENDING",
                                        "95_3": "PENDING", "95_7": "PENDING", "96": "OUT_OF_MEMORY"}
    assert {"CANCELLED", "OUT_OF_MEMORY", scheduler.GONE} <= cluster.ENDED_STATES
    assert not {"PENDING", "RUNNING", scheduler.UNKNOWN} & cluster.ENDED_STATES


def test_a_task_slurm_has_forgotten_failed_and_a_scheduler_that_does_not_answer_ends_nothing(monkeypatch, tmp_path):
    """Without Slurm here, sacct and squeue are not found: no answer, so no task is taken for ended."""
    monkeypatch.setenv("PATH", str(tmp_path))
    assert scheduler.states(["4242_0", "4243"]) == {"4242_0": scheduler.UNKNOWN, "4243": scheduler.UNKNOWN}
    assert cluster.ended_without_result(scheduler.GONE, "4242_0").startswith(
        "the task left Slurm without leaving a result (killed, or its node lost; its log: ")


def test_a_running_tasks_progress_is_read_on_its_own_clock_and_its_silence_shows(tiny_experiments):
    """The ETA counts from when the run began on its node, not from this side's first look (which once showed 'ETA
    0s' at batch 29 of 219); a task silent for minutes is shown stalled, its ETA shrinking, not growing."""
    store = Store()
    queue = JobQueue(store)
    [job] = plan([load(tiny_experiments)[2]], [0], "synthetic", str(tiny_experiments), RunOptions(device="cpu"))
    queue.add_submitted([job], Executor.SLURM, ["4242_0"])
    now = time.time()
    epochs = [asdict(EpochEnded(job.job_id, epoch, 10_000, 0.9, 1.0, 0.6 + epoch / 10, 0.5, 1e-3, 20.0))
              for epoch in (1, 2)]
    progress = {"started": asdict(RunStarted(job.job_id, 2, job.name, 0, "cpu", "synthetic", 10_000, 10)),
                "started_at": now - 60, "batch": asdict(BatchProgress(job.job_id, 3, 5, 10, 0.5, 100.0)),
                "written_at": now - 1, "epochs": epochs}
    cluster.write_atomically(cluster.progress_path(cluster.results_folder(), job.job_id), json.dumps(progress))

    def look() -> dict:
        row = queue.get(job.job_id)
        progress = cluster.progress_of(row)
        cluster.beat(queue, row, progress)
        cluster.follow(queue, row, "RUNNING", progress)
        return queue.get(job.job_id)

    seen = look()
    assert (seen["status"], seen["phase"], seen["started_at"]) == ("running", "slurm 4242_0: running", now - 60)
    assert eta_seconds(seen, now) > 3600 * 24  # 2.5 epochs of 10,000 in a minute
    assert [(row["epoch"], row["val_auc"]) for row in store.history(job.job_id)] == [(1, 0.7), (2, 0.8)]
    pending = queue.get(job.job_id)  # sacct, from slurmdbd, may still say PENDING of a task that trains
    cluster.follow(queue, pending, "PENDING", cluster.progress_of(pending))
    assert queue.get(job.job_id)["phase"] == "slurm 4242_0: running"
    progress["written_at"] = now - 600  # as if it had fallen silent
    cluster.write_atomically(cluster.progress_path(cluster.results_folder(), job.job_id), json.dumps(progress))
    silent = look()
    assert silent["phase"] == "slurm 4242_0: stalled (no progress for 10 minutes)"
    assert eta_seconds(silent, now) < eta_seconds(seen, now)


def test_a_task_out_of_time_says_how_far_it_got_and_what_time_would_do(tmp_path):
    """Slurm's warning (SIGUSR2) ends the run; its reason says what a --time MINUTES that would let it end is."""
    stop = cluster.SlurmStop()
    assert stop.out_of_time() == f"{cluster.TIME_UP} (it had not begun training)"  # still importing torch, say
    now = time.time()
    stop.began, stop.progress = now - 90, cluster.TaskProgress(tmp_path / "progress.json")
    stop.progress.state = {"started": {"epochs": 10}, "started_at": now - 60,
                           "batch": {"epoch": 3, "batch": 0, "batches": 100}}  # 2 epochs a minute: 5 minutes in all
    assert stop.out_of_time() == ("the task ran out of its time on the cluster after 2 of 10 epochs (about 30 s each);"
                                  " --time 8 would let it end")  # 30 s to start, 330 s to train, 90 s warned


def test_a_task_of_several_runs_out_of_time_says_what_time_would_let_the_runs_to_come_end_too(tmp_path):
    """Two more runs of its task wait after this one: a --time for the three (taken as long as this one each), or
    fewer runs a task."""
    stop = cluster.SlurmStop()
    stop.after = 2
    assert stop.out_of_time() == (f"{cluster.TIME_UP}, or fewer runs with --runs-per-task (this run had not begun "
                                  "training; 2 more runs of the task waited)")
    now = time.time()
    stop.began, stop.progress = now - 90, cluster.TaskProgress(tmp_path / "progress.json")
    stop.progress.state = {"started": {"epochs": 10}, "started_at": now - 60,
                           "batch": {"epoch": 3, "batch": 0, "batches": 100}}
    assert stop.out_of_time() == ("the task ran out of its time on the cluster after 2 of 10 epochs (about 30 s each),"
                                  " with 2 more runs of the task to come; --time 19 would let them all end, or fewer "
                                  "runs with --runs-per-task")  # 30 s to start, 3 x 330 s to train, 90 s warned


def test_a_cancel_lost_in_a_finalizer_stops_the_run_at_its_next_batch():
    """The handler's exception, raised while Python ran a finalizer, is only printed; the task once trained on until
    Slurm's SIGKILL (KillWait, 30 s), every later SIGTERM ignored. The next batch raises it again; the run's own end
    passes."""
    stop, seen = cluster.SlurmStop(), []
    sink = stop.watching(seen.append)
    sink(BatchProgress("run", 1, 1, 10, 0.5, 100.0))
    with pytest.raises(RunCancelled):  # as from the handler: here caught, as a finalizer would
        stop(signal.SIGTERM, None)
    stop(signal.SIGTERM, None)  # a later signal only noted
    with pytest.raises(RunCancelled):
        sink(BatchProgress("run", 1, 2, 10, 0.5, 100.0))
    sink(RunFailed("run", Status.CANCELLED, cluster.STOPPED, 1))
    assert [type(event) for event in seen] == [BatchProgress, RunFailed]


@pytest.mark.parametrize(("saved_ago", "restarts"), [(None, "0"), (60, "0"), (0, str(cluster.REQUEUES_AT_MOST))])
def test_a_task_that_may_not_requeue_itself_fails_at_the_warning(tmp_path, monkeypatch, saved_ago, restarts):
    """No checkpoint, one saved only before this allocation began (the next would start where this one did), or as
    many requeues as allowed: the warning fails the run, before anything asks Slurm to requeue it."""
    monkeypatch.setenv("SLURM_JOB_ID", "1")  # a Slurm task's, though no Slurm would take it here
    monkeypatch.setenv("SLURM_RESTART_COUNT", restarts)
    monkeypatch.setattr(cluster, "requeue_self", lambda: pytest.fail("asked Slurm to requeue it"))
    stop = cluster.SlurmStop()
    stop.checkpoint = tmp_path / "run.checkpoint.pt"
    if saved_ago is not None:
        stop.checkpoint.write_bytes(b"")
        os.utime(stop.checkpoint, (stop.began - saved_ago, stop.began - saved_ago))
    with pytest.raises(UserError, match=cluster.TIME_UP.split(";")[0]):
        stop(signal.SIGUSR2, None)
    assert not stop.requeued


def test_a_task_that_saved_a_checkpoint_in_its_allocation_requeues_itself_at_the_warning(tmp_path, monkeypatch):
    """Requeued (the real `scontrol requeue` is tests/test_slurm.py's), it stops at once, leaving no outcome."""
    monkeypatch.setenv("SLURM_RESTART_COUNT", str(cluster.REQUEUES_AT_MOST - 1))
    monkeypatch.setattr(cluster, "requeue_self", lambda: True)
    stop = cluster.SlurmStop()
    stop.checkpoint = tmp_path / "run.checkpoint.pt"
    stop.checkpoint.write_bytes(b"")
    os.utime(stop.checkpoint, (stop.began + 1, stop.began + 1))  # an epoch later: file times may be coarser
    with pytest.raises(cluster.Requeued):
        stop(signal.SIGUSR2, None)
    assert stop.requeued


def test_a_signal_between_two_runs_stops_the_next_as_it_is_taken_up_and_never_began_says_why_plainly():
    """Between runs a signal is only noted; the next run, armed, stops before it trains. A run that never began
    says what ended its task."""
    stop = cluster.SlurmStop()
    assert stop.never_began() == "the task ended before this run's turn came (its log says why)"
    stop.armed = False
    stop(signal.SIGTERM, None)
    assert stop.never_began() == f"{cluster.STOPPED} before this run's turn came"
    with pytest.raises(RunCancelled, match=r"Slurm stopped the task \(a scancel"):
        stop.arm()


def test_a_task_whose_earlier_run_ended_in_its_allocation_requeues_itself_at_the_warning(tmp_path, monkeypatch):
    """Its run under way saved no checkpoint yet, but a run before it ended here: requeued, the task passes over that
    one and trains this one again, rather than failing it and never beginning the runs after it."""
    monkeypatch.setattr(cluster, "requeue_self", lambda: True)
    stop = cluster.SlurmStop()
    stop.checkpoint, stop.ended = tmp_path / "run.checkpoint.pt", 1
    with pytest.raises(cluster.Requeued):
        stop(signal.SIGUSR2, None)
    assert stop.requeued


def test_a_result_the_store_cannot_take_leaves_its_job_waiting_and_says_why(tiny_experiments):
    """A task that failed before its run began: its run is stored from the job. When the store cannot take that
    write (here: full), the error surfaces and the job stays as it was, so a later sync stores both."""
    store, experiments = Store(), load(tiny_experiments)
    queue = JobQueue(store)
    [job] = plan([experiments[1]], [0], "synthetic", str(tiny_experiments), RunOptions(device="cpu"))
    queue.add_submitted([job], Executor.SLURM, ["4242_0"])
    cluster.write_atomically(cluster.result_path(cluster.results_folder(), job.job_id),
                             json.dumps({"job_id": job.job_id, "reason": "DermaMNIST is not on the node"}))
    fill_the_page_of_runs(store, experiments[1])
    [(pages,)] = store.execute("PRAGMA page_count")
    store.execute(f"PRAGMA max_page_count = {pages}")  # as a full disk: the next run needs a page more

    with pytest.raises(StoreUnwritable, match="free some disk space"):
        cluster.sync(store)
    assert queue.get(job.job_id)["status"] == "queued" and not store.exists(job.job_id)

    store.execute("PRAGMA max_page_count = 1073741823")  # room again
    cluster.sync(store)
    run = store.get(job.job_id)
    assert (run["status"], run["reason"], run["started_at"]) == ("failed", "DermaMNIST is not on the node", None)
    assert (queue.get(job.job_id)["status"], queue.submitted()) == ("failed", [])


def fill_the_page_of_runs(store: Store, experiment) -> None:
    """A run whose notes leave less room on the runs table's only page than any run row takes (its config hash
    alone is 64 characters), so that another run needs a new page."""
    options = RunOptions(device="cpu", precision="fp32")
    store.start(RunStarted("filler", experiment.id, experiment.spec.name, 9, "cpu", "synthetic", 1, 1),
                experiment.spec.chapter, run_config(experiment, options), True, "synthetic")
    [(room,)] = store.execute("SELECT unused FROM dbstat WHERE name = 'runs'")
    with store.transaction() as db:
        db.execute("UPDATE runs SET notes=? WHERE run_id='filler'", (json.dumps(["x" * (room - 40)]),))
    [(left,)] = store.execute("SELECT unused FROM dbstat WHERE name = 'runs'")
    assert left < 64, left


def exported_failed_run(tmp_path: Path, job, reason: str = "DermaMNIST is not on the node") -> dict:
    """A run as a task exports it (through a file's JSON), ended at once: its rows without any training."""
    node = Store(tmp_path / f"node-{job.job_id}.sqlite")
    started = RunStarted(job.job_id, job.experiment_id, job.name, job.seed, "cpu", "synthetic", 1, 1)
    node.start(started, "chapter", {"model": {"pretrained": False}, "precision": "fp32"}, True, "synthetic")
    node.fail(RunFailed(job.job_id, Status.FAILED, reason, 1), None)
    try:
        return json.loads(json.dumps(node.exported(job.job_id)))
    finally:
        node.close()


def test_a_version_3_tasks_result_is_imported_by_sync_with_its_recalls_by_label(tiny_experiments, tmp_path):
    """A task started before the store's upgrade to version 4 exports its run with version 3's recall columns (named
    after DermaMNIST's classes, empty for another set): sync takes it as it is, its recalls by label."""
    version_3.write(tmp_path / "task.sqlite")
    store = Store()
    jobs = plan([load(tiny_experiments)[1]], [0, 1], "synthetic", str(tiny_experiments), RunOptions(device="cpu"))
    JobQueue(store).add_submitted(jobs, Executor.LOCAL, ["999999999"] * len(jobs))  # a controller long gone
    for job, run_id in zip(jobs, version_3.RUNS, strict=True):
        run = version_3.exported(tmp_path / "task.sqlite", run_id)
        for row in (row for rows in run.values() for row in rows):
            row["run_id"] = job.job_id
        cluster.write_atomically(cluster.result_path(cluster.results_folder(), job.job_id),
                                 json.dumps({"job_id": job.job_id, "run": run}))

    assert cluster.sync(store).skipped == {}
    assert [store.get(job.job_id)["recall"] for job in jobs] == [version_3.DERMA_RECALLS, version_3.PATH_RECALLS]
    store.close()


def test_a_bad_result_file_is_skipped_with_a_sentence_that_names_it_and_the_rest_are_imported(
        tiny_experiments, cli, stored, tmp_path):
    """Cut short, not an outcome, an empty run, a run of a newer dermalab (a column this version lacks: once taken
    for a full disk), or another job's run: each said for what it is, and left; the good file is imported."""
    store = Store()
    queue = JobQueue(store)
    jobs = plan([load(tiny_experiments)[1]], list(range(8)), "synthetic", str(tiny_experiments),
                RunOptions(device="cpu"))
    queue.add_submitted(jobs, Executor.LOCAL, ["999999999"] * len(jobs))  # a controller long gone
    good, cut, listed, empty, newer, other, worded, going = jobs
    run = exported_failed_run(tmp_path, good)
    novel = exported_failed_run(tmp_path, newer)
    novel["runs"][0]["novel_column"] = 1
    text_auc = exported_failed_run(tmp_path, worded)
    text_auc["runs"][0]["auc"] = "high"  # which the views would format as a number
    running = exported_failed_run(tmp_path, going)
    running["runs"][0]["status"] = "running"  # its job would run for ever
    files = [(good, {"job_id": good.job_id, "run": run}), (cut, '{"job_id": "' + cut.job_id), (listed, [1, 2]),
             (empty, {"job_id": empty.job_id, "run": {"runs": []}}), (newer, {"job_id": newer.job_id, "run": novel}),
             (other, {"job_id": other.job_id, "run": run}), (worded, {"job_id": worded.job_id, "run": text_auc}),
             (going, {"job_id": going.job_id, "run": running})]
    for job, content in files:
        text = content if isinstance(content, str) else json.dumps(content)
        cluster.write_atomically(cluster.result_path(cluster.results_folder(), job.job_id), text)
    store.close()

    synced = cli("sync")
    assert synced.returncode == 0 and synced.stdout.startswith("Imported 1 run"), synced.stdout + synced.stderr
    said = dict(zip(["cut", "listed", "empty", "newer", "other", "worded", "going"], synced.stderr.splitlines(),
                    strict=True))
    for (job, _), sentence in zip(files[1:], said.values()):
        assert sentence.startswith(f"dermalab: Skipped the result file {cluster.results_folder()}/{job.job_id}.json")
        assert "disk" not in sentence, sentence
    assert "not whole JSON" in said["cut"] and f"no outcome of job {listed.job_id}" in said["listed"]
    assert "exactly one run" in said["empty"] and "another job's" in said["other"]
    assert "lacks (novel_column)" in said["newer"] and "upgrade dermalab" in said["newer"]
    assert "a value of another kind than this store keeps in auc" in said["worded"]
    assert "its run has not ended (it says running)" in said["going"]
    assert [run["run_id"] for run in stored.runs()] == [good.job_id]
    assert stored.jobs()[cut.job_id]["phase"] == "local 999999999: its result file was skipped"
    assert stored.jobs()[good.job_id]["status"] == "failed"
    for command in ("queue", "cancel", "sync"):  # each still works, and says the same of the same files
        answered = cli(command, *(["--all"] if command == "cancel" else []))
        assert answered.returncode == 0 and answered.stderr.count("Skipped the result file") == 7, answered.stderr


def test_a_pruned_cluster_run_stays_pruned_and_its_task_files_go(tiny_experiments, cli, stored):
    """A prune used to last until the next look: `sync` imported the run again from its task's result file."""
    store = Store()
    [job, later] = plan([load(tiny_experiments)[1]], [0, 1], "synthetic", str(tiny_experiments),
                        RunOptions(device="cpu"))
    JobQueue(store).add_submitted([job], Executor.LOCAL, ["999999999"])
    files = [cluster.result_path(cluster.results_folder(), job.job_id),
             cluster.progress_path(cluster.results_folder(), job.job_id), cluster.folder() / "999999999" / "log.out",
             cluster.order_path(cluster.results_folder(), job.job_id)]
    for path in files:
        cluster.write_atomically(path, json.dumps({"job_id": job.job_id, "reason": "DermaMNIST is not on the node"}))
    cluster.sync(store)
    JobQueue(store).add_submitted([later], Executor.LOCAL, ["424242424"])  # not pruned: its task's folder stays
    (cluster.folder() / "424242424").mkdir()
    store.close()
    assert stored.status(job.job_id) == "failed"

    pruned = cli("prune", "--yes")
    assert pruned.returncode == 0 and "Deleted 1 run" in pruned.stdout, pruned.stdout + pruned.stderr
    assert not any(path.exists() for path in files) and not (cluster.folder() / "999999999").exists()
    assert (cluster.folder() / "424242424").is_dir()
    for command in ("sync", "queue", "results"):
        assert cli(command).returncode == 0
    assert [run["run_id"] for run in stored.runs()] == [later.job_id] == list(stored.jobs())  # the pruned one gone


def test_a_damaged_progress_file_is_as_none(tiny_experiments, cli, stored):
    """A task's progress file that is not what a task writes (a list, an event without its fields, a time that is
    text) once stopped every look at the queue; it is passed over, as a file not written yet."""
    store = Store()
    jobs = plan([load(tiny_experiments)[1]], [0, 1, 2, 3], "synthetic", str(tiny_experiments),
                RunOptions(device="cpu"))
    JobQueue(store).add_submitted(jobs, Executor.LOCAL, ["999999999"] * len(jobs))
    epoch = asdict(EpochEnded(jobs[3].job_id, 1, 1, 0.9, 1.0, 0.7, 0.5, 1e-3, 20.0))
    damaged = [[1, 2], {"started": {"run_id": "x"}}, {"written_at": "soon"}, {"epochs": [{**epoch, "val_auc": "high"}]}]
    for job, progress in zip(jobs, damaged, strict=True):
        cluster.write_atomically(cluster.progress_path(cluster.results_folder(), job.job_id), json.dumps(progress))
    store.close()
    looked = cli("queue", "--json")
    assert looked.returncode == 0 and json.loads(looked.stdout) == [], looked.stderr
    for job in jobs:  # their controller long gone, and no result: each failed, saying so, with no history
        run = stored.get(job.job_id)
        assert run["reason"].startswith("the task ended without leaving a result") and run["history"] == []


def test_the_app_says_a_skipped_result_file_once_and_follows_on(tiny_experiments):
    """The app's store feed syncs every few seconds: a bad result file once ended the app; now it is said once."""
    from tui.app.messages import ResultsSkipped, StoreChanged
    from tui.app.training import StoreFeed

    store = Store()
    queue = JobQueue(store)
    [job] = plan([load(tiny_experiments)[1]], [0], "synthetic", str(tiny_experiments), RunOptions(device="cpu"))
    queue.add_submitted([job], Executor.LOCAL, ["999999999"])
    cluster.write_atomically(cluster.result_path(cluster.results_folder(), job.job_id), "[1, 2]")
    posted: list = []
    feed = StoreFeed(0.0, posted.append, lambda: None)
    for _ in range(2):
        feed.synced_at = float("-inf")  # a sync at each read, as every SYNC_SECONDS
        feed._read(store, queue)
    skipped = [message for message in posted if isinstance(message, ResultsSkipped)]
    assert [len(message.sentences) for message in skipped] == [1] and job.job_id in skipped[0].sentences[0]
    assert any(isinstance(message, StoreChanged) for message in posted)


def test_following_tasks_ends_at_a_skipped_result_file(tiny_experiments, monkeypatch):
    """A following `run --executor ...` once waited for ever on a task whose result file could not be taken."""
    from engine.jobs import watch

    store = Store()
    jobs = plan([load(tiny_experiments)[1]], [0, 1], "synthetic", str(tiny_experiments), RunOptions(device="cpu"))
    JobQueue(store).add_submitted(jobs, Executor.LOCAL, ["999999999"] * len(jobs))
    for job in jobs:
        cluster.write_atomically(cluster.result_path(cluster.results_folder(), job.job_id), "{")
    looks, sync = [], cluster.sync

    def looked_at_most_a_few_times(store: Store) -> cluster.Synced:  # fails, rather than hangs, where it would wait
        looks.append(store)
        assert len(looks) < 5, "the follow goes on waiting on the skipped files"
        return sync(store)

    monkeypatch.setattr(cluster, "sync", looked_at_most_a_few_times)
    said: list[str] = []
    assert watch.follow_tasks(store, [job.job_id for job in jobs], lambda job, run: None, said.append) is False
    assert len(said) == 2 and len(looks) == 1, said


# Sweeps on a cluster: tasks that train several runs in turn, and halving decided on the submitting side


@pytest.mark.processes
@pytest.mark.slow
def test_a_sweep_of_27_runs_trains_through_the_local_executor_and_a_second_one_runs_nothing(tmp_path, cli, stored):
    """The issue's 3 x 3 points x 3 seeds through the cluster path, as two tasks (14 runs, then 13) trained in turn:
    a task per run would be 27 fresh Pythons importing torch, about 6 CPU-s each here."""
    path = str(with_sweeps(tmp_path, GRID))
    done = cli("sweep", "grid", "--executor", "local", "--runs-per-task", "14", *SMALLEST_SET, "--experiments", path)
    assert done.returncode == 0, done.stderr
    assert "Submitted 2 tasks to local" in done.stderr
    finished = [run for run in stored.runs() if run["status"] == "finished"]
    assert len(finished) == 27 and len({(run["config_hash"], run["seed"]) for run in finished}) == 27
    tasks = Counter(job["cluster_job_id"] for job in stored.jobs().values())
    assert sorted(tasks.values()) == [13, 14]
    again = cli("sweep", "grid", "--executor", "local", "--runs-per-task", "14", *SMALLEST_SET, "--experiments", path)
    assert again.returncode == 0 and "skipped 27 runs of 27" in again.stderr, again.stderr
    assert "Submitted" not in again.stderr and len(stored.jobs()) == 27


def submitted_sweep(tmp_path: Path, aucs: dict[float, float], mine: float = 1e-3) -> tuple[dict, list[str]]:
    """A halving sweep's job of point lr=`mine` submitted to a task, and its rivals (lr -> val AUC at epoch 1, as
    their tasks' progress files told), as sync stores them: jobs of the sweep with the same data and options."""
    path = with_sweeps(tmp_path, '[[sweeps]]\nname = "lr"\nextends = 2\n'
                                 'axes = { "optimizer.lr" = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2] }\n')
    points = {point.spec.optimizer.lr: point for point in sweeps.named("lr", load(path), path).points()}
    store = Store()
    queue = JobQueue(store)
    jobs = {lr: plan([points[lr]], [0], "synthetic", str(path), RunOptions(device="cpu", halving=True))[0]
            for lr in [*aucs, mine]}
    queue.add_submitted(list(jobs.values()), Executor.LOCAL, ["999999999"] * len(jobs))
    store.epochs([EpochEnded(jobs[lr].job_id, 1, 10_000, 1.0, 1.0, auc, 0.5, 1e-3, 1.0) for lr, auc in aucs.items()])
    store.close()
    return {"job_id": jobs[mine].job_id}, [jobs[lr].job_id for lr in aucs]


def epochs_come_home(job_id: str, aucs: list[float]) -> None:
    """A look at a job whose task wrote these finished epochs (val AUC each) into its progress file."""
    epochs = [asdict(EpochEnded(job_id, epoch, 10_000, 0.9, 1.0, auc, 0.5, 1e-3, 1.0))
              for epoch, auc in enumerate(aucs, 1)]
    cluster.write_atomically(cluster.progress_path(cluster.results_folder(), job_id), json.dumps({"epochs": epochs}))
    store = Store()
    try:
        queue = JobQueue(store)
        cluster.beat(queue, queue.get(job_id), cluster.progress_of(queue.get(job_id)))
    finally:
        store.close()


def order_of(job_id: str) -> dict | None:
    return cluster.read_order(cluster.order_path(cluster.results_folder(), job_id))


def test_sync_orders_a_cluster_run_behind_its_rivals_at_a_rung_to_stop_once_and_lets_a_leader_go_on(tmp_path):
    behind, rivals = submitted_sweep(tmp_path, {1e-4: 0.9, 3e-4: 0.8})
    epochs_come_home(behind["job_id"], [0.5])  # 3 points at epoch 1: the top 1 goes on
    assert order_of(behind["job_id"]) == {
        "status": "stopped", "reason": "by halving: its point's val AUC 0.500 placed 3 of 3 points at epoch 1, where "
                                       "the top 1 go on"}
    assert all(order_of(rival) is None for rival in rivals)  # only the point judged is told anything

    leader, _ = submitted_sweep(tmp_path, {1e-4: 0.6, 3e-4: 0.7}, mine=3e-3)
    epochs_come_home(leader["job_id"], [0.8])
    assert order_of(leader["job_id"]) is None
    epochs_come_home(leader["job_id"], [0.8, 0.1])  # no rung since: epoch 1 is not judged again
    assert order_of(leader["job_id"]) is None
    epochs_come_home(leader["job_id"], [0.8, 0.1, 0.1])  # epoch 3, a rung its rivals have not reached: first there
    assert order_of(leader["job_id"]) is None


def test_a_cancel_of_one_run_of_a_task_that_trains_others_is_an_order_to_its_task(tiny_experiments):
    """Its task trains the other runs on: the cancel is an order, which the task heeds for that run alone."""
    store = Store()
    jobs = plan([load(tiny_experiments)[1]], [0, 1], "synthetic", str(tiny_experiments), RunOptions(device="cpu"))
    JobQueue(store).add_submitted(jobs, Executor.LOCAL, ["999999999"] * 2)
    try:
        cluster.cancel(store, [JobQueue(store).get(jobs[0].job_id)])
        assert not cluster.others_going(store, JobQueue(store).get(jobs[1].job_id))  # the last: its task may go
        assert cluster.others_going(store, {"executor": "local", "cluster_job_id": "999999999", "job_id": "x"})
    finally:
        store.close()
    assert order_of(jobs[0].job_id) == {"status": "cancelled", "reason": CANCELLED}
    assert order_of(jobs[1].job_id) is None and stored_status(jobs[1].job_id) == "queued"


def stored_status(job_id: str) -> str:
    store = Store()
    try:
        return JobQueue(store).get(job_id)["status"]
    finally:
        store.close()


@pytest.fixture
def signals_put_back():
    """A task run in this process sets its own handlers for SIGINT, SIGTERM and SIGUSR2: put pytest's back."""
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR2)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


@pytest.mark.slow
def test_a_task_heeds_its_orders_a_stop_at_the_next_epochs_end_and_a_cancel_before_its_turn(
        tiny_experiments, tmp_path, signals_put_back):
    """One task of three runs: the first stopped by halving (stored stopped with its epoch, never failed), the
    second cancelled before its turn (no run), the third trained to its end."""
    stopped, skipped, trained = plan([load(tiny_experiments)[1]], [0, 1, 2], "synthetic", str(tiny_experiments),
                                     RunOptions(device="cpu", epochs=3, halving=True, dataset="breastmnist"))
    results = tmp_path / "results"
    for job, status in ((stopped, Status.STOPPED), (skipped, Status.CANCELLED)):
        cluster.write_atomically(cluster.order_path(results, job.job_id),
                                 json.dumps({"status": status, "reason": f"{status} from home"}))
    assert cluster.task([stopped, skipped, trained], str(results)) == [stopped.job_id, skipped.job_id, trained.job_id]
    outcomes = [json.loads(cluster.result_path(results, job.job_id).read_text()) for job in (stopped, skipped, trained)]
    halved = outcomes[0]["run"]["runs"][0]
    assert (halved["status"], halved["reason"], halved["stopped_epoch"]) == ("stopped", "stopped from home", 1)
    assert [row["epoch"] for row in outcomes[0]["run"]["history"]] == [1]
    assert outcomes[1] == {"job_id": skipped.job_id, "reason": "cancelled from home"}
    assert outcomes[2]["run"]["runs"][0]["status"] == "finished" and len(outcomes[2]["run"]["history"]) == 3


@pytest.mark.processes
@pytest.mark.slow
def test_halving_through_the_local_executor_stops_a_point_behind_its_rivals_as_stopped_with_its_epochs(
        tmp_path, cli, stored):
    """A sweep's point of 10,000 epochs on one task; two rival points reached epoch 1 with a val AUC of 1 already.
    The look after its first epoch came home places it 3rd of 3 (the top 1 goes on): its task is ordered to stop,
    and the run is stored stopped with the epochs it trained by then, never failed or cancelled."""
    path = with_sweeps(tmp_path, '[[sweeps]]\nname = "lr"\nextends = 2\naxes = { "optimizer.lr" = [1e-3] }\n')
    submitted = cli("sweep", "lr", "--halving", "--executor", "local", "--detach", "--data", "synthetic",
                    "--experiments", str(path))
    assert submitted.returncode == 0, submitted.stderr
    [job_id] = submitted.stdout.split()
    store = Store()
    try:
        mine = JobQueue(store).get(job_id)
        rivals = [Job.new(2, "rival", 0, mine["data"], mine["experiments"], mine["options"],
                          Point("lr", {"optimizer.lr": lr})) for lr in (1e-2, 1e-4)]
        JobQueue(store).add(rivals)  # as run by a worker, or by another task: the same sweep, data and options
        store.epochs([EpochEnded(rival.job_id, 1, 10_000, 0.5, 1.0, 1.0, 0.9, 1e-3, 1.0) for rival in rivals])
    finally:
        store.close()
    wait_for(lambda: synced_jobs()[job_id]["status"] not in ("queued", "running"), "end of the halved run")
    run = stored.get(job_id)
    assert run is not None and run["status"] == "stopped", run and (run["status"], run["reason"])
    assert run["reason"].startswith("by halving: its point's val AUC ")
    assert run["reason"].endswith(" placed 3 of 3 points at epoch 1, where the top 1 go on")
    assert len(run["history"]) == run["stopped_epoch"] >= 1


def test_a_stop_by_halving_never_replaces_a_cancel_given_while_it_decided(tmp_path, monkeypatch):
    """halve reads the order file, then places the point: a cancel written meanwhile stays the order."""
    behind, _ = submitted_sweep(tmp_path, {1e-4: 0.9, 3e-4: 0.8})
    figures = halving.submitted_figures

    def cancelled_meanwhile(*args, **kwargs):
        cluster.order(behind["job_id"], Status.CANCELLED, CANCELLED)
        return figures(*args, **kwargs)

    monkeypatch.setattr(halving, "submitted_figures", cancelled_meanwhile)
    epochs_come_home(behind["job_id"], [0.5])  # behind its rivals at epoch 1: it would be stopped
    assert order_of(behind["job_id"]) == {"status": "cancelled", "reason": CANCELLED}


def test_a_run_waiting_its_turn_in_a_running_task_shows_as_queued(tiny_experiments, monkeypatch):
    """A task trains its runs in turn: while it trains the first, the second is not running, whatever Slurm says of
    the task."""
    store = Store()
    queue = JobQueue(store)
    first, second = plan([load(tiny_experiments)[2]], [0, 1], "synthetic", str(tiny_experiments),
                         RunOptions(device="cpu"))
    queue.add_submitted([first, second], Executor.SLURM, ["4242_0"] * 2)
    progress = {"started": asdict(RunStarted(first.job_id, 2, first.name, 0, "cpu", "synthetic", 10_000, 10)),
                "started_at": time.time(), "written_at": time.time()}
    cluster.write_atomically(cluster.progress_path(cluster.results_folder(), first.job_id), json.dumps(progress))
    monkeypatch.setattr(scheduler, "states", lambda task_ids: dict.fromkeys(task_ids, "RUNNING"))
    try:
        cluster.sync(store)
        looked = {job.job_id: queue.get(job.job_id) for job in (first, second)}
    finally:
        store.close()
    assert (looked[first.job_id]["status"], looked[first.job_id]["phase"]) == ("running", "slurm 4242_0: running")
    assert (looked[second.job_id]["status"], looked[second.job_id]["phase"]) == (
        "queued", "slurm 4242_0: waits its turn in the task")


def test_a_cancel_order_stops_the_run_at_its_next_batch_read_at_most_every_few_seconds(tmp_path):
    """The order file lies on a shared file system: read at each epoch's end, but at batches only every
    PROGRESS_SECONDS."""
    orders, seen = cluster.Orders(tmp_path / "run.order.json"), []
    heeded = orders.heeding(seen.append)
    batch = BatchProgress("run", 1, 1, 10, 0.5, 100.0)
    heeded(batch)  # read: no order yet
    cluster.write_atomically(orders.path, json.dumps({"status": "cancelled", "reason": "cancelled by the user"}))
    heeded(batch)  # not read again so soon
    orders.read_at -= cluster.PROGRESS_SECONDS  # as that long later
    with pytest.raises(RunCancelled, match="cancelled by the user"):
        heeded(batch)
    assert seen == [batch, batch] and orders.judge(EpochEnded("run", 1, 3, 1.0, 1.0, 0.5, 0.5, 1e-3, 1.0)) is None


@pytest.mark.slow
@pytest.mark.parametrize("when", ["between the runs", "as the second run begins"])
def test_a_task_warned_of_its_time_limit_after_a_run_ended_requeues_and_trains_only_the_run_left(
        tiny_experiments, tmp_path, monkeypatch, signals_put_back, when):
    """Slurm's warning (SIGUSR2) comes after the task's first run ended in this allocation, before the second saved
    a checkpoint: the task requeues itself (it got further), leaving the second run no outcome; started again, it
    passes over the first and trains the second."""
    first, second = plan([load(tiny_experiments)[1]], [0, 1], "synthetic", str(tiny_experiments),
                         RunOptions(device="cpu", epochs=1, dataset="breastmnist"))
    results, requeued = tmp_path / "results", []
    monkeypatch.setattr(cluster, "requeue_self", lambda: requeued.append(True) or True)
    warned = warn_between_runs(monkeypatch, first) if when == "between the runs" else warn_at_start(monkeypatch, second)
    assert cluster.task([first, second], str(results)) == [first.job_id, second.job_id]
    assert warned and requeued == [True]
    assert not cluster.result_path(results, second.job_id).exists()
    finished = cluster.result_path(results, first.job_id).read_text()

    # Slurm starts it again (the warning came once)
    assert cluster.task([first, second], str(results)) == [first.job_id, second.job_id]
    assert cluster.result_path(results, first.job_id).read_text() == finished  # not trained again
    outcome = json.loads(cluster.result_path(results, second.job_id).read_text())
    assert outcome["run"]["runs"][0]["status"] == "finished" and "signal" not in outcome


def warn_between_runs(monkeypatch, first: Job) -> list[bool]:
    """SIGUSR2 to this process once the first run's outcome is written (once)."""
    leave, warned = cluster.leave, []

    def left(results, outcome, stop):
        leave(results, outcome, stop)
        if outcome["job_id"] == first.job_id and not warned:
            warned.append(True)
            os.kill(os.getpid(), signal.SIGUSR2)

    monkeypatch.setattr(cluster, "leave", left)
    return warned


def warn_at_start(monkeypatch, second: Job) -> list[bool]:
    """SIGUSR2 to this process as the second run starts training, no checkpoint of it yet (once)."""
    warned = []

    class Warning(cluster.TaskProgress):
        def __call__(self, event):
            if isinstance(event, RunStarted) and event.run_id == second.job_id and not warned:
                warned.append(True)
                os.kill(os.getpid(), signal.SIGUSR2)
            super().__call__(event)

    monkeypatch.setattr(cluster, "TaskProgress", Warning)
    return warned
