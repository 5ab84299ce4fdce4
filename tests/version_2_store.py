"""A run store as dermalab wrote it at store version 2: its exact tables (their comments left out), with a finished
run, a run that never started and the jobs behind them, each of a kind version 2 wrote (a foreground run's job, a
sweep point's job, a cluster's). The upgrade test starts from it."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.version_1_store import CONFIG, FIGURES, OPTIONS, insert

TABLES = [
    f"""CREATE TABLE runs (
    run_id TEXT PRIMARY KEY, experiment_id INTEGER NOT NULL, name TEXT NOT NULL, chapter TEXT NOT NULL,
    config_hash TEXT NOT NULL, seed INTEGER NOT NULL, device TEXT, data TEXT NOT NULL, data_fingerprint TEXT,
    synthetic INTEGER NOT NULL, pretrained INTEGER NOT NULL, precision TEXT, epochs INTEGER NOT NULL,
    status TEXT NOT NULL, reason TEXT, stopped_epoch INTEGER, notes TEXT NOT NULL DEFAULT '[]', pid INTEGER,
    process_started REAL, host TEXT, started_at REAL, finished_at REAL, train_seconds REAL, images_per_second REAL,
    params INTEGER, auc REAL, accuracy REAL, mel_recall REAL, cancer_sensitivity REAL, balanced_accuracy REAL,
    {FIGURES})""",
    """CREATE TABLE history (run_id TEXT NOT NULL, epoch INTEGER NOT NULL, train_loss REAL, val_loss REAL,
    val_auc REAL, val_accuracy REAL, lr REAL, seconds REAL, PRIMARY KEY (run_id, epoch)) WITHOUT ROWID""",
    """CREATE TABLE run_details (run_id TEXT PRIMARY KEY, config TEXT NOT NULL, metrics TEXT, labels BLOB,
    probabilities BLOB)""",
    """CREATE TABLE jobs (
    job_id TEXT PRIMARY KEY, experiment_id INTEGER NOT NULL, name TEXT NOT NULL, seed INTEGER NOT NULL,
    data TEXT NOT NULL, experiments TEXT, options TEXT NOT NULL, point TEXT, executor TEXT, status TEXT NOT NULL,
    reason TEXT, cancel_requested INTEGER NOT NULL DEFAULT 0, host TEXT, worker_pid INTEGER, process_started REAL,
    slot TEXT, cluster_job_id TEXT, phase TEXT, device TEXT, epoch INTEGER, epochs INTEGER, batch INTEGER,
    batches INTEGER, loss REAL, images_per_second REAL, queued_at REAL NOT NULL, claimed_at REAL, started_at REAL,
    beat_at REAL, ended_at REAL)""",
    "CREATE INDEX runs_by_start ON runs (started_at)",
    "CREATE INDEX jobs_by_status ON jobs (status)",
]
POINT = json.dumps({"sweep": "lr", "values": {"optimizer.lr": 0.001}})
# job id -> (status, executor, host, worker_pid, slot, cluster_job_id, point)
JOBS = {
    "fromhere00": ("finished", "foreground", "here", 4321, None, None, None),
    "apoint0000": ("cancelled", "worker", None, None, None, None, POINT),
    "onslurm000": ("running", "slurm", None, None, None, "123456_0", None),
}
RUNS = {"fromhere00": "finished", "apoint0000": "cancelled"}


def write(path: Path) -> None:
    """A version-2 store at `path`: the runs of RUNS (the cancelled one never started) and the jobs of JOBS."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    for statement in TABLES:
        db.execute(statement)
    for order, (run_id, status) in enumerate(RUNS.items()):
        started = status == "finished"
        insert(db, "runs", {"run_id": run_id, "experiment_id": 1, "name": "baseline", "chapter": "Baselines",
                            "config_hash": "c0ffee", "seed": order, "device": "CPU · 2 threads" if started else None,
                            "data": "synthetic", "data_fingerprint": "synthetic", "synthetic": 1, "pretrained": 0,
                            "precision": "fp32" if started else None, "epochs": 2, "status": status,
                            "pid": 4321, "process_started": 99.5, "host": "here",
                            "started_at": 1000.0 if started else None, "finished_at": 1010.0 + order,
                            "auc": 0.7 if started else None})
        if started:
            insert(db, "history", {"run_id": run_id, "epoch": 1, "train_loss": 1.5, "val_auc": 0.6})
        insert(db, "run_details", {"run_id": run_id, "config": json.dumps(CONFIG)})
    for order, (job_id, (status, executor, host, pid, slot, cluster_id, point)) in enumerate(JOBS.items()):
        insert(db, "jobs", {"job_id": job_id, "experiment_id": 1, "name": "baseline", "seed": order,
                            "data": "synthetic", "options": json.dumps(OPTIONS), "point": point, "executor": executor,
                            "status": status, "host": host, "worker_pid": pid, "slot": slot,
                            "cluster_job_id": cluster_id, "queued_at": 900.0 + order,
                            "ended_at": None if status in ("queued", "running") else 1020.0 + order})
    db.execute("PRAGMA user_version = 2")
    db.close()
