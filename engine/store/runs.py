"""The run store: a SQLite file written as each run goes, so nothing finished is ever lost. Its tables and their
upgrades are `engine.store.schema`'s; this module writes runs and reads them back: a summary row per run for the
views, a run in full (config, every metric, per-epoch history, val labels and probabilities) when one is opened.
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
import os
import socket
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.classes import DEFAULT, DEFAULT_SIZE, class_names
from engine.errors import UserError
from engine.events import EpochEnded, RunFailed, RunFinished, RunStarted
from engine.experiments.spec import config_hash
from engine.paths import blocked, disk_full, home, stamp, why_not
from engine.processes import alive, started
from engine.status import ACTIVE, Status, sql_in
from engine.store import schema
from engine.store.figures import defined

HEADLINE = ("auc", "accuracy", "mel_recall", "cancer_sensitivity", "balanced_accuracy", "params",
            "train_seconds", "images_per_second")
# Read straight into a summary row; the interval and recall columns are gathered into `auc_ci`, ... and `recall`.
SUMMARY_COLUMNS = ("run_id", "experiment_id", "name", "chapter", "config_hash", "seed", "device", "data",
                   "dataset", "size", "data_fingerprint", "synthetic", "pretrained", "precision", "epochs", "status",
                   "reason", "stopped_epoch", "notes", "pid", "host", "started_at", "finished_at", *HEADLINE)
FIGURE_COLUMNS = (*(c for pair in schema.CI_COLUMNS.values() for c in pair), *schema.RECALL_COLUMNS)
RECALL = "recall_"  # ranked() orders runs by the recall of a class of the scope's set as recall_<its name>
SELECT_SUMMARY = f"SELECT {', '.join(SUMMARY_COLUMNS + FIGURE_COLUMNS)} FROM runs"
# Finished runs are averaged only within these: the experiment, its config as run, and the data it ran on.
GROUP_KEY = "experiment_id, config_hash, coalesce(data_fingerprint, data)"
OLDEST_FIRST = "coalesce(started_at, finished_at)"  # a run that never started sits where it ended
SPREAD = ("auc", "mel_recall", "cancer_sensitivity", "accuracy", "balanced_accuracy", "train_seconds")  # mean and sd


class StoreUnwritable(UserError):
    """The store cannot take a write (read-only place, disk full, locked too long), so nothing more can be saved."""


class ForeignRun(UserError):
    """A run exported by another store that this one cannot take as it is: damaged on its way, or written by a
    dermalab of another version (`newer`: one whose tables hold what this version's lack)."""

    def __init__(self, problem: str, newer: bool = False):
        super().__init__(problem)
        self.newer = newer


@dataclass(frozen=True)
class Planned:
    """A run as it was asked for, to store one that ended before it started (cancelled while its job waited, say)."""

    run_id: str
    experiment_id: int
    name: str
    chapter: str
    seed: int
    data: str
    config: dict[str, Any]  # as asked: engine.training.options.run_config(..., as_asked=True)
    synthetic: bool


# The tables keyed by an id a user may shorten, with the column that orders their rows oldest first.
ID_TABLES = {"runs": ("run_id", OLDEST_FIRST), "jobs": ("job_id", "queued_at")}


def default_path() -> Path:
    return home() / "runs.sqlite"


class Store:
    def __init__(self, path: Path | str | None = None):
        self.path = Path(path or default_path())
        self.recovered_from: Path | None = None  # set when a corrupt file was moved aside
        self.read_only_because: Exception | None = None  # set when the store could only be opened to read
        self.upgraded_from: Path | None = None  # the backup of an older store, set when this open upgraded it
        self.opened_file: tuple[int, int] | None = None  # (device, inode) of the file opened, to notice it replaced
        self.orphan_log: Path | None = None  # where the log of a store deleted under a process was set aside
        # The MedMNIST set and size whose runs the views read (runs, ranked, groups, ...): a view never mixes
        # sets. None (the engine's own reads) is every run.
        self.scope: tuple[str, int] | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._set_aside_orphan_log()
            self._db = self._open()
        except (sqlite3.OperationalError, OSError) as error:  # read-only, full, or locked too long: not damage
            self._db = self._open_to_read(error)
        except sqlite3.DatabaseError:
            self._db = self._recover()
        self.opened_file = file_identity(self.path)
        if self.read_only_because is None:
            self._mark_interrupted()

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.row_factory = sqlite3.Row
        # The summary table only: checking every page would read the whole file, predictions included, at each
        # start (a third of a second at 10,000 runs); a damaged page elsewhere is found when that run is opened.
        if schema.has_table(db, "runs") and db.execute("PRAGMA quick_check(runs)").fetchone()[0] != "ok":
            db.close()
            raise sqlite3.DatabaseError("quick_check failed")
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        self.upgraded_from = schema.prepare(db, self.path)
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
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version != schema.VERSION:  # an older store is read as this one only once upgraded: a write
                db.close()
                schema.refuse_newer(version, self.path)
                raise self._unwritable("upgraded", error) from None
            db.row_factory = sqlite3.Row
            self.read_only_because = error
            return db
        raise self._unwritable("opened", error) from None

    def _recover(self) -> sqlite3.Connection:
        """Keep the damaged file (renamed, never deleted) and start a fresh store beside it."""
        aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp()}")
        self.path.rename(aside)
        # A write-ahead log may hold the last commits, so it goes aside too (an empty one holds nothing); the -shm
        # index is rebuilt from the log.
        wal = Path(f"{self.path}-wal")
        if wal.exists() and wal.stat().st_size:
            wal.rename(f"{aside}-wal")
        Path(f"{self.path}-shm").unlink(missing_ok=True)
        self.recovered_from = aside
        return self._open()

    def _set_aside_orphan_log(self) -> None:
        """A write-ahead log without its store (the file deleted while a process had it open) makes SQLite fail a
        fresh store at that path ('disk I/O error'): it is kept aside, never deleted, as a damaged store is, and
        a fresh store starts. The -shm index is rebuilt from a log, so it goes."""
        wal = Path(f"{self.path}-wal")
        if self.path.exists() or not wal.exists():
            return
        aside = self.path.with_name(f"{self.path.name}.orphan-{stamp()}-wal")
        with contextlib.suppress(FileNotFoundError):  # another process starting at once set it aside first
            wal.rename(aside)
            self.orphan_log = aside
        Path(f"{self.path}-shm").unlink(missing_ok=True)

    def notice(self) -> str | None:
        """What to tell the user once a damaged file was set aside or an older store upgraded (the store itself
        prints nothing)."""
        if self.recovered_from is not None:
            return (f"the run store was damaged, so it was kept as {self.recovered_from} and a fresh one was "
                    "started; nothing was deleted.")
        if self.orphan_log is not None:
            return (f"the run store's file had been deleted while a process had it open, so what was left of it (its "
                    f"write-ahead log) was kept as {self.orphan_log} and a fresh store was started.")
        if self.upgraded_from is not None:
            return (f"the run store was upgraded to this version of dermalab, keeping every run; the store as it "
                    f"was is kept as {self.upgraded_from}.")
        return None

    def replaced(self) -> bool:
        """Whether the store's path no longer names the file this store opened (deleted, moved, or another put in
        its place): this connection would go on reading and writing a file nobody else sees."""
        return file_identity(self.path) != self.opened_file

    def _unwritable(self, action: str, error: Exception) -> StoreUnwritable:
        error = self.read_only_because or error  # a write to a store opened to read fails for the reason it was
        what, way_out = self._trouble(error)
        return StoreUnwritable(f"The run store {self.path} could not be {action} ({what}); {way_out}, then run again.")

    def _trouble(self, error: Exception) -> tuple[str, str]:
        """What keeps the store from being written, and the way out: disk space is advised only where the error
        may be a full disk, never for a folder in the file's place, a locked store or a blocked place."""
        if self.path.exists() and not self.path.is_file():
            kind = "a folder" if self.path.is_dir() else "not a regular file"
            return f"{self.path} is {kind}, not the store's file", "move it aside (or remove it)"
        if disk_full(error):
            return why_not(self.path.parent, error), "free some disk space"
        if place := blocked(self.path.parent):
            return place, "set DERMALAB_HOME to a writable folder"
        words = why_not(self.path.parent, error)
        if getattr(error, "sqlite_errorname", "") == "SQLITE_BUSY":
            return f"{words}: another process held it for 30 s", "let that process finish"
        if getattr(error, "sqlite_errorname", "").startswith("SQLITE_IOERR"):  # a write cut short: often no room
            return words, "free some disk space or set DERMALAB_HOME to a writable folder"
        return words, "set DERMALAB_HOME to a writable folder"

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        try:
            with self._db:
                self._db.execute("BEGIN IMMEDIATE")
                yield self._db
        except sqlite3.OperationalError as error:
            raise self._unwritable("written", error) from None

    def _mark_interrupted(self) -> None:
        """Runs left running by a process that no longer exists were killed: say so instead of running."""
        host = socket.gethostname()
        stale = [row["run_id"] for row in self._db.execute(
                 f"SELECT run_id, pid, process_started, host FROM runs WHERE status='{Status.RUNNING}'")
                 if row["host"] == host and not alive(row["pid"], row["process_started"])]
        for run_id in stale:
            with self._writing() as db:
                db.execute(f"UPDATE runs SET status=?, reason=?, finished_at=? WHERE run_id=?"
                           f" AND status='{Status.RUNNING}'",
                           (Status.INTERRUPTED, "the process running it ended without finishing (killed or crashed)",
                            time.time(), run_id))

    def start(self, event: RunStarted, chapter: str, config: dict[str, Any], synthetic: bool,
              data_fingerprint: str | None) -> None:
        """`config` is the config as run (ExperimentSpec.run_config): it holds the epochs, the weights and the
        precision, so its hash tells which runs are comparable."""
        with self._writing() as db:
            db.execute(
                "INSERT INTO runs (run_id, experiment_id, name, chapter, config_hash, seed, device, data, dataset,"
                " size, data_fingerprint, synthetic, pretrained, precision, epochs, status, pid, process_started,"
                " host, started_at)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (event.run_id, event.experiment_id, event.name, chapter, config_hash(config), event.seed, event.device,
                 event.data, *medset_of(config), data_fingerprint, int(synthetic), int(config["model"]["pretrained"]),
                 config["precision"], event.epochs, Status.RUNNING, os.getpid(), started(), socket.gethostname(),
                 time.time()))
            db.execute("INSERT INTO run_details (run_id, config) VALUES (?, ?)", (event.run_id, json.dumps(config)))

    def resume(self, event: RunStarted) -> None:
        """An interrupted run goes on in this process from its checkpoint after epoch `event.resumed_after`: running
        again, its ending cleared, and the epochs it trained after that checkpoint dropped (they are trained
        again; the checkpoint's own are stored again as they come)."""
        with self._writing() as db:
            db.execute("UPDATE runs SET status=?, reason=NULL, stopped_epoch=NULL, finished_at=NULL, pid=?,"
                       " process_started=?, host=?, device=? WHERE run_id=?",
                       (Status.RUNNING, os.getpid(), started(), socket.gethostname(), event.device, event.run_id))
            db.execute("DELETE FROM history WHERE run_id=? AND epoch > ?", (event.run_id, event.resumed_after))

    def ended(self, run_id: str) -> bool:
        """Whether the run is stored with an ending that stays (a run interrupted may still be resumed)."""
        row = self._db.execute("SELECT status FROM runs WHERE run_id=?", (run_id,)).fetchone()
        return row is not None and row["status"] not in (Status.RUNNING, Status.INTERRUPTED)

    def epoch(self, event: EpochEnded) -> None:
        self.epochs([event])

    def epochs(self, events: list[EpochEnded]) -> None:
        """Epochs' figures into the history, in one transaction; an epoch stored already is replaced."""
        with self._writing() as db:
            db.executemany(f"INSERT OR REPLACE INTO history (run_id, epoch, {', '.join(schema.HISTORY_COLUMNS)})"
                           f" VALUES (?, ?, {', '.join('?' * len(schema.HISTORY_COLUMNS))})",
                           [(event.run_id, event.epoch, *(defined(getattr(event, k)) for k in schema.HISTORY_COLUMNS))
                            for event in events])

    def finish(self, event: RunFinished, labels: list[int]) -> None:
        from engine.store import (
            blobs,  # numpy: the app's first screen reads summaries only
        )

        metrics = event.metrics
        with self._writing() as db:
            dataset = db.execute("SELECT dataset FROM runs WHERE run_id=?", (event.run_id,)).fetchone()
            classes = class_names(dataset[0] if dataset else DEFAULT)
            figures = defined({**{k: metrics.get(k) for k in HEADLINE}, **schema.figure_columns(metrics, classes)})
            db.execute(f"UPDATE runs SET status=?, finished_at=?, notes=?, stopped_epoch=?,"
                       f" {', '.join(f'{k}=?' for k in figures)} WHERE run_id=?",
                       (Status.FINISHED, time.time(), json.dumps(list(event.notes)), event.stopped_epoch,
                        *figures.values(), event.run_id))
            db.execute("UPDATE run_details SET metrics=?, labels=?, probabilities=? WHERE run_id=?",
                       (json.dumps(defined(metrics)), blobs.pack_labels(labels),
                        blobs.pack_probabilities(event.probabilities), event.run_id))
            if event.sealed is not None:  # kept apart, so that no view that reads a run's details can show it
                db.execute("INSERT OR REPLACE INTO sealed (run_id, metrics, labels, probabilities) VALUES (?,?,?,?)",
                           (event.run_id, json.dumps(defined(event.sealed["metrics"])),
                            blobs.pack_labels(event.sealed["labels"]),
                            blobs.pack_probabilities(event.sealed["probabilities"])))

    def fail(self, event: RunFailed, planned: Planned | None = None) -> None:
        """A run ends early, as `event` says. Only a running run ends so: a Ctrl-C landing just after a run finished
        must not undo its result. With `planned`, a run that never started is stored as ended, without a start."""
        with self._writing() as db:
            db.execute(f"UPDATE runs SET status=?, reason=?, stopped_epoch=?, finished_at=? WHERE run_id=?"
                       f" AND status='{Status.RUNNING}'",
                       (event.status, event.reason, event.epoch, time.time(), event.run_id))
            if planned is not None and not db.execute("SELECT 1 FROM runs WHERE run_id=?", (event.run_id,)).fetchone():
                _insert_never_started(db, planned, event)

    def exists(self, run_id: str) -> bool:
        return bool(self._db.execute("SELECT 1 FROM runs WHERE run_id=?", (run_id,)).fetchone())

    def runs(self) -> list[dict[str, Any]]:
        """Every run's summary row, oldest first: what the tables show, without history or predictions."""
        return [summary_row(row) for row in self._db.execute(f"{SELECT_SUMMARY} WHERE {self.in_scope()}"
                                                               f" ORDER BY {OLDEST_FIRST}")]

    def in_scope(self, table: str = "runs", scope: tuple[str, int] | None = None) -> str:
        """The SQL condition on `table` (a name or alias of runs) that keeps the runs of `scope`'s set and size, or
        else the store's own scope's: true for every run where no scope is set. The values are checked names and
        numbers, so they are written into the SQL, where the subqueries of a view need them too."""
        scope = scope or self.scope
        if scope is None:
            return "1"
        dataset, size = scope
        assert dataset.isalnum() and isinstance(size, int), "a scope is a checked set and size"
        return f"({table}.dataset = '{dataset}' AND {table}.size = {size})"

    def get(self, run_id: str) -> dict[str, Any] | None:
        """One run in full: its summary row with its config, every metric, its history, and its val labels and
        probabilities as arrays (None for a run that did not finish)."""
        from engine.store import blobs  # numpy, only once a run is opened

        row = self._db.execute(f"{SELECT_SUMMARY} WHERE run_id=?", (run_id,)).fetchone()
        if row is None:
            return None
        details = self._db.execute("SELECT config, metrics, labels, probabilities FROM run_details WHERE run_id=?",
                                   (run_id,)).fetchone()
        config, metrics, labels, probabilities = details or (None, None, None, None)
        return {**summary_row(row), "config": json.loads(config) if config else {},
                "metrics": json.loads(metrics) if metrics else None, "history": self.history(run_id),
                "labels": None if labels is None else blobs.unpack(labels),
                "probabilities": None if probabilities is None else blobs.unpack(probabilities)}

    def summaries(self, run_ids: list[str]) -> list[dict[str, Any]]:
        """The summary rows of these runs (those that exist), oldest first."""
        marks = ", ".join("?" * len(run_ids))
        rows = self._db.execute(f"{SELECT_SUMMARY} WHERE run_id IN ({marks}) ORDER BY {OLDEST_FIRST}", run_ids)
        return [summary_row(row) for row in rows]

    def statuses(self) -> dict[Status, int]:
        """How many runs stand at each status (those with none left out): what every count of stored runs says."""
        return {Status(row["status"]): row["runs"]
                for row in self._db.execute(f"SELECT status, count(*) AS runs FROM runs WHERE {self.in_scope()}"
                                            " GROUP BY status")}

    def ranked(self, key: str, descending: bool, limit: int, baseline: dict[str, float] | None = None,
               only: list[int] | None = None) -> list[dict[str, Any]]:
        """The first `limit` summary rows in the order of column `key`, runs without a value last, ties oldest
        first. With a `baseline` (config hash -> a figure), the order of `key` minus the figure of the run's
        config hash, for runs on real data whose hash has one; the others go last. With `only`, the runs of
        those experiments alone."""
        column = self.column_of(key)
        if column is None:
            raise ValueError(f"no summary column {key}")
        value = column
        if baseline is not None:
            figures = " ".join(f"WHEN '{digest}' THEN {float(figure)!r}" for digest, figure in baseline.items()
                               if digest.isalnum())
            value = f"(CASE WHEN synthetic THEN NULL ELSE {column} - (CASE config_hash {figures} END) END)"
        # NULLS LAST rather than 'value IS NULL' first: an expression there would keep SQLite from the column's index.
        order = f"{value} {'DESC' if descending else 'ASC'} NULLS LAST, started_at"
        where = f" WHERE {self.in_scope()}" + ("" if only is None else
                                                f" AND experiment_id IN ({', '.join('?' * len(only))})")
        rows = self._db.execute(f"{SELECT_SUMMARY}{where} ORDER BY {order} LIMIT ?", (*(only or ()), limit))
        return [summary_row(row) for row in rows]

    def column_of(self, key: str) -> str | None:
        """The column ranked() orders by for `key`: a summary column, or recall_<class> (as CSV names it) of a class
        of the scope's set; None for any other key."""
        if key in SUMMARY_COLUMNS:
            return key
        names = class_names(self.scope[0] if self.scope else DEFAULT)
        name = key.removeprefix(RECALL)
        return schema.RECALL_COLUMNS[names.index(name)] if key.startswith(RECALL) and name in names else None

    def speeds(self, scope: tuple[str, int] | None = None) -> list[dict[str, Any]]:
        """Each run's experiment and training speed (img/s), where it has one: two columns, however many runs; of
        the runs in `scope` (a set and size), or else in the store's own."""
        rows = self._db.execute("SELECT experiment_id, images_per_second FROM runs WHERE images_per_second IS NOT NULL"
                                f" AND {self.in_scope(scope=scope)}")
        return [dict(row) for row in rows]

    def overview(self) -> dict[int, dict[str, Any]]:
        """Per experiment with runs: how many, the status of its latest run, its best AUC on real data and on
        synthetic data, and the parameter count of its latest run that counted them."""
        rows = self._db.execute(
            "SELECT experiment_id, count(*) AS runs,"
            " max(CASE WHEN synthetic THEN NULL ELSE auc END) AS best_real_auc,"
            " max(CASE WHEN synthetic THEN auc END) AS best_synthetic_auc,"
            " (SELECT status FROM runs AS latest WHERE latest.experiment_id = runs.experiment_id"
            f"  AND {self.in_scope('latest')} ORDER BY started_at DESC LIMIT 1) AS status,"
            " (SELECT params FROM runs AS counted WHERE counted.experiment_id = runs.experiment_id AND params"
            f"  AND {self.in_scope('counted')} ORDER BY started_at DESC LIMIT 1) AS params"
            f" FROM runs WHERE {self.in_scope()} GROUP BY experiment_id")
        return {row["experiment_id"]: dict(row) for row in rows}

    def groups(self) -> list[dict[str, Any]]:
        """Finished runs averaged per group of comparable runs (GROUP_KEY), each seed once (its latest run): n,
        and per figure its mean and its standard deviation over seeds (None below two), the mean recall per
        class, and the descriptive columns of the group's latest run. By experiment, real data first."""
        spread = (f"(sum({c} * {c}) - sum({c}) * sum({c}) / count({c})) / (count({c}) - 1) AS {c}_variance"
                  for c in SPREAD)
        figures = ", ".join([*(f"avg({c}) AS {c}" for c in (*SPREAD, *schema.RECALL_COLUMNS)), *spread])
        rows = self._db.execute(
            f"WITH seeds AS (SELECT *, row_number() OVER (PARTITION BY {GROUP_KEY}, seed ORDER BY started_at DESC)"
            f"  AS nth FROM runs WHERE status = '{Status.FINISHED}' AND {self.in_scope()})"
            # SQLite takes the bare columns from the row holding max(started_at): the latest run's.
            " SELECT max(started_at) AS latest, experiment_id, name, chapter, config_hash, data, dataset, size,"
            " data_fingerprint,"
            f" synthetic, pretrained, precision, epochs, params, count(*) AS n, {figures}"
            f" FROM seeds WHERE nth = 1 GROUP BY {GROUP_KEY} ORDER BY experiment_id, synthetic, latest")
        return [_group(row) for row in rows]

    def finished_seeds(self, experiment_id: int, config_hash: str, data_fingerprint: str,
                       ended: tuple[Status, ...] = (Status.FINISHED,)) -> dict[int, str]:
        """Seed -> the id of its latest finished run (or one that ended as `ended` says), for this experiment with
        this config as run, on this data."""
        rows = self._db.execute(
            f"SELECT seed, run_id FROM runs WHERE status IN {sql_in(ended)} AND experiment_id = ?"
            " AND config_hash = ?"
            " AND data_fingerprint = ? ORDER BY started_at",
            (experiment_id, config_hash, data_fingerprint))
        return dict(rows)  # oldest first, so each seed keeps its latest run

    def delete(self, run_ids: list[str]) -> None:
        """Remove these runs with their history and predictions, then give the space back to the file system. Their
        jobs that have ended go too: a cluster's job that ended without its run stored is one `sync` would store."""
        with self._writing() as db:
            for table in schema.RUN_TABLES:
                db.executemany(f"DELETE FROM {table} WHERE run_id = ?", [(run_id,) for run_id in run_ids])
            db.executemany(f"DELETE FROM jobs WHERE job_id = ? AND status NOT IN {sql_in(ACTIVE)}",
                           [(run_id,) for run_id in run_ids])
        try:
            self._db.execute("VACUUM")
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the file itself shrinks only at a checkpoint
        except sqlite3.OperationalError as error:
            raise self._unwritable("compacted", error) from None

    def exported(self, run_id: str) -> dict[str, Any]:
        """A run's rows as stored, table by table (blobs as base64, so the whole is JSON), for another store to
        take as they are: a cluster task's store, brought home."""
        return {table: [{key: {"base64": base64.b64encode(value).decode()} if isinstance(value, bytes) else value
                         for key, value in dict(row).items()}
                        for row in self._db.execute(f"SELECT * FROM {table} WHERE run_id=?", (run_id,))]
                for table in schema.RUN_TABLES}

    def imported(self, rows: dict[str, Any]) -> bool:
        """Takes a run exported by a store of this version, once: False when this store has that run already. One
        it cannot take raises ForeignRun, and nothing of it is written."""
        run_id = self.checked_export(rows)["run_id"]
        with self._writing() as db:
            if db.execute("SELECT 1 FROM runs WHERE run_id=?", (run_id,)).fetchone():
                return False
            # History without its run is a cluster task's, copied from its progress file while it trained: the
            # run's own rows replace it.
            db.execute("DELETE FROM history WHERE run_id=?", (run_id,))
            try:
                for table in schema.RUN_TABLES:
                    for row in rows.get(table, []):  # a task of an older version exported no sealed figures
                        schema.insert(db, table, {key: decoded(value) for key, value in row.items()})
            except (sqlite3.IntegrityError, sqlite3.InterfaceError, sqlite3.ProgrammingError) as error:
                raise ForeignRun(f"its rows do not fit this store's tables ({error})") from None
        return True

    def checked_export(self, rows: Any) -> dict[str, Any]:
        """The runs row of an export whose tables and columns this store has, every row of it that run's; raises
        ForeignRun with what is amiss otherwise. (The columns are checked, not trusted: they name the SQL's.) An
        export of a version-3 store is first given version 4's recall columns, in place, so that every caller sees
        them."""
        schema.recalls_by_label(rows)
        if not (isinstance(rows, dict) and isinstance(rows.get("runs"), list) and len(rows["runs"]) == 1
                and isinstance(rows["runs"][0], dict) and isinstance(rows["runs"][0].get("run_id"), str)):
            raise ForeignRun("it does not hold exactly one run with its id")
        if unknown := sorted(set(rows) - set(schema.RUN_TABLES)):
            raise ForeignRun(f"it holds tables this version of dermalab lacks ({', '.join(map(str, unknown))})",
                             newer=True)
        run = rows["runs"][0]
        if run.get("status") not in set(Status):
            raise ForeignRun(f"its run's status {run.get('status')!r} is none this version of dermalab knows",
                             newer=True)
        for table, table_rows in rows.items():
            if not (isinstance(table_rows, list) and all(isinstance(row, dict) for row in table_rows)):
                raise ForeignRun(f"its {table} is not a list of rows")
            columns = {name: kind for _, name, kind, *_ in self._db.execute(f"PRAGMA table_info({table})")}
            for row in table_rows:
                if lacking := sorted(set(row) - set(columns)):
                    raise ForeignRun(f"its {table} row has columns this version of dermalab lacks "
                                     f"({', '.join(lacking)})", newer=True)
                if row.get("run_id") != run["run_id"]:
                    raise ForeignRun(f"a row of its {table} belongs to another run")
                if wrong := [key for key, value in row.items() if not of_kind(value, columns[key])]:
                    raise ForeignRun(f"its {table} row holds a value of another kind than this store keeps in "
                                     f"{', '.join(wrong)}")
        return run

    def history(self, run_id: str) -> list[dict[str, Any]]:
        """A run's figures at the end of each epoch, first epoch first."""
        rows = self._db.execute(f"SELECT epoch, {', '.join(schema.HISTORY_COLUMNS)} FROM history WHERE run_id=?"
                                " ORDER BY epoch", (run_id,))
        return [dict(row) for row in rows]

    def find(self, prefix: str) -> dict[str, Any]:
        """The one run whose id starts with `prefix` (a whole id works too), like git's short hashes."""
        run = self.get(self.find_id("runs", prefix, f"There is no run '{prefix}'; 'dermalab results' lists the "
                                    "stored runs and their ids."))
        assert run is not None, "find_id has just read it"
        return run

    def find_id(self, table: str, prefix: str, missing: str) -> str:
        """The one id in `table` (one of ID_TABLES) that starts with `prefix`; `missing` says that none does."""
        key, order = ID_TABLES[table]
        ids = [row[0] for row in self.execute(
            f"SELECT {key} FROM {table} WHERE substr({key}, 1, length(?1)) = ?1 ORDER BY {order}", (prefix,))]
        if not prefix or not ids:
            raise UserError(missing)
        if len(ids) > 1:
            raise UserError(f"'{prefix}' starts {len(ids)} {key.removesuffix('_id')} ids ({', '.join(ids[:3])}"
                            f"{', …' if len(ids) > 3 else ''}); give more of the id.")
        return ids[0]

    def close(self) -> None:
        self._db.close()

    # The other tables of this file (engine.jobs.queue's jobs) use the same connection, transactions and sentences.
    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        """A write transaction (BEGIN IMMEDIATE); a failed write raises StoreUnwritable."""
        return self._writing()

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """One statement on its own (reads, and schema that may exist already), its rows fetched."""
        try:
            return self._db.execute(sql, parameters).fetchall()
        except sqlite3.OperationalError as error:  # schema on a store opened to read is a write
            done = "written" if error.sqlite_errorname == "SQLITE_READONLY" else "read"
            raise self._unwritable(done, error) from None


# What an export's JSON holds for each kind of column SQLite declares here (a blob as {"base64": text}).
EXPORTED_KINDS: dict[str, tuple[type, ...]] = {"INTEGER": (int,), "REAL": (int, float), "TEXT": (str,),
                                               "BLOB": (dict,)}


def of_kind(value: Any, kind: str) -> bool:
    """Whether an exported value suits a column of this declared kind: the views read a REAL as a number, say."""
    return value is None or isinstance(value, EXPORTED_KINDS.get(kind, (object,)))


def decoded(value: Any) -> Any:
    """A column's value as an export writes it: a blob as {"base64": text}."""
    if not isinstance(value, dict):
        return value
    if set(value) != {"base64"} or not isinstance(value["base64"], str):
        raise ForeignRun("a value of it is neither a column's value nor a blob in base64")
    try:
        return base64.b64decode(value["base64"], validate=True)
    except ValueError:  # binascii.Error
        raise ForeignRun("a blob of it is not valid base64") from None


def file_identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of the file at `path`; None when there is none."""
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_dev, status.st_ino


def summary_row(row: sqlite3.Row) -> dict[str, Any]:
    data = dict(zip(SUMMARY_COLUMNS, row))
    figures = row[len(SUMMARY_COLUMNS):]
    data["synthetic"], data["pretrained"] = bool(data["synthetic"]), bool(data["pretrained"])
    data["notes"] = json.loads(data["notes"])
    for position, key in enumerate(schema.CI_COLUMNS):
        interval = figures[2 * position:2 * position + 2]
        data[key] = list(interval) if interval[0] is not None else None
    recalls = figures[2 * len(schema.CI_COLUMNS):]
    data["recall"] = recall_by_class(data["dataset"], recalls) if any(r is not None for r in recalls) else {}
    return data


def _group(row: sqlite3.Row) -> dict[str, Any]:
    data = {key: row[key] for key in ("experiment_id", "name", "chapter", "config_hash", "data", "dataset", "size",
                                      "data_fingerprint", "precision", "epochs", "params", "n")}
    data["synthetic"], data["pretrained"] = bool(row["synthetic"]), bool(row["pretrained"])
    for column in SPREAD:
        variance = row[f"{column}_variance"]
        data[column], data[f"{column}_std"] = row[column], None if variance is None else math.sqrt(max(variance, 0))
    data["recall"] = recall_by_class(data["dataset"], [row[column] for column in schema.RECALL_COLUMNS])
    return data


def recall_by_class(dataset: str, recalls: Sequence[float | None]) -> dict[str, float | None]:
    """The recall columns of a run (or group) on `dataset`, by the name of the class of each label."""
    return dict(zip(class_names(dataset), recalls))


def medset_of(config: dict[str, Any]) -> tuple[str, int]:
    """The MedMNIST set and size a run config names (engine.training.options.run_config): DermaMNIST at 28 when
    it names none."""
    chosen = config.get("data") or {}
    return chosen.get("dataset", DEFAULT), chosen.get("size", DEFAULT_SIZE)


def _insert_never_started(db: sqlite3.Connection, planned: Planned, ended: RunFailed) -> None:
    """A run that ended before it started: what it was to be, how it ended, and no device, precision or start."""
    config = planned.config
    schema.insert(db, "runs", {
        "run_id": planned.run_id, "experiment_id": planned.experiment_id, "name": planned.name,
        "chapter": planned.chapter, "config_hash": config_hash(config), "seed": planned.seed, "data": planned.data,
        **dict(zip(("dataset", "size"), medset_of(config))),
        "synthetic": int(planned.synthetic), "pretrained": int(config["model"]["pretrained"]),
        "epochs": config["training"]["epochs"], "status": ended.status, "reason": ended.reason,
        "host": socket.gethostname(), "finished_at": time.time()})
    db.execute("INSERT INTO run_details (run_id, config) VALUES (?, ?)", (planned.run_id, json.dumps(config)))
