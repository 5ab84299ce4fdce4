"""The cluster path against a real one-node Slurm (started by `.ci/slurm`, with accounting or without): a job array of
two tiny runs followed with `dermalab queue` until each run is imported once, a cancel of a pending and of a running
task, a task that runs out of its time and one that requeues itself at its time limit, one cancelled from outside
dermalab, one killed with -9, a sweep of 27 runs as three tasks of nine, and a sweep's point stopped by halving.

Each scenario runs once (a module fixture, on its own DERMALAB_HOME) and its tests read what it saw, so that each
expectation is a test of its own without a second submission.

Marked `slurm`: the README's test command leaves them out (pyproject's addopts), `.ci/run` runs them with `-m slurm`.
Where no Slurm answers they skip with the reason; under CI=true they fail instead."""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import psutil
import pytest

from engine.events import EpochEnded
from engine.experiments.spec import Point
from engine.jobs import cluster
from engine.jobs.queue import Job, JobQueue
from engine.store.runs import Store
from tests.conftest import GRID, TINY_EXPERIMENTS, dermalab, one_sentence

pytestmark = [pytest.mark.slurm, pytest.mark.slow]  # slow too: `-m "not slow"` replaces addopts' `-m "not slurm"`

# Each task imports torch, and the tasks of an array may run one by one: about 20 s a tiny run on a quiet 2-core
# node, but over 4 minutes at a load of 14 (other tests and benchmarks on the same cores). Only a failure waits it out.
WAIT_SECONDS = 600
TIME_LIMIT_MINUTES = 2  # the shortest --time that submitit's 90 s warning signal leaves any training in

T = TypeVar("T")


@dataclass(frozen=True)
class Slurm:
    accounting: bool  # slurmdbd keeps the jobs' history, which sacct (and so submitit) reads
    kill_wait: int  # seconds between a cancel's SIGTERM and its SIGKILL


def unavailable(why: str) -> None:
    message = f"{why}: these tests need a Slurm; 'sudo bash .ci/slurm' starts a one-node one on this machine"
    if os.environ.get("CI") == "true":  # CI set a Slurm up for them: one that is not there is a failure
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def slurm() -> Slurm:
    if shutil.which("sbatch") is None:
        unavailable("no 'sbatch' on PATH")
    ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True)
    if "is UP" not in ping.stdout:
        unavailable(f"slurmctld does not answer ({(ping.stdout + ping.stderr).strip()})")
    lines = subprocess.run(["scontrol", "show", "config"], capture_output=True, text=True, check=True).stdout
    config = {key.strip(): value.strip() for key, _, value in (line.partition(" = ") for line in lines.splitlines())}
    return Slurm(accounting=config["AccountingStorageType"] != "accounting_storage/none",
                 kill_wait=int(config["KillWait"].split()[0]))


class ScenarioFailed(Exception):
    """A scenario could not be played out (a submission refused, a task that never started): not what a test asks."""


def need(condition: object, why: str) -> None:
    if not condition:
        raise ScenarioFailed(why)


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("experiments") / "tiny.toml"
    path.write_text(TINY_EXPERIMENTS)
    return path


def wait_for(condition: Callable[[], T], what: str, seconds: float = WAIT_SECONDS) -> T:
    deadline = time.monotonic() + seconds
    while not (value := condition()):
        need(time.monotonic() < deadline, f"no {what} after {seconds:.0f} s")
        time.sleep(1)
    return value


def in_squeue(task_ids: list[str]) -> bool:
    """Whether Slurm still holds any of these tasks (pending, running, or still being killed)."""
    listed = subprocess.run(["squeue", "-h", "-o", "%i %T", "-j", ",".join(task_ids)], capture_output=True, text=True)
    return bool(listed.stdout.strip())


class Lab:
    """One scenario's DERMALAB_HOME, the `dermalab` command run in it (with its queries to Slurm, sacct's and squeue's,
    counted by shims in front of them on PATH), and its store and task files read."""

    def __init__(self, home: Path, slurm: Slurm):
        self.home, self.slurm = home, slurm
        self.shim = home.parent / "bin"
        self.queries_log = home.parent / "queries.log"
        self.shim.mkdir(parents=True, exist_ok=True)
        for command in ("sacct", "squeue"):
            shim = self.shim / command
            shim.write_text(f'#!/bin/sh\necho "$0 $*" >> "{self.queries_log}"\nexec {shutil.which(command)} "$@"\n')
            shim.chmod(shim.stat().st_mode | stat.S_IEXEC)
        self.task_ids: list[str] = []
        self.stdout_noise: list[str] = []  # whatever a command printed on stdout before the JSON it was asked for

    def cli(self, *args: str, timeout: float = 120, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        return dermalab(*args, timeout=timeout, env={"DERMALAB_HOME": str(self.home),
                                                      "PATH": f"{self.shim}:{os.environ['PATH']}", **(env or {})})

    def submit(self, *args: str, env: dict[str, str] | None = None) -> list[str]:
        """`dermalab run ARGS --executor slurm --detach` (with `env` added to its environment, which its tasks
        inherit); returns the job ids and keeps their tasks' ids."""
        submitted = self.cli("run", *args, "--executor", "slurm", "--detach", "--data", "synthetic", env=env)
        need(submitted.returncode == 0, submitted.stderr)
        job_ids = submitted.stdout.split()
        self.task_ids += [self.job(job_id)["cluster_job_id"] for job_id in job_ids]
        return job_ids

    def sweep(self, *args: str) -> list[str]:
        """`dermalab sweep ARGS --executor slurm --detach`: as `submit`, for a sweep."""
        submitted = self.cli("sweep", *args, "--executor", "slurm", "--detach", "--data", "synthetic")
        need(submitted.returncode == 0, submitted.stderr)
        job_ids = submitted.stdout.split()
        self.task_ids += sorted({self.job(job_id)["cluster_job_id"] for job_id in job_ids})
        return job_ids

    def queue(self) -> list[dict[str, Any]]:
        listed = self.cli("queue", "--json")
        need(listed.returncode == 0, listed.stderr)
        return self.json_of(listed.stdout)

    def json_of(self, stdout: str) -> Any:
        """A `--json` command's output. Lines before the JSON (submitit's warnings, which it logs to stdout) are kept
        for a test of their own, and left out here, so that the scenario can go on."""
        lines = stdout.splitlines()
        start = next((number for number, line in enumerate(lines) if line.startswith(("[", "{"))), 0)
        self.stdout_noise += lines[:start]
        return json.loads("\n".join(lines[start:]))

    @contextmanager
    def reading(self) -> Iterator[Store]:
        """The lab's store, opened for one read, so that it sees what the `dermalab` commands wrote since."""
        store = Store(self.home / "runs.sqlite")
        try:
            yield store
        finally:
            store.close()

    def job(self, job_id: str) -> dict[str, Any]:
        with self.reading() as store:
            job = JobQueue(store).get(job_id)
        if job is None:
            raise ScenarioFailed(f"job {job_id} is not in its queue")
        return job

    def run(self, run_id: str) -> dict[str, Any] | None:
        with self.reading() as store:
            return store.get(run_id)

    def run_ids(self) -> list[str]:
        with self.reading() as store:
            return sorted(run["run_id"] for run in store.runs())

    def progress(self, job_id: str) -> dict[str, Any]:
        """What the job's task last wrote of its progress; empty before it wrote any."""
        try:
            return json.loads(self.progress_path(job_id).read_text())
        except FileNotFoundError:
            return {}

    def progress_path(self, job_id: str) -> Path:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("DERMALAB_HOME", str(self.home))
            return cluster.progress_path(cluster.results_folder(), job_id)

    def submission_scripts(self) -> list[str]:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("DERMALAB_HOME", str(self.home))
            return [path.read_text() for path in cluster.folder().glob("*/*_submission.sh")]

    def task_processes(self) -> list[int]:
        """The pids of this lab's tasks' Python processes (submitit's, started by srun, whose own command line names
        them too, with the lab's folder)."""
        found = []
        for process in psutil.process_iter(["name", "cmdline"]):
            command = " ".join(process.info["cmdline"] or [])
            if process.info["name"].startswith("python") and "submitit.core._submit" in command and (
                    str(self.home) in command):
                found.append(process.pid)
        return found

    def queries(self) -> int:
        """How many times this lab's `dermalab` commands asked Slurm about their tasks (sacct or squeue)."""
        return len(self.queries_log.read_text().splitlines()) if self.queries_log.exists() else 0

    def sacct_states(self) -> dict[str, str]:
        """Slurm's record of this lab's tasks, as sacct gives it."""
        listed = subprocess.run(["sacct", "-X", "-n", "-P", "-o", "JobID,State", "-j",
                                 ",".join({task.split("_")[0] for task in self.task_ids})],
                                capture_output=True, text=True, check=True).stdout
        return dict(line.split("|", 1) for line in listed.splitlines())

    def let_go(self) -> None:
        """Cancels what is left of this lab's tasks (by their ids), and waits until Slurm has let them go, so that
        the next scenario's tasks find the node free."""
        if self.task_ids:
            subprocess.run(["scancel", *self.task_ids], check=False)
            wait_for(lambda: not in_squeue(self.task_ids), "end of the cancelled tasks", self.slurm.kill_wait + 60)

    @contextmanager
    def playing(self) -> Iterator[None]:
        """A scenario that fails lets go of its tasks at once: the next one's would wait behind them."""
        try:
            yield
        except BaseException:
            self.let_go()
            raise


@pytest.fixture(scope="module")
def lab_factory(slurm: Slurm, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], Lab]]:
    labs: list[Lab] = []

    def make(name: str) -> Lab:
        labs.append(Lab(tmp_path_factory.mktemp(name) / "home", slurm))
        return labs[-1]

    yield make
    for lab in labs:
        lab.let_go()


# A job array of two tiny runs, followed with `dermalab queue` until both have ended.

@dataclass
class FinishedArray:
    lab: Lab
    job_ids: list[str]
    seen: list[dict[str, Any]]  # every row `queue --json` showed, poll by poll


@pytest.fixture(scope="module")
def finished_array(lab_factory: Callable[[str], Lab], tiny: Path) -> FinishedArray:
    lab = lab_factory("finished")
    seen: list[dict[str, Any]] = []

    def ended() -> bool:
        rows = lab.queue()
        seen.extend(rows)
        return not rows

    with lab.playing():
        job_ids = lab.submit("1", "--seeds", "2", "--experiments", str(tiny))
        wait_for(ended, "end of both tasks")
        # A task leaves its result a moment before its process exits, and Slurm records its end only then.
        wait_for(lambda: not in_squeue(lab.task_ids), "end of both tasks in squeue", 60)
    return FinishedArray(lab, job_ids, seen)


def test_an_array_of_two_tiny_runs_trains_and_each_run_is_imported_once(finished_array: FinishedArray, slurm: Slurm):
    lab, job_ids = finished_array.lab, finished_array.job_ids
    assert len(job_ids) == 2
    for job_id in job_ids:
        run = lab.run(job_id)
        assert run is not None and run["status"] == "finished" and len(run["history"]) == 1, run
    arrays = {lab.job(job_id)["cluster_job_id"].split("_")[0] for job_id in job_ids}
    assert len(arrays) == 1, f"one job array, not {arrays}"
    again = lab.cli("sync")
    assert again.returncode == 0 and again.stdout.startswith("Imported 0 runs"), again.stdout + again.stderr
    assert lab.run_ids() == sorted(job_ids)
    if slurm.accounting:
        assert set(lab.sacct_states().values()) == {"COMPLETED"}, lab.sacct_states()


def test_queue_json_prints_only_json(finished_array: FinishedArray):
    """submitit logged each sacct that failed to stdout: without accounting, every `queue --json` (issue 21's 2)."""
    assert finished_array.lab.stdout_noise == []


def test_each_task_asks_for_its_cpus_and_memory(finished_array: FinishedArray):
    """Unasked, a task gets one CPU while torch trains on every core of the node, and (where memory is a consumable
    resource) all the node's memory, so that the tasks of an array run one at a time."""
    [script] = finished_array.lab.submission_scripts()
    assert "--cpus-per-task" in script and "--mem" in script, script


# Two long runs in one array, one task at a time: the first cancelled while it trains, the second while it waits.

@dataclass
class CancelledArray:
    lab: Lab
    running: str
    pending: str
    first_look: dict[str, dict[str, Any]]  # the first `queue --json` after the running task began its second epoch
    queries: int  # to Slurm, made by that one `queue`
    cancelled: subprocess.CompletedProcess
    cancel_asked: float  # time.time() as `dermalab cancel` started
    last_progress: float  # when the cancelled task last wrote its progress, i.e. was still training
    freed: float  # time.time() when Slurm no longer held either task (its CPUs free for others)


@pytest.fixture(scope="module")
def cancelled_array(lab_factory: Callable[[str], Lab], tiny: Path, slurm: Slurm) -> CancelledArray:
    lab = lab_factory("cancelled")
    with lab.playing():
        running, pending = lab.submit("2", "--seeds", "2", "--array-parallelism", "1", "--experiments", str(tiny))
        # Nothing looks at the queue until the task is well into its run: as a user who checks back later.
        wait_for(lambda: lab.progress(running).get("batch", {}).get("epoch", 0) >= 2, "the first task's 2nd epoch")
        before = lab.queries()
        first_look = {row["job_id"]: row for row in lab.queue()}
        queries = lab.queries() - before
        cancel_asked = time.time()
        cancelled = lab.cli("cancel", pending, running, "--json")
        wait_for(lambda: not in_squeue(lab.task_ids), "end of the cancelled tasks", slurm.kill_wait + 60)
        freed = time.time()
        last_progress = lab.progress_path(running).stat().st_mtime
        synced = lab.cli("sync")
        need(synced.returncode == 0, synced.stderr)
    return CancelledArray(lab, running, pending, first_look, queries, cancelled, cancel_asked, last_progress, freed)


def test_a_cancel_ends_a_pending_and_a_running_task(cancelled_array: CancelledArray):
    lab, running, pending = cancelled_array.lab, cancelled_array.running, cancelled_array.pending
    assert cancelled_array.cancelled.returncode == 0, cancelled_array.cancelled.stderr
    said = {row["job_id"]: row["status"] for row in lab.json_of(cancelled_array.cancelled.stdout)}
    assert said == {running: "cancelled", pending: "cancelled"}
    assert lab.progress(pending) == {}, "the pending task began after all"
    assert lab.job(running)["status"] == lab.job(pending)["status"] == "cancelled"
    assert lab.queue() == []


def test_the_queue_shows_a_training_task_as_running(cancelled_array: CancelledArray):
    """Once showed 'queued' at epoch 6: the state submitit's sacct watcher last saw, or UNKNOWN without accounting."""
    look = cancelled_array.first_look[cancelled_array.running]
    assert look["status"] == "running" and look["epoch"] >= 2, (look["status"], look["phase"], look["epoch"])


def test_a_cancelled_task_stops_training_within_seconds(cancelled_array: CancelledArray):
    """submitit's handler let the task ignore the cancel's SIGTERM and train on until KillWait's SIGKILL (~30 s),
    holding its CPUs. Freed: Slurm lets go of the task once its process has ended, about 5 s after `dermalab cancel`
    began on a quiet node (2 of them the command's own start); well under KillWait on a busy one."""
    trained_on = cancelled_array.last_progress - cancelled_array.cancel_asked
    assert trained_on < 5, f"the task still wrote progress {trained_on:.0f} s after the cancel"
    freed = cancelled_array.freed - cancelled_array.cancel_asked
    kill_wait = cancelled_array.lab.slurm.kill_wait
    assert freed < kill_wait / 2, f"Slurm held the task {freed:.0f} s after the cancel (KillWait: {kill_wait} s)"


def test_a_task_cancelled_while_training_leaves_its_run(cancelled_array: CancelledArray):
    """Once left no run: the task was killed before it could write its result. A pending task cancelled has a run
    too, one that never started."""
    lab = cancelled_array.lab
    run = lab.run(cancelled_array.running)
    assert run is not None and (run["status"], run["reason"]) == ("cancelled", "cancelled by the user"), run
    assert run["history"], "the epochs it trained are kept"
    never = lab.run(cancelled_array.pending)
    assert never is not None and (never["status"], never["started_at"]) == ("cancelled", None), never


def test_the_first_look_at_a_long_run_gives_a_long_eta(cancelled_array: CancelledArray):
    """Two epochs of 10,000 done: the rest takes long, 50 min on a quiet node at this tiny experiment's 0.3 s an
    epoch, hours on a busy one (ten minutes would mean 0.06 s an epoch). The ETA counts from when the run began on its
    node (it once counted from when this side first read the task's progress: 'ETA 0s')."""
    look = cancelled_array.first_look[cancelled_array.running]
    assert look["epoch"] >= 2 and (look["eta_seconds"] or 0) > 10 * 60, (look["epoch"], look["eta_seconds"])


def test_a_look_at_the_queue_asks_slurm_once(cancelled_array: CancelledArray):
    """Once asked sacct once per task, on each look: a 75-task array would have asked about 75 times a second."""
    assert cancelled_array.queries == 1, f"{cancelled_array.queries} queries to Slurm for one 'dermalab queue'"


# Two runs given two minutes each, side by side (a CPU each): a long one whose task may not requeue itself, which
# fails at the limit's warning, and one that needs about one and a half of its limits, which requeues itself from its
# checkpoint at the warning and finishes in a second allocation.

# About 0.45 s an epoch on one CPU of a quiet node: some 110 s of training, where an allocation of two minutes
# trains 75 s at most (its warning comes 30 s before its end, or up to a minute earlier; torch's import comes first).
REQUEUED_EPOCHS = 250

@dataclass
class TimeLimited:
    lab: Lab
    timed_out: str  # the long run's job, not let requeue itself
    requeued: str  # the run that needs two allocations


@pytest.fixture(scope="module")
def time_limited(lab_factory: Callable[[str], Lab], tiny: Path) -> TimeLimited:
    lab = lab_factory("time_limited")
    experiments = tiny.with_name("requeued.toml")
    experiments.write_text(f"{TINY_EXPERIMENTS}\n[[experiment]]\nid = 50\nextends = 1\nname = \"Two limits long\"\n"
                           f"training.epochs = {REQUEUED_EPOCHS}\n")
    limited = ("--time", str(TIME_LIMIT_MINUTES), "--cpus-per-task", "1")
    with lab.playing():
        [timed_out] = lab.submit("2", *limited, "--experiments", str(tiny), env={"DERMALAB_REQUEUES": "0"})
        [requeued] = lab.submit("50", *limited, "--experiments", str(experiments))
        # `queue` syncs: it lets the requeued task start again at once, where Slurm would hold it two minutes.
        wait_for(lambda: not lab.queue(), "end of both jobs in the queue", 2 * TIME_LIMIT_MINUTES * 60 + 240)
        # A task stopped at its limit's warning may leave Slurm's queue only at the limit itself, up to the warning's
        # 90 s later, and a kill's KillWait after that (60 s was once too short, with accounting off).
        wait_for(lambda: not in_squeue(lab.task_ids), "end of both tasks in squeue", 150)
    return TimeLimited(lab, timed_out, requeued)


def task_state(task_ids: list[str]) -> str:
    listed = subprocess.run(["squeue", "-h", "-o", "%T", "-j", ",".join(task_ids)], capture_output=True, text=True)
    return listed.stdout.strip()


def test_a_task_out_of_time_ends_its_run_failed(time_limited: TimeLimited):
    lab = time_limited.lab
    job, run = lab.job(time_limited.timed_out), lab.run(time_limited.timed_out)
    assert job["status"] == "failed" and run is not None and run["status"] == "failed", (job, run)


def test_a_task_out_of_time_says_so(time_limited: TimeLimited):
    """Once said submitit's UncompletedJobError, or 'ended the task as failed'."""
    run = time_limited.lab.run(time_limited.timed_out)
    assert run is not None and run["reason"].startswith("the task ran out of its time on the cluster"), (
        run and run["reason"])


def test_a_task_trains_until_its_time_is_up(time_limited: TimeLimited):
    """At the limit's warning the task requeues itself (it saved a checkpoint in this allocation), and goes on from
    its last finished epoch: it trains past its limit, as one run with every epoch once and a note of the resume.
    (Once ended at the warning, a quarter of a short limit before it.)"""
    lab = time_limited.lab
    run = lab.run(time_limited.requeued)
    assert run is not None and run["status"] == "finished", run and (run["status"], run["reason"])
    assert [epoch["epoch"] for epoch in run["history"]] == list(range(1, REQUEUED_EPOCHS + 1))
    assert any(note.startswith("resumed from its checkpoint") for note in run["notes"]), run["notes"]


# A task cancelled from outside dermalab (an administrator's scancel, or a preemption).

def test_a_task_ended_by_the_cluster_ends_its_job_in_the_clusters_words(lab_factory: Callable[[str], Lab], tiny: Path,
                                                                        slurm: Slurm):
    """sacct says 'CANCELLED by 0', which was once not taken for an end, so that the job waited for ever."""
    lab = lab_factory("outside")
    [job_id] = lab.submit("2", "--experiments", str(tiny))
    wait_for(lambda: lab.progress(job_id).get("batch"), "training of the task")
    subprocess.run(["scancel", *lab.task_ids], check=True)
    wait_for(lambda: not in_squeue(lab.task_ids), "end of the task", slurm.kill_wait + 60)
    deadline = time.monotonic() + 30  # the end is what this test asks about: asserted, not waited for
    while lab.queue() and time.monotonic() < deadline:
        time.sleep(1)
    job = lab.job(job_id)
    assert job["status"] == "failed" and job["reason"].startswith("the cluster ended the task as cancelled"), (
        job["status"], job["phase"], job["reason"])


def test_a_task_killed_outright_ends_its_job_failed(lab_factory: Callable[[str], Lab], tiny: Path):
    """Killed with -9, a task leaves no result; its job must end failed, saying where the log is, with accounting or
    without (where it once stayed queued for ever, its ETA growing)."""
    lab = lab_factory("killed")
    with lab.playing():
        [job_id] = lab.submit("2", "--experiments", str(tiny))
        wait_for(lambda: lab.progress(job_id).get("batch"), "training of the task")
        [task] = lab.task_processes()
        os.kill(task, signal.SIGKILL)
        wait_for(lambda: not lab.queue(), "end of the killed task's job", 60)
    job, run = lab.job(job_id), lab.run(job_id)
    assert job["status"] == "failed" and "its log: " in job["reason"], (job["status"], job["reason"])
    assert run is not None and (run["status"], run["reason"]) == ("failed", job["reason"]), run


# Submissions Slurm refuses (issue 23's sixth): one sentence in sbatch's own words, exit 2, nothing queued.

@pytest.mark.parametrize(("options", "slurm_words"), [
    (["--partition", "nope"], "invalid partition specified: nope"),
    (["--partition", "a b"], "invalid partition specified: a b"),
    (["--gpus-per-task", "2"], "Invalid generic resource (gres) specification"),  # more than the node has (none)
])
def test_a_submission_slurm_refuses_is_one_sentence_in_its_words(lab_factory: Callable[[str], Lab], tiny: Path,
                                                                 options: list[str], slurm_words: str):
    lab = lab_factory("refused")
    refused = lab.cli("run", "1", "--executor", "slurm", "--detach", "--data", "synthetic", "--experiments",
                      str(tiny), *options)
    assert (refused.returncode, refused.stdout) == (2, ""), refused.stderr
    sentence = one_sentence(refused.stderr)
    assert sentence.startswith(f"Slurm refused the job array ({slurm_words}") and "'sinfo'" in sentence, sentence
    assert lab.queue() == []


# A sweep of 3 x 3 points x 3 seeds (issue 26), 9 runs a task: one array of 3 tasks, each training its runs in turn.

RUNS_PER_TASK = 9


@dataclass
class SweptArray:
    lab: Lab
    job_ids: list[str]
    again: subprocess.CompletedProcess  # the same sweep submitted a second time


@pytest.fixture(scope="module")
def swept_array(lab_factory: Callable[[str], Lab], tmp_path_factory: pytest.TempPathFactory) -> SweptArray:
    lab = lab_factory("swept")
    path = tmp_path_factory.mktemp("sweep") / "grid.toml"
    path.write_text(TINY_EXPERIMENTS + GRID)
    asked = ("grid", "--dataset", "breastmnist", "--runs-per-task", str(RUNS_PER_TASK), "--experiments", str(path))
    with lab.playing():
        job_ids = lab.sweep(*asked)
        wait_for(lambda: not lab.queue(), "end of the sweep's tasks")
        wait_for(lambda: not in_squeue(lab.task_ids), "end of the sweep's tasks in squeue", 60)
        again = lab.cli("sweep", *asked, "--executor", "slurm", "--detach", "--data", "synthetic")
    return SweptArray(lab, job_ids, again)


def test_a_sweep_of_27_runs_trains_as_one_array_of_three_tasks(swept_array: SweptArray):
    lab, job_ids = swept_array.lab, swept_array.job_ids
    runs = [lab.run(job_id) for job_id in job_ids]
    assert len(job_ids) == 27 and all(run is not None and run["status"] == "finished" for run in runs), [
        run and (run["status"], run["reason"]) for run in runs]
    assert len({(run["config_hash"], run["seed"]) for run in runs if run}) == 27
    tasks = sorted(lab.job(job_id)["cluster_job_id"] for job_id in job_ids)
    assert len(set(tasks)) == 3 and len({task.split("_")[0] for task in tasks}) == 1, set(tasks)


def test_a_second_sweep_of_the_same_name_submits_nothing(swept_array: SweptArray):
    again = swept_array.again
    assert again.returncode == 0 and again.stdout == "", again.stdout + again.stderr
    assert "skipped 27 runs of 27" in again.stderr and "Submitted" not in again.stderr, again.stderr


# Halving decided on the submitting side: a point behind two rivals at its first rung is told to stop.

def test_halving_on_slurm_stops_a_point_behind_its_rivals(lab_factory: Callable[[str], Lab],
                                                         tmp_path_factory: pytest.TempPathFactory):
    """As tests/test_cluster.py's case through the local executor: rivals at a val AUC of 1 at epoch 1 already, a
    run of 10,000 epochs that the look after its first epoch places 3rd of 3; stored stopped with its epochs."""
    lab = lab_factory("halved")
    path = tmp_path_factory.mktemp("halving") / "lr.toml"
    path.write_text(TINY_EXPERIMENTS + '[[sweeps]]\nname = "lr"\nextends = 2\naxes = { "optimizer.lr" = [1e-3] }\n')
    with lab.playing():
        [job_id] = lab.sweep("lr", "--halving", "--experiments", str(path))
        with lab.reading() as store:
            mine = JobQueue(store).get(job_id)
            assert mine is not None
            rivals = [Job.new(2, "rival", 0, mine["data"], mine["experiments"], mine["options"],
                              Point("lr", {"optimizer.lr": lr})) for lr in (1e-2, 1e-4)]
            JobQueue(store).add(rivals)
            store.epochs([EpochEnded(rival.job_id, 1, 10_000, 0.5, 1.0, 1.0, 0.9, 1e-3, 1.0) for rival in rivals])
        wait_for(lambda: job_id not in {row["job_id"] for row in lab.queue()}, "end of the halved run")  # rivals wait
    run = lab.run(job_id)
    assert run is not None and run["status"] == "stopped", run and (run["status"], run["reason"])
    assert run["reason"].endswith(" placed 3 of 3 points at epoch 1, where the top 1 go on"), run["reason"]
    assert len(run["history"]) == run["stopped_epoch"] >= 1
