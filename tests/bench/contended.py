"""Benchmark (not a test): one training epoch of experiments 8, 13 and 21, engine vs the page's plain loop
(tests/bench/train_speed.py), on a quiet machine and beside N CPU-bound competitor processes that this script
starts and stops itself (issue 24). Both sides run in one process, in turn (engine, plain, engine, plain, ...), so
a slow spell of a shared machine falls on both alike; each side's best of --repeat epochs is reported.

Each competitor spins in a session of its own, as other users' programs do, so where the kernel groups CPU time
by session (autogroup), each one weighs as much as this benchmark. A competitor takes this process's autogroup
nice where it may: run the benchmark with a raised one to measure it against its own competitors rather than
against whatever else the machine runs (as root: `setsid sh -c 'echo -20 > /proc/self/autogroup; exec ...'`).

    .venv/bin/python tests/bench/contended.py --data ../shared/data/dermamnist_rebuilt.npz
    .venv/bin/python tests/bench/contended.py --data synthetic --limit 512 --experiments 8   # a check of the script
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO), str(REPO / "tests" / "bench")]

import engine  # noqa: E402,F401,I001  (before torch, which train_speed imports: it sets how OpenMP threads wait)
from engine import threads  # noqa: E402
from engine.experiments.load import load  # noqa: E402
from engine.training import data  # noqa: E402
from engine.training.device import resolve_device  # noqa: E402
from train_speed import engine_epoch, plain_epoch  # noqa: E402

import torch  # noqa: E402

# A competitor: dies with this benchmark (even after a kill -9 of it), takes its autogroup nice, and spins.
SPIN = """
import ctypes, os, signal, sys
ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
if os.getppid() != int(sys.argv[1]):
    sys.exit()
try:
    with open("/proc/self/autogroup", "w") as group:
        group.write(sys.argv[2])
except (OSError, ValueError):
    pass
while True:
    pass
"""


def autogroup_nice() -> str:
    """This process's autogroup nice ('0' where the kernel has none)."""
    with contextlib.suppress(OSError, IndexError):
        return Path("/proc/self/autogroup").read_text().split()[-1]
    return "0"


@contextlib.contextmanager
def competitors(count: int) -> Iterator[None]:
    """`count` CPU-bound processes, each in a session of its own, for the time of the block."""
    started = [subprocess.Popen([sys.executable, "-c", SPIN, str(os.getpid()), autogroup_nice()],
                                start_new_session=True) for _ in range(count)]
    try:
        time.sleep(1.0)  # they start spinning before the clock does
        yield
    finally:
        for process in started:
            process.kill()
            process.wait()


def side_by_side(spec, dataset, device: torch.device, repeat: int) -> tuple[float, float]:
    """The best img/s of the engine (default precision, as a run trains) and of the plain loop, epochs in turn."""
    ours, plain = [], []
    for seed in range(repeat):
        ours.append(engine_epoch(spec, dataset, str(device), seed, "auto"))
        plain.append(plain_epoch(spec, dataset, device, seed))
    return max(ours), max(plain)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="synthetic")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--experiments", nargs="*", type=int, default=[8, 13, 21])
    parser.add_argument("--competitors", type=int, default=threads.cores_allowed(),
                        help="CPU-bound processes beside the contended epochs (default: as many as the cores)")
    parser.add_argument("--repeat", type=int, default=2, help="epochs per side and phase; the best is reported")
    parser.add_argument("--limit", type=int, help="train on the first N training images only (a quicker look)")
    parser.add_argument("--threads", type=int, help="torch's threads, for both sides (default: as a run decides)")
    args = parser.parse_args()
    threads.use(threads.threads_per_run(asked=args.threads), fixed=args.threads is not None)
    dataset = data.load(args.data)
    if args.limit:
        dataset = replace(dataset, images={**dataset.images, "train": dataset.images["train"][:args.limit]},
                          labels={**dataset.labels, "train": dataset.labels["train"][:args.limit]})
    device = resolve_device(args.device)
    experiments = load()
    openmp = ", ".join(f"{name}={os.environ.get(name, '-')}" for name in threads.OPENMP)
    print(f"device {device} · torch threads {torch.get_num_threads()} · {openmp} · {len(dataset.labels['train'])} "
          f"training images · {args.competitors} competitors · autogroup nice {autogroup_nice()} · "
          f"load {os.getloadavg()[0]:.1f}")
    print("| # | name | quiet: engine | plain | ratio | contended: engine | plain | ratio | engine kept | plain kept |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for experiment_id in args.experiments:
        spec = experiments[experiment_id].spec
        quiet = side_by_side(spec, dataset, device, args.repeat)
        with competitors(args.competitors):
            busy = side_by_side(spec, dataset, device, args.repeat)
        print(f"| {experiment_id} | {spec.name} | {quiet[0]:,.0f} | {quiet[1]:,.0f} | {quiet[0] / quiet[1]:.2f}x | "
              f"{busy[0]:,.0f} | {busy[1]:,.0f} | {busy[0] / busy[1]:.2f}x | {busy[0] / quiet[0]:.0%} | "
              f"{busy[1] / quiet[1]:.0%} |", flush=True)
    print(f"load after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
