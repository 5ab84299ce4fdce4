"""Benchmark (not a test): the lab with 100, 1,000 and 10,000 stored runs.

For each size it builds a store of realistic runs itself: the 25 experiments round and round with their own
epochs, seeds counting up, mostly DermaMNIST and some synthetic; 1 run in 20 cancelled, 1 in 40 failed, 1 in 25 a
quick `--epochs 1` look; each finished run with its metrics, bootstrap intervals, per-epoch history and 1,003 x 7
val probabilities to 6 decimals. It is written twice: as dermalab wrote it before store versions (version 0, by
raw SQL, as tests/version_0_store.py does), then upgraded by opening it (timed); and fresh, through the Store's
own methods. Then it measures, on the fresh store:

- size: bytes per run, version 0 against now (the target: at most a third);
- first paint: `dermalab --data synthetic` in an 80x24 pseudo-terminal until the experiments list shows;
- opening the leaderboard (`l`) and the recall grid (`g`), and a sort key (`S`) on the leaderboard, each from
  the key to the text only its answer paints (as tests/bench/app_latency.py times keys);
- `dermalab results` and `dermalab compare` (tables, to a pipe), and `results --per-experiment`, wall time, with
  `dermalab list` beside them (it reads no runs, so it shows the start-up every command pays).

    .venv/bin/python tests/bench/store_scale.py [--sizes 100 1000 10000] [--launches 3] [--keys 10]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO), str(REPO / "tests" / "bench")]

from app_latency import Terminal  # noqa: E402  (after the path is set, so the script runs from anywhere)

from engine.analysis import bootstrap  # noqa: E402
from engine.analysis.metrics import evaluate  # noqa: E402
from engine.events import EpochEnded, RunFailed, RunFinished, RunStarted  # noqa: E402
from engine.experiments.load import load  # noqa: E402
from engine.paths import DERMAMNIST_MD5  # noqa: E402
from engine.store.runs import Store  # noqa: E402
from engine.training.data import CLASS_COUNTS, MEDMNIST_SOURCE  # noqa: E402
from tests import version_0_store as version_0  # noqa: E402

TEMPLATES = 25  # distinct sets of metrics (computing them is slow); every run gets probabilities of its own
LABELS = np.repeat(np.arange(7), CLASS_COUNTS["val"])


def probabilities(rng: np.random.Generator, skill: float) -> np.ndarray:
    """Softmax outputs that lean to the true class, biased towards nevi as trained models are."""
    logits = rng.normal(0, 1.5, size=(len(LABELS), 7))
    logits[np.arange(len(LABELS)), LABELS] += skill
    logits[:, 5] += 1.0
    exp = np.exp(logits)
    return (exp / exp.sum(axis=1, keepdims=True)).round(6)


def templates() -> list[dict]:
    rng = np.random.default_rng(0)
    made = []
    for number in range(TEMPLATES):
        predicted = probabilities(rng, 1.5 + number / 10)
        metrics = {**evaluate(LABELS, predicted), **bootstrap.intervals(LABELS, predicted)}
        made.append(metrics)
    return made


def plan(count: int) -> list[dict]:
    """What each run is: experiment, seed, data, epochs, status, and when it started."""
    experiments, start = load(), time.time() - count * 60
    runs = []
    for number in range(count):
        spec = experiments[number % 25 + 1].spec
        synthetic = number % 10 == 9
        status = "cancelled" if number % 20 == 7 else "failed" if number % 40 == 3 else "finished"
        epochs = 1 if number % 25 == 11 else spec.training.epochs
        runs.append({"run_id": f"{number:012x}", "spec": spec, "seed": number // 25, "synthetic": synthetic,
                     "epochs": epochs, "status": status, "started_at": start + number * 60})
    return runs


def figures(run: dict, rng: np.random.Generator, made: list[dict]) -> tuple[dict, np.ndarray]:
    metrics = dict(made[rng.integers(len(made))])
    for key in ("auc", "mel_recall", "cancer_sensitivity", "accuracy", "balanced_accuracy"):
        metrics[key] = float(np.clip(metrics[key] + rng.normal(0, 0.01), 0, 1))
    metrics.update(params=94599, train_seconds=30.0 + rng.random(), wall_seconds=31.0, images_per_second=1500.0)
    return metrics, probabilities(rng, 2.0)


def history(run: dict, epochs: int) -> list[dict]:
    return [{"epoch": e, "train_loss": 1.2 / e, "val_loss": 1.3 / e, "val_auc": 0.8 + e / 1000, "val_accuracy": 0.7,
             "lr": 1e-3, "seconds": 6.1} for e in range(1, epochs + 1)]


def build_version_0(path: Path, runs: list[dict], made: list[dict]) -> None:
    rng, db = np.random.default_rng(1), version_0.connect(path)
    db.execute("BEGIN")
    for run in runs:
        spec, data = run["spec"], "synthetic" if run["synthetic"] else MEDMNIST_SOURCE
        version_0.start(db, run["run_id"], spec, run["seed"], data, run["synthetic"], spec.model.pretrained,
                        run["epochs"], run["started_at"], pid=0, host=socket.gethostname())
        done = run["epochs"] if run["status"] == "finished" else max(run["epochs"] // 2, 1)
        db.execute("UPDATE runs SET history=? WHERE run_id=?",
                   (version_0.json.dumps(history(run, done)), run["run_id"]))
        if run["status"] == "finished":
            metrics, predicted = figures(run, rng, made)
            version_0.finish(db, run["run_id"], metrics, LABELS.tolist(), predicted.tolist(), run["started_at"] + 30)
        else:
            version_0.fail(db, run["run_id"], run["status"], f"the run was {run['status']}", done + 1,
                           run["started_at"] + 20)
    db.execute("COMMIT")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def build_current(path: Path, runs: list[dict], made: list[dict]) -> None:
    rng, store = np.random.default_rng(1), Store(path)
    for run in runs:
        spec = run["spec"]
        data, fingerprint = ("synthetic", "synthetic") if run["synthetic"] else (MEDMNIST_SOURCE, DERMAMNIST_MD5)
        config = spec.run_config(run["epochs"], spec.model.pretrained, "fp32")
        store.start(RunStarted(run["run_id"], spec.id, spec.name, run["seed"], "CPU · 2 threads", data, run["epochs"],
                               220), spec.chapter, config, run["synthetic"], fingerprint)
        done = run["epochs"] if run["status"] == "finished" else max(run["epochs"] // 2, 1)
        for entry in history(run, done):
            store.epoch(EpochEnded(run["run_id"], epochs=run["epochs"], **entry))
        if run["status"] == "finished":
            metrics, predicted = figures(run, rng, made)
            store.finish(RunFinished(run["run_id"], metrics, predicted.tolist()), LABELS.tolist())
        else:
            store.fail(RunFailed(run["run_id"], run["status"], f"the run was {run['status']}", done + 1))
    # The benchmark's runs all started now; give them the start times they would have had.
    store._db.executemany("UPDATE runs SET started_at=? WHERE run_id=?", [(r["started_at"], r["run_id"]) for r in runs])
    store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()


def size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*") if "backup" not in p.name)


def timed_command(home: Path, *args: str) -> float:
    env = {**os.environ, "DERMALAB_HOME": str(home), "PYTHONPATH": str(REPO)}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "tui.cli.main", *args], cwd=REPO, env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - started


def app_timings(home: Path, launches: int, keys: int) -> dict[str, list[float]]:
    """First paints over `launches` launches; in the last, the keys of the leaderboard and recall grid."""
    timings: dict[str, list[float]] = {"first paint": [], "open leaderboard (l)": [], "open recall grid (g)": [],
                                       "sort key (S)": []}
    for launch in range(launches):
        terminal = Terminal(home, "--data", "synthetic", "--device", "cpu")
        try:
            timings["first paint"].append(terminal.wait_for("Baseline") - terminal.started)
            terminal.drain(0.5)
            if launch == launches - 1:
                for _ in range(keys):
                    pressed = terminal.press("l")
                    timings["open leaderboard (l)"].append(terminal.wait_for("sorted by") - pressed)
                    terminal.drain(0.2)
                    pressed = terminal.press("g")
                    timings["open recall grid (g)"].append(terminal.wait_for("MEL") - pressed)
                    terminal.drain(0.2)
                terminal.press("l")
                terminal.drain(0.5)
                for press in range(keys):
                    pressed = terminal.press("S")
                    timings["sort key (S)"].append(terminal.wait_for("▲" if press % 2 == 0 else "▼") - pressed)
                    terminal.drain(0.1)
            terminal.press("q")
            terminal.wait_exit()
        finally:
            terminal.close()
    return timings


def describe(name: str, seconds: list[float]) -> str:
    ms = sorted(value * 1000 for value in seconds)
    return f"  {name}: median {statistics.median(ms):.0f} ms, max {ms[-1]:.0f} ms (n={len(ms)})"


def measure(count: int, made: list[dict], launches: int, keys: int, work: Path) -> None:
    runs = plan(count)
    old_home, home = work / f"v0-{count}", work / f"now-{count}"
    for folder in (old_home, home):
        folder.mkdir()
    started = time.perf_counter()
    build_version_0(old_home / "runs.sqlite", runs, made)
    old_size = size(old_home / "runs.sqlite")
    print(f"{count} runs (version 0 written in {time.perf_counter() - started:.0f} s)")
    started = time.perf_counter()
    upgraded = Store(old_home / "runs.sqlite")
    upgrade_seconds = time.perf_counter() - started
    assert len(upgraded.runs()) == count
    upgraded.close()
    upgraded_size = size(old_home / "runs.sqlite")
    shutil.rmtree(old_home)
    started = time.perf_counter()
    build_current(home / "runs.sqlite", runs, made)
    print(f"  store written through Store in {time.perf_counter() - started:.0f} s")
    now_size = size(home / "runs.sqlite")
    print(f"  size per run: version 0 {old_size / count / 1000:.1f} kB; upgraded {upgraded_size / count / 1000:.1f} kB "
          f"(upgrade took {upgrade_seconds:.1f} s); written now {now_size / count / 1000:.1f} kB "
          f"= {now_size / old_size:.0%} of version 0")
    for name, seconds in app_timings(home, launches, keys).items():
        print(describe(name, seconds))
    for args in (["list"], ["results"], ["results", "--per-experiment"], ["compare"]):
        print(describe(f"dermalab {' '.join(args)}", [timed_command(home, *args) for _ in range(3)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--launches", type=int, default=3)
    parser.add_argument("--keys", type=int, default=10)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # a timeout still cleans up the folders and the app
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, python {sys.version.split()[0]}")
    made = templates()
    with tempfile.TemporaryDirectory(prefix="dermalab-store-bench-") as work:
        for count in args.sizes:
            measure(count, made, args.launches, args.keys, Path(work))


if __name__ == "__main__":
    main()
