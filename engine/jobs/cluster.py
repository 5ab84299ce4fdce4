"""Runs on a Slurm cluster through submitit (or its local executor, for tests and a first try): one job array, one
task per queued job. A task trains its run on its node into a store of its own on local disk and leaves the outcome
(the run's row with its history, labels and probabilities, or the task's error sentence) as a JSON file in the
submitit folder, which lies on the shared file system; the submitting side imports those files into its store
(`sync`), so SQLite never runs over a network file system. A running task's progress travels the same way: a
small file it rewrites every few seconds, which `sync` turns into the job's heartbeat (bars, img/s, ETA).

A submitted job's row in the queue names its executor (slurm or local, so no worker of this machine claims it) and
submitit's id of its task (engine.jobs.queue.Executor, cluster_job_id)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from engine import threads
from engine.errors import UserError, said
from engine.events import BatchProgress, Event, RunStarted
from engine.jobs import scheduler
from engine.jobs.queue import CANCELLED, CLUSTERS, Executor, Job, JobQueue
from engine.paths import home
from engine.processes import alive, children, interrupt
from engine.status import ACTIVE, Status
from engine.store.runs import Store
from engine.training.options import RunOptions

INSTALL = "pip install -e '.[slurm]'"
# The command lines of submitit's local executor: the controller (whose pid is a task's id) and the task it starts.
LOCAL_CONTROLLER, LOCAL_TASK = "-m submitit.local._local", "-m submitit.core._submit"
PROGRESS_SECONDS = 2.0  # how often a task rewrites its progress file: bars that move, without flooding the file system
ENDED_STATES = scheduler.ENDED_STATES | {"FINISHED", "INTERRUPTED"}  # Slurm's, and the local executor's two


@dataclass(frozen=True)
class ClusterRequest:
    """--executor and its options, as the command line gave them."""

    executor: str
    partition: str | None = None
    gpus_per_task: int = 0
    minutes: int = 60
    array_parallelism: int = 64


def folder() -> Path:
    """submitit's folder: job scripts, logs, and the tasks' results. On a cluster DERMALAB_HOME must be on a file
    system the nodes share."""
    return home() / "cluster"


def results_folder() -> Path:
    return folder() / "results"


def require(executor: str) -> None:
    """submitit, and for Slurm its sbatch, before anything is queued."""
    if executor not in CLUSTERS:
        raise UserError(f"--executor {executor}: use slurm, or local to try the same path on this machine.")
    try:
        import submitit  # noqa: F401
    except ImportError:
        raise UserError(f"--executor {executor} needs submitit, which is an extra: {INSTALL}, then run "
                        "again.") from None
    if executor == "slurm" and shutil.which("sbatch") is None:
        raise UserError("--executor slurm: this machine has no 'sbatch' on its PATH; submit from a Slurm login node, "
                        "or try --executor local.")


def submit(queue: JobQueue, jobs: list[Job], request: ClusterRequest) -> list[str]:
    """One job array (on Slurm) for `jobs`; they join the queue as the array's tasks. Returns submitit's job ids."""
    from submitit.core.utils import FailedJobError, FailedSubmissionError

    require(request.executor)
    executor = make_executor(request)
    try:
        with quiet_children(), executor.batch():
            handles = [executor.submit(task, job, str(results_folder())) for job in jobs]
    except (FailedJobError, FailedSubmissionError) as error:  # sbatch said no: nothing was submitted nor queued
        raise UserError(f"Slurm refused the job array ({refusal(error)}); check --partition, --gpus-per-task and "
                        "--time against what 'sinfo' lists, then submit again.") from None
    task_ids = [handle.job_id for handle in handles]
    queue.add_submitted(jobs, Executor(request.executor), task_ids)
    return task_ids


def refusal(error: Exception) -> str:
    """sbatch's own words for a refused submission, its lines joined: 'invalid partition specified: nope; Batch job
    submission failed: Invalid partition name specified'."""
    lines = [line.strip().removeprefix("sbatch: error: ").rstrip(".") for line in str(error).splitlines()]
    return "; ".join(line for line in lines if line) or type(error).__name__


@contextlib.contextmanager
def quiet_children() -> Iterator[None]:
    """The local executor's controllers would inherit this process's stdout and stderr (their tasks log to files):
    a script reading `run --executor local --detach` through a pipe would wait for the last task to end."""
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    saved = [os.dup(1), os.dup(2)]
    nowhere = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(nowhere, 1)
        os.dup2(nowhere, 2)
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, nowhere):
            os.close(fd)


def make_executor(request: ClusterRequest) -> Any:
    """submitit's executor for the request (typed Any: submitit ships no types for its two executors' union)."""
    import submitit

    results_folder().mkdir(parents=True, exist_ok=True)
    if request.executor == Executor.LOCAL:
        local = submitit.LocalExecutor(folder=folder() / "%j")
        local.update_parameters(timeout_min=request.minutes, gpus_per_node=request.gpus_per_task)
        return local
    executor = submitit.SlurmExecutor(folder=folder() / "%j")
    executor.update_parameters(time=request.minutes, gpus_per_task=request.gpus_per_task or None,
                               array_parallelism=request.array_parallelism,
                               **({"partition": request.partition} if request.partition else {}))
    return executor


def task(job: Job, results: str) -> str:
    """On the node: train the job's run into a store on local disk, and leave its outcome in `results`. An error
    before the run begins (data missing on the node, say) is left as its sentence, then raised for submitit.
    Whatever interrupts the task before it ends (Slurm's time-limit signal may come within seconds of its start,
    while torch is still being imported), its outcome is written."""
    # A cancel arrives as SIGINT. A shell ignores SIGINT in what it starts in the background (`nohup dermalab run
    # ... &` in a script), the task inherits that, and Python then leaves it ignored: take it back.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    outcome: dict[str, Any] = {"job_id": job.job_id}
    try:
        with tempfile.TemporaryDirectory(prefix="dermalab-task-") as scratch:
            outcome["run"] = train_task(job, Path(results), Store(Path(scratch) / "runs.sqlite"))
    except Exception as error:
        outcome["reason"] = said(error)
        raise
    finally:
        with signals_held():
            write_atomically(result_path(Path(results), job.job_id), json.dumps(outcome))
    return job.job_id


def train_task(job: Job, results: Path, store: Store) -> dict[str, Any]:
    """The job's run trained into `store`, and returned as the store exports it."""
    from engine.experiments.sweeps import resolve
    from engine.jobs import runner
    from engine.training import data

    threads.use(threads.threads_per_run(), fixed=False)  # Slurm's grant (SLURM_CPUS_PER_TASK), not the node's cores
    experiment = resolve(job.experiments, job.experiment_id, job.point)
    dataset = data.load(job.data)
    with contextlib.suppress(KeyboardInterrupt):  # cancelled (the local executor's SIGINT): its row says so
        runner.run_one(job.job_id, experiment, dataset, RunOptions(seed=job.seed, **job.options), store,
                       TaskProgress(progress_path(results, job.job_id)))
    return store.exported(job.job_id)


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """The signals that stop a task (a cancel's, Slurm's time limit) held back while it writes its outcome, which an
    exception raised by their handlers would leave unwritten; they are delivered after."""
    held = {signal.SIGINT, signal.SIGTERM, signal.SIGUSR2}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def result_path(results: Path, job_id: str) -> Path:
    return results / f"{job_id}.json"


def progress_path(results: Path, job_id: str) -> Path:
    return results / f"{job_id}.progress.json"


class TaskProgress:
    """A task's sink: its run's start and latest batch, rewritten at most every PROGRESS_SECONDS."""

    def __init__(self, path: Path):
        self.path, self.written = path, 0.0
        self.state: dict[str, Any] = {}

    def __call__(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self.state["started"] = asdict(event)
        elif isinstance(event, BatchProgress):
            self.state["batch"] = asdict(event)
        else:
            return
        now = time.monotonic()
        if isinstance(event, RunStarted) or now - self.written >= PROGRESS_SECONDS:
            self.written = now
            write_atomically(self.path, json.dumps(self.state))


def write_atomically(path: Path, text: str) -> None:
    """Written whole or not at all: `sync` may read the folder at any moment."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_text(text)
    os.replace(partial, path)


def sync(store: Store, queue: JobQueue | None = None, jobs: list[dict[str, Any]] | None = None) -> int:
    """Imports each result of this store's submitted jobs once, settles their jobs, and asks the scheduler how the
    others are (Slurm once for all of them); returns how many runs it imported. A caller that has the queue and its
    submitted jobs at hand passes them."""
    queue = queue or JobQueue(store)
    count = 0
    following = []
    for job in queue.submitted() if jobs is None else jobs:
        path = result_path(results_folder(), job["job_id"])
        if path.exists():
            count += take(store, queue, job, json.loads(path.read_text()))
        elif job["status"] in ACTIVE:
            following.append(job)
    slurm = scheduler.states(job["cluster_job_id"] for job in following if job["executor"] == Executor.SLURM)
    for job in following:
        follow(queue, job, slurm.get(job["cluster_job_id"]) or local_state(job))
        beat(queue, job)
    return count


def take(store: Store, queue: JobQueue, job: dict[str, Any], outcome: dict[str, Any]) -> int:
    """A task's outcome into the store; a cancelled job keeps its ending, but its run (if it began) is kept too."""
    run = outcome.get("run")
    if run is None and job["status"] == Status.CANCELLED:  # stopped before its run began
        queue.end(job["job_id"], Status.CANCELLED, CANCELLED)
        return 0
    if run is None:
        queue.end(job["job_id"], Status.FAILED, outcome.get("reason") or "the task ended without a result")
        return 0
    added = store.imported(run)
    [row] = run["runs"]
    queue.settle(job["job_id"], row["status"], row["reason"] or "")
    return int(added)


def beat(queue: JobQueue, job: dict[str, Any]) -> None:
    """A running task's progress file as its job's heartbeat."""
    try:
        progress = json.loads(progress_path(results_folder(), job["job_id"]).read_text())
    except (OSError, ValueError):  # none yet (still starting), or not readable over the network this time
        return
    if "started" in progress and job["epochs"] is None:
        queue.started(RunStarted(**progress["started"]))
    if "batch" in progress:
        queue.beat(BatchProgress(**progress["batch"]))


def follow(queue: JobQueue, job: dict[str, Any], state: str) -> None:
    """A job without a result yet: its task's state (the scheduler's word) in its phase; an ended task that left no
    result failed."""
    queue.task_state(job["job_id"], f"{job['executor']} {job['cluster_job_id']}: {state.lower().replace('_', ' ')}",
                     running=state == "RUNNING")
    if state in ENDED_STATES and not result_path(results_folder(), job["job_id"]).exists():
        queue.end(job["job_id"], Status.FAILED, ended_without_result(state, job["cluster_job_id"]))


def ended_without_result(state: str, task_id: str) -> str:
    """Why a task that left no result failed, in the words of its state, with where its log is."""
    log = folder() / task_id
    if state == "TIMEOUT":
        return f"the task ran out of its time on the cluster; give it more with --time MINUTES (its log: {log})"
    if state in ("FINISHED", "INTERRUPTED"):  # the local executor's words for a process that is gone
        return f"the task ended without leaving a result (killed, or out of memory or time; its log: {log})"
    if state == scheduler.GONE:
        return f"the task left Slurm without leaving a result (killed, or its node lost; its log: {log})"
    return f"the cluster ended the task as {state.lower().replace('_', ' ')} (its log: {log})"


def local_state(job: dict[str, Any]) -> str:
    """The local executor's task: no handle on its process once its submitter has gone, so the system is asked."""
    return "RUNNING" if local_controller_alive(job) else "FINISHED"


def local_controller_alive(job: dict[str, Any]) -> bool:
    """Whether the local executor's controller of a job's task (its pid is the task's id) still runs: see
    `local_controller`."""
    return alive(int(job["cluster_job_id"]), **local_controller(job))


def local_controller(job: dict[str, Any]) -> dict[str, Any]:
    """What tells a job's local controller apart from a later process given its pid (soon, in a container's PID
    namespace): submitit's controller, begun before the job was queued."""
    return {"started_by": job["queued_at"], "command": LOCAL_CONTROLLER}


def interrupt_local(job: dict[str, Any]) -> None:
    """The SIGINT submitit would send a local task: to the task processes the job's controller started, or to the
    controller when it has none (whose own end stops them too); to nobody when the controller is gone, its pid
    perhaps another's now."""
    controller = int(job["cluster_job_id"])
    if not local_controller_alive(job):
        return
    tasks = children(controller, command=LOCAL_TASK)
    for pid in tasks:
        interrupt(pid, signal.SIGINT, command=LOCAL_TASK)
    if not tasks:
        interrupt(controller, signal.SIGINT, **local_controller(job))


def cancel(store: Store, jobs: list[dict[str, Any]]) -> None:
    """Cancels submitted tasks through submitit (Slurm's scancel); the local executor's tasks, once their submitter
    has gone with its handles, get the SIGINT submitit would send, so each stores its run as cancelled. Their jobs
    end cancelled at once."""
    import submitit

    queue = JobQueue(store)
    for job in jobs:
        if job["executor"] == Executor.LOCAL:
            interrupt_local(job)
        else:
            submitit.SlurmJob(folder() / "%j", job["cluster_job_id"]).cancel(check=False)
        queue.settle(job["job_id"], Status.CANCELLED, CANCELLED)
