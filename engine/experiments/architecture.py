"""Architecture arithmetic: each block's output size and a network's parameter count, worked out from its ModelSpec
alone. No torch: reading experiments.toml refuses a network that cannot be built before anything is imported,
and `dermalab list` counts parameters without building 25 models. `engine.training.models` builds what this describes;
a test holds the two to the same counts."""

from __future__ import annotations

from dataclasses import dataclass

from engine.classes import CLASSES
from engine.experiments.spec import ModelSpec

IMAGE_SIZE = 28  # DermaMNIST's height and width
# The page's largest network has 11.2 M parameters. A billion, trained with Adam in fp32, needs 16 GB for weights,
# gradients and optimizer state before a single activation: past that, a value is a typo, not an experiment.
MAX_PARAMETERS = 1_000_000_000
RESNET18_STAGES = ((64, 1), (128, 2), (256, 2), (512, 2))  # (width, stride of the first block), two blocks each
RESNET18_BLOCKS_PER_STAGE = 2


class TooDeep(ValueError):
    """The network's pooling shrinks a 28x28 image to nothing before its last block."""


@dataclass(frozen=True)
class Block:
    name: str  # "block 1", "layer3", "classifier", ...
    channels: int  # output channels (features for the classifier's layers)
    size: int  # output height and width in pixels; 1 for flat features
    parameters: int


def blocks(model: ModelSpec) -> list[Block]:
    """The network as torch would build it, block by block; TooDeep when an image does not survive the pooling."""
    body = _cnn(model) if model.arch == "cnn" else _resnet18(model)
    channels, size = (body[-1].channels, body[-1].size) if body else (3, IMAGE_SIZE)
    features = channels * size * size if model.arch == "cnn" and model.pool == "flatten" else channels
    return [*body, *_classifier(model, features)]


def parameter_count(model: ModelSpec) -> int:
    """What `models.count_parameters(models.build(model))` returns, frozen parameters included."""
    return sum(block.parameters for block in blocks(model))


def problem(model: ModelSpec) -> str | None:
    """Why the network cannot be trained, said for its experiment's sentence; None when it can."""
    try:
        count = parameter_count(model)
    except TooDeep as error:
        return str(error)
    if count > MAX_PARAMETERS:
        return (f"the model has {count:,} parameters, more than the {MAX_PARAMETERS:,} dermalab accepts; "
                "make model.channels or model.hidden smaller")
    return None


def _conv(width_in: int, width: int, kernel: int, bias: bool) -> int:
    return width_in * width * kernel * kernel + (width if bias else 0)


def _batchnorm(width: int) -> int:
    return 2 * width  # weight and bias; the running statistics are buffers, not parameters


def _pooled(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


def _cnn(model: ModelSpec) -> list[Block]:
    """conv3x3 (padding 1, so the size stays) -> [BatchNorm] -> MaxPool2d(2) -> ReLU per block."""
    body: list[Block] = []
    width_in, size = 3, IMAGE_SIZE
    for number, width in enumerate(model.channels, start=1):
        if size < 2:
            raise TooDeep(f"model.channels has {len(model.channels)} pooled blocks, but {IMAGE_SIZE}x{IMAGE_SIZE} "
                          f"images are down to 1x1 after {number - 1}; use at most {number - 1}")
        parameters = _conv(width_in, width, 3, bias=True) + (_batchnorm(width) if model.batchnorm else 0)
        width_in, size = width, size // 2
        body.append(Block(f"block {number}", width, size, parameters))
    return body


def _resnet18(model: ModelSpec) -> list[Block]:
    """torchvision's resnet18 up to its average pool; the small stem is a 3x3 stride-1 conv1 without the maxpool."""
    if model.small_stem:
        stem = Block("conv1", 64, IMAGE_SIZE, _conv(3, 64, 3, bias=False) + _batchnorm(64))
    else:
        size = _pooled(_pooled(IMAGE_SIZE, 7, 2, 3), 3, 2, 1)  # conv1 7x7 stride 2, then maxpool 3x3 stride 2
        stem = Block("conv1", 64, size, _conv(3, 64, 7, bias=False) + _batchnorm(64))
    body = [stem]
    for number, (width, stride) in enumerate(RESNET18_STAGES, start=1):
        width_in, size = body[-1].channels, _pooled(body[-1].size, 3, stride, 1)
        parameters = 0
        for block in range(RESNET18_BLOCKS_PER_STAGE):
            into = width_in if block == 0 else width
            parameters += _conv(into, width, 3, bias=False) + _conv(width, width, 3, bias=False) + 2 * _batchnorm(width)
        if stride != 1 or width_in != width:  # the first block's shortcut: conv1x1 + BatchNorm
            parameters += _conv(width_in, width, 1, bias=False) + _batchnorm(width)
        body.append(Block(f"layer{number}", width, size, parameters))
    return body


def _classifier(model: ModelSpec, features: int) -> list[Block]:
    """[Dropout] -> [Linear(features, hidden) -> ReLU -> [Dropout]] -> Linear(..., 7), as models.classifier_head."""
    layers = []
    if model.hidden:
        layers.append(Block("hidden", model.hidden, 1, features * model.hidden + model.hidden))
        features = model.hidden
    return [*layers, Block("classifier", len(CLASSES), 1, features * len(CLASSES) + len(CLASSES))]
