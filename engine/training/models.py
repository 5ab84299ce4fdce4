"""Builds the page's networks from a ModelSpec: the small CNN family and the two ResNet18 variants, for a set's
channels, classes and image size (DermaMNIST's 3, 7 and 28 unless another set is chosen)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from engine.classes import MedSet, medset
from engine.errors import UserError
from engine.experiments.spec import ModelSpec
from engine.training.fetch import Progress, fetch

if TYPE_CHECKING:  # torchvision is imported where a ResNet is built: a small CNN's run never needs it
    from torchvision.models import WeightsEnum

HASH_IN_NAME = re.compile(r"-([a-f0-9]+)\.")  # torch.hub's convention: resnet18-f37072fd.pth


def build(spec: ModelSpec, pretrained: bool | None = None, chosen: MedSet | None = None) -> nn.Module:
    """`pretrained` overrides the spec (False for --no-pretrained); None keeps what the spec says. A ResNet takes
    three channels whatever the set: grey images are repeated to three before it (engine.training.train)."""
    chosen = chosen or medset()
    if spec.arch == "cnn":
        return SmallCNN(spec, chosen)
    return resnet18(spec, spec.pretrained if pretrained is None else pretrained and spec.pretrained,
                    len(chosen.classes))


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


class SmallCNN(nn.Module):
    """conv3x3 -> [BatchNorm] -> ReLU -> MaxPool2d(2) per block, then a linear (or hidden-layer) classifier."""

    def __init__(self, spec: ModelSpec, chosen: MedSet):
        super().__init__()
        blocks: list[nn.Module] = []
        width_in, size = chosen.channels, chosen.size  # a flattening classifier's input follows the image size
        for width in spec.channels:
            blocks += [nn.Conv2d(width_in, width, kernel_size=3, padding=1)]
            blocks += [nn.BatchNorm2d(width)] if spec.batchnorm else []
            # Pooling before the ReLU computes the same function (ReLU keeps order, so it commutes with max) on a
            # quarter of the values: the ReLU's forward and backward cost 4x less.
            blocks += [nn.MaxPool2d(2), nn.ReLU(inplace=True)]
            width_in, size = width, size // 2
        self.features = nn.Sequential(*blocks)
        if spec.pool == "global_avg":
            self.pool: nn.Module = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
            features = width_in
        else:
            self.pool = nn.Flatten()
            features = width_in * size * size
        self.classifier = classifier_head(spec, features, len(chosen.classes))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pool(self.features(images)))


def classifier_head(spec: ModelSpec, features: int, classes: int) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Dropout(spec.dropout)] if spec.dropout else []
    if spec.hidden:
        layers += [nn.Linear(features, spec.hidden), nn.ReLU()]
        layers += [nn.Dropout(spec.hidden_dropout)] if spec.hidden_dropout else []
        features = spec.hidden
    return nn.Sequential(*layers, nn.Linear(features, classes))


def resnet18(spec: ModelSpec, pretrained: bool, classes: int) -> nn.Module:
    from torchvision.models import ResNet18_Weights
    from torchvision.models import resnet18 as torchvision_resnet18

    model = torchvision_resnet18(weights=None)
    if pretrained:
        model.load_state_dict(imagenet_state_dict(ResNet18_Weights.IMAGENET1K_V1))
    if spec.freeze_backbone:
        for parameter in model.parameters():
            parameter.requires_grad = False
    if spec.small_stem:
        # 28x28 inputs: keep the resolution the 7x7 stride-2 conv and the maxpool would throw away.
        model.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
        model.maxpool = nn.Identity()
    model.fc = classifier_head(spec, model.fc.in_features, classes)
    return model


def weights_path(weights: WeightsEnum) -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name


def imagenet_state_dict(weights: WeightsEnum, on_progress: Progress | None = None) -> dict[str, torch.Tensor]:
    """The cached weights file (torch.hub's cache, so other tools find it too), downloaded if absent and checked
    against the sha256 prefix in its name, as torch.hub does."""
    path = weights_path(weights)
    if not path.exists():
        named_hash = HASH_IN_NAME.search(path.name)
        assert named_hash, f"{path.name}: torchvision names each weights file by its sha256 prefix"
        fetch(weights.url, path, "sha256", named_hash.group(1), on_progress, way_out=", or run with --no-pretrained")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # cut short, another format, or a pickle that holds more than tensors
        raise UserError(f"{path} is not a usable ResNet18 weights file ({type(error).__name__}); delete it to "
                        "download it again, or run with --no-pretrained.") from None
