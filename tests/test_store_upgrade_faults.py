"""The store's upgrade on stores that are not what their number says (issue 23, class 1): a store restored from
`sqlite3 .dump` (which drops user_version), an odd user_version, version-0 rows of odd shapes, and an upgrade that
cannot be done. A schema is recognised by what it holds; a failed upgrade says why in one sentence and leaves the
store as it was, with no backup left per try; only a file SQLite cannot read is ever set aside."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from engine.errors import UserError
from engine.store import schema
from engine.store.runs import Store
from tests import version_0_store as version_0
from tests import version_2_store as version_2
from tests.conftest import noisy_predictions, one_sentence


def restored_from_dump(path: Path) -> None:
    """`sqlite3 runs.sqlite .dump > dump.sql`, the store's files moved away, then `sqlite3 runs.sqlite < dump.sql`."""
    with sqlite3.connect(path) as db:
        dump = "\n".join(db.iterdump())
    db.close()
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        name.unlink(missing_ok=True)
    with sqlite3.connect(path) as db:
        db.executescript(dump)
    db.close()


def kept_aside(home: Path) -> list[Path]:
    """Backups and files set aside beside the store."""
    return sorted(path for path in home.iterdir() if ".version-" in path.name or ".corrupt-" in path.name)


def test_a_current_store_restored_from_a_dump_or_renumbered_is_read_as_it_is(store_run, dermalab_home):
    run_id = store_run(*noisy_predictions(1), experiment_id=1)
    path = dermalab_home / "runs.sqlite"
    restored_from_dump(path)
    for number in (0, -7):
        with sqlite3.connect(path) as db:
            db.execute(f"PRAGMA user_version = {number}")
        db.close()
        store = Store()
        assert [run["run_id"] for run in store.runs()] == [run_id]
        assert store.notice() is None and kept_aside(dermalab_home) == []  # nothing to upgrade, nothing kept
        assert store._db.execute("PRAGMA user_version").fetchone()[0] == schema.VERSION
        store.close()


def test_a_version_2_store_restored_from_a_dump_is_upgraded_from_version_2(dermalab_home):
    dermalab_home.mkdir()
    path = dermalab_home / "runs.sqlite"
    version_2.write(path)
    restored_from_dump(path)
    store = Store()
    assert sorted(run["run_id"] for run in store.runs()) == sorted(version_2.RUNS)
    [backup] = kept_aside(dermalab_home)
    assert backup.name.startswith("runs.sqlite.version-2-backup-") and store.upgraded_from == backup
    store.close()


def test_version_0_rows_of_odd_shapes_are_upgraded_keeping_what_makes_sense(dermalab_home, experiments_toml):
    from engine.experiments.load import load

    dermalab_home.mkdir()
    path = dermalab_home / "runs.sqlite"
    spec = load()[1].spec
    db = version_0.connect(path)
    odd = {  # run id -> (history, metrics, labels, probabilities)
        "twice": ('[{"epoch": 1, "train_loss": 2.0}, {"epoch": 1, "train_loss": 1.0}]', '{"auc": 0.7}', "[0]",
                  "[[1, 0, 0, 0, 0, 0, 0]]"),
        "noepoch": ('[{"train_loss": 2.0}, {"train_loss": 1.0}, "an entry that is not one"]', "[1, 2]", "[0, 1]",
                    "[[1, 0, 0, 0, 0, 0, 0], [0.5, 0.5]]"),
        "table": ('{"a": 1}', None, '"text"', "[1, 2]"),
    }
    for order, (run_id, (history, metrics, labels, probabilities)) in enumerate(odd.items()):
        version_0.start(db, run_id, spec, 0, "synthetic", True, False, 2, 1000.0 + order)
        db.execute("UPDATE runs SET status='finished', history=?, metrics=?, labels=?, probabilities=?"
                   " WHERE run_id=?", (history, metrics, labels, probabilities, run_id))
    db.close()

    store = Store()
    assert sorted(run["run_id"] for run in store.runs()) == sorted(odd)
    twice, noepoch, table = (store.get(run_id) for run_id in odd)
    assert [(entry["epoch"], entry["train_loss"]) for entry in twice["history"]] == [(1, 1.0)]  # the later word
    assert twice["metrics"] == {"auc": 0.7} and list(twice["labels"]) == [0]
    assert [(entry["epoch"], entry["train_loss"]) for entry in noepoch["history"]] == [(1, 2.0), (2, 1.0)]
    assert noepoch["metrics"] is None and noepoch["labels"] is None and noepoch["probabilities"] is None  # ragged
    assert table["history"] == [] and table["labels"] is None
    assert [backup.name[:30] for backup in kept_aside(dermalab_home)] == ["runs.sqlite.version-0-backup-2"]
    store.close()


def test_an_upgrade_that_cannot_be_done_says_why_and_leaves_the_store_as_it_was(dermalab_home, capsys):
    """A version-0 table edited by hand to hold a run without a name, which no later version takes."""
    from engine.experiments.load import load
    from tui.cli.main import main

    dermalab_home.mkdir()
    path = dermalab_home / "runs.sqlite"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")  # as every version-0 store was
    db.execute(version_0.SCHEMA.replace("name TEXT NOT NULL", "name TEXT"))
    version_0.start(db, "noname", load()[1].spec, 0, "synthetic", True, False, 2, 1000.0)
    db.execute("UPDATE runs SET name=NULL")
    db.close()
    before = hashlib.md5(path.read_bytes()).hexdigest()
    for _ in range(2):  # a second try as the first: no backup left by either
        assert main(["results"]) == 2
        said = one_sentence(capsys.readouterr().err)
        assert said == (f"The run store {path} could not be upgraded to this version of dermalab (IntegrityError: "
                        "NOT NULL constraint failed: runs_new.name); it was left as it was, so an older dermalab "
                        "still reads it, or set DERMALAB_HOME to another folder to start a fresh store.")
        assert hashlib.md5(path.read_bytes()).hexdigest() == before and kept_aside(dermalab_home) == []
    with pytest.raises(UserError, match="could not be upgraded"):
        Store()
