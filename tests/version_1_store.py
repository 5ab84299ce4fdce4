"""A run store as dermalab wrote it at store version 1: its exact tables, and the queue's `jobs` table as the queue
made it apart from the version (a submitted job's executor in its host, worker pid 0, its task id as its slot),
filled by raw SQL with a run or job of every kind. The upgrade test starts from it."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

FIGURES = ", ".join(f"{column} REAL" for column in (
    "auc_ci_low", "auc_ci_high", "mel_recall_ci_low", "mel_recall_ci_high", "recall_akiec", "recall_bcc",
    "recall_bkl", "recall_df", "recall_mel", "recall_nv", "recall_vasc"))
TABLES = [
    f"""CREATE TABLE runs (
    run_id TEXT PRIMARY KEY, experiment_id INTEGER NOT NULL, name TEXT NOT NULL, chapter TEXT NOT NULL,
    config_hash TEXT NOT NULL, seed INTEGER NOT NULL, device TEXT NOT NULL, data TEXT NOT NULL, data_fingerprint TEXT,
    synthetic INTEGER NOT NULL, pretrained INTEGER NOT NULL, precision TEXT NOT NULL, epochs INTEGER NOT NULL,
    status TEXT NOT NULL, reason TEXT, stopped_epoch INTEGER, notes TEXT NOT NULL DEFAULT '[]', pid INTEGER,
    host TEXT, started_at REAL NOT NULL, finished_at REAL, train_seconds REAL, images_per_second REAL,
    params INTEGER, auc REAL, accuracy REAL, mel_recall REAL, cancer_sensitivity REAL, balanced_accuracy REAL,
    {FIGURES})""",
    """CREATE TABLE history (run_id TEXT NOT NULL, epoch INTEGER NOT NULL, train_loss REAL, val_loss REAL,
    val_auc REAL, val_accuracy REAL, lr REAL, seconds REAL, PRIMARY KEY (run_id, epoch)) WITHOUT ROWID""",
    """CREATE TABLE run_details (run_id TEXT PRIMARY KEY, config TEXT NOT NULL, metrics TEXT, labels BLOB,
    probabilities BLOB)""",
    """CREATE TABLE jobs (
    job_id TEXT PRIMARY KEY, experiment_id INTEGER NOT NULL, name TEXT NOT NULL, seed INTEGER NOT NULL,
    data TEXT NOT NULL, experiments TEXT, options TEXT NOT NULL, status TEXT NOT NULL, reason TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0, host TEXT, worker_pid INTEGER, slot TEXT, phase TEXT, device TEXT,
    epoch INTEGER, epochs INTEGER, batch INTEGER, batches INTEGER, loss REAL, images_per_second REAL,
    queued_at REAL NOT NULL, claimed_at REAL, started_at REAL, beat_at REAL, ended_at REAL)""",
    "CREATE INDEX runs_by_start ON runs (started_at)",
    "CREATE INDEX jobs_by_status ON jobs (status)",
]
CONFIG = {"model": {"pretrained": False}, "training": {"epochs": 2}, "precision": "fp32"}
OPTIONS = {"device": "cpu", "epochs": 2, "pretrained": False, "precision": "auto", "debug": False}
# job id -> (status, host, worker_pid, slot): one of each kind the version-1 queue wrote
JOBS = {
    "waitworker": ("queued", None, None, None),  # queued for the worker, not claimed yet
    "waitkept00": ("queued", "here", 4321, None),  # kept by a foreground `dermalab run`
    "ranworker0": ("finished", "here", 4321, "cpu 1"),  # claimed by a worker (or a foreground run: not said)
    "onslurm000": ("running", "cluster:slurm", 0, "123456_0"),
    "onlocal000": ("failed", "cluster:local", 0, "4242"),
}
RUNS = {"ranworker0": "finished", "onlocal000": "failed"}


def write(path: Path) -> None:
    """A version-1 store at `path`: the runs of RUNS (each with a history and its details) and the jobs of JOBS."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    for statement in TABLES:
        db.execute(statement)
    for order, (run_id, status) in enumerate(RUNS.items()):
        insert(db, "runs", {"run_id": run_id, "experiment_id": 1, "name": "baseline", "chapter": "Baselines",
                            "config_hash": "c0ffee", "seed": order, "device": "CPU · 2 threads",
                            "data": "synthetic", "data_fingerprint": "synthetic", "synthetic": 1, "pretrained": 0,
                            "precision": "fp32", "epochs": 2, "status": status, "pid": 4321, "host": "here",
                            "started_at": 1000.0 + order, "finished_at": 1010.0 + order,
                            "auc": 0.5 + order / 10 if status == "finished" else None})
        insert(db, "history", {"run_id": run_id, "epoch": 1, "train_loss": 1.5, "val_auc": 0.6})
        insert(db, "run_details", {"run_id": run_id, "config": json.dumps(CONFIG)})
    for order, (job_id, (status, host, pid, slot)) in enumerate(JOBS.items()):
        insert(db, "jobs", {"job_id": job_id, "experiment_id": 1, "name": "baseline", "seed": order,
                            "data": "synthetic", "options": json.dumps(OPTIONS), "status": status, "host": host,
                            "worker_pid": pid, "slot": slot, "queued_at": 900.0 + order,
                            "ended_at": None if status in ("queued", "running") else 1020.0 + order})
    db.execute("PRAGMA user_version = 1")
    db.close()


def insert(db: sqlite3.Connection, table: str, row: dict[str, Any]) -> None:
    db.execute(f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", tuple(row.values()))
