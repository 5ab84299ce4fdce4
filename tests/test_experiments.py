"""experiments.toml: the 25 experiments resolve, `extends` merges as documented, and a user can add a 26th."""

import pytest

from engine.errors import UserError
from engine.experiments.load import load

REFERENCE = {  # (epochs, batch size, optimizer, lr) the page states or implies for a few experiments
    1: (5, 32, "sgd", 0.1),
    5: (5, 32, "sgd", 0.01),
    11: (10, 32, "adam", 1e-3),
    18: (10, 128, "adam", 1e-3),
    20: (15, 32, "adam", 1e-3),
    21: (15, 64, "adam", 1e-3),
    25: (15, 64, "adam", 1e-4),
}


def test_all_25_experiments_resolve_with_published_figures():
    experiments = load()
    assert list(experiments) == list(range(1, 26))
    assert all(e.spec.published and e.spec.lesson for e in experiments.values())
    assert len({e.spec.chapter for e in experiments.values()}) == 10


@pytest.mark.parametrize("experiment_id", REFERENCE)
def test_training_knobs_match_the_page(experiment_id):
    spec = load()[experiment_id].spec
    epochs, batch, optimizer, lr = REFERENCE[experiment_id]
    settings = (spec.training.epochs, spec.training.batch_size, spec.optimizer.name, spec.optimizer.lr)
    assert settings == (epochs, batch, optimizer, lr)


def test_experiment_14_normalizes_the_training_pipeline_only():
    experiments = load()
    assert [a.op for a in experiments[14].spec.augment][-1] == "normalize"
    assert all(a.op != "normalize" for i, e in experiments.items() if i != 14 for a in e.spec.augment)


def test_experiment_14_trains_on_normalised_images_and_is_evaluated_on_plain_ones():
    """The page's trap: Normalize is in the training pipeline only, so the val images the model is scored on are
    ToTensor's [0, 1] floats. Every batch the network sees is recorded, in training and in evaluation."""
    import numpy as np
    import torch

    from engine.events import RunFinished
    from engine.training.data import Dataset
    from engine.training.models import SmallCNN
    from engine.training.train import RunOptions, train

    rng = np.random.default_rng(0)
    labels = {split: np.repeat(np.arange(7), 3) for split in ("train", "val", "test")}
    images = {split: rng.integers(0, 256, size=(21, 28, 28, 3), dtype=np.uint8) for split in labels}
    seen: dict[bool, list[torch.Tensor]] = {True: [], False: []}  # model.training -> its input batches

    def record(module, inputs):
        if isinstance(module, SmallCNN):
            seen[module.training].append(inputs[0].detach().clone())

    hook = torch.nn.modules.module.register_module_forward_pre_hook(record)
    try:
        tiny = Dataset("tiny", True, images, labels, "synthetic")
        events = list(train(load()[14].spec, tiny, RunOptions(device="cpu", epochs=1), "n"))
    finally:
        hook.remove()
    assert isinstance(events[-1], RunFinished)
    evaluated = torch.cat(seen[False])  # val after the epoch, then the test split (sealed) once at the end
    plain = torch.from_numpy(np.concatenate([images["val"], images["test"]])).permute(0, 3, 1, 2).float() / 255
    assert torch.allclose(evaluated, plain)  # un-normalised: exactly ToTensor's output
    trained = torch.cat(seen[True])
    assert trained.min() < -1 and trained.max() > 1  # ImageNet's mean and std: about -2.1 to 2.6


def test_extends_merges_tables_and_records_where_values_came_from():
    experiment = load()[9]
    assert experiment.spec.model.batchnorm and experiment.spec.model.dropout == 0.3
    assert experiment.origin["model.batchnorm"] == 8
    assert experiment.origin["model.dropout"] == 9
    assert experiment.origin["optimizer.name"] == 2
    assert experiment.changes == {"chapter": "Build a Better Architecture", "model.dropout": 0.3}


def test_published_figures_and_lessons_are_not_inherited(edited_experiments):
    experiments = load(edited_experiments('\n[[experiment]]\nid = 26\nextends = 21\nname = "Wider"\n'
                                          'model.channels = [64, 128, 256]\n'))
    added = experiments[26].spec
    assert added.published is None and added.lesson == ""
    assert added.chapter == "Stack the Wins" and added.model.hidden == 64
    assert experiments[26].spec.config_hash() != experiments[21].spec.config_hash()


def test_lists_replace_rather_than_append():
    assert [a.op for a in load()[15].spec.augment] == ["hflip"]


def test_an_unknown_key_names_the_file_the_experiment_and_the_key(edited_experiments):
    path = edited_experiments(replace={"optimizer.momentum = 0.9": "optimizer.momentun = 0.9"}, name="bad.toml")
    with pytest.raises(UserError, match=r"bad.toml: experiment 5: unknown key 'optimizer.momentun'"):
        load(path)
