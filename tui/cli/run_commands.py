"""The commands that train: run (here with bars, in slots, detached to the background worker, or on a cluster)
and worker. Whatever imports torch is imported inside the function that trains, with the collector paused, so
that `run --detach`, a cluster submission and every other command start without it."""

from __future__ import annotations

import argparse
import contextlib
import gc
import re
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

from engine import threads
from engine.classes import DEFAULT_SIZE, label, medset
from engine.errors import UserError
from engine.events import RunFailed
from engine.experiments import sweeps
from engine.experiments.load import load
from engine.experiments.spec import Experiment
from engine.jobs import cluster, seeds, start, watch
from engine.jobs.lock import WorkerLock, worker_pid
from engine.jobs.queue import Job, JobQueue, plan
from engine.jobs.resume import resumable_job
from engine.jobs.slots import machine_slots
from engine.jobs.source import JobSource
from engine.status import ACTIVE, DONE, Status
from engine.store.runs import Store, default_path
from engine.training.options import RunOptions
from tui import exit_codes
from tui.app.background import ensure_worker
from tui.arguments import job_source, slot_request
from tui.cli.inputs import experiments_of, open_store
from tui.cli.options import MAX_SEED
from tui.cli.progress import (
    HeadlessProgress,
    JsonResults,
    StoredRowPrinter,
    WorkerLog,
)
from tui.text.numbers import duration, plural
from tui.text.tables import dumps

ID_OR_RANGE = re.compile(r"([0-9]+)(?:-([0-9]+))?")  # ASCII digits: isdigit() also passes '²', which int() refuses

if TYPE_CHECKING:
    from engine.jobs.runner import Sink
    from engine.training.data import Dataset

Experiments = dict[int, Experiment]


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """For importing torch: its import makes about a million objects that live until exit, and every collection
    during the import would walk all those made so far again (a fifth of the import's time). Frozen afterwards,
    later collections pass them by as well."""
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


def cmd_run(args: argparse.Namespace) -> int:
    if args.resume is not None:
        return resume(args)
    if args.all and args.ids:
        raise UserError(f"Give experiment ids or --all, not both; 'dermalab run {' '.join(args.ids)}' runs just those.")
    if args.seed + args.seeds - 1 > MAX_SEED:
        raise UserError(f"--seed {args.seed} --seeds {args.seeds}: the last seed would pass {MAX_SEED:,}; start lower.")
    experiments = experiments_of(args)
    ids = list(experiments) if args.all else parse_ids(args.ids, list(experiments))
    if not ids:
        raise UserError("Name the experiments to run, e.g. 'dermalab run 8 11-14', or pass --all.")
    return launch(args, [experiments[i] for i in ids], range(args.seed, args.seed + args.seeds), experiments)


def resume(args: argparse.Namespace) -> int:
    """`run --resume ID`: the interrupted run goes on from its checkpoint, in this process (or the background
    worker's, with --detach), as the same run and job, with the data, experiments file and options it was queued
    with."""
    if args.ids or args.all or args.executor:
        raise UserError("--resume goes on with one run, on this machine, as it was asked for; leave out the "
                        "experiment ids, --all and --executor.")
    store = open_store()
    try:
        job = resumable_job(store, store.find(args.resume))
        experiments = load(job.experiments)
        chosen = [sweeps.resolve(job.experiments, job.experiment_id, job.point)]
        if args.detach:
            return run_detached(args, [job], store, queued=True)
        args.data = job.data  # the data it trained on, whatever --data says
        return run_here(args, [job], RunOptions(seed=job.seed, **job.options), chosen, experiments, store,
                        queued=True)
    finally:
        store.close()


def cmd_sweep(args: argparse.Namespace) -> int:
    """`dermalab sweep NAME`: the sweep's points × seeds, through the same queue, slots and clusters as `run`."""
    experiments = experiments_of(args)
    sweep = sweeps.named(args.name, experiments, args.experiments)
    for flag, given, axis in (("--epochs", args.epochs, "training.epochs"),
                              ("--no-pretrained", args.no_pretrained, "model.pretrained")):
        if given and axis in sweep.axes:  # its points would all run alike, each trained again
            raise UserError(f"{flag} would set what sweep '{sweep.name}' varies (its axis '{axis}'); leave it out.")
    points = sweep.points()
    print(f"dermalab: sweep '{sweep.name}': {plural(len(points), 'point')} of experiment {sweep.base.id} "
          f"{sweep.base.spec.name} × {plural(sweep.seeds, 'seed')}.", file=sys.stderr)
    return launch(args, points, range(sweep.seeds), experiments, each_skip=False)


def launch(args: argparse.Namespace, chosen: list[Experiment], asked: range, experiments: Experiments,
           each_skip: bool = True) -> int:
    """The runs of `chosen` (experiments, or a sweep's points) × the seeds `asked`, but those that finished already,
    trained as the options say: here, in slots, by the background worker, or on a cluster."""
    if args.runs_per_task > 1 and not args.executor:
        raise UserError("--runs-per-task shares out a cluster's tasks; add --executor slurm (or local), or leave it "
                        "out.")
    source = job_source(args)
    store = open_store()
    try:
        jobs, reused = planned(args, chosen, asked, source, store, each_skip)
        if args.json and not args.detach:  # a script asking for a seed gets its result, trained now or before
            show = StoredRowPrinter(store, experiments)
            for run_id in reused:
                show(run_id, reused=True)
        if not jobs:
            if args.json and args.detach:  # what was queued, as JSON however little: a script parses it all the same
                print(dumps([]))
            return exit_codes.OK
        if args.executor:
            if slot_request(args).asked():
                raise UserError("--jobs, --gpus, --per-gpu and --threads share out this machine, while on a cluster "
                                "each run is a task of its own (--gpus-per-task G, threads as Slurm grants); give one "
                                "or the other.")
            return run_on_cluster(args, jobs, store, experiments)
        if args.detach:
            say_estimate(jobs, chosen, store, source.options)  # the worker loads the data, and says what is wrong
            return run_detached(args, jobs, store)
        if slot_request(args).shares_out():
            return run_in_slots(args, jobs, source.options, chosen, experiments, store)
        return run_here(args, jobs, source.options, chosen, experiments, store)
    finally:
        store.close()  # here, not at exit: a store open while torch was imported is frozen with it (collector_paused)


def say_estimate(jobs: list[Job], chosen: list[Experiment], store: Store, options: RunOptions) -> None:
    """Images over 28x28 take longer in proportion to their pixels (a 224 ResNet epoch on a CPU is hours): before
    such runs start, how long they will train, from this machine's runs at that size or the page's times scaled."""
    if options.size == DEFAULT_SIZE:
        return
    from engine.jobs.estimate import estimate, speeds_for

    speeds, at_28 = speeds_for(store, options.dataset, options.size)  # measured on this set, at this size and at 28
    by_id = {experiment.id: experiment for experiment in chosen}
    on = medset(options.dataset, options.size)
    guesses = [(estimate([by_id[job.experiment_id]], by_id, speeds, on, at_28), job) for job in jobs]
    seconds = sum(guess.seconds * (options.epochs or by_id[job.experiment_id].spec.training.epochs)
                  / by_id[job.experiment_id].spec.training.epochs for guess, job in guesses)
    basis = ("rough: the page's times scaled by the set's images and pixels, as nothing ran here at this size yet"
             if any(guess.rough for guess, _ in guesses) else
             "rough: this machine's runs at 28x28 scaled by the pixels, as nothing ran here at this size yet"
             if any(guess.scaled for guess, _ in guesses) else "from this machine's runs at this size")
    print(f"dermalab: {plural(len(jobs), 'run')} on {label(options.dataset, options.size)}: about "
          f"{duration(seconds)} of training ({basis}).", file=sys.stderr)


def planned(args: argparse.Namespace, chosen: list[Experiment], asked: range, source: JobSource, store: Store,
            each_skip: bool = True) -> tuple[list[Job], list[str]]:
    """A job per experiment and seed asked for, but the seeds that finished already with the same config and data
    (unless --again), each one left out said on stderr (or, not `each_skip`, how many: a sweep has many); and the
    ids of the runs that finished those."""
    with collector_paused():  # the precision the device picks, when some seed finished, is torch's to tell
        finished = [{} if args.again else seeds.finished_among(store, experiment, asked, source.data, source.options)
                    for experiment in chosen]  # a list, not by id: a sweep's points share their base's id
    jobs = []
    for experiment, done in zip(chosen, finished):
        for seed, run_id in sorted(done.items()) if each_skip else ():
            print(f"dermalab: skipped #{experiment.id} {experiment.spec.name} seed {seed}: run {run_id} finished it "
                  "with the same config and data (--again runs it anyway).", file=sys.stderr)
        jobs += plan([experiment], [seed for seed in asked if seed not in done], source.data,
                     source.experiments_file, source.options)
    if not each_skip and (skipped := sum(map(len, finished))):
        print(f"dermalab: skipped {plural(skipped, 'run')} of {len(chosen) * len(asked)}: they finished with the same "
              "config and data (--again runs them anyway).", file=sys.stderr)
    if not each_skip:  # a sweep seed by seed: every point is seen early, and halving has its rivals from the start
        jobs.sort(key=lambda job: job.seed)
    return jobs, [run_id for done in finished for _, run_id in sorted(done.items())]


def parse_ids(tokens: list[str], known: list[int]) -> list[int]:
    """'8', '11-14' and '1,3' forms; the result keeps the order given and drops repeats."""
    chosen: list[int] = []
    for token in (part for raw in tokens for part in raw.split(",") if part):
        match = ID_OR_RANGE.fullmatch(token)
        if not match:
            raise UserError(f"'{token}' is not an experiment id or a range such as 11-14.")
        start, end = int(match[1]), int(match[2] or match[1])
        if end < start:
            raise UserError(f"The range {token} runs backwards; write it as {end}-{start}.")
        for experiment_id in range(start, end + 1):
            if experiment_id not in known:
                raise UserError(f"There is no experiment {experiment_id}; the experiments file has ids "
                                f"{id_ranges(known)}.")
            if experiment_id not in chosen:
                chosen.append(experiment_id)
    return chosen


def id_ranges(ids: list[int]) -> str:
    """Sorted ids as runs of consecutive ones: '1-3, 5, 7-10'."""
    runs: list[list[int]] = []
    for experiment_id in ids:
        if runs and experiment_id == runs[-1][-1] + 1:
            runs[-1].append(experiment_id)
        else:
            runs.append([experiment_id])
    return ", ".join(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]) for run in runs)


def run_here(args: argparse.Namespace, jobs: list[Job], options: RunOptions, chosen: list[Experiment],
             experiments: Experiments, store: Store, queued: bool = False) -> int:
    """The foreground `dermalab run`: this process trains its jobs, with bars; Ctrl-C cancels (exit 130). `queued`:
    the jobs are in the queue already (a resumed run's), and this process takes them back."""
    with collector_paused():
        import torch._dynamo  # noqa: F401  (torch.optim imports it with the first optimizer: a second of imports)

        from engine.jobs import runner  # torch, with the training loop
        from engine.training.device import resolve_device  # torch

    resolve_device(args.device)
    threads.use(threads.threads_per_run(asked=args.threads), fixed=args.threads is not None)
    queue = JobQueue(store)
    bars = HeadlessProgress(len(jobs))
    sink = JsonResults(bars, store, experiments) if args.json else bars
    with sink:  # entered before the download, so its bar is cleared and the cursor shown again whatever fails
        dataset = prepare(args.data, options, chosen, sink)
        say_estimate(jobs, chosen, store, options)  # once the data is known good: after a refusal, it would be noise
        if queued:
            queue.take_back([job.job_id for job in jobs], keep=True)
        else:
            queue.add(jobs, keep=True)
        outcomes = runner.run_kept(queue, experiments, dataset, store, sink)
    unstarted = say_unstarted(queue, jobs)
    failed = any(isinstance(o, RunFailed) and o.status not in DONE for o in outcomes)  # a halved run is no failure
    return exit_codes.RUN_FAILED if unstarted or failed else exit_codes.OK


def say_unstarted(queue: JobQueue, jobs: list[Job]) -> bool:
    """Names on stderr each of `jobs` that ended before this process took it (cancelled from another terminal, or
    the app): nothing else would say so, as only a job that starts has a run's line. Returns whether any did."""
    rows = [row for job in jobs if (row := queue.get(job.job_id)) and row["status"] not in ACTIVE
            and row["claimed_at"] is None]
    for row in rows:
        print(f"[{row['experiment_id']}] {row['name']} seed {row['seed']}: {row['status']} before it started: "
              f"{row['reason']}", file=sys.stderr)
    return bool(rows)


def prepare(data_option: str, options: RunOptions, chosen: list[Experiment], sink: Sink) -> Dataset:
    """What every run needs, fetched before any starts: the weights first, so a missing file is named before a
    long download of the data."""
    # torch and numpy: imported already by the callers, with the collector paused
    from engine.jobs import runner
    from engine.training import data

    runner.preflight(chosen, options, sink)
    return data.load(data_option, options.dataset, options.size, runner.progress_to(sink, options.dataset))


def run_in_slots(args: argparse.Namespace, jobs: list[Job], options: RunOptions, chosen: list[Experiment],
                 experiments: Experiments, store: Store) -> int:
    """`run --jobs N` (or --gpus, --per-gpu) in the foreground: this process starts a child per slot, as the worker
    does, for its own jobs only; a line for each run's start and end. Ctrl-C cancels them all (exit 130)."""
    start.method()  # a bad DERMALAB_START is said before torch is imported and jobs are queued
    with collector_paused():
        from engine.jobs import worker  # torch, before the children fork

    slots = machine_slots(slot_request(args), args.device)
    with HeadlessProgress(0) as bars:  # the downloads' bars only
        dataset = prepare(args.data, options, chosen, bars)
    say_estimate(jobs, chosen, store, options)
    queue = JobQueue(store)
    queue.add(jobs, keep=True)
    log = WorkerLog("stderr", json_results=StoredRowPrinter(store, experiments) if args.json else None)
    interrupted = worker.train_own(store, {(args.data, options.dataset, options.size): dataset}, log.sink, log.say,
                                   slots)
    say_unstarted(queue, jobs)
    if interrupted:
        return exit_codes.INTERRUPTED
    failed = [job for job in jobs if watch.current(queue, job.job_id)["status"] not in DONE]
    return exit_codes.RUN_FAILED if failed else exit_codes.OK


def run_on_cluster(args: argparse.Namespace, jobs: list[Job], store: Store, experiments: Experiments) -> int:
    """`run --executor slurm|local`: one job array through submitit; follows its tasks unless --detach."""
    cluster.require(args.executor)
    request = cluster.ClusterRequest(args.executor, args.partition, args.gpus_per_task, args.time,
                                     args.array_parallelism, args.cpus_per_task, args.mem, args.runs_per_task)
    task_ids = cluster.submit(JobQueue(store), jobs, request)
    print(f"Submitted {plural(len(set(task_ids)), 'task')} to {args.executor} (submitit job {task_ids[0]}"
          f"{'…' if len(set(task_ids)) > 1 else ''}); their files are in {cluster.folder()}.", file=sys.stderr)
    if args.detach:
        print("\n".join(job.job_id for job in jobs))
        print("'dermalab queue' shows them (and imports what finished), 'dermalab cancel ID' stops one.",
              file=sys.stderr)
        return exit_codes.OK
    show = StoredRowPrinter(store, experiments)

    def say(job: dict, run: dict | None) -> None:
        """A line as a task changes state, starts an epoch or ends (too seldom for bars); with --json each ended
        run's stored row on stdout."""
        print(cluster_line(job, run), file=sys.stderr, flush=True)
        if args.json and run:
            show(job["job_id"])

    all_finished = watch.follow_tasks(store, [job.job_id for job in jobs], say,
                                      lambda sentence: print(f"dermalab: {sentence}", file=sys.stderr))
    return exit_codes.OK if all_finished else exit_codes.RUN_FAILED


def cluster_line(job: dict, run: dict | None) -> str:
    label = f"[{job['experiment_id']}] {job['name']} seed {job['seed']}"
    if job["status"] == Status.FINISHED and run:
        return f"{label}: AUC {run['auc']:.3f} · mel recall {run['mel_recall']:.0%} · {run['train_seconds']:.1f} s"
    if job["status"] in ACTIVE:
        epoch = f" · epoch {job['epoch']}/{job['epochs']}" if job["epochs"] else ""
        return f"{label}: {job['phase'] or 'submitted'}{epoch}"
    return f"{label}: {job['status']}: {job['reason'] or ''}".rstrip(": ")


def run_detached(args: argparse.Namespace, jobs: list[Job], store: Store, queued: bool = False) -> int:
    """`run --detach`: the jobs join the store's queue (`queued`: they are in it, interrupted, and wait again), a
    worker is made sure of, their ids are printed."""
    request = slot_request(args)
    machine_slots(request, args.device)  # a request this machine cannot meet is refused before anything is queued
    queue = JobQueue(store)
    if queued:
        queue.take_back([job.job_id for job in jobs], keep=False)
    else:
        queue.add(jobs)  # before the worker is made sure of: one about to leave idle looks once more for jobs
    try:
        worker = ensure_worker(store.path, request)
    except UserError as error:  # nobody would train them: they leave the queue, stored as cancelled with why
        queue.cancel([job.job_id for job in jobs], str(error))
        raise UserError(f"{str(error).removesuffix('.')}; nothing stays queued ({plural(len(jobs), 'job')} "
                        "cancelled).") from None
    if args.json:
        print(dumps([{"job_id": job.job_id, "id": job.experiment_id, "name": job.name, "seed": job.seed}
                     for job in jobs]))
    else:
        print("\n".join(job.job_id for job in jobs))
    started = f"started worker {worker.pid} (log: {worker.log})" if worker.log else f"worker {worker.pid} takes them"
    if request.asked() and not worker.log:
        started += " in the slots it started with (stop it, or let it finish, for new --jobs/--gpus to apply)"
    print(f"Queued {plural(len(jobs), 'job')}; {started}. 'dermalab queue' shows their progress, 'dermalab cancel ID' "
          "stops one.", file=sys.stderr)
    return exit_codes.OK


def cmd_worker(args: argparse.Namespace) -> int:
    path = default_path()
    slots = machine_slots(slot_request(args))
    start.method()  # a bad DERMALAB_START is said before this worker takes the store
    lock = WorkerLock(path)
    if not lock.acquire():
        print(f"dermalab: worker {worker_pid(path)} already serves {path}; it takes the jobs.", file=sys.stderr)
        return exit_codes.OK
    with collector_paused():
        # torch, once the lock says this process is the one worker
        from engine.jobs import worker

    log = WorkerLog()
    worker.serve(lock, path, log.sink, log.say, slots, worker.IDLE_SECONDS if args.idle is None else args.idle)
    return exit_codes.OK
