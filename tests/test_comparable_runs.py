"""Numbers a user can trust from the command line: only comparable runs averaged and set beside the page, runs
unlike the page marked, one JSON vocabulary without NaN, seeds not run twice, and prune."""

from __future__ import annotations

import io
import json

import pytest

from engine.events import RunFailed, RunStarted
from engine.experiments.load import load
from engine.training.device import run_precision
from engine.training.options import RunOptions
from tests.conftest import noisy_predictions
from tui import exit_codes
from tui.cli.main import main


def strict(text: str):
    """JSON as a strict parser reads it: NaN and Infinity are not JSON."""
    def refuse(token):
        raise ValueError(f"{token} in JSON output")
    return json.loads(text, parse_constant=refuse)


def output(capsys, *args: str):
    assert main(list(args)) == exit_codes.OK
    return capsys.readouterr().out


def test_quick_looks_and_runs_without_weights_are_kept_apart_and_marked(store_run, capsys):
    labels, probabilities = noisy_predictions(0)
    for seed, auc in enumerate([0.90, 0.92, 0.94]):  # experiment 23 as the page ran it: ImageNet weights, 10 epochs
        store_run(labels, probabilities, experiment_id=23, seed=seed, auc=auc, synthetic=False)
    store_run(labels, probabilities, experiment_id=23, seed=3, auc=0.70, synthetic=False, pretrained=False)
    store_run(labels, probabilities, experiment_id=23, seed=4, auc=0.60, synthetic=False, epochs=1)

    groups = strict(output(capsys, "results", "--per-experiment", "--format", "json"))
    assert [(g["n"], round(g["auc"], 3), g["differs"], g["delta_auc"] is None) for g in groups] == [
        (3, 0.92, [], False), (1, 0.70, ["from scratch"], True), (1, 0.60, ["1/10 epochs"], True)]
    compared = strict(output(capsys, "compare", "--format", "json"))
    assert [(c["n"], c["auc_published"], c["auc_verdict"]) for c in compared] == [
        (3, 0.9148, "consistent"), (1, None, None), (1, None, None)]
    table = output(capsys, "compare")
    assert "from scratch" in table and "1/10 epochs" in table
    runs = output(capsys, "results")  # every run shown says how it ran unlike the page
    assert runs.count("from scratch") == 1 and runs.count("1/10 epochs") == 1


def test_run_and_results_speak_one_json_vocabulary_without_nan(store_run, stored, capsys):
    labels, probabilities = noisy_predictions(1)
    nan_run = store_run(labels, probabilities, auc=float("nan"))
    store_run(labels, probabilities, seed=1, auc=0.8)
    other = stored.runs()[1]["run_id"]
    outputs = [output(capsys, *args) for args in (
        ["results", "--format", "json"], ["results", "--per-experiment", "--format", "json"],
        ["compare", "--format", "json"], ["results", nan_run, "--format", "json"],
        ["ensemble", nan_run, other, "--rule", "mean", "--json"])]
    rows = [strict(text) for text in outputs]
    undefined = next(row for row in rows[0] if row["run_id"] == nan_run)
    assert undefined["auc"] is None and undefined["id"] == 8 and "experiment_id" not in undefined
    assert rows[3] == [undefined]
    assert output(capsys, "results", "--format", "csv").startswith("run_id,id,name,")


@pytest.mark.slow
def test_seeds_that_finished_are_not_run_again_unless_asked(tiny_experiments, one_thread, stored, capsys):
    tiny = str(tiny_experiments)
    run = ["run", "1", "--data", "synthetic", "--experiments", tiny]
    assert main([*run, "--seeds", "2"]) == exit_codes.OK
    assert main([*run, "--seeds", "3"]) == exit_codes.OK
    said = capsys.readouterr().err
    first = [r["run_id"] for r in stored.runs()]
    for seed, run_id in ((0, first[0]), (1, first[1])):
        assert (f"skipped #1 Tiny seed {seed}: run {run_id} finished it with the same config and data "
                "(--again runs it anyway).") in said
    assert [r["seed"] for r in stored.runs()] == [0, 1, 2]

    assert main([*run, "--seed", "1"]) == exit_codes.OK  # nothing left to run: no data is even made
    assert main([*run, "--seed", "1", "--again"]) == exit_codes.OK
    default = run_precision(RunOptions())  # bf16 where the device computes it natively, else fp32
    other = "fp32" if default == "bf16" else "bf16"
    assert main([*run, "--seed", "1", "--precision", other]) == exit_codes.OK  # another config as run
    assert [(r["seed"], r["precision"]) for r in stored.runs()] == [(0, default), (1, default), (2, default),
                                                                     (1, default), (1, other)]
    capsys.readouterr()
    groups = strict(output(capsys, "results", "--per-experiment", "--format", "json", "--experiments", tiny))
    # Seeds 0, 1 and 2: the second seed-1 run replaces the first in the mean; the other precision is a group apart.
    assert [(g["precision"], g["n"]) for g in groups] == [(default, 3), (other, 1)]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_prune_asks_then_deletes_what_did_not_finish_and_with_quick_the_quick_looks(store_run, stored, refused,
                                                                                     capsys, monkeypatch):
    labels, probabilities = noisy_predictions(2)
    kept = store_run(labels, probabilities, run_id="kept")
    store_run(labels, probabilities, seed=1, run_id="quick", epochs=1)
    spec = load()[8].spec
    with stored.opened() as store:
        for run_id, status in (("cancelled", "cancelled"), ("failed", "failed")):
            store.start(RunStarted(run_id, 8, spec.name, 2, "cpu", "synthetic", 5, 1), spec.chapter,
                        spec.page_config("fp32"), True, "synthetic")
            store.fail(RunFailed(run_id, status, f"the run {status}", 1))

    assert refused("prune") == "prune would delete 2 runs and cannot ask here; add --yes to delete them."
    monkeypatch.setattr("sys.stdin", Terminal())
    monkeypatch.setattr("builtins.input", lambda question: "n")
    assert "Nothing deleted." in output(capsys, "prune")
    monkeypatch.setattr("builtins.input", lambda question: "y")
    said = output(capsys, "prune")
    assert "2 runs that did not finish would be deleted (4 runs stored: 2 finished, 1 failed, 1 cancelled)." in said
    assert "Deleted 2 runs" in said
    assert {r["run_id"] for r in stored.runs()} == {kept, "quick"}
    said = output(capsys, "prune", "--quick", "--yes")
    assert "0 runs that did not finish and 1 quick look" in said
    assert [r["run_id"] for r in stored.runs()] == [kept] and stored.get("quick") is None
    assert output(capsys, "prune", "--yes").startswith("Nothing to prune")
