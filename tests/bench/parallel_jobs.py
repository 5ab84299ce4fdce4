"""Benchmark (not a test): the wall time of a sweep with one run at a time and with several at once, side by side.

Each variant is one `dermalab run IDS --seed 0 --json` with its slot options (default: --jobs 1, then --jobs 2), in
a DERMALAB_HOME of its own, timed from the command's start to its end (torch's import and the data's load
included, as a user waits for them). It prints each variant's wall time, its ratio to the first, the load average
before and after, and the largest difference between variants in an experiment's AUC.

    .venv/bin/python tests/bench/parallel_jobs.py --data ../shared/data/dermamnist_rebuilt.npz --ids 1-10
    # on a GPU machine:
    .venv/bin/python tests/bench/parallel_jobs.py --data ../shared/data/dermamnist_rebuilt.npz --ids 1-22 \\
        --variant "--per-gpu 1" --variant "--per-gpu 4"
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def sweep(ids: str, data: str, slots: str, epochs: int | None, home: Path) -> tuple[float, dict[int, float]]:
    """Seconds the sweep took, and each experiment's AUC."""
    command = [sys.executable, "-m", "tui.cli.main", "run", *ids.split(), "--seed", "0", "--data", data, "--json",
               *shlex.split(slots), *(["--epochs", str(epochs)] if epochs else [])]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "DERMALAB_HOME": str(home)})
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    results = [json.loads(line) for line in done.stdout.splitlines()]
    return seconds, {row["id"]: row["auc"] for row in results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="a medmnist-format .npz (or 'synthetic' to check the script)")
    parser.add_argument("--ids", default="1-10", help="experiments, as `dermalab run` takes them (default 1-10)")
    parser.add_argument("--variant", action="append", metavar="OPTIONS",
                        help="slot options of one variant, e.g. '--jobs 2' (default: '--jobs 1' and '--jobs 2')")
    parser.add_argument("--epochs", type=int, help="override every experiment's epochs (to check the script quickly)")
    args = parser.parse_args()
    data = args.data if args.data == "synthetic" else str(Path(args.data).resolve())
    variants = args.variant or ["--jobs 1", "--jobs 2"]

    print(f"experiments {args.ids}, seed 0, data {data}, epochs {args.epochs or 'as published'}, "
          f"{len(os.sched_getaffinity(0))} cores; load average before: {os.getloadavg()}")
    # The first variant must not pay alone for reading torch and the data from disk into the page cache.
    subprocess.run([sys.executable, "-c", "import torch, engine.training.data"], cwd=REPO, check=True)
    if data != "synthetic":
        Path(data).read_bytes()
    timings, aucs = {}, {}
    for variant in variants:
        with tempfile.TemporaryDirectory(prefix="dermalab-bench-") as home:
            timings[variant], aucs[variant] = sweep(args.ids, data, variant, args.epochs, Path(home))
        ratio = timings[variants[0]] / timings[variant]
        print(f"{variant:>14}: {timings[variant]:8.1f} s wall  ({ratio:.2f}x the speed of {variants[0]})", flush=True)
    print(f"load average after: {os.getloadavg()}")
    first = aucs[variants[0]]
    gap = max(abs(aucs[variant][experiment] - auc) for variant in variants for experiment, auc in first.items())
    print(f"largest AUC difference of an experiment between variants: {gap:.2g}"
          " (threads per run differ between variants, so the sums' last digits may, and grow over epochs)")


if __name__ == "__main__":
    main()
