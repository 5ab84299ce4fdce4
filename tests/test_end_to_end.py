"""The command line end to end: real training on synthetic images, a real SQLite store, results and compare."""

import json
import sqlite3

from engine.experiments import CLASSES

RUN_KEYS = {"run_id", "id", "name", "seed", "device", "data", "status", "auc", "accuracy", "mel_recall",
            "cancer_sensitivity", "balanced_accuracy", "recall", "params", "train_seconds", "images_per_second"}


def test_run_stores_every_run_and_results_reads_them_back(cli, dermalab_home):
    done = cli("run", "1-2", "--seeds", "2", "--data", "synthetic", "--epochs", "1", "--json")
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(r["id"], r["seed"]) for r in lines] == [(1, 0), (1, 1), (2, 0), (2, 1)]
    assert all(set(r) == RUN_KEYS and r["status"] == "finished" and r["data"] == "synthetic" for r in lines)
    assert set(lines[0]["recall"]) == set(CLASSES) and lines[0]["params"] == 6887

    with sqlite3.connect(dermalab_home / "runs.sqlite") as db:
        stored = db.execute("SELECT run_id, status, synthetic, json_array_length(history), json_array_length(probabilities)"
                            " FROM runs ORDER BY started_at").fetchall()
    assert stored == [(r["run_id"], "finished", 1, 1, 1003) for r in lines]

    results = json.loads(cli("results", "--format", "json", "--sort", "auc", "--asc").stdout)
    aucs = [r["auc"] for r in results]
    assert aucs == sorted(aucs) and {r["run_id"] for r in results} == {r["run_id"] for r in lines}

    compare = json.loads(cli("compare", "--format", "json").stdout)
    assert [(c["experiment_id"], c["n"], c["synthetic"]) for c in compare] == [(1, 2, True), (2, 2, True)]
    assert compare[0]["auc_published"] == 0.822


def test_global_options_work_before_and_after_the_command(cli, tmp_path):
    experiments = tmp_path / "mine.toml"
    experiments.write_text(open("experiments.toml").read().replace('name = "Baseline"', 'name = "My baseline"'))
    for args in (["--experiments", str(experiments), "list", "--json"], ["list", "--json", "--experiments", str(experiments)]):
        listing = json.loads(cli(*args).stdout)
        assert listing[0]["name"] == "My baseline" and len(listing) == 25


def test_list_counts_parameters_from_the_built_models(cli):
    listing = json.loads(cli("list", "--json").stdout)
    assert [r["params"] for r in listing] == [r["published"]["params"] for r in listing]
    assert listing[19]["published"]["auc"] == 0.9292


def test_csv_and_markdown_results(cli):
    cli("run", "1", "--data", "synthetic", "--epochs", "1")
    csv_lines = cli("results", "--format", "csv").stdout.splitlines()
    assert csv_lines[0].startswith("run_id,experiment_id,name") and len(csv_lines) == 2
    markdown = cli("results", "--format", "markdown").stdout.splitlines()
    assert markdown[0].startswith("| run |") and markdown[2].startswith("| ")
