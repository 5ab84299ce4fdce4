"""A run store as dermalab wrote it at store version 3: version 2's tables with each run's set and size, the sealed
test figures and the log of their unsealings; per-class recall in a column per DermaMNIST class. It holds a
DermaMNIST run with those recalls, and a PathMNIST run, whose recalls version 3 kept only in its stored metrics.
The upgrade test starts from it."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from engine.classes import CLASSES
from engine.store.schema import RECALL_COLUMNS
from tests.version_1_store import CONFIG, FIGURES, insert

TABLES = [
    f"""CREATE TABLE runs (
    run_id TEXT PRIMARY KEY, experiment_id INTEGER NOT NULL, name TEXT NOT NULL, chapter TEXT NOT NULL,
    config_hash TEXT NOT NULL, seed INTEGER NOT NULL, device TEXT, data TEXT NOT NULL,
    dataset TEXT NOT NULL DEFAULT 'dermamnist', size INTEGER NOT NULL DEFAULT 28, data_fingerprint TEXT,
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
    """CREATE TABLE sealed (run_id TEXT PRIMARY KEY, metrics TEXT NOT NULL, labels BLOB NOT NULL,
    probabilities BLOB NOT NULL)""",
    """CREATE TABLE unsealings (unsealed_at REAL NOT NULL, what TEXT NOT NULL, groups INTEGER NOT NULL,
    runs INTEGER NOT NULL)""",
    "CREATE INDEX runs_by_start ON runs (started_at)",
    "CREATE INDEX jobs_by_status ON jobs (status)",
]
DERMA_RECALLS = {"akiec": 0.1, "bcc": 0.2, "bkl": 0.3, "df": 0.4, "mel": 0.5, "nv": 0.6, "vasc": 0.7}
PATH_RECALLS = {"adipose": 0.9, "background": 0.8, "debris": 0.7, "lymphocytes": 0.6, "mucus": 0.5,
                "smooth muscle": 0.4, "normal colon mucosa": 0.3, "cancer-associated stroma": 0.2,
                "colorectal adenocarcinoma epithelium": 0.1}  # PathMNIST's classes in the order of their labels
RUNS = {"dermarun00": ("dermamnist", DERMA_RECALLS), "pathrun000": ("pathmnist", PATH_RECALLS)}


def write(path: Path) -> None:
    """A version-3 store at `path`: the finished runs of RUNS, each with its metrics, as version 3 stored them."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    for statement in TABLES:
        db.execute(statement)
    for order, (run_id, (dataset, recalls)) in enumerate(RUNS.items()):
        columns = {f"recall_{name}": recall for name, recall in recalls.items()} if dataset == "dermamnist" else {}
        insert(db, "runs", {"run_id": run_id, "experiment_id": 8, "name": "BatchNorm", "chapter": "Normalisation",
                            "config_hash": "c0ffee", "seed": order, "device": "cpu", "data": f"synthetic {dataset}",
                            "dataset": dataset, "size": 28, "data_fingerprint": "synthetic", "synthetic": 1,
                            "pretrained": 0, "precision": "fp32", "epochs": 2, "status": "finished",
                            "started_at": 1000.0 + order, "finished_at": 1010.0 + order, "auc": 0.7, **columns})
        insert(db, "run_details", {"run_id": run_id, "config": json.dumps(CONFIG),
                                   "metrics": json.dumps({"auc": 0.7, "recall": recalls})})
    db.execute("PRAGMA user_version = 3")
    db.close()


def by_label(row: dict[str, Any]) -> dict[str, Any]:
    """A runs row of a store before version 4 as version 4 keeps it: recall_mel as recall_4, the label of mel."""
    recalls = {f"recall_{label}": row[f"recall_{name}"] for label, name in enumerate(CLASSES)}
    kept = {key: value for key, value in row.items() if key.removeprefix("recall_") not in CLASSES}
    return {**kept, **dict.fromkeys(RECALL_COLUMNS), **recalls}


def exported(path: Path, run_id: str) -> dict[str, Any]:
    """A run of the version-3 store at `path` as a version-3 cluster task exports it into its result file: its rows,
    table by table, with version 3's columns (these runs hold no blobs, which it wrote as base64)."""
    db = sqlite3.connect(path)
    db.row_factory = sqlite3.Row
    try:
        return {table: [dict(row) for row in db.execute(f"SELECT * FROM {table} WHERE run_id = ?", (run_id,))]
                for table in ("runs", "history", "run_details", "sealed")}
    finally:
        db.close()
