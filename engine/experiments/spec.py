"""What an experiment is: each table of experiments.toml as a validated, frozen spec, its config and the config's
hash."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from engine.classes import CLASSES

# Keys that describe one experiment and are never inherited through `extends`.
OWN_KEYS = ("id", "name", "extends", "lesson", "published")
# Fields added after runs were first stored, as (table, key): left unset (None) they are no part of the config, so
# every run stored before them keeps its config hash, and so its identity.
UNSET_LEAVES_OUT = (("training", "patience"),)
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


Augmentation = Annotated[HFlip | VFlip | Rotation | Affine | ColorJitter | Normalize, Field(discriminator="op")]


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
    # Early stopping: the run ends once val AUC has not improved for this many epochs (None: it trains them all).
    patience: Annotated[Whole, Field(ge=1, le=MAX_EPOCHS)] | None = None


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
        """What decides the training run: everything but the descriptive keys, and the later fields left unset."""
        config = self.model_dump(mode="json", exclude=set(OWN_KEYS) | {"chapter"})
        for table, key in UNSET_LEAVES_OUT:
            if config[table][key] is None:
                del config[table][key]
        return config

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
class Point:
    """Where an experiment that is a sweep's point came from: the sweep's name and the value of each of its axes.
    It describes the experiment and is never hashed: the values themselves are in the config."""

    sweep: str
    values: dict[str, Any]  # axis, a field as the experiments file names it ("optimizer.lr") -> its value here
    fixed: dict[str, Any] = field(default_factory=dict)  # set alike on every point of the sweep (its patience)

    def label(self) -> str:
        """The values, short: 'lr=0.0003, batch_size=64' (an axis by its last part, unless two axes share it)."""
        last = [axis.rsplit(".", 1)[-1] for axis in self.values]
        return ", ".join(f"{short if last.count(short) == 1 else axis}={_shown(value)}"
                         for axis, short, value in zip(self.values, last, self.values.values()))

    def provenance(self, experiment_id: int) -> str:
        """'experiment 20 with optimizer.lr = 0.0003, from sweep 'lr-cosine''."""
        values = ", ".join(f"{axis} = {_shown(value)}" for axis, value in self.values.items())
        return f"experiment {experiment_id} with {values}, from sweep '{self.sweep}'"

    def to_json(self) -> str:
        return json.dumps({"sweep": self.sweep, "values": self.values, **({"fixed": self.fixed} if self.fixed else {})})

    @classmethod
    def from_json(cls, text: str | None) -> Point | None:
        """The point a job carries (engine.jobs.queue); None for an experiment as its file has it."""
        if text is None:
            return None
        stored = json.loads(text)
        return cls(stored["sweep"], stored["values"], stored.get("fixed", {}))


def _shown(value: Any) -> str:
    """A value as a label shows it: numbers as Python writes them shortest (0.0003, 64), the rest as JSON."""
    return repr(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else json.dumps(value)


@dataclass(frozen=True)
class Experiment:
    """A validated experiment with where each of its values came from: its file's entries through `extends`, and
    for a sweep's point, the sweep (`point`; its `changes` are then the point's values)."""

    spec: ExperimentSpec
    origin: dict[str, int]  # dotted key -> id of the experiment that set it
    changes: dict[str, Any]  # dotted key -> value, as written in this experiment's own entry
    point: Point | None = None

    @property
    def id(self) -> int:
        return self.spec.id
