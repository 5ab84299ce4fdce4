"""Issue 27's lessons × datasets table: each experiment against the one it changes, seed-paired, per set, from runs
written through the store as the runner writes them (the lesson's figures are set, so the verdicts are known)."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest

from engine.analysis.metrics import evaluate
from engine.classes import medset, name_in
from engine.events import RunFinished, RunStarted
from engine.experiments.load import load
from engine.store.runs import Store
from engine.training.data import synthetic_source
from tests.conftest import SIZE, app_with, synchronous
from tui import exit_codes
from tui.cli.main import main

# set -> experiment -> AUC per seed: BatchNorm (8) clearly beats 7 on DermaMNIST (+0.053), and is noise on BloodMNIST
AUCS = {"dermamnist": {7: [0.80, 0.82, 0.81], 8: [0.85, 0.88, 0.86]},
        "bloodmnist": {7: [0.90, 0.92, 0.91], 8: [0.93, 0.89, 0.91]}}


def write_runs(store: Store) -> None:
    experiments = load()
    for name, by_experiment in AUCS.items():
        chosen = medset(name)
        labels = np.arange(len(chosen.classes)).repeat(2)
        probabilities = np.eye(len(chosen.classes))[labels] * 0.5 + 0.5 / len(chosen.classes)
        for experiment_id, aucs in by_experiment.items():
            spec = experiments[experiment_id].spec
            config = name_in(spec.run_config(spec.training.epochs, False, "fp32"), name, 28)
            for seed, auc in enumerate(aucs):
                run_id = f"{name[:5]}{experiment_id}{seed}"
                store.start(RunStarted(run_id, experiment_id, spec.name, seed, "cpu", synthetic_source(chosen),
                                       spec.training.epochs, 1), spec.chapter, config, True, synthetic_source(chosen))
                metrics = {**evaluate(labels, probabilities, chosen), "auc": auc, "params": 1, "train_seconds": 1.0}
                store.finish(RunFinished(run_id, metrics, probabilities.tolist()), labels.tolist())


def test_a_lesson_is_outside_the_noise_on_one_set_and_not_on_another(dermalab_home, capsys):
    write_runs(Store())
    assert main(["lessons", "--format", "md"]) == exit_codes.OK
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "| lesson | dermamnist (synthetic) | bloodmnist (synthetic) |"
    assert len([line for line in lines if line.startswith("| 8 vs 7")]) == 1 and lines[3] == ""  # one lesson has both
    derma, blood = lines[2].split(" | ")[1:3]
    assert derma.startswith("ΔAUC **+0.053 [") and "Δrecall +0.000" in derma  # mel recall: equal predictions
    assert blood.startswith("ΔAUC +0.000 [") and "**" not in blood and "Δrecall" not in blood  # no critical class


def test_latex_and_csv_carry_the_same_cells(dermalab_home, capsys):
    write_runs(Store())
    assert main(["lessons", "--format", "latex", "--datasets", "bloodmnist,dermamnist"]) == exit_codes.OK
    latex = capsys.readouterr().out.splitlines()
    assert latex[1] == "lesson & bloodmnist (synthetic) & dermamnist (synthetic) \\\\"
    assert "\\textbf{+0.053 [" in latex[2] and latex[-1] == "\\end{tabular}"
    assert main(["lessons", "--format", "csv", "--datasets", "bloodmnist,dermamnist"]) == exit_codes.OK
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))  # a row per figure, its numbers apart
    assert [(row["dataset"], row["figure"], row["outside_noise"]) for row in rows] == [
        ("bloodmnist", "auc", "False"), ("dermamnist", "auc", "True"), ("dermamnist", "mel_recall", "False")]
    derma = rows[1]
    assert float(derma["low"]) < float(derma["mean"]) < float(derma["high"])
    assert float(derma["mean"]) == pytest.approx(0.053, abs=5e-4)
    assert derma["lesson"].startswith("8 vs 7") and (derma["seeds"], derma["synthetic"]) == ("3", "True")
    assert main(["lessons", "--format", "csv", "--datasets", "pathmnist"]) == exit_codes.OK
    assert "No lesson has runs of both its experiments on pathmnist" in capsys.readouterr().err


@pytest.mark.slow  # drives the app through Pilot
@synchronous
async def test_the_app_shows_the_table_on_its_key(dermalab_home):
    from tui.app.screens.lessons import LessonsScreen

    write_runs(Store())
    app = app_with("--data", "synthetic")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("L")
        await pilot.pause()
        assert isinstance(app.screen, LessonsScreen)
        table = app.screen.table()  # what its Static shows
        assert [column.header for column in table.columns] == [
            "lesson", "dermamnist (synthetic)", "bloodmnist (synthetic)"]
        derma = next(iter(table.columns[1].cells))
        assert derma.plain.startswith("ΔAUC +0.053 [") and derma.spans[0].style == "green"  # outside the noise
        assert next(iter(table.columns[2].cells)).spans[0].style == "dim"
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, LessonsScreen)
