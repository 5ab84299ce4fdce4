"""Reads experiments.toml: resolves `extends`, validates every value, and returns fully resolved specs."""

from __future__ import annotations

import copy
import hashlib
import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from engine.errors import UserError

CLASSES = ("akiec", "bcc", "bkl", "df", "mel", "nv", "vasc")
CANCER_CLASSES = ("akiec", "bcc", "mel")
MEL = CLASSES.index("mel")  # the class the page's punchline is about
DEFAULT_EXPERIMENTS = Path(__file__).resolve().parent.parent / "experiments.toml"

# Keys that describe one experiment and are never inherited through `extends`.
OWN_KEYS = ("id", "name", "extends", "lesson", "published")
MAX_EPOCHS = 10_000  # past this, a value is a typo: the page's longest experiment trains 15 epochs
MAX_ID = 2**63 - 1  # SQLite's largest integer: the store keeps each run's experiment id


class Strict(BaseModel):
    # Infinities and NaN are never a setting: an lr of inf passes "greater than 0" and diverges at once.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


# Strict scalars: TOML's true is not 1 epoch, 1 is not true, and 5.0 is not 5 (a whole number is still a Number).
Whole = Annotated[int, Field(strict=True)]
Number = Annotated[float, Field(strict=True)]
Flag = Annotated[bool, Field(strict=True)]
Probability = Annotated[Number, Field(ge=0, le=1)]
DropRate = Annotated[Number, Field(ge=0, lt=1)]  # a rate of 1 zeroes every unit, so nothing could be learned


class HFlip(Strict):
    op: Literal["hflip"]
    p: Probability = 0.5


class VFlip(Strict):
    op: Literal["vflip"]
    p: Probability = 0.5


class Rotation(Strict):
    op: Literal["rotation"]
    degrees: Annotated[Number, Field(ge=0, le=180)]


class Affine(Strict):
    op: Literal["affine"]
    degrees: Annotated[Number, Field(ge=0, le=180)] = 0
    translate: tuple[Probability, Probability] = (0, 0)
    scale: tuple[Annotated[Number, Field(gt=0)], Annotated[Number, Field(gt=0)]] = (1, 1)


class ColorJitter(Strict):
    op: Literal["color_jitter"]
    brightness: Annotated[Number, Field(ge=0)] = 0
    contrast: Annotated[Number, Field(ge=0)] = 0
    saturation: Annotated[Number, Field(ge=0)] = 0
    hue: Annotated[Number, Field(ge=0, le=0.5)] = 0


class Normalize(Strict):
    op: Literal["normalize"]
    mean: tuple[Number, Number, Number]
    std: tuple[Annotated[Number, Field(gt=0)], Annotated[Number, Field(gt=0)], Annotated[Number, Field(gt=0)]]


Augmentation = Annotated[Union[HFlip, VFlip, Rotation, Affine, ColorJitter, Normalize], Field(discriminator="op")]


class ModelSpec(Strict):
    arch: Literal["cnn", "resnet18"]
    channels: list[Annotated[Whole, Field(ge=1)]]  # cnn: conv widths, one conv block each
    batchnorm: Flag  # cnn: BatchNorm2d after each conv
    pool: Literal["flatten", "global_avg"]  # cnn: flatten the feature map, or AdaptiveAvgPool2d(1)
    dropout: DropRate  # before the classifier
    hidden: Annotated[Whole, Field(ge=0)]  # width of a hidden FC layer; 0 = none
    hidden_dropout: DropRate
    pretrained: Flag  # resnet18: ImageNet weights
    freeze_backbone: Flag  # resnet18: train only the classifier
    small_stem: Flag  # resnet18: 3x3 stride-1 conv1, no maxpool


class OptimizerSpec(Strict):
    name: Literal["sgd", "adam"]
    lr: Annotated[Number, Field(gt=0)]
    momentum: Annotated[Number, Field(ge=0, lt=1)] = 0


class TrainingSpec(Strict):
    epochs: Annotated[Whole, Field(ge=1, le=MAX_EPOCHS)]
    batch_size: Annotated[Whole, Field(ge=1, le=1_000_000)]
    scheduler: Literal["none", "cosine"]


class LossSpec(Strict):
    class_weights: Literal["none", "inverse_frequency"]
    label_smoothing: Annotated[Number, Field(ge=0, lt=1)]


class Published(Strict):
    auc: Number
    accuracy: Number
    mel_recall: Number
    cancer_sensitivity: Number
    balanced_accuracy: Number
    params: Whole
    time_s: Number
    recall: dict[Literal[CLASSES], Number]  # type: ignore[valid-type]


class ExperimentSpec(Strict):
    id: Annotated[Whole, Field(ge=1, le=MAX_ID)]
    name: Annotated[str, Field(min_length=1)]
    chapter: Annotated[str, Field(min_length=1)]
    extends: Whole | None = None
    lesson: str = ""
    published: Published | None = None
    model: ModelSpec
    optimizer: OptimizerSpec
    training: TrainingSpec
    loss: LossSpec
    augment: list[Augmentation]

    def config(self) -> dict[str, Any]:
        """What decides the training run: everything but the descriptive keys."""
        return self.model_dump(mode="json", exclude=set(OWN_KEYS) | {"chapter"})

    def config_hash(self) -> str:
        return config_hash(self.config())

    def run_config(self, epochs: int, pretrained: bool, precision: str) -> dict[str, Any]:
        """The config as one run ran it: with the epochs it ran (--epochs may override them), whether ImageNet
        weights were loaded (--no-pretrained), and the arithmetic precision. Runs with equal run configs on
        equal data are comparable; their seeds are what varies."""
        config = self.config()
        config["training"]["epochs"] = epochs
        config["model"]["pretrained"] = pretrained
        config["precision"] = precision
        return config

    def page_config(self, precision: str) -> dict[str, Any]:
        """The run config of the page's own run: its epochs and weights (the page does not name a precision)."""
        return self.run_config(self.training.epochs, self.model.pretrained, precision)


def config_hash(config: dict[str, Any]) -> str:
    blob = json.dumps(config, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


@dataclass(frozen=True)
class Experiment:
    """A validated experiment with where each of its values came from."""

    spec: ExperimentSpec
    origin: dict[str, int]  # dotted key -> id of the experiment that set it
    changes: dict[str, Any]  # dotted key -> value, as written in this experiment's own entry

    @property
    def id(self) -> int:
        return self.spec.id


def load(path: Path | str | None = None) -> dict[int, Experiment]:
    path = Path(path or DEFAULT_EXPERIMENTS)
    raw = _read_toml(path)
    entries = raw.get("experiment")
    unknown = set(raw) - {"experiment"}
    if unknown:
        raise UserError(f"{path}: unknown top-level key '{sorted(unknown)[0]}'; only [[experiment]] tables are allowed.")
    if not entries:
        raise UserError(f"{path}: no experiments found; add at least one [[experiment]] table with an id.")
    by_id = _index_by_id(path, entries)
    return {eid: _resolve(path, by_id, eid) for eid in sorted(by_id)}


def _read_toml(path: Path) -> dict[str, Any]:
    if path.exists() and not path.is_file():  # a folder, or a FIFO that would wait for a writer forever
        raise UserError(f"{path}: not a regular file; pass an experiments file with --experiments PATH.")
    try:
        text = path.read_text(encoding="utf-8-sig")  # an editor's byte-order mark is no syntax error
    except FileNotFoundError:
        raise UserError(f"{path}: experiments file not found; pass an existing file with --experiments PATH.") from None
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(f"{path}: cannot read the experiments file ({error}).") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise UserError(f"{path}: TOML syntax error: {error}; fix that line and try again.") from None


def _index_by_id(path: Path, entries: Any) -> dict[int, dict[str, Any]]:
    if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
        raise UserError(f"{path}: 'experiment' must be an array of tables, written as [[experiment]].")
    by_id: dict[int, dict[str, Any]] = {}
    for position, entry in enumerate(entries, start=1):
        eid = entry.get("id")
        if not isinstance(eid, int) or isinstance(eid, bool) or not 1 <= eid <= MAX_ID:
            raise UserError(f"{path}: experiment number {position} in the file needs a whole-number 'id' from 1 to "
                            f"{MAX_ID:,}.")
        if eid in by_id:
            raise UserError(f"{path}: experiment id {eid} appears twice; give each experiment its own id.")
        by_id[eid] = entry
    return by_id


def _resolve(path: Path, by_id: dict[int, dict[str, Any]], eid: int) -> Experiment:
    chain = _ancestry(path, by_id, eid)
    merged: dict[str, Any] = {}
    origin: dict[str, int] = {}
    for ancestor in reversed(chain):
        entry = by_id[ancestor]
        inherited = {k: v for k, v in entry.items() if k not in OWN_KEYS or ancestor == eid}
        _merge(merged, inherited, origin, ancestor)
    try:
        spec = ExperimentSpec.model_validate(merged)
    except ValidationError as error:
        raise UserError(_describe(path, eid, error)) from None
    _check_network(path, spec)
    return Experiment(spec=spec, origin=_config_only(origin), changes=_config_only(_flatten(by_id[eid])))


def _check_network(path: Path, spec: ExperimentSpec) -> None:
    """A network that pools its images to nothing, or that no machine could hold, is a mistake in the file."""
    from engine import architecture  # imported here: it reads CLASSES and ModelSpec from this module

    if problem := architecture.problem(spec.model):
        raise UserError(f"{path}: experiment {spec.id}: {problem}.")


def _config_only(flat: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in flat.items() if key.split(".")[0] not in OWN_KEYS}


def _ancestry(path: Path, by_id: dict[int, dict[str, Any]], eid: int) -> list[int]:
    chain = [eid]
    while (parent := by_id[chain[-1]].get("extends")) is not None:
        if not isinstance(parent, int) or isinstance(parent, bool):
            raise UserError(f"{path}: experiment {chain[-1]}: key 'extends' must be an experiment id (an integer).")
        if parent not in by_id:
            raise UserError(f"{path}: experiment {chain[-1]}: key 'extends' names experiment {parent}, which does not exist.")
        if parent in chain:
            cycle = " -> ".join(str(i) for i in [*chain, parent])
            raise UserError(f"{path}: experiment {eid}: key 'extends' forms a cycle ({cycle}); break it.")
        chain.append(parent)
    return chain


def _merge(into: dict[str, Any], update: dict[str, Any], origin: dict[str, int], source: int, prefix: str = "") -> None:
    """Tables merge deeply; scalars and lists replace."""
    for key, value in update.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and isinstance(into.get(key), dict) and key != "published":
            _merge(into[key], value, origin, source, f"{dotted}.")
        else:
            into[key] = copy.deepcopy(value)
            for leaf in _flatten({key: value}, prefix):
                origin[leaf] = source


def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, dict) and value:
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _describe(path: Path, eid: int, error: ValidationError) -> str:
    first = error.errors()[0]
    location = [str(part) for part in first["loc"]]
    if first["type"] == "union_tag_invalid" or (len(location) > 2 and location[0] == "augment" and first["type"] == "literal_error"):
        tag = first.get("input", {}).get("op") if isinstance(first.get("input"), dict) else first.get("input")
        return (f"{path}: experiment {eid}: key 'augment' has unknown augmentation '{tag}'; "
                "use one of hflip, vflip, rotation, affine, color_jitter, normalize.")
    # Drop the union tag pydantic adds inside a discriminated list ("augment.1.rotation.degrees").
    if len(location) > 2 and location[0] == "augment":
        location = location[:2] + location[3:]
    if first["type"] == "missing" and location[-1].isdigit():  # a fixed-length list short of values: one error each
        needed = len(first["input"]) + sum(e["loc"][:-1] == first["loc"][:-1] for e in error.errors())
        return f"{path}: experiment {eid}: key '{'.'.join(location[:-1])}' needs {needed} values (got {first['input']!r})."
    if first["type"] == "too_long":
        return (f"{path}: experiment {eid}: key '{'.'.join(location)}' needs {first['ctx']['max_length']} values "
                f"(got {first['input']!r}).")
    key = ".".join(location)
    if first["type"] == "extra_forbidden":
        return f"{path}: experiment {eid}: unknown key '{key}'; check its spelling against experiment 1."
    if first["type"] == "missing":
        return f"{path}: experiment {eid}: key '{key}' is missing; set it here or in the experiment it extends."
    message = first["msg"].rstrip(".")
    message = message[0].lower() + message[1:]
    return f"{path}: experiment {eid}: key '{key}' {message.removeprefix('input ').removeprefix('value ')} (got {first.get('input')!r})."
