"""Processes and hosts that are not dermalab's own (issue 23, classes 2 and 3): a recorded pid that the system has
given to another process, in this PID namespace or in a fresh one (as a recreated container's), is neither
signalled nor taken for the job's process; real processes, real stores, real namespaces."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import textwrap

import pytest

from engine.jobs import cluster
from engine.jobs.queue import Executor, Job, JobQueue
from engine.store.runs import Store

# A process whose command line is that of submitit's local controller, which it is not: it only sleeps.
STAND_IN = [sys.executable, "-c", "import time; time.sleep(60)", *cluster.LOCAL_CONTROLLER.split()]


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
    assert cluster.task_state(job) == "FINISHED"
    cluster.cancel(Store(), [job])
    assert killed_by(unrelated) == signal.SIGTERM
    assert JobQueue(Store()).get(job["job_id"])["status"] == "cancelled"


def test_the_local_controller_itself_still_gets_the_cancel():
    controller = subprocess.Popen(STAND_IN)
    job = local_job(controller.pid)
    assert cluster.task_state(job) == "RUNNING"
    cluster.cancel(Store(), [job])
    assert controller.wait(timeout=10) == -signal.SIGINT


# Run as pid 1 of a fresh PID namespace: the stand-in controller is the first process it starts, so it gets the same
# pid in every such namespace, as a container recreated runs the same processes under the same pids.
IN_A_NAMESPACE = """
import subprocess, sys
controller = subprocess.Popen({stand_in!r})
from engine.jobs import cluster
from engine.jobs.queue import JobQueue
from engine.store.runs import Store
from tests.test_foreign_processes import local_job
if sys.argv[1] == "submit":
    local_job(controller.pid, ago=60)  # the container is recreated a minute later
    print(controller.pid)
else:
    job = JobQueue(Store()).active()[0]
    print(controller.pid, job["cluster_job_id"], cluster.task_state(job))
    cluster.cancel(Store(), [job])
    controller.terminate()
    print(-controller.wait())
"""


@pytest.mark.skipif(shutil.which("unshare") is None or subprocess.run(
    ["unshare", "--pid", "--fork", "--mount-proc", "true"], capture_output=True).returncode != 0,
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
    assert state == "FINISHED"
    assert int(died_of) == signal.SIGTERM  # not the cancel's SIGINT
