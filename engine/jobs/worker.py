"""The worker (`dermalab worker`): takes jobs from the store's queue and trains each in a child process, forked
from itself on Linux and a fresh interpreter elsewhere (engine.jobs.start decides). Importing this module imports
torch, once, before any CUDA initialisation, so a forked child starts training at once; a crash or an out-of-memory
kill in one child ends that run only.

One worker serves a store from a machine (engine.jobs.lock.WorkerLock). Each running child holds a slot handed out by
the worker (engine.jobs.slots: its GPU, its share of the cores), so up to one job per slot trains at once. The worker
exits once the queue has been empty `idle` seconds. A foreground `dermalab run --jobs N` uses the same machinery for
its own jobs only, without the lock.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch._dynamo  # noqa: F401  (torch.optim imports it when the first optimizer is made: seconds, once here)

from engine import threads
from engine.errors import RunCancelled, UserError, said
from engine.events import DataProgress, Event
from engine.experiments.spec import Experiment
from engine.experiments.sweeps import resolve
from engine.jobs.lock import WorkerLock
from engine.jobs.queue import CANCELLED, Job, JobQueue, cancel_reason, stopped_by
from engine.jobs.runner import CancelSwitch, preflight, progress_to, run_job
from engine.jobs.slots import Slot
from engine.jobs.start import Started, lower_priority, method, start
from engine.status import Status
from engine.store.runs import Store
from engine.training import data
from engine.training.data import DataKey, Dataset
from engine.training.options import RunOptions
from engine.words import plural

POLL_SECONDS = 0.1  # how soon a child's end, a cancel or a new job is noticed
IDLE_SECONDS = 60.0  # an idle worker waits this long for more jobs, so a second `r` does not import torch again
NICENESS = 10  # training gives way to interactive programs (the app) when both want the CPU
STOP_SECONDS = 10.0  # a cancelled child has this long to store its run as cancelled before it is killed

Say = Callable[[str], None]


@dataclass
class Child:
    """A process training one job in one slot."""

    process: Started
    job: Job
    slot: Slot
    cancelled_at: float | None = None
    stop_reason: str | None = None  # why the worker stopped it, when it was the worker's own stop (not a cancel)


def serve(lock: WorkerLock, store_path: Path, sink_of: Callable[[], Callable], say: Say, slots: list[Slot],
          idle: float = IDLE_SECONDS) -> None:
    """Serve the queue, holding `lock` (acquired before torch was imported, so a second worker gives way at once),
    until it has been empty for `idle` seconds. `sink_of` makes, in each child, the sink its run's events go to
    after the store (the worker's log)."""
    try:
        lower_priority(NICENESS)
        loop = WorkerLoop(Store(store_path), lock, sink_of, say, slots)
        say(f"worker {os.getpid()} on {socket.gethostname()} serves {store_path} in {plural(len(slots), 'slot')}: "
            + ", ".join(f"{slot.name} ({plural(slot.threads, 'thread')})" for slot in slots))
        loop.run(idle)
    finally:
        lock.release()


def train_own(store: Store, datasets: dict[DataKey, Dataset], sink_of: Callable[[], Callable], say: Say,
              slots: list[Slot]) -> bool:
    """A foreground `dermalab run --jobs N`: trains the jobs this process queued for itself, one child per slot, on
    the data it loaded already; returns whether it was interrupted (the jobs left are then cancelled)."""
    loop = WorkerLoop(store, None, sink_of, say, slots)
    loop.datasets.update(datasets)
    loop.run(idle=0)
    if loop.stop_reason is not None:
        loop.queue.end_own(Status.CANCELLED, loop.stop_reason)
    return loop.stopping


class WorkerLoop:
    """Trains waiting jobs in children, one per free slot. `lock` None: a foreground `dermalab run`, which
    takes only the jobs it queued for itself (`JobQueue.add(keep=True)`) and stops when they are done."""

    def __init__(self, store: Store, lock: WorkerLock | None, sink_of: Callable[[], Callable], say: Say,
                 slots: list[Slot]):
        self.store, self.queue, self.lock, self.sink_of, self.say = store, JobQueue(store), lock, sink_of, say
        self.free = slots[::-1]  # taken from the end: the first slot first
        self.children: dict[int, Child] = {}
        self.datasets: dict[DataKey, Dataset] = {}  # by --data, set and size
        self.stop_reason: str | None = None  # set by the signal that stops this loop
        self.how = method()  # how children start: said wrong (DERMALAB_START) before any job is claimed

    def run(self, idle: float) -> None:
        for stop in (signal.SIGTERM, signal.SIGINT):
            signal.signal(stop, self._stop)
        self.queue.recover()
        idle_since = time.monotonic()
        while not self.stopping or self.children:
            self._reap()
            self._reopen_if_replaced()
            self._forward_cancels()
            if (not self.stopping and self._start_jobs()) or self.children:
                idle_since = time.monotonic()
            elif self.stopping or (time.monotonic() - idle_since >= idle and not self._work_came()):
                break
            time.sleep(POLL_SECONDS)
        if self.lock is not None:
            self.say("worker stops, as asked" if self.stopping else "worker stops: the queue is empty")

    def _reopen_if_replaced(self) -> None:
        """The worker's store file deleted or replaced under it (by hand, say): it opens the file now at the store's
        path, as every other command does, so the jobs queued there are served; opening a folder there raises its
        sentence. Only while no child trains: a child writes the file it started with."""
        if self.lock is None or self.children or not self.store.replaced():
            return
        self.say(f"the store's file {self.store.path} was deleted or replaced; the worker opens the one there now")
        self.store.close()
        self.store = Store(self.store.path)
        self.queue = JobQueue(self.store)

    @property
    def stopping(self) -> bool:
        return self.stop_reason is not None

    def _stop(self, signum: int, frame: object) -> None:
        """SIGTERM or SIGINT: stop the running children with the same signal (they store their runs, as cancelled
        by the user only after a SIGINT), leave waiting jobs queued."""
        self.stop_reason = stopped_by(signum)
        for child in self.children.values():
            if child.cancelled_at is None:  # one a user cancelled already stays their cancel
                child.stop_reason = self.stop_reason
                self._cancel(child, signum)

    def _work_came(self) -> bool:
        """About to leave: let go of the lock first, then look once more, so a job queued by someone who saw the
        lock still held is not left waiting for a worker that has gone."""
        if self.lock is None:
            return False
        self.lock.release()
        return self.queue.waiting() and self.lock.acquire(seconds=0)

    def _start_jobs(self) -> bool:
        started = False
        while self.free and (job := self.queue.claim(self.free[-1].name, kept=self.lock is None)) is not None:
            started = True
            slot = self.free.pop()
            try:
                prepared = self._prepare(job)
            except Exception as error:  # the job ends here; the worker and the queue go on
                self.free.append(slot)
                status, reason = unprepared(error)
                self.queue.end(job.job_id, status, reason)
                self.say(f"job {job.job_id} #{job.experiment_id} seed {job.seed}: {status}: {reason}")
                continue
            child = start(self.how, (job, slot, *prepared, self.store.path, self.sink_of), train_child)
            self.children[child.pid] = Child(child, job, slot)
            self.say(f"job {job.job_id} #{job.experiment_id} {job.name} seed {job.seed}: child {child.pid} in "
                     f"{slot.name}")
        return started

    def _prepare(self, job: Job) -> tuple[Experiment, Dataset]:
        """In the worker, before the child starts: the experiment, and the data (kept for later jobs on the same
        data)."""
        experiment = resolve(job.experiments, job.experiment_id, job.point)

        def progress(event: Event) -> None:
            assert isinstance(event, DataProgress), "preparing a job only downloads"
            size = f"{event.done / 1e6:.1f}" + (f" of {event.total / 1e6:.1f}" if event.total else "")
            if self.queue.phase(job.job_id, f"downloading {event.what}: {size} MB"):
                raise RunCancelled

        options = RunOptions(seed=job.seed, **job.options)
        preflight([experiment], options, progress)
        key = data.key(job.data, options.dataset, options.size)
        if key not in self.datasets:
            self.datasets[key] = data.load(*key, on_progress=progress_to(progress, options.dataset))
        return experiment, self.datasets[key]

    def _reap(self) -> None:
        for child in list(self.children.values()):
            if (code := child.process.poll()) is None:
                continue
            del self.children[child.process.pid]
            self.free.append(child.slot)
            self._settle_after(child, code)

    def _settle_after(self, child: Child, code: int) -> None:
        """A child that ended without settling its job (killed, or crashed outside its run): say how it ended."""
        row = self.queue.get(child.job.job_id)
        if row is None or row["status"] != Status.RUNNING:
            return
        cancel_asked = bool(row["cancel_requested"]) or child.cancelled_at is not None
        status, reason = ending(code, cancel_asked, child.stop_reason)
        self.queue.end(child.job.job_id, status, reason)
        self.say(f"job {child.job.job_id}: {status}: {reason}")

    def _forward_cancels(self) -> None:
        """A cancel asked for in the store reaches a child as SIGINT (it may still be starting, with no heartbeat
        yet); one that has not stopped STOP_SECONDS later is killed."""
        asked = set(self.queue.cancels_asked()) if self.children else set()
        now = time.monotonic()
        for child in self.children.values():
            if child.cancelled_at is None and child.job.job_id in asked:
                self._cancel(child)
            elif child.cancelled_at is not None and now - child.cancelled_at > STOP_SECONDS:
                child.process.kill()

    def _cancel(self, child: Child, signum: int = signal.SIGINT) -> None:
        child.cancelled_at = time.monotonic()
        child.process.signal(signum)


def train_child(job: Job, slot: Slot, experiment: Experiment, dataset: Dataset, store_path: Path,
                sink_of: Callable[[], Callable], listening: Callable[[], None] | None = None) -> int:
    """In the child, however it started: trains the job in its slot and returns the exit code. `listening` starts
    what else may stop the run (a spawned child's pipe from its worker), once the signal handlers are in place."""
    code = 1
    try:
        enter(slot)
        switch = CancelSwitch()
        signal.signal(signal.SIGINT, lambda *_: switch.trip())
        signal.signal(signal.SIGTERM, lambda *_: switch.trip(stopped_by(signal.SIGTERM)))
        if listening is not None:
            listening()
        store = Store(store_path)  # its own connection: one opened before a fork must not be used after it
        run_job(job, experiment, dataset, store, JobQueue(store), sink_of(), switch)
        code = 0
    except RunCancelled as cancel:  # between the child's start and the run's
        end_from_child(store_path, job, Status.CANCELLED, cancel_reason(cancel))
        code = 0
    except UserError as error:  # the store would not take a write, say
        print(f"dermalab: {error}", file=sys.stderr)
        end_from_child(store_path, job, Status.FAILED, str(error))
    except BaseException:  # in the log; the worker settles the job from the exit code
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
    return code


def end_from_child(store_path: Path, job: Job, status: Status, reason: str) -> None:
    with contextlib.suppress(Exception):  # if even this fails, the worker ends it from the exit code
        JobQueue(Store(store_path)).end(job.job_id, status, reason)


def unprepared(error: Exception) -> tuple[Status, str]:
    """The status and reason of a job that could not be prepared (its data missing, say)."""
    if isinstance(error, RunCancelled):
        return Status.CANCELLED, cancel_reason(error)
    return Status.FAILED, said(error)


def ending(code: int, cancel_asked: bool, stop_reason: str | None = None) -> tuple[Status, str]:
    """The status and reason of a job whose child ended (exit code, or minus the signal) without settling it. A
    cancel asked for is a cancel whatever ended the child (`stop_reason`: the worker's own stop, which a user did not
    ask of this job); an interrupt is never guessed to be lack of memory."""
    if cancel_asked:
        return Status.CANCELLED, stop_reason or CANCELLED
    if code >= 0:
        return Status.FAILED, (f"the training process ended with exit code {code} before its run did (see the "
                               "worker's log)")
    reason = f"the training process was killed by {signal.Signals(-code).name}"
    if -code == getattr(signal, "SIGKILL", None):  # Windows has no SIGKILL (nor negative exit codes)
        reason += " (by hand, or by the system when memory ran out)"
    return Status.FAILED, reason


def enter(slot: Slot) -> None:
    """In the child, before anything touches CUDA (the worker never does): it sees its own GPU only, so "auto" and
    "cuda" mean that one, and it takes its share of the cores."""
    if slot.gpu is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = slot.gpu
    threads.use(slot.threads, slot.fixed)

