"""The store-owned queue with real processes and a real store: `run --detach` surviving its terminal's hang-up, a
worker killed with kill -9 and the next one taking the rest, `queue` and `cancel` end to end, claims from two
processes at once, and the bad input of these commands. The workers' clean-up is conftest's `dermalab_home`."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import termios
import time

import psutil
import pytest

from engine.experiments.load import load
from engine.jobs import runner
from engine.jobs.lock import worker_pid
from engine.jobs.queue import ENDED_EARLY, JobQueue, plan
from engine.jobs.worker import ending
from engine.processes import alive
from engine.store.runs import Store
from engine.training import data
from engine.training.options import RunOptions
from tests.conftest import REPO, StoredRuns

WAIT_SECONDS = 300  # a worker imports torch and trains a tiny run on a busy 2-core box (180 s was too few at load 10)
QUEUE_KEYS = {"job_id", "id", "name", "seed", "status", "reason", "phase", "device", "epoch", "epochs", "batch",
              "batches", "loss", "images_per_second", "eta_seconds", "executor", "worker_pid", "host", "slot",
              "cluster_job_id", "queued_at", "started_at", "cancel_requested"}


@pytest.fixture
def tiny(tiny_experiments) -> str:
    return str(tiny_experiments)


def jobs() -> dict[str, dict]:
    """Every job in the store, by id, read as another terminal would."""
    return StoredRuns().jobs()


def runs() -> dict[str, dict]:
    return {run["run_id"]: run for run in StoredRuns().runs()}


def wait_until(condition, what: str, timeout: float = WAIT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"no {what} after {timeout} s; the jobs: {jobs()}"
        time.sleep(0.1)


def session_and_terminal(pid: int) -> tuple[int, str | None]:
    """A process's session id and controlling terminal (None: none)."""
    return os.getsid(pid), psutil.Process(pid).terminal()


@pytest.mark.processes
@pytest.mark.slow
def test_a_detached_run_survives_the_hang_up_of_its_terminal(tiny, dermalab_home):
    master, terminal = pty.openpty()

    def login() -> None:  # a session of its own whose controlling terminal is the pty, as an SSH login's shell
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)
        signal.signal(signal.SIGHUP, signal.SIG_DFL)  # as a login's: not the ignored one of a suite run under nohup

    command = (f"{sys.executable} -m tui.cli.main run 1 --epochs 3 --detach --data synthetic --experiments {tiny}; "
               "exec sleep 600")
    shell = subprocess.Popen(["/bin/sh", "-c", command], stdin=terminal, stdout=terminal, stderr=terminal, cwd=REPO,
                             preexec_fn=login)
    os.close(terminal)
    said = b""
    while not re.search(rb"^[0-9a-f]{12}\r?$", said, re.MULTILINE):
        assert select.select([master], [], [], WAIT_SECONDS)[0], f"run --detach said only {said!r}"
        said += os.read(master, 4096)
    [job_id] = re.findall(rb"^([0-9a-f]{12})\r?$", said, re.MULTILINE)

    os.killpg(shell.pid, signal.SIGHUP)  # the SSH connection drops: its session is hung up
    os.close(master)
    assert shell.wait(timeout=30) == -signal.SIGHUP

    wait_until(lambda: worker_pid(dermalab_home / "runs.sqlite"), "worker")
    worker = worker_pid(dermalab_home / "runs.sqlite")
    assert session_and_terminal(worker) == (worker, None)  # a session of its own, and no terminal to lose
    wait_until(lambda: jobs()[job_id.decode()]["status"] == "finished", "finished run")
    run = StoredRuns().get(job_id.decode())
    assert run["status"] == "finished" and run["auc"] is not None and len(run["history"]) == 3
    assert list((dermalab_home / "logs").glob("worker-*.log"))


@pytest.mark.processes
@pytest.mark.slow
@pytest.mark.starts_jobs
def test_a_worker_killed_mid_run_leaves_the_rest_queued_for_the_next_which_runs_no_job_twice(tiny, dermalab_home,
                                                                                             cli, child_cli):
    queued = [cli("run", *ids, "--detach", "--data", "synthetic", "--experiments", tiny)
              for ids in (["2"], ["1", "--seeds", "2"])]
    assert [done.returncode for done in queued] == [0, 0], [done.stderr for done in queued]
    long, *rest = (job_id for done in queued for job_id in done.stdout.split())  # 10000 epochs, then two short runs
    wait_until(lambda: long in runs() and StoredRuns().get(long)["history"], "epoch of the long run")
    worker = worker_pid(dermalab_home / "runs.sqlite")
    child = StoredRuns().get(long)["pid"]
    os.kill(worker, signal.SIGKILL)
    wait_until(lambda: not alive(child), "end of the worker's child")  # it dies with its worker

    looked = cli("queue", "--json")  # looking at the queue notices the worker is gone, and says so
    assert [(job["job_id"], job["status"]) for job in json.loads(looked.stdout)] == [(j, "queued") for j in rest]
    assert "no worker serves this store" in looked.stderr
    assert (jobs()[long]["status"], runs()[long]["status"]) == ("interrupted", "interrupted")

    second = child_cli("worker", "--idle", "0", timeout=WAIT_SECONDS)  # takes what waits, then stops
    assert second.returncode == 0, second.stderr
    statuses = {job_id: job["status"] for job_id, job in jobs().items()}
    assert statuses == {long: "interrupted", **dict.fromkeys(rest, "finished")}
    assert sorted(runs()) == sorted([long, *rest])  # one run per job: none ran twice


@pytest.mark.processes
@pytest.mark.slow
@pytest.mark.starts_jobs
def test_queue_and_cancel_end_to_end_with_their_json(tiny, cli, refused, dermalab_home):
    queued = cli("run", "2", "1", "--detach", "--json", "--data", "synthetic", "--experiments", tiny)
    assert queued.returncode == 0, queued.stderr
    running, waiting = json.loads(queued.stdout)
    assert set(running) == {"job_id", "id", "name", "seed"} and (running["id"], waiting["id"]) == (2, 1)
    wait_until(lambda: (jobs()[running["job_id"]]["images_per_second"] or 0) > 0, "heartbeat")

    listed = json.loads(cli("queue", "--json").stdout)
    assert [set(job) for job in listed] == [QUEUE_KEYS] * 2
    training, queue_waiting = listed
    assert (training["job_id"], training["status"], training["epochs"], training["worker_pid"]) == (
        running["job_id"], "running", 10000, worker_pid(dermalab_home / "runs.sqlite"))
    assert training["batches"] == 14 and training["eta_seconds"] > 0 and training["device"].startswith("CPU")
    assert (queue_waiting["job_id"], queue_waiting["status"]) == (waiting["job_id"], "queued")
    assert queue_waiting["worker_pid"] is None
    table = cli("queue").stdout
    [row] = [line for line in table.splitlines() if running["job_id"] in line]
    assert "running" in row and "/10000" in row, table  # which epoch depends on the machine's pace

    cancelled = json.loads(cli("cancel", waiting["job_id"], "--json").stdout)
    assert cancelled == [{**waiting, "was": "queued", "status": "cancelled"}]
    # A run id's first characters name its job; a running one stops at its next heartbeat and is stored.
    cancelled = json.loads(cli("cancel", running["job_id"][:6], "--json").stdout)
    assert cancelled == [{**running, "was": "running", "status": "cancelled"}]
    assert runs()[running["job_id"]]["status"] == "cancelled"
    never = runs()[waiting["job_id"]]  # it never started: stored so, with why
    assert (never["status"], never["reason"], never["started_at"], never["device"]) == (
        "cancelled", "cancelled by the user", None, None)
    assert json.loads(cli("queue", "--json").stdout) == []
    assert cli("cancel", "--all").stdout == "Nothing was waiting or running.\n"

    assert refused("cancel", "f00f00") == ("There is no job or run 'f00f00' in the queue; 'dermalab queue' lists the "
                                           "jobs waiting and running.")
    assert refused("cancel", waiting["job_id"]).endswith("has already ended (cancelled); nothing to cancel.")
    assert refused("cancel").startswith("Name the jobs to cancel")


@pytest.mark.slow
def test_a_cancel_before_the_run_begins_is_stored_as_cancelled(tiny):
    store, experiments = Store(), load(tiny)
    queue = JobQueue(store)
    queue.add(plan([experiments[1]], [0], "synthetic", tiny, RunOptions(device="cpu")))
    job = queue.claim("test")
    queue.cancel([job.job_id])  # while its process still prepares: the flag waits for the first heartbeat
    outcome = runner.run_job(job, experiments[1], data.synthetic(), store, queue, lambda event: None,
                             runner.CancelSwitch())
    assert (outcome.status, outcome.reason) == ("cancelled", "cancelled by the user")
    assert (store.get(job.job_id)["status"], queue.get(job.job_id)["status"]) == ("cancelled", "cancelled")


def test_a_job_whose_process_id_now_names_another_process_is_interrupted(tiny):
    store, experiments = Store(), load(tiny)
    queue = JobQueue(store)
    queue.add(plan([experiments[1]], [0], "synthetic", tiny, RunOptions(device="cpu")))
    job = queue.claim("test")  # by this process, which lives
    queue.recover()
    assert queue.get(job.job_id)["status"] == "running"
    with store.transaction() as db:  # as if the process that claimed it had ended and the system gave its pid to us
        db.execute("UPDATE jobs SET process_started = process_started - 60")
    queue.recover()
    assert queue.get(job.job_id)["status"] == "interrupted"
    run = store.get(job.job_id)
    assert (run["status"], run["reason"], run["started_at"]) == ("interrupted", ENDED_EARLY, None)


def test_how_a_child_ended_is_worded_without_guessing():
    assert ending(-signal.SIGINT, cancel_asked=True) == ("cancelled", "cancelled by the user")
    status, reason = ending(-signal.SIGINT, cancel_asked=False)
    assert (status, reason) == ("failed", "the training process was killed by SIGINT")  # no talk of memory
    assert "memory" in ending(-signal.SIGKILL, cancel_asked=False)[1]
    assert ending(1, cancel_asked=False)[1].startswith("the training process ended with exit code 1")


CLAIMER = """
import sys
import time
from engine.jobs.queue import JobQueue
from engine.store.runs import Store
queue = JobQueue(Store())
print("ready", flush=True)
sys.stdin.readline()
while (job := queue.claim("test")) is not None:
    print(job.job_id, flush=True)
    time.sleep(0.01)  # as a worker would train: gives the other claimer its turns, even when one starts late
"""


@pytest.mark.slow
def test_two_processes_claiming_at_once_never_take_the_same_job(tiny):
    queue = JobQueue(Store())
    queue.add(plan(load(tiny).values(), range(75), "synthetic", None, RunOptions()))  # 300 jobs
    claimers = [subprocess.Popen([sys.executable, "-c", CLAIMER], cwd=REPO, stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, text=True) for _ in range(2)]
    for claimer in claimers:
        assert claimer.stdout.readline() == "ready\n"
    for claimer in claimers:  # both start claiming at once
        claimer.stdin.write("go\n")
        claimer.stdin.flush()
    claimed = [claimer.communicate(timeout=120)[0].split() for claimer in claimers]
    assert all(claimed) and not set(claimed[0]) & set(claimed[1])  # both took some, none the same
    assert sorted(claimed[0] + claimed[1]) == sorted(job["job_id"] for job in queue.current(0))


def test_bad_input_to_the_queue_commands_is_one_sentence(refused, tmp_path, monkeypatch):
    assert refused("run", "1", "--detach", "--device", "cdua") == (
        "--device cdua: unknown device; use auto, cpu, cuda, cuda:N or mps.")
    assert refused("run", "1", "--detach", "--data", str(tmp_path / "none.npz")).startswith(
        f"--data {tmp_path / 'none.npz'}: no such file")
    assert refused("cancel", "abc", "--all").startswith("Name the jobs to cancel")
    blocked = tmp_path / "a file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("DERMALAB_HOME", str(blocked / "home"))
    assert refused("run", "1", "--detach", "--data", "synthetic").startswith(
        f"The run store {blocked / 'home' / 'runs.sqlite'} could not be opened")


def test_the_queue_table_writes_images_a_second_whole_as_the_progress_line_does(dermalab_home, capsys):
    from engine.events import BatchProgress, RunStarted
    from tui.cli.main import main

    store = Store()
    queue = JobQueue(store)
    queue.add(plan([load()[8]], [0], "synthetic", None, RunOptions()))
    job = queue.claim("cpu 1")
    queue.started(RunStarted(job.job_id, 8, job.name, 0, "CPU", "synthetic", 5, 220))
    queue.beat(BatchProgress(job.job_id, 1, 10, 220, 0.9, 53.266))
    store.close()
    main(["queue", "--wide"])
    out = capsys.readouterr().out
    assert " 53 " in out and "53.266" not in out, out
