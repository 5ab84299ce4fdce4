"""Which seeds of an experiment still need a run: those that have not finished with the experiment's config as
the options run it, on the same data. `dermalab run --seed/--seeds` leaves out the others (unless --again); the
app's r takes the seed after the highest finished."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from engine.experiments.spec import Experiment, config_hash
from engine.status import Status
from engine.store.runs import Store
from engine.training.options import PRECISIONS, RunOptions, run_config


def finished_among(store: Store, experiment: Experiment, seeds: Iterable[int], data: str,
                   options: RunOptions) -> dict[int, str]:
    """Of these seeds, those finished already: seed -> the run that finished it. With the precision left to the
    device, the precision the device picks; torch tells which, so it is asked only when some seed finished. Under
    halving, a seed halving stopped is done as well: the sweep has had its answer from it."""
    asked = set(seeds)
    ended = (Status.FINISHED, Status.STOPPED) if options.halving else (Status.FINISHED,)
    found = {precision: {seed: run_id for seed, run_id in finished.items() if seed in asked}
             for precision, finished in _finished_by_precision(store, experiment, data, options, ended).items()}
    if not any(found.values()):
        return {}
    if options.precision != "auto":
        return found[options.precision]
    # torch: imported only when a seed may be left out
    from engine.training.device import run_precision

    return found[run_precision(options)]


def next_seed(store: Store, experiment: Experiment, data: str, options: RunOptions) -> int:
    """The seed after the highest finished, 0 when none has."""
    return max(finished_in_either(store, experiment, data, options), default=-1) + 1


def finished_in_either(store: Store, experiment: Experiment, data: str, options: RunOptions) -> set[int]:
    """The seeds finished already, as the app counts them: with the precision left to the device, a run in either
    precision counts (telling which one the device picks needs torch, which the app never imports)."""
    finished = _finished_by_precision(store, experiment, data, options).values()
    return {seed for seeds in finished for seed in seeds}


def _finished_by_precision(store: Store, experiment: Experiment, data: str, options: RunOptions,
                           ended: tuple[Status, ...] = (Status.FINISHED,)) -> dict[str, dict[int, str]]:
    """Per precision the options may train in (both for 'auto'): seed -> its latest finished run, with the config
    as run in that precision, on this data. None finished where the data cannot load."""
    # numpy: kept off the app's first paint (the app asks when r is pressed)
    from engine.training.data import fingerprint_for

    fingerprint = fingerprint_for(data, options.dataset, options.size)
    if fingerprint is None:
        return {}
    precisions = PRECISIONS if options.precision == "auto" else (options.precision,)
    configs = {precision: run_config(experiment, replace(options, precision=precision)) for precision in precisions}
    return {precision: store.finished_seeds(experiment.id, config_hash(config), fingerprint, ended)
            for precision, config in configs.items()}
