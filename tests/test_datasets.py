"""Issue 27: every 2D MedMNIST set and size. INFO's records as the lab reads them, a synthetic stand-in of each
set's shape, training on grey, binary and ordinal sets and on larger images, runs kept apart per set in the store,
and DermaMNIST at 28 exactly as before (hashes, parameters, store rows)."""

from __future__ import annotations

import csv
import io
import json
import sqlite3

import numpy as np
import pytest

from engine import classes
from engine.experiments.load import load
from engine.store import schema
from engine.store.runs import Store
from engine.training import data
from engine.training.options import RunOptions, run_config
from tests import version_2_store as version_2
from tests import version_3_store as version_3
from tests.conftest import app_with, evaluate_on, medmnist_arrays, stored_on, synchronous
from tui import exit_codes
from tui.cli.main import main
from tui.text import screening as words

TRAINED = [name for name in classes.names() if name != "chestmnist"]


def test_medmnists_info_has_what_the_lab_reads_for_every_2d_set():
    from medmnist import INFO  # the package itself (it imports torch), against the lab's torch-free read of it

    assert classes.info() == INFO
    assert len(classes.names()) == 12 and "organmnist3d" not in classes.names()
    for name in classes.names():
        record = INFO[name]
        assert {"task", "n_channels", "label", "n_samples"} <= record.keys(), name
        assert record["n_channels"] in (1, 3) and set(record["n_samples"]) == {"train", "val", "test"}
        assert sorted(record["label"], key=int) == [str(i) for i in range(len(record["label"]))]
        for size in classes.SIZES:
            suffix = "" if size == 28 else f"_{size}"
            assert record[f"url{suffix}"].startswith("https://") and len(record[f"MD5{suffix}"]) == 32, (name, size)


def test_reading_info_leaves_the_home_folder_alone(tmp_path, monkeypatch):
    # Running medmnist's info.py would make ~/.medmnist (its DEFAULT_ROOT): the lab reads INFO without running it.
    monkeypatch.setenv("HOME", str(tmp_path))
    classes.info.cache_clear()
    try:
        assert "dermamnist" in classes.info()
    finally:
        classes.info.cache_clear()
    assert list(tmp_path.iterdir()) == []


def test_each_critical_class_is_one_of_its_sets_classes():
    for name, critical in classes.CRITICAL.items():
        names = classes.medset(name).classes
        assert critical.focus in critical.group and set(critical.group) <= set(names), name
        assert critical.reason and critical.source
    assert classes.medset().critical.focus == "mel"


@pytest.mark.parametrize("name", TRAINED)
def test_a_synthetic_stand_in_has_its_sets_shape(name):
    chosen = classes.medset(name)
    dataset = data.synthetic(chosen)
    assert dataset.synthetic and dataset.medset == chosen
    assert dataset.fingerprint == ("synthetic" if chosen.default else f"synthetic {name}")
    for split, images in dataset.images.items():
        assert images.shape[1:] == (28, 28, chosen.channels) and images.dtype == np.uint8
        assert set(dataset.labels[split]) == set(range(len(chosen.classes))), split  # every class, in every split
    if not chosen.default:  # DermaMNIST's keeps the real counts; the others, the real proportions, scaled down
        counts = data.shaped_counts(chosen)
        assert counts["train"] > counts["val"] and sum(counts.values()) < 1500


def test_larger_sizes_are_drawn_at_that_size():
    dataset = data.synthetic(classes.medset("pneumoniamnist", 128))
    assert dataset.images["val"].shape[1:] == (128, 128, 1)
    assert dataset.fingerprint == "synthetic pneumoniamnist 128"


def test_at_28_dermamnist_configs_hash_as_before_and_another_set_makes_another_run(tiny_experiments):
    experiment = load(tiny_experiments)[1]
    page = run_config(experiment, RunOptions(precision="fp32"))
    assert "data" not in page and page == experiment.spec.run_config(1, False, "fp32")
    other = run_config(experiment, RunOptions(precision="fp32", dataset="bloodmnist", size=64))
    assert other["data"] == {"dataset": "bloodmnist", "size": 64}


@pytest.mark.parametrize("name, size, arch", [("breastmnist", 28, "cnn"), ("retinamnist", 64, "cnn"),
                                              ("octmnist", 28, "resnet18")])
def test_a_set_trains_with_its_channels_classes_and_size(tiny_experiments, name, size, arch):
    import torch

    from engine.events import RunFinished
    from engine.training import models, train

    experiments = load(tiny_experiments)
    spec = experiments[1].spec
    if arch == "resnet18":
        spec = spec.model_copy(update={"model": spec.model.model_copy(update={"arch": "resnet18", "small_stem": True})})
    chosen = classes.medset(name, size)
    dataset = few(data.synthetic(chosen), 24)  # a ResNet18 on a thousand images takes minutes here
    torch.set_num_threads(1)
    events = list(train.train(spec, dataset, RunOptions(device="cpu", pretrained=False), "r"))
    finished = events[-1]
    assert isinstance(finished, RunFinished), finished
    probabilities = np.array(finished.probabilities)
    assert probabilities.shape == (len(dataset.labels["val"]), len(chosen.classes))
    assert finished.metrics["recall"].keys() == set(chosen.classes)
    critical = chosen.critical
    assert finished.metrics["mel_recall"] == finished.metrics["recall"][critical.focus]
    assert finished.metrics["params"] == models.count_parameters(models.build(spec.model, False, chosen))
    notes = " ".join(finished.notes)
    assert ("repeated to three channels" in notes) == (arch == "resnet18")
    assert ("ordinal" in notes) == (name == "retinamnist")


def few(dataset: data.Dataset, count: int) -> data.Dataset:
    """The first `count` images of each split (the shuffled labels hold every class of these sets there)."""
    from dataclasses import replace

    return replace(dataset, images={split: images[:count] for split, images in dataset.images.items()},
                   labels={split: labels[:count] for split, labels in dataset.labels.items()})


def test_a_set_without_critical_classes_has_no_clinical_figures():
    from engine.analysis.metrics import evaluate

    chosen = classes.medset("bloodmnist")
    labels = np.arange(16) % 8
    metrics = evaluate(labels, np.eye(8)[labels] * 0.9 + 0.0125, chosen)
    assert metrics["auc"] == 1 and metrics["mel_recall"] is None and metrics["cancer_sensitivity"] is None


def test_the_smallest_cnn_classifier_follows_the_image_size(experiments_toml):
    from engine.training import models

    experiments = load(experiments_toml)
    flattens = experiments[1].spec.model  # the baseline flattens its last feature map into the classifier
    counts = {size: models.count_parameters(models.build(flattens, False, classes.medset("pathmnist", size)))
              for size in (28, 64)}
    assert counts[64] - counts[28] == 16 * (16 * 16 - 7 * 7) * 9  # 16 channels of 16x16, not 7x7, into 9 classes
    assert models.count_parameters(models.build(experiments[8].spec.model, False)) == 94599  # DermaMNIST at 28


@pytest.mark.parametrize("args, expected", [
    (["--dataset", "nosuchmnist"], "--dataset nosuchmnist: unknown dataset; use one of pathmnist, chestmnist, "),
    (["--size", "32"], "--size 32: MedMNIST has no such size; use 28, 64, 128, 224."),
    (["--size", "big"], "--size big: give one of MedMNIST's sizes, 28, 64, 128, 224."),
    (["--dataset", "chestmnist"], "--dataset chestmnist: a multi-label, binary-class set (several findings per "
                                  "image) needs a sigmoid per label"),
], ids=["unknown set", "unknown size", "not a number", "multi-label"])
def test_a_set_or_size_the_lab_cannot_train_is_one_sentence(refused, dermalab_home, args, expected):
    assert refused("run", "1", "--data", "synthetic", *args).startswith(expected)


def test_a_file_of_another_shape_than_the_chosen_set_is_one_sentence(refused, dermalab_home, tmp_path):
    path = tmp_path / "derma.npz"
    np.savez(path, **medmnist_arrays())  # RGB 28x28, seven classes
    message = refused("run", "1", "--data", str(path), "--dataset", "pneumoniamnist")
    assert message == (f"--data {path}: 'train_images' has shape (4, 28, 28, 3), but pneumoniamnist images are "
                       "N x 28 x 28 (or N x 28 x 28 x 1); give that set's file at that size, or the --dataset and "
                       "--size this file holds.")
    message = refused("run", "1", "--data", str(path), "--size", "64")
    assert "but dermamnist 64 images are N x 64 x 64 x 3" in message


def test_a_grey_file_as_medmnist_writes_it_is_read_with_one_channel(tmp_path):
    grey = {f"{split}_images": np.full((4, 28, 28), 9, np.uint8) for split in ("train", "val", "test")}
    labels = {f"{split}_labels": np.array([[0], [1], [0], [1]], np.uint8) for split in ("train", "val", "test")}
    path = tmp_path / "breast.npz"
    np.savez(path, **grey, **labels)
    dataset = data.read_npz(path, "test", classes.medset("breastmnist"))
    assert dataset.images["train"].shape == (4, 28, 28, 1) and dataset.labels["val"].tolist() == [0, 1, 0, 1]


def test_runs_record_their_set_and_size_and_older_stores_upgrade_to_dermamnist_28(dermalab_home, capsys,
                                                                                  tiny_experiments):
    dermalab_home.mkdir()
    version_2.write(dermalab_home / "runs.sqlite")
    code = main(["run", "1", "--data", "synthetic", "--dataset", "breastmnist", "--experiments",
                 str(tiny_experiments), "--device", "cpu", "--json"])
    assert code == exit_codes.OK, capsys.readouterr().err
    printed = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert len(list(dermalab_home.glob("runs.sqlite.version-2-backup-*"))) == 1
    with sqlite3.connect(Store().path) as db:
        rows = {run: (dataset, size) for run, dataset, size in db.execute("SELECT run_id, dataset, size FROM runs")}
        assert db.execute("PRAGMA user_version").fetchone()[0] == schema.VERSION
    assert rows == {**dict.fromkeys(version_2.RUNS, ("dermamnist", 28)), printed["run_id"]: ("breastmnist", 28)}
    assert printed["data"] == "synthetic breastmnist"


def test_a_version_3_store_upgrades_with_each_runs_recall_by_its_sets_classes(dermalab_home):
    """Version 3 kept a column per DermaMNIST class; version 4 keeps them by label, for every set. A PathMNIST run's
    recalls, which version 3 kept only in its metrics, fill its columns."""
    dermalab_home.mkdir()
    version_3.write(dermalab_home / "runs.sqlite")
    store = Store()
    assert store.upgraded_from.name.startswith("runs.sqlite.version-3-backup-")
    with sqlite3.connect(store.upgraded_from) as db:
        assert db.execute("SELECT recall_mel FROM runs WHERE run_id = 'dermarun00'").fetchone() == (0.5,)
    recalls = {}
    for dataset in ("dermamnist", "pathmnist"):
        store.scope = (dataset, 28)
        (run,), (group,) = store.runs(), store.groups()
        assert run["recall"] == group["recall"]
        recalls[dataset] = run["recall"]
    assert recalls == {"dermamnist": version_3.DERMA_RECALLS, "pathmnist": version_3.PATH_RECALLS}
    assert store.execute("SELECT recall_4, recall_8 FROM runs WHERE run_id = 'pathrun000'")[0][:] == (0.5, 0.1)
    store.close()


def test_a_run_exported_by_a_version_3_store_is_imported_with_its_recalls_by_label(dermalab_home, tmp_path):
    """A cluster task that started before the upgrade exports its run with version 3's recall columns: a DermaMNIST
    run's hold its recalls, another set's are empty, and its stored metrics fill them, as the upgrade does."""
    version_3.write(tmp_path / "task.sqlite")
    home = Store()
    for run_id in version_3.RUNS:
        assert home.imported(version_3.exported(tmp_path / "task.sqlite", run_id))
    assert {run["run_id"]: run["recall"] for run in home.runs()} == {
        "dermarun00": version_3.DERMA_RECALLS, "pathrun000": version_3.PATH_RECALLS}
    assert home.execute("SELECT recall_4, recall_8 FROM runs WHERE run_id = 'pathrun000'")[0][:] == (0.5, 0.1)


def test_runs_of_a_set_the_installed_medmnist_does_not_list_are_shown_with_their_labels_for_names(dermalab_home):
    """A run stored by a dermalab whose medmnist listed a set this one's does not: its recalls by label."""
    run_id = stored_on("breastmnist")
    store = Store()
    with store.transaction() as db:
        db.execute("UPDATE runs SET dataset = 'nosuchmnist' WHERE run_id = ?", (run_id,))
    store.scope = ("nosuchmnist", 28)
    (run,), (group,) = store.runs(), store.groups()
    assert run["recall"] == group["recall"] and list(run["recall"])[:3] == ["0", "1", "2"]
    assert (run["recall"]["0"], run["recall"]["1"], run["recall"]["2"]) == (1, 1, None)
    store.close()


def test_each_set_and_size_downloads_its_own_file_through_the_checked_path(monkeypatch, dermalab_home):
    """The same fetch as DermaMNIST's (tests/test_download.py), named and checked as medmnist names and checks it."""
    import hashlib
    import http.server
    import threading

    shaped, buffer = data.synthetic(classes.medset("breastmnist", 64)), io.BytesIO()
    np.savez(buffer, **{f"{split}_images": images[..., 0] for split, images in shaped.images.items()},  # as medmnist
             **{f"{split}_labels": labels.astype(np.uint8)[:, None] for split, labels in shaped.labels.items()})
    body = buffer.getvalue()
    asked = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()
    try:
        record = classes.info()["breastmnist"]
        monkeypatch.setitem(record, "url_64", f"http://127.0.0.1:{server.server_address[1]}/breastmnist_64.npz")
        monkeypatch.setitem(record, "MD5_64", hashlib.md5(body).hexdigest())
        dataset = data.load("auto", "breastmnist", 64)
    finally:
        server.shutdown()
        server.server_close()
    assert asked == ["/breastmnist_64.npz"]
    assert sorted(path.name for path in (dermalab_home / "data").iterdir()) == ["breastmnist_64.npz"]
    assert dataset.source == "breastmnist 64 (medmnist)" and dataset.images["val"].shape[1:] == (64, 64, 1)
    assert data.fingerprint_for("auto", "breastmnist", 64) == hashlib.md5(body).hexdigest()


def test_views_show_one_set_at_a_time(dermalab_home, capsys, tiny_experiments):
    for extra in ([], ["--dataset", "pneumoniamnist"], ["--dataset", "pneumoniamnist", "--size", "64"]):
        assert main(["run", "1", "--data", "synthetic", "--experiments", str(tiny_experiments), "--device", "cpu",
                     "--json", *extra]) == exit_codes.OK
    out, err = capsys.readouterr()
    ran = [json.loads(line)["run_id"] for line in out.splitlines()]
    # each run's line on stderr names its own set's critical figures
    assert [line.split("·")[1].split()[:2] for line in err.splitlines() if " seed 0:" in line] == [
        ["mel", "rec"], ["pneu", "rec"], ["pneu", "rec"]]

    def shown(*args: str) -> list[str]:
        assert main(["results", "--format", "json", "--experiments", str(tiny_experiments), *args]) == exit_codes.OK
        return [row["run_id"] for row in json.loads(capsys.readouterr().out)]

    assert shown() == ran[:1]  # DermaMNIST at 28 by default, as before sets could be chosen
    assert shown("--dataset", "pneumoniamnist") == ran[1:2]
    assert shown("--dataset", "pneumoniamnist", "--size", "64") == ran[2:]
    store = Store()
    store.scope = ("pneumoniamnist", 64)
    assert [group["n"] for group in store.groups()] == [1] and store.statuses() == {"finished": 1}
    assert main(["results", "--dataset", "pneumoniamnist", "--experiments", str(tiny_experiments)]) == exit_codes.OK
    table = " ".join(capsys.readouterr().out.split())
    assert "on pneumoniamnist, pneu rec is the recall of 'pneumonia' and pneu the mean recall of pneumonia" in table


def test_what_makes_no_sense_on_a_set_is_said_in_the_notes_not_done(experiments_toml):
    from engine.training import train

    experiments = load(experiments_toml)
    organs = data.Dataset("organs", True, {}, {}, "organs", classes.medset("organamnist"))
    assert [type(op).__name__ for op in train.kept_ops(experiments[12].spec, organs)] == ["Rotation"]
    assert train.set_notes(experiments[12].spec, organs, 1) == [
        "no horizontal flips: organamnist's left and right organs are classes of their own"]
    skin = data.Dataset("skin", True, {}, {}, "skin", classes.medset())
    assert train.kept_ops(experiments[12].spec, skin) == experiments[12].spec.augment
    assert train.set_notes(experiments[25].spec, skin, 3) == []  # DermaMNIST: nothing differs from the page


def test_larger_images_are_estimated_before_they_train(experiments_toml, dermalab_home):
    from engine.jobs.estimate import estimate, speeds_for

    experiments = load(experiments_toml)
    page, epochs = experiments[8].spec.published.time_s, experiments[8].spec.training.epochs
    at_28 = estimate([experiments[8]], experiments, [])
    at_224 = estimate([experiments[8]], experiments, [], classes.medset("pathmnist", 224))
    assert at_224.rough and at_224.seconds == pytest.approx(page * 64 * 89996 / 7007) and at_28.seconds == page
    measured = estimate([experiments[8]], experiments, [{"experiment_id": 8, "images_per_second": 100.0}],
                        classes.medset("pathmnist", 224))
    assert not measured.rough and measured.seconds == pytest.approx(epochs * 899.96)
    # Nothing ran at 224 yet, but experiment 8 took twice the page's time at 28 here: at 224 it is taken to as well.
    twice = [{"experiment_id": 8, "images_per_second": 7007 / (2 * page / epochs)}]
    scaled = estimate([experiments[8]], experiments, [], classes.medset("pathmnist", 224), twice)
    assert scaled.scaled and not scaled.rough and scaled.seconds == pytest.approx(2 * at_224.seconds)
    run = stored_on("pathmnist")  # at 28, where the estimate at 224 takes its pace from
    with sqlite3.connect(Store().path) as db:
        db.execute("UPDATE runs SET images_per_second = 500 WHERE run_id = ?", (run,))
    store = Store()
    assert speeds_for(store, "pathmnist", 224) == ([], [{"experiment_id": 8, "images_per_second": 500.0}])
    assert store.scope is None  # as it was


def test_a_grey_sets_val_images_are_drawn_in_grey_with_its_class_names(dermalab_home, capsys, tiny_experiments):
    from tui.views import galleries

    assert main(["run", "1", "--data", "synthetic", "--dataset", "breastmnist", "--experiments",
                 str(tiny_experiments), "--device", "cpu", "--json"]) == exit_codes.OK
    run_id = json.loads(capsys.readouterr().out.splitlines()[-1])["run_id"]
    run = Store().get(run_id)
    true, called = int(run["labels"][0]), int(run["probabilities"][0].argmax())  # a cell that holds an image
    gallery = galleries.confusion_cell(Store().path, run_id, true, called)
    names = ("malignant", "normal, benign")
    assert gallery.sections[0].title.startswith(f"true {names[true]}, called {names[called]}")
    picture = gallery.sections[0].tiles[0].image
    assert picture.shape == (28, 28, 3) and (picture == picture[..., :1]).all()  # grey: equal channels
    missed = galleries.missed_melanomas(Store().path, run_id)  # the set's critical class: malignant
    assert missed.legend == "ordered by P(malignant), highest first: the nearest misses"
    assert missed.sections[0].title.startswith("malignant images called something else: ")


def test_a_sweep_on_another_set_finds_its_points_there(dermalab_home):
    from engine.events import RunFinished, RunStarted
    from engine.experiments import sweeps
    from engine.store.sweep_results import sweep_results

    experiments = load()
    sweep = sweeps.named("adam-lr", experiments)
    point = sweep.points()[0]  # lr=0.00341, epochs=5, beside the epochs=10 point of the same rate
    chosen, store = classes.medset("bloodmnist"), Store()
    labels = np.arange(8).repeat(2)
    probabilities = np.eye(8)[labels] * 0.5 + 0.0625
    epochs = point.spec.training.epochs
    config = classes.name_in(point.spec.run_config(epochs, False, "fp32"), "bloodmnist", 28)
    store.start(RunStarted("bloodpoint", point.id, point.spec.name, 0, "cpu", "synthetic bloodmnist", epochs, 1),
                point.spec.chapter, config, True, "synthetic bloodmnist")
    store.finish(RunFinished("bloodpoint", {**evaluate_on(labels, probabilities, chosen), "params": 1,
                                            "train_seconds": 1.0}, probabilities.tolist()), labels.tolist())
    store.scope = ("bloodmnist", 28)
    found = sweep_results(store, sweep, sweep.points())
    assert [row["n"] for row in found.rows if row["point"] == point.point.label()] == [1]
    store.scope = ("dermamnist", 28)
    assert not any(row["n"] for row in sweep_results(store, sweep, sweep.points()).rows)


def test_screening_follows_the_sets_critical_classes_and_never_mixes_sets(dermalab_home, refused, capsys):
    blood, path = stored_on("bloodmnist"), stored_on("pathmnist")
    assert main(["results", "--dataset", "octmnist"]) == exit_codes.OK  # a set the store has no run on
    assert capsys.readouterr().out == ("No runs on octmnist; the store holds runs on bloodmnist, pathmnist, which "
                                       "--dataset and --size show.\n")
    # PathMNIST screens for its tumour class, and its notes say which class that is.
    assert main(["operating-point", path, "--target", "1", "--json"]) == exit_codes.OK
    point = json.loads(capsys.readouterr().out)
    assert (point["class"], point["sensitivity"], point["specificity"], point["flagged_per_1000"]) == ("mel", 1, 1, 0)
    assert main(["operating-point", path]) == exit_codes.OK
    table = " ".join(capsys.readouterr().out.split())
    assert "--class mel and --class cancer both screen for colorectal adenocarcinoma epithelium" in table
    assert f"{path} {words.condition_short('pathmnist', 'mel')} " in table  # the class by its title, not 'mel'
    # BloodMNIST declares no critical class: no threshold to set, and its ensembles take the mean rule.
    assert refused("operating-point", blood) == (
        f"Run {blood} is on bloodmnist, which declares no critical class (engine/classes.py), so there is none to "
        "screen for; its AUC and accuracies are in results, and an ensemble of two of its runs combines them by the "
        "mean rule.")
    other = stored_on("bloodmnist", seed=1)
    assert main(["ensemble", blood, other, "--json"]) == exit_codes.OK
    combined = json.loads(capsys.readouterr().out)
    assert (combined["rule"], combined["mel_recall"], combined["auc"], combined["balanced_accuracy"]) == (
        "mean", None, 1, 1)
    assert main(["ensemble", blood, other]) == exit_codes.OK
    table = capsys.readouterr().out
    assert "mean ensemble" in table and "bal acc" in table and "malignant" not in table and "mel rec" not in table
    assert "share of val images called right" in table and "lesion" not in table  # blood cells, not skin lesions
    assert refused("ensemble", blood, other, "--rule", "or").startswith("The or rule flags the critical classes")
    assert refused("ensemble", blood, path) == (f"Run {blood} is on bloodmnist and run {path} on pathmnist; two runs "
                                                "combine only on the same set at the same size.")


def test_results_title_the_clinical_columns_after_the_sets_critical_classes(dermalab_home, capsys):
    stored_on("pathmnist")
    assert main(["results", "--dataset", "pathmnist"]) == exit_codes.OK
    header, *_ = capsys.readouterr().out.splitlines()
    assert header.split()[6:9] == ["AUC", "TUM", "rec"] and "TUM rec  TUM " in header and "mel rec" not in header
    assert main(["results", "pathmnistrun"]) == exit_codes.OK  # one run: titled after its own set
    header, *_ = capsys.readouterr().out.splitlines()
    assert "TUM rec" in header and "TUM rec 95% CI" in header and "mel rec" not in header


def test_each_sets_runs_keep_their_recall_per_class_and_a_set_without_critical_classes_has_no_clinical_column(
        dermalab_home, capsys):
    for name in ("pathmnist", "bloodmnist"):
        stored_on(name)
    assert main(["results", "--dataset", "pathmnist", "--format", "csv", "--sort", "recall_adipose"]) == exit_codes.OK
    (row,) = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert row["recall_colorectal adenocarcinoma epithelium"] == row["recall_adipose"] == "1.0"
    assert main(["results", "pathmnistrun", "--confusion", "--format", "json"]) == exit_codes.OK
    assert [line["true"] for line in json.loads(capsys.readouterr().out)] == list(classes.class_names("pathmnist"))
    blood = ["--dataset", "bloodmnist"]
    for command in (["results", *blood], ["results", "--per-experiment", *blood], ["compare", *blood],
                    ["results", "bloodmnistrun"]):
        assert main(command) == exit_codes.OK
        table = capsys.readouterr().out
        assert "AUC" in table and not {"mel", "cancer", "rec"} & set(table.split()), command
        assert "bloodmnist declares no critical class, so no clinical recall is shown" in table


def titles(table) -> list[str]:
    """A table's column titles as shown."""
    return [str(column.label).strip() for column in table.columns.values()]


@pytest.mark.slow
@synchronous
async def test_the_apps_leaderboard_and_grid_title_them_so_too(dermalab_home):
    from tui.app.widgets.frame.key_line import KeyLine
    from tui.app.widgets.results.leaderboard_table import LeaderboardTable
    from tui.app.widgets.results.recall_grid import RecallGrid

    stored_on("octmnist")
    app = app_with("--data", "synthetic", "--dataset", "octmnist")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("l")
        shown = titles(app.screen.query_one(LeaderboardTable))
        assert "CNV rec" in shown and "CNV+DME" in shown and "mel rec" not in shown and "cancer" not in shown
        missed = {entry.binding.description for entry in app.screen.active_bindings.values()
                  if entry.binding.id == "missed-melanomas"}
        assert missed == {"Missed CNV"}  # the set's critical class, not melanoma
        assert ("M", "Missed CNV") in app.screen.query_one(KeyLine).entries  # and so the key line says
        legend = str(app.screen.query_one("#legend").render())
        assert "CNV+DME: mean of the choroidal neovascularization, diabetic macular edema recalls" in legend
        await pilot.press("s")  # sorted by the critical class's recall, and the caption says so
        assert app.ranking.key == "mel_recall" and "CNV rec" in str(app.screen.query_one("#order-caption").render())
        await pilot.press("g")
        grid = app.screen.query_one(RecallGrid)  # a row of the set's four classes, CNV standing out
        assert titles(grid) == ["#", "experiment", "CNV▼", "diab-me", "drusen", "normal", "CNV+DME"]
        assert [str(cell).strip() for cell in grid.get_row_at(0)[2:]] == ["100", "100", "100", "100", "100"]
        await pilot.press("s", "s")  # after CNV and CNV+DME, the other classes by the CSV's names
        assert app.ranking.key == "recall_diabetic macular edema"
        assert "by diabetic macular edema recall" in str(app.screen.query_one("#order-caption").render())
        await pilot.press("f")
        metrics = next(chart for chart in app.screen.charts if chart.key == "metrics")
        assert [series.name for series in metrics.series] == ["AUC", "CNV rec", "CNV+DME"]


@pytest.mark.slow
@synchronous
async def test_a_set_without_critical_classes_shows_no_clinical_column_in_the_app(dermalab_home):
    """BloodMNIST declares no critical class: its leaderboard, grid and charts show none, rather than an empty
    'mel rec'; its grid has a column per class, titled short, the names whole in the legend."""
    from tui.app.widgets.results.confusion_matrix import ConfusionMatrix
    from tui.app.widgets.results.figures import FigureTable
    from tui.app.widgets.results.leaderboard_table import LeaderboardTable
    from tui.app.widgets.results.recall_grid import RecallGrid

    stored_on("bloodmnist")
    app = app_with("--data", "synthetic", "--dataset", "bloodmnist")
    async with app.run_test(size=(120, 24)) as pilot:
        await pilot.press("l")
        shown = titles(app.screen.query_one(LeaderboardTable))
        assert "AUC ▼" in shown and not {"mel rec", "cancer", "Δmel pts"} & set(shown)
        assert app.screen.check_action("missed_melanomas", ()) is False  # no critical class: no missed cases' key
        assert "cancer" not in str(app.screen.query_one("#legend").render())
        await pilot.press("g")
        grid = app.screen.query_one(RecallGrid)
        assert titles(grid)[2:] == ["basoph…", "eosino…", "erythr…", "imma-gm", "lympho…", "monocy…", "neutro…",
                                    "platel…"] and grid.row_count == 1
        legend = str(app.screen.query_one("#legend").render())
        assert "classes: basophil, eosinophil," in legend and "MEL" not in legend
        await pilot.press("s")
        assert app.ranking.key == "recall_basophil"
        await pilot.press("enter")  # the run's detail: its recall and confusion matrix by the set's classes
        await pilot.pause()
        matrix = app.screen.query_one(ConfusionMatrix)
        assert matrix.names == list(classes.class_names("bloodmnist")) and matrix.cursor == (0, 0)
        assert app.screen.check_action("missed_melanomas", ()) is False
        assert "recall: basophil 100% · eosinophil 100%" in str(app.screen.query_one("#run-recall").render())
        figures = app.screen.query_one(FigureTable).content.columns[0].cells
        assert [str(cell) for cell in figures] == ["AUC (macro)", "accuracy", "balanced accuracy"]  # no clinical
        assert "cancer" not in " ".join(str(static.render()) for static in app.screen.query(".legend"))
        await pilot.press("escape", "f")
        assert not {"clinical", "metrics"} & {chart.key for chart in app.screen.charts}
