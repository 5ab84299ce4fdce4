"""Runs on a Slurm cluster through submitit (or its local executor, for tests and a first try): one job array, one
task per queued job. A task trains its run on its node into a store of its own on local disk and leaves the outcome
(the run's row with its history, labels and probabilities, or the task's error sentence) as a JSON file in the
submitit folder, which lies on the shared file system; the submitting side imports those files into its store
(`sync`), so SQLite never runs over a network file system. A running task's progress travels the same way: a
small file it rewrites every few seconds, which `sync` turns into the job's heartbeat (bars, img/s, ETA) and its
run's history rows (the live curves), which the run's import replaces.

A submitted job's row in the queue names its executor (slurm or local, so no worker of this machine claims it) and
submitit's id of its task (engine.jobs.queue.Executor, cluster_job_id)."""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from engine import threads
from engine.errors import RunCancelled, UserError, said
from engine.events import BatchProgress, EpochEnded, Event, RunStarted
from engine.jobs import halving, scheduler
from engine.jobs.queue import CANCELLED, CLUSTERS, Executor, Job, JobQueue, duration_words, read_once
from engine.paths import home
from engine.processes import alive, children, interrupt
from engine.status import ACTIVE, Status, sql_in
from engine.store.runs import ForeignRun, Store
from engine.store.schema import HISTORY_COLUMNS
from engine.training.options import RunOptions

INSTALL = "pip install -e '.[slurm]'"
# The command lines of submitit's local executor: the controller (whose pid is a task's id) and the task it starts.
LOCAL_CONTROLLER, LOCAL_TASK = "-m submitit.local._local", "-m submitit.core._submit"
PROGRESS_SECONDS = 2.0  # how often a task rewrites its progress file: bars that move, without flooding the file system
# A running task whose progress file has not changed for this long is shown as stalled: far beyond its rewrites,
# and beyond the evaluation at an epoch's end (which writes none) of any set this lab trains on.
STALLED_SECONDS = 180
# sacct answers from slurmdbd, which hears of a start from slurmctld some seconds late (more on a busy node): a task
# whose progress file is younger than this trains, whatever sacct says (see training())
TRAINING_SECONDS = 15
ENDED_STATES = scheduler.ENDED_STATES | {"FINISHED", "INTERRUPTED"}  # Slurm's, and the local executor's two
# A cancelled task that left no result this long after the cancel will leave none: its run is stored as never
# finished. Slurm's KillWait (30 s by default) is the longest a task takes to go, a slow shared file system aside.
RESULT_GRACE_SECONDS = 120
TIME_UP = "the task ran out of its time on the cluster; give it more with --time MINUTES"
WARNED_AT_MOST = 90  # seconds before its time limit a task is warned (submitit's, for long limits)
# How many times a task that ran out of its time requeues itself (each time from its checkpoint) before it fails
# saying so: a run goes on as far as its --time lets it each time, but never loops for ever. DERMALAB_REQUEUES, as
# the submitting side's environment gives it, sets another.
REQUEUES_AT_MOST = 5
STOPPED = "Slurm stopped the task (a scancel, a preemption, or the end of its time)"


@dataclass(frozen=True)
class ClusterRequest:
    """--executor and its options, as the command line gave them."""

    executor: str
    partition: str | None = None
    gpus_per_task: int = 0
    minutes: int = 60
    array_parallelism: int = 64
    cpus_per_task: int = 2  # torch trains on as many threads (engine.threads reads SLURM_CPUS_PER_TASK)
    memory: str = "4G"  # Slurm's --mem: unasked, a task may be given all of a node's memory, and run alone on it
    runs_per_task: int = 1  # runs a task trains in turn: for short runs, where a task's start outweighs its training


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
    """One job array (on Slurm) for `jobs`, a task per `request.runs_per_task` of them in their order; they join the
    queue as the array's tasks. Returns submitit's job id of each job's task."""
    from submitit.core.utils import FailedJobError, FailedSubmissionError

    require(request.executor)
    executor = make_executor(request)
    each = request.runs_per_task
    shares = [jobs[first:first + each] for first in range(0, len(jobs), each)]
    try:
        with quiet_children(), executor.batch():
            handles = [executor.submit(task, share, str(results_folder())) for share in shares]
    except (FailedJobError, FailedSubmissionError) as error:  # sbatch said no: nothing was submitted nor queued
        raise UserError(f"Slurm refused the job array ({refusal(error)}); check --partition, --gpus-per-task and "
                        "--time against what 'sinfo' lists, then submit again.") from None
    task_ids = [handle.job_id for handle, share in zip(handles, shares) for _ in share]
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
                               cpus_per_task=request.cpus_per_task, mem=request.memory,
                               signal_delay_s=warning_seconds(request.minutes),
                               array_parallelism=request.array_parallelism,
                               **({"partition": request.partition} if request.partition else {}))
    return executor


def warning_seconds(minutes: int) -> int:
    """How long before its time limit a task is warned (SIGUSR2): submitit's 90 s, or a quarter of a limit shorter
    than 6 minutes, so that a short limit still leaves most of its time to train. (Slurm may send it up to a minute
    early.)"""
    return min(WARNED_AT_MOST, minutes * 60 // 4)


def task(jobs: list[Job] | Job, results: str) -> list[str]:
    """On the node: train the jobs' runs in turn (one, unless --runs-per-task gave more), each into a store on local
    disk, and leave each one's outcome in `results`. An error before a run begins (data missing on the node, say) is
    left as its sentence, and raised for submitit once the others have had their turn. A signal that stops the task
    (Slurm's time-limit signal may come within seconds of its start, while torch is still being imported) ends the
    run under way, its outcome naming the signal, and the runs after it never begin, their outcomes saying so; but
    the time limit's warning requeues the task where this allocation got it further (SlurmStop.progressed), even
    between two runs. A task requeued passes over, when started again, the runs that left their outcome already, and
    goes on with the run it stopped from that run's checkpoint."""
    stop = SlurmStop()
    # A cancel arrives as SIGINT. A shell ignores SIGINT in what it starts in the background (`nohup dermalab run
    # ... &` in a script), the task inherits that, and Python then leaves it ignored: take it back.
    signal.signal(signal.SIGINT, stop.interrupted)
    for signum in (signal.SIGTERM, signal.SIGUSR2):  # in place of submitit's handlers (see SlurmStop)
        signal.signal(signum, stop)
    folder = Path(results)
    jobs = [jobs] if isinstance(jobs, Job) else jobs  # a task submitted by a dermalab of before --runs-per-task
    waiting = [job for job in jobs if not result_path(folder, job.job_id).exists()]
    failure: Exception | None = None
    try:
        while waiting and stop.signum is None:
            job = waiting.pop(0)
            stop.after = len(waiting)
            try:
                take_turn(job, folder, stop)
            except Exception as error:
                failure = failure or error
        stop.between_runs(waiting)
    except Requeued:  # Slurm runs the task again: it skips the runs that left a result, resumes a checkpoint
        return [job.job_id for job in jobs]
    finally:
        if not stop.requeued:
            for job in waiting:
                leave(folder, {"job_id": job.job_id, "reason": stop.never_began()}, stop)
    if failure is not None:
        raise failure
    return [job.job_id for job in jobs]


def take_turn(job: Job, results: Path, stop: SlurmStop) -> None:
    """One job of the task: its run trained, and its outcome left whatever ends it (but a requeue, which trains it
    again); a job cancelled from home before its turn came leaves the cancel as its outcome, without a run."""
    outcome: dict[str, Any] = {"job_id": job.job_id}
    try:
        order = read_order(order_path(results, job.job_id))
        if order is not None and order["status"] == Status.CANCELLED:
            outcome["reason"] = order["reason"]
            return
        with tempfile.TemporaryDirectory(prefix="dermalab-task-") as scratch:
            outcome["run"] = train_task(job, results, Store(Path(scratch) / "runs.sqlite"), stop)
    except Exception as error:
        outcome["reason"] = str(error) if isinstance(error, RunCancelled) else said(error)
        raise
    finally:
        if not stop.requeued:
            leave(results, outcome, stop)
            stop.ended += 1


def leave(results: Path, outcome: dict[str, Any], stop: SlurmStop) -> None:
    """A job's outcome into its result file, with the signal that stopped the task, if one did."""
    with signals_held():
        if stop.signum is not None:
            outcome["signal"] = signal.Signals(stop.signum).name
        write_atomically(result_path(results, outcome["job_id"]), json.dumps(outcome))


def train_task(job: Job, results: Path, store: Store, stop: SlurmStop) -> dict[str, Any]:
    """The job's run trained into `store`, heeding the orders from home (a cancel, a stop by halving), and returned
    as the store exports it."""
    from engine.experiments.sweeps import resolve
    from engine.jobs import runner
    from engine.training import checkpoint, data

    # This run's, before it may be stopped: a warning while its data loads speaks of it, not of the run before.
    stop.progress = TaskProgress(progress_path(results, job.job_id))
    stop.checkpoint = checkpoint.path_for(results, job.job_id)
    stop.arm()
    threads.use(threads.threads_per_run(), fixed=False)  # Slurm's grant (SLURM_CPUS_PER_TASK), not the node's cores
    experiment = resolve(job.experiments, job.experiment_id, job.point)
    options = RunOptions(seed=job.seed, **job.options)
    dataset = data.load(job.data, options.dataset, options.size)
    orders = Orders(order_path(results, job.job_id))
    with contextlib.suppress(KeyboardInterrupt):  # cancelled (the local executor's SIGINT): its row says so
        runner.run_one(job.job_id, experiment, dataset, options, store, stop.watching(orders.heeding(stop.progress)),
                       stop.checkpoint, orders.judge)
    stop.armed = False  # the run has ended as it says: a signal now only keeps it from being exported
    return store.exported(job.job_id)


class SlurmStop:
    """Slurm's signals to a task, as the end of its run; the first one stops the run, once, while the task has not
    ended it yet (a later one is only noted). SIGTERM (a scancel's; a preemption's; the time limit's, after its
    warning) stops it at once, as cancelled: submitit let a task train on until Slurm's SIGKILL came, KillWait
    later, holding its CPUs, and leave no result. SIGUSR2 (the warning of --signal, that the time limit is near)
    requeues the task where this allocation got it further (`progressed`: so each one does), up to
    requeues_at_most() times; otherwise it fails the run, saying so (submitit would raise its UncompletedJobError
    for a task it could not requeue). Between two runs of a task a signal is only noted (an exception raised there
    could leave a finished run's outcome unwritten): the task then stops, or requeues, before the next run (see
    `between_runs`, and `arm`, for a signal that comes as that run is taken up)."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.stopping: BaseException | None = None  # what the first signal raised, to raise again (see watching)
        self.armed = True
        self.requeued = False
        self.began = time.time()
        self.progress: TaskProgress | None = None  # the run's, once it trains
        self.checkpoint: Path | None = None  # where the run keeps its checkpoint, once it trains
        self.ended = 0  # runs of the task that left their outcome in this allocation
        self.after = 0  # runs of the task waiting their turn after the one under way

    def interrupted(self, signum: int, frame: object) -> None:
        """The local executor's cancel (SIGINT), as Python's own handler takes it (KeyboardInterrupt): the run under
        way is stored cancelled, and no later run of the task begins."""
        self.signum = self.signum or signum
        raise KeyboardInterrupt

    def never_began(self) -> str:
        """Why a run that waited its turn in the task never began."""
        if self.signum == signal.SIGUSR2:
            return ("the task ran out of its time on the cluster before this run's turn came; give it more with --time "
                    "MINUTES, or fewer runs with --runs-per-task")
        if self.signum == signal.SIGTERM:
            return f"{STOPPED} before this run's turn came"
        if self.signum == signal.SIGINT:
            return "the task was cancelled before this run's turn came"
        return "the task ended before this run's turn came (its log says why)"

    def __call__(self, signum: int, frame: object) -> None:
        if self.signum is not None:
            return
        self.signum = signum
        if not self.armed:
            return
        self.stopping = self.stop_for(signum)
        raise self.stopping

    def stop_for(self, signum: int) -> BaseException:
        if signum != signal.SIGUSR2:
            return RunCancelled(STOPPED)
        if self.requeues():
            return Requeued()
        return UserError(self.out_of_time())

    def arm(self) -> None:
        """From now on a signal stops the run about to train; one noted since the last run ended stops it before it
        begins (it would otherwise train on, heeding no later signal, until Slurm's SIGKILL)."""
        self.armed = True
        if self.signum is not None and self.stopping is None:
            self.stopping = self.stop_for(self.signum)
            raise self.stopping

    def between_runs(self, waiting: list[Job]) -> None:
        """The time limit's warning, come between two runs of the task (it stopped none): Requeued where the task
        requeues, the runs `waiting` to train in its next allocation; otherwise they never begin."""
        if waiting and self.signum == signal.SIGUSR2 and self.stopping is None and self.requeues():
            raise Requeued()

    def requeues(self) -> bool:
        """Whether the task requeues itself at the time limit's warning: where this allocation got it further, up to
        requeues_at_most() times, if Slurm takes it."""
        self.requeued = self.progressed() and restarts() < requeues_at_most() and requeue_self()
        return self.requeued

    def progressed(self) -> bool:
        """Whether this allocation got the task further, so that the next one would not only do its work again: a
        run of it ended here (passed over next time), or the run under way saved a checkpoint here."""
        return self.ended > 0 or self.saved_here()

    def watching(self, sink: Callable[[Event], None]) -> Callable[[Event], None]:
        """`sink`, raising the first signal's stop again at the next batch or epoch while the run trains on: raised
        by the handler while Python ran a finalizer, it is only printed ("Exception ignored in"), and the task
        trained on, ignoring every later signal, until Slurm's SIGKILL came KillWait later (seen under load)."""
        def watched(event: Event) -> None:
            if self.stopping is not None and self.armed and isinstance(event, BatchProgress | EpochEnded):
                raise self.stopping
            sink(event)
        return watched

    def saved_here(self) -> bool:
        """Whether the run saved a checkpoint since this allocation began: one saved before it only would start
        the next allocation where this one started."""
        try:
            return self.checkpoint is not None and self.checkpoint.stat().st_mtime >= self.began
        except FileNotFoundError:
            return False

    def out_of_time(self) -> str:
        """TIME_UP, with how far the run got and a --time that would have let it end (at the pace it trained, and a
        tenth more), where it trained long enough to tell; with the task's runs still to come (taken as long as this
        one), a --time that would let them all end, or fewer runs a task."""
        state = self.progress.state if self.progress else {}
        more = f"{self.after} more run{'s' if self.after > 1 else ''} of the task"
        if not {"started", "started_at", "batch"} <= state.keys():
            if self.after:
                return f"{TIME_UP}, or fewer runs with --runs-per-task (this run had not begun training; {more} waited)"
            return f"{TIME_UP} (it had not begun training)"
        epochs, batch = state["started"]["epochs"], state["batch"]
        now = time.time()
        done = ((batch["epoch"] - 1) * batch["batches"] + batch["batch"]) / (epochs * batch["batches"])
        pace = (now - state["started_at"]) / max(done, 1e-9)  # seconds for the whole run
        runs = 1 + self.after
        minutes = math.ceil(((state["started_at"] - self.began) + pace * 1.1 * runs + WARNED_AT_MOST) / 60)
        each = pace / epochs
        got = (f"the task ran out of its time on the cluster after {batch['epoch'] - 1} of {epochs} epochs (about "
               f"{f'{each:.0f} s' if each < 120 else f'{each / 60:.0f} min'} each)")
        if self.after:
            return (f"{got}, with {more} to come; --time {minutes} would let them all end, or fewer runs with "
                    "--runs-per-task")
        return f"{got}; --time {minutes} would let it end"


class Requeued(BaseException):
    """The task has requeued itself: it stops at once, leaving its run unended in its scratch store and its
    checkpoint in place (a BaseException, so that no handler of failures stores the run as failed)."""


def restarts() -> int:
    """How many times Slurm has started this task again (requeued), by its SLURM_RESTART_COUNT."""
    count = os.environ.get("SLURM_RESTART_COUNT", "0")
    return int(count) if count.isdigit() else 0


def requeues_at_most() -> int:
    count = os.environ.get("DERMALAB_REQUEUES", "")
    return int(count) if count.isdigit() else REQUEUES_AT_MOST


def requeue_self() -> bool:
    """`scontrol requeue` of this task (an array task's own job id is SLURM_JOB_ID): Slurm ends this allocation
    (its SIGTERM then finds the task stopping already) and queues the task again. False where Slurm would not."""
    job_id = os.environ.get("SLURM_JOB_ID")
    if not job_id:  # the local executor's task: nothing to requeue it
        return False
    done = scheduler.ask(["scontrol", "requeue", job_id])
    return done is not None and done.returncode == 0


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


def order_path(results: Path, job_id: str) -> Path:
    return results / f"{job_id}.order.json"


def order(job_id: str, status: Status, reason: str) -> None:
    """Tells the task training (or about to train) a job to end its run so: cancelled, or stopped where halving
    dropped its point. A task heeds it at its run's next batch (a cancel) or epoch's end (a stop), or, before the
    run's turn came, leaves it never begun: the way to end one run of a task that trains several. A cancel replaces
    any order; a stop is written only where there is none, never over a cancel the user gave while halving
    decided."""
    path, text = order_path(results_folder(), job_id), json.dumps({"status": status, "reason": reason})
    if status == Status.CANCELLED:
        write_atomically(path, text)
    else:
        write_if_none(path, text)


def read_order(path: Path) -> dict[str, str] | None:
    """A job's order as `order` writes it; None where there is none (or none readable this time: asked again)."""
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if isinstance(found, dict) and found.get("status") in (Status.CANCELLED, Status.STOPPED) \
            and isinstance(found.get("reason"), str):
        return found
    return None


class Orders:
    """A run's orders from home while its task trains it: a cancel, heeded at the next batch or epoch's end (the
    file read at most every PROGRESS_SECONDS at batches: it lies on a shared file system), or a stop by halving,
    heeded at the next epoch's end as the runner's judge (so the run is stored stopped, with its epochs)."""

    def __init__(self, path: Path):
        self.path, self.read_at = path, float("-inf")
        self.found: dict[str, str] | None = None

    def current(self, at_once: bool) -> dict[str, str] | None:
        if self.found is None and (at_once or time.monotonic() - self.read_at >= PROGRESS_SECONDS):
            self.read_at = time.monotonic()
            self.found = read_order(self.path)
        return self.found

    def heeding(self, sink: Callable[[Event], None]) -> Callable[[Event], None]:
        def heeded(event: Event) -> None:
            if isinstance(event, BatchProgress | EpochEnded):
                found = self.current(at_once=isinstance(event, EpochEnded))
                if found is not None and found["status"] == Status.CANCELLED:
                    raise RunCancelled(found["reason"])
            sink(event)
        return heeded

    def judge(self, event: EpochEnded) -> str | None:
        found = self.current(at_once=True)
        return found["reason"] if found is not None and found["status"] == Status.STOPPED else None


class TaskProgress:
    """A task's sink: its run's start, latest batch and finished epochs, rewritten at most every PROGRESS_SECONDS
    (at once for a start or an epoch's end, which are rare and what the curves wait for), with the times on the
    task's clock (the submitting side reads the file whenever it looks, which says nothing of when the run began,
    nor of whether it still trains)."""

    def __init__(self, path: Path):
        self.path, self.written = path, 0.0
        self.state: dict[str, Any] = {}

    def __call__(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self.state["started"], self.state["started_at"] = asdict(event), time.time()
        elif isinstance(event, BatchProgress):
            self.state["batch"] = asdict(event)
        elif isinstance(event, EpochEnded):
            self.state.setdefault("epochs", []).append(asdict(event))
        else:
            return
        now = time.monotonic()
        if not isinstance(event, BatchProgress) or now - self.written >= PROGRESS_SECONDS:
            self.written = now
            self.state["written_at"] = time.time()
            write_atomically(self.path, json.dumps(self.state))


def write_atomically(path: Path, text: str) -> None:
    """Written whole or not at all: `sync` may read the folder at any moment."""
    os.replace(partly_written(path, text), path)


def write_if_none(path: Path, text: str) -> None:
    """Written whole, where no file is there yet: a link fails, in one step, where one is (a replace would not)."""
    partial = partly_written(path, text)
    try:
        with contextlib.suppress(FileExistsError):
            os.link(partial, path)
    finally:
        partial.unlink()


def partly_written(path: Path, text: str) -> Path:
    """`text` in a hidden file beside `path`, to be put in its place in one step."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_text(text)
    return partial


@dataclass
class Synced:
    """What a `sync` did: how many runs it imported, and a sentence for each result file it could not take, by its
    job's id."""

    imported: int = 0
    skipped: dict[str, str] = field(default_factory=dict)


class BadResult(Exception):
    """A task's result file that cannot be taken as it is, with what is wrong with it (ForeignRun's words, or
    these)."""

    def __init__(self, problem: str, newer: bool = False):
        super().__init__(problem)
        self.newer = newer


def sync(store: Store, queue: JobQueue | None = None, jobs: list[dict[str, Any]] | None = None) -> Synced:
    """Imports each result of this store's submitted jobs once, settles their jobs, and asks the scheduler how the
    others are (Slurm once for all of them). A result file that cannot be taken (damaged, or from a newer dermalab)
    is skipped, said, and left where it is, its job as it was: the others are imported all the same. A caller that
    has the queue and its submitted jobs at hand passes them."""
    queue = queue or JobQueue(store)
    jobs = queue.submitted() if jobs is None else jobs
    synced, outcomes = Synced(), {}
    for job in jobs:
        try:
            outcomes[job["job_id"]] = outcome_of(job)
        except BadResult as error:
            skip(queue, job, error, synced)
    jobs = [job for job in jobs if job["job_id"] in outcomes]
    going: set[str] = set()  # tasks with a job still going met so far: a later job of theirs waits its turn
    slurm = scheduler.states(job["cluster_job_id"] for job in jobs
                             if job["executor"] == Executor.SLURM and asks(job, outcomes[job["job_id"]]))
    for job in jobs:
        outcome = outcomes[job["job_id"]]
        state = local_state(job) if job["executor"] == Executor.LOCAL else slurm.get(job["cluster_job_id"], "")
        if outcome is not None and not (stopped_by_slurm(job, outcome) and state not in ENDED_STATES):
            try:
                synced.imported += take(store, queue, job, outcome, state)
            except ForeignRun as error:
                skip(queue, job, BadResult(str(error), error.newer), synced)
        elif job["status"] in ACTIVE:
            progress = progress_of(job)
            beat(queue, job, progress)
            follow(queue, job, state or scheduler.UNKNOWN, progress, behind=job["cluster_job_id"] in going)
            going.add(job["cluster_job_id"])
        elif outcome is None and state in ENDED_STATES and time.time() - (job["ended_at"] or 0) > RESULT_GRACE_SECONDS:
            queue.end(job["job_id"], Status(job["status"]), job["reason"] or "")  # its task went without a word
    return synced


def forget(store: Store, run_ids: list[str]) -> None:
    """What these runs' cluster tasks left, which a prune deletes before the runs: their result and progress files,
    which `sync` would import again, and each task's folder of submitit's files and logs (kept while a job not
    pruned names the same task: a local task's id is a pid, which a later one may be given). Removed first, so that
    a prune cut short leaves runs without files, never files without runs."""
    doomed = set(run_ids)
    tasks = store.execute(f"SELECT job_id, cluster_job_id FROM jobs WHERE executor IN {sql_in(CLUSTERS)}")
    kept = {row["cluster_job_id"] for row in tasks if row["job_id"] not in doomed}
    for run_id in run_ids:
        removed(result_path(results_folder(), run_id))
        removed(progress_path(results_folder(), run_id))
        removed(order_path(results_folder(), run_id))
    for row in tasks:
        if row["job_id"] in doomed and row["cluster_job_id"] not in kept:
            removed(folder() / row["cluster_job_id"])


def removed(path: Path) -> None:
    """A file or folder gone (or never there), or a sentence saying why it could not be removed."""
    try:
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    except OSError as error:
        raise UserError(f"{path} could not be removed ({error.strerror or error}); remove it yourself, then prune "
                        "again.") from None


def outcome_of(job: dict[str, Any]) -> dict[str, Any] | None:
    """The outcome a job's task left, if any yet; BadResult says what is wrong with one that is no outcome of it."""
    try:
        outcome = json.loads(result_path(results_folder(), job["job_id"]).read_text())
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        raise BadResult("it is not text") from None
    except json.JSONDecodeError as error:
        raise BadResult(f"it is not whole JSON ({error}; cut short, perhaps)") from None
    except OSError as error:
        raise BadResult(f"it could not be read ({error.strerror or error})") from None
    if not (isinstance(outcome, dict) and outcome.get("job_id") == job["job_id"]):
        raise BadResult(f"it holds no outcome of job {job['job_id']} (a JSON object with its job_id)")
    if any(not isinstance(outcome.get(key), str | None) for key in ("reason", "signal")):
        raise BadResult("its reason or signal is not text")
    if not isinstance(outcome.get("run"), dict | None):
        raise BadResult("its run is not a run's rows")
    return outcome


def skip(queue: JobQueue, job: dict[str, Any], error: BadResult, synced: Synced) -> None:
    """A result file passed over: said, and its job, if still going, shown as waiting on it rather than running."""
    synced.skipped[job["job_id"]] = skipped(job, error)
    if job["status"] in ACTIVE:
        queue.task_state(job["job_id"], f"{job['executor']} {job['cluster_job_id']}: its result file was skipped",
                         running=False)


def skipped(job: dict[str, Any], error: BadResult) -> str:
    """The sentence for a result file that was skipped: which, why, and the way out."""
    way_out = ("upgrade dermalab here to the version that ran the task, then sync again" if error.newer else
               "move it aside (its job then ends as failed, with no result) or put the task's own file back, then "
               "sync again")
    return (f"Skipped the result file {result_path(results_folder(), job['job_id'])} of job {job['job_id']}, as "
            f"{error}; {way_out}.")


def asks(job: dict[str, Any], outcome: dict[str, Any] | None) -> bool:
    """Whether a job's task's state is wanted: it left no outcome yet, or Slurm stopped it and its words say why."""
    return outcome is None or stopped_by_slurm(job, outcome)


def stopped_by_slurm(job: dict[str, Any], outcome: dict[str, Any]) -> bool:
    """A task that Slurm stopped with a SIGTERM not of this user's cancel: who did, Slurm's state says."""
    return outcome.get("signal") == "SIGTERM" and job["status"] in ACTIVE


def take(store: Store, queue: JobQueue, job: dict[str, Any], outcome: dict[str, Any], state: str = "") -> int:
    """A task's outcome into the store, its run imported once. A job the user cancelled ends cancelled, and its run
    with it, even one that finished before the cancel reached it; a task Slurm stopped from outside failed, in Slurm's
    words."""
    run = outcome.get("run")
    ending = overruled(job, outcome, state)
    if run is None:
        queue.end(job["job_id"], *(ending or (Status.FAILED, outcome.get("reason") or "the task left no result")))
        return 0
    row = store.checked_export(run)
    if row["run_id"] != job["job_id"]:
        raise ForeignRun(f"its run is another job's ({row['run_id']})")
    if row["status"] in ACTIVE:  # a task exports its run once it has ended: taken, its job would never end
        raise ForeignRun(f"its run has not ended (it says {row['status']})")
    if ending is not None:
        row["status"], row["reason"] = ending
    added = store.imported(run)
    queue.settle(job["job_id"], row["status"], row["reason"] or "")
    return int(added)


def overruled(job: dict[str, Any], outcome: dict[str, Any], state: str) -> tuple[Status, str] | None:
    """How a job ended when this side knows better than its task: the user cancelled it, or Slurm stopped it."""
    if job["status"] == Status.CANCELLED:
        return Status.CANCELLED, job["reason"] or CANCELLED
    if stopped_by_slurm(job, outcome):
        return Status.FAILED, ended_without_result(state, job["cluster_job_id"])
    return None


def progress_of(job: dict[str, Any]) -> dict[str, Any]:
    """What a job's task last wrote of its progress, as far as it is a task's progress; empty before it wrote any.
    (A damaged file is as good as none: the task rewrites it within seconds, and its result says how it ended.)"""
    try:
        progress = json.loads(progress_path(results_folder(), job["job_id"]).read_text())
    except (OSError, ValueError):  # none yet (still starting), or not readable over the network this time
        return {}
    if not isinstance(progress, dict):
        return {}
    return {key: value for key, value in progress.items() if well_formed(key, value)}


PROGRESS_EVENTS = {"started": RunStarted, "batch": BatchProgress}


def well_formed(key: str, value: Any) -> bool:
    """Whether a progress file's entry is what a task writes: an event with its fields (those with defaults may be
    missing: a task of an older version), the finished epochs, or a time."""
    if key in PROGRESS_EVENTS:
        return has_fields(PROGRESS_EVENTS[key], value)
    if key == "epochs":  # its figures go into the store's history: numbers, each of them
        return isinstance(value, list) and all(
            has_fields(EpochEnded, entry) and all(number(entry[name]) for name in ("epoch", *HISTORY_COLUMNS))
            for entry in value)
    return number(value)


def has_fields(event: type, value: Any) -> bool:
    known = fields(event)
    needed = {each.name for each in known if each.default is MISSING}
    return isinstance(value, dict) and needed <= value.keys() <= {each.name for each in known}


def number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def beat(queue: JobQueue, job: dict[str, Any], progress: dict[str, Any]) -> None:
    """A running task's progress file as its job's heartbeat, at the times of the task's clock (the ETA counts from
    when the run began on its node, and stops growing when the task falls silent), and its finished epochs as its
    run's history rows, written again at each look (the same rows: harmless), so that every view shows the live
    curves as for a local run; the run's import replaces them."""
    if "started" in progress and job["epochs"] is None:
        queue.started(RunStarted(**progress["started"]), progress.get("started_at"))
    if "batch" in progress:
        queue.beat(BatchProgress(**progress["batch"]), progress.get("written_at"))
    if epochs := [EpochEnded(**each) for each in progress.get("epochs", []) if each["run_id"] == job["job_id"]]:
        [(before,)] = queue.store.execute("SELECT coalesce(max(epoch), 0) FROM history WHERE run_id = ?",
                                          (job["job_id"],))
        queue.store.epochs(epochs)
        if job["options"].get("halving") and job["point"]:
            halve(queue.store, job, before, max(epoch.epoch for epoch in epochs), epochs[0].epochs)


def halve(store: Store, job: dict[str, Any], before: int, reached: int, epochs: int) -> None:
    """Successive halving of a sweep's runs on a cluster, decided on this side as their epochs come home: at each
    rung the run reached since the last look (once each), its point is placed among the points of its sweep that
    reached that rung (engine.jobs.halving's rule); a point that did not make it is ordered to stop, which its task
    heeds at its next epoch's end. The run is then stored stopped, with the epochs it trained."""
    if read_order(order_path(results_folder(), job["job_id"])) is not None:  # ordered already (or cancelled)
        return
    sweep = json.loads(job["point"])["sweep"]
    for rung in halving.rungs(epochs):
        if before < rung <= reached:
            figures = halving.submitted_figures(store, sweep, rung, job["data"], job["options"])
            found = halving.standing(figures, job["point"])
            if found is not None and not found.goes_on():
                order(job["job_id"], Status.STOPPED, found.why_stopped(rung))
                return


def follow(queue: JobQueue, job: dict[str, Any], state: str, progress: dict[str, Any], behind: bool = False) -> None:
    """A job without a result yet: its task's state (the scheduler's word, or stalled: running, but silent) in its
    phase; an ended task that left no result failed. A job `behind` another of its task (which trains its runs in
    the order they were queued) that has not begun waits its turn, queued, while its task runs."""
    state = "RUNNING" if state == "PENDING" and training(progress) else state
    if state == "RUNNING" and behind and "started" not in progress:
        queue.task_state(job["job_id"], f"{job['executor']} {job['cluster_job_id']}: waits its turn in the task",
                         running=False)
        return
    words = state.lower().replace("_", " ")
    silent = time.time() - progress.get("written_at", time.time())
    if state == "RUNNING" and silent > STALLED_SECONDS:
        words = f"stalled (no progress for {duration_words(silent)})"
    queue.task_state(job["job_id"], f"{job['executor']} {job['cluster_job_id']}: {words}", running=state == "RUNNING")
    if state == "PENDING" and "started" in progress:  # it ran, and requeued itself: on again without Slurm's wait
        scheduler.start_now(job["cluster_job_id"])
    if state in ENDED_STATES and not result_path(results_folder(), job["job_id"]).exists():
        queue.end(job["job_id"], Status.FAILED, ended_without_result(state, job["cluster_job_id"]))


def training(progress: dict[str, Any]) -> bool:
    """Whether a task's progress file says it trains now: written within TRAINING_SECONDS, after its run began. A
    requeued task's file is older: it waits for its next allocation."""
    return "started" in progress and time.time() - progress.get("written_at", 0) < TRAINING_SECONDS


def ended_without_result(state: str, task_id: str) -> str:
    """Why a task that left no result failed, in the words of its state, with where its log is."""
    log = folder() / task_id
    if state == "TIMEOUT":
        return f"the task ran out of its time on the cluster; give it more with --time MINUTES (its log: {log})"
    if state in ("FINISHED", "INTERRUPTED", "COMPLETED"):  # the local executor's words, and Slurm's for exit 0
        return f"the task ended without leaving a result (killed, or out of memory or time; its log: {log})"
    if state == scheduler.GONE:
        return f"the task left Slurm without leaving a result (killed, or its node lost; its log: {log})"
    return f"the cluster ended the task as {state.lower().replace('_', ' ')} (its log: {log})"


def others_going(store: Store, job: dict[str, Any]) -> bool:
    """Whether the task of a job has other jobs still going (a task trains --runs-per-task of them)."""
    return bool(store.execute(f"SELECT 1 FROM jobs WHERE executor = ? AND cluster_job_id = ? AND job_id != ?"
                              f" AND status IN {sql_in(ACTIVE)} LIMIT 1",
                              (job["executor"], job["cluster_job_id"], job["job_id"])))


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
    """Cancels submitted jobs: each is ordered to end (`order`), which a task that trains other runs too heeds
    within seconds; a task left with nothing to train is cancelled as a whole: Slurm's through one scancel, whose
    SIGTERM stops a running task within a second (SlurmStop); the local executor's, once their submitter has gone
    with its handles, with the SIGINT submitit would send. Their jobs end cancelled at once, before the cancel is
    sent, so that a result arriving meanwhile is taken as cancelled; a task that was still pending never runs, and
    its run is stored so now."""
    queue = JobQueue(store)
    for job in jobs:
        queue.settle(job["job_id"], Status.CANCELLED, CANCELLED)
        order(job["job_id"], Status.CANCELLED, CANCELLED)
    idle = [job for job in jobs if not others_going(store, job)]
    slurm = [job for job in jobs if job["executor"] == Executor.SLURM]
    pending = scheduler.states(job["cluster_job_id"] for job in slurm)
    if ended := sorted({job["cluster_job_id"] for job in idle if job["executor"] == Executor.SLURM}):
        subprocess.run(["scancel", *ended], capture_output=True, check=False)
    for job in {job["cluster_job_id"]: job for job in idle if job["executor"] == Executor.LOCAL}.values():
        interrupt_local(job)  # once a task: a second SIGINT would cut short the first one's cancel
    files = read_once()
    for job in slurm:  # a task that trains sends its result, with its epochs, however late sacct heard it began
        if pending[job["cluster_job_id"]] == "PENDING" and not training(progress_of(job)):
            queue.end(job["job_id"], Status.CANCELLED, CANCELLED, files)
