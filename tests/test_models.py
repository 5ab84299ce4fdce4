"""Built models have exactly the parameter counts the page publishes, which pins their architectures."""

import pytest
import torch

from engine.experiments.load import load
from engine.training.models import build, count_parameters

EXPECTED = {**dict.fromkeys(range(1, 6), 6_887), 6: 41_351, 7: 94_151,
            **dict.fromkeys([8, 9, *range(11, 21)], 94_599), **dict.fromkeys([10, 21, 22], 102_407),
            23: 11_180_103, 24: 11_180_103, 25: 11_172_423}


@pytest.mark.parametrize("experiment_id", range(1, 26))
def test_parameter_count(experiment_id):
    spec = load()[experiment_id].spec
    model = build(spec.model, pretrained=False)
    assert count_parameters(model) == EXPECTED[experiment_id] == spec.published.params


@pytest.mark.parametrize("experiment_id", [1, 8, 10, 25])
def test_a_batch_of_28x28_images_gives_seven_logits(experiment_id):
    model = build(load()[experiment_id].spec.model, pretrained=False).eval()
    assert model(torch.rand(2, 3, 28, 28)).shape == (2, 7)


def test_frozen_backbone_trains_only_the_classifier():
    model = build(load()[24].spec.model, pretrained=False)
    trainable = [name for name, p in model.named_parameters() if p.requires_grad]
    assert trainable == ["fc.0.weight", "fc.0.bias"]
