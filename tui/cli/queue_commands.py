"""The commands that look after the store's queue: queue (what waits and runs, with its progress), cancel and
sync (a cluster's finished runs imported). Each first imports what a cluster finished and recovers jobs whose
process has gone, so that what it shows is current."""

from __future__ import annotations

import argparse
import sys
import time

from engine.errors import UserError
from engine.jobs import cluster, watch
from engine.jobs.lock import worker_pid
from engine.jobs.queue import JobQueue, eta_seconds
from engine.status import ACTIVE
from tui import exit_codes
from tui.cli import columns as cli_tables
from tui.cli.inputs import open_store
from tui.text.numbers import duration, plural
from tui.text.tables import dumps, print_table


def current_queue() -> JobQueue:
    """The store's queue, with what a cluster finished imported and the jobs of processes that ended recovered."""
    queue = JobQueue(open_store())
    say_skipped(list(cluster.sync(queue.store, queue).skipped.values()))
    queue.recover()
    return queue


def say_skipped(sentences: list[str]) -> None:
    """The cluster's result files a sync could not take, each said on stderr (the rest were imported)."""
    for sentence in sentences:
        print(f"dermalab: {sentence}", file=sys.stderr)


def cmd_queue(args: argparse.Namespace) -> int:
    queue = current_queue()
    now = time.time()
    rows = [queue_json(job, eta_seconds(job, now)) for job in queue.active()]
    if args.json:
        print(dumps(rows))
    elif not rows:
        print("Nothing is waiting or running; 'dermalab run IDS --detach' queues runs.")
    else:
        print_table([queue_cells(row) for row in rows], "table", cli_tables.QUEUE, args.wide)
    if queue.waiting() and worker_pid(queue.store.path) is None:  # a worker was killed, say, and nobody started another
        print("dermalab: no worker serves this store, so the waiting jobs wait; 'dermalab worker' (or the app's r, or "
              "any 'run --detach') starts one.", file=sys.stderr)
    return exit_codes.OK


def queue_json(job: dict, eta: float | None) -> dict:
    """A job as `queue --json` gives it: the run's vocabulary (`id` is the experiment's), and its progress."""
    keys = ("job_id", "name", "seed", "status", "reason", "phase", "device", "epoch", "epochs", "batch", "batches",
            "loss", "images_per_second", "executor", "worker_pid", "host", "slot", "cluster_job_id", "queued_at",
            "started_at")
    return {"id": job["experiment_id"], **{key: job[key] for key in keys}, "eta_seconds": eta,
            "cancel_requested": bool(job["cancel_requested"])}


def queue_cells(row: dict) -> dict:
    running = row["status"] == "running"
    starting = running and not row["epochs"]
    status = "cancelling" if row["cancel_requested"] else row["phase"] or ("starting" if starting else row["status"])
    return {**row, "status": status, "eta": duration(row["eta_seconds"]),
            "epoch_text": f"{row['epoch']}/{row['epochs']}" if row["epochs"] else "",
            "batch_text": f"{row['batch']}/{row['batches']}" if row["batches"] else "",
            # whole images a second, as the progress line writes them: '53', not '53.266'
            "images_per_second": f"{row['images_per_second']:,.0f}" if row["images_per_second"] is not None else "",
            "worker": (f"{row['worker_pid']}@{row['host']}" if row["worker_pid"] else
                       f"{row['executor']} {row['cluster_job_id']}") if running else ""}


def cmd_cancel(args: argparse.Namespace) -> int:
    if bool(args.ids) == args.all:
        raise UserError("Name the jobs to cancel (ids from 'dermalab queue', or runs' ids) or pass --all, not both.")
    queue = current_queue()
    # A job named twice (its id and a prefix of it, say) is one job, cancelled and listed once.
    found = queue.active() if args.all else [queue.find(prefix) for prefix in args.ids]
    targets = list({job["job_id"]: job for job in found}.values())
    rows = [{"job_id": job["job_id"], "id": job["experiment_id"], "name": job["name"], "seed": job["seed"],
             "was": job["status"], "status": now["status"]} for job, now in zip(targets, watch.cancel(queue, targets))]
    if args.json:
        print(dumps(rows))
        return exit_codes.OK
    if not rows:
        print("Nothing was waiting or running.")
    for row in rows:
        print(f"{row['job_id']} #{row['id']} {row['name']} seed {row['seed']}: was {row['was']}, now "
              + ("cancelling (it stops at its next heartbeat)" if row["status"] in ACTIVE else row["status"]))
    return exit_codes.OK


def cmd_sync(args: argparse.Namespace) -> int:
    queue = JobQueue(open_store())
    synced = cluster.sync(queue.store, queue)
    say_skipped(list(synced.skipped.values()))
    going = [job for job in queue.submitted() if job["status"] in ACTIVE]
    print(f"Imported {plural(synced.imported, 'run')} from the cluster; {plural(len(going), 'task')} still waiting "
          "or running.")
    return exit_codes.OK
