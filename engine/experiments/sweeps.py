"""Sweeps as data: the [[sweeps]] tables of an experiments file, each varying the fields of one experiment over a
grid of values or random draws. Here they are read, checked and expanded into points, each an Experiment whose
spec differs from its base by the point's values, validated as every experiment is, and carrying its provenance
(engine.experiments.spec.Point). A job names a point by its base experiment's id and the point (`resolve`), so the
process that trains it builds the same experiment again.

    [[sweeps]]
    name = "lr-cosine"
    extends = 20                                          # the experiment it varies
    seeds = 3                                             # seeds 0, 1, 2 of every point
    axes = { "optimizer.lr" = [1e-4, 3e-4, 1e-3, 3e-3] }  # a grid: every combination of the lists

`patience = N` stops each point's runs early once val AUC has not improved for N epochs (training.patience).
Random axes (`{ log_uniform = [1e-5, 1e-2] }` or `uniform`) draw `samples` points from `sampling_seed`, and each
draw is crossed with the list axes. An augmentation's parameter is named by its op ("augment.rotation.degrees") or
its place in the list ("augment.1.degrees").
"""

from __future__ import annotations

import itertools
import math
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, ValidationError

from engine.errors import UserError
from engine.experiments.load import (
    DEFAULT_EXPERIMENTS,
    SWEEPS,
    bad_value,
    load,
    read_toml,
    validated,
)
from engine.experiments.spec import MAX_EPOCHS, Experiment, Point, Strict, Whole

MAX_POINTS = 10_000  # past this a sweep is a typo (a samples of 1e6), and its queue would outlive its question
MAX_SEEDS = 1000  # as `dermalab run --seeds`
SIGNIFICANT_DIGITS = 3  # a random draw is rounded to these, so a point's label is the value that ran
RANDOM = ("log_uniform", "uniform")
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")  # typed on a command line: no spaces or quotes to escape


class SweepSpec(Strict):
    """One [[sweeps]] table, before its axes are checked against the experiment it extends."""

    name: Annotated[str, Field(pattern=NAME.pattern + "$", max_length=64)]
    extends: Whole
    question: str = ""  # the question the sweep asks, in words
    seeds: Annotated[Whole, Field(ge=1, le=MAX_SEEDS)] = 1
    samples: Annotated[Whole, Field(ge=1, le=MAX_POINTS)] | None = None  # random draws; needs a random axis
    sampling_seed: Annotated[Whole, Field(ge=0, le=2**32 - 1)] = 0
    patience: Annotated[Whole, Field(ge=1, le=MAX_EPOCHS)] | None = None  # early stopping for every point
    axes: dict[str, Any]


@dataclass(frozen=True)
class Draw:
    """A random axis: values between `low` and `high`, evenly or evenly in their logarithm."""

    kind: str  # one of RANDOM
    low: float
    high: float
    whole: bool  # the field takes whole numbers (a batch size): a draw is rounded to one

    def value(self, rng: random.Random) -> float | int:
        if self.kind == "log_uniform":
            drawn = math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        else:
            drawn = rng.uniform(self.low, self.high)
        return round(drawn) if self.whole else float(f"{drawn:.{SIGNIFICANT_DIGITS}g}")


@dataclass(frozen=True)
class Sweep:
    """A checked sweep: its base experiment, and per axis its list of values or its Draw."""

    name: str
    question: str
    base: Experiment
    axes: dict[str, list[Any] | Draw]
    seeds: int
    samples: int | None
    sampling_seed: int
    where: str  # "experiments.toml: sweep 'lr-cosine'", to begin the sentence about a bad point
    fixed: dict[str, Any]  # field -> the value every point takes (training.patience)

    def size(self) -> int:
        lists = [len(values) for values in self.axes.values() if isinstance(values, list)]
        return (self.samples or 1) * math.prod(lists)

    def points(self) -> list[Experiment]:
        """Every point, each validated: the random draws in turn, each crossed with the list axes in the order
        the file gives them. Points that come out alike (drawn twice, or 0 beside 0.0) are kept once: each would
        train the same runs."""
        rng = random.Random(self.sampling_seed)
        draws = {axis: axis_values for axis, axis_values in self.axes.items() if isinstance(axis_values, Draw)}
        grid = {axis: axis_values for axis, axis_values in self.axes.items() if isinstance(axis_values, list)}
        points: dict[str, Experiment] = {}
        for _ in range(self.samples or 1):
            drawn = {axis: draw.value(rng) for axis, draw in draws.items()}
            for combination in itertools.product(*grid.values()):
                chosen = {**drawn, **dict(zip(grid, combination))}
                values = {axis: chosen[axis] for axis in self.axes}  # the file's order, in labels too
                made = point(self.base, Point(self.name, values, self.fixed), self.where)
                points.setdefault(made.spec.config_hash(), made)
        return list(points.values())


def named(name: str, experiments: dict[int, Experiment], path: Path | str | None = None) -> Sweep:
    """The file's sweep called `name`, checked; every way it can be wrong is one sentence (UserError)."""
    path = Path(path or DEFAULT_EXPERIMENTS)
    return _named(name, _tables(path), experiments, path)


def every(experiments: dict[int, Experiment], path: Path | str | None = None) -> list[Sweep]:
    """Every sweep of the file, in its order, each checked as `named` checks it (the file read once)."""
    path = Path(path or DEFAULT_EXPERIMENTS)
    tables = _tables(path)
    return [_named(str(entry.get("name")), tables, experiments, path) for entry in tables if isinstance(entry, dict)]


def _named(name: str, tables: list[Any], experiments: dict[int, Experiment], path: Path) -> Sweep:
    found = [entry for entry in tables if isinstance(entry, dict) and entry.get("name") == name]
    if not found:
        known = ", ".join(sorted(str(entry.get("name")) for entry in tables if isinstance(entry, dict)))
        raise UserError(f"{path} has no sweep '{name}'; " + (f"its sweeps are {known}." if known else
                        f"add a [[{SWEEPS}]] table with name = \"{name}\" to it."))
    if len(found) > 1:
        raise UserError(f"{path}: sweep '{name}' appears twice; give each sweep its own name.")
    return _checked(found[0], experiments, f"{path}: sweep '{name}'")


def _tables(path: Path) -> list[Any]:
    tables = read_toml(path).get(SWEEPS, [])
    if not isinstance(tables, list):
        raise UserError(f"{path}: '{SWEEPS}' must be an array of tables, written as [[{SWEEPS}]].")
    return tables


def _checked(entry: dict[str, Any], experiments: dict[int, Experiment], where: str) -> Sweep:
    try:
        spec = SweepSpec.model_validate(entry)
    except ValidationError as error:
        raise UserError(_describe(where, error)) from None
    if spec.extends not in experiments:
        raise UserError(f"{where}: key 'extends' names experiment {spec.extends}, which does not exist.")
    base = experiments[spec.extends]
    if not spec.axes:
        raise UserError(f"{where} has no axes; add one, e.g. axes = {{ \"optimizer.lr\" = [1e-4, 1e-3] }}.")
    fields = base.spec.config()
    axes = {axis: _axis(f"{where}: axis '{axis}'", values, _field(fields, axis), base.id)
            for axis, values in _flattened(spec.axes, fields).items()}
    randoms = any(isinstance(values, Draw) for values in axes.values())
    if randoms and spec.samples is None:
        raise UserError(f"{where} has a random axis but no 'samples'; say how many points to draw, e.g. samples = 20.")
    if spec.samples is not None and not randoms:
        raise UserError(f"{where} sets 'samples' but every axis is a list; give an axis a range such as "
                        "{ log_uniform = [1e-5, 1e-2] }, or leave samples out.")
    fixed = {} if spec.patience is None else {"training.patience": spec.patience}
    sweep = Sweep(spec.name, spec.question, base, axes, spec.seeds, spec.samples, spec.sampling_seed, where, fixed)
    if sweep.size() > MAX_POINTS:
        raise UserError(f"{where} has {sweep.size():,} points, more than {MAX_POINTS:,}; use fewer values or samples.")
    return sweep


def _flattened(axes: dict[str, Any], fields: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Axes written as quoted keys ("optimizer.lr" = ...) or as dotted ones (optimizer.lr = ..., which TOML makes
    a table): a table is followed down only where the experiment has a table of that name."""
    flat: dict[str, Any] = {}
    for key, values in axes.items():
        axis = f"{prefix}{key}"
        random_axis = isinstance(values, dict) and bool(set(values) & set(RANDOM))
        if isinstance(values, dict) and not random_axis and isinstance(_field(fields, axis), (dict, list)):
            flat.update(_flattened(values, fields, f"{axis}."))
        else:
            flat[axis] = values
    return flat


def _axis(where: str, values: Any, current: Any, base_id: int) -> list[Any] | Draw:
    """An axis's values, checked; `where` names the sweep and the axis, `current` is the field's value in the
    base experiment (None: it has no such field)."""
    if current is None:
        raise UserError(f"{where} is not a field of experiment {base_id}; name a field as the experiments file does, "
                        "e.g. 'optimizer.lr' or 'augment.rotation.degrees'.")
    if isinstance(values, list):
        if not values:
            raise UserError(f"{where} is empty; give it at least one value.")
        return values
    if isinstance(values, dict):
        return _draw(where, values, whole=isinstance(current, int) and not isinstance(current, bool))
    raise UserError(f"{where} needs a list of values or a range such as {{ log_uniform = [1e-5, 1e-2] }} "
                    f"(got {values!r}).")


def _draw(where: str, written: dict[str, Any], whole: bool) -> Draw:
    kinds = [kind for kind in RANDOM if kind in written]
    bounds = written.get(kinds[0]) if len(kinds) == 1 and len(written) == 1 else None
    if not (isinstance(bounds, list) and len(bounds) == 2 and all(_finite(bound) for bound in bounds)
            and bounds[0] < bounds[1]):
        raise UserError(f"{where} is random and needs bounds, low then high, as {{ log_uniform = [1e-5, 1e-2] }} "
                        f"or {{ uniform = [0.0, 0.5] }} (got {written!r}).")
    if kinds[0] == "log_uniform" and bounds[0] <= 0:
        raise UserError(f"{where} is log-uniform, so its low bound must be above 0 (got {bounds[0]!r}); use uniform "
                        "for a range from 0.")
    return Draw(kinds[0], float(bounds[0]), float(bounds[1]), whole)


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _field(fields: Any, axis: str) -> Any:
    """The base experiment's value at `axis`, None where it has no such field. In a list (augment), a part is a
    place in it or the op of the one entry that has it."""
    for part in axis.split("."):
        if isinstance(fields, dict):
            fields = fields.get(part)
        elif isinstance(fields, list):
            fields = _entry(fields, part)
        else:
            return None
        if fields is None:
            return None
    return fields


def _entry(entries: list[Any], part: str) -> Any:
    if part.isdigit():
        return entries[int(part)] if int(part) < len(entries) else None
    matching = [entry for entry in entries if isinstance(entry, dict) and entry.get("op") == part]
    return matching[0] if len(matching) == 1 else None


def point(base: Experiment, at: Point, where: str) -> Experiment:
    """The experiment `base` with the point's values set, validated as any experiment is; a value its validation
    refuses is one sentence naming the sweep (`where`), the point and the field."""
    fields = base.spec.model_dump(mode="json")
    for axis, value in {**at.fixed, **at.values}.items():
        _set(fields, axis, value)
    fields |= {"name": f"{base.spec.name} · {at.label()}", "published": None}  # the page never ran this point
    spec = validated(fields, f"{where}, point {at.label()}")
    return Experiment(spec=spec, origin=base.origin, changes={**at.fixed, **at.values}, point=at)


def _set(fields: dict[str, Any], axis: str, value: Any) -> None:
    *path, last = axis.split(".")
    parent: Any = _field(fields, ".".join(path)) if path else fields
    if isinstance(parent, list):
        parent[int(last) if last.isdigit() else parent.index(_entry(parent, last))] = value
    else:
        parent[last] = value


def resolve(path: str | None, experiment_id: int, at: Point | None) -> Experiment:
    """The experiment a job trains, built again from its file where it trains: the experiment with that id, or
    the point of a sweep that extends it (`load` resolves the file again only once its text changed)."""
    experiments = load(path)
    if experiment_id not in experiments:
        raise UserError(f"Experiment {experiment_id} is no longer in {path or 'experiments.toml'}.")
    return at_point(experiments[experiment_id], at, path)


def at_point(base: Experiment, at: Point | None, path: str | None = None) -> Experiment:
    """`base` itself, or at a sweep's point: what a job naming the two trains."""
    return base if at is None else point(base, at, f"{path or 'experiments.toml'}: sweep '{at.sweep}'")


def _describe(where: str, error: ValidationError) -> str:
    first = error.errors()[0]
    key = ".".join(str(part) for part in first["loc"])
    if first["type"] == "extra_forbidden":
        return (f"{where}: unknown key '{key}'; a sweep takes name, extends, question, axes, seeds, samples, "
                "sampling_seed and patience.")
    if first["type"] == "missing":
        return f"{where}: key '{key}' is missing; set it."
    if key == "name" and first["type"] == "string_pattern_mismatch":
        return f"{where}: its name may hold only letters, digits, '.', '_' and '-', starting with a letter or digit."
    return bad_value(where, key, first)
