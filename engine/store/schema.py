"""The run store's tables, their version (PRAGMA user_version), and the upgrade of an older store in place.

Version 1 keeps what every view lists in `runs` (small rows, one column per figure shown, indexed where views
filter or group), a run's per-epoch figures in `history`, and what only one opened run needs (config, every
metric, val labels and probabilities as compact blobs) in `run_details`. Version 0 kept all of it as JSON text
in one `runs` row, so each view read ~100 KB per run.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sqlite3
import time
from pathlib import Path
from typing import Any

from engine.classes import CLASSES
from engine.errors import UserError
from engine.experiments.spec import config_hash

VERSION = 1
CI_COLUMNS = {"auc_ci": ("auc_ci_low", "auc_ci_high"), "mel_recall_ci": ("mel_recall_ci_low", "mel_recall_ci_high")}
RECALL_COLUMNS = {name: f"recall_{name}" for name in CLASSES}
HISTORY_COLUMNS = ("train_loss", "val_loss", "val_auc", "val_accuracy", "lr", "seconds")

RUNS = f"""
CREATE TABLE IF NOT EXISTS {{name}} (
    run_id TEXT PRIMARY KEY,
    experiment_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    chapter TEXT NOT NULL,
    config_hash TEXT NOT NULL,  -- of the config as run: with its epochs, pretrained weights and precision
    seed INTEGER NOT NULL,
    device TEXT NOT NULL,
    data TEXT NOT NULL,
    data_fingerprint TEXT,  -- 'synthetic', or the MD5 of the data file; NULL when no longer known
    synthetic INTEGER NOT NULL,
    pretrained INTEGER NOT NULL,
    precision TEXT NOT NULL,
    epochs INTEGER NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    stopped_epoch INTEGER,
    notes TEXT NOT NULL DEFAULT '[]',
    pid INTEGER,
    host TEXT,
    started_at REAL NOT NULL,
    finished_at REAL,
    train_seconds REAL,
    images_per_second REAL,
    params INTEGER,
    auc REAL,
    accuracy REAL,
    mel_recall REAL,
    cancer_sensitivity REAL,
    balanced_accuracy REAL,
    {", ".join(f"{column} REAL" for pair in CI_COLUMNS.values() for column in pair)},
    {", ".join(f"{column} REAL" for column in RECALL_COLUMNS.values())}
)"""
TABLES = [
    RUNS.format(name="runs"),
    """CREATE TABLE IF NOT EXISTS history (
        run_id TEXT NOT NULL,
        epoch INTEGER NOT NULL,
        """ + ", ".join(f"{column} REAL" for column in HISTORY_COLUMNS) + """,
        PRIMARY KEY (run_id, epoch)
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS run_details (
        run_id TEXT PRIMARY KEY,
        config TEXT NOT NULL,
        metrics TEXT,
        labels BLOB,
        probabilities BLOB
    )""",
]
RUN_TABLES = ("runs", "history", "run_details")  # the tables holding a run's rows, each keyed by its run_id
# Index name -> what it orders. Missing ones are made on open, so an index added later needs no new version.
INDEXES = {
    "runs_by_start": "runs (started_at)",
    "runs_by_status": "runs (status)",
    "runs_by_experiment": "runs (experiment_id, started_at)",
    # Finished runs by what makes them comparable, then seed and start: the groups, and the seeds already run.
    "finished_runs_by_identity": "runs (experiment_id, config_hash, data_fingerprint, seed, started_at) "
                                 "WHERE status = 'finished'",
    # The figures the views sort by, so that a sort needs no pass over every run.
    **{f"runs_by_{column}": f"runs ({column})" for column in
       ("auc", "accuracy", "mel_recall", "cancer_sensitivity", "balanced_accuracy", "train_seconds")},
}


def prepare(db: sqlite3.Connection, path: Path) -> Path | None:
    """Bring the store to VERSION: create it when new, upgrade it when older. Returns the backup of an upgraded
    store (None when nothing was upgraded)."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    refuse_newer(version, path)
    present = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    if version == VERSION and present >= INDEXES.keys():
        return None
    db.execute("BEGIN IMMEDIATE")  # one process upgrades; the others wait, then find it done
    try:
        backup = _upgrade(db, path)
        for name, columns in INDEXES.items():
            db.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {columns}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    if backup is not None:  # the version-0 table's pages back to the file system, or the file keeps its size
        with contextlib.suppress(sqlite3.OperationalError):  # no room to compact: nothing is lost, only space
            db.execute("VACUUM")
    return backup


def refuse_newer(version: int, path: Path) -> None:
    if version > VERSION:
        raise UserError(f"The run store {path} was written by a newer dermalab (store version {version}, this one "
                        f"reads {VERSION}); upgrade dermalab, or set DERMALAB_HOME to another folder.")


def _upgrade(db: sqlite3.Connection, path: Path) -> Path | None:
    if db.execute("PRAGMA user_version").fetchone()[0] == VERSION:
        return None
    old = has_table(db, "runs")
    if old:
        _refuse_while_old_runs_write(db, path)
        backup = _backup(path)
        db.execute(RUNS.format(name="runs_new"))
    for statement in TABLES:
        db.execute(statement)
    if old:
        _move_version_0(db)
        counts = [db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in ("runs", "runs_new")]
        if counts[0] != counts[1]:
            raise RuntimeError("the upgrade of the run store would lose runs; nothing was changed")
        db.execute("DROP TABLE runs")
        db.execute("ALTER TABLE runs_new RENAME TO runs")
    db.execute(f"PRAGMA user_version = {VERSION}")
    return backup if old else None


def has_table(db: sqlite3.Connection, name: str) -> bool:
    return db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,)).fetchone() is not None


def _refuse_while_old_runs_write(db: sqlite3.Connection, path: Path) -> None:
    """An older dermalab still training on this machine would find its columns gone and lose its run."""
    from engine.processes import process_alive  # the store imports this module

    host = socket.gethostname()
    for pid, where in db.execute("SELECT pid, host FROM runs WHERE status='running'"):
        if where == host and pid != os.getpid() and process_alive(pid):
            raise UserError(f"The run store {path} is still being written by an older dermalab (process {pid}); "
                            "let that run finish or stop it, then start again to upgrade the store.")


def _backup(path: Path) -> Path:
    """A consistent copy beside the store (read through a second connection: this one holds the write lock)."""
    target = path.with_name(f"{path.name}.version-0-backup-{time.strftime('%Y%m%d-%H%M%S')}")
    source, copy = sqlite3.connect(path), sqlite3.connect(target)
    try:
        source.backup(copy)
        copy.execute("PRAGMA journal_mode=DELETE")  # one file, with no write-ahead log beside it
    finally:
        copy.close()
        source.close()
    return target


def _move_version_0(db: sqlite3.Connection) -> None:
    """Copy every version-0 row into the new tables."""
    from engine.store import (
        blobs,  # numpy: a store that is already current never needs it to open
    )
    fingerprints: dict[str, str | None] = {}
    rows = db.execute("SELECT * FROM runs")
    names = [column[0] for column in rows.description]
    for row in rows:  # one at a time: a version-0 run holds ~100 KB of JSON
        old = dict(zip(names, row))
        insert(db, "runs_new", _summary_from_version_0(old, fingerprints))
        for entry in _json(old.get("history")) or []:
            insert(db, "history", {"run_id": old["run_id"], "epoch": entry.get("epoch"),
                                    **{k: entry.get(k) for k in HISTORY_COLUMNS}})
        labels, probabilities = _json(old.get("labels")), _json(old.get("probabilities"))
        insert(db, "run_details", {
            "run_id": old["run_id"], "config": json.dumps(_config_as_run(old)), "metrics": old.get("metrics"),
            "labels": None if labels is None else blobs.pack_labels(labels),
            "probabilities": None if probabilities is None else blobs.pack_probabilities(probabilities)})


def _summary_from_version_0(old: dict[str, Any], fingerprints: dict[str, str | None]) -> dict[str, Any]:
    kept = ("run_id", "experiment_id", "name", "chapter", "seed", "device", "data", "synthetic", "pretrained", "epochs",
            "status", "reason", "stopped_epoch", "pid", "host", "started_at", "finished_at", "train_seconds",
            "images_per_second", "params", "auc", "accuracy", "mel_recall", "cancer_sensitivity", "balanced_accuracy")
    metrics = _json(old.get("metrics")) or {}
    return {**{key: old.get(key) for key in kept}, "config_hash": config_hash(_config_as_run(old)),
            "data_fingerprint": _version_0_fingerprint(old, fingerprints), "precision": "fp32", "notes": "[]",
            **figure_columns(metrics)}


def figure_columns(metrics: dict[str, Any]) -> dict[str, Any]:
    """The intervals and per-class recalls of a metrics dict, as their summary columns."""
    columns = {}
    for key, (low, high) in CI_COLUMNS.items():
        interval = metrics.get(key) or (None, None)
        columns[low], columns[high] = interval
    recall = metrics.get("recall") or {}
    columns.update({column: recall.get(name) for name, column in RECALL_COLUMNS.items()})
    return columns


def _config_as_run(old: dict[str, Any]) -> dict[str, Any]:
    """Version 0 kept the experiment's config; the epochs run and the weights used were columns beside it, and
    every run was fp32."""
    config = _json(old.get("config")) or {}
    config.setdefault("training", {})["epochs"] = old["epochs"]
    config.setdefault("model", {})["pretrained"] = bool(old["pretrained"])
    config["precision"] = "fp32"
    return config


def _version_0_fingerprint(old: dict[str, Any], known: dict[str, str | None]) -> str | None:
    """Version 0 did not fingerprint the data. A file that still exists and has not changed since the run
    started is the file it used; otherwise the fingerprint is unknown (NULL), never guessed."""
    if old["synthetic"]:
        return "synthetic"
    from engine.training.data import (  # numpy: only needed when real runs are upgraded
        fingerprint,
        source_path,
    )

    path = source_path(old["data"])
    # A relative path was relative to a working directory nobody remembers.
    if path is None or not path.is_absolute() or not path.is_file() or path.stat().st_mtime > old["started_at"]:
        return None
    if str(path) not in known:
        known[str(path)] = fingerprint(path)
    return known[str(path)]


def insert(db: sqlite3.Connection, table: str, row: dict[str, Any]) -> None:
    db.execute(f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", tuple(row.values()))


def _json(text: str | None) -> Any:
    """A version-0 JSON column; a damaged one reads as missing rather than stopping the upgrade."""
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None
