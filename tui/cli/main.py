"""The `dermalab` command: the app by default, and list / run / results / compare / operating-point / ensemble /
report for scripts and SSH sessions. Here are its parser and its entry; the commands are in run_commands (run,
worker), queue_commands (queue, cancel, sync) and result_commands (list, results, ..., prune)."""

from __future__ import annotations

import argparse
import functools
import gc
import importlib
import os
import sys
from collections.abc import Callable
from typing import Any, NoReturn

from engine.errors import UserError
from tui import exit_codes
from tui.cli.options import (
    add_command,
    add_shared,
    memory_size,
    seconds,
    settle,
    some_path,
    whole_number,
)

FORMATS = ("table", "csv", "json", "markdown")
WIDE_HELP = "every column, however wide (a table otherwise keeps to the terminal's width)"


class Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one sentence like every other bad input, and the namespace holds each
    shared option once, wherever it was given (see tui.cli.options). No abbreviations: with --data and --dataset
    both options, '--data' must never be read as a prefix of another."""

    def __init__(self, *args: Any, **settings: Any) -> None:
        super().__init__(*args, **{**settings, "allow_abbrev": False})

    def parse_args(self, args=None, namespace=None) -> argparse.Namespace:  # type: ignore[override]
        return settle(super().parse_args(args, namespace))

    def error(self, message: str) -> NoReturn:
        raise UserError(f"{message[0].upper()}{message[1:]}; see '{self.prog} --help'.")


@functools.cache  # parsing changes nothing in it, and an app and the tests' hundreds of commands share one process
def build_parser() -> Parser:
    parser = Parser(prog="dermalab", description="A terminal lab for the 25 DermaMNIST experiments of 'Beat the "
                    "Baseline'. With no command, opens the app. Options go before or after the command.")
    add_shared(parser, command=None)
    commands = parser.add_subparsers(dest="command", parser_class=Parser)

    listing = add_command(commands, "list", help="the experiments, their params and published figures")
    listing.add_argument("--json", action="store_true")
    listing.add_argument("--wide", action="store_true", help=WIDE_HELP)

    run = add_command(commands, "run", help="train experiments headless")
    run.add_argument("ids", nargs="*", metavar="IDS", help="ids and ranges such as 8 11-14")
    run.add_argument("--all", action="store_true", help="every experiment")
    run.add_argument("--resume", metavar="ID",
                     help="go on with an interrupted run from its last finished epoch, here (its id or a prefix)")
    add_launch(run)

    sweep = add_command(commands, "sweep", help="train a sweep of the experiments file: its points × seeds")
    sweep.add_argument("name", metavar="NAME", help="the name of a [[sweeps]] table")
    sweep.add_argument("--halving", action="store_true",
                       help="successive halving: at epochs 1, 3, 9, ... a point goes on only in the top third so far")
    add_launch(sweep)

    worker = add_command(commands, "worker", help="train the queued jobs; stops once the queue has been empty a while")
    worker.add_argument("--idle", type=seconds("--idle", high=86_400), default=None, metavar="SECONDS",
                        help="how long to wait for more jobs before stopping (default 60)")

    add_command(commands, "sync", help="import the results of runs finished on a cluster (queue and the app do it too)")

    queue = add_command(commands, "queue", help="the jobs waiting and running, with their progress")
    queue.add_argument("--json", action="store_true")
    queue.add_argument("--wide", action="store_true", help=WIDE_HELP)

    cancel = add_command(commands, "cancel", help="take waiting jobs off the queue, stop running ones")
    cancel.add_argument("ids", nargs="*", metavar="JOB_OR_RUN_ID",
                        help="ids from 'dermalab queue', or their first characters")
    cancel.add_argument("--all", action="store_true", help="every job waiting or running")
    cancel.add_argument("--json", action="store_true")

    results = add_command(commands, "results", help="every stored run, or one")
    results.add_argument("run_id", nargs="?", metavar="RUN_ID", help="one run (an id, or its first characters)")
    results.add_argument("--experiment", type=int, metavar="ID", help="only this experiment's runs")
    results.add_argument("--per-experiment", action="store_true", help="mean ± std and n over each experiment's seeds")
    results.add_argument("--sweep", metavar="NAME",
                         help="a row per point of the sweep, and its best point against the experiment it extends")
    results.add_argument("--point", metavar="LABEL",
                         help="with --sweep: compare this point ('lr=0.003') with the base, not the best one")
    results.add_argument("--confusion", action="store_true", help="the run's confusion matrix (needs RUN_ID)")
    results.add_argument("--sort", default="auc", metavar="COL", help="a column of numbers (default auc)")
    order = results.add_mutually_exclusive_group()
    order.add_argument("--asc", dest="descending", action="store_false")
    order.add_argument("--desc", dest="descending", action="store_true", default=True)
    results.add_argument("--format", choices=FORMATS, default="table")
    results.add_argument("--wide", action="store_true", help=WIDE_HELP)

    compare = add_command(commands, "compare", help="our figures against the published ones")
    compare.add_argument("--format", choices=FORMATS, default="table")
    compare.add_argument("--wide", action="store_true", help=WIDE_HELP)

    point = add_command(commands, "operating-point",
                        help="the threshold reaching a target sensitivity on val, and its cost")
    point.add_argument("run_id", metavar="RUN_ID")
    point.add_argument("--target", type=float, default=0.9, help="sensitivity to reach, in (0, 1] (default 0.9)")
    point.add_argument("--class", dest="condition", default="mel", metavar="mel|cancer",
                       help="screen for melanoma (P(mel)) or any cancer (P(akiec)+P(bcc)+P(mel)); on another set, "
                            "its critical class and group (engine/classes.py); default mel")
    point.add_argument("--json", action="store_true")

    ensemble = add_command(commands, "ensemble", help="two stored runs combined, beside each alone")
    ensemble.add_argument("run_ids", nargs=2, metavar="RUN_ID")
    ensemble.add_argument("--rule", metavar="or|mean",
                          help="or: flagged when either run flags it (default); mean: average the probabilities "
                               "(the default on a set without critical classes, where the or rule has none to flag)")
    ensemble.add_argument("--json", action="store_true")

    report = add_command(commands, "report", help="a Markdown report with CSV tables")
    report.add_argument("--out", type=some_path("--out"), required=True, metavar="DIR",
                        help="folder to write report.md and the CSVs into")
    report.add_argument("--force", action="store_true", help="write over a report already in DIR")

    test = add_command(commands, "test", help="the sealed test figures of runs, experiments or a sweep's chosen point")
    test.add_argument("names", nargs="+", metavar="NAME",
                      help="a run id (or its start), an experiment id, or sweep:NAME for the sweep's best point on val "
                           "(sweep:NAME@LABEL: the point labelled so)")
    test.add_argument("--unseal", action="store_true", help="show them; each look is logged and counted")
    test.add_argument("--json", action="store_true")
    test.add_argument("--wide", action="store_true", help=WIDE_HELP)

    lessons = add_command(commands, "lessons", help="the page's lessons × the MedMNIST sets: each experiment against "
                          "the one it changes, seed-paired")
    lessons.add_argument("--datasets", metavar="A,B|all", help="the sets (default: those with runs in the store)")
    lessons.add_argument("--format", choices=("table", "md", "csv", "latex"), default="table")

    prune = add_command(commands, "prune",
                        help="delete runs that did not finish (and quick looks), then reclaim the space")
    prune.add_argument("--quick", action="store_true",
                       help="also finished runs that ran fewer epochs than their experiment (--epochs looks)")
    prune.add_argument("--yes", action="store_true", help="delete without asking (for scripts)")
    return parser


def add_launch(parser: argparse.ArgumentParser) -> None:
    """What `run` and `sweep` share: how their runs are launched (here, detached, on a cluster) and reported."""
    parser.add_argument("--again", action="store_true",
                        help="run seeds that already finished with the same config and data (skipped otherwise)")
    parser.add_argument("--json", action="store_true", help="one JSON object per run on stdout, as 'results' gives it")
    parser.add_argument("--detach", action="store_true",
                        help="queue the runs for the background worker, print their job ids and return at once")
    cluster = parser.add_argument_group("on a cluster, through submitit (pip install -e '.[slurm]')")
    cluster.add_argument("--executor", choices=("slurm", "local"),
                         help="slurm: one job array, a task per run (or per --runs-per-task); local: the same path on "
                              "this machine")
    cluster.add_argument("--partition", metavar="P", help="the Slurm partition (default: the cluster's)")
    cluster.add_argument("--gpus-per-task", type=whole_number("--gpus-per-task", 0, 16), default=0, metavar="G",
                         help="GPUs each task asks for (default 0)")
    cluster.add_argument("--time", type=whole_number("--time", 1, 7 * 24 * 60, "of minutes"), default=60,
                         metavar="MIN", help="each task's time limit in minutes (default 60)")
    cluster.add_argument("--array-parallelism", type=whole_number("--array-parallelism", 1, 10_000), default=64,
                         metavar="K", help="tasks of the array running at once (default 64)")
    cluster.add_argument("--runs-per-task", type=whole_number("--runs-per-task", 1, 10_000), default=1, metavar="N",
                         help="runs each task trains in turn (default 1): for short runs, whose task would spend more "
                              "time starting (queue wait, torch import, data) than training")
    cluster.add_argument("--cpus-per-task", type=whole_number("--cpus-per-task", 1, 1024), default=2, metavar="C",
                         help="CPUs each task asks for, and torch's threads in it (default 2)")
    cluster.add_argument("--mem", type=memory_size, default="4G", metavar="SIZE",
                         help="memory each task asks for, as Slurm writes it: 500M, 16G (default 4G)")


# Each command's module, imported only when that command runs: `dermalab list` (and the app) then start without
# the queue, the cluster path and the progress bars of the others (about a third of `list`'s start-up).
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("run_commands", "cmd_run"), "sweep": ("run_commands", "cmd_sweep"),
    "worker": ("run_commands", "cmd_worker"),
    "queue": ("queue_commands", "cmd_queue"), "cancel": ("queue_commands", "cmd_cancel"),
    "sync": ("queue_commands", "cmd_sync"),
    "list": ("result_commands", "cmd_list"), "results": ("result_commands", "cmd_results"),
    "compare": ("result_commands", "cmd_compare"), "operating-point": ("result_commands", "cmd_operating_point"),
    "ensemble": ("result_commands", "cmd_ensemble"), "report": ("result_commands", "cmd_report"),
    "prune": ("result_commands", "cmd_prune"), "test": ("sealed_commands", "cmd_test"),
    "lessons": ("lessons_command", "cmd_lessons"),
}


def handler(command: str | None) -> Callable[[argparse.Namespace], int]:
    if command is None:
        return cmd_app
    module, function = COMMANDS[command]
    return getattr(importlib.import_module(f"tui.cli.{module}"), function)


def main(argv: list[str] | None = None) -> int:
    raw = sys.argv[1:] if argv is None else argv
    debug = "--debug" in raw
    try:
        args = build_parser().parse_args(raw)
        code = handler(args.command)(args)
        sys.stdout.flush()  # here, so that a reader who went away is met inside this try, not at exit
        return code
    except UserError as error:
        if debug:
            raise
        print(f"dermalab: {error}", file=sys.stderr)
        return exit_codes.BAD_INPUT
    except KeyboardInterrupt:
        if debug:
            raise
        print("dermalab: interrupted; finished runs are stored.", file=sys.stderr)
        return exit_codes.INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`| head -1`): stop quietly, as cat does. Whatever is still buffered goes to
        # /dev/null, so that Python's own flush at exit cannot fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return exit_codes.PIPE_CLOSED


def cmd_app(args: argparse.Namespace) -> int:
    # Textual: only the app needs it, so every other command starts without it
    from tui.app.main import run_app

    return run_app(args)


def entry() -> NoReturn:
    code = main()
    # The interpreter's exit would walk torch's objects again, for a second, freeing nothing: collect once what
    # the command left (its store connection closes cleanly, with no WAL files left), then freeze the rest.
    gc.collect()
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    entry()
