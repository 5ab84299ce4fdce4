"""The bench scripts on the CPU. tests/bench/suite.py: one `dermalab run` of experiments x seeds, its figures per
run, and each experiment's AUC beside a store's CPU runs (here the store it just filled, so the two must agree
exactly); train_speed.py's two sides, which contended.py times too."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from dataclasses import replace

import pytest
import torch

from engine.experiments.load import load
from engine.jobs import gpus
from engine.store.runs import Store
from engine.training import data
from tests.conftest import REPO

pytestmark = pytest.mark.slow  # each test trains, most in a child process


def suite(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "tests/bench/suite.py", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=300)


@pytest.mark.processes
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

    bench_module("suite").show(report, "table", "the CPU runs")  # the tables a person reads, from the same report
    printed = capsys.readouterr().out
    assert "baseline AUC" in printed and f"{experiment['auc']:.3f}" in printed


def bench_module(name: str):
    """tests/bench/NAME.py as a module."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", REPO / "tests" / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_speed_benches_train_an_epoch_on_each_side(one_thread):
    """train_speed.py's engine epoch and plain page-style loop, which contended.py times beside its competitors:
    experiment 21 (augmented, class-weighted) on a cut of the synthetic set. Nothing else runs them: a change to
    the engine's functions they call once broke both benches unseen."""
    speed = bench_module("train_speed")
    dataset = data.load("synthetic")
    dataset = replace(dataset, images={split: images[:256] for split, images in dataset.images.items()},
                      labels={split: labels[:256] for split, labels in dataset.labels.items()})
    spec = load()[21].spec
    assert speed.plain_epoch(spec, dataset, torch.device("cpu"), 0) > 0
    assert speed.engine_epoch(spec, dataset, "cpu", 0, "fp32") > 0


def test_a_missing_baseline_is_named(tmp_path):
    done = suite("--ids", "1", "--data", "synthetic", "--baseline", str(tmp_path / "none.sqlite"))
    assert done.returncode != 0 and f"--baseline {tmp_path / 'none.sqlite'}: no such file" in done.stderr
