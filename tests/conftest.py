"""Shared fixtures: every test gets its own DERMALAB_HOME, a way to run the real `dermalab` command, runs written
straight into the store and read back from it, the repository's experiments file (whatever the working
directory) with edited copies of it, and a tiny experiments file that trains in a second."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import pytest

REPO = Path(__file__).resolve().parent.parent


def pytest_configure(config: pytest.Config) -> None:
    """The commands these tests run write to pipes, which have no width; pytest-xdist's workers set COLUMNS and
    LINES to 80×24, which the tables would then keep to."""
    for name in ("COLUMNS", "LINES"):
        os.environ.pop(name, None)

# Experiments small enough to train in about a second an epoch: one that finishes, two that run far longer than any
# test waits (tests cancel or kill them), and one that diverges at once.
TINY_EXPERIMENTS = """
[[experiment]]
id = 1
name = "Tiny"
chapter = "Trains"
model = { arch = "cnn", channels = [4], batchnorm = false, pool = "global_avg", dropout = 0.0, hidden = 0, \
hidden_dropout = 0.0, pretrained = false, freeze_backbone = false, small_stem = false }
optimizer = { name = "adam", lr = 1e-3 }
training = { epochs = 1, batch_size = 512, scheduler = "none" }
loss = { class_weights = "none", label_smoothing = 0.0 }
augment = []

[[experiment]]
id = 2
extends = 1
name = "Tiny, long enough to interrupt"
training.epochs = 10000

[[experiment]]
id = 3
extends = 1
name = "Diverges"
chapter = "Fails"
optimizer = { name = "sgd", lr = 1e30 }  # at lr 10 this small ReLU net just dies; 1e30 overflows float32 at once

[[experiment]]
id = 4
extends = 2
name = "Tiny, waiting its turn"
"""


@pytest.fixture(autouse=True)
def dermalab_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "home"
    monkeypatch.setenv("DERMALAB_HOME", str(home))
    monkeypatch.delenv("DERMALAB_DATA_URL", raising=False)
    monkeypatch.delenv("DERMALAB_DATA_DIR", raising=False)
    yield home
    stop_workers(home)  # an idle worker would wait a minute for more jobs: no test leaves one behind


def workers_of(home: Path) -> list[int]:
    """Pids of `dermalab worker` processes serving this DERMALAB_HOME (a worker still starting holds no lock yet, so
    the lock file cannot tell)."""
    found = []
    for process in psutil.process_iter():
        try:
            command, environment = process.cmdline(), process.environ()
        except psutil.Error:  # one that has ended, or another user's
            continue
        if "worker" in command and "tui.cli.main" in command and environment.get("DERMALAB_HOME") == str(home):
            found.append(process.pid)
    return found


def stop_workers(home: Path, timeout: float = 60) -> None:
    """Asks the workers of this home to stop (SIGTERM: they cancel their runs), and kills what is left after
    `timeout`."""
    for pid in workers_of(home):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while (left := workers_of(home)) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in left:
        os.kill(pid, signal.SIGKILL)


def dermalab(*args: str, timeout: float = 300, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run the CLI in a child process, as a user would, with this test's environment."""
    return subprocess.run([sys.executable, "-m", "tui.cli.main", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


@pytest.fixture
def cli():
    return dermalab


@pytest.fixture
def experiments_toml() -> Path:
    """The repository's experiments.toml, found from this file rather than the working directory."""
    from engine.experiments.load import DEFAULT_EXPERIMENTS

    return DEFAULT_EXPERIMENTS


@pytest.fixture
def edited_experiments(tmp_path: Path, experiments_toml: Path):
    """Writes a copy of the real experiments file with each `old` text replaced once by its `new` (each must be
    there) and `append` added at the end; returns the copy's path."""

    def write(append: str = "", replace: dict[str, str] | None = None, name: str = "experiments.toml") -> Path:
        text = experiments_toml.read_text()
        for old, new in (replace or {}).items():
            assert old in text, f"{old!r} is no longer in experiments.toml; update the test"
            text = text.replace(old, new, 1)
        path = tmp_path / name
        path.write_text(text + append)
        return path

    return write


@pytest.fixture
def tiny_experiments(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY_EXPERIMENTS)
    return path


class StoredRuns:
    """This test's store read as the program reads it: through a Store opened for each read, so it sees what
    other processes wrote since, and marks the runs of dead processes as every command does."""

    @staticmethod
    @contextmanager
    def opened() -> Iterator[Any]:
        from engine.store.runs import Store

        store = Store()
        try:
            yield store
        finally:
            store.close()

    def runs(self) -> list[dict[str, Any]]:
        with self.opened() as store:
            return store.runs()

    def get(self, run_id: str | None) -> dict[str, Any] | None:
        with self.opened() as store:
            return store.get(run_id) if run_id else None

    def status(self, run_id: str | None) -> str | None:
        run = self.get(run_id)
        return run and run["status"]

    def sound(self) -> bool:
        """SQLite's own full check of the file, after a Store opened it (and set nothing damaged aside)."""
        with self.opened() as store:
            return store.recovered_from is None and store._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    def predictions(self, run_id: str):
        from engine.store import summary

        with self.opened() as store:
            return summary.predictions(store, run_id)

    def jobs(self) -> dict[str, dict[str, Any]]:
        """Every job of the store's queue, by id."""
        from engine.jobs.queue import JobQueue

        with self.opened() as store:
            return {job["job_id"]: job for job in JobQueue(store).current(0)}


@pytest.fixture
def stored(dermalab_home) -> StoredRuns:
    return StoredRuns()


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
    """Writes a finished run into this test's store through the Store's own methods, as the runner does: by default
    run as the page ran it (its epochs and weights), on synthetic data. `metrics` replace what evaluate() makes of
    the predictions; intervals=False stores the run the way runs were stored before bootstrap intervals were
    computed at finish; history=True stores its epochs as a run's ends of epoch would, each a smooth step from
    the last."""
    import uuid

    from engine.analysis import bootstrap
    from engine.analysis.metrics import evaluate
    from engine.events import EpochEnded, RunFinished, RunStarted
    from engine.experiments.load import load
    from engine.paths import DERMAMNIST_MD5
    from engine.store.runs import Store
    from engine.training.data import MEDMNIST_SOURCE

    store, experiments = Store(), load()

    def write(labels, probabilities, experiment_id=8, seed=0, run_id=None, intervals=True, synthetic=True,
              epochs=None, pretrained=None, precision="fp32", history=False, **metrics) -> str:
        spec, run_id = experiments[experiment_id].spec, run_id or uuid.uuid4().hex[:12]
        labels, probabilities = np.asarray(labels), np.asarray(probabilities, dtype=float)
        computed = {**evaluate(labels, probabilities), "params": 94599, "train_seconds": 1.0}
        if intervals:
            computed.update(bootstrap.intervals(labels, probabilities))
        data, fingerprint = ("synthetic", "synthetic") if synthetic else (MEDMNIST_SOURCE, DERMAMNIST_MD5)
        epochs = epochs or spec.training.epochs
        pretrained = spec.model.pretrained if pretrained is None else pretrained
        store.start(RunStarted(run_id, experiment_id, spec.name, seed, "cpu", data, epochs, 1), spec.chapter,
                    spec.run_config(epochs, pretrained, precision), synthetic, fingerprint)
        for epoch in range(1, epochs + 1 if history else 1):
            store.epoch(EpochEnded(run_id, epoch, epochs, 1.5 / epoch, 1.2 / epoch ** 0.5, 0.9 - 0.2 / epoch,
                                   0.6 + 0.02 * epoch, 1e-3, 2.0))
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
    from tui.cli.main import main

    def run(*args: str) -> str:
        code = main(list(args))
        out, err = capsys.readouterr()
        assert (code, out) == (exit_codes.BAD_INPUT, ""), err
        return one_sentence(err)

    return run
