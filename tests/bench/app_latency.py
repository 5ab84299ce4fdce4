"""Benchmark (not a test): how soon the app paints its first screen, how fast it answers a key while a detached
CPU run trains beside it, and how often that run writes its heartbeat into the store.

The app runs as a person would start it, `dermalab --data synthetic --device cpu`, in a pseudo-terminal of
80x24 with TERM=xterm-256color and a fresh DERMALAB_HOME. First paint: from starting the process to the first
experiment's name on the terminal, over a few launches. Key latency: `dermalab run 1 --detach` starts a run of
experiment 1 in the background worker; once it trains, the app opens and follows it from the store. Then on the
leaderboard `S` reverses the sort again and again; `l` and `v` switch between the leaderboard and the run view
(which repaints its progress bars all the while); and on the run view `?` opens the keys and escape closes them.
Each latency runs from writing the key to the terminal to the moment text that only its answer paints (the
header's ▲ or ▼, the leaderboard's caption, the keys' title, the queue) has arrived. Then, with the app still
open on the run view, the heartbeat rate is counted for a few seconds, and `dermalab cancel --all` is given from
another process, as from a second SSH session: timed from its start to the app painting the job's ■ in its
queue, and the run must be stored as cancelled.

    .venv/bin/python tests/bench/app_latency.py [--launches 3] [--keys 40] [--beat-seconds 10]
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import pty
import select
import signal
import sqlite3
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from engine.jobs.lock import worker_pid  # noqa: E402  (after the path is set, so the script runs from anywhere)
from engine.store.runs import Store  # noqa: E402

COLUMNS, LINES = 80, 24
KEYS = {"down": b"\x1b[B", "space": b" ", "escape": b"\x1b"}
# name: (the key to its view, then the keys to time, in turn, each with text that only its answer paints)
SCENARIOS = {"S on the leaderboard": ("l", [("S", "▲"), ("S", "▼")]),
             "l and v between leaderboard and run view": ("v", [("l", "sorted by"), ("v", "Queue:")]),
             "? and escape on the run view": ("v", [("?", "escape closes"), ("escape", "Queue:")])}


class Terminal:
    """The app in a pseudo-terminal: write keys, wait for text to appear in what it paints."""

    def __init__(self, home: Path, *options: str):
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", LINES, COLUMNS, 0, 0))
        env = {**os.environ, "TERM": "xterm-256color", "DERMALAB_HOME": str(home), "PYTHONPATH": str(REPO)}
        env.pop("NO_COLOR", None)
        self.started = time.perf_counter()
        self.process = subprocess.Popen([sys.executable, "-m", "tui.cli.main", *options], stdin=slave, stdout=slave,
                                        stderr=slave, env=env, cwd=REPO, start_new_session=True)
        os.close(slave)
        self.seen = b""

    def wait_for(self, text: str, timeout: float = 60) -> float:
        """Read until `text` has been painted since the last call; return when that happened."""
        self.seen = b""
        deadline = time.perf_counter() + timeout
        while text.encode() not in self.seen:
            remaining = deadline - time.perf_counter()
            if remaining <= 0 or self.process.poll() is not None:
                raise TimeoutError(f"the app never painted {text!r}")
            if select.select([self.master], [], [], remaining)[0]:
                self.seen += os.read(self.master, 65536)
        return time.perf_counter()

    def drain(self, quiet: float = 0.2, limit: float = 1.0) -> None:
        """Read until nothing arrives for `quiet` seconds, or for `limit` seconds where the app keeps painting."""
        end = time.perf_counter() + limit
        while time.perf_counter() < end and select.select([self.master], [], [], quiet)[0]:
            os.read(self.master, 65536)

    def wait_exit(self, timeout: float = 30) -> None:
        """Keep reading while the app shuts down: a full terminal would block its last writes."""
        deadline = time.perf_counter() + timeout
        while self.process.poll() is None:
            if time.perf_counter() > deadline:
                raise TimeoutError("the app did not exit")
            try:
                self.drain(0.05, limit=0.1)
            except OSError:  # the app closed its end of the terminal
                time.sleep(0.05)

    def press(self, *keys: str) -> float:
        for key in keys:
            os.write(self.master, KEYS.get(key, key.encode()))
        return time.perf_counter()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        os.close(self.master)


def first_paint(launches: int) -> list[float]:
    times = []
    for _ in range(launches):
        with tempfile.TemporaryDirectory() as home:
            terminal = Terminal(Path(home), "--data", "synthetic", "--device", "cpu")
            try:
                times.append(terminal.wait_for("Baseline") - terminal.started)
                terminal.press("q")
                terminal.wait_exit()
            finally:
                terminal.close()
    return times


def key_latency(keys: int, beat_seconds: float) -> tuple[dict[str, list[float]], float, float, str]:
    """Latencies of each scenario's key while experiment 1 trains in the worker; heartbeats a second; seconds from
    a cancel given elsewhere to the app showing it; and the run's stored status once cancelled."""
    with tempfile.TemporaryDirectory() as home:
        # Far more epochs than the keys take: the run is still going at the end, and a cancel stops it.
        dermalab(Path(home), "run", "1", "--detach", "--data", "synthetic", "--device", "cpu", "--epochs", "1000")
        terminal = Terminal(Path(home), "--data", "synthetic", "--device", "cpu")
        try:
            wait_until_training(Path(home))
            terminal.wait_for("Baseline")
            latencies = {name: timed(terminal, *scenario, keys) for name, scenario in SCENARIOS.items()}
            beats = heartbeats_per_second(Path(home), beat_seconds)
            still_running = status(Path(home)) == "running"
            terminal.press("v")
            terminal.drain(0.5)
            asked = time.perf_counter()
            cancel = dermalab(Path(home), "cancel", "--all", wait=False)
            try:
                seen = terminal.wait_for("■") - asked  # the queue's mark of a cancelled job
            except TimeoutError as error:  # say what the cancel said: a failure here was seen once, unexplained
                said = cancel.communicate(timeout=60)[1].decode().strip() or "nothing"
                raise TimeoutError(f"{error}; the cancel ended {cancel.returncode} and said {said}") from error
            cancel.wait()
            terminal.press("q")
            terminal.wait_exit()
        finally:
            terminal.close()
            final = status(Path(home))
            stop_worker(Path(home))  # on a failure too
    if not still_running:
        final += " (the run ended before the keys did: use more epochs)"
    return latencies, beats, seen, final


def dermalab(home: Path, *args: str, wait: bool = True) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-m", "tui.cli.main", *args], cwd=REPO, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE,
                               env={**os.environ, "DERMALAB_HOME": str(home), "PYTHONPATH": str(REPO)})
    if wait:
        errors = process.communicate()[1].decode().strip()
        if process.returncode != 0:
            raise RuntimeError(f"'dermalab {' '.join(args)}' ended with exit code {process.returncode}: {errors}")
    return process


def heartbeats_per_second(home: Path, seconds: float) -> float:
    """Distinct heartbeat times of the running job, sampled every 10 ms."""
    db = sqlite3.connect(home / "runs.sqlite")
    seen, end = set(), time.perf_counter() + seconds
    while time.perf_counter() < end:
        seen.update(row[0] for row in db.execute("SELECT beat_at FROM jobs WHERE status='running'"))
        time.sleep(0.01)
    db.close()
    return len(seen) / seconds


def stop_worker(home: Path) -> None:
    """Stop the worker now: idle, it would wait a minute for more jobs; after a failure, train on unseen."""
    pid = worker_pid(home / "runs.sqlite")  # the lock's own reader: its file's format is the engine's
    if pid and pid > 0:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)


def timed(terminal: Terminal, view: str, answered: list[tuple[str, str]], keys: int) -> list[float]:
    terminal.press(view)
    terminal.drain(0.5)
    latencies = []
    for press in range(keys):
        key, answer = answered[press % len(answered)]
        pressed = terminal.press(key)
        latencies.append(terminal.wait_for(answer) - pressed)
        terminal.drain(0.05, limit=0.2)
    return latencies


def wait_until_training(home: Path, timeout: float = 120) -> None:
    """The worker's child has stored its run once it starts training; give it a moment more to be busy."""
    deadline = time.perf_counter() + timeout
    while status(home) != "running":
        if time.perf_counter() > deadline:
            raise TimeoutError("the run never started")
        time.sleep(0.2)
    time.sleep(2)


def status(home: Path) -> str | None:
    os.environ["DERMALAB_HOME"] = str(home)
    store = Store()
    try:
        runs = store.runs()
    finally:
        store.close()
    return runs[-1]["status"] if runs else None


def describe(name: str, seconds: list[float]) -> str:
    ms = sorted(value * 1000 for value in seconds)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return f"{name}: median {statistics.median(ms):.0f} ms, p95 {p95:.0f} ms, max {ms[-1]:.0f} ms (n={len(ms)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--launches", type=int, default=3)
    parser.add_argument("--keys", type=int, default=40)
    parser.add_argument("--beat-seconds", type=float, default=10)
    args = parser.parse_args()
    # A timeout's SIGTERM must still run the `finally` that closes the app, or it lingers in its own session.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, python {sys.version.split()[0]}")
    print(describe("first paint (launch to the experiments list)", first_paint(args.launches)))
    latencies, beats, seen, final = key_latency(args.keys, args.beat_seconds)
    for name, seconds in latencies.items():
        print(describe(f"key to repaint during a detached CPU run ({name})", seconds))
    print(f"heartbeat writes of the running job: {beats:.1f} a second")
    print(f"'dermalab cancel --all' from another process, to the open app showing the job cancelled: {seen:.2f} s")
    print(f"the run is stored as: {final}")


if __name__ == "__main__":
    main()
