"""tests/bench/suite.py on the CPU: one `dermalab run` of experiments x seeds, its figures per run, and each
experiment's AUC beside a store's CPU runs (here the store it just filled, so the two must agree exactly)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest

from engine.jobs import gpus
from engine.store.runs import Store
from tests.conftest import REPO

pytestmark = pytest.mark.slow  # each test runs the bench suite in a child process


def suite(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "tests/bench/suite.py", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=300)


def test_the_suite_times_each_run_and_sets_its_auc_beside_the_baselines(tiny_experiments, tmp_path, capsys):
    home = tmp_path / "suite-home"
    Store(home / "runs.sqlite").close()  # the baseline must exist before the suite starts; its runs come later
    done = suite("--ids", "1", "--seeds", "2", "--data", "synthetic", "--device", "cpu", "--precision", "fp32",
                 "--experiments", str(tiny_experiments), "--home", str(home), "--baseline",
                 str(home / "runs.sqlite"), "--format", "json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["command"][report["command"].index("run"):] == [
        "run", "1", "--seed", "0", "--seeds", "2", "--data", "synthetic", "--json", "--device", "cpu",
        "--precision", "fp32", "--experiments", str(tiny_experiments)]
    runs = report["runs"]
    assert [(run["id"], run["seed"], run["status"]) for run in runs] == [(1, 0, "finished"), (1, 1, "finished")]
    assert all(run["train_seconds"] > 0 and run["images_per_second"] > 0 for run in runs)
    assert report["wall_seconds"] > max(run["train_seconds"] for run in runs)
    (experiment,) = report["experiments"]
    aucs = [run["auc"] for run in runs]
    assert (experiment["id"], experiment["epochs"], experiment["n"], experiment["baseline_n"]) == (1, 1, 2, 2)
    assert experiment["auc"] == pytest.approx(sum(aucs) / 2) == experiment["baseline_auc"]
    assert experiment["difference"] == pytest.approx(0)
    if not gpus.driver_present():
        assert report["gpu_utilisation"] == {}

    bench_suite().show(report, "table", "the CPU runs")  # the tables a person reads, from the same report
    printed = capsys.readouterr().out
    assert "baseline AUC" in printed and f"{experiment['auc']:.3f}" in printed


def bench_suite():
    """tests/bench/suite.py as a module."""
    spec = importlib.util.spec_from_file_location("bench_suite", REPO / "tests" / "bench" / "suite.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_missing_baseline_is_named(tmp_path):
    done = suite("--ids", "1", "--data", "synthetic", "--baseline", str(tmp_path / "none.sqlite"))
    assert done.returncode != 0 and f"--baseline {tmp_path / 'none.sqlite'}: no such file" in done.stderr
