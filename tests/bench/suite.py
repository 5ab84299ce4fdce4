"""Benchmark (not a test): experiments x seeds trained by one `dermalab run`, as a user starts it, with the given
device, slot and precision options. Prints the total wall time (from the command's start to its exit, after its
last run is stored: torch's import and the data's load included), each run's training seconds and images per
second, each GPU's utilisation sampled through the command (nvidia-ml-py, where an NVIDIA driver is), and each
experiment's AUC beside a given store's runs of it on another device (the CPU unless --baseline-device says
otherwise), with the same kind of data, epochs and pretrained weights.

    # issue 14, on one GPU: the page with one seed, then with three (23-24 have no ImageNet weights there)
    .venv/bin/python tests/bench/suite.py --ids 1-25 --data ../shared/data/dermamnist_rebuilt.npz --device cuda \\
        --per-gpu 4 --no-pretrained --baseline cpu-runs.sqlite
    .venv/bin/python tests/bench/suite.py --ids 1-25 --seeds 3 --data ../shared/data/dermamnist_rebuilt.npz \\
        --device cuda --per-gpu 4 --no-pretrained --baseline cpu-runs.sqlite
    # bf16 against fp32: the same command twice, with --precision bf16 and --precision fp32
    # a check of the script itself, on the CPU
    .venv/bin/python tests/bench/suite.py --ids 1-2 --seeds 2 --data synthetic --epochs 1

DERMALAB_COMPILE (see the README) passes through to the runs, so compiled and eager runs compare the same way.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from engine.experiments.load import load  # noqa: E402
from engine.jobs import gpus  # noqa: E402  (torch-free: this process never trains)

PASSED_ON = ("device", "jobs", "gpus", "per_gpu", "precision", "epochs", "experiments")  # given to `dermalab run`


def main() -> int:
    args = parser().parse_args()
    if args.baseline and not args.baseline.exists():  # said before the runs, not after them
        sys.exit(f"--baseline {args.baseline}: no such file; give the runs.sqlite of a store with runs to compare "
                 "with.")
    data = args.data if args.data in ("auto", "synthetic") else str(Path(args.data).resolve())
    command = run_command(args, data)
    with tempfile.TemporaryDirectory(prefix="dermalab-suite-") as scratch:
        home = Path(args.home or scratch)
        load_before = os.getloadavg()
        wall, outcome, utilisation = timed(command, home, args.sample_every)
        load_after = os.getloadavg()
    if outcome.returncode not in (0, 1):  # 1: some run failed, shown below; anything else: the command was refused
        print(f"{' '.join(command)} ended with exit code {outcome.returncode}:\n{outcome.stderr[-3000:]}",
              file=sys.stderr)
        return outcome.returncode
    runs = [json.loads(line) for line in outcome.stdout.splitlines() if line.startswith("{")]
    experiments = load(args.experiments)
    run_as = {run["id"]: (args.epochs or experiments[run["id"]].spec.training.epochs,
                          experiments[run["id"]].spec.model.pretrained and not args.no_pretrained) for run in runs}
    baseline = figures_of(args.baseline, data == "synthetic", args.baseline_device) if args.baseline else {}
    report = {"command": command, "load_average_before": load_before, "load_average_after": load_after,
              "wall_seconds": wall, "runs": runs, "gpu_utilisation": utilisation,
              "experiments": beside_baseline(runs, run_as, baseline)}
    if args.format == "json":
        print(json.dumps(report, indent=1))
    else:
        show(report, args.format, args.baseline and f"the {args.baseline_device.upper()} runs of {args.baseline}")
    return 0


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ids", default="1-25", help="experiments, as `dermalab run` takes them (default 1-25)")
    parser.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    parser.add_argument("--seeds", type=int, default=1, help="seeds per experiment (default 1)")
    parser.add_argument("--data", required=True, help="a medmnist-format .npz, or synthetic")
    parser.add_argument("--device", help="as `dermalab run` takes it (default: its own, auto)")
    parser.add_argument("--jobs", help="runs at once (`dermalab run --jobs`)")
    parser.add_argument("--gpus", help="the GPUs to hand out (`dermalab run --gpus`)")
    parser.add_argument("--per-gpu", help="runs at once on each GPU (`dermalab run --per-gpu`)")
    parser.add_argument("--precision", choices=("bf16", "fp32"), help="default: the device's own")
    parser.add_argument("--epochs", type=int, help="override every experiment's epochs")
    parser.add_argument("--no-pretrained", action="store_true", help="ResNet18 from scratch (23-25)")
    parser.add_argument("--experiments", help="an experiments file (default: the repository's)")
    parser.add_argument("--baseline", type=Path, metavar="RUNS.SQLITE",
                        help="a store whose finished CPU runs give each experiment's AUC to compare with")
    parser.add_argument("--baseline-device", default="cpu", metavar="cpu|cuda",
                        help="the baseline's runs on this kind of device only (default cpu)")
    parser.add_argument("--home", type=Path, help="DERMALAB_HOME for the runs, kept afterwards (default: a "
                        "temporary one)")
    parser.add_argument("--sample-every", type=float, default=0.5, metavar="SECONDS", help="GPU sampling interval")
    parser.add_argument("--format", choices=("markdown", "table", "json"), default="markdown")
    return parser


def run_command(args: argparse.Namespace, data: str) -> list[str]:
    command = [sys.executable, "-m", "tui.cli.main", "run", *args.ids.split(), "--seed", str(args.seed),
               "--seeds", str(args.seeds), "--data", data, "--json"]
    for name in PASSED_ON:
        if getattr(args, name) is not None:
            command += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    return command + (["--no-pretrained"] if args.no_pretrained else [])


def timed(command: list[str], home: Path, every: float) -> tuple[float, subprocess.CompletedProcess,
                                                              dict[str, dict[str, float]]]:
    """Runs the command to its end, sampling every GPU's utilisation meanwhile; returns the wall seconds, what it
    printed, and for each GPU the mean and the highest utilisation in % and how many samples were taken."""
    samples: dict[str, list[int]] = {}
    done = threading.Event()

    def sample() -> None:
        while not done.wait(every):
            for reading in gpus.samples():
                samples.setdefault(reading.gpu, []).append(reading.utilisation)

    sampler = threading.Thread(target=sample, daemon=True)
    started = time.perf_counter()
    sampler.start()
    outcome = subprocess.run(command, cwd=REPO, capture_output=True, text=True,
                             env={**os.environ, "DERMALAB_HOME": str(home)})
    wall = time.perf_counter() - started
    done.set()
    sampler.join()
    return wall, outcome, {gpu: {"mean": statistics.fmean(values), "max": max(values), "samples": len(values)}
                           for gpu, values in samples.items()}


def figures_of(path: Path, synthetic: bool, device: str) -> dict[tuple[int, int, bool], list[float]]:
    """(experiment, epochs, pretrained) -> the AUCs of the store's finished runs on this kind of device and data."""
    from engine.store.runs import Store

    store = Store(path)
    try:
        rows = store.runs()
    finally:
        store.close()
    figures: dict[tuple[int, int, bool], list[float]] = {}
    for row in rows:
        if (row["status"] == "finished" and row["auc"] is not None and bool(row["synthetic"]) == synthetic
                and str(row["device"]).lower().startswith(device.lower())):
            figures.setdefault((row["experiment_id"], row["epochs"], bool(row["pretrained"])), []).append(row["auc"])
    return figures


def beside_baseline(runs: list[dict[str, Any]], run_as: dict[int, tuple[int, bool]],
                    baseline: dict[tuple[int, int, bool], list[float]]) -> list[dict[str, Any]]:
    """Each experiment's mean AUC over its finished runs here, and the baseline's mean, spread and count."""
    rows = []
    for experiment in dict.fromkeys(run["id"] for run in runs):
        ours = [run["auc"] for run in runs if run["id"] == experiment and run["status"] == "finished"]
        theirs = baseline.get((experiment, *run_as[experiment]), [])
        mean = statistics.fmean(ours) if ours else None
        other = statistics.fmean(theirs) if theirs else None
        rows.append({"id": experiment, "epochs": run_as[experiment][0], "n": len(ours), "auc": mean,
                     "baseline_auc": other, "baseline_sd": statistics.stdev(theirs) if len(theirs) > 1 else None,
                     "baseline_n": len(theirs),
                     "difference": mean - other if mean is not None and other is not None else None})
    return rows


def show(report: dict[str, Any], fmt: str, baseline: str | None) -> None:
    from tui.text.tables import print_table

    print(" ".join(report["command"]))
    runs = report["runs"]
    print(f"\ntotal wall: {report['wall_seconds']:.1f} s for {len(runs)} runs (load average before "
          f"{report['load_average_before'][0]:.2f}, after {report['load_average_after'][0]:.2f})\n")
    print_table(runs, fmt, columns({"#": "id", "name": "name", "seed": "seed", "device": "device", "status": "status",
                                    "train s": "train_seconds", "img/s": "images_per_second", "AUC": "auc"}))
    print("\nGPU utilisation, sampled through the command:")
    for gpu, figures in report["gpu_utilisation"].items() or [(None, None)]:
        print(f"  GPU {gpu}: mean {figures['mean']:.0f} %, highest {figures['max']} %, {figures['samples']} samples"
              if gpu is not None else "  none sampled (no NVIDIA driver or nvidia-ml-py here)")
    print(f"\nAUC per experiment, beside {baseline}:" if baseline else
          "\nAUC per experiment (give --baseline RUNS.SQLITE to set another device's runs beside it):")
    print_table(report["experiments"], fmt, columns({"#": "id", "epochs": "epochs", "n": "n", "AUC": "auc",
                                                     "baseline AUC": "baseline_auc", "baseline sd": "baseline_sd",
                                                     "baseline n": "baseline_n", "difference": "difference"}))


def columns(headers: dict[str, str]) -> list:
    """Every column shown whatever the terminal's width: a benchmark's figures are read whole."""
    from tui.text.tables import Column

    return [Column(header, key) for header, key in headers.items()]


if __name__ == "__main__":
    sys.exit(main())
