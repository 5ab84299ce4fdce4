"""The command line end to end: real training on synthetic images, a real SQLite store, results and compare."""

import csv
import io
import json
import subprocess
import sys

import pytest

from engine.classes import CLASSES
from tests.conftest import REPO

pytestmark = pytest.mark.slow  # most of these tests train, and one starts a python child


def test_run_stores_every_run_and_results_reads_them_back(cli, stored, edited_experiments):
    # Experiments 1 and 2 as the page has them, but in batches of 512 (2 inherits it): four runs in seconds.
    quick = edited_experiments(replace={"training.batch_size = 32 ": "training.batch_size = 512 "})
    done = cli("run", "1-2", "--seeds", "2", "--data", "synthetic", "--epochs", "1", "--json",
               "--experiments", str(quick))
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(r["id"], r["seed"]) for r in lines] == [(1, 0), (1, 1), (2, 0), (2, 1)]
    assert all(r["status"] == "finished" and r["data"] == "synthetic" and r.pop("reused") is False for r in lines)
    assert set(lines[0]["recall"]) == set(CLASSES) and lines[0]["params"] == 6887
    assert lines[0]["differs"] == ["synthetic data", "1/5 epochs"] and lines[0]["epochs"] == 1

    runs = [stored.get(run["run_id"]) for run in stored.runs()]
    assert [(r["run_id"], r["status"], r["synthetic"], len(r["history"]), r["probabilities"].shape) for r in runs] == [
        (r["run_id"], "finished", True, 1, (1003, 7)) for r in lines]

    results = json.loads(cli("results", "--format", "json", "--sort", "auc", "--asc", "--experiments",
                             str(quick)).stdout)
    aucs = [r["auc"] for r in results]
    assert aucs == sorted(aucs) and {r["run_id"] for r in results} == {r["run_id"] for r in lines}
    assert sorted(lines, key=lambda r: r["run_id"]) == sorted(results, key=lambda r: r["run_id"])  # one vocabulary

    # Quick looks on synthetic data are grouped and shown, never set beside the page's figures.
    compare = json.loads(cli("compare", "--format", "json").stdout)
    assert [(c["id"], c["n"], c["synthetic"], c["auc_published"]) for c in compare] == [(1, 2, True, None),
                                                                                       (2, 2, True, None)]


def test_global_options_work_before_and_after_the_command(cli, edited_experiments):
    experiments = edited_experiments(replace={'name = "Baseline"': 'name = "My baseline"'})
    for args in (["--experiments", str(experiments), "list", "--json"],
                 ["list", "--json", "--experiments", str(experiments)]):
        listing = json.loads(cli(*args).stdout)
        assert listing[0]["name"] == "My baseline" and len(listing) == 25


def test_list_counts_parameters_without_importing_torch():
    code = ("import sys; from tui.cli.main import main; main(['list', '--json']); "
            "print('torch' in sys.modules, 'torchvision' in sys.modules, file=sys.stderr)")
    listed = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    listing = json.loads(listed.stdout)
    assert [r["params"] for r in listing] == [r["published"]["params"] for r in listing]
    assert listing[19]["published"]["auc"] == 0.9292 and listed.stderr == "False False\n"


def test_csv_and_markdown_results(cli, tiny_experiments):
    done = cli("run", "1", "--data", "synthetic", "--experiments", str(tiny_experiments), "--json")
    assert done.returncode == 0, done.stderr
    run = json.loads(done.stdout)
    expected = {"run_id": run["run_id"], "id": "1", "name": "Tiny", "seed": "0", "status": "finished",
                "synthetic": "True", "auc": str(run["auc"]), "mel_recall": str(run["mel_recall"]),
                "params": "147"}

    csv_out = cli("results", "--format", "csv")
    assert csv_out.returncode == 0, csv_out.stderr
    [row] = list(csv.DictReader(io.StringIO(csv_out.stdout)))
    assert {key: row[key] for key in expected} == expected
    assert {f"recall_{name}" for name in CLASSES} <= set(row) and row["auc_ci_low"] < row["auc_ci_high"]

    markdown_out = cli("results", "--format", "markdown")
    assert markdown_out.returncode == 0, markdown_out.stderr
    header, rule, line = markdown_out.stdout.splitlines()
    cells = [cell.strip() for cell in line.strip("|").split("|")]
    assert header.startswith("| run | # | name | seed | status |") and rule.startswith("|---|")
    assert cells[:5] == [run["run_id"], "1", "Tiny", "0", "finished"]
    assert cells[header.strip("|").split("|").index(" AUC ")] == f"{run['auc']:.3f}"
