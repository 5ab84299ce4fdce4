"""The sealed test split (issue 26): every finished run scores the test split at its end and the store keeps those
figures sealed; only `dermalab test NAMES --unseal` shows them, beside the val figures and with intervals, and
each such look is logged and counted under results, in the report and on the leaderboard. Nothing that ranks or
selects reads them. Store version 3 keeps them, upgraded from version 2 with a backup."""

from __future__ import annotations

import ast
import json
import sqlite3
from pathlib import Path

import pytest

from engine.experiments.load import load
from engine.jobs.queue import JobQueue
from engine.status import Status
from engine.store import schema, sealed
from engine.store.runs import Store
from engine.training.options import RunOptions
from tests import version_2_store as version_2
from tests.conftest import TINY_EXPERIMENTS, tiny_data
from tests.version_3_store import by_label
from tui import exit_codes
from tui.cli.main import main

REPOSITORY = Path(__file__).resolve().parent.parent


def test_a_version_2_store_is_upgraded_keeping_every_run_and_job_with_one_backup(dermalab_home):
    path = dermalab_home / "runs.sqlite"
    dermalab_home.mkdir()
    version_2.write(path)
    with sqlite3.connect(path) as db:
        db.row_factory = sqlite3.Row
        before = {table: [dict(row) for row in db.execute(f"SELECT * FROM {table} ORDER BY 1, 2")]
                  for table in ("runs", "history", "run_details", "jobs")}

    store = Store()
    try:
        assert store.upgraded_from is not None and store.upgraded_from.name.startswith("runs.sqlite.version-2-backup-")
        assert store._db.execute("PRAGMA user_version").fetchone()[0] == schema.VERSION == 4
        after = {table: [dict(row) for row in store.execute(f"SELECT * FROM {table} ORDER BY 1, 2")]
                 for table in before}
        assert sealed.unsealings(store) == 0 and store.execute("SELECT count(*) FROM sealed")[0][0] == 0
        jobs = {job["job_id"]: job for job in JobQueue(store).current(0)}
    finally:
        store.close()
    before["runs"] = [by_label(row) for row in before["runs"]]  # version 4 keeps recalls by label
    for table, rows in before.items():  # columns a later step adds come with their defaults; nothing else moves
        assert [{key: row[key] for key in old} for row, old in zip(after[table], rows)] == rows, table
    # Version 2's executors are kept as they were, not guessed again by the version-1 rule
    assert {job_id: job["executor"] for job_id, job in jobs.items()} == {
        "fromhere00": "foreground", "apoint0000": "worker", "onslurm000": "slurm"}
    with sqlite3.connect(dermalab_home.glob("runs.sqlite.version-2-backup-*").__next__()) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 2
    again = Store()
    assert again.upgraded_from is None and len(list(dermalab_home.glob("runs.sqlite.version-*-backup-*"))) == 1
    again.close()


@pytest.fixture
def tested(tmp_path) -> tuple[str, str]:
    """A finished tiny run with its sealed test figures; returns its id and the experiments file."""
    from engine.jobs.runner import run_one

    path = tmp_path / "tiny.toml"
    path.write_text(TINY_EXPERIMENTS)
    store = Store()
    try:
        run_one("sealedrun001", load(path)[1], tiny_data(), RunOptions(device="cpu", epochs=1), store,
                lambda event: None)
    finally:
        store.close()
    return "sealedrun001", str(path)


def test_a_run_scores_the_test_split_and_nothing_shows_it_until_unsealed(tested, capsys, refused):
    run_id, path = tested
    store = Store()
    try:
        [row] = store.execute("SELECT metrics FROM sealed WHERE run_id = ?", (run_id,))
        test_auc = json.loads(row["metrics"])["auc"]
        run = store.get(run_id)
    finally:
        store.close()
    assert run is not None and run["status"] == Status.FINISHED and not any("test" in key for key in run)
    assert main(["results", "--format", "json", "--experiments", path]) == exit_codes.OK
    assert "test" not in capsys.readouterr().out

    said = refused("test", run_id, "--experiments", path)
    assert said.startswith("The test figures are sealed so that nothing is chosen on them; add --unseal")
    assert main(["results", "--experiments", path]) == exit_codes.OK
    assert "unsealed" not in capsys.readouterr().out  # a refusal is no look

    assert main(["test", "1", run_id[:6], "--unseal", "--json", "--experiments", path]) == exit_codes.OK
    shown = json.loads(capsys.readouterr().out)
    assert [group["n"] for group in shown["groups"]] == [1, 1] and shown["unsealings"] == 1
    assert shown["groups"][1]["test_auc"] == pytest.approx(test_auc)
    assert shown["groups"][1]["val_auc"] == pytest.approx(run["auc"])
    low, high = shown["groups"][1]["test_auc_ci"]  # one run: the bootstrap over its test images
    assert low <= test_auc <= high
    assert main(["results", "--experiments", path]) == exit_codes.OK
    assert "The test split has been unsealed 1 time in this store" in capsys.readouterr().out
    store = Store()
    try:
        [log] = store.execute("SELECT what, groups, runs FROM unsealings")
    finally:
        store.close()
    assert tuple(log) == (f"1 {run_id[:6]}", 2, 2)


def test_a_name_without_finished_runs_is_one_sentence_and_logs_no_unsealing(tmp_path, refused):
    path = tmp_path / "tiny.toml"
    path.write_text(TINY_EXPERIMENTS)
    said = refused("test", "1", "--unseal", "--experiments", str(path))
    assert said == "Experiment 1 has no finished run to unseal; 'dermalab run 1' trains one."
    store = Store()
    try:
        assert sealed.unsealings(store) == 0
    finally:
        store.close()


def test_nothing_but_the_test_command_reads_the_sealed_figures():
    """Only engine.store.sealed reads the sealed table, and of it the rest of the program uses only the count of
    unsealings (tui's test command excepted): no ranking, sweep, halving or view can select on test figures."""
    readers, users = [], {}
    for source in (*REPOSITORY.glob("engine/**/*.py"), *REPOSITORY.glob("tui/**/*.py")):
        text = source.read_text()
        name = source.relative_to(REPOSITORY).as_posix()
        if "FROM sealed" in text or "JOIN sealed" in text:
            readers.append(name)
        used = {node.attr for node in ast.walk(ast.parse(text)) if isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name) and node.value.id == "sealed"}
        if used:
            users[name] = used
    assert readers == ["engine/store/sealed.py"]
    assert {name: used for name, used in users.items() if used != {"unsealings"}} == {
        "tui/cli/sealed_commands.py": {"groups_named", "unseal", "unsealings"}}
