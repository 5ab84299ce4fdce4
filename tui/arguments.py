"""What a parsed command line asks of the engine: where the jobs come from (data, experiments file, run options)
and the worker's slots. Read by the command line and by the app it opens, so it sits below both."""

from __future__ import annotations

import argparse
from pathlib import Path

from engine.jobs.slots import SlotRequest
from engine.jobs.source import JobSource
from engine.training.options import RunOptions


def job_source(args: argparse.Namespace) -> JobSource:
    """--data, --experiments and the run's options, with the paths made absolute: a worker runs from a folder of
    its own."""
    data = args.data if args.data in ("auto", "synthetic") else str(Path(args.data).resolve())
    experiments = args.experiments and str(Path(args.experiments).resolve())
    options = RunOptions(device=args.device, epochs=args.epochs, pretrained=not args.no_pretrained,
                         precision=args.precision, debug=args.debug, dataset=args.dataset, size=args.size,
                         halving=getattr(args, "halving", False))
    return JobSource(data, experiments, options)


def scope_of(args: argparse.Namespace | None) -> tuple[str, int] | None:
    """The set and size whose runs a command's views (or the app's) read: every one that takes --dataset takes
    --size; None, every run, for the others."""
    return (args.dataset, args.size) if args is not None and hasattr(args, "dataset") else None


def slot_request(args: argparse.Namespace) -> SlotRequest:
    """--jobs, --gpus, --per-gpu and --threads, for the worker that trains the runs (absent: its defaults)."""
    return SlotRequest(args.jobs, args.gpus, args.per_gpu, args.threads)
