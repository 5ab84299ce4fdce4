"""Shared fixtures and helpers: every test gets its own DERMALAB_HOME, a way to run the real `dermalab` command, runs
written straight into the store and read back from it, the repository's experiments file (whatever the working
directory) with edited copies of it, and a tiny experiments file that trains in a second; then what more than one
test module uses: the app under Pilot, a lab of fixed results, the charts' runs and the lesion file. Test modules
import these from here, never from each other."""

from __future__ import annotations

import asyncio
import functools
import io
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import psutil
import pytest

from engine.classes import CLASSES
from engine.paths import FILE_NAME

if TYPE_CHECKING:
    from textual.pilot import Pilot
    from textual.screen import Screen

    from engine.classes import MedSet
    from engine.experiments.spec import Experiment
    from engine.store.runs import Store
    from tui.app.main import DermalabApp

REPO = Path(__file__).resolve().parent.parent


def pytest_configure(config: pytest.Config) -> None:
    """The commands these tests run write to pipes, which have no width; pytest-xdist's workers set COLUMNS and
    LINES to 80×24, which the tables would then keep to. The app sees a true-colour terminal whatever TERM this
    machine has (galleries are dithered and say so on fewer colours); a test of fewer colours sets its own."""
    for name in ("COLUMNS", "LINES"):
        os.environ.pop(name, None)
    os.environ["COLORTERM"] = "truecolor"
    if not hasattr(config, "workerinput"):  # once, before pytest-xdist starts its workers
        compile_once()
        spy_on_torch(config)


def spy_on_torch(config: pytest.Config) -> None:
    """Every process started from here on loads tests/torch_spy/sitecustomize.py, which notes each one that imports
    torch during a test (see `processes_are_marked`)."""
    folder = tempfile.mkdtemp(prefix="dermalab-torch-spy-")
    config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))
    os.environ["DERMALAB_TEST_TORCH_SPY"] = folder
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "tests" / "torch_spy"),
                                                             os.environ.get("PYTHONPATH")]))


def processes_are_marked(test: pytest.Item) -> None:
    """A process importing torch costs seconds: the README's test command leaves out the tests that start one, by
    their mark, so a test that starts one unmarked fails here (a Slurm test's, left out too, start under Slurm)."""
    folder = os.environ.get("DERMALAB_TEST_TORCH_SPY")
    if folder is None or any(test.get_closest_marker(mark) for mark in ("processes", "slurm")):
        return
    for note in Path(folder).glob("[0-9]*[0-9]"):  # a note being written has a name of its own until whole
        nodeid, command = note.read_text().split("\n", 1)
        if nodeid == test.nodeid and int(note.name) != os.getpid():
            pytest.fail(f"this test started a process that imported torch ({command}): mark it "
                        "@pytest.mark.processes, or keep torch out of the process", pytrace=False)


def compile_once() -> None:
    """Where PYTHONDONTWRITEBYTECODE is set (CI here sets it), every process that imports the engine and tui
    compiles their sources again, and the suite starts a few hundred: workers, the CLI, job and preview children,
    a tenth to half a second of a 2-core CPU each. Python still reads bytecode it finds, so the suite writes it once
    (compileall skips what is current; a checkout it cannot write only goes without)."""
    import compileall

    for package in ("engine", "tui"):
        compileall.compile_dir(REPO / package, quiet=2)

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
def dermalab_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[Path]:
    home = tmp_path / "home"
    monkeypatch.setenv("DERMALAB_HOME", str(home))
    monkeypatch.delenv("DERMALAB_DATA_URL", raising=False)
    monkeypatch.delenv("DERMALAB_DATA_DIR", raising=False)
    yield home
    # An idle worker would wait a minute for more jobs: no test leaves one behind. Looking costs a scan of every
    # process (10 ms or more here, each of ~900 tests); a home never made had no worker, as starting one makes it.
    if home.exists():
        stop_workers(home)
    processes_are_marked(request.node)  # last: a worker stopped has imported whatever it would


def workers_of(home: Path) -> list[int]:
    """Pids of `dermalab worker` processes serving this DERMALAB_HOME (a worker still starting holds no lock yet, so
    the lock file cannot tell)."""
    found = []
    for process in psutil.process_iter():
        try:  # the environment is read only of a worker's: reading every process's doubled what a look costs
            command = process.cmdline()
            a_worker = "worker" in command and "tui.cli.main" in command
            if a_worker and process.environ().get("DERMALAB_HOME") == str(home):
                found.append(process.pid)
        except psutil.Error:  # one that has ended, or another user's
            continue
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


def dermalab_here(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`dermalab ARGS` run in this process and answered as `dermalab` answers from a child: for tests of what a
    command says and stores, where the process itself is not what is tested (a child imports the engine afresh, and
    torch too for a run: one to four seconds of a 2-core CPU each). Its stdout and stderr are text buffers, which
    have no terminal width, as pipes have none; what a command changes in the process (the environment, torch's
    threads, the working directory) is put back after it, as a child's end would leave this process."""
    from engine import threads
    from tui.cli.main import main

    environment, folder = dict(os.environ), os.getcwd()
    torch = sys.modules.get("torch")
    thread_count, fixed = (torch.get_num_threads() if torch else None), threads._fixed
    out, err = io.StringIO(), io.StringIO()
    os.environ.update(env or {})
    os.chdir(REPO)
    try:
        with redirect_stdout(out), redirect_stderr(err):
            code = main(list(args))
    finally:
        os.chdir(folder)
        os.environ.clear()
        os.environ.update(environment)
        if thread_count is not None:
            threads.use(thread_count, fixed)
    return subprocess.CompletedProcess(["dermalab", *args], code, out.getvalue(), err.getvalue())


@pytest.fixture
def cli():
    """The CLI in this process (see dermalab_here)."""
    return dermalab_here


@pytest.fixture
def child_cli():
    """The CLI in a child process, for tests of the process itself: a worker, forked slots, what a process reads
    once (proxies), a time limit on the whole command."""
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
    from engine.store.runs import Store
    from engine.training.data import MEDMNIST_SOURCE, fingerprint_for

    store, experiments = Store(), load()

    def write(labels, probabilities, experiment_id=8, seed=0, run_id=None, intervals=True, synthetic=True,
              epochs=None, pretrained=None, precision="fp32", history=False, **metrics) -> str:
        spec, run_id = experiments[experiment_id].spec, run_id or uuid.uuid4().hex[:12]
        labels, probabilities = np.asarray(labels), np.asarray(probabilities, dtype=float)
        computed = {**evaluate(labels, probabilities), "params": 94599, "train_seconds": 1.0}
        if intervals:
            computed.update(bootstrap.intervals(labels, probabilities))
        # real data: the file at hand (the lesion file, say) when there is one, as a run on it records
        data, fingerprint = ("synthetic", "synthetic") if synthetic else (MEDMNIST_SOURCE, fingerprint_for("auto"))
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


@pytest.fixture
def one_thread():
    """Torch on one thread, fixed (as --threads 1 fixes it), for in-process training: a run that gives up threads
    while another test holds the cores sums in another order, so only a fixed count gives the same digits."""
    import torch

    from engine import threads

    before = torch.get_num_threads()
    threads.use(1, fixed=True)
    yield
    threads.use(before, fixed=False)


# The app under Pilot: made as the CLI makes it, each test running its own coroutine, waits on what the app shows.
SIZE = (100, 30)
CHILD_SECONDS = 120  # a worker imports torch, builds the synthetic data and trains an epoch on a busy 2-core box


def app_with(*options: str, accelerator: str | None = "CPU · test") -> DermalabApp:
    from tui.app.main import create_app
    from tui.cli.main import build_parser

    return create_app(build_parser().parse_args(["--device", "cpu", *options]), accelerator=accelerator)


def app_on_tiny(tiny_experiments: Path) -> DermalabApp:
    """The app on synthetic data with the tiny experiments file."""
    return app_with("--data", "synthetic", "--experiments", str(tiny_experiments))


def synchronous(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """No asyncio plugin for pytest here: each test runs its coroutine to the end itself."""
    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))
    return run


async def wait_for(pilot: Pilot, condition: Callable[[], object], timeout: float = CHILD_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting; the jobs: {pilot.app.lab.jobs}"
        await pilot.pause(0.1)


def job_of(app: DermalabApp, job_id: str) -> dict:
    """A job's row as the app has it now."""
    return next(job for job in app.lab.jobs if job["job_id"] == job_id)


def ended(app: DermalabApp, job_id: str) -> bool:
    from engine.jobs.queue import ACTIVE

    return job_of(app, job_id)["status"] not in ACTIVE


def notices(app: DermalabApp) -> list[str]:
    return [str(notification.message) for notification in app._notifications]


# A lab of fixed results, for the app's screens: everything that could vary (run ids, devices, the accelerator, data
# paths) is fixed; the store's timestamps only order the runs, and they are written in a fixed order.
ACCELERATOR = "CPU · 2 threads"
SIZES = {"small": (80, 24), "large": (120, 40)}
# (experiment, seed, synthetic, nudge): a nudge moves the page's figures a little, as another seed would.
RESULTS = [(1, 0, False, 0.0), (2, 0, False, 0.0), (8, 0, False, 0.0), (8, 1, False, 0.02), (8, 2, False, -0.03),
           (10, 0, False, 0.0), (11, 0, False, 0.0), (20, 0, False, 0.0), (21, 0, False, 0.0), (25, 0, False, 0.0),
           (1, 0, True, -0.09)]
CANCELLED = 14  # one run that never finished: it has no figures and sorts last
FROM_SCRATCH = 25  # one more run of it without ImageNet weights (--no-pretrained): a group of its own, marked


def fill_store() -> None:
    """Write the fixed runs through the store's own methods, as the training loop would."""
    from engine.events import RunFailed, RunFinished
    from engine.experiments.load import load
    from engine.store.runs import Store

    experiments = load()
    store = Store()
    for number, (experiment_id, seed, synthetic, nudge) in enumerate(RESULTS):
        run_id = f"run{number:02d}"
        start_run(store, experiments[experiment_id], run_id, seed, synthetic)
        store.finish(RunFinished(run_id, page_metrics(experiments[experiment_id], nudge), []), [])
    start_run(store, experiments[FROM_SCRATCH], "run50", 1, False, pretrained=False)
    store.finish(RunFinished("run50", page_metrics(experiments[FROM_SCRATCH], -0.12), []), [])
    start_run(store, experiments[CANCELLED], "run99", 0, False)
    store.fail(RunFailed("run99", "cancelled", "cancelled by the user", 1))
    store.close()


def start_run(store: Store, experiment: Experiment, run_id: str, seed: int, synthetic: bool,
              pretrained: bool = True) -> None:
    """A run of the experiment started in the store, as on a Mac (MPS) with 220 batches an epoch."""
    from engine.events import RunStarted
    from engine.paths import DERMAMNIST_MD5

    spec = experiment.spec
    event = RunStarted(run_id, spec.id, spec.name, seed, "MPS", "synthetic" if synthetic else "dermamnist (medmnist)",
                       spec.training.epochs, 220)
    config = spec.run_config(spec.training.epochs, spec.model.pretrained and pretrained, "fp32")
    store.start(event, spec.chapter, config, synthetic, "synthetic" if synthetic else DERMAMNIST_MD5)


def page_metrics(experiment: Experiment, nudge: float) -> dict:
    """The page's figures for the experiment, each moved by `nudge` (and kept within 0…1)."""
    page = experiment.spec.published

    def moved(value: float) -> float:
        return round(min(max(value + nudge, 0.0), 1.0), 4)

    return {"auc": moved(page.auc), "accuracy": moved(page.accuracy), "mel_recall": moved(page.mel_recall),
            "cancer_sensitivity": moved(page.cancer_sensitivity), "balanced_accuracy": moved(page.balanced_accuracy),
            "params": page.params, "train_seconds": page.time_s, "images_per_second": 1000.0,
            "recall": {name: moved(page.recall[name]) for name in CLASSES}}


def lab_app() -> DermalabApp:
    """The app over the fixed runs."""
    from tui.app.main import create_app
    from tui.cli.main import build_parser

    fill_store()
    return create_app(build_parser().parse_args(["--data", "synthetic"]), accelerator=ACCELERATOR)


# Runs whose figures are fixed by hand, for the charts: (experiment, seed, AUC, mel recall, cancer sensitivity, train
# seconds, params).
CHART_RUNS = [(8, 0, 0.89, 0.1, 0.5, 10.0, 94599), (8, 1, 0.90, 0.2, 0.6, 12.0, 94599),
              (8, 2, 0.91, 0.3, 0.7, 14.0, 94599), (14, 0, 0.54, 0.0, 0.0, 35.0, 94599),
              (20, 0, 0.93, 0.41, 0.45, 40.0, 94599), (23, 0, 0.91, 0.2, 0.3, 80.0, 11180103),
              (23, 1, 0.93, 0.4, 0.5, 100.0, 11180103)]


def fill_chart_runs(store_run: Callable[..., str]) -> None:
    labels, probabilities = noisy_predictions(0)
    for experiment_id, seed, auc, mel, cancer, seconds, params in CHART_RUNS:
        store_run(labels, probabilities, experiment_id=experiment_id, seed=seed, run_id=f"e{experiment_id}s{seed}",
                  auc=auc, mel_recall=mel, cancer_sensitivity=cancer, train_seconds=seconds, params=params)


# The lesion file: a tiny medmnist-format file whose images tell each other apart at a glance, put where --data auto
# looks, and a val table written by hand: for each val lesion its true class, the class a run calls it, and the two
# probabilities that decide that.
C = {name: number for number, name in enumerate(CLASSES)}
# Per val lesion: (true class, called class, P(true), P(called)); the rest of the mass is spread evenly.
VAL_TABLE = [
    ("mel", "nv", 0.30, 0.50),   # 0
    ("mel", "mel", 0.60, 0.60),  # 1
    ("mel", "nv", 0.40, 0.45),   # 2
    ("mel", "bkl", 0.20, 0.50),  # 3
    ("nv", "nv", 0.80, 0.80),    # 4
    ("nv", "mel", 0.30, 0.50),   # 5
    ("nv", "nv", 0.70, 0.70),    # 6
    ("bcc", "bcc", 0.55, 0.55),  # 7
    ("bcc", "nv", 0.25, 0.60),   # 8
    ("akiec", "bcc", 0.20, 0.40),  # 9
    ("bkl", "bkl", 0.50, 0.50),  # 10
    ("df", "nv", 0.10, 0.60),    # 11
    ("vasc", "vasc", 0.90, 0.90),  # 12
    ("mel", "nv", 0.10, 0.70),   # 13
]
TRAIN_LABELS = ("mel", "nv", "bkl", "bcc", "akiec", "df", "vasc", "mel")
SKIN = (222, 172, 160)
LESION = {"akiec": (190, 110, 100), "bcc": (170, 120, 140), "bkl": (140, 100, 80), "df": (160, 110, 90),
          "mel": (60, 40, 40), "nv": (110, 80, 70), "vasc": (180, 60, 80)}
LOADING_SECONDS = 120  # a preview child imports torch on a busy 2-core machine
LOADING = "Loading the images…"


def val_labels() -> np.ndarray:
    return np.array([C[true] for true, *_ in VAL_TABLE])


def val_probabilities(table: list[tuple[str, str, float, float]] = VAL_TABLE) -> np.ndarray:
    rows = []
    for true, called, p_true, p_called in table:
        row = np.zeros(len(CLASSES))
        row[C[true]], row[C[called]] = p_true, p_called
        rest = row == 0
        row[rest] = (1 - row.sum()) / rest.sum()
        rows.append(row)
    return np.array(rows)


def other_run() -> np.ndarray:
    """The table's run with three calls changed: it catches melanoma 0 and bcc 8, and misses melanoma 1."""
    table = list(VAL_TABLE)
    table[0], table[1], table[8] = ("mel", "mel", 0.55, 0.55), ("mel", "nv", 0.30, 0.50), ("bcc", "bcc", 0.50, 0.50)
    return val_probabilities(table)


def lesion_image(label: str, number: int) -> np.ndarray:
    """Skin with a disc of the class's colour, and a bright bar as long as `number` along the top: each image
    of the file differs from every other, and a flip or a rotation shows."""
    picture = np.empty((28, 28, 3), np.uint8)
    picture[:] = SKIN
    yy, xx = np.mgrid[:28, :28]
    picture[(yy - 15) ** 2 + (xx - 13) ** 2 <= 64 + 4 * (number % 8)] = LESION[label]
    picture[2:4, 2:2 + number + 1] = (250, 250, 250)
    return picture


def write_lesion_file(path: Path) -> Path:
    labels = {"train": TRAIN_LABELS, "val": [true for true, *_ in VAL_TABLE], "test": ("mel", "nv")}
    arrays = {}
    for split, names in labels.items():
        arrays[f"{split}_images"] = np.stack([lesion_image(name, number) for number, name in enumerate(names)])
        arrays[f"{split}_labels"] = np.array([[C[name]] for name in names], np.uint8)
    np.savez(path, **arrays)
    return path


@pytest.fixture
def lesion_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The tiny file as this test's DermaMNIST: runs stored as real data, and --data auto, read it."""
    monkeypatch.setenv("DERMALAB_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "data").mkdir()
    return write_lesion_file(tmp_path / "data" / FILE_NAME)


async def wait_for_gallery(pilot: Pilot) -> str:
    """Waits until the gallery on screen has loaded or said why not; returns its legend."""
    deadline = time.monotonic() + LOADING_SECONDS
    while (said := legend(pilot.app.screen)) == LOADING:
        assert time.monotonic() < deadline, "the gallery never loaded"
        await pilot.pause(0.1)
    return said


def legend(screen: Screen) -> str:
    from textual.widgets import Static

    return str(screen.query_one("#gallery-legend", Static).render())


# Sweeps: two grids over the tiny experiment 1, and the smallest synthetic set to train one on.
GRID = """
[[sweeps]]
name = "grid"
extends = 1
seeds = 3
axes = { "optimizer.lr" = [1e-3, 3e-3, 1e-2], "training.batch_size" = [256, 512, 1024] }  # 1e-3 and 512: experiment 1
"""
QUESTION_GRID = """
[[sweeps]]
name = "grid"
extends = 1
question = "Do rate and batch size trade?"
axes = { "optimizer.lr" = [1e-3, 1e-2], "training.batch_size" = [256, 512] }
"""
# The sweep trained end to end, on the smallest synthetic set (BreastMNIST's stand-in: 1,200 one-channel images, a
# sixth of DermaMNIST's) with experiment 1's four-channel net for one epoch: 27 runs cost about what one torch import
# does, so the whole grid the issue asks for is trained, not a corner of it
SMALLEST_SET = ("--data", "synthetic", "--dataset", "breastmnist")


def with_sweeps(tmp_path: Path, sweeps_text: str, experiments: str = TINY_EXPERIMENTS) -> Path:
    path = tmp_path / f"sweeps-{uuid.uuid4().hex[:6]}.toml"
    path.write_text(experiments + sweeps_text)
    return path


def store_finished(store: Store, experiment: Experiment, seed: int, auc: float, run_id: str | None = None) -> None:
    """A finished run of `experiment` (a point or not), as the runner stores one, with only the figures needed."""
    from engine.events import RunFinished, RunStarted

    run_id = run_id or uuid.uuid4().hex[:12]
    spec = experiment.spec
    store.start(RunStarted(run_id, spec.id, spec.name, seed, "cpu", "synthetic", spec.training.epochs, 1), spec.chapter,
                spec.run_config(spec.training.epochs, spec.model.pretrained, "fp32"), True, "synthetic")
    store.finish(RunFinished(run_id, {"auc": auc, "mel_recall": 0.5, "cancer_sensitivity": 0.4, "train_seconds": 1.0},
                             [[1 / 7] * 7]), [0])


def tiny_data(one_val_class: bool = False):
    """21 random images per split; with `one_val_class`, val holds one class only, so its AUC is undefined (NaN)
    every epoch and never improves."""
    from engine.training.data import Dataset

    rng = np.random.default_rng(0)
    labels = {split: np.repeat(np.arange(7), 3) for split in ("train", "val", "test")}
    if one_val_class:
        labels["val"] = np.zeros(21, dtype=np.int64)
    images = {split: rng.integers(0, 256, size=(21, 28, 28, 3), dtype=np.uint8) for split in labels}
    return Dataset("synthetic", True, images, labels, "synthetic")


# Sets other than DermaMNIST
def stored_on(name: str, experiment_id: int = 8, seed: int = 0) -> str:
    """A finished run of the experiment on the set, written through the Store as a run's end writes it (no
    training: what is tested is how it is shown): every image called right, at half its probability."""
    from engine import classes
    from engine.events import RunFinished, RunStarted
    from engine.experiments.load import load
    from engine.store.runs import Store

    spec, chosen, store = load()[experiment_id].spec, classes.medset(name), Store()
    run_id = f"{name}seed{seed}" if seed else f"{name}run"  # neither id starts the other
    labels = np.arange(len(chosen.classes)).repeat(2)
    probabilities = np.eye(len(chosen.classes))[labels] * 0.5 + 0.5 / len(chosen.classes)
    config = classes.name_in(spec.run_config(1, False, "fp32"), name, 28)
    store.start(RunStarted(run_id, spec.id, spec.name, seed, "cpu", f"synthetic {name}", 1, 1), spec.chapter,
                config, True, f"synthetic {name}")
    store.finish(RunFinished(run_id, {**evaluate_on(labels, probabilities, chosen), "params": 1,
                                      "train_seconds": 1.0}, probabilities.tolist()), labels.tolist())
    store.close()
    return run_id


def evaluate_on(labels: np.ndarray, probabilities: np.ndarray, chosen: MedSet) -> dict:
    from engine.analysis.metrics import evaluate

    return evaluate(labels, probabilities, chosen)
