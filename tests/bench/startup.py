"""Benchmark (not a test): what start-up costs beside training.

- `dermalab list`: launch to exit (target: under 1 s, torch never imported).
- one `dermalab run ID --epochs 1 --json`: launch to exit, less the run's own training seconds (target: at most
  2.5 s, importing torch included).
- a queue of N jobs of that experiment (`run --detach --seeds N`, trained by one worker): for each job after the
  first, the time from the previous job's end to its own, less its training seconds (target: at most 0.5 s).

Each in a fresh DERMALAB_HOME, on the data given (the tests' synthetic set by default).

    .venv/bin/python tests/bench/startup.py [--data ../shared/data/dermamnist_rebuilt.npz] [--experiment 1]
        [--launches 3] [--jobs 5]
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from engine.jobs.lock import worker_pid  # noqa: E402  (after the path is set, so the script runs from anywhere)


def dermalab(home: Path, *args: str) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "tui.cli.main", *args], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "DERMALAB_HOME": str(home)}, check=True)
    return time.perf_counter() - started, done


def list_seconds(launches: int) -> list[float]:
    with tempfile.TemporaryDirectory() as home:
        return [dermalab(Path(home), "list")[0] for _ in range(launches)]


def run_overheads(launches: int, data: str, experiment: str) -> list[tuple[float, float]]:
    """(wall seconds, training seconds) of single `run` processes."""
    measured = []
    for _ in range(launches):
        with tempfile.TemporaryDirectory() as home:
            wall, done = dermalab(Path(home), "run", experiment, "--epochs", "1", "--data", data, "--json")
            measured.append((wall, json.loads(done.stdout)["train_seconds"]))
    return measured


def queue_overheads(jobs: int, data: str, experiment: str) -> list[float]:
    """Per job after the first: time since the previous job ended, less its own training seconds."""
    with tempfile.TemporaryDirectory() as home:
        dermalab(Path(home), "run", experiment, "--epochs", "1", "--seeds", str(jobs), "--data", data, "--detach")
        db = sqlite3.connect(Path(home) / "runs.sqlite")
        deadline = time.monotonic() + 60 * jobs + 120
        while db.execute("SELECT count(*) FROM jobs WHERE status IN ('queued','running')").fetchone()[0]:
            if time.monotonic() > deadline:
                raise TimeoutError("the queue did not finish")
            time.sleep(0.2)
        ends = db.execute("SELECT j.ended_at, r.train_seconds FROM jobs j JOIN runs r ON r.run_id = j.job_id"
                          " ORDER BY j.ended_at").fetchall()
        stop_worker(Path(home))
    return [end - previous_end - train for (previous_end, _), (end, train) in itertools.pairwise(ends)]


def stop_worker(home: Path) -> None:
    """The idle worker would wait a minute for more jobs: stop it now."""
    pid = worker_pid(home / "runs.sqlite")  # the lock's own reader: its file's format is the engine's
    if pid and pid > 0:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)


def describe(name: str, seconds: list[float]) -> str:
    return (f"{name}: median {statistics.median(seconds):.2f} s, best {min(seconds):.2f} s, "
            f"worst {max(seconds):.2f} s (n={len(seconds)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="synthetic")
    parser.add_argument("--experiment", default="1")
    parser.add_argument("--launches", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=5)
    args = parser.parse_args()
    data = args.data if args.data in ("auto", "synthetic") else str(Path(args.data).resolve())
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, python {sys.version.split()[0]}, "
          f"data {args.data}, experiment {args.experiment}")
    print(describe("dermalab list", list_seconds(args.launches)))
    runs = run_overheads(args.launches, data, args.experiment)
    print(describe("dermalab run, beside its training", [wall - train for wall, train in runs]))
    print(describe("  (its training)", [train for _, train in runs]))
    further = queue_overheads(args.jobs, data, args.experiment)
    print(describe("each further job of a queue, beside its training", further))
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
