"""The run store's tables, their version (PRAGMA user_version), and the upgrade of an older store in place.

Version 1 keeps what every view lists in `runs` (small rows, one column per figure shown, indexed where views
filter or group), a run's per-epoch figures in `history`, and what only one opened run needs (config, every
metric, val labels and probabilities as compact blobs) in `run_details`. Version 0 kept all of it as JSON text
in one `runs` row, so each view read ~100 KB per run. Version 2 versions the queue's `jobs` table with the rest,
gives a job's executor and its cluster id columns of their own, records each process's start time beside its pid,
and lets a run exist that never started (a job cancelled while it waited). Version 3 keeps each run's test-split
figures apart, sealed (`sealed`: no view reads them), and logs each time someone unsealed some (`unsealings`);
it records each run's MedMNIST set and image size (`dataset`, `size`: every run before it was DermaMNIST at 28).
Version 4 keeps each run's recall per class by the class's label (`recall_0` ...), for a set of any classes, where
earlier versions had a column per DermaMNIST class (`recall_akiec` ...; their label order is CLASSES').

An upgrade runs in one transaction, after a backup of the store as it was; a later version adds its step the
same way.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sqlite3
from pathlib import Path
from typing import Any

from engine.classes import CLASSES, DEFAULT, class_names, info
from engine.errors import UserError, said
from engine.experiments.spec import config_hash
from engine.paths import stamp
from engine.processes import alive
from engine.status import ACTIVE, Status, sql_in

VERSION = 4
CI_COLUMNS = {"auc_ci": ("auc_ci_low", "auc_ci_high"), "mel_recall_ci": ("mel_recall_ci_low", "mel_recall_ci_high")}
# A run's recall of the class of each label, as columns rather than a JSON text: the views average and sort by them
# in SQL. As many as the 2D MedMNIST set with the most classes has (ChestMNIST's 14 labels; the organ sets have 11).
CLASS_SLOTS = 14
RECALL_COLUMNS = tuple(f"recall_{label}" for label in range(CLASS_SLOTS))
# Versions 1 to 3 named them after DermaMNIST's classes, then every run's set: version 4's columns from theirs.
RECALLS_BEFORE_4 = {f"recall_{label}": f"recall_{name}" for label, name in enumerate(CLASSES)}
HISTORY_COLUMNS = ("train_loss", "val_loss", "val_auc", "val_accuracy", "lr", "seconds")

RUNS = f"""
CREATE TABLE IF NOT EXISTS {{name}} (
    run_id TEXT PRIMARY KEY,
    experiment_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    chapter TEXT NOT NULL,
    config_hash TEXT NOT NULL,  -- of the config as run: with its epochs, pretrained weights and precision
    seed INTEGER NOT NULL,
    device TEXT,  -- NULL, as are precision and started_at, for a run that never started (cancelled while queued)
    data TEXT NOT NULL,
    dataset TEXT NOT NULL DEFAULT 'dermamnist',  -- the MedMNIST set (engine.classes) and its image size, in the
    size INTEGER NOT NULL DEFAULT 28,  -- config as well unless they are these defaults
    data_fingerprint TEXT,  -- 'synthetic', or the MD5 of the data file; NULL when no longer known
    synthetic INTEGER NOT NULL,
    pretrained INTEGER NOT NULL,
    precision TEXT,
    epochs INTEGER NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    stopped_epoch INTEGER,
    notes TEXT NOT NULL DEFAULT '[]',
    pid INTEGER,
    process_started REAL,  -- the start time of process `pid` (engine.processes.started): a later one may reuse the pid
    host TEXT,
    started_at REAL,
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
    {", ".join(f"{column} REAL" for column in RECALL_COLUMNS)}
)"""
JOBS = """
CREATE TABLE IF NOT EXISTS {name} (
    job_id TEXT PRIMARY KEY,  -- also the id of the run it becomes
    experiment_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    seed INTEGER NOT NULL,
    data TEXT NOT NULL,
    experiments TEXT,  -- the experiments file, absolute (NULL: the repository's own)
    options TEXT NOT NULL,  -- the run's options (device, epochs, ...) as JSON
    point TEXT,  -- a sweep's point of the experiment as JSON: the sweep's name and each axis's value (NULL: none)
    executor TEXT,  -- who trains it (engine.jobs.queue.Executor); NULL: claimed before version 2 recorded who
    status TEXT NOT NULL,  -- an engine.status.Status
    reason TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    host TEXT,  -- with worker_pid and process_started: the process of this machine answering for the job, set
    worker_pid INTEGER,  -- when claimed (at once, for the jobs a foreground `dermalab run` keeps for itself);
    process_started REAL,  -- NULL for a cluster's jobs
    slot TEXT,  -- the device slot the worker gave it
    cluster_job_id TEXT,  -- the cluster's id of its task (submitit's job id: for its local executor, a pid)
    phase TEXT,  -- what a claimed job does before its run starts (a download, say)
    device TEXT,
    epoch INTEGER,
    epochs INTEGER,
    batch INTEGER,
    batches INTEGER,
    loss REAL,
    images_per_second REAL,
    queued_at REAL NOT NULL,
    claimed_at REAL,
    started_at REAL,  -- when its run began training
    beat_at REAL,
    ended_at REAL
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
    JOBS.format(name="jobs"),
    # The test split as the finished model scored it: read only by `dermalab test --unseal` (engine.store.sealed).
    """CREATE TABLE IF NOT EXISTS sealed (
        run_id TEXT PRIMARY KEY,
        metrics TEXT NOT NULL,
        labels BLOB NOT NULL,
        probabilities BLOB NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS unsealings (
        unsealed_at REAL NOT NULL,
        what TEXT NOT NULL,  -- the command's arguments, as typed: the runs, experiments or sweep it named
        groups INTEGER NOT NULL,  -- how many groups of runs it showed
        runs INTEGER NOT NULL
    )""",
]
RUN_TABLES = ("runs", "history", "run_details", "sealed")  # the tables holding a run's rows, keyed by its run_id
# Index name -> what it orders. Missing ones are made on open, so an index added later needs no new version.
INDEXES = {
    "runs_by_start": "runs (started_at)",
    "runs_by_status": "runs (status)",
    "runs_by_experiment": "runs (experiment_id, started_at)",
    # Finished runs by what makes them comparable, then seed and start: the groups, and the seeds already run.
    "finished_runs_by_identity": "runs (experiment_id, config_hash, data_fingerprint, seed, started_at) "
                                 f"WHERE status = '{Status.FINISHED}'",
    # The figures the views sort by, so that a sort needs no pass over every run.
    **{f"runs_by_{column}": f"runs ({column})" for column in
       ("auc", "accuracy", "mel_recall", "cancer_sensitivity", "balanced_accuracy", "train_seconds")},
    "jobs_by_status": "jobs (status)",
    "jobs_by_end": "jobs (ended_at)",
}
# Version 1's jobs as version 2 has them: a cluster's executor and task id left the host and slot columns (a
# submitted job had host 'cluster:<executor>', worker pid 0 and its task id as slot). The words are version 2's,
# spelled here as that version wrote them.
JOBS_FROM_VERSION_1 = {
    "executor": "CASE WHEN host LIKE 'cluster:%' THEN substr(host, 9) WHEN worker_pid IS NULL THEN 'worker'"
                f" WHEN status = '{Status.QUEUED}' THEN 'foreground' END",
    "cluster_job_id": "CASE WHEN host LIKE 'cluster:%' THEN slot END",
    **{column: f"CASE WHEN host LIKE 'cluster:%' THEN NULL ELSE {column} END"
       for column in ("host", "worker_pid", "slot")},
}


def prepare(db: sqlite3.Connection, path: Path) -> Path | None:
    """Bring the store to VERSION: create it when new, upgrade it when older. Returns the backup of an upgraded
    store (None when nothing was upgraded). An upgrade that fails leaves the store as it was, without a backup
    (the store is its own), and says why in one sentence; only a file SQLite cannot read is left to be set aside."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    refuse_newer(version, path)
    present = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    if version == VERSION and present >= INDEXES.keys():
        return None
    db.execute("BEGIN IMMEDIATE")  # one process upgrades; the others wait, then find it done
    backup = None
    try:
        version = held_version(db)  # read again under the lock: another process may have upgraded it meanwhile
        if version < VERSION and has_table(db, "runs"):
            _refuse_while_older_dermalab_writes(db, path)
            backup = _backup(path, version)
        _upgrade(db, version)
        for name, columns in INDEXES.items():
            db.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {columns}")
        db.execute("COMMIT")
    except BaseException as error:
        db.execute("ROLLBACK")
        if backup is not None:  # one backup per upgrade, not per try
            backup.unlink(missing_ok=True)
        if isinstance(error, Exception) and held_in_the_rows(error):
            raise UserError(f"The run store {path} could not be upgraded to this version of dermalab ({said(error)});"
                            " it was left as it was, so an older dermalab still reads it, or set DERMALAB_HOME to "
                            "another folder to start a fresh store.") from None
        raise
    if backup is not None:  # the version-0 table's pages back to the file system, or the file keeps its size
        with contextlib.suppress(sqlite3.OperationalError):  # no room to compact: nothing is lost, only space
            db.execute("VACUUM")
    return backup


def held_in_the_rows(error: Exception) -> bool:
    """Whether an upgrade failed on what the store holds (a row breaking a constraint, a value of an odd shape),
    not on the file (damage SQLite cannot read, which sets it aside) nor the place (read-only, full, locked:
    the store is then opened to read) nor a refusal already said."""
    if isinstance(error, sqlite3.DatabaseError):
        return not isinstance(error, sqlite3.OperationalError) and getattr(error, "sqlite_errorname", "") not in (
            "SQLITE_CORRUPT", "SQLITE_NOTADB")
    return not isinstance(error, (OSError, UserError))


def refuse_newer(version: int, path: Path) -> None:
    if version > VERSION:
        raise UserError(f"The run store {path} was written by a newer dermalab (store version {version}, this one "
                        f"reads {VERSION}); upgrade dermalab, or set DERMALAB_HOME to another folder.")


def held_version(db: sqlite3.Connection) -> int:
    """The version of the store's tables: its number where that is this dermalab's, else what its tables hold. A
    store restored from `sqlite3 .dump` has lost its number (0), and a number set by hand may be anything."""
    number = db.execute("PRAGMA user_version").fetchone()[0]
    if number == VERSION or not has_table(db, "runs"):
        return number
    columns = _columns(db, "runs")
    if "history" in columns:  # version 0 kept it as JSON in the runs row
        return 0
    if "process_started" not in columns:  # recorded from version 2 on
        return 1
    if "dataset" not in columns:  # recorded from version 3 on
        return 2
    current = sqlite3.connect(":memory:")
    for statement in TABLES:
        current.execute(statement)
    tables = [name for (name,) in current.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    held = all(_columns(db, name) >= _columns(current, name) for name in tables)
    current.close()
    return VERSION if held else 3  # version 4 adds columns only


def _columns(db: sqlite3.Connection, table: str) -> set[str]:
    return {name for _, name, *_ in db.execute(f"PRAGMA table_info({table})")}


def _upgrade(db: sqlite3.Connection, version: int) -> None:
    if version == VERSION:  # its tables are this version's: the number alone was lost
        db.execute(f"PRAGMA user_version = {VERSION}")
        return
    old = has_table(db, "runs")
    if old and version < 2 and has_table(db, "jobs"):  # made apart from the versioned tables before 2, when first used
        _rebuild(db, "jobs", JOBS, JOBS_FROM_VERSION_1)
    # The runs table of an older store stays as it is until its rows move, below; version 3's tables are new.
    for statement in TABLES:
        db.execute(statement)
    if old and version == 0:
        _move_version_0(db)
    elif old:  # version 1's runs columns are fewer than 3's and looser; 2's lack the set and size 3 adds; 3's
        _rebuild(db, "runs", RUNS, RECALLS_BEFORE_4)  # recalls are named after DermaMNIST's classes
        _recalls_of_other_sets(db)
    db.execute(f"PRAGMA user_version = {VERSION}")


def _recalls_of_other_sets(db: sqlite3.Connection) -> None:
    """Version 3 kept no recall columns for a run on another set than DermaMNIST: its stored metrics fill them."""
    rows = db.execute("SELECT run_id, dataset, metrics FROM runs JOIN run_details USING (run_id)"
                      " WHERE dataset != 'dermamnist'").fetchall()
    for run_id, dataset, metrics in rows:
        if recalls := recalls_in_metrics(dataset, metrics):
            db.execute(f"UPDATE runs SET {', '.join(f'{column} = ?' for column in recalls)} WHERE run_id = ?",
                       (*recalls.values(), run_id))


def recalls_in_metrics(dataset: str, metrics: Any) -> dict[str, Any]:
    """The recall columns of a version-3 run on another set than DermaMNIST, from its stored metrics (JSON text),
    which hold them by class name; none for a DermaMNIST run (its columns held them), a set this dermalab does not
    know or metrics without recalls (a run that failed)."""
    if dataset == DEFAULT or dataset not in info():
        return {}
    try:
        recall = json.loads(metrics).get("recall")
    except (TypeError, ValueError, AttributeError):  # none (a run that failed), or not an object
        return {}
    if not isinstance(recall, dict):
        return {}
    return {column: recall.get(name) for column, name in zip(RECALL_COLUMNS, class_names(dataset))}


def recalls_by_label(exported: Any) -> None:
    """A run exported by a version-3 store (a cluster task started before this dermalab was installed) names its
    recall columns after DermaMNIST's classes, and leaves them empty for another set: they take version 4's names,
    and its stored metrics fill them, as the store's upgrade does; in place. Anything else is left as it is, for the
    import to check."""
    runs = exported.get("runs") if isinstance(exported, dict) else None
    for row in runs if isinstance(runs, list) else []:
        if isinstance(row, dict) and not row.keys().isdisjoint(RECALLS_BEFORE_4.values()):
            row.update({new: row.pop(old) for new, old in RECALLS_BEFORE_4.items() if old in row})
            row.update(recalls_in_metrics(str(row.get("dataset")), _metrics_of(exported)))


def _metrics_of(exported: dict[str, Any]) -> Any:
    """The stored metrics of an export's run, where it holds them as a store does."""
    details = exported.get("run_details")
    first = details[0] if isinstance(details, list) and details else None
    return first.get("metrics") if isinstance(first, dict) else None


def has_table(db: sqlite3.Connection, name: str) -> bool:
    return db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,)).fetchone() is not None


def _refuse_while_older_dermalab_writes(db: sqlite3.Connection, path: Path) -> None:
    """An older dermalab still training (or serving the queue) on this machine would find its columns changed and
    lose its run."""
    writers = db.execute(f"SELECT pid, host FROM runs WHERE status = '{Status.RUNNING}'").fetchall()
    if has_table(db, "jobs"):
        writers += db.execute(f"SELECT worker_pid, host FROM jobs WHERE status IN {sql_in(ACTIVE)}").fetchall()
    host = socket.gethostname()
    for pid, where in writers:
        if where == host and pid != os.getpid() and alive(pid):
            raise UserError(f"The run store {path} is still being written by an older dermalab (process {pid}); "
                            "let that run finish or stop it, then start again to upgrade the store.")


def _backup(path: Path, version: int) -> Path:
    """A consistent copy beside the store (read through a second connection: this one holds the write lock)."""
    target = path.with_name(f"{path.name}.version-{version}-backup-{stamp()}")
    source, copy = sqlite3.connect(path), sqlite3.connect(target)
    try:
        source.backup(copy)
        copy.execute("PRAGMA journal_mode=DELETE")  # one file, with no write-ahead log beside it
    finally:
        copy.close()
        source.close()
    return target


def _rebuild(db: sqlite3.Connection, table: str, create: str, computed: dict[str, str] | None = None) -> None:
    """`table` made again as `create` has it (SQLite cannot loosen a column in place): each column copied from
    the old one of its name, or `computed` from the old row by an SQL expression."""
    db.execute(create.format(name=f"{table}_new"))
    kept = {name for _, name, *_ in db.execute(f"PRAGMA table_info({table})")}
    new = [name for _, name, *_ in db.execute(f"PRAGMA table_info({table}_new)")]
    sources = {name: name for name in new if name in kept} | (computed or {})
    db.execute(f"INSERT INTO {table}_new ({', '.join(sources)}) SELECT {', '.join(sources.values())} FROM {table}")
    _replace(db, table)


def _replace(db: sqlite3.Connection, table: str) -> None:
    """`table` gives way to `table`_new, which holds every one of its rows."""
    counts = [db.execute(f"SELECT count(*) FROM {name}").fetchone()[0] for name in (table, f"{table}_new")]
    if counts[0] != counts[1]:
        raise RuntimeError(f"the upgrade of the run store would lose rows of {table}; nothing was changed")
    db.execute(f"DROP TABLE {table}")
    db.execute(f"ALTER TABLE {table}_new RENAME TO {table}")


def _move_version_0(db: sqlite3.Connection) -> None:
    """Copy every version-0 row into the new tables. A JSON value of an odd shape reads as missing, as a damaged
    one does, rather than stopping the upgrade of every run."""
    db.execute(RUNS.format(name="runs_new"))
    fingerprints: dict[str, str | None] = {}
    rows = db.execute("SELECT * FROM runs")
    names = [column[0] for column in rows.description]
    for row in rows:  # one at a time: a version-0 run holds ~100 KB of JSON
        old = dict(zip(names, row))
        insert(db, "runs_new", _summary_from_version_0(old, fingerprints))
        for epoch, entry in _version_0_history(old.get("history")).items():
            insert(db, "history", {"run_id": old["run_id"], "epoch": epoch,
                                    **{k: _number(entry.get(k)) for k in HISTORY_COLUMNS}})
        labels, probabilities = _version_0_predictions(old)
        metrics = old.get("metrics") if _table(old.get("metrics")) else None
        insert(db, "run_details", {"run_id": old["run_id"], "config": json.dumps(_config_as_run(old)),
                                   "metrics": metrics, "labels": labels, "probabilities": probabilities})
    _replace(db, "runs")


def _version_0_history(text: str | None) -> dict[int, dict[str, Any]]:
    """A version-0 history by epoch: an entry that is not a table is dropped, one without its epoch takes its place
    in the list as its epoch, and an epoch written twice keeps its later entry (the run's last word on it)."""
    entries = _json(text)
    by_epoch: dict[int, dict[str, Any]] = {}
    for place, entry in enumerate(entries if isinstance(entries, list) else [], start=1):
        if isinstance(entry, dict):
            epoch = entry.get("epoch")
            by_epoch[epoch if isinstance(epoch, int) and not isinstance(epoch, bool) else place] = entry
    return by_epoch


def _version_0_predictions(old: dict[str, Any]) -> tuple[bytes | None, bytes | None]:
    """A version-0 run's val labels and probabilities as blobs: both, when they are a class number per image and a
    row of class probabilities for each; else neither (a ragged or odd pair has no use)."""
    import numpy as np  # only for upgrading version 0: a current store opens without numpy

    from engine.store import blobs

    try:
        labels = np.asarray(_json(old.get("labels")), dtype=np.float64)
        probabilities = np.asarray(_json(old.get("probabilities")), dtype=np.float64)
    except (TypeError, ValueError):  # ragged lists, text among the numbers, nothing at all
        return None, None
    classes = np.arange(len(CLASSES))
    if labels.ndim != 1 or probabilities.shape != (len(labels), len(CLASSES)) or not np.isin(labels, classes).all():
        return None, None
    return blobs.pack_labels(labels.astype(np.int64)), blobs.pack_probabilities(probabilities)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _table(text: str | None) -> dict[str, Any] | None:
    """A version-0 JSON column that should hold a table (metrics, config): None when it holds anything else."""
    value = _json(text)
    return value if isinstance(value, dict) else None


def _summary_from_version_0(old: dict[str, Any], fingerprints: dict[str, str | None]) -> dict[str, Any]:
    kept = ("run_id", "experiment_id", "name", "chapter", "seed", "device", "data", "synthetic", "pretrained", "epochs",
            "status", "reason", "stopped_epoch", "pid", "host", "started_at", "finished_at", "train_seconds",
            "images_per_second", "params", "auc", "accuracy", "mel_recall", "cancer_sensitivity", "balanced_accuracy")
    metrics = _table(old.get("metrics")) or {}
    return {**{key: old.get(key) for key in kept}, "config_hash": config_hash(_config_as_run(old)),
            "data_fingerprint": _version_0_fingerprint(old, fingerprints), "precision": "fp32", "notes": "[]",
            **figure_columns(metrics, CLASSES)}


def figure_columns(metrics: dict[str, Any], classes: tuple[str, ...]) -> dict[str, Any]:
    """The intervals and per-class recalls of a metrics dict, as their summary columns: the recall of
    `classes`[label] (the run's set's classes) in recall_<label>."""
    columns = {}
    for key, (low, high) in CI_COLUMNS.items():
        interval = metrics.get(key) or (None, None)
        columns[low], columns[high] = interval
    recall = metrics.get("recall") or {}
    columns.update({column: recall.get(name) for column, name in zip(RECALL_COLUMNS, classes)})
    return columns


def _config_as_run(old: dict[str, Any]) -> dict[str, Any]:
    """Version 0 kept the experiment's config; the epochs run and the weights used were columns beside it, and
    every run was fp32."""
    config = _table(old.get("config")) or {}
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
