"""The torch-free arithmetic agrees with the networks torch builds: every experiment's parameter count, and each
block's output size, exactly; and the networks it refuses are refused when the experiments file is read."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from engine.experiments import architecture
from engine.experiments.load import load
from engine.experiments.spec import ModelSpec
from engine.training.models import build, count_parameters
from tests.conftest import REPO

EXPERIMENTS = load()


def variant(experiment_id: int, **changes) -> ModelSpec:
    return EXPERIMENTS[experiment_id].spec.model.model_copy(update=changes)


VARIANTS = {
    "no blocks, flatten": variant(1, channels=[]),
    "no blocks, global average": variant(1, channels=[], pool="global_avg"),
    "four blocks, the deepest that fits": variant(8, channels=[3, 5, 7, 9]),
    "four blocks flattened at 1x1": variant(1, channels=[4, 4, 4, 4]),
    "odd widths with batchnorm and a hidden layer": variant(21, channels=[5, 11, 13], hidden=17),
    "resnet18 with its 7x7 stem": variant(23, small_stem=False),
    "resnet18 with a hidden layer": variant(25, hidden=32, hidden_dropout=0.1),
}


@pytest.mark.parametrize("model", [e.spec.model for e in EXPERIMENTS.values()] + list(VARIANTS.values()),
                         ids=[f"experiment {i}" for i in EXPERIMENTS] + list(VARIANTS))
def test_parameter_count_and_output_sizes_match_the_built_network(model):
    network = build(model, pretrained=False).eval()
    assert architecture.parameter_count(model) == count_parameters(network)
    blocks = [b for b in architecture.blocks(model) if b.name not in ("hidden", "classifier")]
    assert [(b.channels, b.size) for b in blocks] == built_sizes(network, model)
    assert architecture.blocks(model)[-1].channels == 7


def built_sizes(network: torch.nn.Module, model: ModelSpec) -> list[tuple[int, int]]:
    """(channels, height) after each block of the real network, read with forward hooks on a 28x28 image."""
    if model.arch == "cnn":  # each block ends with its ReLU
        watched = [m for m in network.features if isinstance(m, torch.nn.ReLU)]
    else:  # the stem ends with the maxpool (an Identity with the small stem)
        watched = [network.maxpool, network.layer1, network.layer2, network.layer3, network.layer4]
    shapes: list[tuple[int, int]] = []
    for module in watched:
        module.register_forward_hook(lambda _module, _input, output: shapes.append(tuple(output.shape[1:3])))
    with torch.no_grad():
        network(torch.rand(1, 3, 28, 28))
    return shapes


@pytest.mark.slow
def test_the_published_counts_need_no_torch():
    code = ("import sys; from engine.experiments import architecture; from engine.experiments.load import load; "
            "print([architecture.parameter_count(e.spec.model) for e in load().values()]); "
            "print('torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    counts, torch_loaded = done.stdout.splitlines()
    assert counts == str([e.spec.published.params for e in EXPERIMENTS.values()]) and torch_loaded == "False"


def test_five_pooled_blocks_are_too_deep_for_28x28():
    with pytest.raises(architecture.TooDeep, match=r"5 pooled blocks.*1x1 after 4; use at most 4"):
        architecture.blocks(variant(1, channels=[4] * 5))
    with pytest.raises(RuntimeError, match="too small"):  # what torch says, at the first batch
        build(variant(7, channels=[4] * 5))(torch.rand(1, 3, 28, 28))


def test_a_model_too_large_to_hold_is_a_problem_before_anything_is_allocated():
    huge = variant(10, hidden=10**12)
    assert architecture.parameter_count(huge) > architecture.MAX_PARAMETERS
    assert "make model.channels or model.hidden smaller" in architecture.problem(huge)
    assert architecture.problem(EXPERIMENTS[23].spec.model) is None
