"""The store's own contract: compact predictions that every metric reads as before, a version of its own, and the
upgrade of a store written before versions (by raw SQL, in that exact schema) that never loses a run."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import socket
import sqlite3
import time

import numpy as np
import pytest

from engine.analysis import bootstrap, screening
from engine.analysis.metrics import evaluate
from engine.errors import UserError
from engine.events import EpochEnded
from engine.experiments.load import load
from engine.jobs.queue import JobQueue
from engine.store import blobs, schema
from engine.store.runs import Store
from tests import version_0_store as version_0
from tests import version_1_store as version_1
from tests.conftest import noisy_predictions
from tests.version_3_store import by_label


def realistic_predictions(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """1,003 val lesions in DermaMNIST's mix, and softmax outputs kept to 6 decimals as training keeps them."""
    from engine.training.data import CLASS_COUNTS

    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(7), CLASS_COUNTS["val"])
    logits = rng.normal(0, 1.5, size=(len(labels), 7))
    logits[np.arange(len(labels)), labels] += 2.5
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return labels, probabilities.round(6)


def figures(labels: np.ndarray, probabilities: np.ndarray) -> list[float]:
    """Every figure computed from stored predictions: the metrics, both intervals, an operating point per
    condition, and the mean ensemble of the run with itself reversed."""
    metrics = evaluate(labels, probabilities)
    values = [metrics[k] for k in ("auc", "accuracy", "mel_recall", "cancer_sensitivity", "balanced_accuracy")]
    values += list(metrics["recall"].values()) + [v for pair in bootstrap.intervals(labels, probabilities).values()
                                                  for v in pair]
    run = screening.Predictions("r", "n", labels, probabilities)
    for condition in screening.CONDITIONS:
        point = screening.operating_point(run, 0.9, condition)
        values += [point.threshold, point.sensitivity, point.specificity, point.flagged_per_1000]
    other = screening.Predictions("s", "n", labels, probabilities[::-1].copy())
    values += list(dataclasses.asdict(screening.ensemble(run, other, "mean").figures).values())
    return values


def test_predictions_read_back_as_the_six_decimals_that_were_stored():
    labels, probabilities = realistic_predictions(0)
    as_json = np.asarray(json.loads(json.dumps(probabilities.tolist())))  # what a version-0 store read back
    packed = blobs.pack_probabilities(probabilities)
    assert np.array_equal(blobs.unpack(packed), as_json)
    assert np.array_equal(blobs.unpack(blobs.pack_labels(labels)), labels)
    assert len(packed) < len(json.dumps(probabilities.tolist())) / 3
    assert figures(labels, blobs.unpack(packed)) == pytest.approx(figures(labels, as_json), abs=1e-6)
    with_nan = probabilities.copy()
    with_nan[3, 2] = np.nan
    assert np.isnan(blobs.unpack(blobs.pack_probabilities(with_nan))[3, 2])
    assert blobs.unpack(blobs.pack_probabilities([])).shape == (0,)
    unrounded = noisy_predictions(1)[1]  # any other probabilities are kept as they are, too
    assert np.array_equal(blobs.unpack(blobs.pack_probabilities(unrounded)), unrounded)


def test_a_run_keeps_its_notes(dermalab_home):
    from engine.events import RunFinished, RunStarted

    labels, probabilities = noisy_predictions(8)
    spec = load()[8].spec
    store = Store()
    store.start(RunStarted("noted", 8, spec.name, 0, "cpu", "synthetic", 5, 1), spec.chapter, spec.page_config("fp32"),
                True, "synthetic")
    store.finish(RunFinished("noted", evaluate(labels, probabilities), probabilities.tolist(),
                             notes=("torch.compile failed, ran eager",)), labels.tolist())
    assert store.runs()[0]["notes"] == store.get("noted")["notes"] == ["torch.compile failed, ran eager"]
    store.close()


def test_every_epoch_figure_has_a_history_column():
    reported = {field.name for field in dataclasses.fields(EpochEnded)} - {"run_id", "epochs", "epoch"}
    assert reported == set(schema.HISTORY_COLUMNS)


def write_version_0(path, data_file) -> list[dict]:
    """Runs of every kind, as the old Store wrote them: finished (real and synthetic, with and without
    intervals, one whose AUC was undefined), cancelled, diverged, and one left running by a killed process."""
    experiments, now = load(), time.time() - 3600
    db = version_0.connect(path)
    written = []

    def run(run_id, experiment_id, seed, predictions=None, synthetic=True, data="synthetic", status="finished",
            intervals=True, epochs=2, metrics=None):
        spec = experiments[experiment_id].spec
        version_0.start(db, run_id, spec, seed, data, synthetic, spec.model.pretrained, epochs, now + len(written),
                        pid=2**22 + 7, host=socket.gethostname())  # above Linux's highest pid: long dead
        history = [{"epoch": e, "train_loss": 1.0 / e, "val_loss": 1.1 / e, "val_auc": 0.7 + e / 100,
                    "val_accuracy": 0.6, "lr": 1e-3, "seconds": 2.5} for e in range(1, 3)]
        for entry in history[:1 if status != "finished" else epochs]:
            version_0.epoch(db, run_id, entry)
        if status == "finished":
            labels, probabilities = predictions
            computed = metrics or {**evaluate(labels, probabilities), "params": 94599, "train_seconds": 3.0,
                                   "images_per_second": 900.0}
            if intervals and metrics is None:
                computed.update(bootstrap.intervals(labels, probabilities))
            version_0.finish(db, run_id, computed, labels.tolist(), probabilities.tolist(), now + len(written) + 0.5)
        elif status != "running":
            version_0.fail(db, run_id, status, f"the run was {status}", 2, now + len(written) + 0.5)
        written.append({"run_id": run_id, "status": status, "predictions": predictions})

    run("fin000", 8, 0, realistic_predictions(1))
    run("fin001", 8, 1, noisy_predictions(2), intervals=False)
    run("real00", 20, 0, noisy_predictions(3), synthetic=False, data=str(data_file))
    run("nanauc", 1, 0, noisy_predictions(4), metrics={"auc": None, "accuracy": 0.5, "recall": {}})
    run("cancel", 8, 2, status="cancelled")
    run("diverg", 3, 0, status="diverged")
    run("killed", 8, 3, status="running")
    db.close()
    return written


def test_a_version_0_store_is_upgraded_in_place_after_a_backup_and_keeps_every_run(dermalab_home, tmp_path):
    data_file = tmp_path / "mine.npz"
    data_file.write_bytes(b"a data file that has not changed since the run")
    os.utime(data_file, (time.time() - 7200,) * 2)
    path = dermalab_home / "runs.sqlite"
    dermalab_home.mkdir()
    written = write_version_0(path, data_file)
    with sqlite3.connect(path) as db:
        db.row_factory = sqlite3.Row
        before = {row["run_id"]: dict(row) for row in db.execute("SELECT * FROM runs")}

    store = Store()
    backup = store.upgraded_from
    assert backup.parent == path.parent and "kept as" in store.notice()
    assert store._db.execute("PRAGMA user_version").fetchone()[0] == schema.VERSION
    with sqlite3.connect(backup) as db:
        db.row_factory = sqlite3.Row
        assert {row["run_id"]: dict(row) for row in db.execute("SELECT * FROM runs")} == before

    runs = {run["run_id"]: run for run in store.runs()}
    assert list(runs) == [w["run_id"] for w in written]  # every run, in the order they started
    for run_id, old in before.items():
        run = store.get(run_id)
        same = ("experiment_id", "name", "chapter", "seed", "device", "data", "epochs", "stopped_epoch", "started_at",
                *version_0.HEADLINE, *(() if run_id == "killed" else ("status", "reason", "finished_at")))
        assert {k: run[k] for k in same} == {k: old[k] for k in same}
        expected = (bool(old["synthetic"]), bool(old["pretrained"]), "fp32")
        assert (run["synthetic"], run["pretrained"], run["precision"]) == expected
        assert run["metrics"] == (json.loads(old["metrics"]) if old["metrics"] else None)
        assert run["history"] == json.loads(old["history"])
        config = json.loads(old["config"])
        config["training"]["epochs"], config["model"]["pretrained"], config["precision"] = old["epochs"], False, "fp32"
        assert run["config"] == config
        if old["probabilities"]:
            labels, probabilities = np.asarray(json.loads(old["labels"])), np.asarray(json.loads(old["probabilities"]))
            assert np.array_equal(run["labels"], labels) and np.array_equal(run["probabilities"], probabilities)
            if run_id != "nanauc":
                assert figures(run["labels"], run["probabilities"]) == pytest.approx(figures(labels, probabilities),
                                                                                    abs=1e-6)
        else:
            assert run["labels"] is None and run["probabilities"] is None
    assert runs["killed"]["status"] == "interrupted"  # its process is gone, as after any open
    assert runs["fin000"]["auc_ci"] == json.loads(before["fin000"]["metrics"])["auc_ci"]
    assert runs["fin001"]["auc_ci"] is None and runs["fin000"]["recall"]["mel"] == runs["fin000"]["mel_recall"]
    assert runs["real00"]["data_fingerprint"] == hashlib.md5(data_file.read_bytes()).hexdigest()
    assert runs["fin000"]["data_fingerprint"] == "synthetic"
    assert runs["fin000"]["config_hash"] == runs["fin001"]["config_hash"] != runs["real00"]["config_hash"]
    store.close()

    again = Store()  # upgraded once: no second backup
    assert again.upgraded_from is None and len(list(dermalab_home.glob("runs.sqlite.version-0-backup-*"))) == 1
    again.close()


def test_an_upgrade_that_fails_half_way_changes_nothing(dermalab_home, tmp_path, monkeypatch):
    path = dermalab_home / "runs.sqlite"
    dermalab_home.mkdir()
    write_version_0(path, tmp_path / "gone.npz")
    with sqlite3.connect(path) as db:
        before = db.execute("SELECT * FROM runs ORDER BY run_id").fetchall()
    pack, packed = blobs.pack_probabilities, []

    def pack_then_fail(probabilities):
        packed.append(probabilities)
        if len(packed) == 3:
            raise OSError("the disk filled up half way")
        return pack(probabilities)

    with monkeypatch.context() as patched:
        patched.setattr(blobs, "pack_probabilities", pack_then_fail)
        with pytest.raises(UserError, match="could not be upgraded"):
            Store()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 0
        assert db.execute("SELECT * FROM runs ORDER BY run_id").fetchall() == before
        assert {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")} == {"runs"}
    assert len(Store().runs()) == len(before)


def test_a_version_1_store_is_upgraded_keeping_every_run_and_job_with_one_backup(dermalab_home):
    path = dermalab_home / "runs.sqlite"
    dermalab_home.mkdir()
    version_1.write(path)
    with sqlite3.connect(path) as db:
        db.row_factory = sqlite3.Row
        runs_before = {row["run_id"]: dict(row) for row in db.execute("SELECT * FROM runs")}
        jobs_before = {row["job_id"]: dict(row) for row in db.execute("SELECT * FROM jobs")}

    store = Store()
    assert store.upgraded_from.name.startswith("runs.sqlite.version-1-backup-") and "kept as" in store.notice()
    assert store._db.execute("PRAGMA user_version").fetchone()[0] == schema.VERSION
    with sqlite3.connect(store.upgraded_from) as db:
        db.row_factory = sqlite3.Row
        assert db.execute("PRAGMA user_version").fetchone()[0] == 1
        assert {row["job_id"]: dict(row) for row in db.execute("SELECT * FROM jobs")} == jobs_before
    runs = {row["run_id"]: dict(row) for row in store.execute("SELECT * FROM runs")}
    assert runs == {run_id: {**by_label(old), "process_started": None, "dataset": "dermamnist", "size": 28}
                    for run_id, old in runs_before.items()}  # every run before version 3 was DermaMNIST at 28
    assert all(store.get(run_id)["history"][0]["val_auc"] == 0.6 for run_id in runs)
    jobs = {job["job_id"]: job for job in JobQueue(store).current(0)}
    assert list(jobs) == list(jobs_before)  # every job, in the order they were queued
    moved = {"host", "worker_pid", "slot", "options"}
    assert {job_id: {key: job[key] for key in set(jobs_before[job_id]) - moved} for job_id, job in jobs.items()} == {
        job_id: {key: old[key] for key in set(old) - moved} for job_id, old in jobs_before.items()}
    assert {job_id: (job["executor"], job["host"], job["worker_pid"], job["slot"], job["cluster_job_id"])
            for job_id, job in jobs.items()} == {
        "waitworker": ("worker", None, None, None, None),
        "waitkept00": ("foreground", "here", 4321, None, None),
        "ranworker0": (None, "here", 4321, "cpu 1", None),  # version 1 did not say who claimed it: not guessed
        "onslurm000": ("slurm", None, None, None, "123456_0"),
        "onlocal000": ("local", None, None, None, "4242")}
    assert [job["job_id"] for job in JobQueue(store).submitted()] == ["onslurm000"]  # the other has its run
    store.close()

    again = Store()  # upgraded once: no second backup
    assert again.upgraded_from is None and len(list(dermalab_home.glob("runs.sqlite.version-*-backup-*"))) == 1
    again.close()


def test_a_store_from_a_newer_dermalab_is_refused_in_one_sentence(dermalab_home):
    dermalab_home.mkdir()
    with sqlite3.connect(dermalab_home / "runs.sqlite") as db:
        db.execute(f"PRAGMA user_version = {schema.VERSION + 1}")
    with pytest.raises(UserError, match=f"newer dermalab \\(store version {schema.VERSION + 1}"):
        Store()


def test_only_comparable_runs_are_averaged_and_each_seed_counts_once(store_run):
    labels, probabilities = noisy_predictions(5)
    for seed, auc in enumerate([0.80, 0.90]):
        store_run(labels, probabilities, experiment_id=23, seed=seed, auc=auc, synthetic=False)
    store_run(labels, probabilities, experiment_id=23, seed=1, auc=0.86, synthetic=False)  # seed 1 again: it replaces
    store_run(labels, probabilities, experiment_id=23, seed=2, auc=0.50, synthetic=False, pretrained=False)
    store_run(labels, probabilities, experiment_id=23, seed=3, auc=0.60, synthetic=False, epochs=1)
    store_run(labels, probabilities, experiment_id=23, seed=4, auc=0.70)  # synthetic
    groups = Store().groups()
    assert [(g["n"], g["auc"], g["pretrained"], g["epochs"], g["synthetic"]) for g in groups] == [
        (2, pytest.approx(0.83), True, 10, False), (1, 0.50, False, 10, False), (1, 0.60, True, 1, False),
        (1, 0.70, True, 10, True)]
    assert groups[0]["auc_std"] == pytest.approx(np.std([0.80, 0.86], ddof=1)) and groups[1]["auc_std"] is None
    assert groups[0]["recall"]["mel"] == pytest.approx(evaluate(labels, probabilities)["recall"]["mel"])


def test_runs_on_another_data_file_are_another_group(store_run, dermalab_home):
    labels, probabilities = noisy_predictions(6)
    store_run(labels, probabilities, synthetic=False, auc=0.9)
    store_run(labels, probabilities, synthetic=False, auc=0.7, run_id="other")
    with sqlite3.connect(dermalab_home / "runs.sqlite") as db:
        db.execute("UPDATE runs SET data='mine.npz', data_fingerprint='0123' WHERE run_id='other'")
    assert sorted((g["data"], g["n"], g["auc"]) for g in Store().groups()) == [
        ("dermamnist (medmnist)", 1, 0.9), ("mine.npz", 1, 0.7)]


def test_views_read_runs_in_the_store_s_order_a_window_at_a_time(store_run):
    from engine.store import summary

    labels, probabilities = noisy_predictions(7)
    for seed, auc in enumerate([0.7, None, 0.9, 0.8]):
        store_run(labels, probabilities, seed=seed, run_id=f"run{seed}", auc=auc, synthetic=seed == 3)
    store = Store()
    assert [r["run_id"] for r in store.ranked("auc", True, 10)] == ["run2", "run3", "run0", "run1"]
    assert [r["run_id"] for r in store.ranked("auc", False, 2)] == ["run0", "run3"]
    baseline = summary.Page(load()).baseline("auc")  # experiment 8's page AUC is 0.8966; synthetic runs have none
    assert [r["run_id"] for r in store.ranked("auc", True, 10, baseline)] == ["run2", "run0", "run1", "run3"]
    assert store.overview()[8] == {"experiment_id": 8, "runs": 4, "best_real_auc": 0.9,
                                   "best_synthetic_auc": 0.8, "status": "finished", "params": 94599}
