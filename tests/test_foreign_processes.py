"""Processes and hosts that are not dermalab's own (issue 23, classes 2 and 3): a recorded pid that the system has
given to another process, in this PID namespace or in a fresh one (as a recreated container's), is neither
signalled nor taken for the job's process; a job whose process ran under another host name (a UTS namespace here,
as a renamed machine or a recreated container) is settled once that process has been silent long enough. Real
processes, real stores, real namespaces."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from engine.jobs import cluster
from engine.jobs.queue import SILENT_SECONDS, Executor, Job, JobQueue
from engine.store.runs import Store
from tests.conftest import REPO

# A process whose command line is that of submitit's local controller, which it is not: it says it is up, and sleeps.
STAND_IN = [sys.executable, "-c", "print('up', flush=True); import time; time.sleep(60)",
            *cluster.LOCAL_CONTROLLER.split()]


def local_job(pid: int, ago: float = 0) -> dict:
    """A job of the local executor whose controller was recorded as `pid`, queued `ago` seconds ago."""
    queue = JobQueue(Store())
    job = Job.new(1, "Tiny", 0, "synthetic", None, {})
    queue.add_submitted([job], Executor.LOCAL, [str(pid)])
    with queue.store.transaction() as db:
        db.execute("UPDATE jobs SET queued_at = queued_at - ?", (ago,))
    row = queue.get(job.job_id)
    assert row is not None
    return row


def killed_by(process: subprocess.Popen) -> int:
    """The signal that ended `process`, SIGTERM sent now: a signal dermalab sent before it (SIGINT, a lower number)
    is delivered first and is the one it died of."""
    process.terminate()
    return -process.wait(timeout=10)


def test_a_pid_now_another_programs_is_not_cancelled_nor_running():
    unrelated = subprocess.Popen(["sleep", "60"])  # began before the job was queued, as a reused pid seen later would
    job = local_job(unrelated.pid)
    assert not cluster.local_controller_alive(job)  # the task is over, as the queue will say
    cluster.cancel(Store(), [job])
    assert killed_by(unrelated) == signal.SIGTERM
    assert JobQueue(Store()).get(job["job_id"])["status"] == "cancelled"


def test_the_local_controller_itself_still_gets_the_cancel():
    controller = subprocess.Popen(STAND_IN, stdout=subprocess.PIPE, text=True)
    assert controller.stdout is not None and controller.stdout.readline() == "up\n"  # its SIGINT handler is set
    job = local_job(controller.pid)
    assert cluster.local_controller_alive(job)
    cluster.cancel(Store(), [job])
    assert controller.wait(timeout=10) == -signal.SIGINT


# Run as pid 1 of a fresh PID namespace: the stand-in controller is the first process it starts, so it gets the same
# pid in every such namespace, as a container recreated runs the same processes under the same pids.
IN_A_NAMESPACE = """
import subprocess, sys
controller = subprocess.Popen({stand_in!r}, stdout=subprocess.DEVNULL)
from engine.jobs import cluster
from engine.jobs.queue import JobQueue
from engine.store.runs import Store
from tests.test_foreign_processes import local_job
if sys.argv[1] == "submit":
    local_job(controller.pid, ago=60)  # the container is recreated a minute later
    print(controller.pid)
else:
    job = JobQueue(Store()).active()[0]
    print(controller.pid, job["cluster_job_id"], cluster.local_controller_alive(job))
    cluster.cancel(Store(), [job])
    controller.terminate()
    print(-controller.wait())
"""


def can_unshare(*namespaces: str) -> bool:
    return shutil.which("unshare") is not None and subprocess.run(
        ["unshare", *namespaces, "true"], capture_output=True).returncode == 0


@pytest.mark.slow  # two Python children
@pytest.mark.skipif(not can_unshare("--pid", "--fork", "--mount-proc"),
                    reason="needs unshare and the right to make a PID namespace (root)")
def test_a_pid_reused_in_a_recreated_pid_namespace_is_not_cancelled():
    """A container's recorded task pid, and the same command line under the same pid in the container recreated."""
    script = textwrap.dedent(IN_A_NAMESPACE.format(stand_in=STAND_IN))

    def in_namespace(step: str) -> list[str]:
        done = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", sys.executable, "-c", script, step],
                              capture_output=True, text=True, timeout=60, cwd=cluster.__file__.rsplit("/engine/")[0])
        assert done.returncode == 0, done.stderr
        return done.stdout.split()

    [recorded] = in_namespace("submit")  # the namespace ends with its pid 1, its controller with it
    pid, named, state, died_of = in_namespace("cancel")
    assert pid == named == recorded  # the pid was reused, command line and all
    assert state == "False"  # the task is over
    assert int(died_of) == signal.SIGTERM  # not the cancel's SIGINT


# Run under another host name: a worker that claimed a job and started its run there, then was killed (it exits).
ON_ANOTHER_HOST = """
import sys
from engine.events import RunStarted
from engine.experiments.load import load
from engine.jobs.queue import Job, JobQueue
from engine.store.runs import Store
store, spec = Store(), load(sys.argv[1])[2].spec
queue = JobQueue(store)
queue.add([Job.new(2, spec.name, 0, "synthetic", sys.argv[1], {})])
job = queue.claim("cpu")
store.start(RunStarted(job.job_id, 2, spec.name, 0, "cpu", "synthetic", spec.training.epochs, 3), spec.chapter,
            spec.run_config(spec.training.epochs, False, "fp32"), True, "synthetic")
print(job.job_id)
"""


# A worker of that host name holding the store's lock until its stdin closes.
HOLDING_THE_LOCK = """
import sys
from engine.jobs.lock import WorkerLock
from engine.store.runs import default_path
lock = WorkerLock(default_path())  # kept: the lock lets go when the object goes
assert lock.acquire()
print("held", flush=True)
sys.stdin.read()
"""


def as_old_host(*command: str) -> list[str]:
    """`command` run under the host name 'old-host', in a UTS namespace of its own."""
    return ["unshare", "--uts", "sh", "-c", 'hostname old-host && exec "$0" "$@"', *command]


def claimed_on_another_host(tiny_experiments: Path, silent_for: float) -> str:
    """A job claimed, and its run started, by a process of host 'old-host' that has gone, last heard from
    `silent_for` seconds ago; returns its id."""
    done = subprocess.run(as_old_host(sys.executable, "-c", ON_ANOTHER_HOST, str(tiny_experiments)),
                          capture_output=True, text=True, timeout=60, cwd=REPO)
    assert done.returncode == 0, done.stderr
    job_id = done.stdout.strip()
    store = Store()
    with store.transaction() as db:
        db.execute("UPDATE jobs SET queued_at = queued_at - ?, claimed_at = claimed_at - ? WHERE job_id = ?",
                   (silent_for, silent_for, job_id))
    assert (store.get(job_id)["host"], JobQueue(store).get(job_id)["host"]) == ("old-host", "old-host")
    store.close()
    return job_id


def answer(capsys, *arguments: str) -> list | dict:
    from tui.cli.main import main  # here: the namespaces' scripts import this module, and need none of the CLI

    assert main(list(arguments)) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.slow  # a Python child
@pytest.mark.skipif(not can_unshare("--uts"), reason="needs unshare and the right to make a UTS namespace (root)")
def test_a_job_of_another_host_name_silent_long_enough_is_settled(tiny_experiments, capsys):
    """Left going while a worker of that host name holds the store's lock (it may be serving it), then settled."""
    job_id = claimed_on_another_host(tiny_experiments, silent_for=SILENT_SECONDS + 60)
    worker = subprocess.Popen(as_old_host(sys.executable, "-c", HOLDING_THE_LOCK), stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, cwd=REPO)
    assert worker.stdout is not None and worker.stdout.readline() == "held\n"
    assert [job["status"] for job in answer(capsys, "queue", "--json")] == ["running"]
    worker.communicate(timeout=30)  # its stdin closed: it lets the lock go as it ends
    [run] = answer(capsys, "results", job_id, "--format", "json")
    assert (run["run_id"], run["status"]) == (job_id, "interrupted")
    assert run["reason"] == ("the process answering for it on old-host has not been heard from for 6 minutes (that "
                             "machine went away, or this one was renamed)")
    assert answer(capsys, "queue", "--json") == [] and answer(capsys, "cancel", "--all", "--json") == []


@pytest.mark.slow  # a Python child
@pytest.mark.skipif(not can_unshare("--uts"), reason="needs unshare and the right to make a UTS namespace (root)")
def test_a_job_of_another_host_name_heard_from_lately_is_left_going(tiny_experiments, capsys):
    job_id = claimed_on_another_host(tiny_experiments, silent_for=0)
    [job] = answer(capsys, "queue", "--json")
    assert (job["job_id"], job["status"], job["host"]) == (job_id, "running", "old-host")
