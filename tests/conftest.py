"""Shared fixtures: every test gets its own DERMALAB_HOME, a way to run the real `dermalab` command, and runs
written straight into the store."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def dermalab_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("DERMALAB_HOME", str(home))
    monkeypatch.delenv("DERMALAB_DATA_URL", raising=False)
    monkeypatch.delenv("DERMALAB_DATA_DIR", raising=False)
    return home


def dermalab(*args: str, timeout: float = 300, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run the CLI in a child process, as a user would, with this test's environment."""
    return subprocess.run([sys.executable, "-m", "tui.cli", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


@pytest.fixture
def cli():
    return dermalab


VAL_COUNTS = (6, 8, 15, 4, 15, 60, 4)  # DermaMNIST's val mix, shrunk


def noisy_predictions(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A val set with every class, and probabilities that lean towards the true class. Small whole-number
    weights make many equal scores, ties an AUC must count half."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(7), VAL_COUNTS)
    weights = rng.integers(1, 5, size=(len(labels), 7))
    weights[np.arange(len(labels)), labels] += 2
    return labels, weights / weights.sum(axis=1, keepdims=True)


@pytest.fixture
def store_run(dermalab_home):
    """Writes a finished run into this test's store through the Store's own methods, as the runner does.
    `metrics` replace what evaluate() makes of the predictions; intervals=False stores the run the way runs
    were stored before bootstrap intervals were computed at finish."""
    import uuid

    from engine import bootstrap
    from engine.events import RunFinished, RunStarted
    from engine.experiments import load
    from engine.metrics import evaluate
    from engine.store import Store

    store, experiments = Store(), load()

    def write(labels, probabilities, experiment_id=8, seed=0, run_id=None, intervals=True, synthetic=True,
              **metrics) -> str:
        spec, run_id = experiments[experiment_id].spec, run_id or uuid.uuid4().hex[:12]
        labels, probabilities = np.asarray(labels), np.asarray(probabilities, dtype=float)
        computed = {**evaluate(labels, probabilities), "params": 94599, "train_seconds": 1.0}
        if intervals:
            computed.update(bootstrap.intervals(labels, probabilities))
        data = "synthetic" if synthetic else "dermamnist (medmnist)"
        store.start(RunStarted(run_id, experiment_id, spec.name, seed, "cpu", data, 1, 1), spec.chapter, spec.config(),
                    spec.config_hash(), synthetic, False)
        store.finish(RunFinished(run_id, {**computed, **metrics}, probabilities.tolist()), labels.tolist())
        return run_id

    yield write
    store.close()


def one_sentence(stderr: str) -> str:
    """The contract for bad input on stderr: one line, one sentence, no traceback. Returns the sentence."""
    import re

    assert stderr.startswith("dermalab: ") and stderr.endswith(".\n") and stderr.count("\n") == 1, stderr
    assert not re.search(r"[.!?]\s+[A-Z]", stderr), f"more than one sentence: {stderr}"
    return stderr.removeprefix("dermalab: ").rstrip()


def medmnist_arrays(images: int = 4, **changes: np.ndarray | None) -> dict[str, np.ndarray]:
    """A small medmnist-format dataset (N x 28 x 28 x 3 uint8 images, N x 1 uint8 labels per split); a change
    replaces the array of that name, and None leaves it out, to make each kind of bad file."""
    arrays: dict[str, np.ndarray | None] = {}
    for split in ("train", "val", "test"):
        arrays[f"{split}_images"] = np.full((images, 28, 28, 3), 128, np.uint8)
        arrays[f"{split}_labels"] = (np.arange(images, dtype=np.uint8) % 7).reshape(-1, 1)
    arrays.update(changes)
    return {name: array for name, array in arrays.items() if array is not None}


@pytest.fixture
def refused(capsys):
    """Runs `dermalab ARGS` in this process and returns what it said, after checking the contract for bad input:
    exit 2, nothing on stdout, one sentence on stderr."""
    from tui import exit_codes
    from tui.cli import main

    def run(*args: str) -> str:
        code = main(list(args))
        out, err = capsys.readouterr()
        assert (code, out) == (exit_codes.BAD_INPUT, ""), err
        return one_sentence(err)

    return run
