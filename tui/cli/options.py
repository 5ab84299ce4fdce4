"""The options that more than one place takes, each declared once: which commands take it, its default, and the
check its value passes. Each may go before the command or after it (`dermalab --data synthetic run 8` is
`dermalab run 8 --data synthetic`); one given before a command that does not take it is refused, never ignored.

To add an option, add an Option below and name the commands that take it; to add a command, create it with
`add_command`, and list it in the `commands` of the options it takes."""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine import classes
from engine.errors import UserError
from engine.experiments.spec import MAX_EPOCHS
from engine.paths import require_data_file
from engine.training.options import check_device_name, check_precision

APP = "app"  # `dermalab` without a command
EVERYWHERE = frozenset({"*"})
MAX_SEED = 2**31 - 1  # fits every seed API (numpy's legacy one is the narrowest) and the store's integers
MAX_SEEDS = 1000  # seeds per experiment in one command; far more than any spread needs
BEFORE = "before_command:"  # the namespace key prefix of a value given before the command


def whole_number(flag: str, low: int, high: int, unit: str = "") -> Callable[[str], int]:
    """ASCII digits only: int() would also take '٣', '1_000' and ' 7'."""
    def parse(text: str) -> int:
        if re.fullmatch(r"-?[0-9]+", text) and low <= int(text) <= high:
            return int(text)
        noun = f" {unit}" if unit else ""
        raise UserError(f"{flag} {text}: give a whole number{noun} from {low:,} to {high:,}.")
    return parse


def memory_size(text: str) -> str:
    """--mem as Slurm takes it: a whole number, in megabytes or with its unit (K, M, G, T)."""
    if re.fullmatch(r"[0-9]+[KMGT]?", text, re.IGNORECASE) and int(text.rstrip("KMGTkmgt")) > 0:
        return text.upper()
    raise UserError(f"--mem {text}: give a size as Slurm writes it, a whole number and its unit (500M, 16G).")


def seconds(flag: str, high: float) -> Callable[[str], float]:
    """A finite, non-negative number of seconds: float() would also take 'nan' (never reached) and 'inf'."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not 0 <= value <= high:
            raise UserError(f"{flag} {text}: give a number of seconds from 0 to {high:,.0f}.")
        return value
    return parse


def device_name(text: str) -> str:
    """Its form only: whether this machine has the device needs torch, so that is checked where a run trains (and
    by the app's probe)."""
    check_device_name(text)
    return text


def data_source(text: str) -> str:
    """A file is checked as it is named, for the app as for 'run'; 'auto' downloads when a run needs it."""
    if text not in ("auto", "synthetic"):
        require_data_file(Path(text))
    return text


def dataset_name(text: str) -> str:
    """A 2D MedMNIST set's name (medmnist's INFO, read without torch); one it cannot train is refused, saying why."""
    return classes.check_name(text)


def image_size(text: str) -> int:
    if not re.fullmatch(r"[0-9]+", text):
        raise UserError(f"--size {text}: give one of MedMNIST's sizes, {', '.join(map(str, classes.SIZES))}.")
    return classes.check_size(int(text))


def some_path(flag: str) -> Callable[[str], Path]:
    def parse(text: str) -> Path:
        if not text.strip():
            raise UserError(f"{flag} needs a path; an empty one would mean the current folder.")
        return Path(text)
    return parse


@dataclass(frozen=True)
class Option:
    flags: tuple[str, ...]
    commands: frozenset[str]  # the commands that take it (APP for no command), or EVERYWHERE
    default: Any
    settings: dict[str, Any] = field(default_factory=dict)  # add_argument's other keywords (type, action, help...)

    @property
    def dest(self) -> str:
        return self.flags[0].lstrip("-").replace("-", "_")

    def taken_by(self, command: str) -> bool:
        return self.commands is EVERYWHERE or command in self.commands


TRAINING = frozenset({APP, "run", "sweep"})
SLOTS = TRAINING | {"worker"}  # where runs are trained: the app and `run --detach` through the worker they start
MAX_JOBS = 1024  # runs at once on one machine; far more than its cores or GPUs
MAX_THREADS = 1024  # CPU threads per run; far more than a machine's cores
READING_EXPERIMENTS = TRAINING | {"list", "results", "compare", "operating-point", "ensemble", "report", "prune",
                                  "test", "lessons"}
OPTIONS = (
    Option(("--experiments",), READING_EXPERIMENTS, None,
           dict(type=some_path("--experiments"), metavar="PATH",
                help="experiments file (default: the repository's experiments.toml)")),
    Option(("--debug",), EVERYWHERE, False, dict(action="store_true", help="show tracebacks")),
    Option(("--data",), TRAINING, "auto",
           dict(type=data_source, metavar="auto|synthetic|PATH",
                help="DermaMNIST via medmnist (default), the synthetic stand-in, or a medmnist-format .npz")),
    Option(("--dataset",), READING_EXPERIMENTS - {"lessons"}, classes.DEFAULT,  # lessons takes --datasets
           dict(type=dataset_name, metavar="NAME",
                help="the MedMNIST set: dermamnist (default), pathmnist, bloodmnist, ... (2D, chestmnist aside)")),
    Option(("--size",), READING_EXPERIMENTS, classes.DEFAULT_SIZE,
           dict(type=image_size, metavar="28|64|128|224", help="image size (default 28; MedMNIST+ has 64, 128, 224)")),
    Option(("--device",), TRAINING, "auto",
           dict(type=device_name, metavar="DEVICE", help="auto (CUDA > MPS > CPU), cpu, cuda, cuda:N or mps")),
    Option(("--epochs",), TRAINING, None,
           dict(type=whole_number("--epochs", 1, MAX_EPOCHS, "of epochs"), metavar="N",
                help="override every experiment's epochs")),
    Option(("--no-pretrained",), TRAINING, False,
           dict(action="store_true", help="train ResNet18 from scratch (marked in results)")),
    Option(("--precision",), TRAINING, "auto",
           dict(type=check_precision, metavar="bf16|fp32",
                help="bf16 (bfloat16 autocast) or fp32; default: bf16 where the device computes it natively")),
    Option(("--jobs",), SLOTS, None,
           dict(type=whole_number("--jobs", 1, MAX_JOBS), metavar="N",
                help="train up to N runs at once, each in its own process (default: one per GPU, else 1)")),
    Option(("--gpus",), SLOTS, None, dict(metavar="0,2", help="the GPUs to hand out (default: every one)")),
    Option(("--per-gpu",), SLOTS, None,
           dict(type=whole_number("--per-gpu", 1, MAX_JOBS), metavar="K",
                help="runs training at once on each GPU (default 1; more for the small CNNs)")),
    Option(("--threads",), SLOTS, None,
           dict(type=whole_number("--threads", 1, MAX_THREADS), metavar="N",
                help="CPU threads per run (default: the cores this process may use, shared among the runs at once)")),
    Option(("--seed",), frozenset({"run"}), 0,
           dict(type=whole_number("--seed", 0, MAX_SEED), metavar="S", help="first seed (default 0)")),
    Option(("--seeds",), frozenset({"run"}), 1,
           dict(type=whole_number("--seeds", 1, MAX_SEEDS, "of seeds"), metavar="N",
                help="seeds per experiment: S, S+1, ... (default 1)")),
)


def _place(command: str) -> str:
    return "the app" if command == APP else f"'dermalab {command}'"


def add_shared(parser: argparse.ArgumentParser, command: str | None) -> None:
    """The options `command` takes, or with None (the parser before any command) every option, marked as given
    before the command."""
    for option in OPTIONS:
        if command is None:
            parser.add_argument(*option.flags, dest=BEFORE + option.dest, default=argparse.SUPPRESS, **option.settings)
        elif option.taken_by(command):
            parser.add_argument(*option.flags, dest=option.dest, default=argparse.SUPPRESS, **option.settings)


def add_command(commands: argparse._SubParsersAction, name: str, **settings: Any) -> argparse.ArgumentParser:
    parser = commands.add_parser(name, **settings)
    add_shared(parser, name)
    return parser


def settle(args: argparse.Namespace) -> argparse.Namespace:
    """One value per option the command takes, wherever it was given; the default where it was not."""
    command = args.command or APP
    given = vars(args)
    for option in OPTIONS:
        before, after = given.pop(BEFORE + option.dest, None), given.get(option.dest)
        flag = option.flags[0]
        if before is not None and not option.taken_by(command):
            places = [_place(name) for name in sorted(option.commands)]
            raise UserError(f"{flag} does nothing {'in' if command == APP else 'for'} {_place(command)}; it is for "
                            f"{', '.join(places[:-1])}{' and ' if len(places) > 1 else ''}{places[-1]}.")
        if before is not None and after is not None and before != after:
            raise UserError(f"{flag} is given twice, as {before} before the command and {after} after it; give it "
                            "once.")
        if option.taken_by(command):
            given[option.dest] = after if after is not None else before if before is not None else option.default
    return args
