"""The `dermalab` command: the app by default, and list / run / results / compare / operating-point / ensemble /
report for scripts and SSH sessions."""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import re
import sys
from collections.abc import Iterator
from typing import NoReturn

from engine.errors import UserError
from tui import exit_codes
from tui.cli.options import (
    MAX_SEED,
    add_command,
    add_shared,
    seconds,
    settle,
    some_path,
    whole_number,
)

FORMATS = ("table", "csv", "json", "markdown")
ID_OR_RANGE = re.compile(r"([0-9]+)(?:-([0-9]+))?")  # ASCII digits: isdigit() also passes '²', which int() refuses
WIDE_HELP = "every column, however wide (a table otherwise keeps to the terminal's width)"


class Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one sentence like every other bad input, and the namespace holds each
    shared option once, wherever it was given (see tui.cli.options)."""

    def parse_args(self, args=None, namespace=None) -> argparse.Namespace:  # type: ignore[override]
        return settle(super().parse_args(args, namespace))

    def error(self, message: str) -> NoReturn:
        raise UserError(f"{message[0].upper()}{message[1:]}; see '{self.prog} --help'.")


def build_parser() -> Parser:
    parser = Parser(prog="dermalab", description="A terminal lab for the 25 DermaMNIST experiments of 'Beat the "
                    "Baseline'. With no command, opens the app. Options go before or after the command.")
    add_shared(parser, command=None)
    commands = parser.add_subparsers(dest="command", parser_class=Parser)

    listing = add_command(commands, "list", help="the experiments, their params and published figures")
    listing.add_argument("--json", action="store_true")

    run = add_command(commands, "run", help="train experiments headless")
    run.add_argument("ids", nargs="*", metavar="IDS", help="ids and ranges such as 8 11-14")
    run.add_argument("--all", action="store_true", help="every experiment")
    run.add_argument("--again", action="store_true",
                     help="run seeds that already finished with the same config and data (skipped otherwise)")
    run.add_argument("--json", action="store_true", help="one JSON object per run on stdout, as 'results' gives it")
    run.add_argument("--detach", action="store_true",
                     help="queue the runs for the background worker, print their job ids and return at once")
    cluster = run.add_argument_group("on a cluster, through submitit (pip install -e '.[slurm]')")
    cluster.add_argument("--executor", choices=("slurm", "local"),
                         help="slurm: one job array, a task per run; local: the same path on this machine")
    cluster.add_argument("--partition", metavar="P", help="the Slurm partition (default: the cluster's)")
    cluster.add_argument("--gpus-per-task", type=whole_number("--gpus-per-task", 0, 16), default=0, metavar="G",
                         help="GPUs each task asks for (default 0)")
    cluster.add_argument("--time", type=whole_number("--time", 1, 7 * 24 * 60, "of minutes"), default=60,
                         metavar="MIN", help="each task's time limit in minutes (default 60)")
    cluster.add_argument("--array-parallelism", type=whole_number("--array-parallelism", 1, 10_000), default=64,
                         metavar="K", help="tasks of the array running at once (default 64)")

    worker = add_command(commands, "worker", help="train the queued jobs; stops once the queue has been empty a while")
    worker.add_argument("--idle", type=seconds("--idle", high=86_400), default=None, metavar="SECONDS",
                        help="how long to wait for more jobs before stopping (default 60)")

    add_command(commands, "sync", help="import the results of runs finished on a cluster (queue and the app do it too)")

    queue = add_command(commands, "queue", help="the jobs waiting and running, with their progress")
    queue.add_argument("--json", action="store_true")

    cancel = add_command(commands, "cancel", help="take waiting jobs off the queue, stop running ones")
    cancel.add_argument("ids", nargs="*", metavar="JOB_OR_RUN_ID", help="ids from 'dermalab queue', or their first characters")
    cancel.add_argument("--all", action="store_true", help="every job waiting or running")
    cancel.add_argument("--json", action="store_true")

    results = add_command(commands, "results", help="every stored run, or one")
    results.add_argument("run_id", nargs="?", metavar="RUN_ID", help="one run (an id, or its first characters)")
    results.add_argument("--experiment", type=int, metavar="ID", help="only this experiment's runs")
    results.add_argument("--per-experiment", action="store_true", help="mean ± std and n over each experiment's seeds")
    results.add_argument("--confusion", action="store_true", help="the run's confusion matrix (needs RUN_ID)")
    results.add_argument("--sort", default="auc", metavar="COL", help="a column of numbers (default auc)")
    order = results.add_mutually_exclusive_group()
    order.add_argument("--asc", dest="descending", action="store_false")
    order.add_argument("--desc", dest="descending", action="store_true", default=True)
    results.add_argument("--format", choices=FORMATS, default="table")
    results.add_argument("--wide", action="store_true", help=WIDE_HELP)

    compare = add_command(commands, "compare", help="our figures against the published ones")
    compare.add_argument("--format", choices=FORMATS, default="table")
    compare.add_argument("--wide", action="store_true", help=WIDE_HELP)

    point = add_command(commands, "operating-point",
                        help="the threshold reaching a target sensitivity on val, and its cost")
    point.add_argument("run_id", metavar="RUN_ID")
    point.add_argument("--target", type=float, default=0.9, help="sensitivity to reach, in (0, 1] (default 0.9)")
    point.add_argument("--class", dest="condition", default="mel", metavar="mel|cancer",
                       help="screen for melanoma (P(mel)) or any cancer (P(akiec)+P(bcc)+P(mel)); default mel")
    point.add_argument("--json", action="store_true")

    ensemble = add_command(commands, "ensemble", help="two stored runs combined, beside each alone")
    ensemble.add_argument("run_ids", nargs=2, metavar="RUN_ID")
    ensemble.add_argument("--rule", default="or", metavar="or|mean",
                          help="or: flagged when either run flags it (default); mean: average the probabilities")
    ensemble.add_argument("--json", action="store_true")

    report = add_command(commands, "report", help="a Markdown report with CSV tables")
    report.add_argument("--out", type=some_path("--out"), required=True, metavar="DIR",
                        help="folder to write report.md and the CSVs into")
    report.add_argument("--force", action="store_true", help="write over a report already in DIR")

    prune = add_command(commands, "prune", help="delete runs that did not finish (and quick looks), then reclaim the space")
    prune.add_argument("--quick", action="store_true",
                       help="also finished runs that ran fewer epochs than their experiment (--epochs looks)")
    prune.add_argument("--yes", action="store_true", help="delete without asking (for scripts)")
    return parser


def main(argv: list[str] | None = None) -> int:
    raw = sys.argv[1:] if argv is None else argv
    debug = "--debug" in raw
    try:
        args = build_parser().parse_args(raw)
        handler = {"list": cmd_list, "run": cmd_run, "worker": cmd_worker, "queue": cmd_queue, "cancel": cmd_cancel, "sync": cmd_sync,
                   "results": cmd_results, "compare": cmd_compare, "operating-point": cmd_operating_point,
                   "ensemble": cmd_ensemble, "report": cmd_report,
                   "prune": cmd_prune}.get(args.command, cmd_app)
        code = handler(args)
        sys.stdout.flush()  # here, so that a reader who went away is met inside this try, not at exit
        return code
    except UserError as error:
        if debug:
            raise
        print(f"dermalab: {error}", file=sys.stderr)
        return exit_codes.BAD_INPUT
    except KeyboardInterrupt:
        if debug:
            raise
        print("dermalab: interrupted; finished runs are stored.", file=sys.stderr)
        return exit_codes.INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`| head -1`): stop quietly, as cat does. Whatever is still buffered goes to
        # /dev/null, so that Python's own flush at exit cannot fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return exit_codes.PIPE_CLOSED


def experiments_of(args: argparse.Namespace):
    from engine.experiments.load import load

    return load(args.experiments)


def open_store():
    """The run store; the store only records that it set a damaged file aside or upgraded an older one, so the
    user hears it here."""
    from engine.store.runs import Store

    store = Store()
    if notice := store.notice():
        print(f"dermalab: warning: {notice}", file=sys.stderr)
    return store


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


def cmd_list(args: argparse.Namespace) -> int:
    from engine.experiments.architecture import (
        parameter_count,  # counted without torch: a listing need not build 25 models
    )

    rows = []
    for experiment in experiments_of(args).values():
        spec = experiment.spec
        published = spec.published.model_dump() if spec.published else None
        rows.append({"id": spec.id, "name": spec.name, "chapter": spec.chapter,
                     "params": parameter_count(spec.model),
                     "epochs": spec.training.epochs, "published": published})
    from tui.text.tables import dumps, print_table

    if args.json:
        print(dumps(rows))
        return exit_codes.OK
    print_table([{**{k: v for k, v in r.items() if k != "published"},
                  "pub_auc": r["published"] and r["published"]["auc"],
                  "pub_mel_recall": r["published"] and r["published"]["mel_recall"]} for r in rows], "table")
    return exit_codes.OK


def cmd_run(args: argparse.Namespace) -> int:
    from engine.jobs.queue import plan
    from tui.app.lab import JobSource

    if args.all and args.ids:
        raise UserError(f"Give experiment ids or --all, not both; 'dermalab run {' '.join(args.ids)}' runs just those.")
    if args.seed + args.seeds - 1 > MAX_SEED:
        raise UserError(f"--seed {args.seed} --seeds {args.seeds}: the last seed would pass {MAX_SEED:,}; start lower.")
    experiments = experiments_of(args)
    ids = list(experiments) if args.all else parse_ids(args.ids, list(experiments))
    if not ids:
        raise UserError("Name the experiments to run, e.g. 'dermalab run 8 11-14', or pass --all.")
    source = JobSource.from_args(args)
    chosen = [experiments[i] for i in ids]
    jobs = plan(chosen, range(args.seed, args.seed + args.seeds), source.data, source.experiments_file, source.options)
    store = open_store()
    try:
        if not args.again:
            from engine.training.data import fingerprint_for

            jobs = without_finished(jobs, experiments, fingerprint_for(source.data), store)
            if not jobs:
                return exit_codes.OK
        from tui.app.lab import slot_request

        if args.executor:
            if slot_request(args).asked():
                raise UserError("--jobs, --gpus and --per-gpu share out this machine, while on a cluster each run is a "
                                "task of its own (--gpus-per-task G); give one or the other.")
            return run_on_cluster(args, jobs, store, experiments)
        if args.detach:
            return run_detached(args, jobs, store)

        if slot_request(args).asked():
            return run_in_slots(args, jobs, source.options, chosen, experiments, store)
        return run_here(args, jobs, source.options, chosen, experiments, store)
    finally:
        store.close()  # here, not at exit: a store open while torch was imported is frozen with it (collector_paused)


def run_here(args: argparse.Namespace, jobs, options, chosen, experiments, store) -> int:
    """The foreground `dermalab run`: this process trains its jobs, with bars; Ctrl-C cancels (exit 130)."""
    with collector_paused():
        import torch._dynamo  # noqa: F401  (torch.optim imports it with the first optimizer: a second of imports)

        from engine.jobs import runner
    from engine.events import RunFailed
    from engine.jobs.queue import JobQueue
    from engine.training.train import resolve_device
    from tui.cli.progress import HeadlessProgress, JsonResults

    resolve_device(args.device)
    queue = JobQueue(store)
    bars = HeadlessProgress(len(jobs))
    sink = JsonResults(bars, store, experiments) if args.json else bars
    with sink:  # entered before the download, so its bar is cleared and the cursor shown again whatever fails
        dataset = prepare(args, options, chosen, sink)
        queue.add(jobs, keep=True)
        outcomes = runner.run_kept(queue, experiments, dataset, store, sink)
    return exit_codes.RUN_FAILED if any(isinstance(o, RunFailed) for o in outcomes) else exit_codes.OK


def prepare(args: argparse.Namespace, options, chosen, sink):
    """What every run needs, fetched before any starts: the weights first, so a missing file is named before a
    long download of the data."""
    from engine.jobs import runner
    from engine.training import data

    runner.preflight(chosen, options, sink)
    return data.load(args.data, on_progress=runner.progress_to(sink, "DermaMNIST"))


def run_in_slots(args: argparse.Namespace, jobs, options, chosen, experiments, store) -> int:
    """`run --jobs N` (or --gpus, --per-gpu) in the foreground: this process forks a child per slot, as the worker
    does, for its own jobs only; a line for each run's start and end. Ctrl-C cancels them all (exit 130)."""
    with collector_paused():
        from engine.jobs import worker
    from engine.jobs.queue import JobQueue
    from engine.jobs.slots import machine_slots
    from tui.app.lab import slot_request
    from tui.cli.progress import HeadlessProgress, WorkerLog, stored_row_printer

    slots = machine_slots(slot_request(args), args.device)
    with HeadlessProgress(0) as bars:  # the downloads' bars only
        dataset = prepare(args, options, chosen, bars)
    queue = JobQueue(store)
    queue.add(jobs, keep=True)
    log = WorkerLog(sys.stderr, json_results=stored_row_printer(store, experiments) if args.json else None)
    if worker.serve_own(store, {args.data: dataset}, log.sink, log.say, slots):
        return exit_codes.INTERRUPTED
    failed = [job for job in jobs if queue.get(job.job_id)["status"] != "finished"]
    return exit_codes.RUN_FAILED if failed else exit_codes.OK


def run_on_cluster(args: argparse.Namespace, jobs, store, experiments) -> int:
    """`run --executor slurm|local`: one job array through submitit; follows its tasks unless --detach."""
    from engine.jobs import cluster
    from engine.jobs.queue import JobQueue

    cluster.require(args.executor)
    queue = JobQueue(store)
    request = cluster.ClusterRequest(args.executor, args.partition, args.gpus_per_task, args.time,
                                     args.array_parallelism)
    task_ids = cluster.submit(queue, jobs, request)
    print(f"Submitted {len(jobs)} task(s) to {args.executor} (submitit job {task_ids[0]}"
          f"{'…' if len(set(task_ids)) > 1 else ''}); their files are in {cluster.folder()}.", file=sys.stderr)
    if args.detach:
        print("\n".join(job.job_id for job in jobs))
        print("'dermalab queue' shows them (and imports what finished), 'dermalab cancel ID' stops one.",
              file=sys.stderr)
        return exit_codes.OK
    return follow_cluster(args, store, [job.job_id for job in jobs], experiments)


def follow_cluster(args: argparse.Namespace, store, job_ids: list[str], experiments) -> int:
    """A line as each task changes state, starts an epoch or ends (its heartbeat reaches us every few seconds, through
    a file: too seldom for bars); with --json each ended run's stored row on stdout. Ctrl-C cancels the tasks left."""
    import time

    from engine.jobs import cluster
    from engine.jobs.queue import ACTIVE, JobQueue
    from tui.cli.progress import stored_row_printer

    queue = JobQueue(store)
    show = stored_row_printer(store, experiments)
    said: dict[str, str] = {}
    ended: set[str] = set()
    try:
        while True:
            cluster.sync(store)
            jobs = [queue.get(job_id) for job_id in job_ids]
            for job in jobs:
                if job["job_id"] in ended:
                    continue
                run = store.get(job["job_id"]) if job["status"] not in ACTIVE else None
                line = cluster_line(job, run)
                if said.get(job["job_id"]) != line:
                    said[job["job_id"]] = line
                    print(line, file=sys.stderr, flush=True)
                if job["status"] not in ACTIVE:
                    ended.add(job["job_id"])
                    if args.json and run:
                        show(job["job_id"])
            if all(job["status"] not in ACTIVE for job in jobs):
                break
            time.sleep(1.0)
    except KeyboardInterrupt:
        cluster.cancel(store, [job for job in map(queue.get, job_ids) if job["status"] in ACTIVE])
        raise
    return exit_codes.OK if all(queue.get(job_id)["status"] == "finished" for job_id in job_ids) else exit_codes.RUN_FAILED


def cluster_line(job: dict, run: dict | None) -> str:
    label = f"[{job['experiment_id']}] {job['name']} seed {job['seed']}"
    if job["status"] == "finished" and run:
        return f"{label}: AUC {run['auc']:.3f} · mel recall {run['mel_recall']:.0%} · {run['train_seconds']:.1f} s"
    if job["status"] in ("queued", "running"):
        epoch = f" · epoch {job['epoch']}/{job['epochs']}" if job["epochs"] else ""
        return f"{label}: {job['phase'] or 'submitted'}{epoch}"
    return f"{label}: {job['status']}: {job['reason'] or ''}".rstrip(": ")


def cmd_sync(args: argparse.Namespace) -> int:
    from engine.jobs import cluster
    from engine.jobs.queue import ACTIVE, JobQueue

    queue = JobQueue(open_store())
    count = cluster.sync(queue.store, queue)
    going = [job for job in queue.submitted() if job["status"] in ACTIVE]
    print(f"Imported {count} run(s) from the cluster; {len(going)} task(s) still waiting or running.")
    return exit_codes.OK


def run_detached(args: argparse.Namespace, jobs, store) -> int:
    """`run --detach`: the jobs join the store's queue, a worker is made sure of, their ids are printed."""
    from engine.jobs.queue import JobQueue
    from engine.jobs.slots import machine_slots
    from tui.app.background import ensure_worker
    from tui.app.lab import slot_request

    request = slot_request(args)
    machine_slots(request, args.device)  # a request this machine cannot meet is refused before anything is queued
    JobQueue(store).add(jobs)
    worker = ensure_worker(store.path, request)
    if args.json:
        from tui.text.tables import dumps

        print(dumps([{"job_id": job.job_id, "id": job.experiment_id, "name": job.name, "seed": job.seed}
                     for job in jobs]))
    else:
        print("\n".join(job.job_id for job in jobs))
    from tui.text.numbers import plural

    started = f"started worker {worker.pid} (log: {worker.log})" if worker.log else f"worker {worker.pid} takes them"
    if request.asked() and not worker.log:
        started += " in the slots it started with (stop it, or let it finish, for new --jobs/--gpus to apply)"
    print(f"Queued {plural(len(jobs), 'job')}; {started}. 'dermalab queue' shows their progress, 'dermalab cancel ID' "
          "stops one.", file=sys.stderr)
    return exit_codes.OK


def cmd_worker(args: argparse.Namespace) -> int:
    from engine.jobs.queue import WorkerLock, serving
    from engine.jobs.slots import machine_slots
    from engine.store.runs import default_path
    from tui.app.lab import slot_request
    from tui.cli.progress import WorkerLog

    path = default_path()
    slots = machine_slots(slot_request(args))
    lock = WorkerLock(path)
    if not lock.acquire():
        print(f"dermalab: worker {serving(path)} already serves {path}; it takes the jobs.", file=sys.stderr)
        return exit_codes.OK
    with collector_paused():
        from engine.jobs import (
            worker,  # torch, once the lock says this process is the one worker
        )

    log = WorkerLog()
    worker.serve(lock, path, log.sink, log.say, slots, worker.IDLE_SECONDS if args.idle is None else args.idle)
    return exit_codes.OK


def cmd_queue(args: argparse.Namespace) -> int:
    import time

    from engine.jobs import cluster
    from engine.jobs.queue import JobQueue, eta_seconds, serving
    from tui.cli import columns as cli_tables
    from tui.text.tables import print_table

    store = open_store()
    queue = JobQueue(store)
    cluster.sync(queue.store, queue)
    queue.recover()
    now = time.time()
    rows = [queue_json(job, eta_seconds(job, now)) for job in queue.active()]
    if args.json:
        from tui.text.tables import dumps

        print(dumps(rows))
    elif not rows:
        print("Nothing is waiting or running; 'dermalab run IDS --detach' queues runs.")
    else:
        print_table([queue_cells(row) for row in rows], "table", cli_tables.QUEUE)
    if queue.waiting() and serving(store.path) is None:  # a worker was killed, say, and nobody started another
        print("dermalab: no worker serves this store, so the waiting jobs wait; 'dermalab worker' (or the app's r, or "
              "any 'run --detach') starts one.", file=sys.stderr)
    return exit_codes.OK


def queue_json(job: dict, eta: float | None) -> dict:
    """A job as `queue --json` gives it: the run's vocabulary (`id` is the experiment's), and its progress."""
    keys = ("job_id", "name", "seed", "status", "reason", "phase", "device", "epoch", "epochs", "batch", "batches",
            "loss", "images_per_second", "worker_pid", "host", "slot", "queued_at", "started_at")
    return {"id": job["experiment_id"], **{key: job[key] for key in keys}, "eta_seconds": eta,
            "cancel_requested": bool(job["cancel_requested"])}


def queue_cells(row: dict) -> dict:
    from tui.text.numbers import duration

    running = row["status"] == "running"
    starting = running and not row["epochs"]
    status = "cancelling" if row["cancel_requested"] else row["phase"] or ("starting" if starting else row["status"])
    return {**row, "status": status, "eta": duration(row["eta_seconds"]),
            "epoch_text": f"{row['epoch']}/{row['epochs']}" if row["epochs"] else "",
            "batch_text": f"{row['batch']}/{row['batches']}" if row["batches"] else "",
            "worker": (f"{row['worker_pid']}@{row['host']}" if row["worker_pid"] else row["host"]) if running else ""}


CANCEL_WAIT_SECONDS = 15  # a running job stops at its next heartbeat, a child still starting on the worker's SIGINT


def cmd_cancel(args: argparse.Namespace) -> int:
    import time

    from engine.jobs.queue import ACTIVE, JobQueue

    if bool(args.ids) == args.all:
        raise UserError("Name the jobs to cancel (ids from 'dermalab queue', or runs' ids) or pass --all, not both.")
    from engine.jobs import cluster

    store = open_store()
    queue = JobQueue(store)
    cluster.sync(queue.store, queue)
    queue.recover()
    targets = queue.active() if args.all else [queue.find(prefix) for prefix in args.ids]
    for job in targets:
        if job["status"] not in ACTIVE:
            raise UserError(f"Job {job['job_id']} (#{job['experiment_id']} seed {job['seed']}) has already ended "
                            f"({job['status']}); nothing to cancel.")
    submitted = [job for job in targets if job["worker_pid"] == 0]
    if submitted:
        cluster.cancel(store, submitted)
    queue.cancel([job["job_id"] for job in targets if job["worker_pid"] != 0])
    deadline = time.monotonic() + CANCEL_WAIT_SECONDS
    while any(queue.get(job["job_id"])["status"] in ACTIVE for job in targets) and time.monotonic() < deadline:
        time.sleep(0.1)
        queue.recover()
    rows = [{"job_id": job["job_id"], "id": job["experiment_id"], "name": job["name"], "seed": job["seed"],
             "was": job["status"], "status": queue.get(job["job_id"])["status"]} for job in targets]
    if args.json:
        from tui.text.tables import dumps

        print(dumps(rows))
    elif not rows:
        print("Nothing was waiting or running.")
    for row in [] if args.json else rows:
        print(f"{row['job_id']} #{row['id']} {row['name']} seed {row['seed']}: was {row['was']}, now "
              + ("cancelling (it stops at its next heartbeat)" if row["status"] in ACTIVE else row["status"]))
    return exit_codes.OK


def without_finished(jobs: list, experiments: dict, fingerprint: str | None, store) -> list:
    """The jobs whose (experiment, seed) has not finished yet with the same config as run and the same data;
    each one left out is said on stderr."""
    kept = []
    for job in jobs:
        done = fingerprint and finished_before(job, experiments[job.experiment_id], fingerprint, store)
        if done:
            print(f"dermalab: skipped #{job.experiment_id} {job.name} seed {job.seed}: run {done} finished it with "
                  "the same config and data (--again runs it anyway).", file=sys.stderr)
        else:
            kept.append(job)
    return kept


def finished_before(job, experiment, fingerprint: str, store) -> str | None:
    """The run that finished this job's experiment and seed with its config as run, on this data. With the
    precision left to the device, the precision the device picks; torch tells which only when there is a run."""
    from dataclasses import replace

    from engine.experiments.spec import config_hash
    from engine.training.options import PRECISIONS, RunOptions, run_config

    options = RunOptions(seed=job.seed, **job.options)
    found = {}
    for precision in PRECISIONS if options.precision == "auto" else (options.precision,):
        config = run_config(experiment, replace(options, precision=precision))
        found[precision] = store.finished_run(job.experiment_id, job.seed, config_hash(config), fingerprint)
    if not any(found.values()):
        return None
    if options.precision == "auto":
        with collector_paused():
            from engine.training.train import (
                run_precision,  # torch, to tell which precision the device picks
            )
        return found[run_precision(options)]
    return found[options.precision]


def cmd_results(args: argparse.Namespace) -> int:
    from engine.store import summary
    from tui.cli import columns as cli_tables
    from tui.text.tables import check_sort_column, print_table, sort_rows

    store = open_store()
    if args.run_id:
        return show_run(args, store)
    if args.confusion:
        raise UserError("--confusion shows one run's matrix; name the run, e.g. 'dermalab results 3f2a --confusion'.")
    experiments = experiments_of(args)
    if args.experiment is not None and args.experiment not in experiments:
        raise UserError(f"--experiment {args.experiment}: there is no such experiment; 'dermalab list' shows their ids.")

    def chosen(rows: list[dict]) -> list[dict]:
        return [row for row in rows if args.experiment in (None, row["experiment_id"])]

    if args.per_experiment:
        rows, columns = summary.experiment_rows(chosen(store.groups()), experiments), cli_tables.PER_EXPERIMENT
    else:
        rows = summary.run_rows(chosen(store.runs()), experiments)
        # Runs stored before intervals were computed at finish need a resample each; only JSON and CSV show them.
        if args.format in ("json", "csv"):
            rows = summary.with_intervals(rows, store)
        columns = cli_tables.RESULTS
    check_sort_column(rows, args.sort)
    print_table(sort_rows(rows, args.sort, args.descending), args.format, columns, args.wide, cli_tables.RESULT_NOTES)
    return exit_codes.OK


def show_run(args: argparse.Namespace, store) -> int:
    """`results RUN_ID`: the run's row with its bootstrap intervals, or with --confusion its confusion matrix."""
    from engine.classes import CLASSES
    from engine.store import summary
    from tui.cli import columns as cli_tables
    from tui.text.tables import print_table

    if args.per_experiment or args.experiment is not None:
        raise UserError("--per-experiment and --experiment summarise many runs; leave out the run id to use them.")
    experiments = experiments_of(args)
    # A number can start a run id as well as name an experiment: say which one it was taken for.
    number = args.run_id.isdigit() and int(args.run_id) in experiments
    try:
        run = store.find(args.run_id)
    except UserError:
        if number:
            raise UserError(f"No run id starts with '{args.run_id}'; for experiment {args.run_id}'s runs, use "
                            f"'dermalab results --experiment {args.run_id}'.") from None
        raise
    if number:
        print(f"dermalab: '{args.run_id}' is the start of run {run['run_id']} (#{run['experiment_id']} {run['name']}); "
              f"for experiment {args.run_id}'s runs, use --experiment {args.run_id}.", file=sys.stderr)
    if not args.confusion:
        print_table(summary.with_intervals(summary.run_rows([run], experiments), store), args.format,
                    cli_tables.ONE_RUN, args.wide, cli_tables.RESULT_NOTES)
        return exit_codes.OK
    rows = summary.confusion_rows(run)
    if args.format in ("json", "csv"):
        print_table(rows, args.format)
        return exit_codes.OK
    if args.format == "table":
        print(f"Run {run['run_id']} · #{run['experiment_id']} {run['name']} · seed {run['seed']}: "
              "rows are the true class, columns the predicted one; each row's share in brackets.")
    # Counts with their row share in one cell, for reading; CSV and JSON keep the two apart.
    print_table([{"true": r["true"], "n": r["n"], **{c: f"{r[c]} ({r[c + '_share'] or 0:.0%})" for c in CLASSES}}
                 for r in rows], args.format, wide=True)
    return exit_codes.OK


def cmd_compare(args: argparse.Namespace) -> int:
    from engine.store import summary
    from tui.cli import columns as cli_tables
    from tui.text.tables import print_table

    rows = summary.compare_rows(open_store().groups(), experiments_of(args))
    if args.format in ("table", "markdown"):  # the verdict in the few letters of the 'agrees' column
        rows = [{k: cli_tables.VERDICTS.get(v, v) if k.endswith("_verdict") else v for k, v in row.items()}
                for row in rows]
    print_table(rows, args.format, cli_tables.COMPARE, args.wide, cli_tables.COMPARE_NOTES)
    return exit_codes.OK


def cmd_operating_point(args: argparse.Namespace) -> int:
    from engine.analysis import screening
    from engine.store import summary
    from tui.text.tables import dumps, print_table

    point = screening.operating_point(summary.predictions(open_store(), args.run_id), args.target, args.condition).to_dict()
    if args.json:
        print(dumps(point))
        return exit_codes.OK
    print_table([point], "table")
    print("flagged_per_1000: benign lesions (not akiec, bcc or mel) flagged per 1,000 patients at the val set's mix.")
    return exit_codes.OK


def cmd_ensemble(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from engine.analysis import screening
    from engine.store import summary
    from tui.cli import columns as cli_tables
    from tui.text.tables import dumps, print_table

    store = open_store()
    first, second = (summary.predictions(store, run_id) for run_id in args.run_ids)
    result = screening.ensemble(first, second, args.rule)
    if args.json:
        print(dumps(result.to_dict()))
        return exit_codes.OK
    rows = [{"model": m.name, "run_id": m.run_id, **asdict(m.figures)} for m in result.members]
    rows.append({"model": f"{args.rule} ensemble", **asdict(result.figures)})
    print_table(rows, "table", cli_tables.SCREENING, notes=cli_tables.SCREENING_NOTES)
    return exit_codes.OK


def cmd_report(args: argparse.Namespace) -> int:
    from tui.report import document as report
    from tui.report import png

    for path in report.write(args.out, open_store(), experiments_of(args), args.force):
        print(path)
    if not png.available():
        print(f"dermalab: the report has no figures, as matplotlib is not installed; '{png.INSTALL}' adds them.",
              file=sys.stderr)
    return exit_codes.OK


UNFINISHED = ("failed", "cancelled", "diverged", "interrupted")


def cmd_prune(args: argparse.Namespace) -> int:
    from tui.text.numbers import plural

    experiments, store = experiments_of(args), open_store()
    doomed = [run for run in store.runs() if run["status"] in UNFINISHED or (args.quick and quick(run, experiments))]
    if not doomed:
        print("Nothing to prune: every stored run finished" + (" its experiment's epochs." if args.quick else "."))
        return exit_codes.OK
    if not (args.yes or sys.stdin.isatty()):
        raise UserError(f"prune would delete {plural(len(doomed), 'run')} and cannot ask here; add --yes to delete them.")
    unfinished = sum(run["status"] in UNFINISHED for run in doomed)
    print(f"{plural(unfinished, 'run')} that did not finish" +
          (f" and {plural(len(doomed) - unfinished, 'quick look')} (fewer epochs than the experiment)" if args.quick else "")
          + f" would be deleted, of {plural(store.count(), 'stored run')}.")
    if not args.yes:
        if input("Delete them? [y/N] ").strip().lower() not in ("y", "yes"):
            print("Nothing deleted.")
            return exit_codes.OK
    before = store.path.stat().st_size
    store.delete([run["run_id"] for run in doomed])
    print(f"Deleted {plural(len(doomed), 'run')}; the store went from {before / 1e6:.1f} MB to "
          f"{store.path.stat().st_size / 1e6:.1f} MB.")
    return exit_codes.OK


def quick(run: dict, experiments: dict) -> bool:
    """A finished run of fewer epochs than its experiment's: a quick look with --epochs."""
    experiment = experiments.get(run["experiment_id"])
    return run["status"] == "finished" and experiment is not None and run["epochs"] < experiment.spec.training.epochs


def cmd_app(args: argparse.Namespace) -> int:
    from tui.app.main import run_app

    return run_app(args)


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


def entry() -> NoReturn:
    code = main()
    # The interpreter's exit would walk torch's objects again, for a second, freeing nothing: collect once what
    # the command left (its store connection closes cleanly, with no WAL files left), then freeze the rest.
    gc.collect()
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    entry()
