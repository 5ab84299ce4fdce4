"""A run store as dermalab wrote it before store versions (user_version 0): its exact table, filled by raw SQL the
way its Store did (every figure, the history and the val predictions as JSON text in one row per run). The upgrade
tests and the store benchmark start from it."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    experiment_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    chapter TEXT NOT NULL,
    config_hash TEXT NOT NULL,
    config TEXT NOT NULL,
    seed INTEGER NOT NULL,
    device TEXT NOT NULL,
    data TEXT NOT NULL,
    synthetic INTEGER NOT NULL,
    pretrained INTEGER NOT NULL,
    epochs INTEGER NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    stopped_epoch INTEGER,
    pid INTEGER,
    host TEXT,
    started_at REAL NOT NULL,
    finished_at REAL,
    train_seconds REAL,
    images_per_second REAL,
    auc REAL,
    accuracy REAL,
    mel_recall REAL,
    cancer_sensitivity REAL,
    balanced_accuracy REAL,
    params INTEGER,
    metrics TEXT,
    history TEXT NOT NULL DEFAULT '[]',
    labels TEXT,
    probabilities TEXT
)
"""
HEADLINE = ("auc", "accuracy", "mel_recall", "cancer_sensitivity", "balanced_accuracy", "params",
            "train_seconds", "images_per_second")


def connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute(SCHEMA)
    return db


def start(db: sqlite3.Connection, run_id: str, spec, seed: int, data: str, synthetic: bool, pretrained: bool,
          epochs: int, started_at: float, pid: int = 0, host: str = "") -> None:
    db.execute(
        "INSERT INTO runs (run_id, experiment_id, name, chapter, config_hash, config, seed, device, data, synthetic,"
        " pretrained, epochs, status, pid, host, started_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,'running',?,?,?)",
        (run_id, spec.id, spec.name, spec.chapter, spec.config_hash(), json.dumps(spec.config()), seed,
         "CPU · 2 threads", data, int(synthetic), int(pretrained), epochs, pid, host, started_at))


def epoch(db: sqlite3.Connection, run_id: str, entry: dict[str, Any]) -> None:
    db.execute("UPDATE runs SET history = json_insert(history, '$[#]', json(?)) WHERE run_id=?",
               (json.dumps(entry), run_id))


def finish(db: sqlite3.Connection, run_id: str, metrics: dict[str, Any], labels: list[int],
           probabilities: list[list[float]], finished_at: float) -> None:
    db.execute(f"UPDATE runs SET status='finished', finished_at=?, {', '.join(f'{k}=?' for k in HEADLINE)},"
               " metrics=?, labels=?, probabilities=? WHERE run_id=?",
               (finished_at, *(metrics.get(k) for k in HEADLINE), json.dumps(metrics), json.dumps(labels),
                json.dumps(probabilities), run_id))


def fail(db: sqlite3.Connection, run_id: str, status: str, reason: str, epoch: int, finished_at: float) -> None:
    db.execute("UPDATE runs SET status=?, reason=?, stopped_epoch=?, finished_at=? WHERE run_id=?",
               (status, reason, epoch, finished_at, run_id))
