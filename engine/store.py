"""The run store: one SQLite row per run, written as the run goes, so nothing finished is ever lost."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Iterator

from engine.errors import UserError
from engine.events import EpochEnded, RunFailed, RunFinished, RunStarted
from engine.paths import blocked, disk_full, home, why_not

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
SUMMARY_COLUMNS = ("run_id", "experiment_id", "name", "chapter", "config_hash", "seed", "device", "data", "synthetic",
                   "pretrained", "epochs", "status", "reason", "stopped_epoch", "started_at", "finished_at", *HEADLINE,
                   "metrics", "history")


class StoreUnwritable(UserError):
    """The store cannot take a write (read-only place, disk full, locked too long), so nothing more can be saved."""


def default_path() -> Path:
    return home() / "runs.sqlite"


class Store:
    def __init__(self, path: Path | str | None = None):
        self.path = Path(path or default_path())
        self.recovered_from: Path | None = None  # set when a corrupt file was moved aside
        self.read_only_because: Exception | None = None  # set when the store could only be opened to read
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = self._open()
        except (sqlite3.OperationalError, OSError) as error:  # read-only, full, or locked too long: not damage
            self._db = self._open_to_read(error)
        except sqlite3.DatabaseError:
            self._db = self._recover()
        if self.read_only_because is None:
            self._mark_interrupted()

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.row_factory = sqlite3.Row
        if db.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            db.close()
            raise sqlite3.DatabaseError("quick_check failed")
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute(SCHEMA)
        return db

    def _open_to_read(self, error: Exception) -> sqlite3.Connection:
        """Stored runs stay readable where the store cannot be written (a read-only folder or file system); a
        write then says why. Without its -shm file SQLite opens a WAL store there only as immutable."""
        for mode in ("mode=ro", "immutable=1") if self.path.is_file() else ():
            db = sqlite3.connect(f"{self.path.resolve().as_uri()}?{mode}", uri=True, timeout=30, isolation_level=None)
            try:
                db.execute("SELECT 1 FROM runs LIMIT 1")
            except sqlite3.DatabaseError:
                db.close()
                continue
            db.row_factory = sqlite3.Row
            self.read_only_because = error
            return db
        raise self._unwritable("opened", error) from None

    def _recover(self) -> sqlite3.Connection:
        """Keep the damaged file (renamed, never deleted) and start a fresh store beside it."""
        aside = self.path.with_name(f"{self.path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
        self.path.rename(aside)
        # A write-ahead log may hold the last commits, so it goes aside too (an empty one holds nothing); the -shm
        # index is rebuilt from the log.
        wal = Path(f"{self.path}-wal")
        if wal.exists() and wal.stat().st_size:
            wal.rename(f"{aside}-wal")
        Path(f"{self.path}-shm").unlink(missing_ok=True)
        self.recovered_from = aside
        return self._open()

    def recovery_notice(self) -> str | None:
        """What to tell the user once a damaged file was set aside (the store itself prints nothing)."""
        if self.recovered_from is None:
            return None
        return (f"the run store was damaged, so it was kept as {self.recovered_from} and a fresh one was started; "
                "nothing was deleted.")

    def _unwritable(self, action: str, error: Exception) -> StoreUnwritable:
        error = self.read_only_because or error  # a write to a store opened to read fails for the reason it was
        way_out = ("free some disk space" if disk_full(error) else "set DERMALAB_HOME to a writable folder"
                   if blocked(self.path.parent) else "free some disk space or set DERMALAB_HOME to a writable folder")
        return StoreUnwritable(f"The run store {self.path} could not be {action} ({why_not(self.path.parent, error)}); "
                               f"{way_out}, then run again.")

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        try:
            with self._db:
                self._db.execute("BEGIN IMMEDIATE")
                yield self._db
        except sqlite3.OperationalError as error:
            raise self._unwritable("written", error) from None

    def _mark_interrupted(self) -> None:
        """Runs left 'running' by a process that no longer exists were killed: say so instead of 'running'."""
        host = socket.gethostname()
        stale = [row["run_id"] for row in self._db.execute("SELECT run_id, pid, host FROM runs WHERE status='running'")
                 if row["host"] == host and not process_alive(row["pid"])]
        for run_id in stale:
            with self._writing() as db:
                db.execute("UPDATE runs SET status='interrupted', reason=?, finished_at=? WHERE run_id=? AND status='running'",
                           ("the process running it ended without finishing (killed or crashed)", time.time(), run_id))

    def start(self, event: RunStarted, chapter: str, config: dict[str, Any], config_hash: str,
              synthetic: bool, pretrained: bool) -> None:
        with self._writing() as db:
            db.execute(
                "INSERT INTO runs (run_id, experiment_id, name, chapter, config_hash, config, seed, device, data, synthetic,"
                " pretrained, epochs, status, pid, host, started_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,'running',?,?,?)",
                (event.run_id, event.experiment_id, event.name, chapter, config_hash, json.dumps(config), event.seed,
                 event.device, event.data, int(synthetic), int(pretrained), event.epochs, os.getpid(),
                 socket.gethostname(), time.time()))

    def epoch(self, event: EpochEnded) -> None:
        entry = {k: _finite(v) for k, v in vars(event).items() if k not in ("run_id", "epochs")}
        with self._writing() as db:
            db.execute("UPDATE runs SET history = json_insert(history, '$[#]', json(?)) WHERE run_id=?",
                       (json.dumps(entry), event.run_id))

    def finish(self, event: RunFinished, labels: list[int]) -> None:
        metrics = event.metrics
        with self._writing() as db:
            db.execute(
                f"UPDATE runs SET status='finished', finished_at=?, {', '.join(f'{k}=?' for k in HEADLINE)},"
                " metrics=?, labels=?, probabilities=? WHERE run_id=?",
                (time.time(), *(_finite(metrics.get(k)) for k in HEADLINE), json.dumps(_clean(metrics)),
                 json.dumps(labels), json.dumps(event.probabilities), event.run_id))

    def fail(self, event: RunFailed) -> None:
        with self._writing() as db:
            # Only a running run can fail: a Ctrl-C landing just after a run finished must not undo its result.
            db.execute("UPDATE runs SET status=?, reason=?, stopped_epoch=?, finished_at=? WHERE run_id=? AND status='running'",
                       (event.status, event.reason, event.epoch, time.time(), event.run_id))

    def runs(self) -> list[dict[str, Any]]:
        """Every run, oldest first, without the per-image probabilities."""
        rows = self._db.execute(f"SELECT {', '.join(SUMMARY_COLUMNS)} FROM runs ORDER BY started_at")
        return [_decode(row) for row in rows]

    def get(self, run_id: str) -> dict[str, Any] | None:
        row = self._db.execute("SELECT * FROM runs WHERE run_id=?", (run_id,)).fetchone()
        return _decode(row) if row else None

    def find(self, prefix: str) -> dict[str, Any]:
        """The one run whose id starts with `prefix` (a whole id works too), like git's short hashes."""
        ids = [row[0] for row in self._db.execute(
            "SELECT run_id FROM runs WHERE substr(run_id, 1, length(?1)) = ?1 ORDER BY started_at", (prefix,))]
        if not prefix or not ids:
            raise UserError(f"There is no run '{prefix}'; 'dermalab results' lists the stored runs and their ids.")
        if len(ids) > 1:
            raise UserError(f"'{prefix}' starts {len(ids)} run ids ({', '.join(ids[:3])}{', …' if len(ids) > 3 else ''}); "
                            "give more of the id.")
        return self.get(ids[0])

    def close(self) -> None:
        self._db.close()

    # The other tables of this file (engine.queue's jobs) use the same connection, transactions and sentences.
    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        """A write transaction (BEGIN IMMEDIATE); a failed write raises StoreUnwritable."""
        return self._writing()

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """One statement on its own (reads, and schema that may exist already), its rows fetched."""
        try:
            return self._db.execute(sql, parameters).fetchall()
        except sqlite3.OperationalError as error:  # schema on a store opened to read is a write
            raise self._unwritable("written" if error.sqlite_errorname == "SQLITE_READONLY" else "read", error) from None


def _decode(row: sqlite3.Row) -> dict[str, Any]:
    data = dict(row)
    for key in ("metrics", "history", "labels", "probabilities", "config"):
        if isinstance(data.get(key), str):
            data[key] = json.loads(data[key])
    return data


def _finite(value: Any) -> Any:
    return None if isinstance(value, float) and value != value else value


def _clean(value: Any) -> Any:
    """NaN (an undefined AUC) becomes null, which JSON and SQLite's json functions both accept."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return _finite(value)


def process_alive(pid: int | None) -> bool:
    """Whether a process of this machine with this id still exists (None: no process was recorded)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
