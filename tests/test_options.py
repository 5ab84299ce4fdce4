"""Options are honoured wherever they are given: before the command or after it, each one, for each command
that takes it; before a command that does not take it, or twice with two values, they are one sentence."""

from __future__ import annotations

import json

import pytest

from engine.jobs.source import JobSource
from engine.training.options import RunOptions
from tests.conftest import one_sentence
from tui.arguments import job_source
from tui.cli.main import build_parser
from tui.cli.options import APP, OPTIONS, Option

# A value for each option that is not its default (an option added without one here fails the tests below).
SAMPLES = {"experiments": ["--experiments", "mine.toml"], "debug": ["--debug"], "data": ["--data", "synthetic"],
           "device": ["--device", "cpu"], "epochs": ["--epochs", "3"], "no_pretrained": ["--no-pretrained"],
           "precision": ["--precision", "bf16"], "seed": ["--seed", "5"], "seeds": ["--seeds", "2"],
           "jobs": ["--jobs", "2"], "gpus": ["--gpus", "0,2"], "per_gpu": ["--per-gpu", "2"],
           "threads": ["--threads", "2"], "dataset": ["--dataset", "bloodmnist"], "size": ["--size", "64"]}
# What each command needs beside its options.
POSITIONALS = {"run": ["1"], "sweep": ["grid"], "operating-point": ["abc"], "ensemble": ["abc", "def"],
               "report": ["--out", "folder"], "test": ["1"]}
COMMANDS = [APP, *build_parser()._subparsers._group_actions[0].choices]


def command_line(command: str) -> list[str]:
    return [] if command == APP else [command, *POSITIONALS.get(command, [])]


def pairs(taken: bool) -> list[tuple[Option, str]]:
    return [(option, command) for option in OPTIONS for command in COMMANDS if option.taken_by(command) == taken]


def name(pair: tuple[Option, str]) -> str:
    return f"{pair[0].flags[0]} {pair[1]}"


@pytest.mark.parametrize("option, command", pairs(True), ids=map(name, pairs(True)))
def test_an_option_means_the_same_before_and_after_the_command(option, command):
    before = build_parser().parse_args([*SAMPLES[option.dest], *command_line(command)])
    after = build_parser().parse_args([*command_line(command), *SAMPLES[option.dest]])
    default = build_parser().parse_args(command_line(command))
    assert vars(before) == vars(after)
    assert getattr(before, option.dest) != getattr(default, option.dest) == option.default


@pytest.mark.parametrize("option, command", pairs(False), ids=map(name, pairs(False)))
def test_an_option_before_a_command_that_does_not_take_it_is_refused(refused, option, command):
    message = refused(*SAMPLES[option.dest], *command_line(command))
    assert message.startswith(f"{option.flags[0]} does nothing ") and "it is for " in message


def test_two_values_for_one_option_are_refused_and_one_value_twice_is_not(refused):
    assert refused("--epochs", "2", "run", "1", "--epochs", "3") == (
        "--epochs is given twice, as 2 before the command and 3 after it; give it once.")
    assert build_parser().parse_args(["--epochs", "2", "run", "1", "--epochs", "2"]).epochs == 2


def test_an_option_is_never_read_as_the_prefix_of_another(refused):
    """`results` takes --dataset, not --data: argparse would take '--data X' as '--dataset X' unasked."""
    assert refused("results", "--data", "synthetic") == "Unrecognized arguments: --data; see 'dermalab --help'."


def test_the_app_takes_its_training_options_from_before_any_command():
    args = build_parser().parse_args(["--data", "synthetic", "--device", "cpu", "--epochs", "3", "--no-pretrained"])
    expected = RunOptions(device="cpu", epochs=3, pretrained=False)
    assert job_source(args) == JobSource(data="synthetic", experiments_file=None, options=expected)


@pytest.mark.slow
def test_options_before_run_reach_the_training_and_the_store(cli, tiny_experiments, stored):
    done = cli("--data", "synthetic", "--epochs", "2", "--seed", "7", "--seeds", "2", "--device", "cpu",
               "--experiments", str(tiny_experiments), "run", "1", "--json")
    assert done.returncode == 0, done.stderr
    printed = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(r["name"], r["seed"], r["data"]) for r in printed] == [("Tiny", 7, "synthetic"), ("Tiny", 8, "synthetic")]
    assert [(r["epochs"], len(stored.get(r["run_id"])["history"]), r["synthetic"]) for r in stored.runs()] == [
        (2, 2, True)] * 2


@pytest.mark.parametrize("args, expected", [
    (["--epochs", "0"], "--epochs 0: give a whole number of epochs from 1 to 10,000."),
    (["--epochs", "-1"], "--epochs -1: give a whole number of epochs from 1 to 10,000."),
    (["--device", "bogus"], "--device bogus: unknown device; use auto, cpu, cuda, cuda:N or mps."),
    (["--data", "nowhere.npz"], "--data nowhere.npz: no such file; give the path of a medmnist-format .npz, 'auto' or "
                                "'synthetic'."),
    (["--seed", "3"], "--seed does nothing in the app; it is for 'dermalab run'."),
], ids=["no epochs", "negative epochs", "unknown device", "a missing data file", "a seed"])
def test_the_app_checks_its_options_before_it_opens(refused, args, expected):
    assert refused(*args) == expected


@pytest.mark.slow
def test_a_real_process_says_the_same(child_cli):
    done = child_cli("--data", "synthetic", "results")
    assert done.returncode == 2
    assert one_sentence(done.stderr) == ("--data does nothing for 'dermalab results'; it is for the app, "
                                         "'dermalab run' and 'dermalab sweep'.")
